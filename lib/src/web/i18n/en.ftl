# The web interface's words in English (the fallback). Every message here is in every other
# catalogue too: `cargo test i18n` checks it.
skip-to-content = Skip to content
signed-in-as = Signed in as { $who }

# --- video ---
video-heading = Video
video-download = Download the video
video-no-copy = The provider made no playable copy of this video.
video-captions = Transcript
video-summary = Summary
video-length = Length
video-language = Language
video-speakers = Speakers
video-chapters = Chapters
video-transcript = Transcript
video-play-from = Play from
video-transcript-untimed = The timed transcript could not be read: here is its text, without times.
video-record-unreadable = This video's results cannot be read ({ $error }). An operator checks the document's normalized record.
# A language tag's primary subtag in words; an unknown one is said as it is.
video-language-name = { $code ->
    [ar] Arabic
    [ca] Catalan
    [cs] Czech
    [cy] Welsh
    [da] Danish
    [de] German
    [el] Greek
    [en] English
    [es] Spanish
    [eu] Basque
    [fi] Finnish
    [fr] French
    [ga] Irish
    [he] Hebrew
    [hi] Hindi
    [hu] Hungarian
    [it] Italian
    [ja] Japanese
    [ko] Korean
    [nb] Norwegian Bokmål
    [nl] Dutch
    [no] Norwegian
    [pl] Polish
    [pt] Portuguese
    [ro] Romanian
    [ru] Russian
    [sv] Swedish
    [tr] Turkish
    [uk] Ukrainian
    [zh] Chinese
   *[other] { $code }
}

# The web interface's words in English (the fallback). Every message here is in every other
# catalogue too: `cargo test i18n` checks it.
skip-to-content = Skip to content
signed-in-as = Signed in as { $who }

# --- lesson ---
lesson-findings = Findings
lesson-download-corrected = Download the corrected file ({ $name })
lesson-open-original-text = The original's text, as plain text
lesson-open-corrected-text = The corrected text, as plain text
lesson-record-unreadable = The findings of this document cannot be shown: its stored record is not in a shape this version of docflow reads.
lesson-no-findings = No finding: nothing to correct.
lesson-count = { $count ->
    [one] One finding
   *[other] { $count } findings
}
lesson-count-unplaced = ({ $count } not found in the text)
lesson-filters = Show findings by severity and category
lesson-filter-severity = Severity
lesson-filter-category = Category
lesson-no-filter-match = No finding of the kinds chosen.
lesson-severity-major = Major
lesson-severity-minor = Minor
lesson-severity-info = For information
lesson-category-spelling = Spelling
lesson-category-grammar = Grammar
lesson-category-style = Style
lesson-category-clarity = Clarity
lesson-category-other = Other
lesson-page = page { $page }
lesson-paragraph = paragraph { $paragraph }
lesson-show-in-text = Show “{ $words }” in the text
lesson-unplaced = Not found in the text: the excerpt is shown as the provider gave it.
lesson-suggested = Suggested: { $suggestion }
lesson-original-text = Original text
lesson-corrected-text = Corrected text
lesson-text-truncated = This text is long: only its first { $mib } MiB are shown. Download the file to read all of it.
lesson-no-original-file = The uploaded file is no longer in the store.
lesson-no-corrected-file = The provider sent no corrected file.
lesson-text-unsupported = This file's format has no text that can be shown here (text, PDF, Word .docx and OpenDocument .odt can be): download the file to read it.
lesson-text-unreadable = This file could not be read as { $format }: download the file to read it.
lesson-text-too-large = This file is over { $mib } MiB, so its text is not shown here: download the file to read it.
lesson-text-store = The text cannot be read from the store right now: reload the page in a moment.
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

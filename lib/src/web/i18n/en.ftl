# The web interface's words in English (the fallback). Every message here is in every other
# catalogue too: `cargo test i18n` checks it.
skip-to-content = Skip to content
signed-in-as = Signed in as { $who }

# --- words: the pages' frame, states, list, upload, sign-in, failures, reviews, pipeline ---
common-account = Account
common-upload = Upload
common-pipeline = Pipeline
common-sign-out = Sign out
common-sign-in = Sign in
common-back-to-documents = Back to the documents
common-all-documents = ← All documents
common-person-evaluator = { $name } (evaluator)
common-person-teacher = { $name } (teacher)
common-person-uploads = { $name } (uploading app)
common-person-admin = { $name } (operator)
common-who-evaluator = an evaluator
common-who-uploads = an uploading app
common-who-teacher = teacher { $id }
common-who-admin = an operator
common-kind-document = lesson plan
common-kind-video = video
common-age-now = just now
common-age-minutes = { $n } min ago
common-age-hours = { $n } h ago
common-age-yesterday = yesterday
common-age-days = { $n } days ago
common-state = State
common-kind = Kind
common-uploader = Uploader
common-uploaded = Uploaded
common-what-happened = What happened
common-step-received = received from the upload store
common-step-submitted = sent to the provider
common-step-processed = processed by the provider
common-step-validated = results checked
common-step-normalized = checked and stored: ready to read
common-step-failed = stopped: it failed
common-step-rejected = refused by the provider
common-step-attempt = { $what } (attempt { $n })
# Between a label or a time and what follows (French puts a no-break space before it).
common-colon = {": "}
common-no-such-document = No such document
common-no-such-document-why = There is no document at this address that you may read.
common-not-for-this-role = Not available to this role
common-uploads-reads-nothing = You signed in with an uploading app's token (role uploads): it may upload for any teacher but not read documents. Sign in with an evaluator's token, or with a teacher's own token.
common-starting = Starting: try again in a moment
common-starting-why = This gateway cannot yet tell which sessions were signed out: it has not read NATS's session bucket. If this lasts, an operator checks that NATS is up and that `docflow setup` has run.
state-received = received
state-submitted = submitted
state-processed = processed
state-validated = validated
state-normalized = normalized
state-failed = failed
state-rejected = rejected
state-phase-uploading = Uploading
state-phase-processing = Processing
state-phase-ready = Ready
state-phase-needs-action = Needs your action
wait-document-under-a-minute = Lesson plans are usually ready in less than a minute.
wait-document-minutes = Lesson plans are usually ready in about { $n } minutes.
wait-video-under-a-minute = Videos are usually ready in less than a minute.
wait-video-minutes = Videos are usually ready in about { $n } minutes.
list-title = Documents
list-title-own = Your documents
list-queues = Queues
list-tab-to-review = To review
list-tab-in-progress = In progress
list-tab-needs-attention = Needs attention
list-tab-reviewed = Reviewed
list-tab-all = All
list-filters = Filters
list-filter-the-documents = Filter the documents
list-any = any
list-name-contains = File name contains
list-filter = Filter
list-export = Export this view as CSV
list-empty = No document matches.
list-caption = { $tab }, sorted by { $column }
list-column-name = File
list-column-state = State
list-column-kind = Kind
list-column-uploader = Uploader
list-column-findings = Findings
list-column-review = Review
list-column-created-at = Uploaded
list-column-updated-at = Last change
list-in-folder = in { $folder }
list-pages = Pages
list-first-page = First page
list-previous-page = Previous page
list-next-page = Next page
list-bad-filters = Cannot use these filters
list-bad-query = The address's query is malformed.
upload-title = Upload
upload-heading = Upload a lesson plan or a video
upload-replaces = A new version of { $name }: choose the corrected file below.
upload-needs-script = Uploading needs JavaScript: the file goes straight from your browser to the store.
upload-what = What are you sending?
upload-a-lesson-plan = A lesson plan
upload-a-video = A video
upload-for-teacher = For teacher
upload-for-teacher-hint = The teacher's id, as their documents are filed.
upload-file = File
upload-email-me = E-mail me at { $email } when it is ready or needs a new version
upload-button = Upload
upload-progress = Progress
upload-sent-to-store = Uploading
upload-open-document = Open the document
upload-teachers-only = Evaluators read documents; teachers upload them. Sign in with a teacher's own token to upload.
upload-js-preparing = Preparing the upload…
upload-js-sending = Uploading: { $n } %
upload-js-sent = Uploaded. Waiting for docflow to take it…
upload-js-processing = Processing: { $step }.
upload-js-ready = Ready: it is checked and ready to read.
upload-js-stopped = It stopped.
upload-js-reading-why = It stopped. Reading why…
upload-js-cannot-start = The upload could not start: { $why }
upload-js-store-refused = The store refused the file (HTTP { $status }). Try again.
upload-js-unreachable = The file could not reach the store. Check the connection and try again.
sign-in-title = Sign in
sign-in-you-are-signed-in = You are signed in
sign-in-current = You are signed in as { $who }.
sign-in-go-to-documents = Go to your documents.
sign-in-as-someone-else = Sign in as someone else
sign-in-ends-session = Signing in with another token ends your session as { $who }.
sign-in-with-token = Or with an access token
sign-in-with-provider = Sign in with { $provider }
sign-in-token = Your access token
sign-in-token-hint = The token your operator gave you (an evaluator's, or a teacher's own).
sign-in-switch = Switch
sign-in-as-question = Sign in as { $who }?
sign-in-as = Sign in as { $who }
sign-in-current-continuing = You are signed in as { $who }. Continuing ends that session.
sign-in-stay = Stay signed in as { $who }
sign-in-link-once = This link from docflow dev signs in once.
sign-in-switch-question = Switch to { $who }?
sign-in-current-switching = You are signed in as { $who }. Signing in as { $to } ends that session.
sign-in-switch-to = Switch to { $who }
sign-in-no-tokens = This gateway has no tokens configured: an operator adds [[gateway.tokens]] tables first.
sign-in-wrong-token = That is not one of this gateway's tokens. Check it and try again.
sign-in-link-invalid = This sign-in link cannot be used: it has expired, was made for another docflow, or its token was removed. Nothing was changed. docflow dev prints new links each time it starts; or sign in with your token below.
sign-in-link-used = This sign-in link was used already. Each link signs in once, so nothing was changed. Restart docflow dev for new links, or sign in with your token below.
sign-in-form-refused = This form cannot be accepted
sign-in-form-refused-why = It did not carry this site's form token (it may have expired, or come from another site). Go back, reload the page and try again.
sign-in-unavailable = Cannot sign in right now
sign-in-unavailable-why = This gateway cannot reach NATS's session bucket to record the sign-in link as used. Try again in a moment; nothing was changed.
sign-in-two-cookies = Sign in again
sign-in-two-cookies-why = Your browser sent two docflow session cookies. Another site on this host may have set one to make you act as someone else, so neither is used. Both are now cleared: sign in again.
sign-in-js-as = This link signs you in as { $as }.
sign-in-js-unknown = That is not one of this gateway's tokens.
sign-in-js-current = You are signed in as { $current }: signing in ends that session.
failure-what-went-wrong = What went wrong
failure-upload-new-version = Upload a new version
failure-teacher-new-version = Correct the file, then upload the new version.
failure-teacher-retry = You need not change anything: an evaluator can retry it. You may also upload it again.
failure-retry = Retry
failure-retry-explained = The same file is sent again in a new round, as { $command } does.
failure-only-new-version = Only a new version of the file can go through: the teacher uploads it.
failure-technical-detail = Technical detail
failure-detail = Stopped { $state } in stage { $stage }, cause { $cause }: { $reason }
failure-retry-asked = Retry asked: the document goes back to received in a new round, and this page follows it.
failure-retry-evaluators = Evaluators retry documents. A teacher uploads a new version from the document's page instead.
failure-retry-useless = A retry would not help
failure-retry-useless-why = docflow refused this file itself, and the same file would be refused again. Only a new version of the file can go through: the teacher uploads it.
failure-retry-unavailable = Retry is not available here
failure-retry-unavailable-why = This gateway has no connection to the message queue; an operator can run `docflow retry` instead.
failure-not-stopped = Not stopped any more
failure-not-stopped-why = This document is { $state } now: only a failed or rejected document is retried.
failure-retry-failed = Retry did not go through
failure-retry-failed-why = The message queue did not take the request; nothing changed. Try again in a moment.
failure-file-refused = docflow refused this file before sending it for processing.
failure-file-refused-why = docflow checks every file before the provider sees it, and this one cannot be processed as it is. Nothing was sent to the provider.
failure-upload-unreadable = The uploaded file could not be read.
failure-upload-unreadable-why = It was removed from the upload store, or docflow may not read it. Upload the file again.
failure-provider-failed-job = The provider could not work on this file.
failure-provider-failed-job-why = It took the file and then reported that processing failed, which usually means the file is damaged or of a kind it does not read. Its own message is in the technical detail.
failure-submission-refused = The provider refused to take the file.
failure-submission-refused-why = This is not about your file: the provider refused docflow's request, which usually means a setting between docflow and the provider needs fixing. Once it is fixed, the document can be retried.
failure-submission-gave-up = docflow could not hand the file to the provider, even after several tries.
failure-submission-gave-up-why = The file was fine: the provider was unreachable or too busy. Retrying later may well go through.
failure-results-invalid = The provider's results failed docflow's checks, so they are not shown.
failure-results-invalid-why = The file was fine: what the provider sent back was not (a checksum, size or format that did not match). Nothing in the file needs changing; the document can be retried.
failure-results-unavailable = The provider's results could not be collected.
failure-results-unavailable-why = The file was fine: docflow could not fetch or store the results the provider announced. The document can be retried.
failure-callback-lost = The provider never said the work was done, and docflow stopped waiting.
failure-callback-lost-why = The file was fine: no answer came from the provider within its time limit. The document can be retried.
failure-normalize-failed = The results could not be stored.
failure-normalize-failed-why = The file was fine and the provider's results passed docflow's checks, but docflow could not store them. The document can be retried.
failure-unknown = Processing stopped before the results were ready.
failure-unknown-why = docflow did not record why (this document stopped before causes were kept). The technical detail says where it stopped.
review-title = Review
review-versions = Versions of this file
review-version-of = Version { $n } of { $total }
review-version-this = Version { $n } (this one)
review-version = Version { $n }
review-not-yet = Not reviewed yet.
review-not-yet-teacher = An evaluator has not reviewed this version yet.
review-by = { $verdict } by { $who }, { $when }
review-verdict-reviewed = Reviewed
review-verdict-changes-requested = Reviewed: changes requested
review-comment = Comment for the teacher
review-verdict = Verdict
review-choice-changes = Changes requested: upload a new version
review-mark = Mark reviewed
review-once-ready = A document can be reviewed once it is ready to read.
review-timeline-entry = reviewed by { $who }
review-only-evaluators = Only evaluators review
review-only-evaluators-why = Reviews are recorded by evaluators. Sign in with an evaluator's token to review.
review-not-ready = Not ready for review
review-not-recorded = This review cannot be recorded
review-go-back = { $error }. Go back to the document and try again.
pipeline-operators-only = The pipeline overview is for operators: sign in with a token of role admin.
pipeline-unavailable = Overview not available
pipeline-not-connected = This gateway was started without the overview's connections.
pipeline-no-answer = NATS or the database did not answer; `docflow status` on a server says which.
pipeline-at = At { $at }; this page refreshes every { $seconds } seconds.
pipeline-drawing = The pipeline from upload to evaluator
pipeline-bucket-notifications = bucket notifications
pipeline-breaker = breaker: { $breakers }
pipeline-ready-to-read = ready to read
pipeline-consumer = { $pending } waiting, { $in_flight } in flight, { $redelivered } redelivered
pipeline-no-worker = no worker pulling
pipeline-dead-letters = { $n ->
    [one] One dead letter
   *[other] { $n } dead letters
}
pipeline-stopped = Stopped: { $failed } failed, { $rejected } rejected. Watchdog: { $timers ->
    [one] one timer
   *[other] { $timers } timers
}, { $dead ->
    [one] one dead letter
   *[other] { $dead } dead letters
}.
pipeline-oldest = Oldest in flight: { $id } is { $state } for { $age }, waiting at { $stage }.
pipeline-nothing-in-flight = Nothing in flight.
pipeline-processes = Processes that answered
pipeline-no-process = None: no docflow run process answered on NATS.
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
# --- pre-flight refusals (the stored reason, worded for the reader) ---
refusal-empty = The file is empty (0 bytes): nothing arrived; please upload it again.
refusal-unreadable = This file cannot be read as a document (it is neither text, PDF, Word nor OpenDocument); please upload the lesson plan in one of those formats.
refusal-too-large = The file is { $size }, more than the { $limit } the processing service accepts (providers.{ $provider }.max_size); please send a shorter or smaller file.
refusal-not-a-document = This file is { $what } ({ $extension }), not a document; please upload the lesson plan as PDF, Word, OpenDocument or plain text.
refusal-kind-picture = a picture
refusal-kind-video = a video (upload it as a video)
refusal-kind-sound = a sound recording
refusal-kind-program = a program
refusal-kind-archive = a compressed archive
refusal-kind-font = a font
refusal-kind-unknown = of an unknown kind
refusal-mismatch = This file is named .{ $extension } but is not a { $format } file (it may be damaged or was not saved in that format); please save it again and upload it.
refusal-active = This file is { $what }, which a web browser would open as a page or run as a program, so docflow does not take it; please upload lesson plans as PDF, Word, OpenDocument, RTF or plain text, and videos.
refusal-active-extension = a .{ $extension } file
# --- sign-in through an OpenID provider ---
oidc-not-configured = No sign-in provider
oidc-not-configured-why = This docflow has no OpenID provider configured ([oidc] in its settings). Sign in with your access token.
oidc-start-again = This sign-in cannot be finished
oidc-start-again-why = { $why } Nothing was changed: sign in again, and finish at { $provider } within a few minutes.
oidc-why-expired = It took longer than ten minutes, or it was started in another browser.
oidc-why-other-browser = The answer does not belong to the sign-in started in this browser.
oidc-why-late = This step comes right after the provider's page, within five minutes.
oidc-the-provider = your sign-in provider
oidc-did-not-sign-in = { $provider } did not sign you in
oidc-did-not-sign-in-why = It answered: { $answer }. Nothing was changed; you may sign in again.
oidc-unreachable = Cannot reach { $provider }
oidc-unreachable-why = docflow could not talk to the sign-in provider. Try again in a moment; if it lasts, tell your administrator.
oidc-untrusted = This sign-in could not be trusted
oidc-untrusted-why = docflow checks what { $provider } answers before it signs anyone in, and this answer failed a check, so nobody was signed in. Sign in again; if it happens again, tell your administrator.
oidc-detail = Detail: { $error }.
oidc-someone = someone
oidc-no-role = docflow has no role for you
oidc-no-role-why = You signed in at { $provider } as { $name }, but your account is in none of the groups that give a role in docflow (its `{ $claim }` claim holds none of: { $evaluators } for evaluators; { $teachers } for teachers). Ask your administrator to add you to the right group for docflow, then sign in again.
oidc-no-uploader-id = docflow cannot name your uploads
oidc-no-uploader-id-why = You signed in at { $provider } as { $name }, a teacher, but your account's `{ $claim }` cannot name your uploads: { $problem }. Ask your administrator to correct it at { $provider }, then sign in again.
oidc-uploader-id-empty = it is missing or empty
oidc-uploader-id-unprintable = it holds a control or invisible character
oidc-uploader-id-too-long = it is longer than { $max } bytes
oidc-signing-in = Signing in
oidc-signed-in-at = Signed in at { $provider } as { $name }.
oidc-continue = Continue
oidc-signed-out = Signed out
oidc-signed-out-of-docflow = Signed out of docflow
oidc-signing-out-at = Now signing you out of { $provider }.

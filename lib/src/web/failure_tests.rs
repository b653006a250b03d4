//! The words of every cause, and who is offered what.

use super::*;

const EMPTY: &str = "the file is empty (0 bytes): nothing arrived; please upload it again";

#[test]
fn a_refused_file_shows_pre_flights_own_reason_first() {
    let said = words(Some(FailureCause::FileRefused), EMPTY);
    assert_eq!(said.headline, "The file is empty (0 bytes): nothing arrived; please upload it again.");
    assert_eq!(said.next_step, NextStep::UploadNewVersion);
    assert!(!said.explanation.contains("several tries"), "{}", said.explanation);
    // Without a reason it still says what happened.
    assert!(words(Some(FailureCause::FileRefused), "  ").headline.contains("refused this file"));
}

#[test]
fn every_refusal_is_said_in_the_readers_language() {
    use crate::stages::transfer::preflight::every_refusal;
    for refusal in every_refusal() {
        let stored = refusal.to_string();
        let en = words_in(Lang::En, Some(FailureCause::FileRefused), &stored).headline;
        assert_eq!(Some(en.clone()), sentence(&stored), "the English catalogue says what the stage stored");
        let fr = words_in(Lang::Fr, Some(FailureCause::FileRefused), &stored).headline;
        assert_ne!(fr, en, "{stored}");
        for english in ["please", "the file", "this file", " is ", "picture", "unknown kind"] {
            assert!(!fr.to_lowercase().contains(english), "English ({english:?}) in French: {fr}");
        }
    }
    let fr = words_in(Lang::Fr, Some(FailureCause::FileRefused), EMPTY).headline;
    assert_eq!(fr, "Le fichier est vide (0 octet) : rien n'est arrivé ; déposez-le à nouveau.");
    // A reason in no known shape (an older docflow's) is shown as it was stored.
    let other = words_in(Lang::Fr, Some(FailureCause::FileRefused), "refused by an older rule").headline;
    assert_eq!(other, "Refused by an older rule.");
}

#[test]
fn a_job_the_provider_failed_is_not_worded_as_our_checks() {
    let said = words(Some(FailureCause::ProviderFailedJob), "E_CORRUPT: cannot parse the document");
    assert_eq!(said.headline, "The provider could not work on this file.");
    assert!(!said.headline.contains("checks") && !said.explanation.contains("docflow's checks"));
    assert_eq!(said.next_step, NextStep::UploadNewVersion);
}

#[test]
fn results_that_failed_our_checks_say_the_file_was_fine() {
    let said = words(Some(FailureCause::ResultsInvalid), "corrected: sha256 mismatch");
    assert!(said.headline.contains("failed docflow's checks"), "{}", said.headline);
    assert!(said.explanation.starts_with("The file was fine"), "{}", said.explanation);
    assert!(!said.explanation.contains("Upload a corrected file"));
    assert_eq!(said.next_step, NextStep::Retry);
}

#[test]
fn causes_that_are_not_the_files_say_so_and_point_to_a_retry() {
    for cause in [
        FailureCause::SubmissionGaveUp,
        FailureCause::ResultsInvalid,
        FailureCause::ResultsUnavailable,
        FailureCause::CallbackLost,
        FailureCause::NormalizeFailed,
    ] {
        let said = words(Some(cause), "raw");
        assert!(said.explanation.contains("The file was fine"), "{cause}: {}", said.explanation);
        assert_eq!(said.next_step, NextStep::Retry, "{cause}");
        assert_ne!(said.headline, "raw", "{cause}: the raw reason is detail");
    }
    assert!(words(Some(FailureCause::CallbackLost), "").headline.contains("stopped waiting"));
    assert!(words(Some(FailureCause::SubmissionGaveUp), "").headline.contains("several tries"));
    assert!(words(Some(FailureCause::SubmissionRefused), "").explanation.contains("not about your file"));
}

#[test]
fn every_cause_has_its_own_headline_and_none_reads_as_unknown() {
    let mut seen = std::collections::BTreeSet::new();
    for cause in FailureCause::ALL {
        assert!(seen.insert(words(Some(cause), EMPTY).headline), "{cause} repeats another cause's words");
    }
    assert_eq!(words(None, "whatever"), words(Some(FailureCause::Unknown), "whatever"));
    assert!(words(None, "").explanation.contains("did not record why"));
}

#[test]
fn teachers_get_a_new_version_and_evaluators_a_retry_only_where_it_may_help() {
    let teacher = Role::Uploader { uploader_id: "teacher-42".into() };
    for cause in FailureCause::ALL {
        assert_eq!(action(&teacher, Some(cause)), Action::UploadNewVersion, "{cause}");
        let expected = if cause.retry_may_help() { Action::Retry } else { Action::None };
        assert_eq!(action(&Role::Evaluator, Some(cause)), expected, "{cause}");
    }
    assert_eq!(action(&Role::Evaluator, Some(FailureCause::FileRefused)), Action::None);
    assert_eq!(action(&Role::Evaluator, None), Action::Retry);
}

#[test]
fn a_new_version_keeps_the_name_the_teacher_gave_and_the_kind() {
    let web = "teacher-42/2026/12/0b6a4f0e-2a51-4c61-9d84-6c8a2e1f9c3d-plan week 3.docx";
    assert_eq!(original_name(web), "plan week 3.docx");
    assert_eq!(original_name("teacher-42/week3/plan.docx"), "plan.docx");
    assert_eq!(
        original_name("teacher-42/not-a-uuid-at-all-but-just-long-enough-x-y.pdf"),
        "not-a-uuid-at-all-but-just-long-enough-x-y.pdf"
    );
    assert_eq!(new_version_href(Kind::Document, web), "/ui/upload?kind=document&replaces=plan%20week%203%2Edocx");
    assert_eq!(new_version_href(Kind::Video, "t/a.mp4"), "/ui/upload?kind=video&replaces=a%2Emp4");
}

//! Who a checked ID token says the person is, in docflow's terms: a role from the
//! configured claim, and for a teacher an uploader id made of the configured claim.
//!
//! Uploader ids become the first segment of every object key of the teacher's uploads
//! (`events/key.rs`), so a claim is mapped, never taken as is:
//! - `%`, `/` and `\` are written `%25`, `%2F` and `%5C` (a `/` in a user name must not
//!   become a folder; escaping `%` too keeps the mapping one-to-one: `a/b` and `a%2Fb`
//!   stay two people);
//! - a whole id of `.` or `..` is written `%2E` or `%2E%2E`;
//! - control and invisible characters, an empty value and an id longer than 128 bytes
//!   (once escaped) are refused: the person is told, and nothing is uploaded under a
//!   name that reads differently from what it is.
//!
//! Everything else (letters of any script, spaces, `@` and `.` of an e-mail address) is
//! kept, case included.

use serde_json::Value;

use crate::events::key::is_invisible;
use crate::ids::UploaderId;
use crate::settings::oidc::OidcSettings;
use crate::settings::tokens::{MAX_UPLOADER_ID, Role, uploader_id_ok};

/// A person as the ID token describes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub role: Role,
    pub subject: String,
    pub name: String,
    pub email: Option<String>,
}

/// Why a signed-in person gets no session; each is worded for them on the page.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// None of the role claim's values is configured.
    #[error("none of the values of the claim `{claim}` gives a docflow role (found: {found:?})")]
    NoRole { claim: String, found: Vec<String> },
    /// A teacher whose uploader claim is missing or cannot be an uploader id.
    #[error("the claim `{claim}` cannot be an uploader id: {problem}")]
    NoUploaderId { claim: String, problem: UploaderIdError },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UploaderIdError {
    #[error("it is missing or empty")]
    Empty,
    #[error("it holds a control or invisible character")]
    Unprintable,
    #[error("it is longer than {MAX_UPLOADER_ID} bytes")]
    TooLong,
}

/// The uploader id of a claim's value (see the module's comment).
pub fn uploader_id(value: &str) -> Result<UploaderId, UploaderIdError> {
    if value.is_empty() {
        return Err(UploaderIdError::Empty);
    }
    if value.chars().any(|c| c.is_control() || is_invisible(c)) {
        return Err(UploaderIdError::Unprintable);
    }
    let mut id = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '%' => id.push_str("%25"),
            '/' => id.push_str("%2F"),
            '\\' => id.push_str("%5C"),
            c => id.push(c),
        }
    }
    let id = match id.as_str() {
        "." => "%2E".to_owned(),
        ".." => "%2E%2E".to_owned(),
        _ => id,
    };
    if id.len() > MAX_UPLOADER_ID {
        return Err(UploaderIdError::TooLong);
    }
    debug_assert!(uploader_id_ok(&id), "{id:?}");
    Ok(UploaderId::from(id))
}

/// The claim `name` of `claims`; a dotted name reads into objects (`realm_access.roles`)
/// when no claim has the whole name.
fn claim<'c>(claims: &'c Value, name: &str) -> Option<&'c Value> {
    if let Some(value) = claims.get(name) {
        return Some(value);
    }
    name.split('.').try_fold(claims, |value, part| value.get(part))
}

/// A claim's text values: a string, or the strings of a list.
fn texts(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(one)) => vec![one.clone()],
        Some(Value::Array(many)) => many.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
        _ => Vec::new(),
    }
}

fn text<'c>(claims: &'c Value, name: &str) -> Option<&'c str> {
    claim(claims, name).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}

/// The person of a checked ID token's claims under `settings`.
pub fn person(settings: &OidcSettings, claims: &Value) -> Result<Person, Refusal> {
    let values = texts(claim(claims, &settings.role_claim));
    let has = |wanted: &[String]| values.iter().any(|v| wanted.contains(v));
    let subject = text(claims, "sub").unwrap_or_default().to_owned();
    let uploader_claim = text(claims, &settings.uploader_claim);
    let role = if has(&settings.admin_values) {
        Role::Admin
    } else if has(&settings.evaluator_values) {
        Role::Evaluator
    } else if has(&settings.uploader_values) {
        let no_id = |problem| Refusal::NoUploaderId { claim: settings.uploader_claim.clone(), problem };
        let raw = claim(claims, &settings.uploader_claim).and_then(Value::as_str).unwrap_or_default();
        Role::Uploader { uploader_id: uploader_id(raw).map_err(no_id)? }
    } else {
        return Err(Refusal::NoRole { claim: settings.role_claim.clone(), found: values });
    };
    let name = text(claims, &settings.name_claim).or(uploader_claim).unwrap_or(&subject).to_owned();
    let email = text(claims, &settings.email_claim).map(str::to_owned);
    Ok(Person { role, subject, name, email })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn settings() -> OidcSettings {
        OidcSettings {
            issuer: "https://id.example".into(),
            evaluator_values: vec!["evaluators".into()],
            uploader_values: vec!["teachers".into()],
            admin_values: vec!["admins".into()],
            ..OidcSettings::default()
        }
    }

    #[test]
    fn a_slash_never_becomes_a_folder_and_the_mapping_stays_one_to_one() {
        assert_eq!(uploader_id("maths/bob").unwrap(), "maths%2Fbob");
        assert_eq!(uploader_id("maths%2Fbob").unwrap(), "maths%252Fbob");
        assert_eq!(uploader_id(r"SCHOOL\bob").unwrap(), "SCHOOL%5Cbob");
        assert_eq!(uploader_id("bob@school.example").unwrap(), "bob@school.example");
        assert_eq!(uploader_id("Zoë Lee").unwrap(), "Zoë Lee");
        assert_eq!(uploader_id(".").unwrap(), "%2E");
        assert_eq!(uploader_id("..").unwrap(), "%2E%2E");
        for value in ["a/b", "../x", "/", "%", "a\\b", "..", "...", "x/../y"] {
            let id = uploader_id(value).unwrap();
            assert!(uploader_id_ok(id.as_str()), "{value} -> {id}");
            let key = crate::events::key::ObjectKey::parse(&format!("{id}/plan.docx")).unwrap();
            assert_eq!(key.uploader_id(), id, "one segment");
        }
    }

    #[test]
    fn unprintable_empty_and_long_values_are_refused() {
        assert_eq!(uploader_id(""), Err(UploaderIdError::Empty));
        assert_eq!(uploader_id("bob\n"), Err(UploaderIdError::Unprintable));
        assert_eq!(uploader_id("bob\u{202E}txt"), Err(UploaderIdError::Unprintable));
        assert_eq!(uploader_id(&"b".repeat(129)), Err(UploaderIdError::TooLong));
        // 43 slashes are 129 bytes once escaped.
        assert_eq!(uploader_id(&"/".repeat(43)), Err(UploaderIdError::TooLong));
        assert!(uploader_id(&"b".repeat(128)).is_ok());
    }

    #[test]
    fn the_role_comes_from_the_configured_claim_evaluators_first() {
        let claims = json!({"sub": "s1", "name": "Ada Lovelace", "email": "ada@x", "preferred_username": "ada",
            "groups": ["staff", "evaluators"]});
        let ada = person(&settings(), &claims).unwrap();
        assert_eq!(ada.role, Role::Evaluator);
        assert_eq!(
            (ada.name.as_str(), ada.email.as_deref(), ada.subject.as_str()),
            ("Ada Lovelace", Some("ada@x"), "s1")
        );
        let both = json!({"sub": "s2", "groups": ["teachers", "evaluators"], "preferred_username": "t"});
        assert_eq!(person(&settings(), &both).unwrap().role, Role::Evaluator);
        let admin = json!({"sub": "s3", "groups": "admins"});
        assert_eq!(person(&settings(), &admin).unwrap().role, Role::Admin, "operators see the pipeline page");
    }

    #[test]
    fn a_teacher_uploads_as_their_mapped_claim_and_is_named_by_it_without_a_name() {
        let claims = json!({"sub": "s1", "preferred_username": "maths/bob", "groups": ["teachers"]});
        let bob = person(&settings(), &claims).unwrap();
        assert_eq!(bob.role, Role::Uploader { uploader_id: "maths%2Fbob".into() });
        assert_eq!((bob.name.as_str(), bob.email), ("maths/bob", None));
        let by_email = OidcSettings { uploader_claim: "email".into(), ..settings() };
        let claims = json!({"sub": "s1", "email": "bob@school.example", "groups": ["teachers"]});
        assert_eq!(
            person(&by_email, &claims).unwrap().role,
            Role::Uploader { uploader_id: "bob@school.example".into() }
        );
    }

    #[test]
    fn no_role_or_no_usable_uploader_id_is_a_refusal_that_says_which() {
        let nora = json!({"sub": "s1", "preferred_username": "nora", "groups": ["students"]});
        let refusal = person(&settings(), &nora).unwrap_err();
        assert_eq!(refusal, Refusal::NoRole { claim: "groups".into(), found: vec!["students".into()] });
        let no_groups = json!({"sub": "s1"});
        assert!(matches!(person(&settings(), &no_groups), Err(Refusal::NoRole { found, .. }) if found.is_empty()));
        let nameless = json!({"sub": "s1", "groups": ["teachers"]});
        assert_eq!(
            person(&settings(), &nameless).unwrap_err(),
            Refusal::NoUploaderId { claim: "preferred_username".into(), problem: UploaderIdError::Empty }
        );
    }

    #[test]
    fn a_dotted_role_claim_reads_into_objects() {
        let keycloak = OidcSettings { role_claim: "realm_access.roles".into(), ..settings() };
        let claims = json!({"sub": "s1", "realm_access": {"roles": ["evaluators"]}});
        assert_eq!(person(&keycloak, &claims).unwrap().role, Role::Evaluator);
    }
}

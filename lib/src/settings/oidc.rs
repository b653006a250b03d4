//! `[oidc]`: people sign in to the web interface through an OpenID provider (Keycloak,
//! Authentik, ...). Off while `issuer` is unset or empty; then every other key must be
//! unset too, so that a half-written section is not silently ignored. The mapping of
//! claims to roles and uploader ids is `web/oidc_claims.rs`; the flow is `web/oidc.rs`.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// The keys holding lists: comma-separated in the environment
/// (`DOCFLOW__OIDC__EVALUATOR_VALUES=evaluators,admins`).
pub const LIST_KEYS: [&str; 4] = ["scopes", "evaluator_values", "uploader_values", "admin_values"];

/// The redirect path registered at the provider: `{gateway.public_url}/ui/oidc/callback`.
pub const CALLBACK_PATH: &str = "/ui/oidc/callback";

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct OidcSettings {
    /// The provider's issuer URL (discovery at `{issuer}/.well-known/openid-configuration`).
    pub issuer: String,
    pub client_id: String,
    /// Never logged; `Debug` shows nothing of it.
    pub client_secret: Option<SecretString>,
    /// Asked for at sign-in; must hold `openid`.
    pub scopes: Vec<String>,
    /// The ID token claim that holds the role: a string or a list of strings; a dotted
    /// name reads into objects (`realm_access.roles`).
    pub role_claim: String,
    /// Values of `role_claim` that make an evaluator (checked first).
    pub evaluator_values: Vec<String>,
    /// Values that make a teacher (role `uploader`, uploading as themselves).
    pub uploader_values: Vec<String>,
    /// Values of the administrators: they sign in as evaluators.
    pub admin_values: Vec<String>,
    /// The claim a teacher's uploader id is made of (`preferred_username` or `email`).
    pub uploader_claim: String,
    /// The claim shown as the person's name (falls back to the uploader claim, then `sub`).
    pub name_claim: String,
    /// The claim of the person's e-mail address (optional in the token).
    pub email_claim: String,
    /// Shown on the sign-in button ("Sign in with ..."); empty: the issuer's host.
    pub provider_name: String,
}

impl Default for OidcSettings {
    fn default() -> OidcSettings {
        OidcSettings {
            issuer: String::new(),
            client_id: String::new(),
            client_secret: None,
            scopes: ["openid", "profile", "email"].map(String::from).to_vec(),
            role_claim: "groups".into(),
            evaluator_values: Vec::new(),
            uploader_values: Vec::new(),
            admin_values: Vec::new(),
            uploader_claim: "preferred_username".into(),
            name_claim: "name".into(),
            email_claim: "email".into(),
            provider_name: String::new(),
        }
    }
}

impl OidcSettings {
    /// True when `issuer` is set: the sign-in page offers the provider.
    pub fn enabled(&self) -> bool {
        !self.issuer.trim().is_empty()
    }

    /// The button's name: `provider_name`, else the issuer's host.
    pub fn display_name(&self) -> String {
        if !self.provider_name.trim().is_empty() {
            return self.provider_name.trim().to_owned();
        }
        reqwest::Url::parse(&self.issuer)
            .ok()
            .and_then(|url| url.host_str().map(str::to_owned))
            .unwrap_or_else(|| "your organisation".into())
    }

    /// Each problem as `(key, expected)`.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut add = |key: &str, expected: &str| out.push((format!("oidc.{key}"), expected.to_owned()));
        if !self.enabled() {
            let set = !self.client_id.is_empty()
                || self.client_secret.is_some()
                || !self.evaluator_values.is_empty()
                || !self.uploader_values.is_empty()
                || !self.admin_values.is_empty();
            if set {
                add("issuer", "the provider's issuer URL, to turn OpenID Connect on (other [oidc] keys are set)");
            }
            return out;
        }
        match reqwest::Url::parse(&self.issuer) {
            Ok(url) if url.scheme() == "https" && url.host().is_some() => {}
            Ok(url)
                if url.scheme() == "http" && matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]")) => {}
            _ => add(
                "issuer",
                "an https:// URL (http:// only on a loopback address), e.g. https://id.school.example/realms/staff",
            ),
        }
        if self.client_id.trim().is_empty() {
            add("client_id", "the client id registered at the provider for docflow");
        }
        if self.client_secret.as_ref().is_none_or(|s| s.expose_secret().is_empty()) {
            add("client_secret", "the client's secret (DOCFLOW__OIDC__CLIENT_SECRET, or the secrets file)");
        }
        if !self.scopes.iter().any(|s| s == "openid") {
            add("scopes", "a list holding \"openid\", e.g. [\"openid\", \"profile\", \"email\", \"groups\"]");
        }
        for (key, value) in [
            ("role_claim", &self.role_claim),
            ("uploader_claim", &self.uploader_claim),
            ("name_claim", &self.name_claim),
        ] {
            if value.trim().is_empty() {
                add(key, "the name of an ID token claim");
            }
        }
        if self.evaluator_values.is_empty() && self.uploader_values.is_empty() && self.admin_values.is_empty() {
            add(
                "evaluator_values",
                "the values of role_claim that give a role: evaluator_values and/or uploader_values (e.g. \
                 [\"docflow-evaluators\"]); with none, nobody could sign in",
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enabled() -> OidcSettings {
        OidcSettings {
            issuer: "https://id.school.example/realms/staff".into(),
            client_id: "docflow".into(),
            client_secret: Some("s".into()),
            evaluator_values: vec!["evaluators".into()],
            ..OidcSettings::default()
        }
    }

    fn keys(settings: &OidcSettings) -> Vec<String> {
        settings.problems().into_iter().map(|(key, _)| key).collect::<Vec<_>>()
    }

    #[test]
    fn off_by_default_and_complete_when_enabled() {
        assert!(!OidcSettings::default().enabled() && keys(&OidcSettings::default()).is_empty());
        assert!(keys(&enabled()).is_empty(), "{:?}", enabled().problems());
        assert_eq!(enabled().display_name(), "id.school.example");
    }

    #[test]
    fn each_missing_or_wrong_key_is_named() {
        let half = OidcSettings { client_id: "docflow".into(), ..OidcSettings::default() };
        assert_eq!(keys(&half), ["oidc.issuer"]);
        let plain = OidcSettings { issuer: "http://id.school.example".into(), ..enabled() };
        assert_eq!(keys(&plain), ["oidc.issuer"]);
        let loopback = OidcSettings { issuer: "http://127.0.0.1:9000".into(), ..enabled() };
        assert!(keys(&loopback).is_empty());
        let bare = OidcSettings { issuer: "https://id.example".into(), ..OidcSettings::default() };
        assert_eq!(keys(&bare), ["oidc.client_id", "oidc.client_secret", "oidc.evaluator_values"]);
        let odd = OidcSettings { scopes: vec!["profile".into()], role_claim: " ".into(), ..enabled() };
        assert_eq!(keys(&odd), ["oidc.scopes", "oidc.role_claim"]);
    }

    #[test]
    fn loading_names_a_missing_key_reads_lists_from_the_environment_and_hides_the_secret() {
        let vars = |extra: &[(&str, &str)]| {
            crate::testkit::TestSettings::new()
                .with(&[
                    ("DOCFLOW__OIDC__ISSUER", "https://id.example"),
                    ("DOCFLOW__OIDC__CLIENT_ID", "docflow"),
                    ("DOCFLOW__OIDC__EVALUATOR_VALUES", "evaluators,admins"),
                ])
                .with(extra)
                .vars()
        };
        let error = crate::settings::Settings::load(None, Some(vars(&[]))).unwrap_err().to_string();
        assert!(error.contains("`oidc.client_secret`") && error.contains("DOCFLOW__OIDC__CLIENT_SECRET"), "{error}");
        let secret = "a-client-secret-never-shown";
        let settings =
            crate::settings::Settings::load(None, Some(vars(&[("DOCFLOW__OIDC__CLIENT_SECRET", secret)]))).unwrap();
        assert_eq!(settings.oidc.evaluator_values, ["evaluators", "admins"]);
        assert!(settings.oidc.enabled() && !format!("{settings:?}").contains(secret));
    }
}

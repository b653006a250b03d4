//! How docflow proves who it is to NATS, and whether it speaks TLS, from `[nats]`.
//!
//! Credentials never travel inside the URL handed to async-nats: the client logs its server
//! addresses at debug level (and would not send URL credentials anyway), so user and
//! password are taken out of `nats.url` here and passed through `ConnectOptions`.

use std::path::{Path, PathBuf};

use percent_encoding::percent_decode_str;
use secrecy::{ExposeSecret, SecretString};

use crate::settings::{NatsSettings, NatsTlsSettings};

/// A wrong `[nats]` value: the key(s) and what is expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub key: String,
    pub expected: String,
}

fn invalid(key: impl Into<String>, expected: impl Into<String>) -> Invalid {
    Invalid { key: key.into(), expected: expected.into() }
}

/// One authentication method, or none.
#[derive(Debug, Clone)]
pub enum Auth {
    None,
    UserPassword { user: String, password: SecretString },
    Token(SecretString),
    NkeySeedFile(PathBuf),
    CredsFile(PathBuf),
}

impl Auth {
    /// The method the settings name; an error naming the keys when they name several, or
    /// half of one.
    pub fn from_settings(settings: &NatsSettings) -> Result<Auth, Invalid> {
        let mut found: Vec<(&str, Auth)> = Vec::new();
        let in_url = url_credentials(&settings.url)?;
        match in_url {
            Some((user, Some(password))) => found.push((
                "nats.url (user:password@)",
                Auth::UserPassword { user, password: SecretString::from(password) },
            )),
            Some((token, None)) => found.push(("nats.url (token@)", Auth::Token(SecretString::from(token)))),
            None => {}
        }
        let user = settings.user.as_deref().filter(|u| !u.is_empty());
        let password = settings.password.as_ref().filter(|p| !p.expose_secret().is_empty());
        match (user, password) {
            (Some(user), Some(password)) => found.push((
                "nats.user + nats.password",
                Auth::UserPassword { user: user.to_owned(), password: password.clone() },
            )),
            (Some(_), None) => return Err(invalid("nats.password", "set together with nats.user")),
            (None, Some(_)) => return Err(invalid("nats.user", "set together with nats.password")),
            (None, None) => {}
        }
        if let Some(token) = settings.token.as_ref().filter(|t| !t.expose_secret().is_empty()) {
            found.push(("nats.token", Auth::Token(token.clone())));
        }
        if let Some(path) = non_empty(&settings.nkey_seed_file) {
            found.push(("nats.nkey_seed_file", Auth::NkeySeedFile(path.to_owned())));
        }
        if let Some(path) = non_empty(&settings.creds_file) {
            found.push(("nats.creds_file", Auth::CredsFile(path.to_owned())));
        }
        match found.len() {
            0 => Ok(Auth::None),
            1 => Ok(found.pop().expect("one").1),
            _ => Err(invalid(
                found.iter().map(|(key, _)| *key).collect::<Vec<_>>().join(", "),
                "at most one NATS authentication method; keep one of these",
            )),
        }
    }

    /// The settings key(s) of this method, for error messages.
    pub fn keys(&self) -> &'static str {
        match self {
            Auth::None => {
                "no authentication configured (nats.user + nats.password, nats.token, nats.nkey_seed_file or nats.creds_file)"
            }
            Auth::UserPassword { .. } => "nats.user + nats.password (or user:password@ in nats.url)",
            Auth::Token(_) => "nats.token (or token@ in nats.url)",
            Auth::NkeySeedFile(_) => "nats.nkey_seed_file",
            Auth::CredsFile(_) => "nats.creds_file",
        }
    }
}

/// TLS towards NATS: on when any `[nats.tls]` key is set or the URL is `tls://`.
#[derive(Debug, Clone, Default)]
pub struct Tls {
    pub ca_file: Option<PathBuf>,
    /// Client certificate and key.
    pub client: Option<(PathBuf, PathBuf)>,
    pub required: bool,
}

impl Tls {
    pub fn from_settings(settings: &NatsTlsSettings) -> Result<Tls, Invalid> {
        let ca_file = non_empty(&settings.ca_file).map(Path::to_owned);
        let client = match (non_empty(&settings.cert_file), non_empty(&settings.key_file)) {
            (Some(cert), Some(key)) => Some((cert.to_owned(), key.to_owned())),
            (Some(_), None) => return Err(invalid("nats.tls.key_file", "set together with nats.tls.cert_file")),
            (None, Some(_)) => return Err(invalid("nats.tls.cert_file", "set together with nats.tls.key_file")),
            (None, None) => None,
        };
        let required = ca_file.is_some() || client.is_some();
        Ok(Tls { ca_file, client, required })
    }
}

fn non_empty(path: &Option<PathBuf>) -> Option<&Path> {
    path.as_deref().filter(|p| !p.as_os_str().is_empty())
}

/// The servers of `nats.url` (a comma-separated list), each without its user part.
pub fn servers(url: &str) -> Vec<String> {
    split_servers(url).iter().map(|server| strip_userinfo(server).0).collect()
}

/// `user`, and `Some(password)` or `None` for a token, from the URL's user part; the same on
/// every server of a list, or an error.
fn url_credentials(url: &str) -> Result<Option<(String, Option<String>)>, Invalid> {
    let mut found = None;
    for server in split_servers(url) {
        let Some(userinfo) = strip_userinfo(&server).1 else { continue };
        let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
        let credentials = match userinfo.split_once(':') {
            Some((user, password)) => (decode(user), Some(decode(password))),
            None => (decode(&userinfo), None),
        };
        match &found {
            Some(previous) if previous != &credentials => {
                return Err(invalid("nats.url", "the same credentials on every server of the list, or none"));
            }
            _ => found = Some(credentials),
        }
    }
    Ok(found)
}

/// `nats://a:4222,nats://b:4222` -> both; a comma inside a password stays with its URL.
fn split_servers(url: &str) -> Vec<String> {
    let mut servers: Vec<String> = Vec::new();
    for piece in url.split(',') {
        match servers.last_mut() {
            Some(last) if !piece.contains("://") && piece.contains('@') => {
                last.push(',');
                last.push_str(piece);
            }
            _ => servers.push(piece.trim().to_owned()),
        }
    }
    servers
}

/// The URL without its user part, and the user part.
fn strip_userinfo(server: &str) -> (String, Option<String>) {
    let (scheme, rest) = match server.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, server),
    };
    let Some(at) = rest.rfind('@') else {
        return (server.to_owned(), None);
    };
    let host = &rest[at + 1..];
    let stripped = match scheme {
        Some(scheme) => format!("{scheme}://{host}"),
        None => host.to_owned(),
    };
    (stripped, Some(rest[..at].to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `[nats]` with `url` and `extra` (`DOCFLOW__NATS__KEY` names), unvalidated.
    fn nats(url: &str, extra: &[(&str, &str)]) -> NatsSettings {
        let get = |key: &str| {
            extra.iter().find(|(k, _)| k.strip_prefix("DOCFLOW__NATS__") == Some(key)).map(|(_, v)| v.to_string())
        };
        NatsSettings {
            url: url.to_owned(),
            prefix: "docflow".into(),
            replicas: 1,
            definitions_dir: String::new(),
            user: get("USER"),
            password: get("PASSWORD").map(SecretString::from),
            token: get("TOKEN").map(SecretString::from),
            nkey_seed_file: get("NKEY_SEED_FILE").map(PathBuf::from),
            creds_file: get("CREDS_FILE").map(PathBuf::from),
            tls: NatsTlsSettings::default(),
        }
    }

    #[test]
    fn credentials_leave_the_url_and_become_options() {
        assert_eq!(servers("nats://u:p%40ss@h:4222"), ["nats://h:4222"]);
        assert_eq!(servers("nats://a:4222,nats://t@b:4222"), ["nats://a:4222", "nats://b:4222"]);
        match Auth::from_settings(&nats("nats://docflow:p%40ss,1@h:4222", &[])).unwrap() {
            Auth::UserPassword { user, password } => {
                assert_eq!(user, "docflow");
                assert_eq!(password.expose_secret(), "p@ss,1");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(Auth::from_settings(&nats("nats://tok@h:4222", &[])).unwrap(), Auth::Token(_)));
        assert!(matches!(Auth::from_settings(&nats("nats://h:4222", &[])).unwrap(), Auth::None));
    }

    #[test]
    fn two_methods_are_refused_naming_both_keys() {
        let error = Auth::from_settings(&nats(
            "nats://u:p@h:4222",
            &[("DOCFLOW__NATS__TOKEN", "t"), ("DOCFLOW__NATS__CREDS_FILE", "/x.creds")],
        ))
        .unwrap_err();
        assert_eq!(error.key, "nats.url (user:password@), nats.token, nats.creds_file");
        let error = Auth::from_settings(&nats(
            "nats://h:4222",
            &[("DOCFLOW__NATS__USER", "u"), ("DOCFLOW__NATS__PASSWORD", "p"), ("DOCFLOW__NATS__NKEY_SEED_FILE", "/n")],
        ))
        .unwrap_err();
        assert_eq!(error.key, "nats.user + nats.password, nats.nkey_seed_file");
    }

    #[test]
    fn half_a_method_names_the_missing_key() {
        let error = Auth::from_settings(&nats("nats://h:4222", &[("DOCFLOW__NATS__USER", "u")])).unwrap_err();
        assert_eq!(error.key, "nats.password");
        let error = Auth::from_settings(&nats("nats://h:4222", &[("DOCFLOW__NATS__PASSWORD", "p")])).unwrap_err();
        assert_eq!(error.key, "nats.user");
        let tls = NatsTlsSettings { cert_file: Some("/c.pem".into()), ..Default::default() };
        assert_eq!(Tls::from_settings(&tls).unwrap_err().key, "nats.tls.key_file");
    }

    #[test]
    fn empty_values_count_as_unset() {
        let settings = nats("nats://h:4222", &[("DOCFLOW__NATS__TOKEN", ""), ("DOCFLOW__NATS__CREDS_FILE", "")]);
        assert!(matches!(Auth::from_settings(&settings).unwrap(), Auth::None));
    }

    #[test]
    fn different_credentials_across_a_server_list_are_refused() {
        let error = Auth::from_settings(&nats("nats://a:1@h1:4222,nats://b:2@h2:4222", &[])).unwrap_err();
        assert_eq!(error.key, "nats.url");
    }

    #[test]
    fn any_tls_key_turns_tls_on() {
        assert!(!Tls::from_settings(&NatsTlsSettings::default()).unwrap().required);
        let tls = NatsTlsSettings { ca_file: Some("/ca.pem".into()), ..Default::default() };
        assert!(Tls::from_settings(&tls).unwrap().required);
    }

    #[test]
    fn a_settings_file_with_two_methods_does_not_load() {
        let error = crate::testkit::TestSettings::new()
            .with(&[("DOCFLOW__NATS__URL", "nats://u:hunter2@h:4222"), ("DOCFLOW__NATS__TOKEN", "t0k3n")])
            .try_load(None)
            .unwrap_err()
            .to_string();
        assert!(error.contains("nats.url (user:password@), nats.token"), "{error}");
        assert!(!error.contains("hunter2") && !error.contains("t0k3n"), "{error}");
    }
}

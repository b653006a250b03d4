//! Sessions and CSRF tokens of the web interface.
//!
//! A session cookie holds no token: it holds the role, the uploader (for role
//! `uploader`), an expiry, a random nonce and a tag of the token it was opened with, all
//! signed with HMAC-SHA256 under a key derived from `gateway.session_secret`, or drawn at
//! random when the process starts when none is configured (then a restart signs
//! everybody out, and several gateway processes do not share sessions). The tag
//! ties the session to its token: once an operator removes the token from
//! `[[gateway.tokens]]` the session is refused on its next request.
//!
//! CSRF: a signed-in form carries `HMAC(key, "csrf" | nonce)`, bound to the session; the
//! sign-in form, before any session exists, uses a double-submit cookie (a random value in
//! a cookie and in the form, which must match).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::gateway::tokens::{GatewayToken, Role};

/// How long a session lasts after sign-in.
pub const SESSION_TTL: Duration = Duration::from_secs(8 * 3600);
/// The session cookie's name.
pub const SESSION_COOKIE: &str = "docflow_session";
/// The sign-in form's double-submit cookie.
pub const SIGN_IN_CSRF_COOKIE: &str = "docflow_csrf";

/// The process's signing key. Debug shows nothing of it.
#[derive(Clone)]
pub struct SessionKey([u8; 32]);

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey(..)")
    }
}

/// A verified session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub role: Role,
    pub expires: u64,
    nonce: String,
}

impl SessionKey {
    /// A fresh random key.
    pub fn random() -> SessionKey {
        SessionKey(rand::random())
    }

    /// The key of a configured secret (`gateway.session_secret`): the same on every
    /// gateway given it.
    pub fn from_secret(secret: &str) -> SessionKey {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
        mac.update(b"docflow web session key v1");
        SessionKey(mac.finalize().into_bytes().into())
    }

    fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        for part in parts {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }

    /// A short tag of a configured token (not its digest: the cookie is readable).
    fn token_tag(&self, token: &GatewayToken) -> String {
        hex::encode(&self.mac(&[b"token", token.digest()])[..12])
    }

    /// The cookie value of a new session opened with `token`, valid until `now + ttl`.
    pub fn open(&self, token: &GatewayToken, now: SystemTime, ttl: Duration) -> String {
        let expires = unix(now) + ttl.as_secs();
        let nonce = hex::encode(rand::random::<[u8; 16]>());
        let uploader = match &token.role {
            Role::Uploader { uploader_id } => hex::encode(uploader_id.as_bytes()),
            _ => String::new(),
        };
        let payload = format!("v1.{}.{uploader}.{expires}.{nonce}.{}", token.role.name(), self.token_tag(token));
        let mac = hex::encode(self.mac(&[b"session", payload.as_bytes()]));
        format!("{payload}.{mac}")
    }

    /// The session of a cookie value: `None` unless it is signed with this key, not expired
    /// at `now`, and its token is still one of `tokens` with the same role.
    pub fn verify(&self, value: &str, tokens: &[GatewayToken], now: SystemTime) -> Option<Session> {
        let (payload, mac) = value.rsplit_once('.')?;
        let mac = hex::decode(mac).ok()?;
        let expected = self.mac(&[b"session", payload.as_bytes()]);
        if !bool::from(expected.as_slice().ct_eq(&mac)) {
            return None;
        }
        let parts: Vec<&str> = payload.split('.').collect();
        let ["v1", role, uploader, expires, nonce, tag] = parts.as_slice() else { return None };
        let expires: u64 = expires.parse().ok()?;
        if unix(now) >= expires {
            return None;
        }
        let role = match *role {
            "evaluator" => Role::Evaluator,
            "uploads" => Role::Uploads,
            "uploader" => Role::Uploader { uploader_id: String::from_utf8(hex::decode(uploader).ok()?).ok()? },
            _ => return None,
        };
        // Still configured, with the same role?
        tokens.iter().find(|t| t.role == role && self.token_tag(t).as_bytes().ct_eq(tag.as_bytes()).into())?;
        Some(Session { role, expires, nonce: (*nonce).to_owned() })
    }

    /// The CSRF token of `session`'s forms.
    pub fn csrf(&self, session: &Session) -> String {
        hex::encode(self.mac(&[b"csrf", session.nonce.as_bytes()]))
    }

    /// What lets `session` follow the document of upload `key` (role `uploads` reads no
    /// other): handed out with the upload's form.
    pub fn watch(&self, session: &Session, key: &str) -> String {
        hex::encode(self.mac(&[b"watch", session.nonce.as_bytes(), key.as_bytes()]))
    }

    /// True when `presented` is [`SessionKey::watch`] of `session` and `key`.
    pub fn watch_ok(&self, session: &Session, key: &str, presented: &str) -> bool {
        bool::from(self.watch(session, key).as_bytes().ct_eq(presented.as_bytes()))
    }

    /// True when `presented` is `session`'s CSRF token.
    pub fn csrf_ok(&self, session: &Session, presented: &str) -> bool {
        bool::from(self.csrf(session).as_bytes().ct_eq(presented.as_bytes()))
    }
}

/// A random value for the sign-in form's double-submit cookie.
pub fn sign_in_nonce() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// True when the double-submit cookie and the form's field are the same, non-empty value.
pub fn double_submit_ok(cookie: Option<&str>, field: &str) -> bool {
    match cookie {
        Some(cookie) if !cookie.is_empty() => bool::from(cookie.as_bytes().ct_eq(field.as_bytes())),
        _ => false,
    }
}

fn unix(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn teacher() -> GatewayToken {
        GatewayToken::new("t", Role::Uploader { uploader_id: "teacher.42".into() })
    }

    #[test]
    fn a_session_round_trips_and_holds_no_token() {
        let key = SessionKey::random();
        let token = teacher();
        let now = SystemTime::now();
        let cookie = key.open(&token, now, SESSION_TTL);
        assert!(!cookie.contains(&token.sha256_hex()) && !cookie.contains(&token.sha256_hex()[..16]));
        let session = key.verify(&cookie, std::slice::from_ref(&token), now).unwrap();
        assert_eq!(session.role, token.role);
        assert!(key.csrf_ok(&session, &key.csrf(&session)));
        assert!(!key.csrf_ok(&session, ""));
    }

    #[test]
    fn tampered_expired_foreign_and_revoked_sessions_are_refused() {
        let key = SessionKey::random();
        let token = teacher();
        let tokens = std::slice::from_ref(&token);
        let now = SystemTime::now();
        let cookie = key.open(&token, now, SESSION_TTL);
        assert!(key.verify(&cookie, tokens, now + SESSION_TTL).is_none(), "expired");
        assert!(SessionKey::random().verify(&cookie, tokens, now).is_none(), "another key");
        assert!(key.verify(&cookie, &[GatewayToken::new("other", token.role.clone())], now).is_none(), "revoked");
        let forged = cookie.replacen("uploader", "evaluator", 1);
        assert!(key.verify(&forged, tokens, now).is_none(), "tampered");
        assert!(key.verify("", tokens, now).is_none());
        assert!(key.verify("v1.evaluator....", tokens, now).is_none());
    }

    #[test]
    fn gateways_with_the_same_secret_share_sessions_and_others_do_not() {
        let token = teacher();
        let now = SystemTime::now();
        let secret = "a shared secret of more than thirty-two bytes";
        let cookie = SessionKey::from_secret(secret).open(&token, now, SESSION_TTL);
        let tokens = std::slice::from_ref(&token);
        assert!(SessionKey::from_secret(secret).verify(&cookie, tokens, now).is_some());
        assert!(
            SessionKey::from_secret("another secret of more than thirty-two").verify(&cookie, tokens, now).is_none()
        );
        assert!(SessionKey::random().verify(&cookie, tokens, now).is_none());
    }

    #[test]
    fn the_double_submit_check_needs_both_equal_and_present() {
        assert!(double_submit_ok(Some("abc"), "abc"));
        assert!(!double_submit_ok(Some("abc"), "abd"));
        assert!(!double_submit_ok(None, ""));
        assert!(!double_submit_ok(Some(""), ""));
    }
}

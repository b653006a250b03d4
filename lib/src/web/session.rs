//! Sessions, sign-in links and CSRF tokens of the web interface (design: `design.md`).
//!
//! A session cookie holds no token: it holds a random session id, when the session was
//! opened and last used, its role (and uploader) and a tag of the token it was opened
//! with, all signed with HMAC-SHA256 under a key derived from `gateway.session_secret` (or
//! drawn at random when the process starts when none is configured: then a restart signs
//! everybody out, and several gateway processes do not share sessions). The tag ties the
//! session to its token: once an operator removes the token from `[[gateway.tokens]]` the
//! session is refused on its next request. The id is what sign-out revokes
//! ([`super::revocations`]).
//!
//! A session ends at the first of: `gateway.session_lifetime` after sign-in (absolute),
//! `gateway.session_idle` after its last use (the cookie is signed again as it is used:
//! [`SessionKey::touch`]), its revocation, or its token's removal.
//!
//! CSRF: a signed-in form carries `HMAC(key, "csrf" | session id)`, bound to the session;
//! the sign-in form, before any session exists, uses a double-submit cookie (a random value
//! in a cookie and in the form, which must match).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::gateway::tokens::{GatewayToken, Role};

/// The session cookie's name over plain http (`docflow dev`); see [`CookieNames`].
pub const SESSION_COOKIE: &str = "docflow_session";
/// The sign-in form's double-submit cookie over plain http.
pub const SIGN_IN_CSRF_COOKIE: &str = "docflow_csrf";

/// The cookies' names: `__Host-` prefixed whenever docflow is served over https, so that
/// no other origin (a sibling host, a plain-http page of the same host) can set them: the
/// browser accepts a `__Host-` cookie only from a secure origin, for its own host, with
/// `Path=/` and no `Domain`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookieNames {
    pub session: &'static str,
    pub csrf: &'static str,
}

impl CookieNames {
    pub fn new(secure: bool) -> CookieNames {
        if secure {
            CookieNames { session: "__Host-docflow_session", csrf: "__Host-docflow_csrf" }
        } else {
            CookieNames { session: SESSION_COOKIE, csrf: SIGN_IN_CSRF_COOKIE }
        }
    }
}

/// How long sessions last (`gateway.session_idle`, `gateway.session_lifetime`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    /// Since the last use.
    pub idle: Duration,
    /// Since sign-in, whatever the use. The revocation bucket keeps ids this long.
    pub absolute: Duration,
}

impl Default for Lifetimes {
    fn default() -> Lifetimes {
        Lifetimes { idle: Duration::from_secs(30 * 60), absolute: Duration::from_secs(8 * 3600) }
    }
}

/// A used session is signed again (new "last used") at most this often: the idle
/// deadline is exact to within it.
pub const TOUCH_EVERY: Duration = Duration::from_secs(60);

/// The process's signing key. Debug shows nothing of it.
#[derive(Clone)]
pub struct SessionKey([u8; 32]);

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey(..)")
    }
}

/// Who a session speaks for. Today a configured token; OpenID Connect adds a person
/// (issuer, subject, display name) as a second variant, with the same id and lifetimes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A `[[gateway.tokens]]` entry, by its tag (never the token or its digest).
    Token { tag: String },
}

/// A verified session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Random, 128 bits, hex: what sign-out revokes.
    pub id: String,
    pub role: Role,
    pub by: Principal,
    /// Sign-in time, seconds since the epoch.
    pub issued: u64,
    /// Last use (as last signed), seconds since the epoch.
    pub seen: u64,
    /// The absolute end: `issued + lifetime`.
    pub expires: u64,
    /// The idle end: `seen + idle` (never past `expires`).
    pub idle_until: u64,
}

/// What a sign-in link (`docflow dev`'s) stands for, once its signature is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link<'t> {
    pub token: &'t GatewayToken,
    /// Single use: recorded as used in the revocation bucket.
    pub nonce: String,
    pub expires: u64,
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

    /// The token of `tokens` with `role` and `tag`, if still configured.
    fn configured<'t>(&self, tokens: &'t [GatewayToken], role: &Role, tag: &str) -> Option<&'t GatewayToken> {
        tokens.iter().find(|t| t.role == *role && bool::from(self.token_tag(t).as_bytes().ct_eq(tag.as_bytes())))
    }

    fn signed(&self, domain: &[u8], payload: String) -> String {
        let mac = hex::encode(self.mac(&[domain, payload.as_bytes()]));
        format!("{payload}.{mac}")
    }

    /// The payload of a value signed in `domain`, when the signature holds.
    fn payload<'v>(&self, domain: &[u8], value: &'v str) -> Option<&'v str> {
        let (payload, mac) = value.rsplit_once('.')?;
        let mac = hex::decode(mac).ok()?;
        bool::from(self.mac(&[domain, payload.as_bytes()]).as_slice().ct_eq(&mac)).then_some(payload)
    }

    /// The cookie value of a new session opened with `token` at `now`.
    pub fn open(&self, token: &GatewayToken, now: SystemTime) -> String {
        let id = hex::encode(rand::random::<[u8; 16]>());
        let now = unix(now);
        self.encode(&id, &token.role, &Principal::Token { tag: self.token_tag(token) }, now, now)
    }

    fn encode(&self, id: &str, role: &Role, by: &Principal, issued: u64, seen: u64) -> String {
        let Principal::Token { tag } = by;
        let payload = format!("v2.{id}.{issued}.{seen}.t.{}.{}.{tag}", role.name(), uploader_hex(role));
        self.signed(b"session", payload)
    }

    /// The session of a cookie value: `None` unless it is signed with this key, neither
    /// idle nor past its lifetime at `now`, and its token is still one of `tokens` with the
    /// same role. Revocation is the caller's ([`super::revocations`]).
    pub fn verify(
        &self,
        value: &str,
        tokens: &[GatewayToken],
        now: SystemTime,
        lifetimes: Lifetimes,
    ) -> Option<Session> {
        let payload = self.payload(b"session", value)?;
        let parts: Vec<&str> = payload.split('.').collect();
        let ["v2", id, issued, seen, "t", role, uploader, tag] = parts.as_slice() else { return None };
        let (issued, seen): (u64, u64) = (issued.parse().ok()?, seen.parse().ok()?);
        let expires = issued.saturating_add(lifetimes.absolute.as_secs());
        let idle_until = seen.saturating_add(lifetimes.idle.as_secs()).min(expires);
        let now = unix(now);
        if now >= idle_until || seen < issued {
            return None;
        }
        let role = role_of(role, uploader)?;
        self.configured(tokens, &role, tag)?;
        Some(Session {
            id: (*id).to_owned(),
            role,
            by: Principal::Token { tag: (*tag).to_owned() },
            issued,
            seen,
            expires,
            idle_until,
        })
    }

    /// The cookie value of `session` used at `now`, when its last use is older than
    /// [`TOUCH_EVERY`]: the same id and sign-in time, a later idle deadline.
    pub fn touch(&self, session: &Session, now: SystemTime) -> Option<String> {
        let now = unix(now);
        (now >= session.seen + TOUCH_EVERY.as_secs())
            .then(|| self.encode(&session.id, &session.role, &session.by, session.issued, now))
    }

    /// A single-use sign-in link's code for `token`, valid until `now + ttl` (`docflow
    /// dev` prints them). It holds no token; exchanging it needs the same key.
    pub fn link(&self, token: &GatewayToken, now: SystemTime, ttl: Duration) -> String {
        let nonce = hex::encode(rand::random::<[u8; 16]>());
        let expires = unix(now) + ttl.as_secs();
        let role = &token.role;
        let payload = format!("l1.{}.{}.{}.{expires}.{nonce}", role.name(), uploader_hex(role), self.token_tag(token));
        self.signed(b"link", payload)
    }

    /// The link of a code: `None` unless signed with this key, not expired, and its token
    /// still configured. Whether it was used already is the caller's.
    pub fn verify_link<'t>(&self, code: &str, tokens: &'t [GatewayToken], now: SystemTime) -> Option<Link<'t>> {
        let payload = self.payload(b"link", code)?;
        let parts: Vec<&str> = payload.split('.').collect();
        let ["l1", role, uploader, tag, expires, nonce] = parts.as_slice() else { return None };
        let expires: u64 = expires.parse().ok()?;
        if unix(now) >= expires {
            return None;
        }
        let token = self.configured(tokens, &role_of(role, uploader)?, tag)?;
        Some(Link { token, nonce: (*nonce).to_owned(), expires })
    }

    /// The CSRF token of `session`'s forms.
    pub fn csrf(&self, session: &Session) -> String {
        hex::encode(self.mac(&[b"csrf", session.id.as_bytes()]))
    }

    /// What lets `session` follow the document of upload `key` (role `uploads` reads no
    /// other): handed out with the upload's form.
    pub fn watch(&self, session: &Session, key: &str) -> String {
        hex::encode(self.mac(&[b"watch", session.id.as_bytes(), key.as_bytes()]))
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

fn uploader_hex(role: &Role) -> String {
    match role {
        Role::Uploader { uploader_id } => hex::encode(uploader_id.as_bytes()),
        _ => String::new(),
    }
}

fn role_of(role: &str, uploader: &str) -> Option<Role> {
    Some(match role {
        "evaluator" => Role::Evaluator,
        "uploads" => Role::Uploads,
        "admin" => Role::Admin,
        "uploader" => Role::Uploader { uploader_id: String::from_utf8(hex::decode(uploader).ok()?).ok()? },
        _ => return None,
    })
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

/// Seconds since the epoch.
pub fn unix(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Where the interface reads the time: the system's, or a test's (expiry is tested by
/// moving a clock, not by waiting).
#[derive(Clone)]
pub struct Clock(std::sync::Arc<dyn Fn() -> SystemTime + Send + Sync>);

impl Clock {
    pub fn system() -> Clock {
        Clock(std::sync::Arc::new(SystemTime::now))
    }

    /// A clock that reads `now` (tests move it).
    pub fn manual(now: std::sync::Arc<std::sync::Mutex<SystemTime>>) -> Clock {
        Clock(std::sync::Arc::new(move || *now.lock().expect("not poisoned")))
    }

    pub fn now(&self) -> SystemTime {
        (self.0)()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clock(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIFE: Lifetimes = Lifetimes { idle: Duration::from_secs(1800), absolute: Duration::from_secs(8 * 3600) };

    fn teacher() -> GatewayToken {
        GatewayToken::new("t", Role::Uploader { uploader_id: "teacher.42".into() })
    }

    #[test]
    fn a_session_round_trips_carries_an_id_and_holds_no_token() {
        let key = SessionKey::random();
        let token = teacher();
        let now = SystemTime::now();
        let cookie = key.open(&token, now);
        assert!(!cookie.contains(&token.sha256_hex()) && !cookie.contains(&token.sha256_hex()[..16]));
        let session = key.verify(&cookie, std::slice::from_ref(&token), now, LIFE).unwrap();
        assert_eq!(session.role, token.role);
        assert_eq!(session.id.len(), 32);
        assert_eq!(session.expires, unix(now) + LIFE.absolute.as_secs());
        assert!(key.csrf_ok(&session, &key.csrf(&session)));
        assert!(!key.csrf_ok(&session, ""));
        let other = key.verify(&key.open(&token, now), std::slice::from_ref(&token), now, LIFE).unwrap();
        assert_ne!(session.id, other.id, "every sign-in has an id of its own");
    }

    #[test]
    fn tampered_idle_expired_foreign_and_revoked_token_sessions_are_refused() {
        let key = SessionKey::random();
        let token = teacher();
        let tokens = std::slice::from_ref(&token);
        let now = SystemTime::now();
        let cookie = key.open(&token, now);
        assert!(key.verify(&cookie, tokens, now + LIFE.idle, LIFE).is_none(), "idle");
        assert!(key.verify(&cookie, tokens, now + LIFE.idle - Duration::from_secs(1), LIFE).is_some());
        assert!(SessionKey::random().verify(&cookie, tokens, now, LIFE).is_none(), "another key");
        assert!(
            key.verify(&cookie, &[GatewayToken::new("other", token.role.clone())], now, LIFE).is_none(),
            "token gone"
        );
        let forged = cookie.replacen("uploader", "evaluator", 1);
        assert!(key.verify(&forged, tokens, now, LIFE).is_none(), "tampered");
        assert!(key.verify("", tokens, now, LIFE).is_none());
        assert!(key.verify("v2.x.1.1.t.evaluator...", tokens, now, LIFE).is_none());
    }

    #[test]
    fn use_moves_the_idle_deadline_but_never_the_absolute_one() {
        let key = SessionKey::random();
        let token = teacher();
        let tokens = std::slice::from_ref(&token);
        let start = SystemTime::now();
        let mut cookie = key.open(&token, start);
        let session = key.verify(&cookie, tokens, start, LIFE).unwrap();
        assert_eq!(key.touch(&session, start + Duration::from_secs(5)), None, "not signed again at every request");
        // Used every 20 minutes: alive past the idle time, until the lifetime.
        let mut at = start;
        loop {
            at += Duration::from_secs(20 * 60);
            let Some(session) = key.verify(&cookie, tokens, at, LIFE) else { break };
            assert_eq!(session.issued, unix(start));
            cookie = key.touch(&session, at).expect("older than a minute");
        }
        let ended = at.duration_since(start).unwrap();
        assert!(ended >= LIFE.absolute && ended < LIFE.absolute + Duration::from_secs(20 * 60), "{ended:?}");
    }

    #[test]
    fn gateways_with_the_same_secret_share_sessions_and_others_do_not() {
        let token = teacher();
        let now = SystemTime::now();
        let secret = "a shared secret of more than thirty-two bytes";
        let cookie = SessionKey::from_secret(secret).open(&token, now);
        let tokens = std::slice::from_ref(&token);
        assert!(SessionKey::from_secret(secret).verify(&cookie, tokens, now, LIFE).is_some());
        assert!(
            SessionKey::from_secret("another secret of more than thirty-two")
                .verify(&cookie, tokens, now, LIFE)
                .is_none()
        );
        assert!(SessionKey::random().verify(&cookie, tokens, now, LIFE).is_none());
    }

    #[test]
    fn a_link_names_its_token_without_holding_it_and_expires() {
        let key = SessionKey::from_secret("a shared secret of more than thirty-two bytes");
        let token = teacher();
        let tokens = std::slice::from_ref(&token);
        let now = SystemTime::now();
        let code = key.link(&token, now, Duration::from_secs(60));
        assert!(!code.contains(&token.sha256_hex()[..16]), "no digest of the token");
        let link = key.verify_link(&code, tokens, now).unwrap();
        assert_eq!(link.token, &token);
        assert!(key.verify_link(&code, tokens, now + Duration::from_secs(60)).is_none(), "expired");
        assert!(SessionKey::random().verify_link(&code, tokens, now).is_none(), "another key");
        assert!(key.verify_link(&code.replacen("uploader", "evaluator", 1), tokens, now).is_none(), "tampered");
        assert!(key.verify(&code, tokens, now, LIFE).is_none(), "a link is no session");
        assert_ne!(key.link(&token, now, Duration::from_secs(60)), code, "a nonce each");
    }

    #[test]
    fn the_double_submit_check_needs_both_equal_and_present() {
        assert!(double_submit_ok(Some("abc"), "abc"));
        assert!(!double_submit_ok(Some("abc"), "abd"));
        assert!(!double_submit_ok(None, ""));
        assert!(!double_submit_ok(Some(""), ""));
    }

    #[test]
    fn cookie_names_are_host_prefixed_over_https_only() {
        assert_eq!(CookieNames::new(true).session, "__Host-docflow_session");
        assert_eq!(CookieNames::new(true).csrf, "__Host-docflow_csrf");
        assert_eq!(CookieNames::new(false).session, "docflow_session");
    }
}

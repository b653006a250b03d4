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

use crate::ids::UploaderId;
use crate::settings::tokens::{GatewayToken, Role};

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
    /// An OpenID sign-in under way: its `state`, `nonce` and PKCE verifier (`oidc.rs`).
    pub oidc_flow: &'static str,
    /// An OpenID sign-in checked, its session not yet opened (`oidc.rs`).
    pub oidc_done: &'static str,
}

impl CookieNames {
    pub fn new(secure: bool) -> CookieNames {
        if secure {
            CookieNames {
                session: "__Host-docflow_session",
                csrf: "__Host-docflow_csrf",
                oidc_flow: "__Host-docflow_oidc",
                oidc_done: "__Host-docflow_oidc_done",
            }
        } else {
            CookieNames {
                session: SESSION_COOKIE,
                csrf: SIGN_IN_CSRF_COOKIE,
                oidc_flow: "docflow_oidc",
                oidc_done: "docflow_oidc_done",
            }
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

/// Who a session speaks for: a configured token, or a person signed in through the
/// OpenID provider (`oidc.rs`), with the same id and lifetimes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A `[[gateway.tokens]]` entry, by its tag (never the token or its digest).
    Token { tag: String },
    /// A person: the provider by a keyed tag of its issuer and client id (a session of a
    /// provider no longer configured is refused), their `sub`, name and e-mail address.
    Person { issuer_tag: String, subject: String, name: String, email: Option<String> },
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

impl Session {
    /// Who is signed in, for people to read: a person's name; for a token, its role
    /// ("evaluator (token)", "uploading app (token)") or a teacher's uploader id.
    pub fn display_name(&self) -> String {
        match (&self.by, &self.role) {
            (Principal::Person { name, .. }, _) => name.clone(),
            (Principal::Token { .. }, Role::Evaluator) => "evaluator (token)".to_owned(),
            (Principal::Token { .. }, Role::Uploads) => "uploading app (token)".to_owned(),
            (Principal::Token { .. }, Role::Admin) => "operator (token)".to_owned(),
            (Principal::Token { .. }, Role::Uploader { uploader_id }) => uploader_id.to_string(),
        }
    }

    /// The person's e-mail address from the provider's claims (none for a token).
    pub fn email(&self) -> Option<&str> {
        match &self.by {
            Principal::Person { email, .. } => email.as_deref(),
            Principal::Token { .. } => None,
        }
    }
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

    pub(super) fn signed(&self, domain: &[u8], payload: String) -> String {
        let mac = hex::encode(self.mac(&[domain, payload.as_bytes()]));
        format!("{payload}.{mac}")
    }

    /// The payload of a value signed in `domain`, when the signature holds.
    pub(super) fn payload<'v>(&self, domain: &[u8], value: &'v str) -> Option<&'v str> {
        let (payload, mac) = value.rsplit_once('.')?;
        let mac = hex::decode(mac).ok()?;
        bool::from(self.mac(&[domain, payload.as_bytes()]).as_slice().ct_eq(&mac)).then_some(payload)
    }

    /// The cookie value of a new session opened with `token` at `now`.
    pub fn open(&self, token: &GatewayToken, now: SystemTime) -> String {
        self.open_as(&token.role, &Principal::Token { tag: self.token_tag(token) }, now).1
    }

    /// A new session of `by` with `role` at `now`: its id and its cookie value.
    pub fn open_as(&self, role: &Role, by: &Principal, now: SystemTime) -> (String, String) {
        let id = new_id();
        let value = self.open_id(&id, role, by, now);
        (id, value)
    }

    /// The cookie value of a new session whose id was drawn before ([`new_id`]): an
    /// OpenID sign-in keeps its ID token under the id before the session opens.
    pub fn open_id(&self, id: &str, role: &Role, by: &Principal, now: SystemTime) -> String {
        let now = unix(now);
        self.encode(id, role, by, now, now)
    }

    /// The tag of an OpenID provider's sessions: it changes with the issuer or the client
    /// id, which ends the sessions opened through the previous one.
    pub fn issuer_tag(&self, issuer: &str, client_id: &str) -> String {
        hex::encode(&self.mac(&[b"issuer", issuer.as_bytes(), client_id.as_bytes()])[..12])
    }

    fn encode(&self, id: &str, role: &Role, by: &Principal, issued: u64, seen: u64) -> String {
        let (role, uploader) = (role.name(), uploader_hex(role));
        let payload = match by {
            Principal::Token { tag } => format!("v2.{id}.{issued}.{seen}.t.{role}.{uploader}.{tag}"),
            Principal::Person { issuer_tag, subject, name, email } => {
                let (subject, name) = (hex::encode(subject), hex::encode(name));
                let email = email.as_deref().map(hex::encode).unwrap_or_default();
                format!("v2.{id}.{issued}.{seen}.p.{role}.{uploader}.{issuer_tag}.{subject}.{name}.{email}")
            }
        };
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
        self.verify_with(value, tokens, None, now, lifetimes)
    }

    /// [`SessionKey::verify`], also accepting the people of the OpenID provider of
    /// `issuer_tag` ([`SessionKey::issuer_tag`]; `None`: no provider configured).
    pub fn verify_with(
        &self,
        value: &str,
        tokens: &[GatewayToken],
        issuer_tag: Option<&str>,
        now: SystemTime,
        lifetimes: Lifetimes,
    ) -> Option<Session> {
        let payload = self.payload(b"session", value)?;
        let parts: Vec<&str> = payload.split('.').collect();
        let ["v2", id, issued, seen, kind, role, uploader, rest @ ..] = parts.as_slice() else { return None };
        let (issued, seen): (u64, u64) = (issued.parse().ok()?, seen.parse().ok()?);
        let expires = issued.saturating_add(lifetimes.absolute.as_secs());
        let idle_until = seen.saturating_add(lifetimes.idle.as_secs()).min(expires);
        let now = unix(now);
        if now >= idle_until || seen < issued {
            return None;
        }
        let role = role_of(role, uploader)?;
        let by = match (*kind, rest) {
            ("t", [tag]) => {
                self.configured(tokens, &role, tag)?;
                Principal::Token { tag: (*tag).to_owned() }
            }
            ("p", [tag, subject, name, email]) => {
                let current = issuer_tag?;
                if !bool::from(current.as_bytes().ct_eq(tag.as_bytes())) {
                    return None;
                }
                let email = if email.is_empty() { None } else { Some(unhex(email)?) };
                Principal::Person { issuer_tag: (*tag).to_owned(), subject: unhex(subject)?, name: unhex(name)?, email }
            }
            _ => return None,
        };
        Some(Session { id: (*id).to_owned(), role, by, issued, seen, expires, idle_until })
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

/// A new session id: 128 random bits, hex.
pub fn new_id() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

pub(super) fn uploader_hex(role: &Role) -> String {
    match role {
        Role::Uploader { uploader_id } => hex::encode(uploader_id.as_str()),
        _ => String::new(),
    }
}

fn unhex(text: &str) -> Option<String> {
    String::from_utf8(hex::decode(text).ok()?).ok()
}

pub(super) fn role_of(role: &str, uploader: &str) -> Option<Role> {
    Some(match role {
        "evaluator" => Role::Evaluator,
        "uploads" => Role::Uploads,
        "admin" => Role::Admin,
        "uploader" => Role::Uploader { uploader_id: UploaderId::from(unhex(uploader)?) },
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

// Tests: `session/tests.rs` (`keys`: this file's; the rest: through the router).
#[cfg(test)]
mod tests;

//! The `Docflow-Signature` header of callbacks (docs/provider-protocol.md, section 3):
//! `t={unix seconds},v1={hex HMAC-SHA256}` with the MAC over `"{t}." + raw body`. Several
//! `v1=` entries may appear while a secret is rotated; one valid entry suffices. The
//! provider side signs (the simulator), the callback gateway verifies.

use std::time::Duration;

use hmac::{Hmac, Mac};
use secrecy::ExposeSecret;
use sha2::Sha256;

use crate::settings::Secrets;

/// The header's name.
pub const HEADER: &str = "Docflow-Signature";

/// How far `t` may be from now, either way, before a signature is refused.
pub const TOLERANCE: Duration = Duration::from_secs(300);

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("signature header is malformed: {0}")]
    Malformed(&'static str),
    #[error("signature timestamp {t} is more than {tolerance_secs} s from now ({now})")]
    Stale { t: i64, now: i64, tolerance_secs: u64 },
    #[error("no signature matches any configured callback secret")]
    Mismatch,
}

/// A parsed `Docflow-Signature` header: its timestamp and the MACs it offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub t: i64,
    macs: Vec<Vec<u8>>,
}

impl Signature {
    /// Parses `t=..,v1=..[,v1=..]`. Unknown schemes (e.g. `v0=`) are ignored, as are `v1=`
    /// entries that are not hex: they can match nothing. At least one `v1` is required.
    pub fn parse(header: &str) -> Result<Signature, SignatureError> {
        let mut t = None;
        let mut macs = Vec::new();
        let mut saw_v1 = false;
        for item in header.split(',') {
            let Some((key, value)) = item.trim().split_once('=') else {
                return Err(SignatureError::Malformed("an entry is not key=value"));
            };
            match key.trim() {
                "t" => {
                    if t.is_some() {
                        return Err(SignatureError::Malformed("more than one t="));
                    }
                    t = Some(
                        value.trim().parse::<i64>().map_err(|_| SignatureError::Malformed("t= is not unix seconds"))?,
                    );
                }
                "v1" => {
                    saw_v1 = true;
                    if let Ok(mac) = hex::decode(value.trim()) {
                        macs.push(mac);
                    }
                }
                _ => {}
            }
        }
        let t = t.ok_or(SignatureError::Malformed("no t="))?;
        if !saw_v1 {
            return Err(SignatureError::Malformed("no v1="));
        }
        Ok(Signature { t, macs })
    }

    /// Checks the timestamp against `now` (unix seconds) first, then each MAC against each
    /// secret in constant time.
    pub fn verify(&self, body: &[u8], secrets: &[&[u8]], now: i64, tolerance: Duration) -> Result<(), SignatureError> {
        let tolerance_secs = tolerance.as_secs();
        if self.t.abs_diff(now) > tolerance_secs {
            return Err(SignatureError::Stale { t: self.t, now, tolerance_secs });
        }
        for secret in secrets {
            let mac = mac(secret, self.t, body);
            if self.macs.iter().any(|offered| mac.clone().verify_slice(offered).is_ok()) {
                return Ok(());
            }
        }
        Err(SignatureError::Mismatch)
    }
}

fn mac(secret: &[u8], t: i64, body: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The header value for one secret: `t={t},v1={hex}`.
pub fn sign(secret: &[u8], t: i64, body: &[u8]) -> String {
    sign_all(&[secret], t, body)
}

/// The header value with one `v1=` entry per secret (during a rotation).
pub fn sign_all(secrets: &[&[u8]], t: i64, body: &[u8]) -> String {
    let mut header = format!("t={t}");
    for secret in secrets {
        header.push_str(",v1=");
        header.push_str(&hex::encode(mac(secret, t, body).finalize().into_bytes()));
    }
    header
}

/// Parses `header` and verifies it against raw secret bytes.
pub fn verify(
    header: &str,
    body: &[u8],
    secrets: &[&[u8]],
    now: i64,
    tolerance: Duration,
) -> Result<(), SignatureError> {
    Signature::parse(header)?.verify(body, secrets, now, tolerance)
}

/// [`verify`] against a provider's configured `callback_secret` (one or a rotation list).
pub fn verify_secrets(
    header: &str,
    body: &[u8],
    secrets: &Secrets,
    now: i64,
    tolerance: Duration,
) -> Result<(), SignatureError> {
    let all = secrets.all();
    let keys: Vec<&[u8]> = all.iter().map(|s| s.expose_secret().as_bytes()).collect();
    verify(header, body, &keys, now, tolerance)
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    const BODY: &[u8] = br#"{"event_id":"evt_1"}"#;

    #[test]
    fn a_signature_verifies_with_its_secret() {
        let header = sign(b"s3cret", 1_700_000_000, BODY);
        assert!(header.starts_with("t=1700000000,v1="));
        assert_eq!(verify(&header, BODY, &[b"s3cret"], 1_700_000_000, TOLERANCE), Ok(()));
    }

    #[test]
    fn the_mac_is_hmac_sha256_over_t_dot_body() {
        // python3 -c "import hmac,hashlib;print(hmac.new(b'k',b'1.x',hashlib.sha256).hexdigest())"
        assert_eq!(sign(b"k", 1, b"x"), "t=1,v1=976cb87e4f568d1c0f03f32859e90af8597cf00b978ba37c229c97d3a15b8449");
    }

    #[test]
    fn a_changed_body_or_wrong_secret_is_a_mismatch() {
        let header = sign(b"s3cret", 100, BODY);
        assert_eq!(verify(&header, b"{}", &[b"s3cret"], 100, TOLERANCE), Err(SignatureError::Mismatch));
        assert_eq!(verify(&header, BODY, &[b"other"], 100, TOLERANCE), Err(SignatureError::Mismatch));
    }

    #[test]
    fn a_timestamp_more_than_300_seconds_away_is_stale_either_way() {
        let header = sign(b"k", 1_000, BODY);
        assert!(verify(&header, BODY, &[b"k"], 1_300, TOLERANCE).is_ok());
        assert!(verify(&header, BODY, &[b"k"], 700, TOLERANCE).is_ok());
        assert!(matches!(verify(&header, BODY, &[b"k"], 1_301, TOLERANCE), Err(SignatureError::Stale { .. })));
        assert!(matches!(verify(&header, BODY, &[b"k"], 699, TOLERANCE), Err(SignatureError::Stale { .. })));
    }

    #[test]
    fn one_valid_entry_of_several_suffices_during_a_rotation() {
        let header = sign_all(&[b"old", b"new"], 5, BODY);
        assert_eq!(header.matches("v1=").count(), 2);
        assert!(verify(&header, BODY, &[b"new"], 5, TOLERANCE).is_ok());
        assert!(verify(&header, BODY, &[b"old"], 5, TOLERANCE).is_ok());
        // The receiver may hold several secrets too.
        let header = sign(b"new", 5, BODY);
        assert!(verify(&header, BODY, &[b"old", b"new"], 5, TOLERANCE).is_ok());
        // Garbage and unknown schemes beside a valid entry do no harm.
        let header = format!("{},v1=zz,v0=abc", sign(b"new", 5, BODY));
        assert!(verify(&header, BODY, &[b"new"], 5, TOLERANCE).is_ok());
    }

    #[test]
    fn malformed_headers_are_refused() {
        for header in ["", "t=1", "v1=00", "t=x,v1=00", "t=1,t=2,v1=00", "t=1;v1=00", "garbage"] {
            assert!(
                matches!(verify(header, BODY, &[b"k"], 1, TOLERANCE), Err(SignatureError::Malformed(_))),
                "{header:?}"
            );
        }
    }

    #[test]
    fn configured_secrets_verify_one_or_a_list() {
        let header = sign(b"b", 9, BODY);
        let one = Secrets::One(SecretString::from("b"));
        let many = Secrets::Many(vec![SecretString::from("a"), SecretString::from("b")]);
        assert!(verify_secrets(&header, BODY, &one, 9, TOLERANCE).is_ok());
        assert!(verify_secrets(&header, BODY, &many, 9, TOLERANCE).is_ok());
        assert_eq!(verify_secrets(&header, BODY, &Secrets::Many(vec![]), 9, TOLERANCE), Err(SignatureError::Mismatch));
    }
}

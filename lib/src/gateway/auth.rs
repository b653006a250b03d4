//! Bearer tokens, compared in constant time.

use axum::http::{HeaderMap, StatusCode, header};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::ApiError;

/// The token of an `Authorization: Bearer ...` header, if there is one.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// True when `presented` equals one of `accepted`. Digests are compared rather than the
/// tokens themselves so that neither the content nor the length of a token leaks through
/// timing; every accepted token is compared.
pub fn token_matches(presented: &str, accepted: &[&SecretString]) -> bool {
    let presented = Sha256::digest(presented.as_bytes());
    let mut found = subtle::Choice::from(0);
    for token in accepted {
        let token = token.expose_secret();
        if token.is_empty() {
            continue;
        }
        found |= Sha256::digest(token.as_bytes()).ct_eq(&presented);
    }
    found.into()
}

/// 401 unless the request carries one of `accepted` as its bearer token. An empty list
/// accepts nobody.
pub fn require_bearer(headers: &HeaderMap, accepted: &[&SecretString]) -> Result<(), ApiError> {
    let ok = bearer(headers).is_some_and(|token| token_matches(token, accepted));
    if ok {
        Ok(())
    } else {
        let mut error = ApiError::new(StatusCode::UNAUTHORIZED, "missing or wrong bearer token")
            .detail("send `Authorization: Bearer <token>` with a token from the gateway's configuration");
        error.bearer_challenge = true;
        Err(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_match_only_exactly_and_empty_tokens_never_match() {
        let a = SecretString::from("alpha");
        let empty = SecretString::from("");
        assert!(token_matches("alpha", &[&empty, &a]));
        assert!(!token_matches("alph", &[&a]));
        assert!(!token_matches("", &[&empty]));
        assert!(!token_matches("alpha", &[]));
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, "bearer  tok ".parse().unwrap());
        assert_eq!(bearer(&headers), Some("tok"));
        headers.insert(header::AUTHORIZATION, "Basic tok".parse().unwrap());
        assert_eq!(bearer(&headers), None);
    }
}

//! Bearer tokens, compared in constant time, and the roles of `[[gateway.tokens]]`:
//! 401 for a missing or unknown token, 403 for a known token whose role does not allow
//! the request (interfaces.md, "HTTP").

use axum::http::{HeaderMap, StatusCode, header};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::{ConditionallySelectable, ConstantTimeEq};

use super::ApiError;
use crate::ids::UploaderId;
use crate::settings::tokens::{GatewayToken, Role};

/// What a request wants to do, as far as tokens are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access<'a> {
    /// `GET /v1/documents*`.
    Evaluate,
    /// `POST /v1/uploads` for this uploader; `None` before the body is read (the role can
    /// upload for someone).
    Upload(Option<&'a UploaderId>),
}

impl Role {
    /// True when a token of this role may make a request of `access`.
    pub fn allows(&self, access: Access<'_>) -> bool {
        match (self, access) {
            (Role::Evaluator, Access::Evaluate) => true,
            (Role::Uploads, Access::Upload(_)) => true,
            (Role::Uploader { .. }, Access::Upload(None)) => true,
            (Role::Uploader { uploader_id }, Access::Upload(Some(wanted))) => uploader_id == wanted,
            _ => false,
        }
    }

    /// What this role may do, for a 403's detail.
    fn may(&self) -> String {
        match self {
            Role::Evaluator => "GET /v1/documents and GET /v1/documents/{id}".to_owned(),
            Role::Uploads => "POST /v1/uploads".to_owned(),
            Role::Uploader { uploader_id } => format!("POST /v1/uploads with uploader_id {uploader_id:?}"),
            Role::Admin => "no API route: the web interface's pipeline page, /ui/pipeline".to_owned(),
        }
    }
}

/// The configured token the request's bearer token is, or 401. Every configured digest
/// is compared, in constant time, so timing reveals neither which token matched nor how
/// much of one did.
pub fn authenticate<'t>(headers: &HeaderMap, tokens: &'t [GatewayToken]) -> Result<&'t GatewayToken, ApiError> {
    if tokens.is_empty() {
        let mut error = ApiError::new(StatusCode::UNAUTHORIZED, "no bearer tokens configured").detail(
            "this route refuses every request until an operator adds [[gateway.tokens]] tables (or \
             DOCFLOW__GATEWAY__TOKENS) with a role",
        );
        error.bearer_challenge = true;
        return Err(error);
    }
    let Some(presented) = bearer(headers) else { return Err(unauthorized()) };
    find_token(presented, tokens).ok_or_else(unauthorized)
}

/// The configured token `presented` is, if any (also the web interface's sign-in). Every
/// configured digest is compared, in constant time.
pub fn find_token<'t>(presented: &str, tokens: &'t [GatewayToken]) -> Option<&'t GatewayToken> {
    let presented: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
    let mut found = subtle::Choice::from(0);
    let mut index = 0u32;
    for (i, token) in tokens.iter().enumerate() {
        let equal = token.digest().ct_eq(&presented);
        index.conditional_assign(&(i as u32), equal);
        found |= equal;
    }
    bool::from(found).then(|| &tokens[index as usize])
}

/// [`authenticate`], then 403 unless the token's role allows `access`.
pub fn authorize<'t>(
    headers: &HeaderMap,
    tokens: &'t [GatewayToken],
    access: Access<'_>,
) -> Result<&'t GatewayToken, ApiError> {
    let token = authenticate(headers, tokens)?;
    check(&token.role, access)?;
    Ok(token)
}

/// 403 unless `role` allows `access`.
pub fn check(role: &Role, access: Access<'_>) -> Result<(), ApiError> {
    if role.allows(access) {
        return Ok(());
    }
    Err(ApiError::new(StatusCode::FORBIDDEN, "this token's role does not allow the request")
        .detail(json!({"role": role.name(), "may": role.may()})))
}

fn unauthorized() -> ApiError {
    let mut error = ApiError::new(StatusCode::UNAUTHORIZED, "missing or wrong bearer token")
        .detail("send `Authorization: Bearer <token>` with a token from the gateway's configuration");
    error.bearer_challenge = true;
    error
}

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
    if ok { Ok(()) } else { Err(unauthorized()) }
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

    fn headers_with(token: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, format!("Bearer {token}").parse().unwrap());
        headers
    }

    #[test]
    fn each_role_allows_its_own_requests_only() {
        let teacher = Role::Uploader { uploader_id: "teacher-42".into() };
        let ids = ["teacher-42", "anyone", "teacher-4", "someone-else"].map(UploaderId::from);
        let [teacher_42, anyone, teacher_4, someone_else] = &ids;
        let table = [
            (Role::Evaluator, Access::Evaluate, true),
            (Role::Evaluator, Access::Upload(None), false),
            (Role::Evaluator, Access::Upload(Some(teacher_42)), false),
            (Role::Uploads, Access::Evaluate, false),
            (Role::Uploads, Access::Upload(Some(anyone)), true),
            (teacher.clone(), Access::Evaluate, false),
            (teacher.clone(), Access::Upload(None), true),
            (teacher.clone(), Access::Upload(Some(teacher_42)), true),
            (teacher.clone(), Access::Upload(Some(teacher_4)), false),
            (teacher, Access::Upload(Some(someone_else)), false),
        ];
        for (role, access, allowed) in table {
            assert_eq!(role.allows(access), allowed, "{role:?} {access:?}");
        }
    }

    #[test]
    fn unknown_tokens_are_401_and_known_tokens_of_another_role_403() {
        let tokens = [
            GatewayToken::new("eval", Role::Evaluator),
            GatewayToken::from_sha256(&crate::settings::tokens::sha256_hex("app"), Role::Uploads).unwrap(),
        ];
        assert_eq!(authenticate(&headers_with("eval"), &tokens).unwrap().role, Role::Evaluator);
        assert_eq!(authenticate(&headers_with("app"), &tokens).unwrap().role, Role::Uploads);
        assert_eq!(authenticate(&headers_with("nope"), &tokens).unwrap_err().status, StatusCode::UNAUTHORIZED);
        assert_eq!(authenticate(&HeaderMap::new(), &tokens).unwrap_err().status, StatusCode::UNAUTHORIZED);
        assert_eq!(authenticate(&headers_with("eval"), &[]).unwrap_err().status, StatusCode::UNAUTHORIZED);
        let refused = authorize(&headers_with("app"), &tokens, Access::Evaluate).unwrap_err();
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert_eq!(refused.detail["role"], "uploads");
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

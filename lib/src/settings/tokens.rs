//! `[[gateway.tokens]]`: the bearer tokens of the uploads route and the evaluator API,
//! each with exactly one role (interfaces.md, "Configuration"):
//! - `evaluator`: `GET /v1/documents*`;
//! - `uploads`: `POST /v1/uploads` for any `uploader_id` (an uploading app);
//! - `uploader`: `POST /v1/uploads` for its own `uploader_id` only (one teacher).
//!
//! A token is given as `token` or as `token_sha256` (the hex SHA-256 of the token, so a
//! configuration file need not hold the token itself). Either way only the digest is kept
//! in memory; requests are matched by digest in constant time (`crate::gateway::auth`).

use std::collections::HashSet;

use config::{Config, File, FileFormat, FileSourceString};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::SettingsError;
use crate::ids::UploaderId;

/// The environment variable of the token list: a TOML array of inline tables.
pub const ENV_VAR: &str = "DOCFLOW__GATEWAY__TOKENS";

/// How to write tokens now; part of every error about the old form.
const NEW_FORM: &str = "write one table per token with its role: `[[gateway.tokens]]` `token = \"...\"` (or \
     `token_sha256 = \"<hex SHA-256 of the token>\"`) `role = \"evaluator\"` (GET /v1/documents*), `role = \"uploads\"` \
     (POST /v1/uploads for any uploader), `role = \"uploader\"` with `uploader_id = \"...\"` (POST /v1/uploads for \
     that uploader only) or `role = \"admin\"` (the web interface's pipeline page); in the environment: DOCFLOW__GATEWAY__TOKENS='[{token = \"...\", role = \"evaluator\"}]'";

/// Longest `uploader_id`, as `POST /v1/uploads` accepts it.
pub const MAX_UPLOADER_ID: usize = 128;

/// What a token may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// `GET /v1/documents*`.
    Evaluator,
    /// `POST /v1/uploads` for any uploader.
    Uploads,
    /// `POST /v1/uploads` for this uploader only.
    Uploader { uploader_id: UploaderId },
    /// An operator: the web interface's pipeline overview (`/ui/pipeline`); no API route.
    Admin,
}

impl Role {
    pub fn name(&self) -> &'static str {
        match self {
            Role::Evaluator => "evaluator",
            Role::Uploads => "uploads",
            Role::Uploader { .. } => "uploader",
            Role::Admin => "admin",
        }
    }
}

/// One configured token: its SHA-256 and its role. The token itself is not kept.
#[derive(Clone, PartialEq, Eq)]
pub struct GatewayToken {
    digest: [u8; 32],
    pub role: Role,
}

impl std::fmt::Debug for GatewayToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayToken").field("role", &self.role).finish_non_exhaustive()
    }
}

impl GatewayToken {
    pub fn new(token: &str, role: Role) -> GatewayToken {
        GatewayToken { digest: digest(token), role }
    }

    /// The token's SHA-256 in hex, as `token_sha256` takes it (the token itself is not kept).
    pub fn sha256_hex(&self) -> String {
        hex::encode(self.digest)
    }

    /// From the hex SHA-256 of a token; `None` unless it is 64 hex digits.
    pub fn from_sha256(hex: &str, role: Role) -> Option<GatewayToken> {
        let hex = hex.trim();
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut digest = [0u8; 32];
        for (i, byte) in digest.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(GatewayToken { digest, role })
    }

    pub fn digest(&self) -> &[u8; 32] {
        &self.digest
    }
}

/// The SHA-256 of a token.
pub fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Lowercase hex of `digest(token)`: what to write as `token_sha256`.
pub fn sha256_hex(token: &str) -> String {
    digest(token).iter().map(|b| format!("{b:02x}")).collect()
}

/// `gateway.tokens` as written (a list of tables), checked entry by entry. The old list
/// of bare strings is refused with a message saying how to write the new form.
pub fn deserialize<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<GatewayToken>, D::Error> {
    let value = Value::deserialize(deserializer)?;
    parse(&value).map_err(serde::de::Error::custom)
}

/// [`deserialize`]'s checks, on any JSON-shaped value. The error never holds a token.
pub fn parse(value: &Value) -> Result<Vec<GatewayToken>, String> {
    let entries = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Array(entries) => entries,
        Value::String(_) => return Err(format!("`gateway.tokens`: {}", old_form())),
        _ => return Err(format!("`gateway.tokens`: expected a list of tables; {NEW_FORM}")),
    };
    let mut tokens = Vec::with_capacity(entries.len());
    let mut seen = HashSet::new();
    for (i, entry) in entries.iter().enumerate() {
        let token = parse_entry(i, entry)?;
        if !seen.insert(token.digest) {
            return Err(format!(
                "`gateway.tokens[{i}]`: the same token is configured twice; give each token one table and one role"
            ));
        }
        tokens.push(token);
    }
    Ok(tokens)
}

/// The old form's error, without the key (the caller names it).
fn old_form() -> String {
    format!("the list of bare tokens (`tokens = [\"...\"]`) is no longer read; {NEW_FORM}")
}

fn parse_entry(i: usize, entry: &Value) -> Result<GatewayToken, String> {
    let key = |field: &str| format!("`gateway.tokens[{i}].{field}`");
    let table = match entry {
        Value::Object(table) => table,
        Value::String(_) => return Err(format!("`gateway.tokens`: {}", old_form())),
        _ => return Err(format!("`gateway.tokens[{i}]`: expected a table; {NEW_FORM}")),
    };
    for field in table.keys() {
        if !matches!(field.as_str(), "token" | "token_sha256" | "role" | "uploader_id") {
            let field: String = field.chars().filter(|c| !c.is_control()).take(40).collect();
            return Err(format!(
                "{}: unknown key; a token table has `token` or `token_sha256`, `role`, and `uploader_id` for role \
                 `uploader` (one role per token)",
                key(&field)
            ));
        }
    }
    let text = |field: &str| -> Result<Option<&str>, String> {
        match table.get(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(format!("{}: expected a string", key(field))),
        }
    };
    let role = match (text("role")?, text("uploader_id")?) {
        (Some("evaluator"), None) => Role::Evaluator,
        (Some("uploads"), None) => Role::Uploads,
        (Some("admin"), None) => Role::Admin,
        (Some("uploader"), Some(id)) => {
            if !uploader_id_ok(id) {
                return Err(format!(
                    "{}: 1 to {MAX_UPLOADER_ID} characters, no `/`, `\\` or control characters, not `.` or `..`",
                    key("uploader_id")
                ));
            }
            Role::Uploader { uploader_id: UploaderId::from(id) }
        }
        (Some("uploader"), None) => {
            return Err(format!("{}: role `uploader` needs the uploader it may upload for", key("uploader_id")));
        }
        (Some("evaluator" | "uploads" | "admin"), Some(_)) => {
            return Err(format!("{}: only role `uploader` takes an uploader_id", key("uploader_id")));
        }
        (Some(_), _) => return Err(format!("{}: one of `evaluator`, `uploads`, `uploader` or `admin`", key("role"))),
        (None, _) => {
            return Err(format!(
                "{}: missing; each token has exactly one role: `evaluator`, `uploads`, `uploader` or `admin`",
                key("role")
            ));
        }
    };
    match (text("token")?, text("token_sha256")?) {
        (Some(token), None) => {
            if token.is_empty() || token.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(format!("{}: a non-empty token without spaces or control characters", key("token")));
            }
            Ok(GatewayToken::new(token, role))
        }
        (None, Some(hex)) => GatewayToken::from_sha256(hex, role)
            .ok_or_else(|| format!("{}: the token's SHA-256 as 64 hex digits", key("token_sha256"))),
        (Some(_), Some(_)) => Err(format!("`gateway.tokens[{i}]`: give `token` or `token_sha256`, not both")),
        (None, None) => {
            Err(format!("`gateway.tokens[{i}]`: missing `token` (or `token_sha256`, the hex SHA-256 of the token)"))
        }
    }
}

/// The rules of an uploader id (a key's first segment, as `POST /v1/uploads` makes keys).
pub fn uploader_id_ok(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_UPLOADER_ID
        && id != "."
        && id != ".."
        && !id.contains(['/', '\\'])
        && !id.chars().any(char::is_control)
}

/// `DOCFLOW__GATEWAY__TOKENS` as a settings source: its value is a TOML array of inline
/// tables (`[{token = "...", role = "evaluator"}]`); empty means no token. The old form (a
/// bare, comma-separated list) is refused. Errors never repeat the value: it holds tokens.
pub fn env_source(value: &str) -> Result<File<FileSourceString, FileFormat>, SettingsError> {
    let value = value.trim();
    let value = if value.is_empty() { "[]" } else { value };
    if !value.starts_with('[') {
        return Err(SettingsError::Invalid { key: ENV_VAR.to_owned(), expected: old_form() });
    }
    let text = format!("[gateway]\ntokens = {value}\n");
    if Config::builder().add_source(File::from_str(&text, FileFormat::Toml)).build().is_err() {
        return Err(SettingsError::Invalid {
            key: ENV_VAR.to_owned(),
            expected: "a TOML array of inline tables on one line, e.g. '[{token = \"...\", role = \"evaluator\"}, \
                       {token_sha256 = \"<hex>\", role = \"uploader\", uploader_id = \"teacher-42\"}]' (the value \
                       is not shown: it holds tokens)"
                .to_owned(),
        });
    }
    Ok(File::from_str(&text, FileFormat::Toml))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn each_role_parses_from_a_token_or_its_sha256() {
        let tokens = parse(&json!([
            {"token": "e", "role": "evaluator"},
            {"token_sha256": sha256_hex("u").to_uppercase(), "role": "uploads"},
            {"token": "t", "role": "uploader", "uploader_id": "teacher-42"},
            {"token": "o", "role": "admin"},
        ]))
        .unwrap();
        assert_eq!(tokens[0], GatewayToken::new("e", Role::Evaluator));
        assert_eq!(tokens[1], GatewayToken::new("u", Role::Uploads));
        assert_eq!(tokens[2].role, Role::Uploader { uploader_id: "teacher-42".into() });
        assert_eq!(tokens[3], GatewayToken::new("o", Role::Admin));
        assert_eq!(parse(&json!(null)).unwrap(), vec![]);
        assert_eq!(parse(&json!([])).unwrap(), vec![]);
    }

    #[test]
    fn the_old_list_of_strings_says_how_to_write_the_new_form() {
        for old in [json!(["secret-one", "secret-two"]), json!("secret-one")] {
            let error = parse(&old).unwrap_err();
            assert!(error.contains("[[gateway.tokens]]") && error.contains("role = \"evaluator\""), "{error}");
            assert!(!error.contains("secret-one"), "a token must never be printed: {error}");
        }
    }

    #[test]
    fn a_wrong_table_names_its_key_and_never_the_token() {
        let cases = [
            (json!([{"token": "s3cr3t"}]), "gateway.tokens[0].role"),
            (json!([{"token": "s3cr3t", "role": "root"}]), "gateway.tokens[0].role"),
            (json!([{"token": "s3cr3t", "role": "admin", "uploader_id": "x"}]), "gateway.tokens[0].uploader_id"),
            (json!([{"token": "s3cr3t", "role": "uploader"}]), "gateway.tokens[0].uploader_id"),
            (json!([{"token": "s3cr3t", "role": "uploads", "uploader_id": "x"}]), "gateway.tokens[0].uploader_id"),
            (json!([{"token": "s3cr3t", "role": "uploader", "uploader_id": "a/b"}]), "gateway.tokens[0].uploader_id"),
            (json!([{"token": "s3cr3t", "roles": ["evaluator", "uploads"]}]), "gateway.tokens[0].roles"),
            (json!([{"role": "evaluator"}]), "gateway.tokens[0]"),
            (json!([{"token": "s3cr3t", "token_sha256": "ab", "role": "evaluator"}]), "gateway.tokens[0]"),
            (json!([{"token_sha256": "s3cr3t", "role": "evaluator"}]), "gateway.tokens[0].token_sha256"),
            (json!([{"token": "s3 cr3t", "role": "evaluator"}]), "gateway.tokens[0].token"),
            (json!([{"token": "", "role": "evaluator"}]), "gateway.tokens[0].token"),
            (
                json!([{"token": "s3cr3t", "role": "evaluator"}, {"token": "s3cr3t", "role": "uploads"}]),
                "gateway.tokens[1]",
            ),
        ];
        for (value, key) in cases {
            let error = parse(&value).unwrap_err();
            assert!(error.contains(key), "{value}: {error}");
            assert!(!error.contains("s3cr3t"), "{value}: {error}");
        }
    }

    #[test]
    fn the_environment_form_is_a_toml_array_and_the_old_one_is_refused_without_echo() {
        assert!(env_source("[{token = \"a\", role = \"evaluator\"}]").is_ok());
        assert!(env_source("").is_ok());
        for bad in ["s3cr3t", "s3cr3t,other", "[{token = s3cr3t}]"] {
            let error = env_source(bad).unwrap_err().to_string();
            assert!(error.contains(ENV_VAR), "{error}");
            assert!(!error.contains("s3cr3t"), "{error}");
        }
    }

    fn load(file: &str, tokens_env: Option<&str>) -> Result<crate::settings::Settings, SettingsError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("docflow.toml");
        std::fs::write(&path, file).unwrap();
        let mut env = crate::testkit::TestSettings::new();
        if let Some(tokens) = tokens_env {
            env = env.set(ENV_VAR, tokens);
        }
        env.try_load(Some(&path))
    }

    #[test]
    fn tables_in_the_file_load_and_the_environment_replaces_them_whole() {
        let file = format!(
            "[[gateway.tokens]]\ntoken = \"e\"\nrole = \"evaluator\"\n\
             [[gateway.tokens]]\ntoken_sha256 = \"{}\"\nrole = \"uploader\"\nuploader_id = \"teacher-42\"\n",
            sha256_hex("t")
        );
        let settings = load(&file, None).unwrap();
        assert_eq!(settings.gateway.tokens.len(), 2);
        assert_eq!(
            settings.gateway.tokens[1],
            GatewayToken::new("t", Role::Uploader { uploader_id: "teacher-42".into() })
        );
        let settings = load(&file, Some("[{token = \"u\", role = \"uploads\"}]")).unwrap();
        assert_eq!(settings.gateway.tokens, vec![GatewayToken::new("u", Role::Uploads)]);
    }

    #[test]
    fn the_old_form_in_a_file_stops_the_load_with_the_new_form_and_no_token() {
        let error = load("[gateway]\ntokens = [\"old-s3cr3t\"]\n", None).unwrap_err().to_string();
        assert!(error.contains("[[gateway.tokens]]") && error.contains("gateway.tokens"), "{error}");
        assert!(!error.contains("old-s3cr3t"), "{error}");
        let error = load("", Some("old-s3cr3t")).unwrap_err().to_string();
        assert!(error.contains("[[gateway.tokens]]") && !error.contains("old-s3cr3t"), "{error}");
    }

    #[test]
    fn debug_output_shows_the_role_only() {
        let token = GatewayToken::new("s3cr3t", Role::Evaluator);
        let shown = format!("{token:?}");
        assert!(shown.contains("Evaluator") && !shown.contains("s3cr3t"), "{shown}");
        assert!(!shown.contains(&sha256_hex("s3cr3t")[..8]), "{shown}");
    }
}

//! `docflow config set KEY VALUE` and `docflow config get KEY`: one key written into a
//! drop-in file (other keys and comments kept), or one merged value printed. A value is
//! typed by what its key is read as ([`Kind`]): text, a number, a boolean, or a TOML array.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::keys::{Change, RENAMED, Rename, Unknown};
use super::schema::{Kind, Node};
use super::sources::{ConfigFiles, drop_in_dir};
use super::{Loaded, Settings, SettingsError, invalid};

/// The drop-in `config set` writes when no `--file` is given.
pub const LOCAL_FILE: &str = "50-local.toml";

/// Keys whose values `config get` never prints (`*`: any provider).
pub const SECRET_KEYS: &[&str] = &[
    "nats.password",
    "nats.token",
    "s3.secret_key",
    "providers.*.api_key",
    "providers.*.callback_secret",
    "gateway.tokens",
    "gateway.session_secret",
    "ingest.token",
    "oidc.client_secret",
    "mail.smtp_url",
];

/// URLs that may carry a user name and password: printed redacted.
const URL_KEYS: &[&str] = &["nats.url", "database.url"];

fn matches(pattern: &str, path: &[&str]) -> bool {
    let pattern: Vec<&str> = pattern.split('.').collect();
    pattern.len() == path.len() && pattern.iter().zip(path).all(|(p, k)| *p == "*" || p == k)
}

/// A key as a leaf of the settings tree, with what it is read as.
fn leaf(key: &str) -> Result<(Vec<&str>, Kind), SettingsError> {
    let path: Vec<&str> = key.split('.').collect();
    if path.iter().any(|segment| segment.is_empty()) {
        return Err(invalid(key, "a dotted key such as gateway.listen or providers.NAME.api_key"));
    }
    let owned: Vec<String> = path.iter().map(|s| (*s).to_owned()).collect();
    match Node::settings().get(&path) {
        Some(Node::Leaf(kind)) => Ok((path, *kind)),
        Some(node) => Err(invalid(
            key,
            format!(
                "a table; name one of its keys: {}",
                node.keys().iter().filter(|k| !k.contains('.')).cloned().collect::<Vec<_>>().join(", ")
            ),
        )),
        None => match Rename::find(RENAMED, &owned) {
            Some((Rename { change: Change::Renamed { .. }, .. }, Some(new))) => {
                Err(invalid(key, format!("renamed: use `{}`", new.join("."))))
            }
            Some((Rename { change: Change::Retired { instead }, .. }, _)) => {
                Err(invalid(key, format!("no longer has any effect ({instead} instead)")))
            }
            _ => Err(SettingsError::Unknown(Unknown::new(&owned, super::keys::Origin::CommandLine))),
        },
    }
}

/// `text` as the TOML value of a key read as `kind`.
pub fn typed(key: &str, kind: Kind, text: &str) -> Result<toml_edit::Value, SettingsError> {
    let toml = || text.trim().parse::<toml_edit::Value>().ok();
    let value = match kind {
        Kind::Text => Some(text.into()),
        Kind::Integer => text.trim().parse::<i64>().ok().map(Into::into),
        Kind::Float => text.trim().parse::<f64>().ok().map(Into::into),
        Kind::Bool => text.trim().parse::<bool>().ok().map(Into::into),
        Kind::List => toml().filter(toml_edit::Value::is_array),
        Kind::Any if text.trim_start().starts_with(['[', '{']) => toml(),
        Kind::Any => Some(text.into()),
    };
    value.ok_or_else(|| {
        invalid(
            key,
            match kind {
                Kind::Integer => format!("a whole number, got {text:?}"),
                Kind::Float => format!("a number, got {text:?}"),
                Kind::Bool => format!("true or false, got {text:?}"),
                Kind::List => "a TOML array, e.g. '[\"1s\", \"5s\"]' (quote it for the shell)".to_owned(),
                _ => "a TOML value (the text could not be read)".to_owned(),
            },
        )
    })
}

/// Where `config set` writes: `file` (relative to the settings file's directory), or
/// `conf.d/50-local.toml` beside the settings file.
pub fn target(files: &ConfigFiles, file: Option<&Path>) -> Result<PathBuf, SettingsError> {
    let base = files.main.as_deref().and_then(Path::parent).filter(|p| !p.as_os_str().is_empty());
    match (file, base, &files.main) {
        (Some(file), Some(base), _) if file.is_relative() => Ok(base.join(file)),
        (Some(file), _, _) => Ok(file.to_owned()),
        (None, _, Some(main)) => Ok(drop_in_dir(main).join(LOCAL_FILE)),
        (None, _, None) => Err(invalid(
            "--config",
            "no settings file was found to put conf.d beside: pass --config FILE (e.g. /etc/docflow/docflow.toml) \
             or --file PATH",
        )),
    }
}

/// What `config set` did.
#[derive(Debug)]
pub struct Written {
    pub file: PathBuf,
    /// An environment variable that overrides what was written.
    pub overridden_by: Option<String>,
}

/// Sets `key` to `text` in `file` (see [`target`]): other keys and comments stay; a new
/// file is created 0640 with the group of the settings file, so the service can read it.
/// Refused, with nothing written, when the value does not load.
pub fn set(
    files: &ConfigFiles,
    file: Option<&Path>,
    key: &str,
    text: &str,
    env: Option<HashMap<String, String>>,
) -> Result<Written, SettingsError> {
    let (path, kind) = leaf(key)?;
    let value = typed(key, kind, text)?;
    let target = target(files, file)?;
    let read_error = |cause: std::io::Error| SettingsError::Read { path: target.clone(), cause: cause.to_string() };
    let existing = match std::fs::read_to_string(&target) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(read_error(e)),
    };
    let mut document: toml_edit::DocumentMut = existing.parse().map_err(|e: toml_edit::TomlError| {
        SettingsError::Read { path: target.clone(), cause: format!("not valid TOML: {}", e.to_string().trim_end()) }
    })?;
    let (last, parents) = path.split_last().expect("a key has a segment");
    let mut table = document.as_table_mut();
    for (depth, segment) in parents.iter().enumerate() {
        let item = table.entry(segment).or_insert_with(|| {
            let mut new = toml_edit::Table::new();
            new.set_implicit(true);
            toml_edit::Item::Table(new)
        });
        table = item.as_table_mut().ok_or_else(|| {
            invalid(
                parents[..=depth].join("."),
                format!("not a [table] in {}: edit that file by hand", target.display()),
            )
        })?;
    }
    table.insert(last, toml_edit::value(value));
    let text = document.to_string();

    let env = env.unwrap_or_else(|| std::env::vars().collect());
    // Refused: the problems this value brings (those already there are not its doing).
    let before: Vec<String> =
        Settings::inspect(files, Some(env.clone()), None).problems.iter().map(ToString::to_string).collect();
    let refused: Vec<SettingsError> = Settings::inspect(files, Some(env.clone()), Some((&target, &text)))
        .problems
        .into_iter()
        .filter(|problem| !before.contains(&problem.to_string()))
        .collect();
    super::validate::one_or_many(refused)?;
    write(&target, files.main.as_deref(), &text).map_err(read_error)?;
    let variable = super::keys::env_name(key);
    Ok(Written { file: target, overridden_by: env.contains_key(&variable).then_some(variable) })
}

/// Writes `text` to `path` through a temporary file: an existing file keeps its mode and
/// group; a new one is 0640 with the group of `settings_file` (its directory 0750).
fn write(path: &Path, settings_file: Option<&Path>, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
    let reference = settings_file.and_then(|f| std::fs::metadata(f).ok());
    let group = |existing: Option<&std::fs::Metadata>| existing.or(reference.as_ref()).map(|m| m.gid());
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
        std::fs::create_dir_all(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o750))?;
        chgrp(dir, group(None))?;
    }
    let existing = std::fs::metadata(path).ok();
    let mode = existing.as_ref().map_or(0o640, |m| m.permissions().mode() & 0o7777);
    let temporary = path.with_extension("toml.new");
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(mode).open(&temporary)?;
    // The mode asked for at creation is reduced by the umask.
    file.set_permissions(std::fs::Permissions::from_mode(mode))?;
    chgrp(&temporary, group(existing.as_ref()))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
}

fn chgrp(path: &Path, gid: Option<u32>) -> std::io::Result<()> {
    match gid {
        Some(gid) => std::os::unix::fs::chown(path, None, Some(gid)),
        None => Ok(()),
    }
}

/// The merged value of `key` as text (a string as it is, anything else as TOML);
/// secrets refused, URLs with their credentials hidden.
pub fn get(loaded: &Loaded, key: &str) -> Result<String, SettingsError> {
    let (path, _) = leaf(key)?;
    if SECRET_KEYS.iter().any(|pattern| matches(pattern, &path)) {
        return Err(invalid(key, "a secret: `docflow config get` does not print it; read the file that sets it"));
    }
    let value: config::Value = loaded.merged.get(key).map_err(|_| invalid(key, "not set (no default)"))?;
    let text = match value.kind {
        config::ValueKind::String(s) => s,
        config::ValueKind::Nil => return Err(invalid(key, "not set (no default)")),
        _ => toml(&value).to_string(),
    };
    Ok(if URL_KEYS.iter().any(|pattern| matches(pattern, &path)) { crate::redact::url(&text) } else { text })
}

fn toml(value: &config::Value) -> toml_edit::Value {
    use config::ValueKind as K;
    match &value.kind {
        K::Nil => "".into(),
        K::Boolean(b) => (*b).into(),
        K::I64(i) => (*i).into(),
        K::I128(i) => (*i as i64).into(),
        K::U64(i) => (*i as i64).into(),
        K::U128(i) => (*i as i64).into(),
        K::Float(f) => (*f).into(),
        K::String(s) => s.as_str().into(),
        K::Array(items) => toml_edit::Value::Array(items.iter().map(toml).collect()),
        K::Table(t) => toml_edit::Value::InlineTable(t.iter().map(|(k, v)| (k.as_str(), toml(v))).collect()),
    }
}

#[cfg(test)]
mod tests;

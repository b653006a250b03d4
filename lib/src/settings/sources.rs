//! Where settings come from, lowest first: the embedded defaults, `docflow dev`'s own
//! defaults (when it runs), the settings file, every `*.toml` of the `conf.d/` directory
//! beside that file in lexical order, then `DOCFLOW__SECTION__KEY` variables. Each source
//! is checked key by key before anything is merged: an unknown key is refused naming the
//! source, a renamed one moves to its new name with a warning.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use config::{Config, ConfigError, Environment, Map, Source, Value, ValueKind};

use super::keys::{Origin, RENAMED, Rename, Unknown};
use super::schema::Node;
use super::{SettingsError, invalid};
use crate::ids::StageId;

/// The drop-in directory's name, beside the settings file.
pub const DROP_IN_DIR: &str = "conf.d";

/// The files to read: the settings file and its drop-ins, in the order they apply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigFiles {
    /// The settings file: the one given, or `./docflow.toml` when present.
    pub main: Option<PathBuf>,
    /// `conf.d/*.toml` beside it, sorted by name.
    pub drop_ins: Vec<PathBuf>,
}

impl ConfigFiles {
    /// `file` (which must exist), or `./docflow.toml` when `None` and present; and the
    /// drop-ins beside it.
    pub fn find(file: Option<&Path>) -> Result<ConfigFiles, SettingsError> {
        let main = match file {
            Some(path) if !path.exists() => {
                return Err(invalid(
                    "--config",
                    format!("{} does not exist; pass an existing TOML file", path.display()),
                ));
            }
            Some(path) => Some(path.to_owned()),
            None => Some(PathBuf::from("docflow.toml")).filter(|p| p.exists()),
        };
        let drop_ins = match &main {
            Some(main) => drop_ins(&drop_in_dir(main))?,
            None => Vec::new(),
        };
        Ok(ConfigFiles { main, drop_ins })
    }

    /// Every file, in the order they apply.
    pub fn all(&self) -> impl Iterator<Item = &PathBuf> {
        self.main.iter().chain(&self.drop_ins)
    }
}

/// `conf.d` beside `main`.
pub fn drop_in_dir(main: &Path) -> PathBuf {
    main.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).join(DROP_IN_DIR)
}

fn drop_ins(dir: &Path) -> Result<Vec<PathBuf>, SettingsError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(cause) => return Err(SettingsError::Read { path: dir.to_owned(), cause: cause.to_string() }),
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml") && path.is_file())
        .collect();
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    Ok(files)
}

/// Every source merged, in order, with what checking them found. `replace`: the text of
/// one file instead of what is on disk (or an extra last file), for `docflow config set`.
pub(super) fn assemble(
    base: Option<&str>,
    files: &ConfigFiles,
    env: Option<HashMap<String, String>>,
    replace: Option<(&Path, &str)>,
) -> Result<(Config, Findings), SettingsError> {
    let mut findings = Findings::default();
    let mut builder = Config::builder().add_source(Layer::parse(super::DEFAULTS, Origin::Defaults, &mut findings)?);
    if let Some(base) = base {
        builder = builder.add_source(Layer::parse(base, Origin::Defaults, &mut findings)?);
    }
    let mut replaced = false;
    for path in files.all() {
        let layer = match replace {
            Some((target, text)) if target == path.as_path() => {
                replaced = true;
                Layer::parse(text, Origin::File(path.clone()), &mut findings)?
            }
            _ => Layer::read(path, &mut findings)?,
        };
        builder = builder.add_source(layer);
    }
    if let (Some((target, text)), false) = (replace, replaced) {
        builder = builder.add_source(Layer::parse(text, Origin::File(target.to_owned()), &mut findings)?);
    }
    let mut vars: HashMap<String, String> = env.unwrap_or_else(|| std::env::vars().collect());
    check_env(&mut vars, &mut findings);
    // `DOCFLOW__GATEWAY__TOKENS` holds a TOML array of tables: read here, not by the
    // environment source (it has no form for a list of tables).
    if let Some(tokens) = vars.remove(crate::settings::tokens::ENV_VAR) {
        builder = builder.add_source(crate::settings::tokens::env_source(&tokens)?);
    }
    let mut environment = Environment::with_prefix("DOCFLOW").separator("__").list_separator(",").try_parsing(true);
    let mut list_keys: Vec<String> = StageId::ALL.iter().map(|stage| format!("stages.{stage}.backoff")).collect();
    list_keys.extend(crate::settings::oidc::LIST_KEYS.iter().map(|key| format!("oidc.{key}")));
    // Per-provider lists: the provider names are only known from the variables.
    for (name, value) in &vars {
        let Some(rest) = name.strip_prefix("DOCFLOW__PROVIDERS__") else { continue };
        let Some((provider, key)) = rest.split_once("__") else { continue };
        if key == "RESULT_HOSTS" || (key == "CALLBACK_SECRET" && value.contains(',')) {
            list_keys.push(format!("providers.{}.{}", provider.to_ascii_lowercase(), key.to_ascii_lowercase()));
        }
    }
    for key in &list_keys {
        environment = environment.with_list_parse_key(key);
    }
    let merged = builder.add_source(environment.source(Some(vars))).build()?;
    Ok((merged, findings))
}

/// One source, checked and converted for the `config` crate.
#[derive(Debug, Clone)]
pub struct Layer {
    table: Map<String, Value>,
}

/// What checking the sources found.
#[derive(Debug, Default)]
pub struct Findings {
    pub unknown: Vec<Unknown>,
    pub warnings: Vec<String>,
}

impl Layer {
    /// A TOML text from `origin`; unknown keys go to `findings`, renamed ones move.
    pub fn parse(text: &str, origin: Origin, findings: &mut Findings) -> Result<Layer, SettingsError> {
        let document: toml_edit::DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| SettingsError::Read {
            path: PathBuf::from(origin.to_string()),
            cause: format!("not valid TOML: {}", e.to_string().trim_end()),
        })?;
        let name = origin.to_string();
        let mut table = table(document.as_table(), &name);
        check(Node::settings(), &mut table, &origin, findings, RENAMED);
        Ok(Layer { table })
    }

    /// A file, named in errors by its path.
    pub fn read(path: &Path, findings: &mut Findings) -> Result<Layer, SettingsError> {
        let text = std::fs::read_to_string(path).map_err(|cause| SettingsError::Read {
            path: path.to_owned(),
            cause: match cause.kind() {
                std::io::ErrorKind::PermissionDenied => {
                    format!("{cause}; run as root (sudo) or as a member of the file's group")
                }
                _ => cause.to_string(),
            },
        })?;
        Layer::parse(&text, Origin::File(path.to_owned()), findings)
    }
}

impl Source for Layer {
    fn clone_into_box(&self) -> Box<dyn Source + Send + Sync> {
        Box::new(self.clone())
    }
    fn collect(&self) -> Result<Map<String, Value>, ConfigError> {
        Ok(self.table.clone())
    }
}

fn table(table: &dyn toml_edit::TableLike, origin: &str) -> Map<String, Value> {
    table.iter().filter_map(|(key, item)| Some((key.to_owned(), item_value(item, origin)?))).collect()
}

fn item_value(item: &toml_edit::Item, origin: &str) -> Option<Value> {
    use toml_edit::Item;
    let kind = match item {
        Item::None => return None,
        Item::Value(value) => return Some(value_of(value, origin)),
        Item::Table(t) => ValueKind::Table(table(t, origin)),
        Item::ArrayOfTables(tables) => {
            ValueKind::Array(tables.iter().map(|t| Value::new(Some(&origin.to_owned()), table(t, origin))).collect())
        }
    };
    Some(Value::new(Some(&origin.to_owned()), kind))
}

fn value_of(value: &toml_edit::Value, origin: &str) -> Value {
    use toml_edit::Value as T;
    let kind = match value {
        T::String(s) => ValueKind::String(s.value().clone()),
        T::Integer(i) => ValueKind::I64(*i.value()),
        T::Float(f) => ValueKind::Float(*f.value()),
        T::Boolean(b) => ValueKind::Boolean(*b.value()),
        T::Datetime(d) => ValueKind::String(d.value().to_string()),
        T::Array(items) => ValueKind::Array(items.iter().map(|v| value_of(v, origin)).collect()),
        T::InlineTable(t) => ValueKind::Table(table(t, origin)),
    };
    Value::new(Some(&origin.to_owned()), kind)
}

/// Walks `table` along `node` and moves renamed keys (a key already set under its new
/// name in the same source wins); unknown keys go to `findings`.
fn check(
    node: &Node,
    table: &mut Map<String, Value>,
    origin: &Origin,
    findings: &mut Findings,
    renames: &'static [Rename],
) {
    let mut moves = Vec::new();
    walk(node, table, &mut Vec::new(), origin, findings, renames, &mut moves);
    for (old, new) in moves {
        // A retired key (no new name) is only removed.
        if let (Some(value), Some(new)) = (remove(table, &old), new) {
            insert(table, &new, value);
        }
    }
}

type Move = (Vec<String>, Option<Vec<String>>);

fn walk(
    node: &Node,
    table: &Map<String, Value>,
    path: &mut Vec<String>,
    origin: &Origin,
    findings: &mut Findings,
    renames: &'static [Rename],
    moves: &mut Vec<Move>,
) {
    // The config crate's tables are hash maps: sorted, so problems are listed in one order.
    let mut entries: Vec<(&String, &Value)> = table.iter().collect();
    entries.sort_by_key(|(key, _)| *key);
    for (key, value) in entries {
        path.push(key.clone());
        match node.child(key) {
            Some(child @ (Node::Table(_) | Node::Map(_))) => {
                if let ValueKind::Table(inner) = &value.kind {
                    walk(child, inner, path, origin, findings, renames, moves);
                }
            }
            Some(Node::Leaf(_)) => {}
            None => match Rename::find(renames, path) {
                Some((rename, new)) => {
                    findings.warnings.push(rename.warning(path, origin));
                    moves.push((path.clone(), new));
                }
                None => findings.unknown.push(Unknown::new(path, origin.clone())),
            },
        }
        path.pop();
    }
}

fn remove(table: &mut Map<String, Value>, path: &[String]) -> Option<Value> {
    let (first, rest) = path.split_first()?;
    if rest.is_empty() {
        return table.remove(first);
    }
    match &mut table.get_mut(first)?.kind {
        ValueKind::Table(inner) => remove(inner, rest),
        _ => None,
    }
}

fn insert(table: &mut Map<String, Value>, path: &[String], value: Value) {
    let Some((first, rest)) = path.split_first() else { return };
    if rest.is_empty() {
        table.entry(first.clone()).or_insert(value);
        return;
    }
    let entry = table.entry(first.clone()).or_insert_with(|| Value::new(None, ValueKind::Table(Map::new())));
    if let ValueKind::Table(inner) = &mut entry.kind {
        insert(inner, rest, value);
    }
}

/// The `DOCFLOW__...` variables of `vars`, checked: unknown keys go to `findings`, a
/// renamed key's variable is renamed (unless the new one is set too).
pub fn check_env(vars: &mut HashMap<String, String>, findings: &mut Findings) {
    let mut renamed = Vec::new();
    let mut names: Vec<&String> = vars.keys().collect();
    names.sort();
    for name in names {
        let Some(path) = env_path(name) else { continue };
        let refs: Vec<&str> = path.iter().map(String::as_str).collect();
        if Node::settings().get(&refs).is_some() {
            continue;
        }
        let origin = Origin::Env(name.clone());
        match Rename::find(RENAMED, &path) {
            Some((rename, new)) => {
                findings.warnings.push(rename.warning(&path, &origin));
                renamed.push((name.clone(), new.map(|new| super::keys::env_name(&new.join(".")))));
            }
            None => findings.unknown.push(Unknown::new(&path, origin)),
        }
    }
    for (old, new) in renamed {
        let value = vars.remove(&old).expect("a variable found above");
        if let Some(new) = new {
            vars.entry(new).or_insert(value);
        }
    }
}

/// `DOCFLOW__A__B_C` as `["a", "b_c"]`; `None` for other variables.
fn env_path(name: &str) -> Option<Vec<String>> {
    let rest = name.get(..9).filter(|p| p.eq_ignore_ascii_case("DOCFLOW__")).map(|_| &name[9..])?;
    Some(rest.split("__").map(str::to_ascii_lowercase).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn findings(text: &str) -> Findings {
        let mut findings = Findings::default();
        Layer::parse(text, Origin::File("test.toml".into()), &mut findings).unwrap();
        findings
    }

    #[test]
    fn the_embedded_defaults_hold_only_known_keys() {
        let found = findings(super::super::DEFAULTS);
        assert!(found.unknown.is_empty() && found.warnings.is_empty(), "{found:?}");
    }

    #[test]
    fn every_unknown_key_is_found_with_its_full_path() {
        let found = findings(
            "[gateway]\nlisen = \"x\"\n[providers.acme]\napi_kye = \"k\"\nbreaker = { failurs = 3 }\n\
             [stages.transfer]\nbackof = []\n[nats.tls]\nca = \"x\"\n",
        );
        let keys: Vec<&str> = found.unknown.iter().map(|u| u.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "gateway.lisen",
                "nats.tls.ca",
                "providers.acme.api_kye",
                "providers.acme.breaker.failurs",
                "stages.transfer.backof"
            ]
        );
        assert!(found.unknown[0].to_string().contains("test.toml"), "{}", found.unknown[0]);
    }

    #[test]
    fn token_tables_are_left_to_their_own_checks() {
        let found = findings("[[gateway.tokens]]\ntoken = \"t\"\nrole = \"evaluator\"\n");
        assert!(found.unknown.is_empty(), "{found:?}");
    }

    #[test]
    fn a_retired_key_warns_and_is_dropped() {
        let mut found = Findings::default();
        let layer = Layer::parse("[providers.acme]\nrequest_timeout = \"1m\"\n", Origin::Defaults, &mut found).unwrap();
        assert!(found.unknown.is_empty());
        assert_eq!(found.warnings.len(), 1, "{found:?}");
        let ValueKind::Table(providers) = &layer.table["providers"].kind else { panic!() };
        let ValueKind::Table(acme) = &providers["acme"].kind else { panic!() };
        assert!(acme.is_empty());
    }

    #[test]
    fn a_renamed_key_moves_unless_the_new_one_is_set() {
        const TABLE: &[Rename] = &[Rename {
            old: "admin.address",
            change: super::super::keys::Change::Renamed { new: "admin.listen" },
            until: "0.2",
        }];
        let parse = |text: &str| {
            let document: toml_edit::DocumentMut = text.parse().unwrap();
            let mut table = table(document.as_table(), "t");
            let mut found = Findings::default();
            check(Node::settings(), &mut table, &Origin::Defaults, &mut found, TABLE);
            let ValueKind::Table(admin) = &table["admin"].kind else { panic!() };
            (admin.get("listen").map(|v| v.to_string()), admin.contains_key("address"), found)
        };
        let (listen, old_left, found) = parse("[admin]\naddress = \"127.0.0.1:1\"\n");
        assert_eq!((listen.as_deref(), old_left), (Some("127.0.0.1:1"), false));
        assert!(found.warnings[0].contains("renamed `admin.listen`"), "{:?}", found.warnings);
        let (listen, _, _) = parse("[admin]\naddress = \"127.0.0.1:1\"\nlisten = \"127.0.0.1:2\"\n");
        assert_eq!(listen.as_deref(), Some("127.0.0.1:2"));
    }

    #[test]
    fn variables_are_checked_like_files() {
        let mut vars: HashMap<String, String> = [
            ("DOCFLOW__GATEWAY__LISEN", "x"),
            ("DOCFLOW__NATS__URL", "nats://x"),
            ("DOCFLOW__PROVIDERS__ACME__API_KEY", "k"),
            ("DOCFLOW__PROVIDERS__ACME__REQUEST_TIMEOUT", "1m"),
            ("DOCFLOW_CONFIG", "/etc/docflow/docflow.toml"),
            ("PATH", "/bin"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let mut found = Findings::default();
        check_env(&mut vars, &mut found);
        assert_eq!(found.unknown.len(), 1, "{found:?}");
        assert_eq!(found.unknown[0].key, "gateway.lisen");
        assert!(found.unknown[0].hint.contains("DOCFLOW__GATEWAY__LISTEN"), "{}", found.unknown[0]);
        assert_eq!(found.warnings.len(), 1);
        assert!(!vars.contains_key("DOCFLOW__PROVIDERS__ACME__REQUEST_TIMEOUT"));
    }

    #[test]
    fn drop_ins_are_read_in_lexical_order_beside_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let main = dir.path().join("docflow.toml");
        std::fs::write(&main, "").unwrap();
        let conf_d = dir.path().join(DROP_IN_DIR);
        std::fs::create_dir(&conf_d).unwrap();
        for name in ["50-local.toml", "10-secrets.toml", "README", "90-z.toml.dpkg-old"] {
            std::fs::write(conf_d.join(name), "").unwrap();
        }
        let files = ConfigFiles::find(Some(&main)).unwrap();
        assert_eq!(files.drop_ins, [conf_d.join("10-secrets.toml"), conf_d.join("50-local.toml")]);
        assert_eq!(files.all().count(), 3);
    }
}

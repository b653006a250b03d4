//! Which keys a settings source may hold: those of the settings types ([`Node::settings`]),
//! plus the renamed and retired keys of [`RENAMED`], read for one more release with a
//! warning. Anything else is refused, naming the key and the closest known one.

use std::fmt;

use super::schema::Node;

/// Where a key was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The embedded `docflow.default.toml`, or `docflow dev`'s defaults.
    Defaults,
    File(std::path::PathBuf),
    /// An environment variable (its name).
    Env(String),
    /// A key given to a command (`docflow config set KEY`).
    CommandLine,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Defaults => write!(f, "the embedded defaults"),
            Origin::File(path) => write!(f, "{}", path.display()),
            Origin::Env(name) => write!(f, "the environment variable {name}"),
            Origin::CommandLine => write!(f, "on the command line"),
        }
    }
}

/// What became of a key that is no longer read under its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Read as `new` (its value moves there).
    Renamed { new: &'static str },
    /// No longer has any effect; `instead` says what does that job now.
    Retired { instead: &'static str },
}

/// A key read under its old name until `until` (the release that stops reading it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rename {
    /// Dotted, `*` for a name of the operator's (a provider's).
    pub old: &'static str,
    pub change: Change,
    pub until: &'static str,
}

/// Keys that changed. An entry stays for one release, then goes: the key becomes unknown.
pub const RENAMED: &[Rename] = &[
    Rename {
        old: "providers.*.request_timeout",
        change: Change::Retired {
            instead: "providers.*.connect_timeout and providers.*.idle_timeout (a submission has no total-time limit)",
        },
        until: "0.2",
    },
    Rename {
        old: "stages.*.max_held",
        change: Change::Retired {
            instead: "nothing: a worker asks the server only for messages it has a free run slot for, so it holds at most stages.*.concurrency",
        },
        until: "0.3",
    },
];

impl Rename {
    /// The entry of `table` for `path`, with the `*` segments of its new key filled in.
    pub fn find(table: &'static [Rename], path: &[String]) -> Option<(Rename, Option<Vec<String>>)> {
        table.iter().find_map(|rename| {
            let old: Vec<&str> = rename.old.split('.').collect();
            let matches = old.len() == path.len() && old.iter().zip(path).all(|(o, p)| *o == "*" || o == p);
            if !matches {
                return None;
            }
            let new = match rename.change {
                Change::Renamed { new } => Some(
                    new.split('.')
                        .enumerate()
                        .map(|(i, segment)| if segment == "*" { path[i].clone() } else { segment.to_owned() })
                        .collect(),
                ),
                Change::Retired { .. } => None,
            };
            Some((*rename, new))
        })
    }

    /// The warning for `path` found in `origin`.
    pub fn warning(&self, path: &[String], origin: &Origin) -> String {
        let key = path.join(".");
        match self.change {
            Change::Renamed { new } => format!(
                "configuration: `{key}` ({origin}) is renamed `{}`; it is read under its old name until release {}: \
                 rename it",
                fill(new, path),
                self.until
            ),
            Change::Retired { instead } => format!(
                "configuration: `{key}` ({origin}) no longer has any effect and is refused from release {}; remove it \
                 ({} instead)",
                self.until,
                fill(instead, path)
            ),
        }
    }
}

/// `pattern` with each `*` replaced by the provider name of `path` (its second segment).
fn fill(pattern: &str, path: &[String]) -> String {
    match path.get(1) {
        Some(name) if pattern.contains('*') => pattern.replace('*', name),
        _ => pattern.to_owned(),
    }
}

/// An unknown key, where it was written and the known key it most likely meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unknown {
    pub key: String,
    pub origin: Origin,
    pub hint: String,
}

impl fmt::Display for Unknown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown key `{}` ({}); {}", self.key, self.origin, self.hint)
    }
}

impl Unknown {
    pub fn new(path: &[String], origin: Origin) -> Unknown {
        let hint = match closest(Node::settings(), path) {
            Some(known) => match &origin {
                Origin::Env(_) => format!("did you mean `{known}` ({})?", env_name(&known)),
                _ => format!("did you mean `{known}`?"),
            },
            None => siblings(Node::settings(), path),
        };
        Unknown { key: path.join("."), origin, hint }
    }
}

/// `DOCFLOW__A__B` for `a.b`.
pub fn env_name(key: &str) -> String {
    format!("DOCFLOW__{}", key.replace('.', "__").to_ascii_uppercase())
}

/// The known key closest to `path`: a sibling a small edit away, else a key elsewhere
/// with (nearly) the same last segment. `*` segments take the names of `path`.
pub fn closest(tree: &Node, path: &[String]) -> Option<String> {
    let (name, parent) = path.split_last()?;
    let parent_refs: Vec<&str> = parent.iter().map(String::as_str).collect();
    let close = |a: &str, b: &str| strsim::damerau_levenshtein(a, b) <= (a.len().max(b.len()) / 3).max(1);
    if let Some(Node::Table(fields)) = tree.get(&parent_refs) {
        let best = fields
            .keys()
            .map(|field| (strsim::damerau_levenshtein(name, field), *field))
            .min()
            .filter(|(_, field)| close(name, field));
        if let Some((_, field)) = best {
            return Some(parent.iter().map(String::as_str).chain([field]).collect::<Vec<_>>().join("."));
        }
    }
    // The same key in another section (`[gateway] prefix` for `nats.prefix`).
    let joined = path.join(".");
    let mut elsewhere: Vec<String> = tree
        .keys()
        .into_iter()
        .filter(|key| key != &joined && !key.contains('*') && key.rsplit('.').next() == Some(name.as_str()))
        .collect();
    elsewhere.sort_by_key(|key| (key.len(), key.clone()));
    elsewhere.into_iter().next()
}

/// The known keys beside `path`, when nothing is close.
fn siblings(tree: &Node, path: &[String]) -> String {
    let parent: Vec<&str> = path[..path.len().saturating_sub(1)].iter().map(String::as_str).collect();
    match tree.get(&parent) {
        Some(Node::Table(fields)) => {
            let names: Vec<&str> = fields.keys().copied().collect();
            if parent.is_empty() {
                format!("the sections are {}", names.join(", "))
            } else {
                format!("the keys of [{}] are {}", parent.join("."), names.join(", "))
            }
        }
        _ => "see docflow.default.toml for every key".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(key: &str) -> Vec<String> {
        key.split('.').map(str::to_owned).collect()
    }

    fn closest_to(key: &str) -> Option<String> {
        closest(Node::settings(), &path(key))
    }

    #[test]
    fn a_typo_is_matched_to_its_sibling() {
        assert_eq!(closest_to("gateway.lisen").as_deref(), Some("gateway.listen"));
        assert_eq!(closest_to("s3.acces_key").as_deref(), Some("s3.access_key"));
        assert_eq!(closest_to("database.max_conections").as_deref(), Some("database.max_connections"));
        assert_eq!(closest_to("providers.acme.api_kye").as_deref(), Some("providers.acme.api_key"));
        assert_eq!(closest_to("stages.transfer.backof").as_deref(), Some("stages.transfer.backoff"));
        assert_eq!(closest_to("gatway").as_deref(), Some("gateway"));
    }

    #[test]
    fn a_key_in_the_wrong_section_is_matched_to_its_section() {
        assert_eq!(closest_to("gateway.prefix").as_deref(), Some("nats.prefix"));
        assert_eq!(closest_to("s3.max_connections").as_deref(), Some("database.max_connections"));
    }

    #[test]
    fn nothing_close_lists_the_section_instead() {
        assert_eq!(closest_to("gateway.colour"), None);
        let unknown = Unknown::new(&path("gateway.colour"), Origin::Defaults);
        assert!(unknown.hint.contains("listen") && unknown.hint.contains("public_url"), "{}", unknown.hint);
    }

    #[test]
    fn the_message_names_the_key_where_it_was_and_the_fix() {
        let unknown = Unknown::new(&path("admin.lisen"), Origin::Env("DOCFLOW__ADMIN__LISEN".into()));
        assert_eq!(
            unknown.to_string(),
            "unknown key `admin.lisen` (the environment variable DOCFLOW__ADMIN__LISEN); did you mean `admin.listen` \
             (DOCFLOW__ADMIN__LISTEN)?"
        );
    }

    #[test]
    fn renames_match_provider_names_and_fill_them_in() {
        const TABLE: &[Rename] = &[
            Rename { old: "admin.address", change: Change::Renamed { new: "admin.listen" }, until: "0.2" },
            Rename { old: "providers.*.key", change: Change::Renamed { new: "providers.*.api_key" }, until: "0.2" },
        ];
        let (rename, new) = Rename::find(TABLE, &path("providers.acme.key")).unwrap();
        assert_eq!(new, Some(path("providers.acme.api_key")));
        let warning = rename.warning(&path("providers.acme.key"), &Origin::Defaults);
        assert!(warning.contains("renamed `providers.acme.api_key`"), "{warning}");
        assert_eq!(Rename::find(TABLE, &path("admin.address")).unwrap().1, Some(path("admin.listen")));
        assert!(Rename::find(TABLE, &path("admin.other")).is_none());
        let (retired, new) = Rename::find(RENAMED, &path("providers.acme.request_timeout")).unwrap();
        assert_eq!(new, None);
        assert!(retired.warning(&path("providers.acme.request_timeout"), &Origin::Defaults).contains("idle_timeout"));
    }

    #[test]
    fn no_renamed_key_is_still_a_known_key() {
        for rename in RENAMED {
            let old: Vec<&str> = rename.old.split('.').collect();
            assert!(Node::settings().get(&old).is_none(), "{} is both renamed and known", rename.old);
            if let Change::Renamed { new } = rename.change {
                let new: Vec<&str> = new.split('.').collect();
                assert!(Node::settings().get(&new).is_some(), "{} is renamed to an unknown key", rename.old);
            }
        }
    }
}

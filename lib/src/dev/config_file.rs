//! The settings `docflow dev` runs with, written into its data directory
//! (`DATA_DIR/docflow.toml`), and how every other command finds a settings file: so that
//! `docflow status`, `dlq` and any later operator command work right after `make run`,
//! with no environment variable set.
//!
//! The file holds what those commands need, with the values of this run (the child
//! nats-server's URL, the S3 endpoint's port, the simulator's address) and the secrets;
//! it is written with mode 0600. Settings it does not name take their defaults.

use std::path::{Path, PathBuf};

use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

use super::toml_str as s;
use crate::settings::{Delivery, ProviderSettings, Settings};

/// The file's name, in the data directory.
pub const FILE_NAME: &str = "docflow.toml";
/// The settings of a packaged install (the Debian package's conffile).
pub const SYSTEM_FILE: &str = "/etc/docflow/docflow.toml";
/// `docflow dev`'s data directory when none is given.
pub const DEFAULT_DATA_DIR: &str = "./var";

/// The settings file a command reads, in this order: the one given (`--config` or
/// `DOCFLOW_CONFIG`); `./docflow.toml` (`None`: the loader reads it) unless a data
/// directory was named; the file `docflow dev` wrote into the data directory (`--data-dir`,
/// default `./var`); `system` ([`SYSTEM_FILE`], a packaged install's); else `None`
/// (defaults and environment only).
pub fn find(explicit: Option<&Path>, data_dir: Option<&Path>, cwd: &Path, system: &Path) -> Option<PathBuf> {
    if let Some(path) = explicit {
        return Some(path.to_owned());
    }
    if data_dir.is_none() && cwd.join("docflow.toml").exists() {
        return None;
    }
    let dir = data_dir.map(Path::to_owned).unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
    let dir = if dir.is_absolute() { dir } else { cwd.join(dir) };
    let dev = dir.join(FILE_NAME);
    if dev.exists() {
        return Some(dev);
    }
    (data_dir.is_none() && system.exists()).then(|| system.to_owned())
}

/// What to add to a settings error when no file was found at all.
pub fn not_found_hint(data_dir: Option<&Path>) -> String {
    let dir = data_dir.map(|d| d.display().to_string()).unwrap_or_else(|| DEFAULT_DATA_DIR.to_owned());
    format!(
        "no settings file was found: pass --config FILE (or set DOCFLOW_CONFIG), create ./docflow.toml, \
         {SYSTEM_FILE} (the package's), or start `docflow dev` (`make run`), which writes {dir}/{FILE_NAME} \
         (--data-dir DIR for another directory)"
    )
}

/// The NATS prefix of a `docflow dev` that uses a NATS server it did not start: `dev-`
/// and 10 hex digits of the data directory's path, so two dev instances (and a
/// production docflow, prefix `docflow`) on one server never share a stream.
pub fn derived_prefix(data_dir: &Path) -> String {
    let digest = Sha256::digest(data_dir.as_os_str().as_encoded_bytes());
    format!("dev-{}", &hex::encode(digest)[..10])
}

fn list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    format!("[{}]", items.into_iter().map(s).collect::<Vec<_>>().join(", "))
}

fn duration(d: std::time::Duration) -> String {
    s(&humantime::format_duration(d).to_string())
}

fn provider(name: &str, p: &ProviderSettings) -> String {
    let secrets = p.callback_secret.all();
    format!(
        "\n[providers.{name}]\nbase_url = {}\napi_key = {}\ncallback_secret = {}\ndelivery = {}\nurl_ttl = {}\n\
         result_hosts = {}\ncallback_timeout = {}\nfirst_status_check = {}\nconnect_timeout = {}\n\
         idle_timeout = {}\nwatch_rounds = {}\n",
        s(&p.base_url),
        s(p.api_key.expose_secret()),
        list(secrets.iter().map(|secret| secret.expose_secret())),
        s(match p.delivery {
            Delivery::Upload => "upload",
            Delivery::Url => "url",
        }),
        duration(p.url_ttl),
        list(p.result_hosts.iter().map(String::as_str)),
        duration(p.callback_timeout),
        duration(p.first_status_check),
        duration(p.connect_timeout),
        duration(p.idle_timeout),
        p.watch_rounds,
    ) + &p.max_size.as_deref().map(|size| format!("max_size = {}\n", s(size))).unwrap_or_default()
}

/// The `[nats]` authentication keys that are set (lines of the `[nats]` table), and the
/// `[nats.tls]` table when any of its keys is.
fn nats_auth(n: &crate::settings::NatsSettings) -> (String, String) {
    let line = |name: &str, value: &str| format!("{name} = {}\n", s(value));
    let mut keys = String::new();
    if let Some(user) = &n.user {
        keys.push_str(&line("user", user));
    }
    for (name, secret) in [("password", &n.password), ("token", &n.token)] {
        if let Some(secret) = secret {
            keys.push_str(&line(name, secret.expose_secret()));
        }
    }
    for (name, path) in [("nkey_seed_file", &n.nkey_seed_file), ("creds_file", &n.creds_file)] {
        if let Some(path) = path {
            keys.push_str(&line(name, &path.display().to_string()));
        }
    }
    let mut tls = String::new();
    for (name, path) in [("ca_file", &n.tls.ca_file), ("cert_file", &n.tls.cert_file), ("key_file", &n.tls.key_file)] {
        if let Some(path) = path {
            tls.push_str(&line(name, &path.display().to_string()));
        }
    }
    let tls = if tls.is_empty() { tls } else { format!("\n[nats.tls]\n{tls}") };
    (keys, tls)
}

/// The file's text for `settings`.
pub fn render(settings: &Settings) -> String {
    let (n, d, s3, g) = (&settings.nats, &settings.database, &settings.s3, &settings.gateway);
    let (nats_keys, nats_tls) = nats_auth(n);
    let mut text = format!(
        "# Written by `docflow dev` each time it starts: the settings it runs with. `docflow status`,\n\
         # `docflow dlq` and the other commands read this file when started in the same directory\n\
         # (or with --data-dir). Contains secrets: keep it private. Overwritten on the next start.\n\n\
         [nats]\nurl = {}\nprefix = {}\nreplicas = {}\ndefinitions_dir = {}\n{}\n\
         [database]\nurl = {}\nmax_connections = {}\nacquire_timeout = {}\n\n\
         [s3]\nendpoint = {}\nregion = {}\naccess_key = {}\nsecret_key = {}\nuploads_bucket = {}\n\
         results_bucket = {}\nrequest_timeout = {}\n\n\
         [routing]\ndefault = {}\n\n\
         [gateway]\nlisten = {}\npublic_url = {}\nmax_body = {}\nsession_idle = {}\nsession_lifetime = {}\n\n\
         [admin]\nlisten = {}\n\n\
         [ingest]\ntoken = {}\n",
        s(&n.url),
        s(&n.prefix),
        n.replicas,
        s(&n.definitions_dir),
        nats_keys,
        s(&d.url),
        d.max_connections,
        duration(d.acquire_timeout),
        s(&s3.endpoint),
        s(&s3.region),
        s(&s3.access_key),
        s(s3.secret_key.expose_secret()),
        s(&s3.uploads_bucket),
        s(&s3.results_bucket),
        duration(s3.request_timeout),
        s(&settings.routing.default),
        s(&g.listen),
        s(&g.public_url),
        s(&g.max_body),
        duration(g.session_idle),
        duration(g.session_lifetime),
        s(&settings.admin.listen),
        s(settings.ingest.token.expose_secret()),
    );
    text.push_str(&nats_tls);
    for token in &g.tokens {
        text.push_str(&format!(
            "\n[[gateway.tokens]]\ntoken_sha256 = {}\nrole = {}\n",
            s(&token.sha256_hex()),
            s(token.role.name())
        ));
        if let crate::settings::tokens::Role::Uploader { uploader_id } = &token.role {
            text.push_str(&format!("uploader_id = {}\n", s(uploader_id.as_str())));
        }
    }
    for (name, p) in &settings.providers {
        text.push_str(&provider(name, p));
    }
    text
}

/// Writes [`render`] to `path`, readable by its owner only.
pub fn write(path: &Path, settings: &Settings) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let temporary = path.with_extension("toml.new");
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&temporary)?;
    file.write_all(render(settings).as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn settings() -> Settings {
        let env: HashMap<String, String> = [
            ("DOCFLOW__NATS__URL", "nats://127.0.0.1:23456"),
            ("DOCFLOW__NATS__PREFIX", "dev-0123456789"),
            ("DOCFLOW__DATABASE__URL", "sqlite:///tmp/a \"b\"/docflow.db"),
            ("DOCFLOW__S3__ENDPOINT", "http://127.0.0.1:9333"),
            ("DOCFLOW__S3__SECRET_KEY", "s3-secret"),
            ("DOCFLOW__GATEWAY__TOKENS", "[{token = \"t1\", role = \"evaluator\"}, {token = \"t2\", role = \"uploader\", uploader_id = \"teacher-9\"}]"),
            ("DOCFLOW__NATS__USER", "dev-user"),
            ("DOCFLOW__NATS__PASSWORD", "dev-password"),
            ("DOCFLOW__PROVIDERS__SIM__BASE_URL", "http://127.0.0.1:9100"),
            ("DOCFLOW__PROVIDERS__SIM__API_KEY", "key"),
            ("DOCFLOW__PROVIDERS__SIM__CALLBACK_SECRET", "new,old"),
            ("DOCFLOW__PROVIDERS__SIM__RESULT_HOSTS", "127.0.0.1:9100"),
            ("DOCFLOW__PROVIDERS__SIM__DELIVERY", "url"),
            ("DOCFLOW__PROVIDERS__SIM__CALLBACK_TIMEOUT", "90m"),
            ("DOCFLOW__PROVIDERS__SIM__MAX_SIZE", "2GiB"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let empty = tempfile::NamedTempFile::new().unwrap();
        Settings::load(Some(empty.path()), Some(env)).unwrap()
    }

    #[test]
    fn the_written_file_loads_back_to_the_same_settings() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let original = settings();
        write(&path, &original).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let back = Settings::load(Some(&path), Some(HashMap::new())).unwrap();
        assert_eq!(back.nats.url, "nats://127.0.0.1:23456");
        assert_eq!(back.nats.prefix, "dev-0123456789");
        assert_eq!(back.database.url, original.database.url);
        assert_eq!(back.s3.endpoint, "http://127.0.0.1:9333");
        assert_eq!(back.s3.secret_key.expose_secret(), "s3-secret");
        let tokens: Vec<_> = back.gateway.tokens.iter().map(|t| (t.sha256_hex(), t.role.clone())).collect();
        let expected: Vec<_> = original.gateway.tokens.iter().map(|t| (t.sha256_hex(), t.role.clone())).collect();
        assert_eq!(tokens, expected);
        assert_eq!(tokens.len(), 2);
        assert_eq!(back.nats.user.as_deref(), Some("dev-user"));
        assert_eq!(back.nats.password.as_ref().map(|p| p.expose_secret()), Some("dev-password"));
        let sim = &back.providers["sim"];
        assert_eq!(sim.base_url, "http://127.0.0.1:9100");
        assert_eq!(sim.api_key.expose_secret(), "key");
        let secrets: Vec<&str> = sim.callback_secret.all().iter().map(|s| s.expose_secret()).collect();
        assert_eq!(secrets, ["new", "old"]);
        assert_eq!(sim.result_hosts, ["127.0.0.1:9100"]);
        assert_eq!(sim.delivery, Delivery::Url);
        assert_eq!(sim.callback_timeout, std::time::Duration::from_secs(5400));
        assert_eq!(sim.max_size.as_deref(), Some("2GiB"));
        assert_eq!(back.ingest.token.expose_secret(), original.ingest.token.expose_secret());
    }

    #[test]
    fn a_given_file_wins_then_the_working_directory_then_the_data_directory() {
        let cwd = tempfile::tempdir().unwrap();
        let cwd = cwd.path();
        let none = cwd.join("no-system-file");
        let find = |explicit: Option<&Path>, data_dir: Option<&Path>, cwd: &Path| find(explicit, data_dir, cwd, &none);
        let given = Path::new("/etc/docflow/docflow.toml");
        assert_eq!(find(Some(given), None, cwd).as_deref(), Some(given));
        // Nothing anywhere: defaults and environment.
        assert_eq!(find(None, None, cwd), None);
        // A packaged install's file, when there is nothing closer.
        let system = cwd.join("etc-docflow.toml");
        std::fs::write(&system, "").unwrap();
        assert_eq!(super::find(None, None, cwd, &system), Some(system.clone()));
        // What `docflow dev` wrote into ./var.
        std::fs::create_dir_all(cwd.join("var")).unwrap();
        std::fs::write(cwd.join("var").join(FILE_NAME), "").unwrap();
        assert_eq!(find(None, None, cwd), Some(cwd.join("./var").join(FILE_NAME)));
        // ./docflow.toml comes first (the loader reads it)...
        std::fs::write(cwd.join("docflow.toml"), "").unwrap();
        assert_eq!(find(None, None, cwd), None);
        // ...unless a data directory is named.
        let other = cwd.join("other");
        std::fs::create_dir_all(&other).unwrap();
        std::fs::write(other.join(FILE_NAME), "").unwrap();
        assert_eq!(find(None, Some(Path::new("other")), cwd), Some(other.join(FILE_NAME)));
        assert_eq!(find(None, Some(Path::new("missing")), cwd), None);
    }

    #[test]
    fn derived_prefixes_differ_by_data_directory_and_are_valid() {
        let a = derived_prefix(Path::new("/home/a/docflow/var"));
        let b = derived_prefix(Path::new("/home/b/docflow/var"));
        assert_ne!(a, b);
        assert_eq!(a, derived_prefix(Path::new("/home/a/docflow/var")));
        assert_ne!(a, "docflow");
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'), "{a}");
    }
}

//! The settings every test starts from: the embedded defaults, one provider `sim` (the
//! simulator's address, a key and a secret) and what the test adds, all as `DOCFLOW__...`
//! variables, so the same values can be handed to a `docflow` process.

use std::collections::HashMap;
use std::path::Path;

use crate::settings::{Settings, SettingsError};

/// `DOCFLOW__...` variables for [`Settings::load`], starting with provider `sim`.
#[derive(Debug, Clone)]
pub struct TestSettings {
    vars: HashMap<String, String>,
}

impl Default for TestSettings {
    fn default() -> Self {
        TestSettings::new()
    }
}

impl TestSettings {
    /// Provider `sim` at http://127.0.0.1:9100 with API key `k` and callback secret `s`:
    /// the least settings that load.
    pub fn new() -> TestSettings {
        TestSettings { vars: HashMap::new() }
            .set("DOCFLOW__PROVIDERS__SIM__BASE_URL", "http://127.0.0.1:9100")
            .set("DOCFLOW__PROVIDERS__SIM__API_KEY", "k")
            .set("DOCFLOW__PROVIDERS__SIM__CALLBACK_SECRET", "s")
    }

    /// `[nats]` url and prefix.
    pub fn nats(self, url: &str, prefix: &str) -> TestSettings {
        self.set("DOCFLOW__NATS__URL", url).set("DOCFLOW__NATS__PREFIX", prefix)
    }

    /// One variable, replacing an earlier value.
    pub fn set(mut self, key: impl Into<String>, value: impl Into<String>) -> TestSettings {
        self.vars.insert(key.into(), value.into());
        self
    }

    /// Several variables, replacing earlier values.
    pub fn with(mut self, extra: &[(&str, &str)]) -> TestSettings {
        self.vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        self
    }

    /// Removes a variable (the embedded default applies again).
    pub fn unset(mut self, key: &str) -> TestSettings {
        self.vars.remove(key);
        self
    }

    /// The variables, for [`Settings::load`] or a process's environment.
    pub fn vars(&self) -> HashMap<String, String> {
        self.vars.clone()
    }

    /// The variables as pairs, for [`super::Process::spawn`].
    pub fn pairs(&self) -> Vec<(String, String)> {
        self.vars.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// The settings, over the settings file `file` when given.
    pub fn try_load(&self, file: Option<&Path>) -> Result<Settings, SettingsError> {
        Settings::load(file, Some(self.vars()))
    }

    /// The settings; panics when they do not load.
    pub fn load(&self) -> Settings {
        self.try_load(None).unwrap_or_else(|e| panic!("test settings do not load: {e}"))
    }
}

//! `docflow config set KEY VALUE [--file PATH]` · `config get KEY` · `config check`: the
//! settings as the service reads them (`docflow::settings::edit` does the work).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use docflow::settings::{ConfigFiles, Settings, edit};

use crate::outln;

#[derive(Subcommand)]
pub enum ConfigCommand {
    /// Write one key into a drop-in file (other keys and comments kept; a new file is 0640).
    Set {
        /// A dotted key, e.g. admin.listen or providers.acme.api_key.
        key: String,
        /// Text, a number, true/false, a duration such as 30s, or a TOML array such as '["1s", "5s"]'.
        value: String,
        /// The file to write, relative to the settings file's directory [default: conf.d/50-local.toml].
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Print one key's value as docflow reads it (secrets are never printed).
    Get { key: String },
    /// Load and validate every source; print `ok` or every problem.
    Check,
}

pub fn run(command: ConfigCommand, files: &ConfigFiles) -> anyhow::Result<ExitCode> {
    match command {
        ConfigCommand::Set { key, value, file } => {
            let written = edit::set(files, file.as_deref(), &key, &value, None)?;
            outln!("{key} set in {}", written.file.display())?;
            if let Some(variable) = written.overridden_by {
                eprintln!("warning: {variable} is set in this environment and overrides the file");
            }
        }
        ConfigCommand::Get { key } => {
            let loaded = Settings::read(None, files, None)?;
            outln!("{}", edit::get(&loaded, &key)?)?;
        }
        ConfigCommand::Check => {
            let inspection = Settings::inspect(files, None, None);
            for warning in &inspection.warnings {
                eprintln!("warning: {warning}");
            }
            if !inspection.problems.is_empty() {
                for problem in inspection.problems.iter().flat_map(|p| p.problems()) {
                    eprintln!("error: {problem}");
                }
                return Ok(ExitCode::FAILURE);
            }
            outln!("ok")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

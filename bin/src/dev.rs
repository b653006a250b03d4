//! `docflow dev`: the whole stack on one machine (see `docflow::dev`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use docflow::dev::{self, DevOptions};

#[derive(Debug, clap::Args)]
pub struct DevArgs {
    /// Exit once every sample is normalized: 0, or 1 when one failed, was rejected or
    /// the deadline passed.
    #[arg(long)]
    exit_after_samples: bool,
    /// How long the samples get to reach a final state.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    samples_deadline: Duration,
    /// The nats-server binary of the child server [default: DOCFLOW_NATS_SERVER, else nats-server].
    #[arg(long)]
    nats_server: Option<PathBuf>,
    /// Use this existing NATS server instead of a child one; the streams then get a prefix
    /// of their own, derived from the data directory (unless nats.prefix is set to
    /// something else than `docflow`), so they are shared with no other docflow.
    #[arg(long, value_name = "URL")]
    nats_url: Option<String>,
}

/// `data_dir` is the global `--data-dir` (the database, the objects, the NATS store, the
/// generated secrets and the settings file live there), default `./var`.
pub async fn run(args: DevArgs, config: Option<PathBuf>, data_dir: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    // The console is the output; logs show what goes wrong (RUST_LOG=info for more).
    let _telemetry = super::init_logging("text", "warn", None)?;
    let data_dir = data_dir.unwrap_or_else(|| PathBuf::from(docflow::dev::config_file::DEFAULT_DATA_DIR));
    let mut options = DevOptions::new(data_dir);
    options.nats_url = args.nats_url;
    options.config = config;
    options.exit_after_samples = args.exit_after_samples;
    options.samples_deadline = args.samples_deadline;
    if let Some(binary) = args.nats_server {
        options.nats_server = binary;
    }
    dev::run(options, None, super::shutdown_on_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

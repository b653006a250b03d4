//! `docflow dev`: the whole stack on one machine (see `docflow::dev`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use docflow::dev::{self, DevOptions};

#[derive(Debug, clap::Args)]
pub struct DevArgs {
    /// Where the database, the objects, the NATS store and the generated secrets live.
    #[arg(long, default_value = "./var")]
    data_dir: PathBuf,
    /// Exit once every sample is normalized: 0, or 1 when one failed, was rejected or
    /// the deadline passed.
    #[arg(long)]
    exit_after_samples: bool,
    /// How long the samples get to reach a final state.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    samples_deadline: Duration,
    /// The nats-server binary started when no NATS server answers [default: DOCFLOW_NATS_SERVER, else nats-server].
    #[arg(long)]
    nats_server: Option<PathBuf>,
}

pub async fn run(args: DevArgs, config: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    // The console is the output; logs show what goes wrong (RUST_LOG=info for more).
    super::init_logging("text", "warn");
    let mut options = DevOptions::new(args.data_dir);
    options.config = config;
    options.exit_after_samples = args.exit_after_samples;
    options.samples_deadline = args.samples_deadline;
    if let Some(binary) = args.nats_server {
        options.nats_server = binary;
    }
    dev::run(options, None, super::shutdown_on_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

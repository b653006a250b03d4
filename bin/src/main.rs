//! The `docflow` binary: parses the command line, loads settings, starts logging and calls
//! into the library. Exit status: 0 success, 1 failure, 2 usage error.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use docflow::app::{self, Component};
use docflow::dev::config_file;
use docflow::settings::Settings;
use tokio_util::sync::CancellationToken;

mod dev;
mod dlq;
mod retry;
mod status;

#[derive(Parser)]
#[command(name = "docflow", version, about = "Files through an outside processing service, checked and normalized")]
struct Cli {
    /// Settings file [default: ./docflow.toml, else DATA_DIR/docflow.toml (the one `docflow dev` writes), else /etc/docflow/docflow.toml].
    #[arg(long, global = true, env = "DOCFLOW_CONFIG")]
    config: Option<PathBuf>,
    /// `docflow dev`'s data directory [default: ./var]; other commands read the settings it wrote there.
    #[arg(long, global = true, env = "DOCFLOW_DATA_DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create or update streams and consumers from nats/, migrate the database, create missing buckets.
    Setup,
    /// Run components in one process; none named = all.
    Run {
        /// Components to run.
        #[arg(value_parser = component_parser())]
        components: Vec<Component>,
    },
    /// The whole stack on one machine on embedded defaults.
    Dev(dev::DevArgs),
    /// The reference provider of docs/provider-protocol.md, with failure injection.
    ProviderSim(docflow::provider::sim::SimOptions),
    /// A document's state and timeline, by id or bucket/key.
    Status {
        id_or_key: String,
        #[arg(long)]
        json: bool,
    },
    /// Inspect and redrive dead letters.
    #[command(subcommand)]
    Dlq(dlq::DlqCommand),
    /// Restart failed or rejected documents in a new submission round.
    Retry(retry::RetryArgs),
}

/// Parses a component name; help and errors list the components.
fn component_parser() -> impl clap::builder::TypedValueParser<Value = Component> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(Component::ALL.map(|c| c.as_str()))
        .map(|name| name.parse::<Component>().expect("a possible value is a component"))
}

fn main() -> ExitCode {
    match start(Cli::parse()) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// The commands that read the settings load them once, before the runtime starts: `docflow
/// run` sizes its runtime by `runtime.worker_threads`; every other command runs on tokio's
/// default.
fn start(cli: Cli) -> anyhow::Result<ExitCode> {
    let runtime = |threads| app::runtime(threads).context("starting the tokio runtime");
    match cli.command {
        Command::Dev(args) => runtime(0)?.block_on(dev::run(args, cli.config, cli.data_dir)),
        Command::ProviderSim(options) => {
            init_logging("text", "info");
            runtime(0)?.block_on(provider_sim(options))
        }
        command => {
            let settings = load_settings(cli.config.as_deref(), cli.data_dir.as_deref())?;
            let threads = if matches!(command, Command::Run { .. }) { settings.runtime.worker_threads } else { 0 };
            runtime(threads)?.block_on(dispatch(command, settings))
        }
    }
}

/// The settings of every command but `dev` and `provider-sim`, from the file
/// [`config_file::find`] picks: `--config`, `./docflow.toml`, what `docflow dev` wrote
/// into its data directory, or `/etc/docflow/docflow.toml`.
fn load_settings(config: Option<&Path>, data_dir: Option<&Path>) -> anyhow::Result<Settings> {
    let cwd = std::env::current_dir().context("reading the working directory")?;
    let file = config_file::find(config, data_dir, &cwd, Path::new(config_file::SYSTEM_FILE));
    let nothing_found = file.is_none() && !cwd.join("docflow.toml").exists();
    Settings::load(file.as_deref(), None).map_err(|error| {
        if nothing_found { anyhow::anyhow!("{error}\n{}", config_file::not_found_hint(data_dir)) } else { error.into() }
    })
}

async fn dispatch(command: Command, settings: Settings) -> anyhow::Result<ExitCode> {
    // `docflow run` logs at the configured level; one-shot commands print their answer and
    // log only what goes wrong.
    let level = if matches!(command, Command::Run { .. }) { settings.log.level.as_str() } else { "warn" };
    init_logging(&settings.log.format, level);
    match command {
        Command::Setup => {
            let report = app::setup(&settings).await?;
            print!("{}", report.topology);
            println!("database: migrated");
            if report.buckets_created.is_empty() {
                println!("buckets: present");
            } else {
                println!("buckets created: {}", report.buckets_created.join(", "));
            }
        }
        Command::Run { components } => {
            let shutdown = shutdown_on_signal();
            app::run(Arc::new(settings), &components, shutdown).await?;
        }
        Command::Status { id_or_key, json } => return status::run(&settings, &id_or_key, json).await,
        Command::Dlq(command) => return dlq::run(&settings, command).await,
        Command::Retry(args) => return retry::run(&settings, args).await,
        Command::Dev(_) | Command::ProviderSim(_) => unreachable!("started without settings, in start"),
    }
    Ok(ExitCode::SUCCESS)
}

async fn provider_sim(options: docflow::provider::sim::SimOptions) -> anyhow::Result<ExitCode> {
    let listener = tokio::net::TcpListener::bind(&options.listen)
        .await
        .with_context(|| format!("cannot listen on {}; choose another --listen address", options.listen))?;
    let address = listener.local_addr()?;
    println!("provider-sim listening on http://{address}");
    docflow::provider::sim::run(options, listener, shutdown_on_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

/// One token, cancelled by SIGTERM or Ctrl-C.
fn shutdown_on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        tracing::info!("shutting down");
        cancel.cancel();
    });
    token
}

fn init_logging(format: &str, level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

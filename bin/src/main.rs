//! The `docflow` binary: parses the command line, loads settings, starts logging and calls
//! into the library. Exit status: 0 success, 1 failure, 2 usage error.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use docflow::app::{self, Component};
use docflow::dev::config_file;
use docflow::settings::{ConfigFiles, Needs, Settings};
use tokio_util::sync::CancellationToken;

mod config;
mod dev;
mod dlq;
mod forget;
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
    /// Log lines as `text` or `json` (one object per line) [default: log.format].
    #[arg(long, global = true, value_parser = ["text", "json"])]
    log_format: Option<String>,
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
    /// A document's state and timeline, by id or bucket/key; without one, the whole pipeline at a glance.
    Status {
        /// A document id or BUCKET/KEY; none: documents per state, each stage's backlog and
        /// dead letters, each provider's breaker, the oldest document in flight.
        id_or_key: Option<String>,
        #[arg(long)]
        json: bool,
        /// Redraw the pipeline overview in place every few seconds until Ctrl-C.
        #[arg(long, conflicts_with_all = ["json", "id_or_key"])]
        watch: bool,
        /// Seconds between two pictures of --watch.
        #[arg(long, default_value_t = 2.0, requires = "watch")]
        every: f64,
    },
    /// Inspect and redrive dead letters.
    #[command(subcommand)]
    Dlq(dlq::DlqCommand),
    /// Restart failed or rejected documents in a new submission round.
    Retry(retry::RetryArgs),
    /// Erase documents: rows, results, dead letters, timers, the provider's copy (and the upload if asked).
    Forget(forget::ForgetArgs),
    /// Read, check or change the settings.
    #[command(subcommand)]
    Config(config::ConfigCommand),
}

impl Command {
    /// The settings sections the command uses: only those are required.
    fn needs(&self) -> Needs {
        match self {
            Command::Setup => Needs::SETUP,
            Command::Status { id_or_key: Some(_), .. } => Needs::DATABASE,
            Command::Status { id_or_key: None, .. } => Needs::DATABASE_AND_NATS,
            Command::Dlq(_) => Needs::NATS,
            Command::Retry(_) | Command::Forget(_) => Needs::DATABASE_AND_NATS,
            _ => Needs::ALL,
        }
    }
}

/// `println!` that returns the error instead of panicking when stdout is closed
/// (`docflow status ID | head`); [`main`] exits quietly on it.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
    }};
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
        // The reader went away (`| head`): nothing more to say.
        Err(error) if closed_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn closed_pipe(error: &anyhow::Error) -> bool {
    error
        .chain()
        .any(|e| e.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe))
}

/// The commands that read the settings load them once, before the runtime starts: `docflow
/// run` sizes its runtime by `runtime.worker_threads`; every other command runs on tokio's
/// default.
fn start(cli: Cli) -> anyhow::Result<ExitCode> {
    let runtime = |threads| app::runtime(threads).context("starting the tokio runtime");
    match cli.command {
        Command::Dev(args) => runtime(0)?.block_on(dev::run(args, cli.config, cli.data_dir)),
        Command::ProviderSim(options) => {
            let _telemetry = init_logging(cli.log_format.as_deref().unwrap_or("text"), "info", None)?;
            runtime(0)?.block_on(provider_sim(options))
        }
        Command::Config(command) => {
            config::run(command, &config_files(cli.config.as_deref(), cli.data_dir.as_deref())?)
        }
        command => {
            let settings = load_settings(cli.config.as_deref(), cli.data_dir.as_deref(), command.needs())?;
            let threads = if matches!(command, Command::Run { .. }) { settings.runtime.worker_threads } else { 0 };
            runtime(threads)?.block_on(dispatch(command, settings, cli.log_format))
        }
    }
}

/// The settings file [`config_file::find`] picks (`--config`, `./docflow.toml`, what
/// `docflow dev` wrote into its data directory, or `/etc/docflow/docflow.toml`) and the
/// `conf.d/*.toml` beside it.
fn config_files(config: Option<&Path>, data_dir: Option<&Path>) -> anyhow::Result<ConfigFiles> {
    let cwd = std::env::current_dir().context("reading the working directory")?;
    let file = config_file::find(config, data_dir, &cwd, Path::new(config_file::SYSTEM_FILE));
    Ok(ConfigFiles::find(file.as_deref())?)
}

/// The settings of every command but `dev`, `provider-sim` and `config`, checked for what
/// the command `needs`; renamed keys are warned about on stderr.
fn load_settings(config: Option<&Path>, data_dir: Option<&Path>, needs: Needs) -> anyhow::Result<Settings> {
    let files = config_files(config, data_dir)?;
    // Nothing to read at all (no file, no `DOCFLOW__` variable): the defaults alone would
    // only lead to a connection error, so say where settings come from instead.
    if files.main.is_none() && !std::env::vars_os().any(|(name, _)| name.to_string_lossy().starts_with("DOCFLOW__")) {
        anyhow::bail!("{}", config_file::not_found_hint(data_dir));
    }
    let hint = |error: docflow::settings::SettingsError| match &files.main {
        Some(_) => anyhow::Error::from(error),
        None => anyhow::anyhow!("{error}\n{}", config_file::not_found_hint(data_dir)),
    };
    let loaded = Settings::read(None, &files, None).map_err(hint)?;
    for warning in &loaded.warnings {
        eprintln!("warning: {warning}");
    }
    loaded.settings.validate_for(needs).map_err(hint)?;
    Ok(loaded.settings)
}

async fn dispatch(command: Command, settings: Settings, log_format: Option<String>) -> anyhow::Result<ExitCode> {
    // `docflow run` logs at the configured level and exports traces when asked; one-shot
    // commands print their answer and log only what goes wrong.
    let run = matches!(command, Command::Run { .. });
    let level = if run { settings.log.level.as_str() } else { "warn" };
    let format = log_format.as_deref().unwrap_or(&settings.log.format);
    let _telemetry = init_logging(format, level, run.then_some(&settings.telemetry))?;
    match command {
        Command::Setup => {
            let report = app::setup(&settings).await?;
            {
                use std::io::Write as _;
                write!(std::io::stdout().lock(), "{}", report.topology)?;
            }
            outln!("database: migrated")?;
            if !report.handed_over.is_empty() {
                outln!("database files handed to the owner of their directory: {}", report.handed_over.join(", "))?;
            }
            if report.buckets_created.is_empty() {
                outln!("buckets: present")?;
            } else {
                outln!("buckets created: {}", report.buckets_created.join(", "))?;
            }
        }
        Command::Run { components } => {
            let shutdown = shutdown_on_signal();
            app::run(Arc::new(settings), &components, shutdown).await?;
        }
        Command::Status { id_or_key: Some(id_or_key), json, .. } => {
            return status::run(&settings, &id_or_key, json).await;
        }
        Command::Status { id_or_key: None, json, watch, every } => {
            return status::overview(
                &settings,
                json,
                watch.then(|| std::time::Duration::from_secs_f64(every.max(0.2))),
            )
            .await;
        }
        Command::Dlq(command) => return dlq::run(&settings, command).await,
        Command::Retry(args) => return retry::run(&settings, args).await,
        Command::Forget(args) => return forget::run(&settings, args).await,
        Command::Dev(_) | Command::ProviderSim(_) | Command::Config(_) => {
            unreachable!("started without settings, in start")
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn provider_sim(options: docflow::provider::sim::SimOptions) -> anyhow::Result<ExitCode> {
    let listener = tokio::net::TcpListener::bind(&options.listen)
        .await
        .with_context(|| format!("cannot listen on {}; choose another --listen address", options.listen))?;
    let address = listener.local_addr()?;
    outln!("provider-sim listening on http://{address}")?;
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

/// Logs to stderr in `format` at `level` (`RUST_LOG` overrides it), and exports traces
/// when `telemetry` names an OTLP endpoint; the guard flushes them at exit.
fn init_logging(
    format: &str,
    level: &str,
    telemetry: Option<&docflow::settings::TelemetrySettings>,
) -> anyhow::Result<docflow::telemetry::Guard> {
    Ok(docflow::telemetry::init(&docflow::telemetry::Telemetry {
        log_format: format.to_owned(),
        level: level.to_owned(),
        otlp_endpoint: telemetry.map(|t| t.otlp_endpoint.clone()),
        service_name: telemetry.map_or_else(|| "docflow".to_owned(), |t| t.service_name.clone()),
    })?)
}

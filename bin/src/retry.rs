//! `docflow retry ID_OR_BUCKET/KEY... | --state failed|rejected [--since DURATION]`: restart
//! failed or rejected documents in a new submission round (the transfer stage does it).

use std::process::ExitCode;
use std::time::Duration;

use clap::{ArgGroup, Args, ValueEnum};
use docflow::db::State;
use docflow::settings::Settings;

use crate::outln;
use docflow::stages::transfer::restart::Retry;

#[derive(Args)]
#[command(group(ArgGroup::new("which").required(true).args(["documents", "state"])))]
pub struct RetryArgs {
    /// Documents to restart, by id or BUCKET/KEY.
    documents: Vec<String>,
    /// Every document in this state.
    #[arg(long, value_enum)]
    state: Option<Restartable>,
    /// With --state: only documents that reached it this recently (e.g. 2h, 30m).
    #[arg(long, requires = "state", value_parser = humantime::parse_duration)]
    since: Option<Duration>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Restartable {
    Failed,
    Rejected,
}

pub async fn run(settings: &Settings, args: RetryArgs) -> anyhow::Result<ExitCode> {
    let retry = Retry::connect(settings).await?;
    let mut documents = Vec::new();
    let mut failures = 0;
    if let Some(state) = args.state {
        let state = match state {
            Restartable::Failed => State::Failed,
            Restartable::Rejected => State::Rejected,
        };
        documents = retry.in_state(state, args.since).await?;
        if documents.is_empty() {
            outln!("no {state} documents to restart")?;
        }
    }
    for id_or_key in &args.documents {
        match retry.find(id_or_key).await {
            Ok(document) => documents.push(document),
            Err(error) => {
                eprintln!("error: {error}");
                failures += 1;
            }
        }
    }
    let mut restarted = 0;
    for document in &documents {
        match retry.restart(document).await {
            Ok(()) => {
                restarted += 1;
                let error = match (&document.error_stage, &document.error_reason) {
                    (Some(stage), Some(reason)) => format!(" in {stage}: {reason}"),
                    _ => String::new(),
                };
                outln!(
                    "restarted {}  {}/{}  was {}{error}; submission round {} queued for transfer",
                    document.id,
                    document.bucket,
                    document.key,
                    document.state,
                    document.submission_round + 1
                )?;
            }
            Err(error) => {
                eprintln!("error: {error}");
                failures += 1;
            }
        }
    }
    retry.close().await;
    if restarted > 0 {
        outln!("{restarted} document(s) restarted; `docflow status ID` follows each")?;
    }
    Ok(if failures == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

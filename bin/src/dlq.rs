//! `docflow dlq list [--stage S] [--json]` · `dlq show SEQ [--json]` ·
//! `dlq replay SEQ... | --stage S | --all` · `dlq purge --stage S | --all`:
//! inspect and redrive dead letters.

use std::process::ExitCode;

use clap::builder::PossibleValuesParser;
use clap::{ArgGroup, Subcommand};
use docflow::settings::Settings;

use crate::outln;
use docflow::ids::StageId;
use docflow::stages::transfer::restart::ReplayRestarts;
use docflow::worker::dlq::DeadLetter;
use docflow::worker::dlq_batch::DeadLetters;

#[derive(Subcommand)]
pub enum DlqCommand {
    /// List dead letters, oldest first.
    List {
        /// Only this stage's dead letters.
        #[arg(long, value_parser = PossibleValuesParser::new(StageId::ALL.map(StageId::as_str)))]
        stage: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// One dead letter with its headers and body.
    Show {
        /// Its sequence in the dead-letter stream (`docflow dlq list` shows them).
        seq: u64,
        #[arg(long)]
        json: bool,
    },
    /// Republish dead letters to their original subject, then delete them.
    #[command(group(ArgGroup::new("which").required(true).args(["seqs", "stage", "all"])))]
    Replay {
        /// Sequences to replay.
        seqs: Vec<u64>,
        /// Every dead letter of this stage.
        #[arg(long, value_parser = PossibleValuesParser::new(StageId::ALL.map(StageId::as_str)))]
        stage: Option<String>,
        /// Every dead letter.
        #[arg(long)]
        all: bool,
    },
    /// Delete dead letters without replaying them.
    #[command(group(ArgGroup::new("which").required(true).args(["stage", "all"])))]
    Purge {
        /// Every dead letter of this stage.
        #[arg(long, value_parser = PossibleValuesParser::new(StageId::ALL.map(StageId::as_str)))]
        stage: Option<String>,
        /// Every dead letter.
        #[arg(long)]
        all: bool,
    },
}

pub async fn run(settings: &Settings, command: DlqCommand) -> anyhow::Result<ExitCode> {
    let letters = DeadLetters::connect(settings, &ReplayRestarts).await?;
    let code = match command {
        DlqCommand::List { stage, json } => {
            let list = letters.list(stage.as_deref()).await?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&list)?)?;
            } else if list.is_empty() {
                outln!("no dead letters")?;
            } else {
                outln!(
                    "{:>8}  {:<9}  {:>8}  {:<25}  {:<36}  ERROR",
                    "SEQ",
                    "STAGE",
                    "ATTEMPTS",
                    "FAILED AT",
                    "DOCUMENT"
                )?;
                for l in &list {
                    let document = l.document_id.as_deref().unwrap_or("-");
                    outln!(
                        "{:>8}  {:<9}  {:>8}  {:<25}  {:<36}  {}",
                        l.sequence,
                        l.stage,
                        l.attempts,
                        l.failed_at,
                        document,
                        l.error
                    )?;
                }
            }
            ExitCode::SUCCESS
        }
        DlqCommand::Show { seq, json } => {
            show(&letters.show(seq).await?, json)?;
            ExitCode::SUCCESS
        }
        DlqCommand::Replay { seqs, stage, all } => {
            let report = if all || stage.is_some() {
                letters.replay_stage(stage.as_deref()).await?
            } else {
                letters.replay(&seqs).await
            };
            for seq in &report.replayed {
                outln!("replayed #{seq}")?;
            }
            for (seq, error) in &report.failed {
                eprintln!("error: #{seq} not replayed: {error}");
            }
            if report.replayed.is_empty() && report.failed.is_empty() {
                outln!("no dead letters to replay")?;
            }
            if report.is_success() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
        }
        DlqCommand::Purge { stage, all: _ } => {
            let purged = letters.purge(stage.as_deref()).await?;
            outln!("purged {purged} dead letter(s)")?;
            ExitCode::SUCCESS
        }
    };
    letters.close().await;
    Ok(code)
}

fn show(letter: &DeadLetter, json: bool) -> anyhow::Result<()> {
    let body = String::from_utf8_lossy(&letter.payload);
    if json {
        let mut value = serde_json::to_value(letter)?;
        value["payload"] = serde_json::from_slice(&letter.payload).unwrap_or_else(|_| body.clone().into());
        outln!("{}", serde_json::to_string_pretty(&value)?)?;
        return Ok(());
    }
    outln!("sequence:         {}", letter.sequence)?;
    outln!("stage:            {}", letter.stage)?;
    outln!("attempts:         {}", letter.attempts)?;
    outln!("failed at:        {}", letter.failed_at)?;
    outln!("original subject: {}", letter.original_subject)?;
    outln!("document:         {}", letter.document_id.as_deref().unwrap_or("-"))?;
    outln!("error:            {}", letter.error)?;
    outln!("headers:")?;
    for (name, values) in letter.headers.iter() {
        for value in values {
            outln!("  {name}: {value}")?;
        }
    }
    outln!("body ({} bytes):", letter.payload.len())?;
    match serde_json::from_slice::<serde_json::Value>(&letter.payload) {
        Ok(value) => outln!("{}", serde_json::to_string_pretty(&value)?)?,
        Err(_) => outln!("{body}")?,
    }
    Ok(())
}

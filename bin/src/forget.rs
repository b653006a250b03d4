//! `docflow forget --document ID... | --uploader ID [--with-upload] [--yes]`: erase documents
//! (the answer to an erasure request). The command checks and records the request, asks
//! the `forget` component through its stream, and waits for the outcome of each document.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{ArgGroup, Args};
use docflow::forget::records::Outcome;
use docflow::forget::request::{self, Target};
use docflow::ids::UploaderId;
use docflow::settings::Settings;

use crate::outln;

#[derive(Args)]
#[command(group(ArgGroup::new("what").required(true).args(["documents", "uploader"])))]
pub struct ForgetArgs {
    /// Documents to erase, by id.
    #[arg(long = "document", num_args = 1.., value_name = "ID")]
    documents: Vec<String>,
    /// Erase every document of this uploader (teacher or trainee id).
    #[arg(long, value_name = "ID")]
    uploader: Option<UploaderId>,
    /// Delete the uploaded file from the uploads bucket too.
    #[arg(long)]
    with_upload: bool,
    /// Do not ask for confirmation.
    #[arg(long)]
    yes: bool,
    /// Who asks, for the audit [default: $USER].
    #[arg(long, value_name = "NAME")]
    by: Option<String>,
    /// How long to wait for the outcome; the erasure goes on after it.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    wait: Duration,
}

pub async fn run(settings: &Settings, args: ForgetArgs) -> anyhow::Result<ExitCode> {
    let db = docflow::db::Db::connect(&settings.database).await?;
    let target = match args.uploader {
        Some(uploader) => Target::Uploader(uploader),
        None => Target::Documents(args.documents),
    };
    let found = match request::resolve(&db, &target).await {
        Ok(found) => found,
        Err(error) => {
            eprintln!("error: {error}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let upload = if args.with_upload { " and their uploaded files" } else { "" };
    outln!("{} document(s) will be erased everywhere docflow and its provider hold them{upload}:", found.len())?;
    for document in &found {
        outln!("  {}  uploader {}", document.id, document.uploader_id)?;
    }
    if !args.yes && !confirmed()? {
        eprintln!("nothing erased");
        return Ok(ExitCode::from(2));
    }
    let by = args.by.or_else(|| std::env::var("USER").ok()).unwrap_or_else(|| "operator".into());
    let request_id = request::submit(settings, &db, &found, args.with_upload, &by).await?;
    outln!("erasure request {request_id} queued; waiting for the forget component")?;
    // The uploader's own record, not a document's: their e-mail address and opt-in.
    if let Target::Uploader(uploader) = &target
        && docflow::mail::store::MailStore::new(db.clone()).forget_contact(uploader).await?
    {
        outln!("the e-mail address of {uploader} is erased")?;
    }
    let mut done = 0;
    let total = found.len();
    let waited = request::wait(&db, &request_id, args.wait, |erasure| {
        done += 1;
        let outcome = erasure.outcome.as_str();
        let _ = outln!("[{done}/{total}] {} {outcome}: {}", erasure.document_id, erasure.detail);
    })
    .await;
    let erasures = match waited {
        Ok(erasures) => erasures,
        Err(error) => {
            eprintln!("error: {error}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let unfinished = erasures.iter().filter(|e| e.outcome != Outcome::Erased).count();
    if unfinished > 0 {
        eprintln!(
            "error: {unfinished} of {total} erasure(s) not complete (see above); the audit keeps them under request {request_id}"
        );
        return Ok(ExitCode::FAILURE);
    }
    outln!("all {total} document(s) erased; backups made before now still hold copies until they expire")?;
    Ok(ExitCode::SUCCESS)
}

/// Asks on the terminal; without one, refuses (a script passes `--yes`).
fn confirmed() -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        eprintln!("error: not a terminal: pass --yes to erase without confirmation");
        return Ok(false);
    }
    eprint!("type yes to erase: ");
    std::io::stderr().flush().ok();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).context("reading the confirmation")?;
    Ok(answer.trim() == "yes")
}

//! What `docflow dev` prints while the samples go through: one line per document per
//! state, a spinner while work is in flight, then a table. It reads the documents'
//! timelines on a short interval: the one place that reads the database this way, for a
//! person watching, never as a queue.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::samples::Uploaded;
use crate::db::{Db, State};

const POLL: Duration = Duration::from_millis(250);
const SPINNER: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/// One sample's progress.
#[derive(Debug, Clone)]
pub struct Progress {
    pub upload: Uploaded,
    pub state: Option<State>,
    pub findings: Option<usize>,
    pub error: Option<String>,
    started: Instant,
    pub took: Option<Duration>,
    printed: usize,
}

impl Progress {
    pub fn new(upload: Uploaded, started: Instant) -> Progress {
        Progress { upload, state: None, findings: None, error: None, started, took: None, printed: 0 }
    }

    fn done(&self) -> bool {
        self.state.is_some_and(|s| s.is_terminal())
    }
}

/// How following ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Followed {
    /// Every sample reached a terminal state.
    Finished,
    DeadlinePassed,
    Interrupted,
}

/// Prints each new timeline entry of every sample until all are terminal, `deadline`
/// passes or `shutdown` is cancelled.
pub async fn follow(db: &Db, progress: &mut [Progress], deadline: Duration, shutdown: &CancellationToken) -> Followed {
    let end = Instant::now() + deadline;
    let tty = std::io::stdout().is_terminal();
    let mut tick = tokio::time::interval(POLL);
    let mut frame = 0usize;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = shutdown.cancelled() => {
                clear_spinner(tty);
                return Followed::Interrupted;
            }
        }
        for p in progress.iter_mut().filter(|p| !p.done()) {
            update(db, p, tty).await;
        }
        if progress.iter().all(Progress::done) {
            clear_spinner(tty);
            return Followed::Finished;
        }
        if Instant::now() >= end {
            clear_spinner(tty);
            return Followed::DeadlinePassed;
        }
        if tty {
            let waiting = progress.iter().filter(|p| !p.done()).count();
            frame = (frame + 1) % SPINNER.len();
            print!("\r\x1b[2K{} {waiting} document(s) in flight", SPINNER[frame]);
            let _ = std::io::stdout().flush();
        }
    }
}

async fn update(db: &Db, p: &mut Progress, tty: bool) {
    let Ok(timeline) = db.timeline(p.upload.id).await else {
        return;
    };
    for entry in timeline.iter().skip(p.printed) {
        clear_spinner(tty);
        let reason = entry.reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default();
        println!(
            "  {:<24} {:<11} {:<10} attempt {}{reason}",
            p.upload.sample.name,
            entry.state.as_str(),
            entry.stage,
            entry.attempt
        );
        p.state = Some(entry.state);
    }
    p.printed = p.printed.max(timeline.len());
    if p.done() && p.took.is_none() {
        p.took = Some(p.started.elapsed());
        if let Ok(Some(document)) = db.get(p.upload.id).await {
            p.findings =
                document.normalized.as_ref().and_then(|n| n.get("findings")).and_then(|f| f.as_array()).map(Vec::len);
            p.error = document.error_reason.map(|r| format!("{}: {r}", document.error_stage.unwrap_or_default()));
        }
    }
}

fn clear_spinner(tty: bool) {
    if tty {
        print!("\r\x1b[2K");
        let _ = std::io::stdout().flush();
    }
}

/// The final table: document, kind, state, findings, time taken.
pub fn table(progress: &[Progress]) -> String {
    let mut out = format!("{:<24} {:<9} {:<11} {:>8} {:>9}\n", "document", "kind", "state", "findings", "time");
    for p in progress {
        let state = p.state.map(|s| s.as_str()).unwrap_or("not seen");
        let findings = p.findings.map(|n| n.to_string()).unwrap_or_else(|| "-".into());
        let took = p.took.map(|d| format!("{:.1}s", d.as_secs_f64())).unwrap_or_else(|| "-".into());
        out.push_str(&format!(
            "{:<24} {:<9} {:<11} {:>8} {:>9}\n",
            p.upload.sample.name, p.upload.sample.kind, state, findings, took
        ));
        if let Some(error) = &p.error {
            out.push_str(&format!("    {error}\n"));
        }
    }
    out
}

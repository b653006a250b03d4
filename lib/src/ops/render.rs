//! The overview as text (`docflow status`), as a redrawn frame (`--watch`) and as JSON
//! (`--json`, field names fixed for scripts).

use std::fmt::Write as _;
use std::io::Write;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::{Ops, Overview};
use crate::db::State;

/// A duration as an operator reads it: `45s`, `12m`, `3h 5m`, `2d 4h`.
pub fn age(now: DateTime<Utc>, then: DateTime<Utc>) -> String {
    let seconds = (now - then).num_seconds().max(0);
    match seconds {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        s => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
    }
}

/// The overview as the text `docflow status` prints.
pub fn text(overview: &Overview) -> String {
    let mut out = String::new();
    let now = overview.at;
    let _ = writeln!(out, "docflow pipeline at {}", now.format("%Y-%m-%d %H:%M:%S UTC"));
    let _ = writeln!(out);
    let states: Vec<String> = State::ALL
        .iter()
        .map(|s| format!("{} {}", s.as_str(), overview.documents.get(s.as_str()).unwrap_or(&0)))
        .collect();
    let _ = writeln!(out, "documents   {}   (in flight: {})", states.join("  "), overview.in_flight);
    let _ = writeln!(out);
    // As wide as the longest stream/consumer pair: the prefix is the operator's choice.
    let width = overview.stages.iter().map(|s| s.stream.len() + 1 + s.consumer.len()).max().unwrap_or(0).max(15);
    let _ = writeln!(
        out,
        "{:<10} {:<width$} {:>8} {:>10} {:>12} {:>8} {:>13}",
        "STAGE", "STREAM/CONSUMER", "PENDING", "IN FLIGHT", "REDELIVERED", "WORKERS", "DEAD LETTERS"
    );
    for stage in &overview.stages {
        let dead = overview.dead_letters.get(stage.stage).copied().unwrap_or(0);
        // A consumer no worker pulls from shows no waiting pull request: say so, it is
        // the first thing to check when its pending grows.
        let workers = if stage.waiting > 0 { "pulling" } else { "none" };
        let _ = writeln!(
            out,
            "{:<10} {:<width$} {:>8} {:>10} {:>12} {:>8} {:>13}",
            stage.stage,
            format!("{}/{}", stage.stream, stage.consumer),
            stage.pending,
            stage.in_flight,
            stage.redelivered,
            workers,
            dead
        );
    }
    let others: Vec<String> = overview
        .dead_letters
        .iter()
        .filter(|(stage, n)| **n > 0 && !overview.stages.iter().any(|s| s.stage == stage.as_str()))
        .map(|(stage, n)| format!("{stage} {n}"))
        .collect();
    if !others.is_empty() {
        let _ = writeln!(out, "other dead letters: {}", others.join(", "));
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "{:<16} {:<10} REPORTED BY", "PROVIDER", "BREAKER");
    for provider in &overview.providers {
        let by = if provider.reported_by.is_empty() {
            "no running transfer stage answered".to_owned()
        } else {
            provider.reported_by.join(", ")
        };
        let _ = writeln!(out, "{:<16} {:<10} {by}", provider.provider, provider.state);
    }
    let _ = writeln!(out);
    match &overview.oldest_in_flight {
        Some(oldest) => {
            let _ = writeln!(
                out,
                "oldest in flight: {} {} for {}, waits at {} (created {} ago)",
                oldest.id,
                oldest.state,
                age(now, oldest.since),
                oldest.waits_at,
                age(now, oldest.created_at)
            );
        }
        None => {
            let _ = writeln!(out, "oldest in flight: none, every document is normalized, failed or rejected");
        }
    }
    let _ = writeln!(out);
    match overview.processes.len() {
        0 => {
            let _ = writeln!(out, "processes: none answered (is any `docflow run` connected to this NATS and prefix?)");
        }
        n => {
            let _ = writeln!(out, "processes: {n} answered");
            for p in &overview.processes {
                let _ = writeln!(out, "  {:<28} admin {:<22} {}", p.process, p.admin, p.components.join(" "));
            }
        }
    }
    out
}

/// The overview as `--json` writes it.
pub fn json(overview: &Overview) -> serde_json::Value {
    serde_json::to_value(overview).expect("an overview serializes")
}

/// One frame of `--watch`: the cursor home, each line cleared to its end, the rest of the
/// screen cleared: the picture is replaced in place, without flicker or scrolling.
pub fn frame(body: &str) -> String {
    let mut out = String::from("\x1b[H");
    for line in body.lines() {
        out.push_str(line);
        out.push_str("\x1b[K\n");
    }
    out.push_str("\x1b[J");
    out
}

/// Redraws the overview every `every` until `stop`; a failed read is shown in the frame
/// and the next one tried. Leaves the last picture on screen.
pub async fn watch(ops: &Ops, every: Duration, out: &mut dyn Write, stop: CancellationToken) -> std::io::Result<()> {
    // The alternate screen is not used: the last picture stays when Ctrl-C ends it.
    write!(out, "\x1b[2J\x1b[?25l")?;
    let result = async {
        loop {
            let body = match ops.overview().await {
                Ok(overview) => text(&overview),
                Err(error) => format!("docflow pipeline at {}\n\nerror: {error}\n", Utc::now().format("%H:%M:%S")),
            };
            let footer = format!("\nevery {}s; Ctrl-C to stop\n", every.as_secs_f64());
            write!(out, "{}", frame(&(body + &footer)))?;
            out.flush()?;
            tokio::select! {
                () = stop.cancelled() => return Ok(()),
                // The screen's refresh period (`--watch`), not a retry: an error above is
                // drawn, and the next picture is a new reading.
                () = tokio::time::sleep(every) => {}
            }
        }
    }
    .await;
    write!(out, "\x1b[?25h")?;
    out.flush()?;
    result
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::TimeZone;

    use super::*;
    use crate::ops::{OldestInFlight, ProcessAnswer, ProviderBreaker, StageBacklog};

    fn overview() -> Overview {
        let at = Utc.with_ymd_and_hms(2026, 12, 7, 10, 30, 0).unwrap();
        let stage = |name: &'static str, pending, waiting| StageBacklog {
            stage: name,
            stream: format!("DOCFLOW_{}", name.to_uppercase()),
            consumer: name.into(),
            pending,
            in_flight: 2,
            redelivered: 1,
            waiting,
            last_sequence: 9,
        };
        let mut documents: BTreeMap<&'static str, u64> = State::ALL.iter().map(|s| (s.as_str(), 0)).collect();
        documents.insert("submitted", 3);
        documents.insert("failed", 1);
        Overview {
            at,
            documents,
            in_flight: 3,
            stages: vec![stage("transfer", 7, 1), stage("validate", 0, 0)],
            dead_letters: [("transfer".to_owned(), 1), ("validate".to_owned(), 0), ("ingest".to_owned(), 2)].into(),
            providers: vec![ProviderBreaker {
                provider: "sim".into(),
                state: "open".into(),
                reported_by: vec!["box:42".into()],
            }],
            processes: vec![ProcessAnswer {
                process: "box:42".into(),
                admin: "127.0.0.1:7591".into(),
                components: vec!["gateway".into(), "transfer".into()],
                breakers: [("sim".to_owned(), "open".to_owned())].into(),
            }],
            oldest_in_flight: Some(OldestInFlight {
                id: "5b0a3c1e-2f7d-5d3b-9a6e-0c1d2e3f4a5b".into(),
                state: "submitted",
                waits_at: "provider",
                created_at: at - chrono::Duration::minutes(125),
                since: at - chrono::Duration::seconds(90),
            }),
        }
    }

    #[test]
    fn the_text_names_every_count_the_breaker_the_oldest_document_and_who_answered() {
        let text = text(&overview());
        assert!(text.contains("received 0  submitted 3  processed 0"), "{text}");
        assert!(text.contains("(in flight: 3)"), "{text}");
        let transfer = text.lines().find(|l| l.starts_with("transfer ")).unwrap();
        let columns: Vec<&str> = transfer.split_whitespace().collect();
        assert_eq!(columns, ["transfer", "DOCFLOW_TRANSFER/transfer", "7", "2", "1", "pulling", "1"]);
        let validate = text.lines().find(|l| l.starts_with("validate ")).unwrap();
        assert!(validate.contains(" none "), "no worker pulls: {validate}");
        assert!(text.contains("other dead letters: ingest 2"), "{text}");
        assert!(text.lines().any(|l| l.starts_with("sim") && l.contains("open") && l.contains("box:42")), "{text}");
        assert!(
            text.contains(
                "oldest in flight: 5b0a3c1e-2f7d-5d3b-9a6e-0c1d2e3f4a5b submitted for 1m, waits at provider (created 2h 5m ago)"
            ),
            "{text}"
        );
        assert!(text.contains("processes: 1 answered"), "{text}");
    }

    #[test]
    fn an_empty_pipeline_says_what_is_missing_instead_of_blank_lines() {
        let mut empty = overview();
        empty.oldest_in_flight = None;
        empty.processes.clear();
        empty.providers[0] = ProviderBreaker { provider: "sim".into(), state: "unknown".into(), reported_by: vec![] };
        let text = text(&empty);
        assert!(text.contains("oldest in flight: none"), "{text}");
        assert!(text.contains("processes: none answered"), "{text}");
        assert!(text.contains("no running transfer stage answered"), "{text}");
    }

    #[test]
    fn the_json_keeps_the_field_names_scripts_read() {
        let value = json(&overview());
        assert_eq!(value["documents"]["submitted"], 3);
        assert_eq!(value["in_flight"], 3);
        assert_eq!(value["stages"][0]["stage"], "transfer");
        assert_eq!(value["stages"][0]["pending"], 7);
        assert_eq!(value["stages"][0]["in_flight"], 2);
        assert_eq!(value["stages"][0]["redelivered"], 1);
        assert_eq!(value["dead_letters"]["transfer"], 1);
        assert_eq!(value["providers"][0]["state"], "open");
        assert_eq!(value["processes"][0]["process"], "box:42");
        assert_eq!(value["oldest_in_flight"]["waits_at"], "provider");
    }

    #[test]
    fn a_frame_redraws_in_place_clearing_what_the_last_one_left() {
        let frame = frame("a\nb\n");
        assert_eq!(frame, "\x1b[Ha\x1b[K\nb\x1b[K\n\x1b[J");
    }

    #[test]
    fn ages_read_in_the_largest_units_that_matter() {
        let now = Utc.with_ymd_and_hms(2026, 12, 7, 10, 0, 0).unwrap();
        let ago = |s: i64| age(now, now - chrono::Duration::seconds(s));
        assert_eq!([ago(5), ago(125), ago(3 * 3600 + 300), ago(2 * 86_400 + 4 * 3600)], ["5s", "2m", "3h 5m", "2d 4h"]);
        assert_eq!(age(now, now + chrono::Duration::seconds(10)), "0s", "a clock ahead is no negative age");
    }
}

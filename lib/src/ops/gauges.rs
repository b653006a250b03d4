//! The pipeline gauges on `/metrics`: each stage's consumer backlog and each dead-letter
//! subject's depth, read from JetStream every `admin.gauges_every` by every run process,
//! so alerts need no separate NATS exporter. Several processes export the same numbers;
//! the rules in `deploy/prometheus/` take the max across them.
//!
//! Every series the rules name exists from the start: a rule on a series that appears
//! only with the first dead letter could not tell "none yet" from "not scraped", and
//! `increase()` misses the first step. The gauges are read once before anything else;
//! only what that first read could not get is set to zero ([`zero_gauges`]), so a
//! restarted process never shows a backlog of zero for a moment (a false "growing" a
//! quarter of an hour later). Counters start at zero ([`zero_counters`]).

use std::time::Duration;

use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use super::reads;
use crate::admin::AdminState;
use crate::ids::StageId;
use crate::metrics::{self, CallbackOutcome};
use crate::nats::Names;

/// The counters the rules and the dashboard name, at zero: the stage outcomes and the
/// callback outcomes of every configured provider; and not ready until checked.
pub fn zero_counters(providers: &[String]) {
    for stage in StageId::ALL {
        for outcome in ["done", "dead_letter"] {
            metrics::stage_messages_zero(stage.as_str(), outcome);
        }
    }
    for provider in providers {
        for outcome in [CallbackOutcome::Accepted, CallbackOutcome::BadSignature] {
            metrics::callback_zero(provider, outcome);
        }
    }
    metrics::ready(false);
}

/// The consumer gauges (when `backlogs`) and the dead-letter gauges (when `dead`) of every
/// stage at zero: for a first read that could not get them.
pub fn zero_gauges(backlogs: bool, dead: bool) {
    for stage in StageId::ALL {
        if backlogs {
            metrics::stage_backlog(stage.as_str(), 0, 0, 0);
        }
        if dead {
            metrics::dead_letters(stage.as_str(), 0);
        }
    }
}

/// Reads JetStream once and sets the gauges; a failed read leaves the last values and
/// says why in the log (the `docflow_pipeline_gauges_read_total` counter counts it).
/// Returns whether the backlogs and the dead letters were read.
pub async fn read_once(js: &async_nats::jetstream::Context, names: &Names) -> (bool, bool) {
    let backlogs = reads::backlogs(js, names).await;
    let dead = reads::dead_letters(js, names).await;
    let read = (backlogs.is_ok(), dead.is_ok());
    match backlogs {
        Ok(stages) => {
            for s in stages {
                metrics::stage_backlog(s.stage, s.pending, s.in_flight, s.redelivered);
                metrics::stage_stream_last_sequence(s.stage, s.last_sequence);
            }
        }
        Err(error) => tracing::warn!(%error, "pipeline gauges: consumer backlog not read"),
    }
    match dead {
        Ok(dead) => {
            for (stage, depth) in dead {
                // Only the stages' subjects: a label value never comes from a free-form subject.
                if let Some(stage) = StageId::ALL.iter().find(|s| s.as_str() == stage) {
                    metrics::dead_letters(stage.as_str(), depth);
                }
            }
        }
        Err(error) => tracing::warn!(%error, "pipeline gauges: dead letters not read"),
    }
    metrics::gauges_read(read.0 && read.1);
    read
}

/// Reads the gauges once (zero for what that read could not get), then reads JetStream
/// (and the process's readiness, for `docflow_ready`) every `every` until `shutdown`.
pub async fn run(
    js: async_nats::jetstream::Context,
    names: Names,
    admin: AdminState,
    providers: Vec<String>,
    every: Duration,
    shutdown: CancellationToken,
) {
    zero_counters(&providers);
    tokio::select! {
        () = shutdown.cancelled() => return,
        (backlogs, dead) = read_once(&js, &names) => zero_gauges(!backlogs, !dead),
    }
    let mut ticks = tokio::time::interval(every.max(Duration::from_millis(100)));
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let read = async {
            read_once(&js, &names).await;
            let (down, _) = admin.readiness().await;
            metrics::ready(down.is_empty());
        };
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = read => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit;

    fn value(text: &str, series: &str) -> Option<f64> {
        text.lines().find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
    }

    #[tokio::test]
    async fn the_gauges_follow_a_backlog_and_a_dead_letter() {
        let (url, prefix) = (testkit::nats_url(), testkit::random_prefix());
        let (_client, js) = testkit::connect(&url).await;
        crate::topology::apply(&js, &testkit::settings(&url, &prefix, &[])).await.unwrap();
        let names = Names::new(&prefix);
        crate::metrics::init();
        // Two uploads nobody pulls, one dead letter of normalize.
        for _ in 0..2 {
            js.publish(names.subject("uploads.minio"), "{}".into()).await.unwrap().await.unwrap();
        }
        js.publish(names.dead_subject("normalize"), "{}".into()).await.unwrap().await.unwrap();
        let backlogs = reads::backlogs(&js, &names).await.unwrap();
        assert_eq!((backlogs[0].stage, backlogs[0].pending, backlogs[0].last_sequence), ("transfer", 2, 2));
        assert!(backlogs[1..].iter().all(|b| b.pending == 0 && b.in_flight == 0));
        let dead = reads::dead_letters(&js, &names).await.unwrap();
        assert_eq!(dead["normalize"], 1);
        assert_eq!(dead["transfer"], 0);
        // The recorder is process-wide and other tests read other prefixes, so only the
        // presence of this read's series is checked here (tests/it/ops.rs checks values).
        read_once(&js, &names).await;
        let text = crate::metrics::render();
        for series in
            ["docflow_stage_consumer_pending{stage=\"transfer\"}", "docflow_dead_letters{stage=\"normalize\"}"]
        {
            assert!(value(&text, series).is_some(), "{series} in {text}");
        }
        testkit::delete_streams(&js, &prefix).await;
    }
}

//! docflow's own count of the SQL statements it sends (the pool's counters), by the stage
//! that sent them: `docflow_db_statements_total{stage}` on `/metrics`. The worker runtime
//! runs each delivery [`in_stage`]; statements sent anywhere else (the evaluator API,
//! migrations, start-up) count under `stage="none"`.
//!
//! Every statement the pool runs is counted, through sea-orm's metric callback; an
//! explicit transaction (SQLite's multi-statement writes, the migrations' lock on
//! PostgreSQL) adds its `BEGIN` and its end.

use std::future::Future;

tokio::task_local! {
    static STAGE: &'static str;
}

/// The label of statements sent outside any stage.
pub const NO_STAGE: &str = "none";

/// Runs `work` with the statements it sends counted under `stage`.
pub async fn in_stage<F: Future>(stage: &'static str, work: F) -> F::Output {
    STAGE.scope(stage, work).await
}

/// The stage the current task's statements count under.
fn current() -> &'static str {
    STAGE.try_with(|stage| *stage).unwrap_or(NO_STAGE)
}

/// The pool's metric callback: one statement run.
pub(super) fn statement(_: &sea_orm::metric::Info<'_>) {
    crate::metrics::db_statements(current(), 1);
}

/// An explicit transaction begun: its `BEGIN` and the `COMMIT` or `ROLLBACK` that ends it.
pub(super) fn transaction() {
    crate::metrics::db_statements(current(), 2);
}

//! Group commit: the transitions a stage applies at the same time share one transaction.
//!
//! `Db::apply` builds its statements in the caller, then hands them to the stage's queue
//! here. When no commit of that stage is running, a committer task starts at once with
//! what is queued (no fixed wait: a lone transition goes alone); while it commits, the
//! transitions that arrive queue up and the next transaction takes all of them, at most
//! [`GroupCommit::max`]. Each caller's `apply` returns once its transaction committed, so
//! a delivery is acked only after its write is durable.
//!
//! A transaction writes distinct documents: a second transition of a document that is
//! already in the batch waits for the next one (one statement cannot update a row twice),
//! and finds the document as the first left it. The writes run in the order of their
//! document ids (two transactions of two stages then lock the rows they share in the same
//! order and cannot deadlock). A write whose guard does not match is an outcome (`false`),
//! not an error, and changes nothing for the others; a database error rolls the whole
//! transaction back and every write in it gets the error (its delivery is redelivered, as
//! without grouping).
//!
//! PostgreSQL: the transaction is one statement, whatever the number of writes: each
//! write is a few data-modifying CTEs (`transition.rs`), and one `WITH` holds them all,
//! its `SELECT` the `UNION ALL` of the rows they moved. One statement is atomic by itself:
//! no `BEGIN`, no `COMMIT`, one round trip. SQLite: one `BEGIN IMMEDIATE` per transaction,
//! then each write's guarded update and, when it matched, its inserts.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use sea_orm::sea_query::{CommonTableExpression, Query, SelectStatement, UnionType, WithClause};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, QueryResult, Statement};
use tokio::sync::oneshot;

use super::{Db, DbError, statements};
use crate::ids::DocumentId;
use crate::stages::StageId;

/// The most transitions one transaction takes by default: a stage runs at most its
/// `concurrency` at once (16 by default), so this bounds only unusual settings.
pub const DEFAULT_MAX: usize = 64;

/// One transition's write, built by the caller.
pub(super) enum Prepared {
    /// PostgreSQL: common table expressions, the guarded update named by
    /// `transition::moved` and the inserts that select from it; the writes of a
    /// transaction make one statement.
    Ctes(Vec<CommonTableExpression>),
    /// SQLite: `first` decides (it returns the moved row, or none when the guard did not
    /// match), `then` run only when it moved.
    Statements { first: Statement, then: Vec<Statement> },
}

impl Db {
    /// Runs `writes` (of distinct documents) in one transaction; for each, the row it moved
    /// or `None` when its guard did not match.
    pub(super) async fn write(&self, writes: Vec<(DocumentId, Prepared)>) -> Result<Vec<Option<QueryResult>>, DbErr> {
        if self.backend() == DbBackend::Postgres {
            return write_on(self.connection(), writes).await;
        }
        let txn = self.begin_write().await.map_err(into_db_err)?;
        let moved = write_on(&txn, writes).await?;
        txn.commit().await?;
        Ok(moved)
    }
}

/// Runs `writes` on `conn`: the SQLite ones one after the other, the PostgreSQL ones as
/// one statement.
async fn write_on(
    conn: &impl ConnectionTrait,
    writes: Vec<(DocumentId, Prepared)>,
) -> Result<Vec<Option<QueryResult>>, DbErr> {
    let mut moved: Vec<Option<QueryResult>> = writes.iter().map(|_| None).collect();
    let (mut with, mut union, mut index) = (WithClause::new(), None::<SelectStatement>, HashMap::new());
    for (n, (id, write)) in writes.into_iter().enumerate() {
        match write {
            Prepared::Ctes(ctes) => {
                for cte in ctes {
                    with.cte(cte);
                }
                let select =
                    Query::select().columns(super::transition::RETURNED).from(super::transition::moved(id)).to_owned();
                match &mut union {
                    Some(all) => {
                        all.union(UnionType::All, select);
                    }
                    None => union = Some(select),
                }
                index.insert(id.0.simple().to_string(), n);
            }
            Prepared::Statements { first, then } => {
                let row = conn.query_one_raw(first).await?;
                if row.is_some() {
                    for statement in then {
                        conn.execute_raw(statement).await?;
                    }
                }
                moved[n] = row;
            }
        }
    }
    if let Some(union) = union {
        // Data-modifying CTEs run to completion whether or not the query reads them.
        let mut statement = conn.get_database_backend().build(&with.query(union));
        // The CTEs are named after their documents' ids; by position instead, a lone
        // write of a kind, or a batch of the same kinds, is the same text each time, which
        // the driver prepares once and keeps (it caches prepared statements by text).
        for (id, n) in &index {
            statement.sql = statement.sql.replace(id.as_str(), &n.to_string());
        }
        for row in conn.query_all_raw(statement).await? {
            let id: DocumentId =
                row.try_get::<String>("", "id")?.parse().map_err(|_| DbErr::Type("documents.id".into()))?;
            if let Some(&n) = index.get(&id.0.simple().to_string()) {
                moved[n] = Some(row);
            }
        }
    }
    Ok(moved)
}

type Reply = oneshot::Sender<Result<Option<QueryResult>, DbErr>>;

struct Entry {
    id: DocumentId,
    write: Prepared,
    reply: Reply,
}

#[derive(Default)]
struct Queue {
    pending: VecDeque<Entry>,
    /// A committer task is draining this queue.
    running: bool,
}

/// The stages' queues of one pool, and how many transactions and transitions went through.
pub(super) struct GroupCommit {
    /// The pool the transactions run on (a `Db` without grouping).
    db: Db,
    max: usize,
    queues: Mutex<HashMap<StageId, Arc<Mutex<Queue>>>>,
    commits: AtomicU64,
    transitions: AtomicU64,
    /// Tests: hold the committers back (transitions queue, nothing commits).
    #[cfg(test)]
    held: std::sync::atomic::AtomicBool,
}

/// What grouping did so far: transactions committed (or rolled back) and the transitions
/// they carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupStats {
    pub commits: u64,
    pub transitions: u64,
}

impl GroupCommit {
    pub(super) fn new(db: Db, max: usize) -> GroupCommit {
        GroupCommit {
            db,
            max: max.max(1),
            queues: Mutex::default(),
            commits: AtomicU64::new(0),
            transitions: AtomicU64::new(0),
            #[cfg(test)]
            held: std::sync::atomic::AtomicBool::new(false),
        }
    }

    pub(super) fn stats(&self) -> GroupStats {
        GroupStats {
            commits: self.commits.load(Ordering::Relaxed),
            transitions: self.transitions.load(Ordering::Relaxed),
        }
    }

    fn queue(&self, stage: StageId) -> Arc<Mutex<Queue>> {
        lock(&self.queues).entry(stage).or_default().clone()
    }

    /// Queues `write` with the stage's other transitions and waits for its transaction.
    pub(super) async fn apply(
        self: &Arc<Self>,
        stage: StageId,
        id: DocumentId,
        write: Prepared,
    ) -> Result<Option<QueryResult>, DbError> {
        let (reply, answer) = oneshot::channel();
        let queue = self.queue(stage);
        let start = {
            let mut q = lock(&queue);
            q.pending.push_back(Entry { id, write, reply });
            !std::mem::replace(&mut q.running, true)
        };
        if start && !self.is_held() {
            self.spawn(stage, queue);
        }
        match answer.await {
            Ok(outcome) => outcome.map_err(DbError::from),
            // The committer task panicked: nothing tells whether the write committed, and
            // the delivery's redelivery finds out (its guard).
            Err(_) => Err(DbErr::Custom(
                "the group commit of this transition stopped without an answer (a panic in its task); the delivery is retried".into(),
            )
            .into()),
        }
    }

    fn spawn(self: &Arc<Self>, stage: StageId, queue: Arc<Mutex<Queue>>) {
        let this = Arc::clone(self);
        tokio::spawn(statements::in_stage(stage.as_str(), async move { this.drain(stage, queue).await }));
    }

    /// Commits what the queue holds, a transaction at a time, until it is empty.
    async fn drain(&self, stage: StageId, queue: Arc<Mutex<Queue>>) {
        // Should this task panic, the queue is released and its waiters told (their
        // senders dropped), rather than left waiting on a committer that is gone.
        let _release = Release(&queue);
        loop {
            let batch: Vec<Entry> = {
                let mut q = lock(&queue);
                if q.pending.is_empty() {
                    q.running = false;
                    return;
                }
                take_batch(&mut q.pending, self.max)
            };
            self.commit(stage, batch).await;
        }
    }

    /// One transaction for `batch`, then each caller's answer.
    async fn commit(&self, stage: StageId, mut batch: Vec<Entry>) {
        // Stable: two writes of one document keep their order of arrival.
        batch.sort_by_key(|e| e.id);
        let (writes, replies): (Vec<_>, Vec<_>) = batch.into_iter().map(|e| ((e.id, e.write), e.reply)).unzip();
        let count = writes.len() as u64;
        let outcome = self.db.write(writes).await;
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.transitions.fetch_add(count, Ordering::Relaxed);
        crate::metrics::db_group_commit(stage.as_str(), count);
        match outcome {
            Ok(moved) => {
                for (reply, moved) in replies.into_iter().zip(moved) {
                    // A caller that stopped waiting (its task cancelled) needs no answer.
                    let _ = reply.send(Ok(moved));
                }
            }
            Err(error) => {
                for reply in replies {
                    let _ = reply.send(Err(error.clone()));
                }
            }
        }
    }

    #[cfg(test)]
    fn is_held(&self) -> bool {
        self.held.load(Ordering::SeqCst)
    }

    #[cfg(not(test))]
    fn is_held(&self) -> bool {
        false
    }

    /// Tests: from now on transitions queue and nothing commits, until [`Self::release`].
    #[cfg(test)]
    pub(super) fn hold(&self) {
        self.held.store(true, Ordering::SeqCst);
    }

    /// Tests: how many transitions wait in `stage`'s queue.
    #[cfg(test)]
    pub(super) fn waiting(&self, stage: StageId) -> usize {
        lock(&self.queue(stage)).pending.len()
    }

    /// Tests: commits what queued while held, and goes on as usual.
    #[cfg(test)]
    pub(super) fn release(self: &Arc<Self>) {
        self.held.store(false, Ordering::SeqCst);
        let queues: Vec<_> = lock(&self.queues).iter().map(|(s, q)| (*s, q.clone())).collect();
        for (stage, queue) in queues {
            let queued = {
                let q = lock(&queue);
                q.running && !q.pending.is_empty()
            };
            if queued {
                self.spawn(stage, queue);
            }
        }
    }
}

/// The next transaction's entries: the first `max` of distinct documents, in their order
/// of arrival; the others stay queued, in theirs.
fn take_batch(pending: &mut VecDeque<Entry>, max: usize) -> Vec<Entry> {
    let (mut batch, mut rest, mut ids) = (Vec::new(), VecDeque::new(), HashSet::new());
    while let Some(entry) = pending.pop_front() {
        if batch.len() == max {
            rest.push_back(entry);
            rest.append(pending);
            break;
        }
        if ids.insert(entry.id) {
            batch.push(entry);
        } else {
            rest.push_back(entry);
        }
    }
    *pending = rest;
    batch
}

/// On a committer's panic: the queue no longer has a committer, and what it held is
/// dropped (each waiter gets an error).
struct Release<'a>(&'a Mutex<Queue>);

impl Drop for Release<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let mut q = lock(self.0);
            q.running = false;
            q.pending.clear();
        }
    }
}

/// A poisoned lock only means a panic elsewhere; the queue itself stays consistent.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `begin_write`'s error back as the driver's, to hand every waiter a copy.
fn into_db_err(error: DbError) -> DbErr {
    match error {
        DbError::Query { cause } | DbError::PoolTimeout { cause } => cause,
        other => DbErr::Custom(other.to_string()),
    }
}

impl Db {
    /// This pool, with the transitions each stage applies at the same time committed
    /// together, at most `max` in a transaction (see `db/group.rs`).
    pub fn with_group_commit(mut self, max: usize) -> Db {
        let plain = Db { group: None, ..self.clone() };
        self.group = Some(Arc::new(GroupCommit::new(plain, max)));
        self
    }

    /// What group commit did so far; `None` without it.
    pub fn group_stats(&self) -> Option<GroupStats> {
        self.group.as_ref().map(|g| g.stats())
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use sea_orm::{ConnectionTrait, Statement};

    use super::*;
    use crate::db::State;
    use crate::db::testing::{Target, new_document, on_both};
    use crate::ids::JobId;
    use crate::lifecycle::{By, Transition};

    const TRANSFER: StageId = StageId::Transfer;
    const N: usize = 12;

    /// A group commit counter of transfer's, as `/metrics` renders it (0 before the first).
    fn counted(name: &str) -> u64 {
        let prefix = format!("{name}{{stage=\"transfer\"}} ");
        crate::metrics::render().lines().find_map(|line| line.strip_prefix(&prefix)?.parse().ok()).unwrap_or(0)
    }

    async fn received(db: &Db, n: usize) -> Vec<DocumentId> {
        let mut ids = Vec::new();
        for _ in 0..n {
            let new = new_document();
            db.record_received(&new, TRANSFER, 1, Some(1)).await.unwrap();
            ids.push(new.id);
        }
        ids
    }

    /// Applies `moves` at once on a grouped `db` while its committers are held, so they all
    /// queue, then releases them: one transaction takes them all. The answers, in order.
    async fn at_once(db: &Db, moves: Vec<(DocumentId, Transition<'static>)>) -> Vec<Result<bool, DbError>> {
        let group = db.group.clone().expect("a grouped pool");
        group.hold();
        let count = moves.len();
        let tasks: Vec<_> = moves
            .into_iter()
            .map(|(id, t)| {
                let db = db.clone();
                tokio::spawn(async move { db.apply(id, t, By::new(TRANSFER, 1)).await })
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(10);
        while group.waiting(TRANSFER) < count {
            assert!(Instant::now() < deadline, "{} of {count} transitions queued in 10 s", group.waiting(TRANSFER));
            tokio::task::yield_now().await;
        }
        group.release();
        let mut answers = Vec::new();
        for task in tasks {
            answers.push(task.await.unwrap());
        }
        answers
    }

    fn submit(id: DocumentId) -> Transition<'static> {
        let submission: &'static str = Box::leak(id.submission_id_for_round("sim", 0).to_string().into_boxed_str());
        let job: &'static JobId = Box::leak(Box::new(JobId::from("job")));
        Transition::Submit { round: 0, provider: "sim", submission_id: submission, job_id: job }
    }

    async fn states(db: &Db, ids: &[DocumentId]) -> Vec<State> {
        let mut states = Vec::new();
        for id in ids {
            states.push(db.get(*id).await.unwrap().unwrap().state);
        }
        states
    }

    /// N concurrent transitions of one stage: one commit. On PostgreSQL the rows they wrote
    /// carry one transaction id (`xmin`), the database's own count of the transactions.
    async fn concurrent_transitions_share_one_commit(target: Target) {
        crate::metrics::init();
        let db = target.db.clone().with_group_commit(DEFAULT_MAX);
        let ids = received(&db, N).await;
        let (before, transitions_before) = (db.group_stats().unwrap(), counted(crate::metrics::DB_GROUP_TRANSITIONS));
        let answers = at_once(&db, ids.iter().map(|id| (*id, submit(*id))).collect()).await;
        assert!(answers.iter().all(|a| matches!(a, Ok(true))), "every transition moved: {answers:?}");
        assert_eq!(states(&db, &ids).await, vec![State::Submitted; N]);
        let after = db.group_stats().unwrap();
        assert_eq!((after.commits - before.commits, after.transitions - before.transitions), (1, N as u64));
        // Operators see the sharing on /metrics (other tests count there at once: at least).
        let transitions = counted(crate::metrics::DB_GROUP_TRANSITIONS) - transitions_before;
        assert!(transitions >= N as u64, "{transitions} transitions counted for {N}");
        assert!(counted(crate::metrics::DB_GROUP_COMMITS) >= 1);
        if db.backend() == DbBackend::Postgres {
            let list = ids.iter().map(|id| format!("'{id}'")).collect::<Vec<_>>().join(",");
            let sql = format!(
                "SELECT count(DISTINCT x) AS n, count(*) AS rows FROM (
                   SELECT xmin::text AS x FROM documents WHERE id IN ({list})
                   UNION ALL SELECT xmin::text FROM submissions WHERE document_id IN ({list})
                   UNION ALL SELECT xmin::text FROM document_events WHERE document_id IN ({list}) AND state = 'submitted'
                 ) t"
            );
            let row = db.connection().query_one_raw(Statement::from_string(DbBackend::Postgres, sql)).await;
            let row = row.unwrap().unwrap();
            let (n, rows): (i64, i64) = (row.try_get("", "n").unwrap(), row.try_get("", "rows").unwrap());
            assert_eq!(rows, 3 * N as i64, "a document, a submission and a timeline entry per transition");
            assert_eq!(n, 1, "the rows of {N} transitions were written by {n} transactions");
        }
    }

    /// In one transaction, a transition whose guard does not match answers `false` and
    /// the others move.
    async fn a_guard_that_does_not_match_leaves_the_others_moving(target: Target) {
        let db = target.db.clone().with_group_commit(DEFAULT_MAX);
        let ids = received(&db, 3).await;
        let before = db.group_stats().unwrap().commits;
        assert!(db.apply(ids[2], submit(ids[2]), By::new(TRANSFER, 1)).await.unwrap());
        let missing = DocumentId(uuid::Uuid::new_v4());
        let moves = vec![
            (ids[0], submit(ids[0])),
            (ids[2], submit(ids[2])),
            (missing, submit(missing)),
            (ids[1], submit(ids[1])),
        ];
        let answers: Vec<bool> = at_once(&db, moves).await.into_iter().map(Result::unwrap).collect();
        assert_eq!(answers, [true, false, false, true]);
        assert_eq!(states(&db, &ids).await, vec![State::Submitted; 3]);
        assert_eq!(db.group_stats().unwrap().commits - before, 2, "the lone submit, then the four together");
    }

    /// The same transition of one document twice at once: the second waits for the next
    /// transaction (one statement cannot update a row twice) and finds the document moved.
    async fn the_same_document_twice_takes_two_transactions_and_moves_once(target: Target) {
        let db = target.db.clone().with_group_commit(DEFAULT_MAX);
        let ids = received(&db, 1).await;
        let before = db.group_stats().unwrap().commits;
        let mut answers: Vec<bool> = at_once(&db, vec![(ids[0], submit(ids[0])), (ids[0], submit(ids[0]))])
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        answers.sort();
        assert_eq!(answers, [false, true], "exactly one of the two moved the document");
        assert_eq!(db.group_stats().unwrap().commits - before, 2);
    }

    fn entry(id: DocumentId) -> Entry {
        let write =
            Prepared::Statements { first: Statement::from_string(DbBackend::Sqlite, "SELECT 1"), then: Vec::new() };
        Entry { id, write, reply: oneshot::channel().0 }
    }

    /// A transaction takes distinct documents, in their order of arrival, at most `max`;
    /// what it leaves keeps its order.
    #[test]
    fn a_batch_takes_distinct_documents_in_order_up_to_max() {
        let ids: Vec<DocumentId> = (0..4).map(|_| DocumentId(uuid::Uuid::new_v4())).collect();
        let mut pending: VecDeque<Entry> = [0, 1, 0, 2, 1, 3, 2].iter().map(|&n| entry(ids[n])).collect();
        let taken = |batch: Vec<Entry>| batch.iter().map(|e| e.id).collect::<Vec<_>>();
        let left = |pending: &VecDeque<Entry>| pending.iter().map(|e| e.id).collect::<Vec<_>>();
        assert_eq!(taken(take_batch(&mut pending, 3)), [ids[0], ids[1], ids[2]]);
        assert_eq!(left(&pending), [ids[0], ids[1], ids[3], ids[2]]);
        assert_eq!(taken(take_batch(&mut pending, 64)), [ids[0], ids[1], ids[3], ids[2]]);
        assert!(pending.is_empty());
        let mut twice: VecDeque<Entry> = [2, 2].iter().map(|&n| entry(ids[n])).collect();
        assert_eq!(taken(take_batch(&mut twice, 64)), [ids[2]]);
        assert_eq!(left(&twice), [ids[2]]);
    }

    /// A database error in one write rolls its whole transaction back: every transition in
    /// it fails (each delivery is redelivered), and none moved.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_database_error_fails_the_whole_transaction_on_postgres() {
        crate::db::testing::with_postgres(|target| async move {
            let db = target.db.clone().with_group_commit(DEFAULT_MAX);
            let ids = received(&db, 3).await;
            let mut moves: Vec<_> = ids.iter().map(|id| (*id, submit(*id))).collect();
            // Not JSON: PostgreSQL refuses the cast to jsonb.
            let broken = received(&db, 1).await[0];
            validated(&db, broken).await;
            moves.push((broken, Transition::Normalized { json: "{not json" }));
            let answers = at_once(&db, moves).await;
            assert!(answers.iter().all(Result::is_err), "every transition of the transaction failed: {answers:?}");
            assert_eq!(states(&db, &ids).await, vec![State::Received; 3], "the transaction was rolled back");
            // The next transaction works.
            assert!(db.apply(ids[0], submit(ids[0]), By::new(TRANSFER, 2)).await.unwrap());
        })
        .await;
    }

    /// On PostgreSQL a shared transaction is one statement, whatever it carries: no
    /// `BEGIN`, no `COMMIT`, one write statement for all (counted by the pool's own
    /// statement callback, as `docflow_db_statements_total` is).
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn on_postgres_a_shared_transaction_is_one_statement() {
        crate::db::testing::with_postgres(|target| async move {
            let sent = Arc::new(AtomicU64::new(0));
            let mut counted = target.db.clone();
            let counter = Arc::clone(&sent);
            counted.conn.set_metric_callback(move |_| {
                counter.fetch_add(1, Ordering::SeqCst);
            });
            let db = counted.with_group_commit(DEFAULT_MAX);
            let ids = received(&db, N).await;
            let mut moves: Vec<_> = ids.iter().map(|id| (*id, submit(*id))).collect();
            // A guard that does not match changes nothing of that.
            let missing = DocumentId(uuid::Uuid::new_v4());
            moves.push((missing, submit(missing)));
            let before = sent.load(Ordering::SeqCst);
            let answers: Vec<bool> = at_once(&db, moves).await.into_iter().map(Result::unwrap).collect();
            assert_eq!(sent.load(Ordering::SeqCst) - before, 1, "statements sent for {} writes", N + 1);
            assert_eq!(answers, [vec![true; N], vec![false]].concat());
            assert_eq!(states(&db, &ids).await, vec![State::Submitted; N]);
            // New documents' inserts too, beside a transition.
            let group = db.group.clone().expect("a grouped pool");
            group.hold();
            let news: Vec<_> = (0..N).map(|_| new_document()).collect();
            let mut tasks: Vec<_> = news
                .iter()
                .map(|new| {
                    let (db, new) = (db.clone(), new.clone());
                    tokio::spawn(async move {
                        db.record_received(&new, TRANSFER, 1, Some(1)).await.map(|(_, inserted)| inserted)
                    })
                })
                .collect();
            let validate = Transition::Validated { from: State::Submitted, event_id: "e", artifacts: &[] };
            let (db2, first) = (db.clone(), ids[0]);
            tasks.push(tokio::spawn(async move { db2.apply(first, validate, By::new(TRANSFER, 1)).await }));
            let deadline = Instant::now() + Duration::from_secs(10);
            while group.waiting(TRANSFER) < N + 1 {
                assert!(Instant::now() < deadline, "{} of {} writes queued in 10 s", group.waiting(TRANSFER), N + 1);
                tokio::task::yield_now().await;
            }
            let before = sent.load(Ordering::SeqCst);
            group.release();
            for task in tasks {
                assert!(task.await.unwrap().unwrap(), "inserted, or moved");
            }
            assert_eq!(sent.load(Ordering::SeqCst) - before, 1, "statements sent for {N} inserts and a transition");
            assert_eq!(states(&db, &news.iter().map(|n| n.id).collect::<Vec<_>>()).await, vec![State::Received; N]);
        })
        .await;
    }

    /// Two lone writes of the same kind send the same text (the driver prepares it once
    /// and keeps it), though their CTEs are named after their documents while built.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn on_postgres_writes_of_one_kind_are_one_text() {
        crate::db::testing::with_postgres(|target| async move {
            let texts = Arc::new(Mutex::new(Vec::new()));
            let mut counted = target.db.clone();
            let seen = Arc::clone(&texts);
            counted.conn.set_metric_callback(move |info| lock(&seen).push(info.statement.sql.clone()));
            let db = counted.with_group_commit(DEFAULT_MAX);
            let ids = received(&db, 2).await;
            let mut sent = Vec::new();
            for id in &ids {
                lock(&texts).clear();
                assert!(db.apply(*id, submit(*id), By::new(TRANSFER, 1)).await.unwrap());
                let texts = lock(&texts).clone();
                assert_eq!(texts.len(), 1, "{texts:?}");
                assert!(!texts[0].contains(&id.0.simple().to_string()), "{}", texts[0]);
                sent.push(texts[0].clone());
            }
            assert_eq!(sent[0], sent[1], "one text for the same kind of write");
        })
        .await;
    }

    /// Takes a received document to `validated` (without grouping's hold).
    async fn validated(db: &Db, id: DocumentId) {
        assert!(db.apply(id, submit(id), By::new(TRANSFER, 1)).await.unwrap());
        let validated = Transition::Validated { from: State::Submitted, event_id: "e", artifacts: &[] };
        assert!(db.apply(id, validated, By::new(StageId::Validate, 1)).await.unwrap());
    }

    on_both!(
        concurrent_transitions_share_one_commit,
        a_guard_that_does_not_match_leaves_the_others_moving,
        the_same_document_twice_takes_two_transactions_and_moves_once,
    );
}

//! Provider isolation: each configured provider has its own run slots
//! (`providers.<name>.concurrency`) and its own circuit breaker
//! (`providers.<name>.breaker`). The transfer stage asks its provider's [`Gate`] before
//! submitting; a document that may not go now is *held* (`Outcome::Hold`): it goes back
//! to its stream without spending an attempt. See `design.md` beside this file.
//!
//! [`Breaker`] is the pure state machine (time is passed in, so it is tested without
//! sleeping); [`Gate`] wraps it with the slots, the log and the metric; [`states`] is what
//! the rest of the process (the `/readyz` detail) reads.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::settings::BreakerSettings;

/// The state of a provider's breaker, as `/metrics` (gauge value), the log and `/readyz`
/// show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Submissions go through.
    Closed,
    /// Too many transient failures in a row: nothing is submitted until the next probe.
    Open,
    /// One submission (the probe) is in flight; its answer closes or reopens the breaker.
    HalfOpen,
}

impl BreakerState {
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half-open",
        }
    }

    /// The value of the `docflow_provider_breaker_state` gauge.
    pub fn gauge(self) -> f64 {
        match self {
            BreakerState::Closed => 0.0,
            BreakerState::Open => 1.0,
            BreakerState::HalfOpen => 2.0,
        }
    }
}

/// What the breaker says about a submission that wants to start now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Closed: go.
    Go,
    /// The breaker was open and its wait is over: this submission is the probe.
    Probe,
    /// Do not submit; come back after this long.
    Hold(Duration),
}

/// A change of state, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub from: BreakerState,
    pub to: BreakerState,
    /// Open: how long until the next probe.
    pub wait: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Inner {
    Closed {
        failures: u32,
    },
    /// Probe at `until`; `wait` is the backoff that led here (doubled on a failed probe).
    Open {
        until: Instant,
        wait: Duration,
    },
    HalfOpen {
        wait: Duration,
    },
}

/// The circuit breaker of one provider: closed → (N consecutive transient failures) →
/// open → (its wait over) → half-open with one probe → closed on success, open again
/// with the wait doubled (up to `max_probe_after`) on failure.
#[derive(Debug, Clone)]
pub struct Breaker {
    failures: u32,
    probe_after: Duration,
    max_probe_after: Duration,
    inner: Inner,
}

impl Breaker {
    pub fn new(settings: &BreakerSettings) -> Breaker {
        Breaker {
            failures: settings.failures.max(1),
            probe_after: settings.probe_after,
            max_probe_after: settings.max_probe_after.max(settings.probe_after),
            inner: Inner::Closed { failures: 0 },
        }
    }

    pub fn state(&self) -> BreakerState {
        match self.inner {
            Inner::Closed { .. } => BreakerState::Closed,
            Inner::Open { .. } => BreakerState::Open,
            Inner::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// May a submission start at `now`? An open breaker whose wait is over lets exactly
    /// one through as the probe (and is half-open until its verdict or [`Breaker::abandon`]).
    pub fn admit(&mut self, now: Instant) -> (Admission, Option<Transition>) {
        match self.inner {
            Inner::Closed { .. } => (Admission::Go, None),
            Inner::Open { until, wait } if now >= until => {
                self.inner = Inner::HalfOpen { wait };
                (
                    Admission::Probe,
                    Some(Transition { from: BreakerState::Open, to: BreakerState::HalfOpen, wait: None }),
                )
            }
            Inner::Open { until, .. } => (Admission::Hold(until - now), None),
            // The probe is out; its verdict comes at most an idle timeout later.
            Inner::HalfOpen { wait } => (Admission::Hold(wait), None),
        }
    }

    /// The provider answered (accepted, or refused a document for good: it is up).
    pub fn success(&mut self) -> Option<Transition> {
        let from = self.state();
        self.inner = Inner::Closed { failures: 0 };
        (from != BreakerState::Closed).then_some(Transition { from, to: BreakerState::Closed, wait: None })
    }

    /// A transient failure (5xx, 408, connect error, timeout). `probe`: the submission was
    /// the one [`Admission::Probe`] let through.
    pub fn failure(&mut self, now: Instant, probe: bool) -> Option<Transition> {
        match self.inner {
            Inner::Closed { failures } => {
                let failures = failures + 1;
                if failures < self.failures {
                    self.inner = Inner::Closed { failures };
                    return None;
                }
                self.open(now, self.probe_after, BreakerState::Closed)
            }
            Inner::HalfOpen { wait } if probe => {
                let wait = (wait * 2).min(self.max_probe_after);
                self.open(now, wait, BreakerState::HalfOpen)
            }
            // Submissions started before the breaker opened end late: already counted.
            Inner::HalfOpen { .. } | Inner::Open { .. } => None,
        }
    }

    /// The probe ended without a verdict (the object could not be read, the step was
    /// interrupted): the next submission probes instead.
    pub fn abandon(&mut self, now: Instant) -> Option<Transition> {
        match self.inner {
            Inner::HalfOpen { wait } => {
                self.inner = Inner::Open { until: now, wait };
                Some(Transition { from: BreakerState::HalfOpen, to: BreakerState::Open, wait: Some(Duration::ZERO) })
            }
            _ => None,
        }
    }

    fn open(&mut self, now: Instant, wait: Duration, from: BreakerState) -> Option<Transition> {
        self.inner = Inner::Open { until: now + wait, wait };
        Some(Transition { from, to: BreakerState::Open, wait: Some(wait) })
    }
}

/// How long a document waits when all of its provider's slots are busy.
pub const BUSY_HOLD: Duration = Duration::from_secs(2);

/// One provider's slots and breaker, shared by every transfer step of the process.
#[derive(Debug)]
pub struct Gate {
    name: String,
    slots: Arc<Semaphore>,
    breaker: Mutex<Breaker>,
}

/// A submission allowed to start: holds one of the provider's slots until dropped. Tell
/// it how the submission went; dropped without a verdict, a probe is abandoned.
#[derive(Debug)]
pub struct Pass {
    gate: Arc<Gate>,
    probe: bool,
    settled: bool,
    _slot: OwnedSemaphorePermit,
}

/// How a submission ended, for the breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The provider answered: accepted, or refused the document for good.
    Answered,
    /// 408, 5xx, connect error, timeout.
    Transient,
    /// Neither (throttled with Retry-After): the provider is up but busy.
    Neutral,
}

impl Gate {
    /// Registers the gate in the process-wide table [`states`] reads (replacing one of the
    /// same name) and sets its gauge.
    pub fn new(name: &str, concurrency: usize, settings: &BreakerSettings) -> Arc<Gate> {
        let gate = Arc::new(Gate {
            name: name.to_owned(),
            slots: Arc::new(Semaphore::new(concurrency.max(1))),
            breaker: Mutex::new(Breaker::new(settings)),
        });
        crate::metrics::provider_breaker(name, BreakerState::Closed.gauge());
        registry().insert(name.to_owned(), gate.clone());
        gate
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn state(&self) -> BreakerState {
        self.lock().state()
    }

    /// A slot and the breaker's leave, or how long to hold the document.
    pub fn enter(self: &Arc<Self>) -> Result<Pass, Duration> {
        let Ok(slot) = self.slots.clone().try_acquire_owned() else {
            crate::metrics::provider_held(&self.name, "busy");
            return Err(with_spread(BUSY_HOLD));
        };
        let (admission, transition) = self.lock().admit(Instant::now());
        self.log(transition);
        match admission {
            Admission::Go => Ok(Pass { gate: self.clone(), probe: false, settled: false, _slot: slot }),
            Admission::Probe => Ok(Pass { gate: self.clone(), probe: true, settled: false, _slot: slot }),
            Admission::Hold(wait) => {
                crate::metrics::provider_held(&self.name, "breaker");
                Err(with_spread(wait))
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, Breaker> {
        self.breaker.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn log(&self, transition: Option<Transition>) {
        let Some(t) = transition else { return };
        crate::metrics::provider_breaker(&self.name, t.to.gauge());
        match t.to {
            BreakerState::Open => tracing::warn!(
                provider = %self.name,
                from = t.from.as_str(),
                to = t.to.as_str(),
                probe_in = ?t.wait.unwrap_or_default(),
                "provider breaker opened: documents wait in their stream without spending attempts"
            ),
            _ => {
                tracing::info!(provider = %self.name, from = t.from.as_str(), to = t.to.as_str(), "provider breaker changed")
            }
        }
    }
}

impl Pass {
    pub fn is_probe(&self) -> bool {
        self.probe
    }

    /// Records how the submission went.
    pub fn settle(mut self, verdict: Verdict) {
        self.settled = true;
        let transition = {
            let mut breaker = self.gate.lock();
            match verdict {
                Verdict::Answered => breaker.success(),
                Verdict::Transient => breaker.failure(Instant::now(), self.probe),
                Verdict::Neutral if self.probe => breaker.abandon(Instant::now()),
                Verdict::Neutral => None,
            }
        };
        self.gate.log(transition);
    }
}

impl Drop for Pass {
    fn drop(&mut self) {
        if !self.settled && self.probe {
            let transition = self.gate.lock().abandon(Instant::now());
            self.gate.log(transition);
        }
    }
}

/// Adds 0–25 %: documents held together do not all come back at the same instant.
fn with_spread(wait: Duration) -> Duration {
    use rand::Rng;
    wait.max(Duration::from_millis(100)).mul_f64(1.0 + rand::rng().random_range(0.0..0.25))
}

fn registry() -> MutexGuard<'static, BTreeMap<String, Arc<Gate>>> {
    static GATES: OnceLock<Mutex<BTreeMap<String, Arc<Gate>>>> = OnceLock::new();
    GATES.get_or_init(Default::default).lock().unwrap_or_else(PoisonError::into_inner)
}

/// The breaker state of every provider the transfer stage of this process submits to,
/// by provider name: for the `/readyz` detail. Empty when the process runs no transfer
/// stage (`docflow run gateway` alone).
pub fn states() -> BTreeMap<String, BreakerState> {
    registry().iter().map(|(name, gate)| (name.clone(), gate.state())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(failures: u32) -> BreakerSettings {
        BreakerSettings { failures, probe_after: Duration::from_secs(1), max_probe_after: Duration::from_secs(8) }
    }

    #[test]
    fn it_opens_after_the_configured_consecutive_transient_failures_only() {
        let t0 = Instant::now();
        let mut b = Breaker::new(&settings(3));
        assert_eq!(b.failure(t0, false), None);
        assert_eq!(b.failure(t0, false), None);
        // A success in between starts the count again.
        assert_eq!(b.success(), None);
        assert_eq!(b.failure(t0, false), None);
        assert_eq!(b.failure(t0, false), None);
        assert_eq!(b.admit(t0).0, Admission::Go);
        let t = b.failure(t0, false).expect("the third failure in a row opens it");
        assert_eq!((t.from, t.to, t.wait), (BreakerState::Closed, BreakerState::Open, Some(Duration::from_secs(1))));
        assert_eq!(b.state(), BreakerState::Open);
    }

    #[test]
    fn an_open_breaker_holds_until_its_wait_is_over_then_lets_one_probe_through() {
        let t0 = Instant::now();
        let mut b = Breaker::new(&settings(1));
        b.failure(t0, false);
        assert_eq!(b.admit(t0 + Duration::from_millis(400)).0, Admission::Hold(Duration::from_millis(600)));
        let (admission, transition) = b.admit(t0 + Duration::from_secs(1));
        assert_eq!(admission, Admission::Probe);
        assert_eq!(transition.unwrap().to, BreakerState::HalfOpen);
        // One probe at a time: the others are held for the current wait.
        assert_eq!(b.admit(t0 + Duration::from_secs(1)).0, Admission::Hold(Duration::from_secs(1)));
        assert_eq!(b.state(), BreakerState::HalfOpen);
    }

    #[test]
    fn a_failed_probe_reopens_with_the_wait_doubled_up_to_the_maximum() {
        let mut now = Instant::now();
        let mut b = Breaker::new(&settings(1));
        b.failure(now, false);
        let mut waits = Vec::new();
        for _ in 0..6 {
            let Admission::Hold(wait) = b.admit(now).0 else { panic!("open: held") };
            now += wait;
            assert_eq!(b.admit(now).0, Admission::Probe);
            let t = b.failure(now, true).unwrap();
            assert_eq!((t.from, t.to), (BreakerState::HalfOpen, BreakerState::Open));
            waits.push(t.wait.unwrap().as_secs());
        }
        assert_eq!(waits, [2, 4, 8, 8, 8, 8]);
    }

    #[test]
    fn the_first_success_closes_it_and_resets_the_wait() {
        let t0 = Instant::now();
        let mut b = Breaker::new(&settings(2));
        b.failure(t0, false);
        b.failure(t0, false);
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(b.admit(t1).0, Admission::Probe);
        let t = b.success().unwrap();
        assert_eq!((t.from, t.to), (BreakerState::HalfOpen, BreakerState::Closed));
        assert_eq!(b.admit(t1).0, Admission::Go);
        // Opening again starts from the first wait, and needs the full count again.
        assert_eq!(b.failure(t1, false), None);
        assert_eq!(b.failure(t1, false).unwrap().wait, Some(Duration::from_secs(1)));
    }

    #[test]
    fn late_failures_of_submissions_started_before_it_opened_change_nothing() {
        let t0 = Instant::now();
        let mut b = Breaker::new(&settings(1));
        b.failure(t0, false);
        assert_eq!(b.failure(t0, false), None, "open: a late failure is not a probe");
        b.admit(t0 + Duration::from_secs(1));
        assert_eq!(b.failure(t0, false), None, "half-open: only the probe decides");
        assert_eq!(b.state(), BreakerState::HalfOpen);
        // A late success is still evidence the provider is up.
        assert_eq!(b.success().unwrap().to, BreakerState::Closed);
    }

    #[test]
    fn an_abandoned_probe_lets_the_next_submission_probe() {
        let t0 = Instant::now();
        let mut b = Breaker::new(&settings(1));
        b.failure(t0, false);
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(b.admit(t1).0, Admission::Probe);
        assert_eq!(b.abandon(t1).unwrap().to, BreakerState::Open);
        assert_eq!(b.admit(t1).0, Admission::Probe);
        assert_eq!(b.abandon(t1 + Duration::from_secs(9)).map(|t| t.wait), Some(Some(Duration::ZERO)));
        assert_eq!(Breaker::new(&settings(1)).abandon(t1), None, "closed: nothing to abandon");
    }

    #[tokio::test]
    async fn a_gate_holds_when_its_slots_are_busy_and_abandons_an_unsettled_probe() {
        let gate = Gate::new("gate-test-a", 1, &settings(1));
        let pass = gate.enter().expect("a free slot");
        assert!(!pass.is_probe());
        let held = gate.enter().expect_err("the only slot is taken");
        assert!(held >= BUSY_HOLD, "{held:?}");
        pass.settle(Verdict::Transient);
        assert_eq!(gate.state(), BreakerState::Open);
        assert_eq!(states().get("gate-test-a"), Some(&BreakerState::Open));
        // Open: held for about the probe wait, spread.
        let held = gate.enter().expect_err("open");
        assert!(held <= Duration::from_millis(1250), "{held:?}");
    }
}

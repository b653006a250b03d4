//! Waiting on a condition with a deadline: the only way tests synchronise with servers,
//! processes and workers.

use std::future::Future;
use std::time::{Duration, Instant};

/// How often a condition is checked.
const POLL: Duration = Duration::from_millis(25);

/// Polls `check` until it returns `Some`, or panics naming `what` after `deadline`.
pub async fn wait_for<T, F, Fut>(what: &str, deadline: Duration, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    match try_wait_for(deadline, check).await {
        Some(value) => value,
        None => panic!("timed out after {deadline:?} waiting for {what}"),
    }
}

/// Polls `check` until it returns `Some`; `None` once `deadline` has passed (checked once
/// more at the deadline).
pub async fn try_wait_for<T, F, Fut>(deadline: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        if start.elapsed() >= deadline {
            return None;
        }
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_condition_that_becomes_true_is_waited_for_and_one_that_never_does_times_out() {
        let start = Instant::now();
        let value =
            wait_for("three polls", Duration::from_secs(5), || async { (start.elapsed() >= POLL * 2).then_some(7) })
                .await;
        assert_eq!(value, 7);
        let never = try_wait_for(Duration::from_millis(60), || async { None::<()> }).await;
        assert!(never.is_none());
    }
}

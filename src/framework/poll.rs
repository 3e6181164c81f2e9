//! Adaptive polling: short waits first (most AWS operations finish quickly in an emulator and
//! many finish within seconds in AWS), growing to a ceiling; a fixed interval when configured.

use std::time::{Duration, Instant};

use crate::plugin::stop::StopSignal;

/// How a wait may last: until `deadline`, polling at `poll` (adaptive when `None`), and not past
/// a stop request (which the caller's context carries).
#[derive(Clone, Debug)]
pub struct Waits {
    pub poll: Option<Duration>,
    pub deadline: Instant,
    pub stop: StopSignal,
}

impl Waits {
    /// The waits of an operation of this provider: its polling setting and stop signal.
    pub fn of(ctx: &crate::context::Context, deadline: Instant) -> Waits {
        Waits { poll: ctx.settings.poll_interval, deadline, stop: ctx.stop.clone() }
    }
}

/// The sequence of waits between polls.
pub struct Backoff {
    next: Duration,
    max: Duration,
    fixed: bool,
    stop: StopSignal,
}

impl Backoff {
    /// Adaptive (from 100ms up to `max`), or fixed when `interval` is set; a wait ends early when
    /// `stop` is requested.
    pub fn new(interval: Option<Duration>, max: Duration, stop: &StopSignal) -> Self {
        let stop = stop.clone();
        match interval {
            Some(i) => Backoff { next: i, max: i, fixed: true, stop },
            None => Backoff { next: Duration::from_millis(100), max, fixed: false, stop },
        }
    }

    /// Waits for the next interval; returns false when Terraform asked the provider to stop.
    pub async fn wait(&mut self) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(self.next) => {}
            _ = self.stop.wait() => return false,
        }
        if !self.fixed {
            self.next = (self.next.mul_f64(1.5)).min(self.max);
        }
        true
    }

    /// The pause between two polls of a wait for `what`: `Timeout` once `deadline` has passed,
    /// `Stopped` when Terraform asks the provider to stop during the pause.
    pub async fn pause(&mut self, deadline: std::time::Instant, what: &str) -> Result<(), super::StepError> {
        check_deadline(deadline, what)?;
        if self.wait().await { Ok(()) } else { Err(super::StepError::Stopped(what.to_string())) }
    }
}

/// `Err(Timeout(what))` once `deadline` has passed.
pub fn check_deadline(deadline: std::time::Instant, what: &str) -> Result<(), super::StepError> {
    if std::time::Instant::now() >= deadline { Err(super::StepError::Timeout(what.to_string())) } else { Ok(()) }
}

/// Waits for `fut` (a concurrency slot, a lock) no longer than `deadline`, and not past a stop
/// request from Terraform (Ctrl-C): a queue behind other accounts honours `timeouts` too.
pub async fn bounded<T>(
    fut: impl std::future::Future<Output = T>,
    deadline: std::time::Instant,
    stop: &StopSignal,
    what: &str,
) -> Result<T, super::StepError> {
    tokio::select! {
        out = fut => Ok(out),
        _ = tokio::time::sleep_until(deadline.into()) => Err(super::StepError::Timeout(format!("waiting for {what}"))),
        _ = stop.wait() => Err(super::StepError::Stopped(format!("waiting for {what}"))),
    }
}

/// A permit of a concurrency cap, waited for within `deadline` (see [`bounded`]).
pub async fn slot<'a>(
    sem: &'a tokio::sync::Semaphore,
    deadline: std::time::Instant,
    stop: &StopSignal,
    what: &str,
) -> Result<tokio::sync::SemaphorePermit<'a>, super::StepError> {
    bounded(sem.acquire(), deadline, stop, what).await?.map_err(|e| super::StepError::Failed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_stop_in_the_context_ends_a_wait_at_once() {
        let stop = StopSignal::default();
        let mut b = Backoff::new(Some(Duration::from_secs(3600)), Duration::from_secs(3600), &stop);
        let waiting = tokio::spawn(async move { b.wait().await });
        tokio::task::yield_now().await;
        stop.request();
        let went_on = tokio::time::timeout(Duration::from_secs(5), waiting).await.unwrap().unwrap();
        assert!(!went_on, "the wait ended by the stop, not by its interval");
        // and another context's signal is not this one: the process-wide signal is untouched
        assert!(!crate::plugin::stop::global().requested());
    }

    #[tokio::test(start_paused = true)]
    async fn adaptive_grows_to_the_ceiling() {
        let stop = StopSignal::default();
        let mut b = Backoff::new(None, Duration::from_secs(1), &stop);
        let start = tokio::time::Instant::now();
        for _ in 0..10 {
            assert!(b.wait().await);
        }
        assert_eq!(b.next, Duration::from_secs(1));
        assert!(start.elapsed() < Duration::from_secs(8));
        let mut f = Backoff::new(Some(Duration::from_secs(2)), Duration::from_secs(30), &stop);
        assert!(f.wait().await);
        assert_eq!(f.next, Duration::from_secs(2));
    }

    #[tokio::test]
    async fn a_slot_wait_ends_at_the_deadline() {
        let sem = tokio::sync::Semaphore::new(1);
        let _held = sem.acquire().await.unwrap();
        let deadline = std::time::Instant::now() + Duration::from_millis(200);
        match slot(&sem, deadline, &StopSignal::default(), "a vending slot").await {
            Err(super::super::StepError::Timeout(what)) => assert!(what.contains("vending slot"), "{what}"),
            other => panic!("expected a timeout, got {:?}", other.map(|_| ())),
        }
    }
}

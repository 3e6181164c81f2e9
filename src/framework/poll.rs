//! Adaptive polling: short waits first (most AWS operations finish quickly in an emulator and
//! many finish within seconds in AWS), growing to a ceiling; a fixed interval when configured.

use std::time::Duration;

/// The sequence of waits between polls.
pub struct Backoff {
    next: Duration,
    max: Duration,
    fixed: bool,
}

impl Backoff {
    /// Adaptive (from 100ms up to `max`), or fixed when `interval` is set.
    pub fn new(interval: Option<Duration>, max: Duration) -> Self {
        match interval {
            Some(i) => Backoff { next: i, max: i, fixed: true },
            None => Backoff { next: Duration::from_millis(100), max, fixed: false },
        }
    }

    /// Waits for the next interval; returns false when Terraform asked the provider to stop.
    pub async fn wait(&mut self) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(self.next) => {}
            _ = crate::plugin::stop::global().wait() => return false,
        }
        if !self.fixed {
            self.next = (self.next.mul_f64(1.5)).min(self.max);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn adaptive_grows_to_the_ceiling() {
        let mut b = Backoff::new(None, Duration::from_secs(1));
        let start = tokio::time::Instant::now();
        for _ in 0..10 {
            assert!(b.wait().await);
        }
        assert_eq!(b.next, Duration::from_secs(1));
        assert!(start.elapsed() < Duration::from_secs(8));
        let mut f = Backoff::new(Some(Duration::from_secs(2)), Duration::from_secs(30));
        assert!(f.wait().await);
        assert_eq!(f.next, Duration::from_secs(2));
    }
}

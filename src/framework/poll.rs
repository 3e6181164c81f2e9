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

    /// Waits for the next interval.
    pub async fn wait(&mut self) {
        tokio::time::sleep(self.next).await;
        if !self.fixed {
            self.next = (self.next.mul_f64(1.5)).min(self.max);
        }
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
            b.wait().await;
        }
        assert_eq!(b.next, Duration::from_secs(1));
        assert!(start.elapsed() < Duration::from_secs(8));
        let mut f = Backoff::new(Some(Duration::from_secs(2)), Duration::from_secs(30));
        f.wait().await;
        assert_eq!(f.next, Duration::from_secs(2));
    }
}

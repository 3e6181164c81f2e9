//! Terraform's StopProvider (Ctrl-C during apply): a process-wide signal that long waits watch,
//! so an apply ends promptly with the state saved so far instead of waiting out its timeout.

use std::sync::OnceLock;

use tokio::sync::watch;

/// A one-way "stop now" signal. Clones share it: the provider's is handed to the context, and
/// every wait of the framework watches the context's.
#[derive(Clone)]
pub struct StopSignal {
    tx: std::sync::Arc<watch::Sender<bool>>,
}

impl Default for StopSignal {
    fn default() -> Self {
        StopSignal { tx: std::sync::Arc::new(watch::channel(false).0) }
    }
}

impl std::fmt::Debug for StopSignal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StopSignal").field("requested", &self.requested()).finish()
    }
}

impl StopSignal {
    /// Signals every waiter.
    pub fn request(&self) {
        self.tx.send_replace(true);
    }

    /// True once a stop was requested.
    pub fn requested(&self) -> bool {
        *self.tx.borrow()
    }

    /// Resolves when a stop is requested (at once if it already was).
    pub async fn wait(&self) {
        let mut rx = self.tx.subscribe();
        let _ = rx.wait_for(|stopped| *stopped).await;
    }
}

/// The provider process's signal, set by the StopProvider RPC.
pub fn global() -> &'static StopSignal {
    static STOP: OnceLock<StopSignal> = OnceLock::new();
    STOP.get_or_init(StopSignal::default)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_stop_wakes_waiters_and_later_waits_end_at_once() {
        let s = std::sync::Arc::new(StopSignal::default());
        let s2 = s.clone();
        let waiter = tokio::spawn(async move { s2.wait().await });
        tokio::task::yield_now().await;
        assert!(!s.requested());
        s.request();
        tokio::time::timeout(std::time::Duration::from_secs(1), waiter).await.unwrap().unwrap();
        assert!(s.requested());
        tokio::time::timeout(std::time::Duration::from_secs(1), s.wait()).await.unwrap();
    }
}

//! The [`Shutdown`] switch: flipped once by SIGTERM, Ctrl-C or a test, and
//! awaited by every task of a service so that all of them stop together.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::watch;

/// A shutdown switch; clones share it. Once triggered it stays triggered.
#[derive(Debug, Clone)]
pub struct Shutdown {
    sender: Arc<watch::Sender<bool>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    /// A switch that has not been triggered.
    pub fn new() -> Self {
        Shutdown {
            sender: Arc::new(watch::Sender::new(false)),
        }
    }

    /// Triggers the shutdown: every [`wait`](Self::wait) completes.
    pub fn trigger(&self) {
        self.sender.send_replace(true);
    }

    /// Whether the shutdown was triggered.
    pub fn is_triggered(&self) -> bool {
        *self.sender.borrow()
    }

    /// Completes once the shutdown is triggered (at once if it already was).
    pub fn wait(&self) -> impl Future<Output = ()> + Send + use<> {
        let mut receiver = self.sender.subscribe();
        async move {
            // The sender lives as long as any clone of the switch; if it is
            // gone nobody can trigger it any more, which also means "stop".
            let _ = receiver.wait_for(|triggered| *triggered).await;
        }
    }

    /// Triggers the switch on SIGTERM or Ctrl-C (SIGINT); spawns a task on
    /// the current runtime that listens for them.
    pub fn trigger_on_signals(&self) {
        let shutdown = self.clone();
        tokio::spawn(async move {
            let signal = signal_received().await;
            tracing::info!(signal, "shutting down");
            shutdown.trigger();
        });
    }
}

/// Waits for SIGTERM or Ctrl-C and names the one received.
async fn signal_received() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => tokio::select! {
                _ = terminate.recv() => "SIGTERM",
                _ = tokio::signal::ctrl_c() => "SIGINT",
            },
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; Ctrl-C still stops the service");
                let _ = tokio::signal::ctrl_c().await;
                "SIGINT"
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_waiter_completes_once_triggered() {
        let shutdown = Shutdown::new();
        let early = shutdown.wait();
        assert!(!shutdown.is_triggered());
        shutdown.clone().trigger();
        early.await;
        shutdown.wait().await;
        assert!(shutdown.is_triggered());
    }
}

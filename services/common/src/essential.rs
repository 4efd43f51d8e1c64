//! Tasks a service cannot work without (its consumer, its command server),
//! each run in its own Tokio task and watched: one that ends before the
//! shutdown was asked for (with an error, on its own, or by panicking) is
//! logged as an error and flips the shutdown switch, so the whole service
//! stops and its process exits non-zero. A process never keeps answering
//! HTTP with a dead consumer behind it.

use std::future::Future;

use tokio::task::JoinHandle;

use crate::error::Error;
use crate::shutdown::Shutdown;

/// An essential task, watched; [`Essential::stop`] waits for it.
#[derive(Debug)]
pub struct Essential {
    task: JoinHandle<Result<(), Error>>,
}

impl Essential {
    /// Runs `work` (named `name` in messages, e.g. `the consumer`) in its
    /// own task. `work` is to return once `shutdown` is triggered; if it
    /// ends before, it triggers `shutdown` itself, and [`stop`](Self::stop)
    /// returns [`Error::Stopped`].
    pub fn spawn<W, E>(name: &'static str, work: W, shutdown: &Shutdown) -> Essential
    where
        W: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<Error> + Send + 'static,
    {
        let running = tokio::spawn(work);
        let shutdown = shutdown.clone();
        let task = tokio::spawn(async move {
            let ended = match running.await {
                Ok(result) => result.map_err(Into::into),
                Err(error) => Err(Error::Other(error.to_string())),
            };
            if shutdown.is_triggered() {
                return ended;
            }
            let error = Error::Stopped {
                task: name,
                source: Box::new(ended.err().unwrap_or_else(|| Error::Other("it returned".into()))),
            };
            tracing::error!(%error, "an essential task ended; shutting the service down");
            shutdown.trigger();
            Err(error)
        });
        Essential { task }
    }

    /// Waits until the task has ended (after the shutdown switch flipped);
    /// its error, if it failed or ended before the shutdown.
    pub async fn stop(self) -> Result<(), Error> {
        self.task.await.map_err(|error| Error::Other(error.to_string()))?
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    async fn outcome(work: impl Future<Output = Result<(), Error>> + Send + 'static) -> (bool, Result<(), Error>) {
        let shutdown = Shutdown::new();
        let essential = Essential::spawn("the worker", work, &shutdown);
        let stopped = tokio::time::timeout(Duration::from_secs(10), essential.stop())
            .await
            .expect("it ends");
        (shutdown.is_triggered(), stopped)
    }

    #[tokio::test]
    async fn a_task_that_ends_before_the_shutdown_triggers_it_and_fails() {
        let failing = outcome(async { Err(Error::Other("no Redis group".into())) }).await;
        let returning = outcome(async { Ok(()) }).await;
        let panicking = outcome(async { panic!("boom") }).await;
        for ((triggered, stopped), why) in [
            (failing, "no Redis group"),
            (returning, "it returned"),
            (panicking, "boom"),
        ] {
            assert!(triggered, "{why}");
            let message = stopped.expect_err("a failure").to_string();
            assert!(
                message.starts_with("the worker stopped unexpectedly: ") && message.contains(why),
                "{message}"
            );
        }
    }

    #[tokio::test]
    async fn a_task_that_ends_after_the_shutdown_returns_what_it_returned() {
        let shutdown = Shutdown::new();
        let wait = shutdown.wait();
        let essential = Essential::spawn(
            "the worker",
            async move {
                wait.await;
                Ok::<(), Error>(())
            },
            &shutdown,
        );
        shutdown.trigger();
        essential.stop().await.expect("a clean stop");
    }
}

//! Serving the catalog's commands next to a service's HTTP API: one
//! [`CommandServer`] on the service's command stream, run in its own task
//! until the shutdown switch flips, its progress watched by the heartbeat.

use tokio::task::JoinHandle;
use xerpium_events::messaging::{CommandServer, Config, ConsumerProgress, ServeCommands};

use crate::error::Error;
use crate::shutdown::Shutdown;

/// A command server running in its own task; [`Serving::stop`] waits for it.
#[derive(Debug)]
pub struct Serving {
    progress: ConsumerProgress,
    task: JoinHandle<Result<(), xerpium_events::messaging::Error>>,
}

impl Serving {
    /// Starts serving `serve` (a generated `<Service>CommandServer` around
    /// the service's handlers) with `config` until `shutdown` flips.
    pub fn start<S: ServeCommands>(config: &Config, serve: S, shutdown: &Shutdown) -> Result<Serving, Error> {
        let server = CommandServer::builder(config).build()?;
        let progress = server.progress();
        let task = tokio::spawn(server.run(serve, shutdown.wait()));
        Ok(Serving { progress, task })
    }

    /// The server's progress, for the heartbeat to watch.
    pub fn progress(&self) -> ConsumerProgress {
        self.progress.clone()
    }

    /// Waits until the server has stopped (after the shutdown switch
    /// flipped); its error, if it failed.
    pub async fn stop(self) -> Result<(), Error> {
        self.task
            .await
            .map_err(|error| Error::Other(format!("the command server failed: {error}")))??;
        Ok(())
    }
}

//! Serving the catalog's commands next to a service's HTTP API: one
//! [`CommandServer`] on the service's command stream, run as an
//! [`Essential`] task until the shutdown switch flips (if it stops before,
//! the whole service stops), its progress watched by the heartbeat.

use xerpium_events::messaging::{CommandServer, Config, ConsumerProgress, ServeCommands};

use crate::error::Error;
use crate::essential::Essential;
use crate::shutdown::Shutdown;

/// A command server running in its own task; [`Serving::stop`] waits for it.
#[derive(Debug)]
pub struct Serving {
    progress: ConsumerProgress,
    task: Essential,
}

impl Serving {
    /// Starts serving `serve` (a generated `<Service>CommandServer` around
    /// the service's handlers) with `config` until `shutdown` flips; a
    /// server that stops before flips it.
    pub fn start<S: ServeCommands>(config: &Config, serve: S, shutdown: &Shutdown) -> Result<Serving, Error> {
        let server = CommandServer::builder(config).build()?;
        let progress = server.progress();
        let task = Essential::spawn("the command server", server.run(serve, shutdown.wait()), shutdown);
        Ok(Serving { progress, task })
    }

    /// The server's progress, for the heartbeat to watch.
    pub fn progress(&self) -> ConsumerProgress {
        self.progress.clone()
    }

    /// Waits until the server has stopped (after the shutdown switch
    /// flipped); its error, if it failed or stopped before the shutdown.
    pub async fn stop(self) -> Result<(), Error> {
        self.task.stop().await
    }
}

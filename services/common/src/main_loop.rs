//! What every service binary's `main` does around the service itself:
//! a multi-threaded runtime, logging (and the export of its spans, see
//! [`logging`]), the shutdown switch on SIGTERM and Ctrl-C, and an exit
//! code with the error on stderr.

use std::future::Future;
use std::process::ExitCode;

use crate::error::Error;
use crate::logging;
use crate::settings::Settings;
use crate::shutdown::Shutdown;

/// Runs `service` (named `name` in messages) with settings from the
/// environment until it returns; exit code 0 after a clean shutdown, 1
/// (and the error on stderr) otherwise.
pub fn run<F, Fut>(name: &str, service: F) -> ExitCode
where
    F: FnOnce(Settings<fn(&str) -> Option<String>>, Shutdown) -> Fut,
    Fut: Future<Output = Result<(), Error>>,
{
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("{name}: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let logging = match logging::init(name, &Settings::from_env(), runtime.handle()) {
        Ok(logging) => logging,
        Err(error) => {
            eprintln!("{name}: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let shutdown = Shutdown::new();
        shutdown.trigger_on_signals();
        service(Settings::from_env(), shutdown).await
    });
    logging.shutdown();
    match result {
        Ok(()) => {
            tracing::info!("{name} stopped");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{name}: {error}");
            ExitCode::FAILURE
        }
    }
}

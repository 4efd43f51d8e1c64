//! Request/reply commands: the [`Command`] trait of generated request types,
//! the [`CommandInfo`] of the generated list of commands, the
//! [`CommandCaller`] that generated client methods use, and the
//! [`ServeCommands`] trait of generated per-service handler dispatch.

use std::future::Future;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::handler::HandlerError;
use crate::message::Message;

/// The request type of a catalog command, e.g. `company.get`.
pub trait Command: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The command's wire name, e.g. `company.get`.
    const NAME: &'static str;
    /// The service that serves it; its stream is `<ns>:commands:<target>`.
    const TARGET: &'static str;
    /// How long a caller waits for the reply unless told otherwise.
    const TIMEOUT: Duration;
    /// The schema version of the request and response.
    const VERSION: u32;
    /// The reply's type.
    type Response: Serialize + DeserializeOwned + Send + Sync + 'static;
}

/// What a build knows of one catalog command, for listings (an operator dashboard, `--help` text): the
/// generated `COMMANDS` holds one per command of the catalog, in catalog order, with the values of its request
/// type's [`Command`] constants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandInfo {
    /// The command's wire name, e.g. `company.get` ([`Command::NAME`]).
    pub name: &'static str,
    /// The service that serves it, e.g. `company-partner`; its stream is `<ns>:commands:<service>`
    /// ([`Command::TARGET`]).
    pub service: &'static str,
    /// The schema version of the request and response ([`Command::VERSION`]).
    pub version: u32,
    /// How long a caller waits for the reply unless told otherwise ([`Command::TIMEOUT`]).
    pub timeout: Duration,
    /// The first sentence of the command's description in the catalog; empty when it has none.
    pub summary: &'static str,
}

/// The stream entry fields of a command request and of its reply, besides
/// the envelope's (see [`envelope::field`](crate::envelope::field)).
///
/// A request is an envelope (`type` = the command's name, `subject` = the
/// request id) on `<ns>:commands:<target>`, plus [`REPLY_TO`](field::REPLY_TO)
/// and [`DEADLINE`](field::DEADLINE). Its reply is an envelope on the
/// caller's reply stream with the same `type`, `version` and
/// `correlationid`, `subject` and `causationid` = the request's id, plus
/// [`STATUS`](field::STATUS) and, for an error, [`ERROR`](field::ERROR)
/// (`data` is then `null`).
pub mod field {
    /// `replyto` (request): the caller's reply stream, `<ns>:replies:<client>`.
    /// A request without it is served but not answered.
    pub const REPLY_TO: &str = "replyto";
    /// `deadline` (request): when the caller stops waiting, RFC 3339 UTC. A
    /// server does not run a command after its deadline.
    pub const DEADLINE: &str = "deadline";
    /// `status` (reply): [`OK`] (`data` is the response) or [`FAILED`].
    pub const STATUS: &str = "status";
    /// `error` (reply): why the handler failed, e.g. `permanent: no such company`.
    pub const ERROR: &str = "error";
    /// The `status` of a reply that carries the response.
    pub const OK: &str = "ok";
    /// The `status` of a reply that carries the handler's error.
    pub const FAILED: &str = "error";
}

/// Why a command call did not produce a response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// No reply in time: no instance of the target is running, or it is too slow.
    #[error("no reply to `{command}` from `{target}` within {after:?}: is `{target}` running?")]
    Timeout {
        /// The command's name.
        command: &'static str,
        /// The target service.
        target: &'static str,
        /// The timeout that elapsed.
        after: Duration,
    },
    /// The handler answered with an error.
    #[error("`{command}` failed in `{target}`: {reason}")]
    Failed {
        /// The command's name.
        command: &'static str,
        /// The target service.
        target: &'static str,
        /// The handler's error, as it reported it.
        reason: String,
    },
    /// The request could not be sent or the reply could not be read.
    #[error("`{command}` could not be carried: {reason}")]
    Transport {
        /// The command's name.
        command: &'static str,
        /// What went wrong.
        reason: String,
    },
}

/// Sends commands and waits for their replies; generated client methods call it.
pub trait CommandCaller: Send + Sync {
    /// Sends `request` to its target and waits for the response, at most
    /// `timeout` (the command's own timeout when `None`).
    fn call<C: Command>(
        &self,
        request: &C,
        timeout: Option<Duration>,
    ) -> impl Future<Output = Result<C::Response, CommandError>> + Send;
}

/// Serves the commands of one target service; implemented by generated code
/// over the service's handler trait. Run it with a
/// [`CommandServer`](crate::CommandServer).
pub trait ServeCommands: Send + Sync + 'static {
    /// The service whose command stream this serves.
    fn target(&self) -> &'static str;

    /// The names of the commands this serves (e.g. `company.get`), used to
    /// label metrics by command; a name not listed is labelled `unknown`.
    /// Empty by default.
    fn commands(&self) -> &'static [&'static str] {
        &[]
    }

    /// Decodes the request in `message` by its command name, calls the
    /// handler and returns the response as JSON.
    fn serve(&self, message: &Message) -> impl Future<Output = Result<String, HandlerError>> + Send;
}

/// Encodes a handler's response as the JSON of its reply; generated command
/// servers call it. A response that cannot be encoded is a permanent failure.
pub fn encode_response<R: Serialize>(response: &R) -> Result<String, HandlerError> {
    serde_json::to_string(response)
        .map_err(|error| HandlerError::permanent(format!("cannot encode the response: {error}")))
}

//! The connection a publisher writes on when Redis is a single server: a
//! socket of the runtime's own, with commands the runtime encodes in RESP
//! itself ([`Commands`]), straight from the envelope's fields, and replies
//! (entry ids, as a rule) read without the redis crate's generic parser.
//! No driver task stands between the publishing task and the socket: each
//! call writes its commands itself, and the calls read the replies. The
//! crate's multiplexed connection hands every command to its driver task
//! and every reply back, and packs and parses each argument generically,
//! which cost a pipelined publish a fifth of its time. A call may also
//! write its first commands while it still encodes the rest
//! ([`Writer::send_early`]), so that Redis runs them meanwhile.
//!
//! Calls are pipelined. A call writes its commands as soon as no other call
//! is writing (one writes at a time, in the order they came), without
//! waiting for the replies owed to the calls before it, then waits for its
//! own. (A call that writes ahead does so in parts, each in its turn: other
//! calls' commands may go between them.) Replies come in the order
//! commands were written. One waiting call at a time reads them, handing
//! each call its own, until its own have come; then the next waiting call
//! reads on. (Letting one call at a time
//! write *and* read its replies, as an earlier version did, made a call that
//! came meanwhile wait a whole round trip before it could write: concurrent
//! publishes took twice the round trip.)
//!
//! A call given up (its future dropped, on a timeout) leaves its replies
//! owed: the call that reads them drops them, so what a timed-out publish
//! sent stays ahead of what is published next, and the calls behind it get
//! their replies. A write given up half done goes on where it stopped when
//! the same writer writes again, and no other call writes meanwhile;
//! dropped, it leaves part of a command on the socket, and the next call to
//! write closes it (the calls owed replies on it fail: their commands may
//! have run) and connects anew. A call given up before it wrote is not
//! written at all. A connection that answers nothing while two calls in a
//! row are given up is taken for dead (a peer gone without a word, an idle
//! connection a firewall dropped) and opened anew.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use redis::{ConnectionInfo, ErrorKind, IntoConnectionInfo, RedisError, Value};
use tokio::io::AsyncWriteExt;
use tokio::sync::{OwnedMutexGuard, oneshot};

use super::resp;
use super::socket::{Replies, Socket, WriteHalf, lost, within};
use super::{AddCommands, CONNECT_TIMEOUT};
use crate::config::{Config, RedisServers};
use crate::error::Error;

/// How many calls in a row may be given up with replies owed and none read
/// before the connection is taken for dead.
const STALLED_CALLS: usize = 2;

/// The replies to one part of a call (all of them, or the error that lost
/// the connection).
type Answer = Result<Vec<Result<Value, RedisError>>, RedisError>;

/// The runtime's own connection to a single server for writes, opened at
/// the first call and again after one failed. Cheap to clone: clones share
/// the connection.
#[derive(Clone)]
pub(crate) struct WriteConnection {
    inner: Arc<Inner>,
}

struct Inner {
    server: ConnectionInfo,
    /// The socket's write half: locked by the call writing.
    writing: Arc<tokio::sync::Mutex<Writing>>,
    /// The socket's read half: locked by the call reading replies.
    reading: tokio::sync::Mutex<Reading>,
    /// What both sides share, locked for a moment only.
    shared: Mutex<Shared>,
}

/// The write half, for the connection it belongs to, and the part of a call
/// whose writing was cut short (its writer may go on, or was dropped).
#[derive(Default)]
struct Writing {
    half: Option<(u64, WriteHalf)>,
    cut: Option<Cut>,
}

/// A part of a call given up while it was written.
struct Cut {
    connection: u64,
    call: u64,
    /// Whether any of its bytes are on the socket.
    started: bool,
}

/// The read half, for the connection it belongs to.
#[derive(Default)]
struct Reading {
    half: Option<(u64, Replies)>,
}

#[derive(Default)]
struct Shared {
    /// The current connection (none open, or being opened, after a failure
    /// of the one before). Numbers are never used twice.
    connection: u64,
    /// The read half of a connection just opened, for the next reader.
    opened: Option<(u64, Replies)>,
    /// The replies still to come on the current connection, by part of a
    /// call, oldest first.
    owed: VecDeque<Owed>,
    /// For numbering calls.
    calls: u64,
    /// Replies read so far, on any connection.
    replies_read: u64,
    /// `replies_read` when the current connection last owed nothing after
    /// answering: if it is still that, the connection has been idle since
    /// (Redis may have dropped it meanwhile). None while it has not
    /// answered since it was opened.
    idle_mark: Option<u64>,
    /// A buffer a finished call left, for the next (so that a batch's
    /// hundred kilobytes are not allocated afresh).
    spare: Option<Commands>,
}

/// The replies one part of a call is owed, those read so far, and where
/// they go.
struct Owed {
    call: u64,
    count: usize,
    read: Vec<Result<Value, RedisError>>,
    answer: oneshot::Sender<Answer>,
}

impl Shared {
    /// Closes `connection` after `error`, unless that happened already: the
    /// calls owed replies on it get `error` (their commands may have run).
    fn close(&mut self, connection: u64, error: &RedisError) {
        if self.connection != connection {
            return;
        }
        self.connection += 1;
        self.opened = None;
        self.idle_mark = None;
        for owed in self.owed.drain(..) {
            let _ = owed.answer.send(Err(error.clone()));
        }
    }

    /// Forgets what `cut`, a part of a call given up while it was written,
    /// left: part of a command on its connection closes it; with nothing
    /// written, its replies are owed no more (it is the last part owed, as
    /// no other call wrote since).
    fn abandon(&mut self, cut: &Cut) {
        if cut.started {
            self.close(cut.connection, &interrupted());
        } else if self.connection == cut.connection && self.owed.back().is_some_and(|owed| owed.call == cut.call) {
            self.owed.pop_back();
        }
    }

    /// Whether the oldest replies owed belong to [`STALLED_CALLS`] calls or
    /// more, all given up, with none of them read.
    fn stalled(&self) -> bool {
        let mut given_up = Vec::new();
        for owed in &self.owed {
            if !(owed.answer.is_closed() && owed.read.is_empty()) {
                break;
            }
            if given_up.last() != Some(&owed.call) {
                given_up.push(owed.call);
            }
        }
        given_up.len() >= STALLED_CALLS
    }
}

impl Inner {
    fn shared(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Locks what the sides share, first forgetting what `left` (a part of
    /// a call given up while it was written) left and closing a connection
    /// that answered nothing for too long; the lock if `half` (the
    /// connection the write half belongs to) is the current one.
    fn lock_current(&self, half: Option<u64>, left: &mut Option<Cut>) -> Option<MutexGuard<'_, Shared>> {
        let mut shared = self.shared();
        if let Some(cut) = left.take() {
            shared.abandon(&cut);
        }
        if shared.stalled() {
            tracing::warn!("Redis answered none of the last {STALLED_CALLS} publishes in time; connecting anew");
            let stalled = shared.connection;
            shared.close(stalled, &interrupted());
        }
        (half == Some(shared.connection)).then_some(shared)
    }

    /// Reads the next reply on the current connection and gives it to the
    /// part it is owed to (each part gets its replies once all are read). A
    /// failure closes the connection.
    async fn read_next(&self, reading: &mut Reading) {
        let Some(connection) = self.current_half(reading) else {
            return;
        };
        let Some((_, replies)) = &mut reading.half else {
            return;
        };
        let reply = replies.next(resp::write_reply).await;
        self.deliver(connection, reply);
    }

    /// Gives out the replies read already, without reading the socket: so
    /// that the calls they are for need not each take their turn to read.
    fn deliver_buffered(&self, reading: &mut Reading) {
        let Some((connection, replies)) = &mut reading.half else {
            return;
        };
        while let Some(reply) = replies.buffered(resp::write_reply) {
            if !self.deliver(*connection, reply) {
                break;
            }
        }
    }

    /// The connection `reading` holds the read half of, now the current
    /// one's (none if there is none: the connection is closed).
    fn current_half(&self, reading: &mut Reading) -> Option<u64> {
        let mut shared = self.shared();
        let current = shared.connection;
        if reading
            .half
            .as_ref()
            .is_none_or(|(connection, _)| *connection != current)
        {
            reading.half = shared.opened.take().filter(|(connection, _)| *connection == current);
        }
        if reading.half.is_none() {
            // Nothing written on the current connection: whatever this
            // reader waits for was owed on one closed since.
            shared.close(current, &lost());
            return None;
        }
        Some(current)
    }

    /// Gives `reply`, read on `connection`, to the part it is owed to; a
    /// connection out of step is closed. Whether `connection` is still the
    /// current one.
    fn deliver(&self, connection: u64, reply: Result<Value, RedisError>) -> bool {
        let mut shared = self.shared();
        if shared.connection != connection {
            return false;
        }
        if let Err(error) = &reply
            && out_of_step(error)
        {
            shared.close(connection, error);
            return false;
        }
        let Some(owed) = shared.owed.front_mut() else {
            shared.close(connection, &unasked());
            return false;
        };
        owed.read.push(reply);
        let complete = owed.read.len() == owed.count;
        shared.replies_read += 1;
        if complete && let Some(owed) = shared.owed.pop_front() {
            let _ = owed.answer.send(Ok(owed.read));
            if shared.owed.is_empty() {
                shared.idle_mark = Some(shared.replies_read);
            }
        }
        true
    }
}

/// A call: its commands, added to until it is made, and the parts of them
/// written so far.
pub(crate) struct Writer {
    inner: Arc<Inner>,
    call: u64,
    commands: Commands,
    /// How many of the bytes and commands are written.
    sent_bytes: usize,
    sent_commands: usize,
    /// The write half, kept while a part of this call's is cut short
    /// half written, so that the writer goes on where it stopped.
    cut: Option<OwnedMutexGuard<Writing>>,
    /// Where the part being written ends: its bytes and commands.
    part_end: (usize, usize),
    /// Where each part written gets its replies, in order.
    parts: Vec<oneshot::Receiver<Answer>>,
    /// Whether a failure of the connection may still be answered by writing
    /// every command again on a new one: once per call, when its first part
    /// went on a connection an earlier call had opened and that had been
    /// idle since it last answered (Redis may have dropped it meanwhile),
    /// and no reply has been read since (`read_mark` is the count of replies
    /// read then). So every call of a burst written to a connection found
    /// dead is written again.
    may_retry: bool,
    read_mark: u64,
    retried: bool,
    /// Why the call must fail: writing ahead failed on a connection it may
    /// not write everything again on.
    failed: Option<RedisError>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("server", &self.inner.server.addr())
            .field("commands", &self.commands.count)
            .finish_non_exhaustive()
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        let mut commands = std::mem::take(&mut self.commands);
        commands.clear();
        self.inner.shared().spare = Some(commands);
    }
}

impl WriteConnection {
    /// A connection to `config`'s Redis, or none when that is a cluster
    /// (writes there go through the redis crate's cluster client, which
    /// routes each slot's commands to its master).
    pub(crate) fn new(config: &Config) -> Result<Option<WriteConnection>, Error> {
        let RedisServers::Standalone(url) = config.redis() else {
            return Ok(None);
        };
        let server = url.as_str().into_connection_info().map_err(|source| Error::RedisUrl {
            url: config.redis_url_redacted(),
            source,
        })?;
        Ok(Some(WriteConnection {
            inner: Arc::new(Inner {
                server,
                writing: Arc::default(),
                reading: tokio::sync::Mutex::default(),
                shared: Mutex::default(),
            }),
        }))
    }

    /// A new call, with no commands yet.
    pub(crate) fn writer(&self) -> Writer {
        let (call, commands) = {
            let mut shared = self.inner.shared();
            shared.calls += 1;
            (shared.calls, shared.spare.take().unwrap_or_default())
        };
        Writer {
            inner: self.inner.clone(),
            call,
            commands,
            sent_bytes: 0,
            sent_commands: 0,
            cut: None,
            part_end: (0, 0),
            parts: Vec::new(),
            may_retry: false,
            read_mark: 0,
            retried: false,
            failed: None,
        }
    }
}

impl Writer {
    /// The commands of this call, to add to.
    pub(crate) fn commands(&mut self) -> &mut Commands {
        &mut self.commands
    }

    /// How many bytes of complete commands are not written yet.
    pub(crate) fn unsent(&self) -> usize {
        self.commands.bytes.len() - self.sent_bytes
    }

    /// Writes the commands complete so far, so that Redis runs them while
    /// more are added; whether that worked. Given up half done, the call
    /// goes on writing where it stopped. A failure closes the connection:
    /// [`call`](Self::call) then sends every command again on a new one if
    /// it may (the connection was an earlier call's and gave nothing back),
    /// else fails with it.
    pub(crate) async fn send_early(&mut self) -> bool {
        match self.send_unsent().await {
            Ok(()) => true,
            Err(error) => {
                tracing::debug!(%error, "writing ahead to Redis failed");
                if !(error.is_io_error() && self.retry()) {
                    self.failed = Some(error);
                }
                false
            }
        }
    }

    /// Sends the [`commands`](Self::commands) not written yet and returns
    /// the replies to all of the call's, in order. The first error reply
    /// fails the call (once every reply is read). A connection found closed
    /// (Redis restarted, say) is noticed on first use: the commands go once
    /// more on a new one, so some may run twice. Connecting is bounded by
    /// [`CONNECT_TIMEOUT`]; the rest is the caller's to bound.
    pub(crate) async fn call(mut self) -> Result<Vec<Value>, RedisError> {
        self.commands.end();
        if let Some(error) = self.failed.take() {
            return Err(error);
        }
        loop {
            let replies = match self.send_unsent().await {
                Ok(()) => self.replies().await,
                Err(error) => Err(error),
            };
            match replies {
                Ok(replies) => return replies.into_iter().collect(),
                Err(error) if error.is_io_error() && self.retry() => {
                    tracing::debug!(%error, "connection to Redis dropped; writing again on a new one");
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// Whether the call may write everything again after its connection
    /// failed (see `may_retry`); if so, it starts over.
    fn retry(&mut self) -> bool {
        if !(std::mem::take(&mut self.may_retry) && self.inner.shared().replies_read == self.read_mark) {
            return false;
        }
        self.retried = true;
        self.sent_bytes = 0;
        self.sent_commands = 0;
        self.parts.clear();
        true
    }

    /// Why the connection this call's parts went on was closed: the error
    /// the first part failed with.
    fn why_closed(&mut self) -> RedisError {
        self.parts
            .iter_mut()
            .find_map(|answered| answered.try_recv().ok()?.err())
            .unwrap_or_else(lost)
    }

    /// Writes the complete commands not written yet, in parts.
    async fn send_unsent(&mut self) -> Result<(), RedisError> {
        while self.sent_bytes < self.commands.bytes.len() {
            self.send_part().await?;
        }
        Ok(())
    }

    /// Writes one part of the call: the one cut short, where it stopped, or
    /// else every complete command not written yet, once no other call is
    /// writing, on the current connection (opening one if there is none).
    async fn send_part(&mut self) -> Result<(), RedisError> {
        let inner = self.inner.clone();
        let mut writing = match self.cut.take() {
            Some(writing) => writing,
            None => inner.writing.clone().lock_owned().await,
        };
        let started = match &writing.cut {
            Some(cut) if cut.call == self.call => {
                if cut.connection != inner.shared().connection {
                    // Closed since: the part's answer says why.
                    return Err(self.why_closed());
                }
                cut.started
            }
            _ => {
                self.start_part(&mut writing).await?;
                false
            }
        };
        let writing = self.cut.insert(writing);
        let Writing {
            half: Some((connection, half)),
            cut,
        } = &mut **writing
        else {
            self.cut = None;
            return Err(lost());
        };
        let cut = cut.insert(Cut {
            connection: *connection,
            call: self.call,
            started,
        });
        let (end, commands) = self.part_end;
        while self.sent_bytes < end {
            let written = match half.write(&self.commands.bytes[self.sent_bytes..end]).await {
                Ok(0) => Err(lost()),
                Ok(written) => Ok(written),
                Err(error) => Err(RedisError::from(error)),
            };
            match written {
                Ok(written) => {
                    self.sent_bytes += written;
                    cut.started = true;
                }
                Err(error) => {
                    inner.shared().close(*connection, &error);
                    writing.cut = None;
                    self.cut = None;
                    return Err(error);
                }
            }
        }
        writing.cut = None;
        self.cut = None;
        self.sent_commands = commands;
        Ok(())
    }

    /// Starts a part of every complete command not written yet, on the
    /// current connection (closed first if a call given up while writing
    /// left part of a command on it, or if it answered nothing for too
    /// long; opened if there is none): it is owed their replies.
    async fn start_part(&mut self, writing: &mut Writing) -> Result<(), RedisError> {
        let inner = &*self.inner;
        let mut left = writing.cut.take();
        let mut opened = false;
        let mut shared = loop {
            let half = writing.half.as_ref().map(|(connection, _)| *connection);
            if let Some(shared) = inner.lock_current(half, &mut left) {
                break shared;
            }
            writing.half = None;
            if !self.parts.is_empty() {
                // Its earlier parts went on a connection closed since.
                return Err(self.why_closed());
            }
            let (half, replies) = within(CONNECT_TIMEOUT, Socket::open(&inner.server, false))
                .await?
                .into_halves();
            let mut shared = inner.shared();
            let before = shared.connection;
            shared.close(before, &lost());
            shared.opened = Some((shared.connection, replies));
            writing.half = Some((shared.connection, half));
            opened = true;
        };
        if self.parts.is_empty() {
            self.may_retry = !opened && !self.retried && shared.idle_mark == Some(shared.replies_read);
            self.read_mark = shared.replies_read;
        }
        let count = self.commands.count - self.sent_commands;
        let (answer, answered) = oneshot::channel();
        shared.owed.push_back(Owed {
            call: self.call,
            count,
            read: Vec::with_capacity(count),
            answer,
        });
        self.parts.push(answered);
        self.part_end = (self.commands.bytes.len(), self.commands.count);
        Ok(())
    }

    /// Waits for the replies to every part written, in order; the first
    /// part's failure fails the call.
    async fn replies(&mut self) -> Result<Vec<Result<Value, RedisError>>, RedisError> {
        let mut replies = Vec::with_capacity(self.commands.count);
        for answered in &mut self.parts {
            replies.extend(self.inner.answer(answered).await?);
        }
        Ok(replies)
    }
}

impl Inner {
    /// Waits for `answered`, reading the replies on the connection (for
    /// every call owed some before) while no other call does.
    async fn answer(&self, answered: &mut oneshot::Receiver<Answer>) -> Answer {
        let gone = |_| Err(interrupted());
        let mut reading = tokio::select! {
            biased;
            answer = &mut *answered => return answer.unwrap_or_else(gone),
            reading = self.reading.lock() => reading,
        };
        loop {
            tokio::select! {
                biased;
                answer = &mut *answered => {
                    self.deliver_buffered(&mut reading);
                    return answer.unwrap_or_else(gone);
                }
                () = self.read_next(&mut reading) => {}
            }
        }
    }
}

/// The error of a call whose commands were cut short: a call writing them
/// was given up (some may have run), or the connection they were on was
/// taken for dead. Not one to write them again on.
fn interrupted() -> RedisError {
    RedisError::from((
        ErrorKind::Client,
        "the publish was cut short: the call writing it was given up, or Redis answered nothing (it may have been written)",
    ))
}

/// The error of a reply that no command asked for.
fn unasked() -> RedisError {
    RedisError::from((ErrorKind::Parse, "Redis sent a reply that no command asked for"))
}

/// Commands encoded in RESP for a [`WriteConnection`], added one argument
/// at a time; each is complete when the next one starts (or the call is
/// made).
#[derive(Debug, Default)]
pub(crate) struct Commands {
    /// The commands complete, and how many.
    bytes: Vec<u8>,
    count: usize,
    /// The arguments of the command being added, and how many.
    args: Vec<u8>,
    arg_count: usize,
}

impl Commands {
    /// Drops every command, keeping the buffers (unless they grew far
    /// beyond a batch, for one of large entries).
    fn clear(&mut self) {
        const KEPT: usize = 1 << 20;
        self.bytes.clear();
        self.bytes.shrink_to(KEPT);
        self.args.clear();
        self.args.shrink_to(KEPT);
        self.count = 0;
        self.arg_count = 0;
    }

    /// Completes the command being added, if any.
    pub(crate) fn end(&mut self) {
        if self.arg_count == 0 {
            return;
        }
        self.bytes.push(b'*');
        self.bytes
            .extend_from_slice(itoa::Buffer::new().format(self.arg_count).as_bytes());
        self.bytes.extend_from_slice(b"\r\n");
        self.bytes.append(&mut self.args);
        self.arg_count = 0;
        self.count += 1;
    }
}

impl AddCommands for Commands {
    /// Starts command `name` (on a single server, where `key` is only
    /// passed as an argument), completing the one before.
    fn command(&mut self, _key: &str, name: &str) -> &mut Self {
        self.end();
        self.arg(name.as_bytes())
    }

    #[inline]
    fn arg(&mut self, arg: &[u8]) -> &mut Self {
        // `$<length>\r\n<arg>\r\n`, the usual lengths (under 100) written
        // without a formatter: an entry has two dozen such arguments.
        self.args.reserve(arg.len() + 25);
        match u8::try_from(arg.len()) {
            Ok(length @ 0..10) => self.args.extend_from_slice(&[b'$', b'0' + length, b'\r', b'\n']),
            Ok(length @ 10..100) => {
                self.args
                    .extend_from_slice(&[b'$', b'0' + length / 10, b'0' + length % 10, b'\r', b'\n']);
            }
            _ => {
                self.args.push(b'$');
                self.args
                    .extend_from_slice(itoa::Buffer::new().format(arg.len()).as_bytes());
                self.args.extend_from_slice(b"\r\n");
            }
        }
        self.args.extend_from_slice(arg);
        self.args.extend_from_slice(b"\r\n");
        self.arg_count += 1;
        self
    }
}

/// Whether `error` leaves the connection unusable: it failed, or its bytes
/// are not RESP (an error reply leaves it as it was).
fn out_of_step(error: &RedisError) -> bool {
    error.is_io_error() || error.kind() == ErrorKind::Parse
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn commands_are_encoded_as_the_redis_crate_packs_them(
            commands in prop::collection::vec(prop::collection::vec(prop::collection::vec(any::<u8>(), 0..150), 1..8), 0..6)
        ) {
            let mut ours = Commands::default();
            let mut theirs = Vec::new();
            for args in &commands {
                let mut command = redis::Cmd::new();
                ours.command("key", "NAME");
                command.arg("NAME");
                for arg in args {
                    ours.arg(arg);
                    command.arg(arg.as_slice());
                }
                command.write_packed_command(&mut theirs);
            }
            ours.end();
            prop_assert_eq!(ours.count, commands.len());
            prop_assert_eq!(ours.bytes, theirs);
        }
    }
}

#[cfg(all(test, feature = "testing"))]
mod on_a_server {
    use std::time::Duration;

    use super::*;
    use crate::testing::RedisServer;

    /// A connection to `server`, as a publisher of it would have.
    fn connection(server: &RedisServer) -> WriteConnection {
        let config = server.config("svc").build().expect("valid config");
        WriteConnection::new(&config).expect("a URL").expect("a single server")
    }

    /// `commands`, each its arguments.
    fn encode(commands: &[&[&str]]) -> Commands {
        let mut encoded = Commands::default();
        for command in commands {
            let added = encoded.command("", command[0]);
            for arg in &command[1..] {
                added.arg(arg.as_bytes());
            }
        }
        encoded
    }

    /// A call of `commands` (complete: ready to write ahead) on `connection`.
    fn writer(connection: &WriteConnection, commands: &[&[&str]]) -> Writer {
        let mut writer = connection.writer();
        *writer.commands() = encode(commands);
        writer.commands().end();
        writer
    }

    /// Calls `commands` on `connection`.
    async fn call(connection: &WriteConnection, commands: &[&[&str]]) -> Result<Vec<Value>, RedisError> {
        writer(connection, commands).call().await
    }

    /// A call of `commands` on its own task, written (or waiting to write)
    /// by the time this returns.
    async fn queued(
        connection: &WriteConnection,
        commands: &[&[&str]],
    ) -> tokio::task::JoinHandle<Result<Vec<Value>, RedisError>> {
        let writer = writer(connection, commands);
        let call = tokio::spawn(writer.call());
        tokio::time::sleep(Duration::from_millis(50)).await;
        call
    }

    /// A call that writes a `BLPOP` (blocking for a second) and another
    /// written behind it (`ECHO behind`); the first is given up while
    /// `BLPOP` blocks. Returns the call behind.
    async fn given_up_before_one_behind(
        writes: &WriteConnection,
    ) -> tokio::task::JoinHandle<Result<Vec<Value>, RedisError>> {
        let mut first = writer(writes, &[&["BLPOP", "list", "1"]]);
        assert!(first.send_early().await, "written");
        let behind = queued(writes, &[&["ECHO", "behind"]]).await;
        let given_up = tokio::time::timeout(Duration::from_millis(100), first.call()).await;
        assert!(given_up.is_err(), "BLPOP blocks: {given_up:?}");
        behind
    }

    /// A call of `SET big <64 MiB>` then `INCR n`, cut short while writing
    /// ahead (`server` reads nothing meanwhile; it is held for `held`).
    async fn cut_short_writing_ahead(
        server: &RedisServer,
        writes: &WriteConnection,
        held: Duration,
    ) -> (Writer, std::thread::JoinHandle<std::io::Result<String>>) {
        call(writes, &[&["PING"]]).await.expect("connected");
        let big = "x".repeat(64 << 20);
        let mut writer = writer(writes, &[&["INCR", "n"], &["SET", "big", &big], &["INCR", "n"]]);
        let held = server.hold(held);
        tokio::time::sleep(Duration::from_millis(100)).await;
        let cut = tokio::time::timeout(Duration::from_millis(100), writer.send_early()).await;
        assert!(cut.is_err(), "the server reads nothing meanwhile");
        (writer, held)
    }

    /// Once the server is no longer `held`: that `n` was incremented once,
    /// and `big` never set.
    async fn incremented_once_without_big(
        writes: &WriteConnection,
        held: std::thread::JoinHandle<std::io::Result<String>>,
    ) {
        held.join().expect("the script ran").expect("the script ran");
        let replies = call(writes, &[&["GET", "n"], &["EXISTS", "big"]])
            .await
            .expect("replies");
        assert_eq!(replies, [bulk("1"), Value::Int(0)]);
    }

    fn bulk(text: &str) -> Value {
        Value::BulkString(text.as_bytes().to_vec())
    }

    #[tokio::test]
    async fn a_call_given_up_leaves_its_replies_for_the_next_to_drop() {
        let server = RedisServer::start().expect("redis-server starts");
        let writes = connection(&server);
        // A call whose reply comes late (after a second), given up.
        let given_up = tokio::time::timeout(
            Duration::from_millis(100),
            call(&writes, &[&["BLPOP", "list", "1"], &["ECHO", "late"]]),
        )
        .await;
        assert!(given_up.is_err(), "BLPOP blocks: {given_up:?}");
        // The next call's replies are its own, not the two owed.
        let replies = call(&writes, &[&["RPUSH", "list", "x"]]).await.expect("replies");
        assert_eq!(replies, [Value::Int(1)]);
        let replies = call(&writes, &[&["ECHO", "mine"]]).await.expect("replies");
        assert_eq!(replies, [bulk("mine")]);
    }

    #[tokio::test]
    async fn a_call_does_not_wait_for_the_replies_of_one_written_before_it() {
        let server = RedisServer::start().expect("redis-server starts");
        let writes = connection(&server);
        let mut first = writer(&writes, &[&["ECHO", "first"]]);
        assert!(first.send_early().await, "written");
        // The first call is not polled again until the second is answered:
        // the second writes at once and reads the first's reply for it.
        let second = tokio::time::timeout(Duration::from_secs(5), call(&writes, &[&["ECHO", "second"]]))
            .await
            .expect("answered while the first waits")
            .expect("replies");
        assert_eq!(second, [bulk("second")]);
        assert_eq!(first.call().await.expect("replies"), [bulk("first")]);
    }

    #[tokio::test]
    async fn a_call_given_up_while_writing_leaves_no_part_of_a_command_behind() {
        let server = RedisServer::start().expect("redis-server starts");
        let writes = connection(&server);
        call(&writes, &[&["PING"]]).await.expect("connected");
        let held = server.hold(Duration::from_millis(800));
        tokio::time::sleep(Duration::from_millis(100)).await;
        // More than the socket buffers hold while the server reads nothing.
        let big = "x".repeat(64 << 20);
        let given_up = tokio::time::timeout(
            Duration::from_millis(200),
            call(&writes, &[&["SET", "big", &big], &["SET", "after", "1"]]),
        )
        .await;
        assert!(given_up.is_err(), "the write cannot finish: {given_up:?}");
        held.join().expect("the script ran").expect("the script ran");
        let next = call(&writes, &[&["EXISTS", "big", "after"], &["ECHO", "x"]]);
        let replies = tokio::time::timeout(Duration::from_secs(5), next)
            .await
            .expect("replies in time (the cut command took no more bytes)")
            .expect("replies");
        assert_eq!(replies, [Value::Int(0), bulk("x")]);
    }

    #[tokio::test]
    async fn an_error_reply_fails_its_call_only_and_the_next_reads_its_own() {
        let server = RedisServer::start().expect("redis-server starts");
        let writes = connection(&server);
        let mut first = writer(&writes, &[&["SET", "k", "v"], &["XADD", "k", "*", "a", "b"]]);
        assert!(first.send_early().await, "written");
        let behind = queued(&writes, &[&["ECHO", "behind"]]).await;
        let error = first.call().await.expect_err("k is not a stream");
        assert_eq!(error.code(), Some("WRONGTYPE"), "{error}");
        assert_eq!(
            behind.await.expect("the call ran").expect("its replies"),
            [bulk("behind")]
        );
        let replies = call(&writes, &[&["ECHO", "next"]]).await.expect("replies");
        assert_eq!(replies, [bulk("next")]);
    }

    #[tokio::test]
    async fn a_restarted_server_is_written_to_again_at_once() {
        let mut server = RedisServer::start().expect("redis-server starts");
        let writes = connection(&server);
        call(&writes, &[&["PING"]]).await.expect("connected");
        server.restart().expect("redis-server restarts");
        // The old socket is dead: the call finds out and writes again.
        let replies = call(&writes, &[&["INCR", "n"]]).await.expect("replies");
        assert_eq!(replies, [Value::Int(1)], "once, on the new connection");
    }

    #[tokio::test]
    async fn a_refused_login_fails_every_call() {
        let server = RedisServer::start().expect("redis-server starts");
        let admin = connection(&server);
        call(&admin, &[&["CONFIG", "SET", "requirepass", "secret"]])
            .await
            .expect("a password set");
        let config = server
            .config("svc")
            .redis_url(format!("redis://:wrong@127.0.0.1:{}", server.port()))
            .build()
            .expect("valid config");
        let writes = WriteConnection::new(&config).expect("a URL").expect("a single server");
        let first = queued(&writes, &[&["PING"]]).await;
        let second = call(&writes, &[&["PING"]]).await;
        for error in [first.await.expect("the call ran"), second] {
            let error = error.expect_err("the password is wrong");
            assert_eq!(error.code(), Some("WRONGPASS"), "{error}");
        }
    }

    #[tokio::test]
    async fn calls_in_flight_together_are_written_in_the_order_they_came_each_answered_its_own() {
        let server = RedisServer::start().expect("redis-server starts");
        let writes = connection(&server);
        // Blocks the connection for a second: the calls behind it are all
        // written, and wait together.
        let mut first = writer(&writes, &[&["BLPOP", "list", "1"]]);
        assert!(first.send_early().await, "written");
        let mut waiting = Vec::new();
        for n in 0..5 {
            let n = n.to_string();
            waiting.push(queued(&writes, &[&["RPUSH", "order", &n], &["ECHO", &n]]).await);
        }
        assert_eq!(first.call().await.expect("replies"), [Value::Nil]);
        for (n, call) in waiting.into_iter().enumerate() {
            let replies = call.await.expect("the call ran").expect("its replies");
            assert_eq!(replies, [Value::Int(n as i64 + 1), bulk(&n.to_string())], "call {n}");
        }
        let order = call(&writes, &[&["LRANGE", "order", "0", "-1"]])
            .await
            .expect("replies");
        let expected = ["0", "1", "2", "3", "4"].map(bulk).to_vec();
        assert_eq!(order, [Value::Array(expected)]);
    }

    #[tokio::test]
    async fn a_call_given_up_before_it_could_write_is_not_written() {
        let server = RedisServer::start().expect("redis-server starts");
        let writes = connection(&server);
        // A call cut short half written: no other call writes until it goes on.
        let (writer, held) = cut_short_writing_ahead(&server, &writes, Duration::from_millis(600)).await;
        let given_up = tokio::time::timeout(Duration::from_millis(50), call(&writes, &[&["INCR", "given-up"]])).await;
        assert!(given_up.is_err(), "still waiting to write: {given_up:?}");
        let behind = queued(&writes, &[&["INCR", "behind"]]).await;
        held.join().expect("the script ran").expect("the script ran");
        assert_eq!(
            writer.call().await.expect("replies"),
            [Value::Int(1), Value::Okay, Value::Int(2)]
        );
        assert_eq!(
            behind.await.expect("the call ran").expect("its replies"),
            [Value::Int(1)]
        );
        let replies = call(&writes, &[&["EXISTS", "given-up"]]).await.expect("replies");
        assert_eq!(replies, [Value::Int(0)], "the call given up was never written");
    }

    #[tokio::test]
    async fn a_connection_that_fails_after_replies_came_is_not_written_to_again() {
        let server = RedisServer::start().expect("redis-server starts");
        let writes = connection(&server);
        call(&writes, &[&["PING"]]).await.expect("connected");
        // The server closes the connection after the second reply.
        let kill = ["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "no"];
        let error = call(&writes, &[&["INCR", "n"], &kill, &["INCR", "n"]])
            .await
            .expect_err("the connection is closed");
        assert!(error.is_io_error(), "{error}");
        let replies = call(&writes, &[&["GET", "n"]]).await.expect("replies");
        assert_eq!(replies, [bulk("1")], "the commands that ran were not sent again");
    }

    #[tokio::test]
    async fn a_call_behind_one_given_up_reads_its_replies_itself() {
        let server = RedisServer::start().expect("redis-server starts");
        let writes = connection(&server);
        let behind = given_up_before_one_behind(&writes).await;
        // No other call comes: the one behind reads the owed replies itself.
        let behind = tokio::time::timeout(Duration::from_secs(5), behind)
            .await
            .expect("answered in time")
            .expect("the call ran")
            .expect("its replies");
        assert_eq!(behind, [bulk("behind")]);
    }

    #[tokio::test]
    async fn writing_ahead_cut_short_goes_on_where_it_stopped() {
        let server = RedisServer::start().expect("redis-server starts");
        let writes = connection(&server);
        let (writer, held) = cut_short_writing_ahead(&server, &writes, Duration::from_millis(600)).await;
        held.join().expect("the script ran").expect("the script ran");
        let replies = writer.call().await.expect("replies");
        assert_eq!(
            replies,
            [Value::Int(1), Value::Okay, Value::Int(2)],
            "each command once"
        );
    }

    #[tokio::test]
    async fn a_call_cut_short_and_dropped_closes_the_connection_and_fails_the_calls_owed_on_it() {
        let server = RedisServer::start().expect("redis-server starts");
        let writes = connection(&server);
        let (writer, held) = cut_short_writing_ahead(&server, &writes, Duration::from_millis(600)).await;
        drop(writer);
        // The first INCR was written whole, and ran; the cut SET did not.
        incremented_once_without_big(&writes, held).await;
    }

    #[tokio::test]
    async fn a_call_whose_connection_was_closed_for_another_cut_short_is_not_written_again() {
        let server = RedisServer::start().expect("redis-server starts");
        let writes = connection(&server);
        call(&writes, &[&["PING"]]).await.expect("connected");
        // A call writes ahead on the idle connection…
        let mut first = writer(&writes, &[&["INCR", "n"]]);
        assert!(first.send_early().await, "written");
        // …then another is cut short half written, and dropped.
        let held = server.hold(Duration::from_millis(600));
        tokio::time::sleep(Duration::from_millis(100)).await;
        let big = "x".repeat(64 << 20);
        let cut = tokio::time::timeout(Duration::from_millis(100), call(&writes, &[&["SET", "big", &big]])).await;
        assert!(cut.is_err(), "the server reads nothing meanwhile");
        // The rest of the first call finds its connection closed for that:
        // it fails, and what it wrote whole is not written again.
        first.commands().command("", "INCR").arg(b"n");
        let error = first.call().await.expect_err("its connection was closed");
        assert!(!error.is_io_error(), "not a connection Redis dropped: {error}");
        incremented_once_without_big(&writes, held).await;
    }

    #[tokio::test]
    async fn every_call_in_flight_when_a_restarted_server_is_found_is_written_again() {
        let mut server = RedisServer::start().expect("redis-server starts");
        let writes = connection(&server);
        call(&writes, &[&["PING"]]).await.expect("connected");
        server.restart().expect("redis-server restarts");
        let (first, second) = tokio::join!(call(&writes, &[&["INCR", "n"]]), call(&writes, &[&["INCR", "n"]]));
        first.expect("written again");
        second.expect("written again");
        let replies = call(&writes, &[&["GET", "n"]]).await.expect("replies");
        assert_eq!(replies, [bulk("2")], "each once, on the new connection");
    }

    #[tokio::test]
    async fn a_call_written_in_parts_gets_its_replies_with_another_call_between_them() {
        let server = RedisServer::start().expect("redis-server starts");
        let writes = connection(&server);
        let mut first = writer(&writes, &[&["ECHO", "a"]]);
        assert!(first.send_early().await, "written");
        let between = queued(&writes, &[&["ECHO", "between"]]).await;
        first.commands().command("", "ECHO").arg(b"b");
        assert_eq!(first.call().await.expect("replies"), [bulk("a"), bulk("b")]);
        assert_eq!(
            between.await.expect("the call ran").expect("its replies"),
            [bulk("between")]
        );
    }

    #[tokio::test]
    async fn a_connection_that_answers_nothing_is_opened_anew() {
        use std::sync::atomic::{AtomicUsize, Ordering};

        // A server that takes connections and never answers (a peer gone
        // without a word looks the same).
        let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = silent.local_addr().expect("addr").port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counted = accepted.clone();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in silent.incoming() {
                counted.fetch_add(1, Ordering::SeqCst);
                held.push(stream);
            }
        });
        let server = RedisServer::start().expect("redis-server starts");
        let config = server
            .config("svc")
            .redis_url(format!("redis://127.0.0.1:{port}"))
            .build()
            .expect("valid config");
        let writes = WriteConnection::new(&config).expect("a URL").expect("a single server");
        for _ in 0..=STALLED_CALLS {
            let given_up = tokio::time::timeout(Duration::from_millis(100), call(&writes, &[&["PING"]])).await;
            assert!(given_up.is_err(), "no answer: {given_up:?}");
        }
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            2,
            "connected anew after {STALLED_CALLS} calls"
        );
    }

    #[tokio::test]
    async fn a_call_given_up_leaves_the_replies_owed_to_the_one_behind_it_to_the_next_reader() {
        let server = RedisServer::start().expect("redis-server starts");
        let writes = connection(&server);
        let behind = given_up_before_one_behind(&writes).await;
        // The next call reads what is owed: the one behind gets its reply.
        let replies = call(&writes, &[&["ECHO", "next"]]).await.expect("replies");
        assert_eq!(replies, [bulk("next")], "not BLPOP's or the other call's");
        let behind = behind.await.expect("the call ran").expect("its replies");
        assert_eq!(behind, [bulk("behind")]);
    }
}

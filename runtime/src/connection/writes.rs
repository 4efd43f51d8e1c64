//! The connection a publisher writes on when Redis is a single server: a
//! socket of the runtime's own, with commands the runtime encodes in RESP
//! itself ([`Commands`]), straight from the envelope's fields, and replies
//! (entry ids, as a rule) read without the redis crate's generic parser.
//! No driver task stands between the publishing task and the socket: the
//! call whose turn it is writes and reads itself. The crate's multiplexed
//! connection hands every command to its driver task and every reply back,
//! and packs and parses each argument generically, which cost a pipelined
//! publish a fifth of its time. A call may also write its first commands
//! while it still encodes the rest ([`Writer::send_early`]), so that Redis
//! runs them meanwhile.
//!
//! One call at a time has the turn to write. Calls that come meanwhile
//! queue with their commands; the next turn goes to the one that waited
//! longest, which writes its commands and those of every call queued behind
//! it in one pipeline and hands each its replies (group commit): publishes
//! from many tasks still share round trips, and everything goes over one
//! socket, in the order the calls came.
//!
//! Replies come in the order commands were sent, and are kept by group
//! with whom they are for. A call given up (its future dropped, on a
//! timeout) leaves the replies it did not read: the next call with the turn
//! reads them, drops its own and hands waiting calls theirs (when no call is
//! queued, the turn goes to the oldest of those, to read them itself). So
//! what a timed-out publish had sent stays ahead of what is published next,
//! and the calls it wrote for still get their replies. A write given up half
//! done goes on where it stopped in the same call; the next call closes a
//! socket left with part of a command on it and connects anew. A queued call
//! given up before its turn is not written at all. A connection that
//! answers nothing while two calls in a row are given up is taken for dead
//! (a peer gone without a word, an idle connection a firewall dropped) and
//! opened anew.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use redis::{ConnectionInfo, ErrorKind, IntoConnectionInfo, RedisError, Value};
use tokio::sync::{OwnedMutexGuard, oneshot};

use super::resp;
use super::socket::{Socket, lost, within};
use super::{AddCommands, CONNECT_TIMEOUT};
use crate::config::{Config, RedisServers};
use crate::error::Error;

/// How many calls in a row may be given up with replies owed and none read
/// before the connection is taken for dead.
const STALLED_CALLS: u32 = 2;

/// The runtime's own connection to a single server for writes, opened at
/// the first call and again after one failed. Cheap to clone: clones share
/// the connection.
#[derive(Clone)]
pub(crate) struct WriteConnection {
    inner: Arc<Inner>,
}

struct Inner {
    server: ConnectionInfo,
    /// Whether a call has the turn, and the calls waiting for it.
    turns: Mutex<Turns>,
    /// The socket and what it owes: locked by the call with the turn only,
    /// so it is always free when a call gets the turn.
    state: Arc<tokio::sync::Mutex<State>>,
}

#[derive(Default)]
struct Turns {
    taken: bool,
    waiting: VecDeque<Waiting>,
}

/// A call waiting for its turn, with its commands.
struct Waiting {
    commands: Commands,
    answer: oneshot::Sender<Answer>,
}

/// What a waiting call gets: its replies, written by the call whose turn it
/// was, or the turn itself (with its commands back), to write them itself.
enum Answer {
    Replies(Result<Vec<Value>, RedisError>),
    Turn(Turn, Commands),
}

/// The turn to write: dropped, it passes to the call that waited longest
/// (skipping those given up), or leaves the connection free.
struct Turn {
    /// `None` once passed on.
    inner: Option<Arc<Inner>>,
}

impl Turn {
    /// The turn on `inner`, taken (or passed on) under its `turns` lock.
    fn of(inner: &Arc<Inner>) -> Turn {
        Turn {
            inner: Some(inner.clone()),
        }
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        let Some(inner) = self.inner.take() else {
            return;
        };
        let mut turns = inner.turns.lock().unwrap_or_else(PoisonError::into_inner);
        // The socket is free: the call whose turn this was let go of it
        // (a `Writer` drops its lock before its turn).
        let mut state = inner.state.try_lock().ok();
        debug_assert!(state.is_some(), "no lock on the socket outlives the turn");
        if let Some(state) = &mut state {
            // What that call wrote is no longer the current call's, and what
            // it would have read for itself is no one's now.
            for pending in &mut state.pending {
                pending.current = false;
                if matches!(pending.recipient, Recipient::Caller | Recipient::Handed) {
                    pending.recipient = Recipient::Nobody;
                }
            }
        }
        while let Some(Waiting { commands, answer }) = turns.waiting.pop_front() {
            if let Err(unsent) = answer.send(Answer::Turn(Turn::of(&inner), commands)) {
                // Given up: the turn goes on to the next.
                defuse(unsent);
                continue;
            }
            return;
        }
        // None queued, but calls whose commands were written wait for their
        // replies: the oldest reads them (and the others').
        let written_for = state.iter_mut().flat_map(|state| state.pending.iter_mut());
        for pending in written_for.filter(|pending| matches!(pending.recipient, Recipient::Waiting(_))) {
            let Recipient::Waiting(answer) = std::mem::replace(&mut pending.recipient, Recipient::Handed) else {
                continue;
            };
            match answer.send(Answer::Turn(Turn::of(&inner), Commands::default())) {
                Ok(()) => return,
                Err(unsent) => {
                    defuse(unsent);
                    pending.recipient = Recipient::Nobody;
                }
            }
        }
        turns.taken = false;
    }
}

/// An answer that could not be sent: a turn in it is not passed on again.
fn defuse(unsent: Answer) {
    if let Answer::Turn(mut turn, _) = unsent {
        turn.inner = None;
    }
}

/// Who the replies to a group of commands are for.
enum Recipient {
    /// The call with the turn, which wrote them for itself.
    Caller,
    /// A call that waited for the turn: it gets them once all are read.
    Waiting(oneshot::Sender<Answer>),
    /// A call that waited, to which the turn was handed to read them itself
    /// (the call that wrote them was given up and none was queued).
    Handed,
    /// No one: the call that wrote them for itself was given up.
    Nobody,
}

/// The replies to one group of commands written on the socket: how many
/// are to come, who they are for, those read so far, and whether the call
/// with the turn wrote them (it writes them again on a new connection).
struct Pending {
    count: usize,
    recipient: Recipient,
    read: Vec<Result<Value, RedisError>>,
    current: bool,
}

/// The socket, what it still owes, and the call with the turn.
#[derive(Default)]
struct State {
    socket: Option<Socket>,
    /// Set while commands are written: found set by the next call, it says
    /// the last was given up with part of a command sent (within a call,
    /// writing goes on from `sent_bytes`).
    writing: bool,
    /// The replies still to come on the socket, by group, oldest first.
    /// Those of a given-up call are read by the next, which hands a waiting
    /// call its replies.
    pending: VecDeque<Pending>,
    /// The call's commands: its own (the first `own`, once it took others'),
    /// then those of the calls it writes for; how many of their bytes and
    /// commands are on the socket; and the calls whose commands are not on it
    /// yet, in order, with how many each has.
    commands: Commands,
    own: Option<usize>,
    sent_bytes: usize,
    sent_commands: usize,
    unwritten: VecDeque<(usize, oneshot::Sender<Answer>)>,
    /// Whether a connection failure may still be answered by sending every
    /// command again on a new connection: once per call, when the call
    /// started on a connection an earlier call had opened (which Redis may
    /// have dropped since) and has read nothing on it yet.
    may_retry: bool,
    /// Why the call must fail: writing ahead failed on a connection it may
    /// not write everything again on.
    failed: Option<RedisError>,
    /// Whether the call read a reply, and how many calls in a row were
    /// given up owed replies and read none: a connection that answers
    /// nothing for that long is taken for dead (a peer gone without a word,
    /// an idle connection a firewall dropped) and opened anew.
    read_any: bool,
    stalled: u32,
}

impl State {
    /// Closes the socket after `error`: the calls waiting for replies to
    /// what earlier calls wrote get `error` (their commands may have run);
    /// those of this call are to be written again.
    fn reset(&mut self, error: &RedisError) {
        self.socket = None;
        self.writing = false;
        self.sent_bytes = 0;
        self.sent_commands = 0;
        let mut again = VecDeque::new();
        for pending in self.pending.drain(..) {
            match pending.recipient {
                Recipient::Waiting(answer) if pending.current => again.push_back((pending.count, answer)),
                Recipient::Waiting(answer) => {
                    let _ = answer.send(Answer::Replies(Err(error.clone())));
                }
                Recipient::Caller | Recipient::Handed | Recipient::Nobody => {}
            }
        }
        again.append(&mut self.unwritten);
        self.unwritten = again;
    }

    /// Fails the calls this call took with `error`. All of them are
    /// unwritten: a call fails after a reset (which moves those it wrote
    /// back there) or when it could not connect (no socket, nothing pending).
    fn fail_taken(&mut self, error: &RedisError) {
        debug_assert!(
            self.pending.iter().all(|pending| !pending.current),
            "nothing of a failing call is on a socket"
        );
        for (_, answer) in self.unwritten.drain(..) {
            let _ = answer.send(Answer::Replies(Err(error.clone())));
        }
    }
}

/// A call with the turn to write.
pub(crate) struct Writer {
    // Declared before `turn`: the socket is free before the turn passes on.
    state: OwnedMutexGuard<State>,
    turn: Turn,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("server", &self.inner().server.addr())
            .field("commands", &self.state.commands.count)
            .finish_non_exhaustive()
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
                turns: Mutex::new(Turns::default()),
                state: Arc::new(tokio::sync::Mutex::new(State::default())),
            }),
        }))
    }

    /// The turn to write, with no commands yet, unless another call has it.
    pub(crate) fn try_turn(&self) -> Option<Writer> {
        {
            let mut turns = self.inner.turns.lock().unwrap_or_else(PoisonError::into_inner);
            if turns.taken {
                return None;
            }
            turns.taken = true;
        }
        let turn = Turn::of(&self.inner);
        // Free, as no other call has the turn.
        let state = self.inner.state.clone().try_lock_owned().ok()?;
        Some(Writer::start(state, turn, Commands::default()))
    }

    /// Sends `commands` once every call that came before is written, and
    /// returns their replies, as [`Writer::call`] does: in the call whose
    /// turn it is, or in this one when the turn comes to it.
    pub(crate) async fn call(&self, commands: Commands) -> Result<Vec<Value>, RedisError> {
        let answered = {
            let mut turns = self.inner.turns.lock().unwrap_or_else(PoisonError::into_inner);
            if turns.taken {
                let (answer, answered) = oneshot::channel();
                turns.waiting.push_back(Waiting { commands, answer });
                Err(answered)
            } else {
                turns.taken = true;
                Ok(commands)
            }
        };
        let (turn, commands) = match answered {
            Ok(commands) => (Turn::of(&self.inner), commands),
            Err(answered) => match answered.await {
                Ok(Answer::Replies(replies)) => return replies,
                Ok(Answer::Turn(turn, commands)) => (turn, commands),
                Err(_) => return Err(interrupted()),
            },
        };
        let state = self.inner.state.clone().lock_owned().await;
        Writer::start(state, turn, commands).call().await
    }
}

impl Writer {
    /// The turn of a new call, whose own commands are `commands` (copied
    /// into the buffer kept from call to call).
    fn start(mut state: OwnedMutexGuard<State>, turn: Turn, mut commands: Commands) -> Writer {
        let now = &mut *state;
        // Calls an earlier call had taken and not written get an error
        // (their commands may be on a socket cut mid-write). What it wrote
        // the turn's hand-over settled (see `Turn`'s drop).
        for (_, answer) in now.unwritten.drain(..) {
            let _ = answer.send(Answer::Replies(Err(interrupted())));
        }
        now.commands.clear();
        commands.end();
        now.commands.append(&mut commands);
        if now.writing {
            now.reset(&interrupted());
        }
        now.own = None;
        now.sent_bytes = 0;
        now.sent_commands = 0;
        now.failed = None;
        if now.pending.is_empty() || now.read_any {
            now.stalled = 0;
        } else {
            now.stalled += 1;
            if now.stalled >= STALLED_CALLS {
                tracing::warn!("Redis answered none of the last {STALLED_CALLS} publishes in time; connecting anew");
                now.stalled = 0;
                now.reset(&interrupted());
            }
        }
        now.read_any = false;
        // Idle since an earlier call: if it fails at once, Redis dropped it.
        now.may_retry = now.socket.is_some() && now.pending.is_empty();
        Writer { state, turn }
    }

    /// The connection this call has the turn on.
    fn inner(&self) -> &Inner {
        self.turn.inner.as_deref().expect("a turn not passed on")
    }

    /// The commands of this call, to add to (a buffer kept from call to
    /// call, so that a batch's hundred kilobytes are not allocated afresh).
    pub(crate) fn commands(&mut self) -> &mut Commands {
        &mut self.state.commands
    }

    /// How many bytes of complete commands are not written yet.
    pub(crate) fn unsent(&self) -> usize {
        self.state.commands.bytes.len() - self.state.sent_bytes
    }

    /// Writes the commands complete so far, so that Redis runs them while
    /// more are added; whether that worked. Given up half done, the call
    /// goes on writing where it stopped. A failure closes the connection:
    /// [`call`](Self::call) then sends every command again on a new one if
    /// it may (the connection was an earlier call's and gave nothing back),
    /// else fails with it.
    pub(crate) async fn send_early(&mut self) -> bool {
        match self.send_unsent(false).await {
            Ok(()) => true,
            Err(error) => {
                tracing::debug!(%error, "writing ahead to Redis failed");
                let state = &mut *self.state;
                state.reset(&error);
                if !(error.is_io_error() && std::mem::take(&mut state.may_retry)) {
                    state.failed = Some(error);
                }
                false
            }
        }
    }

    /// Sends the [`commands`](Self::commands) not written yet, and those of
    /// the calls waiting for the turn, and returns the replies to this
    /// call's, in order; each waiting call gets its own. The first error
    /// reply fails the call it belongs to (once every reply is read). A
    /// connection found closed (Redis restarted, say) is noticed on first
    /// use: the commands go once more on a new one, so some may run twice.
    /// Connecting is bounded by [`CONNECT_TIMEOUT`]; the rest is the
    /// caller's to bound. Then the turn passes on.
    pub(crate) async fn call(mut self) -> Result<Vec<Value>, RedisError> {
        self.state.commands.end();
        if let Some(error) = self.state.failed.take() {
            return Err(error);
        }
        loop {
            let replies = match self.send_unsent(true).await {
                Ok(()) => self.replies().await,
                Err(error) => Err(error),
            };
            let error = match replies {
                Ok(replies) => return settled(replies),
                Err(error) => error,
            };
            if out_of_step(&error) {
                self.state.reset(&error);
                if error.is_io_error() && std::mem::take(&mut self.state.may_retry) {
                    tracing::debug!(%error, "connection to Redis dropped; writing again on a new one");
                    continue;
                }
            }
            self.state.fail_taken(&error);
            return Err(error);
        }
    }

    /// Writes the complete commands not written yet on the connection,
    /// opening one first if there is none (then every command of the call is
    /// unsent). With `take_waiting`, the commands of the calls waiting for
    /// the turn (not given up) go behind this call's, in the same write.
    async fn send_unsent(&mut self, take_waiting: bool) -> Result<(), RedisError> {
        let inner = self.turn.inner.as_deref().expect("a turn not passed on");
        let state = &mut *self.state;
        if state.socket.is_none() {
            let socket = within(CONNECT_TIMEOUT, Socket::open(&inner.server, false)).await?;
            state.socket = Some(socket);
            // A connection of this call's own: a failure on it is no stale one.
            state.may_retry = false;
        }
        if take_waiting {
            let waiting: Vec<Waiting> = {
                let mut turns = inner.turns.lock().unwrap_or_else(PoisonError::into_inner);
                turns.waiting.drain(..).collect()
            };
            state.own.get_or_insert(state.commands.count);
            for Waiting { mut commands, answer } in waiting {
                commands.end();
                if commands.count == 0 {
                    let _ = answer.send(Answer::Replies(Ok(Vec::new())));
                    continue;
                }
                if answer.is_closed() {
                    continue;
                }
                state.unwritten.push_back((commands.count, answer));
                state.commands.append(&mut commands);
            }
        }
        let Some(socket) = &mut state.socket else {
            return Err(lost());
        };
        if state.sent_bytes == state.commands.bytes.len() {
            return Ok(());
        }
        // In pieces, each counted once written: given up, the call can go on
        // where it stopped.
        state.writing = true;
        while state.sent_bytes < state.commands.bytes.len() {
            state.sent_bytes += socket.write_some(&state.commands.bytes[state.sent_bytes..]).await?;
        }
        state.writing = false;
        let (from, to) = (state.sent_commands, state.commands.count);
        state.sent_commands = to;
        // What was written: this call's own commands, then whole groups of
        // the calls it writes for.
        let own = state.own.unwrap_or(to).min(to);
        if from < own {
            state.pending.push_back(Pending {
                count: own - from,
                recipient: Recipient::Caller,
                read: Vec::new(),
                current: true,
            });
        }
        let mut at = from.max(own);
        while at < to {
            let Some((count, answer)) = state.unwritten.pop_front() else {
                break;
            };
            state.pending.push_back(Pending {
                count,
                recipient: Recipient::Waiting(answer),
                read: Vec::with_capacity(count),
                current: true,
            });
            at += count;
        }
        Ok(())
    }

    /// Reads every reply still to come on the socket, handing those of
    /// waiting calls to them; this call's replies (each its value or its
    /// error reply).
    async fn replies(&mut self) -> Result<Vec<Result<Value, RedisError>>, RedisError> {
        let state = &mut *self.state;
        let Some(socket) = &mut state.socket else {
            return Err(lost());
        };
        let mut own = Vec::with_capacity(state.commands.count);
        while let Some(group) = state.pending.front_mut() {
            while group.read.len() < group.count {
                let reply = socket.next_reply(resp::write_reply).await;
                if let Err(error) = &reply
                    && out_of_step(error)
                {
                    return reply.map(|_| Vec::new());
                }
                // The connection works: a failure from now on is no stale one.
                state.may_retry = false;
                state.read_any = true;
                group.read.push(reply);
            }
            let Some(group) = state.pending.pop_front() else {
                break;
            };
            match group.recipient {
                Recipient::Caller | Recipient::Handed => own.extend(group.read),
                Recipient::Waiting(answer) => {
                    let _ = answer.send(Answer::Replies(settled(group.read)));
                }
                Recipient::Nobody => {}
            }
        }
        Ok(own)
    }
}

/// The replies of one call: all of them, or the first error reply.
fn settled(replies: Vec<Result<Value, RedisError>>) -> Result<Vec<Value>, RedisError> {
    replies.into_iter().collect()
}

/// The error of a call whose commands were cut short: the call writing them
/// was given up (some may have run).
fn interrupted() -> RedisError {
    RedisError::from((
        ErrorKind::Io,
        "the publish was cut short: the call writing it was given up (it may have been written)",
    ))
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

    /// Moves the commands of `other` (complete) behind these (complete).
    fn append(&mut self, other: &mut Commands) {
        debug_assert!(self.arg_count == 0 && other.arg_count == 0, "complete commands");
        self.bytes.append(&mut other.bytes);
        self.count += std::mem::take(&mut other.count);
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

    /// Calls `commands` on `connection`.
    async fn call(connection: &WriteConnection, commands: &[&[&str]]) -> Result<Vec<Value>, RedisError> {
        connection.call(encode(commands)).await
    }

    /// A call of `commands` on its own task, queued by the time this returns.
    async fn queued(
        connection: &WriteConnection,
        commands: &[&[&str]],
    ) -> tokio::task::JoinHandle<Result<Vec<Value>, RedisError>> {
        let (connection, commands) = (connection.clone(), encode(commands));
        let call = tokio::spawn(async move { connection.call(commands).await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        call
    }

    /// A call that writes a `BLPOP` for itself and the `ECHO behind` of a
    /// call queued behind it, given up while `BLPOP` blocks (for a second);
    /// the call behind.
    async fn given_up_writing_for_one_behind(
        writes: &WriteConnection,
    ) -> tokio::task::JoinHandle<Result<Vec<Value>, RedisError>> {
        let mut first = writes.try_turn().expect("the turn is free");
        first.commands().command("", "BLPOP").arg(b"list").arg(b"1");
        let behind = queued(writes, &[&["ECHO", "behind"]]).await;
        let given_up = tokio::time::timeout(Duration::from_millis(100), first.call()).await;
        assert!(given_up.is_err(), "BLPOP blocks: {given_up:?}");
        behind
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
        let mut first = writes.try_turn().expect("the turn is free");
        let commands = first.commands();
        commands.command("", "SET").arg(b"k").arg(b"v");
        commands.command("", "XADD").arg(b"k").arg(b"*").arg(b"a").arg(b"b");
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
    async fn a_refused_login_fails_the_call_and_the_calls_behind_it() {
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
        let mut first = writes.try_turn().expect("the turn is free");
        first.commands().command("", "PING");
        let behind = queued(&writes, &[&["PING"]]).await;
        let error = first.call().await.expect_err("the password is wrong");
        assert_eq!(error.code(), Some("WRONGPASS"), "{error}");
        let error = behind.await.expect("the call ran").expect_err("the same login");
        assert_eq!(error.code(), Some("WRONGPASS"), "{error}");
    }

    #[tokio::test]
    async fn calls_that_wait_for_the_turn_are_written_behind_it_in_the_order_they_came() {
        let server = RedisServer::start().expect("redis-server starts");
        let writes = connection(&server);
        let mut first = writes.try_turn().expect("the turn is free");
        assert!(writes.try_turn().is_none(), "one call has the turn");
        first.commands().command("", "RPUSH").arg(b"order").arg(b"first");
        let mut waiting = Vec::new();
        for n in 0..5 {
            let n = n.to_string();
            waiting.push(queued(&writes, &[&["RPUSH", "order", &n], &["ECHO", &n]]).await);
        }
        assert_eq!(first.call().await.expect("replies"), [Value::Int(1)]);
        for (n, call) in waiting.into_iter().enumerate() {
            let replies = call.await.expect("the call ran").expect("its replies");
            assert_eq!(replies, [Value::Int(n as i64 + 2), bulk(&n.to_string())], "call {n}");
        }
        let order = call(&writes, &[&["LRANGE", "order", "0", "-1"]])
            .await
            .expect("replies");
        let expected = ["first", "0", "1", "2", "3", "4"].map(bulk).to_vec();
        assert_eq!(order, [Value::Array(expected)]);
        assert!(writes.try_turn().is_some(), "the turn is free again");
    }

    #[tokio::test]
    async fn a_waiting_call_given_up_is_not_written_and_the_turn_passes_on() {
        let server = RedisServer::start().expect("redis-server starts");
        let writes = connection(&server);
        let first = writes.try_turn().expect("the turn is free");
        let given_up = {
            let (writes, commands) = (writes.clone(), encode(&[&["INCR", "given-up"]]));
            tokio::time::timeout(Duration::from_millis(50), async move { writes.call(commands).await }).await
        };
        assert!(given_up.is_err(), "still waiting: {given_up:?}");
        let behind = queued(&writes, &[&["INCR", "behind"]]).await;
        // The first call gives its turn up without writing: it passes on.
        drop(first);
        assert_eq!(
            behind.await.expect("the call ran").expect("its replies"),
            [Value::Int(1)]
        );
        let replies = call(&writes, &[&["EXISTS", "given-up"]]).await.expect("replies");
        assert_eq!(replies, [Value::Int(0)], "the call given up was never written");
    }

    #[tokio::test]
    async fn a_turn_handed_to_a_call_given_up_before_it_ran_passes_on() {
        use futures_util::FutureExt;

        let server = RedisServer::start().expect("redis-server starts");
        let writes = connection(&server);
        let first = writes.try_turn().expect("the turn is free");
        let mut waiting = Box::pin(writes.call(encode(&[&["INCR", "dropped"]])));
        assert!((&mut waiting).now_or_never().is_none(), "queued behind the first");
        // The turn goes to the waiting call, which is given up unpolled.
        drop(first);
        drop(waiting);
        assert!(writes.try_turn().is_some(), "the turn came back");
        let replies = call(&writes, &[&["EXISTS", "dropped"]]).await.expect("replies");
        assert_eq!(replies, [Value::Int(0)]);
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
    async fn a_call_written_for_by_a_given_up_writer_gets_its_replies_with_no_call_after() {
        let server = RedisServer::start().expect("redis-server starts");
        let writes = connection(&server);
        let behind = given_up_writing_for_one_behind(&writes).await;
        // No other call comes: the one written for reads its reply itself.
        let behind = tokio::time::timeout(Duration::from_secs(5), behind)
            .await
            .expect("answered in time")
            .expect("the call ran")
            .expect("its replies");
        assert_eq!(behind, [bulk("behind")]);
        assert!(writes.try_turn().is_some(), "the turn is free again");
    }

    #[tokio::test]
    async fn writing_ahead_cut_short_goes_on_where_it_stopped() {
        let server = RedisServer::start().expect("redis-server starts");
        let writes = connection(&server);
        call(&writes, &[&["PING"]]).await.expect("connected");
        let mut writer = writes.try_turn().expect("the turn is free");
        let big = "x".repeat(64 << 20);
        let commands = writer.commands();
        commands.command("", "INCR").arg(b"n");
        commands.command("", "SET").arg(b"big").arg(big.as_bytes());
        commands.command("", "INCR").arg(b"n");
        commands.end();
        let held = server.hold(Duration::from_millis(600));
        tokio::time::sleep(Duration::from_millis(100)).await;
        let cut = tokio::time::timeout(Duration::from_millis(100), writer.send_early()).await;
        assert!(cut.is_err(), "the server reads nothing meanwhile");
        held.join().expect("the script ran").expect("the script ran");
        let replies = writer.call().await.expect("replies");
        assert_eq!(
            replies,
            [Value::Int(1), Value::Okay, Value::Int(2)],
            "each command once"
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
    async fn a_given_up_writer_leaves_the_replies_of_the_calls_it_wrote_for_to_the_next() {
        let server = RedisServer::start().expect("redis-server starts");
        let writes = connection(&server);
        let behind = given_up_writing_for_one_behind(&writes).await;
        // The next call reads what is owed: the one behind gets its reply.
        let replies = call(&writes, &[&["ECHO", "next"]]).await.expect("replies");
        assert_eq!(replies, [bulk("next")], "not BLPOP's or the other call's");
        let behind = behind.await.expect("the call ran").expect("its replies");
        assert_eq!(behind, [bulk("behind")]);
    }
}

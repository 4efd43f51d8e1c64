//! A socket of the runtime's own to one Redis server: connected and logged
//! in as a URL says, sending commands and framing their replies as the bytes
//! arrive (see [`resp`](super::resp)), each decoded by what the caller
//! passes. The connections that speak RESP themselves
//! ([`ReadConnection`](super::ReadConnection),
//! [`WriteConnection`](super::WriteConnection)) are built on it.

use std::time::Duration;

use redis::{Cmd, ConnectionAddr, ConnectionInfo, ErrorKind, RedisConnectionInfo, RedisError, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::resp::{self, Framer};

/// What a read asks of the socket at least, when its buffer is short.
const READ_SIZE: usize = 64 * 1024;

/// An open connection: the halves of its socket, and whether every command
/// needs `ASKING` first.
pub(super) struct Socket {
    writer: WriteHalf,
    replies: Replies,
    asking: bool,
}

/// The half of a socket commands are written on.
pub(super) type WriteHalf = Box<dyn AsyncWrite + Send + Sync + Unpin>;

/// The half of a socket replies are read on, with the bytes read but not
/// yet decoded.
pub(super) struct Replies {
    reader: Box<dyn AsyncRead + Send + Sync + Unpin>,
    /// Bytes read; those before `decoded` belong to replies decoded already.
    buffer: Vec<u8>,
    decoded: usize,
    framer: Framer,
}

impl Socket {
    /// Connects to `node` and logs in and selects its database as its URL says.
    pub(super) async fn open(node: &ConnectionInfo, asking: bool) -> Result<Socket, RedisError> {
        let (reader, writer): (Box<dyn AsyncRead + Send + Sync + Unpin>, WriteHalf) = match node.addr() {
            ConnectionAddr::Tcp(host, port) => {
                let stream = tokio::net::TcpStream::connect((host.as_str(), *port)).await?;
                stream.set_nodelay(true)?;
                let (reader, writer) = stream.into_split();
                (Box::new(reader), Box::new(writer))
            }
            #[cfg(unix)]
            ConnectionAddr::Unix(path) => {
                let (reader, writer) = tokio::net::UnixStream::connect(path).await?.into_split();
                (Box::new(reader), Box::new(writer))
            }
            other => {
                return Err(RedisError::from((
                    ErrorKind::InvalidClientConfig,
                    "unsupported address for the runtime's own connections",
                    format!("{other}"),
                )));
            }
        };
        let mut socket = Socket {
            writer,
            replies: Replies {
                reader,
                buffer: Vec::with_capacity(READ_SIZE),
                decoded: 0,
                framer: Framer::default(),
            },
            asking: false,
        };
        socket.log_in(node.redis_settings()).await?;
        socket.asking = asking;
        Ok(socket)
    }

    async fn log_in(&mut self, settings: &RedisConnectionInfo) -> Result<(), RedisError> {
        if let Some(password) = settings.password() {
            let mut auth = redis::cmd("AUTH");
            if let Some(username) = settings.username() {
                auth.arg(username);
            }
            auth.arg(password);
            self.call(&auth).await?;
        }
        if settings.db() != 0 {
            self.call(redis::cmd("SELECT").arg(settings.db())).await?;
        }
        Ok(())
    }

    /// Sends `command` while logging in, and waits for its reply.
    async fn call(&mut self, command: &Cmd) -> Result<Value, RedisError> {
        self.writer.write_all(&command.get_packed_command()).await?;
        self.replies.next(resp::other_reply).await
    }

    /// Its halves, to write and read apart (on a socket no `ASKING` is
    /// needed on).
    pub(super) fn into_halves(self) -> (WriteHalf, Replies) {
        debug_assert!(!self.asking, "halves write commands as they are");
        (self.writer, self.replies)
    }

    /// Sends `command`, after an `ASKING` where needed.
    pub(super) async fn send(&mut self, command: &Cmd) -> Result<(), RedisError> {
        if self.asking {
            let mut both = redis::cmd("ASKING").get_packed_command();
            command.write_packed_command(&mut both);
            self.writer.write_all(&both).await?;
        } else {
            self.writer.write_all(&command.get_packed_command()).await?;
        }
        Ok(())
    }

    /// The reply to the oldest command sent and not yet answered, decoded
    /// by `decode` (after the `ASKING` reply that comes first, if sent).
    pub(super) async fn reply<T>(&mut self, decode: fn(&[u8]) -> Result<T, RedisError>) -> Result<T, RedisError> {
        if self.asking {
            self.replies.next(resp::other_reply).await?;
        }
        self.replies.next(decode).await
    }
}

impl Replies {
    /// The next reply in the buffer or from the socket, decoded by `decode`.
    /// Cancel-safe: given up half read, the bytes read so far stay for the
    /// next call, which goes on with the same reply.
    pub(super) async fn next<T>(&mut self, decode: fn(&[u8]) -> Result<T, RedisError>) -> Result<T, RedisError> {
        loop {
            if let Some(reply) = self.buffered(decode) {
                return reply;
            }
            // The framer counts from the first byte not decoded: dropping
            // the decoded ones before it leaves it where it was.
            self.buffer.drain(..self.decoded);
            self.decoded = 0;
            if self.buffer.capacity() - self.buffer.len() < READ_SIZE / 4 {
                self.buffer.reserve(READ_SIZE);
            }
            if self.reader.read_buf(&mut self.buffer).await? == 0 {
                return Err(lost());
            }
        }
    }

    /// The next reply, decoded by `decode`, if all of it is in the buffer
    /// already (else nothing: the socket is not read).
    pub(super) fn buffered<T>(&mut self, decode: fn(&[u8]) -> Result<T, RedisError>) -> Option<Result<T, RedisError>> {
        let end = match self.framer.reply_end(&self.buffer[self.decoded..]) {
            Ok(Some(end)) => end,
            Ok(None) => return None,
            Err(error) => return Some(Err(error)),
        };
        let reply = self.decoded..self.decoded + end;
        self.decoded = reply.end;
        let decoded = decode(&self.buffer[reply]);
        if self.decoded == self.buffer.len() {
            self.buffer.clear();
            self.decoded = 0;
            // A reply far larger than most (entries of megabytes) leaves no
            // buffer of its size behind.
            if self.buffer.capacity() > 16 * READ_SIZE {
                self.buffer.shrink_to(READ_SIZE);
            }
        }
        Some(decoded)
    }
}

/// Runs `call` within `limit`, as a Redis error if it fails or times out.
pub(super) async fn within<T, E: Into<RedisError>>(
    limit: Duration,
    call: impl Future<Output = Result<T, E>>,
) -> Result<T, RedisError> {
    super::bounded(limit, async { call.await.map_err(Into::into) }).await
}

/// The error of a connection that was closed.
pub(super) fn lost() -> RedisError {
    RedisError::from((ErrorKind::Io, "the connection to Redis was closed"))
}

//! The connection a consumer's reader sends its blocking stream reads on:
//! a socket of its own to the server (on a cluster, to the master of the
//! stream's slot), speaking RESP2 itself so that a reply of a hundred
//! entries is decoded straight into them (see [`resp`](super::resp)); the
//! redis crate's connections build a generic value for every field first,
//! which cost the consumer half its time.
//!
//! It sends nothing again by itself: after an error, the reads that were in
//! flight are the reader's to recover (it reads its pending entries again
//! first), and the next read connects anew. On a cluster it finds the
//! stream's master by asking a node about the key and following `MOVED`
//! and `ASK`, and it asks again when a read is redirected.

use std::time::Duration;

use redis::{Cmd, ConnectionAddr, ConnectionInfo, ErrorKind, IntoConnectionInfo, RedisError, ServerErrorKind};

use super::CONNECT_TIMEOUT;
use super::resp;
use super::socket::{Socket, lost, within};
use crate::config::{Config, RedisServers};
use crate::error::Error;
use crate::stream::Entry;

/// How many redirections finding a stream's master may follow.
const MAX_REDIRECTS: usize = 5;

/// A connection for the blocking reads of one stream; reads may be
/// pipelined (sent before the replies of earlier ones came back).
pub(crate) struct ReadConnection {
    servers: Servers,
    /// The stream it reads, which on a cluster says which master to reach.
    stream: String,
    /// Bound on sending a read (connecting has bounds of its own).
    limit: Duration,
    socket: Option<Socket>,
    /// Set while a send or a reply is under way: found set at the start of
    /// the next one, it says that one was given up half done (its future
    /// dropped on a timeout), which leaves the connection out of step.
    busy: bool,
}

/// Where the server is.
enum Servers {
    Standalone(ConnectionInfo),
    Cluster {
        /// The configured nodes, asked when the stream's master is not known.
        seeds: Vec<ConnectionInfo>,
        /// The node that serves the stream (the one connected to, or the
        /// last), and whether reads there need `ASKING` (it was reached by an
        /// `ASK`, during a slot migration; harmless once the slot is its own).
        known: Option<(ConnectionInfo, bool)>,
        /// The seed to try first: the one after the last that failed.
        next_seed: usize,
        /// A connection of the redis crate's cluster client, which knows
        /// every node: asked for the masters when the node that served the
        /// stream is gone (the seeds may be few, and gone too).
        slot_map: super::Connection,
    },
}

impl ReadConnection {
    /// A connection for reading `stream` of `config`'s Redis, connected at
    /// the first read; on a cluster, `calls` (a connection of the crate's
    /// client to it) tells where the masters are.
    pub(crate) fn new(config: &Config, stream: &str, calls: &super::Connection) -> Result<ReadConnection, Error> {
        let parse = |url: &String| {
            url.as_str().into_connection_info().map_err(|source| Error::RedisUrl {
                url: config.redis_url_redacted(),
                source,
            })
        };
        let servers = match config.redis() {
            RedisServers::Standalone(url) => Servers::Standalone(parse(url)?),
            RedisServers::Cluster(nodes) => Servers::Cluster {
                seeds: nodes.iter().map(parse).collect::<Result<_, _>>()?,
                known: None,
                next_seed: 0,
                slot_map: calls.clone(),
            },
        };
        Ok(ReadConnection {
            servers,
            stream: stream.to_owned(),
            limit: config.publish_timeout(),
            socket: None,
            busy: false,
        })
    }

    /// Sends `read` and waits for its reply, the entries per stream.
    pub(crate) async fn read(&mut self, read: &Cmd) -> Result<Vec<(String, Vec<Entry>)>, RedisError> {
        self.send(read).await?;
        self.reply().await
    }

    /// Sends `read` (an `XREADGROUP` or `XREAD`), connecting first if need
    /// be (each node tried gets [`CONNECT_TIMEOUT`]; the send itself gets the
    /// publish timeout).
    pub(crate) async fn send(&mut self, read: &Cmd) -> Result<(), RedisError> {
        self.start();
        if self.socket.is_none() {
            self.socket = Some(self.connect().await?);
        }
        let Some(socket) = &mut self.socket else {
            return Err(lost());
        };
        let sent = within(self.limit, socket.send(read)).await;
        if sent.is_err() {
            self.socket = None;
        }
        self.busy = false;
        sent
    }

    /// The reply to the oldest read sent and not yet answered: the entries
    /// per stream, of an `XREADGROUP` or `XREAD`. After an error the
    /// connection is closed (the next read opens another); a redirection
    /// also says where to go next.
    pub(crate) async fn reply(&mut self) -> Result<Vec<(String, Vec<Entry>)>, RedisError> {
        self.start();
        let Some(socket) = &mut self.socket else {
            return Err(lost());
        };
        let reply = socket.reply(resp::read_reply).await;
        if let Err(error) = &reply {
            self.socket = None;
            self.follow(error);
        }
        self.busy = false;
        reply
    }

    /// Closes the connection, so that no read sent on it can take entries
    /// any more (Redis drops a closed client's blocked reads).
    pub(crate) fn close(&mut self) {
        self.socket = None;
    }

    /// Marks a send or a reply under way, closing the connection first if
    /// the last one was given up half done.
    fn start(&mut self) {
        if std::mem::replace(&mut self.busy, true) {
            self.socket = None;
        }
    }

    /// After a read was redirected, remembers the node it names.
    fn follow(&mut self, error: &RedisError) {
        if let Servers::Cluster { seeds, known, .. } = &mut self.servers
            && let Some(from) = known.as_ref().map(|(node, _)| node).or(seeds.first())
            && let Some(target) = redirect(error, from)
        {
            *known = Some(target);
        }
    }

    /// Opens a connection to the server, or to the master of the stream's
    /// slot: the node that served it last, else each master the cluster's
    /// slot map names, else each seed in turn (from the one after the last
    /// that failed), following redirections from there. Each node gets
    /// [`CONNECT_TIMEOUT`] to connect, log in and answer.
    async fn connect(&mut self) -> Result<Socket, RedisError> {
        let (seeds, known, next_seed, slot_map) = match &mut self.servers {
            Servers::Standalone(server) => return within(CONNECT_TIMEOUT, Socket::open(server, false)).await,
            Servers::Cluster {
                seeds,
                known,
                next_seed,
                slot_map,
            } => (seeds, known, next_seed, slot_map),
        };
        let last = known.take();
        let masters = match (&last, seeds.first()) {
            (None, Some(seed)) => masters(slot_map, seed).await,
            _ => Vec::new(),
        };
        let order: Vec<usize> = (0..seeds.len()).map(|n| (*next_seed + n) % seeds.len()).collect();
        let candidates: Vec<((ConnectionInfo, bool), Option<usize>)> = last
            .into_iter()
            .chain(masters.into_iter().map(|master| (master, false)))
            .map(|node| (node, None))
            .chain(order.into_iter().map(|seed| ((seeds[seed].clone(), false), Some(seed))))
            .collect();
        let mut failure = None;
        for ((mut node, mut asking), seed) in candidates {
            for _ in 0..=MAX_REDIRECTS {
                let located = within(CONNECT_TIMEOUT, async {
                    let mut socket = Socket::open(&node, asking).await?;
                    serves(&mut socket, &self.stream).await?;
                    Ok::<_, RedisError>(socket)
                })
                .await;
                match located {
                    Ok(socket) => {
                        *known = Some((node, asking));
                        return Ok(socket);
                    }
                    Err(error) => match redirect(&error, &node) {
                        Some(next) => (node, asking) = next,
                        None => {
                            if let Some(seed) = seed {
                                *next_seed = (seed + 1) % seeds.len();
                            }
                            failure = Some(error);
                            break;
                        }
                    },
                }
            }
        }
        Err(failure.unwrap_or_else(|| {
            RedisError::from((
                ErrorKind::Io,
                "no cluster node serves the stream",
                format!("{MAX_REDIRECTS} redirections followed"),
            ))
        }))
    }
}

/// Whether the node `socket` is connected to serves `stream`: an error (a
/// redirection, on a cluster node that does not) if not. Asked with `XLEN`,
/// a stream command (an ACL that allows the stream commands allows it).
async fn serves(socket: &mut Socket, stream: &str) -> Result<(), RedisError> {
    socket.send(redis::cmd("XLEN").arg(stream)).await?;
    socket.reply(resp::other_reply).await.map(drop)
}

/// Where a redirection that node `from` answered sends the stream's reads
/// (with `from`'s login), and whether it is an `ASK` (during a slot
/// migration). A redirection without a host (`:6380`, or `?:6380`) means
/// `from`'s host.
fn redirect(error: &RedisError, from: &ConnectionInfo) -> Option<(ConnectionInfo, bool)> {
    let (address, _slot) = error.redirect_node()?;
    let (host, port) = address.rsplit_once(':')?;
    let host = match host.trim_start_matches('[').trim_end_matches(']') {
        "" | "?" => match from.addr() {
            ConnectionAddr::Tcp(host, _) => host.clone(),
            _ => return None,
        },
        host => host.to_owned(),
    };
    let node = from.clone().set_addr(ConnectionAddr::Tcp(host, port.parse().ok()?));
    let asking = error.kind() == ErrorKind::Server(ServerErrorKind::Ask);
    Some((node, asking))
}

/// The masters in the cluster's slot map, as the redis crate's client
/// reaches them ([`nodes::masters`](super::nodes)), with `seed`'s login;
/// none if it cannot tell in time.
async fn masters(slot_map: &mut super::Connection, seed: &ConnectionInfo) -> Vec<ConnectionInfo> {
    let Ok(masters) = super::nodes::masters(slot_map, CONNECT_TIMEOUT).await else {
        return Vec::new();
    };
    masters
        .into_iter()
        .flatten()
        .filter(|(host, _)| !host.is_empty() && host != "?")
        .map(|(host, port)| seed.clone().set_addr(ConnectionAddr::Tcp(host, port)))
        .collect()
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use super::*;
    use crate::testing::RedisServer;

    fn xread(stream: &str, block_ms: u64) -> Cmd {
        let mut read = redis::cmd("XREAD");
        read.arg("BLOCK").arg(block_ms).arg("STREAMS").arg(stream).arg("0-0");
        read
    }

    #[test]
    fn a_redirection_names_its_node_or_means_the_same_host() {
        let from = "redis://:pw@10.0.0.1:7000".into_connection_info().expect("a URL");
        let moved = |reply: &[u8]| redirect(&resp::read_reply(reply).expect_err("an error"), &from);
        let (node, asking) = moved(b"-MOVED 3999 10.0.0.2:7001\r\n").expect("a node");
        assert_eq!((node.addr().to_string(), asking), ("10.0.0.2:7001".to_owned(), false));
        assert_eq!(node.redis_settings().password(), Some("pw"), "the same login");
        let (node, asking) = moved(b"-ASK 3999 :7002\r\n").expect("a node");
        assert_eq!((node.addr().to_string(), asking), ("10.0.0.1:7002".to_owned(), true));
        let (node, _) = moved(b"-MOVED 3999 ?:7003\r\n").expect("a node");
        assert_eq!(node.addr().to_string(), "10.0.0.1:7003");
        let (node, _) = moved(b"-MOVED 3999 [::1]:7004\r\n").expect("a node");
        assert!(
            matches!(node.addr(), ConnectionAddr::Tcp(host, 7004) if host == "::1"),
            "{}",
            node.addr()
        );
        assert!(moved(b"-ERR not a redirection\r\n").is_none());
    }

    #[tokio::test]
    async fn a_read_given_up_half_done_leaves_no_reply_for_the_next() {
        let server = RedisServer::start().expect("redis-server starts");
        let config = server.config("svc").build().expect("valid config");
        let mut admin = super::super::Connection::open(&config).expect("a connection");
        let calls = super::super::Connection::open(&config).expect("a connection");
        let mut reads = ReadConnection::new(&config, "a", &calls).expect("a read connection");
        // A read of stream `a` that blocks, given up (its future dropped).
        let blocked = tokio::time::timeout(Duration::from_millis(100), reads.read(&xread("a", 2_000))).await;
        assert!(blocked.is_err(), "nothing to read yet: {blocked:?}");
        // Its reply comes now, on the connection it was sent on.
        for stream in ["a", "b"] {
            let _: String = redis::cmd("XADD")
                .arg(stream)
                .arg("*")
                .arg("k")
                .arg(stream)
                .query_async(&mut admin)
                .await
                .expect("XADD");
        }
        let read = reads.read(&xread("b", 1_000)).await.expect("a reply");
        let names: Vec<&str> = read.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["b"], "the reply to this read, not to the one given up");
        let fields = read[0].1[0].fields.as_ref().expect("fields");
        assert_eq!(fields.get("k"), Some("b"));
    }

    #[tokio::test]
    async fn an_error_reply_keeps_its_code_and_a_restarted_server_is_read_again() {
        let mut server = RedisServer::start().expect("redis-server starts");
        let config = server.config("svc").build().expect("valid config");
        let calls = super::super::Connection::open(&config).expect("a connection");
        let mut reads = ReadConnection::new(&config, "s", &calls).expect("a read connection");
        let mut group_read = redis::cmd("XREADGROUP");
        group_read
            .arg("GROUP")
            .arg("g")
            .arg("c")
            .arg("STREAMS")
            .arg("s")
            .arg(">");
        let error = reads.read(&group_read).await.expect_err("no such group");
        assert_eq!(error.code(), Some("NOGROUP"));
        assert!(reads.read(&xread("s", 10)).await.expect("a reply").is_empty());
        server.restart().expect("redis-server restarts");
        // The old socket is gone: at most one read fails, then it connects anew.
        let first = reads.read(&xread("s", 10)).await;
        let second = reads.read(&xread("s", 10)).await;
        assert!(first.is_ok() || second.is_ok(), "{first:?} then {second:?}");
        assert!(second.is_ok(), "{second:?}");
    }
}

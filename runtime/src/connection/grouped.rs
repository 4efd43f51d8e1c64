//! Pipelines that a cluster accepts: a cluster refuses a pipeline whose
//! commands touch keys of several slots, so a [`SlotPipeline`] knows each
//! command's key and, on a cluster, sends one pipeline per slot, all at once,
//! putting the replies back in order.

use std::time::Duration;

use futures_util::future::try_join_all;
use redis::aio::ConnectionLike;
use redis::cluster_routing::Slot;
use redis::{Cmd, ErrorKind, Pipeline, RedisError, Value};

use super::{AddCommands, Connection};

/// Commands sent together, each on the one key it touches: one pipeline
/// (one round trip) on a single server; on a cluster one pipeline per slot,
/// sent concurrently, the commands of one slot in the order they were added.
///
/// Commands are moved into their pipelines when first sent, never copied
/// (a single command is sent as it is): sending again (after a dropped
/// connection, say) sends the same commands, to a connection of the same
/// kind (single server or cluster). Add every command before the first query.
#[derive(Debug, Default)]
pub struct SlotPipeline {
    /// Commands added and not sent yet (until the first query), with their key's slot.
    added: Vec<(Slot, Cmd)>,
    /// The pipelines they went into, with the slot each is for (`None` on a
    /// single server) and the index of each of its commands.
    parts: Vec<Part>,
    /// How many commands it holds.
    len: usize,
    /// Replicas that must have the writes, and how long `WAIT` may wait.
    replicas: Option<(u32, Duration)>,
}

/// The commands of one slot (of every slot, on a single server).
#[derive(Debug)]
struct Part {
    slot: Option<Slot>,
    pipeline: Pipeline,
    indexes: Vec<usize>,
}

impl SlotPipeline {
    /// An empty pipeline.
    pub fn new() -> Self {
        SlotPipeline::default()
    }

    /// Adds command `name` on `key` (which the caller still passes as an
    /// argument where the command takes it); returns it for its arguments.
    pub fn cmd(&mut self, key: &str, name: &str) -> &mut Cmd {
        self.len += 1;
        self.added.push((Slot::for_key(key), redis::cmd(name)));
        &mut self.added.last_mut().expect("a command was just added").1
    }

    /// Makes [`query`](Self::query) succeed only once `replicas` replicas
    /// of every master written to have the writes: each pipeline ends with
    /// `WAIT <replicas> <timeout>`, and fewer acknowledgements in time fail
    /// the call (the writes stay on the master). No effect for 0.
    pub fn wait_for_replicas(&mut self, replicas: u32, timeout: Duration) -> &mut Self {
        self.replicas = (replicas > 0).then_some((replicas, timeout));
        self
    }

    /// How many commands it holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds no command.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Sends every command; returns one reply per command, in the order
    /// they were added. The first error fails the call (on a cluster, the
    /// commands of other slots may have run).
    pub async fn query(&mut self, connection: &mut Connection) -> Result<Vec<Value>, RedisError> {
        // One command (a publish, as a rule) needs no pipeline around it.
        if let [(_, command)] = &self.added[..]
            && self.replicas.is_none()
        {
            return Ok(vec![connection.req_packed_command(command).await?.extract_error()?]);
        }
        self.group(connection.is_cluster());
        let sends = self.parts.iter().map(|part| {
            let mut connection = connection.clone();
            async move { part.pipeline.query_async::<Vec<Value>>(&mut connection).await }
        });
        // One part (always, on a single server) needs no join.
        let replies = match self.parts.len() {
            1 => vec![sends.into_iter().next().expect("one part").await?],
            _ => try_join_all(sends).await?,
        };
        let mut ordered = vec![Value::Nil; self.len];
        for (part, mut values) in self.parts.iter().zip(replies) {
            if let Some((wanted, timeout)) = self.replicas {
                check_replicas(values.pop(), wanted, timeout)?;
            }
            for (index, value) in part.indexes.iter().zip(values) {
                ordered[*index] = value;
            }
        }
        Ok(ordered)
    }

    /// Moves the commands into their pipelines, each ended by `WAIT` when
    /// replicas are wanted: one on a single server, one per slot on a
    /// cluster. Done once, at the first query: commands are added before it.
    fn group(&mut self, cluster: bool) {
        if self.added.is_empty() {
            return;
        }
        debug_assert!(self.parts.is_empty(), "commands are added before the first query");
        for (index, (slot, command)) in self.added.drain(..).enumerate() {
            let slot = cluster.then_some(slot);
            let part = match self.parts.iter().position(|part| part.slot == slot) {
                Some(position) => &mut self.parts[position],
                None => {
                    self.parts.push(Part {
                        slot,
                        pipeline: Pipeline::new(),
                        indexes: Vec::new(),
                    });
                    self.parts.last_mut().expect("a part was just added")
                }
            };
            part.pipeline.add_command(command);
            part.indexes.push(index);
        }
        if let Some((replicas, timeout)) = self.replicas {
            for part in &mut self.parts {
                part.pipeline.cmd("WAIT").arg(replicas).arg(wait_millis(timeout));
            }
        }
    }
}

impl AddCommands for SlotPipeline {
    fn command(&mut self, key: &str, name: &str) -> &mut Self {
        self.cmd(key, name);
        self
    }

    /// Adds `arg` to the command added last (before the first query).
    fn arg(&mut self, arg: &[u8]) -> &mut Self {
        if let Some((_, command)) = self.added.last_mut() {
            command.arg(arg);
        }
        self
    }
}

/// The `WAIT` timeout argument for `timeout`: milliseconds, at least 1 (0
/// would wait for ever).
pub(crate) fn wait_millis(timeout: Duration) -> u64 {
    u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// Checks the reply of `WAIT`: at least `wanted` replicas acknowledged.
pub(crate) fn check_replicas(reply: Option<Value>, wanted: u32, timeout: Duration) -> Result<(), RedisError> {
    match reply {
        Some(Value::Int(acknowledged)) if acknowledged >= i64::from(wanted) => Ok(()),
        Some(Value::Int(acknowledged)) => Err(RedisError::from((
            ErrorKind::Io,
            "written to the master, but not to enough replicas in time",
            format!("{acknowledged} of {wanted} replicas acknowledged within {timeout:?}"),
        ))),
        other => Err(RedisError::from((
            ErrorKind::UnexpectedReturnType,
            "WAIT answered something other than a count",
            format!("{other:?}"),
        ))),
    }
}

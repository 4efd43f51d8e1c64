//! Pipelines that a cluster accepts: a cluster refuses a pipeline whose
//! commands touch keys of several slots, so a [`SlotPipeline`] knows each
//! command's key and, on a cluster, sends one pipeline per slot, all at once,
//! putting the replies back in order.

use std::time::Duration;

use futures_util::future::try_join_all;
use redis::cluster_routing::Slot;
use redis::{Cmd, ErrorKind, Pipeline, RedisError, Value};

use super::Connection;

/// Commands sent together, each on the one key it touches: one pipeline
/// (one round trip) on a single server; on a cluster one pipeline per slot,
/// sent concurrently, the commands of one slot in the order they were added.
#[derive(Debug, Default)]
pub struct SlotPipeline {
    commands: Vec<(Slot, Cmd)>,
    /// Replicas that must have the writes, and how long `WAIT` may wait.
    replicas: Option<(u32, Duration)>,
}

impl SlotPipeline {
    /// An empty pipeline.
    pub fn new() -> Self {
        SlotPipeline::default()
    }

    /// Adds command `name` on `key` (which the caller still passes as an
    /// argument where the command takes it); returns it for its arguments.
    pub fn cmd(&mut self, key: &str, name: &str) -> &mut Cmd {
        self.commands.push((Slot::for_key(key), redis::cmd(name)));
        &mut self.commands.last_mut().expect("a command was just added").1
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
        self.commands.len()
    }

    /// Whether it holds no command.
    pub fn is_empty(&self) -> bool {
        self.commands.is_empty()
    }

    /// Sends every command; returns one reply per command, in the order
    /// they were added. The first error fails the call (on a cluster, the
    /// commands of other slots may have run).
    pub async fn query(&self, connection: &mut Connection) -> Result<Vec<Value>, RedisError> {
        let parts = self.parts(connection.is_cluster());
        let sends = parts.iter().map(|(part, _)| {
            let mut connection = connection.clone();
            async move { part.query_async::<Vec<Value>>(&mut connection).await }
        });
        let replies = try_join_all(sends).await?;
        let mut ordered = vec![Value::Nil; self.len()];
        for ((_, indexes), mut values) in parts.iter().zip(replies) {
            if let Some((wanted, timeout)) = self.replicas {
                check_replicas(values.pop(), wanted, timeout)?;
            }
            for (index, value) in indexes.iter().zip(values) {
                ordered[*index] = value;
            }
        }
        Ok(ordered)
    }

    /// The pipelines to send, with the index of each of their commands:
    /// one on a single server, one per slot on a cluster.
    fn parts(&self, cluster: bool) -> Vec<(Pipeline, Vec<usize>)> {
        let mut parts: Vec<(Option<Slot>, Pipeline, Vec<usize>)> = Vec::new();
        for (index, (slot, command)) in self.commands.iter().enumerate() {
            let slot = cluster.then_some(*slot);
            let position = match parts.iter().position(|(other, _, _)| *other == slot) {
                Some(position) => position,
                None => {
                    parts.push((slot, Pipeline::new(), Vec::new()));
                    parts.len() - 1
                }
            };
            let (_, part, indexes) = &mut parts[position];
            part.add_command(command.clone());
            indexes.push(index);
        }
        parts
            .into_iter()
            .map(|(_, mut part, indexes)| {
                if let Some((replicas, timeout)) = self.replicas {
                    part.cmd("WAIT")
                        .arg(replicas)
                        .arg(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX).max(1));
                }
                (part, indexes)
            })
            .collect()
    }
}

/// Checks the reply of `WAIT`: at least `wanted` replicas acknowledged.
fn check_replicas(reply: Option<Value>, wanted: u32, timeout: Duration) -> Result<(), RedisError> {
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

//! The [`Publisher`]: typed events to their category streams, one round trip
//! per publish or per batch, never waiting longer than the publish timeout.
//! On a Redis Cluster a batch is one pipeline per slot it writes to, sent at
//! once (a cluster refuses a pipeline that spans slots).
//!
//! # Durability
//! A publish succeeds once the stream's master has the entry. Replication
//! is asynchronous: a master that dies before its replicas copied an entry
//! loses it when a replica takes over. With `XERPIUM_PUBLISH_REPLICAS=n` a
//! publish also waits (`WAIT`) until `n` replicas have it, and fails, with
//! that reason, when they do not within the publish timeout (the entry may
//! still be on the master: publishing again may make a duplicate, which
//! carries the same id).
//!
//! # Trimming
//! Writes trim their stream by length and by age, so streams never grow
//! without bound. Redis accepts only one trim strategy per `XADD`, so each
//! `XADD` carries `MAXLEN ~ <cap>` (length), and the age bound goes with
//! the writes as `XTRIM <stream> MINID ~ <now − retention>` in the same
//! pipeline (still one round trip), sent by a publisher once the bound has
//! moved on by a hundredth of the retention, at most a second, since it last
//! sent it for that stream: a write costs one command, and an entry outlives
//! its retention by that little at most, beyond what `~` keeps.
//! Both use `~`, so Redis trims whole internal nodes only and a stream may
//! briefly hold a little more than the cap or slightly older entries.
//!
//! The trade-off: a consumer group more than a retention (or a cap) behind
//! loses the entries trimmed away. Entries trimmed while *pending* are
//! reported: the consumer records each in the group's dead-letter stream as
//! lost to retention (see [`consumer`](crate::consumer)). Entries trimmed
//! before any consumer of a group read them are not seen by anyone; size the
//! retention for the longest outage a consumer must survive.
//!
//! Retention is measured against this machine's clock while entry ids carry
//! the Redis server's clock: keep them in sync (NTP).

use std::time::Duration;

use chrono::{SubsecRound, Utc};
use redis::{Cmd, Value};
use tracing::Instrument;
use uuid::Uuid;

use crate::config::Config;
use crate::connection::{self, Connection, SlotPipeline};
use crate::envelope::Envelope;
use crate::error::Error;
use crate::event::{Event, StreamLayout};
use crate::keys::Keys;
use crate::publish::{Publish, PublishContext, PublishError};
use crate::telemetry::{self, trace};
use crate::trim::AgeTrims;

/// Publishes events to Redis streams. Cheap to clone: clones share one
/// self-healing connection.
#[derive(Clone)]
pub struct Publisher {
    connection: Connection,
    keys: Keys,
    source: String,
    timeout: Duration,
    /// Replicas that must have each entry (`XERPIUM_PUBLISH_REPLICAS`).
    replicas: u32,
    /// The age bounds last sent (see [Trimming](self#trimming)).
    age_trims: AgeTrims,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("namespace", &self.keys.namespace())
            .field("source", &self.source)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Publisher {
    /// A publisher for `config`'s Redis, namespace and service. Does not
    /// fail when Redis is down (publishes then time out until it is back);
    /// warns when Redis may evict keys.
    pub async fn connect(config: &Config) -> Result<Publisher, Error> {
        let mut connection = connection::open(config, config.publish_timeout())?;
        connection::check_server(&mut connection, config, config.publish_timeout()).await?;
        Ok(Publisher {
            connection,
            keys: config.keys(),
            source: config.service().to_owned(),
            timeout: config.publish_timeout(),
            replicas: config.publish_replicas(),
            age_trims: AgeTrims::default(),
        })
    }

    /// The envelope `event` travels in: a new UUIDv7 id, the current time,
    /// this service as source, and `context`'s correlation (a new one when
    /// it has none), causation and trace; with no trace in `context`, the
    /// current span's (feature `otel`, see [`telemetry::trace`]).
    pub fn envelope<E: Event>(&self, event: &E, context: &PublishContext) -> Result<Envelope, PublishError> {
        let data = serde_json::to_string(event).map_err(|source| PublishError::Encode {
            event_type: E::TYPE,
            source,
        })?;
        let id = Uuid::now_v7();
        let (traceparent, tracestate) = match &context.traceparent {
            Some(_) => (context.traceparent.clone(), context.tracestate.clone()),
            None => trace::span_or(&tracing::Span::current(), (None, None)),
        };
        Ok(Envelope {
            id,
            event_type: E::TYPE.to_owned(),
            version: E::VERSION,
            source: self.source.clone(),
            // The wire format keeps microseconds: so does the envelope.
            time: Utc::now().trunc_subsecs(6),
            subject: event.subject(),
            correlation_id: context
                .correlation_id
                .clone()
                .unwrap_or_else(|| Uuid::now_v7().to_string()),
            causation_id: context.causation_id.clone(),
            traceparent,
            tracestate,
            data,
        })
    }

    /// Publishes an envelope built earlier (e.g. kept in an outbox) to the
    /// stream of `category` laid out as `layout` (its partition's stream,
    /// chosen from the envelope's subject, when partitioned), trimmed by
    /// `layout`; returns the entry id.
    /// Publishing the same envelope twice yields two entries with the same
    /// `id`, which consumers with an idempotency store handle once.
    pub async fn publish_envelope(
        &self,
        category: &str,
        envelope: &Envelope,
        layout: &StreamLayout,
    ) -> Result<String, PublishError> {
        let mut batch = self.batch();
        batch.add_envelope(category, envelope.clone(), layout);
        batch.send_one().await
    }

    /// Publishes `events` with one `context` in one pipelined round trip;
    /// returns their entry ids in order. Events published together share
    /// one correlation id (a new one when `context` has none).
    pub async fn publish_batch<E: Event>(
        &self,
        events: &[E],
        context: &PublishContext,
    ) -> Result<Vec<String>, PublishError> {
        let context = PublishContext {
            correlation_id: Some(
                context
                    .correlation_id
                    .clone()
                    .unwrap_or_else(|| Uuid::now_v7().to_string()),
            ),
            ..context.clone()
        };
        let mut batch = self.batch();
        for event in events {
            batch.add(event, &context)?;
        }
        batch.send().await
    }

    /// An empty batch of events of any types, sent in one round trip.
    pub fn batch(&self) -> Batch<'_> {
        Batch {
            publisher: self,
            items: Vec::new(),
        }
    }
}

impl Publish for Publisher {
    async fn publish<E: Event>(&self, event: &E, context: &PublishContext) -> Result<String, PublishError> {
        let mut batch = self.batch();
        batch.add(event, context)?;
        batch.send_one().await
    }
}

/// Events to publish together in one pipelined round trip.
#[derive(Debug)]
#[must_use = "a batch publishes nothing until it is sent"]
pub struct Batch<'p> {
    publisher: &'p Publisher,
    items: Vec<(String, Envelope, StreamLayout)>,
}

impl Batch<'_> {
    /// Adds `event` with `context`.
    pub fn add<E: Event>(&mut self, event: &E, context: &PublishContext) -> Result<&mut Self, PublishError> {
        let envelope = self.publisher.envelope(event, context)?;
        Ok(self.add_envelope(E::CATEGORY, envelope, &E::STREAM))
    }

    /// Adds an envelope built earlier, for the stream of `category` laid
    /// out as `layout` (its subject's partition when partitioned).
    pub fn add_envelope(&mut self, category: &str, envelope: Envelope, layout: &StreamLayout) -> &mut Self {
        let stream = self.publisher.keys.event_stream(category, layout, &envelope.subject);
        self.items.push((stream, envelope, *layout));
        self
    }

    /// How many events the batch holds.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the batch holds no event.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Sends every event in one round trip; returns their entry ids in the
    /// order they were added. On an error none, some or all may have been
    /// written: publish again (ids repeat, so consumers can tell).
    ///
    /// Runs in a `publish` span (type, stream, message and entry id,
    /// correlation id, trace context; for a batch of several, the first
    /// event's and the count), a child of the trace context the first
    /// event carries (feature `otel`), and counts what it published, or
    /// failed to, per type (see [`telemetry`]).
    pub async fn send(self) -> Result<Vec<String>, PublishError> {
        let Some((stream, first, _)) = self.items.first() else {
            return Ok(Vec::new());
        };
        let span = tracing::info_span!(
            "publish",
            event_type = %first.event_type,
            stream = %stream,
            message_id = %first.id,
            correlation_id = %first.correlation_id,
            traceparent = first.traceparent.as_deref(),
            count = self.items.len(),
            entry_id = tracing::field::Empty,
        );
        trace::continue_trace(&span, first.traceparent.as_deref(), first.tracestate.as_deref());
        let mut types: Vec<(String, u64)> = Vec::new();
        for (_, envelope, _) in &self.items {
            match types.iter_mut().find(|(name, _)| *name == envelope.event_type) {
                Some((_, count)) => *count += 1,
                None => types.push((envelope.event_type.clone(), 1)),
            }
        }
        let sent = self.send_untraced().instrument(span.clone()).await;
        if let Ok(ids) = &sent
            && let Some(id) = ids.first()
        {
            span.record("entry_id", id.as_str());
        }
        for (event_type, count) in &types {
            telemetry::published(event_type, *count, sent.is_ok());
        }
        sent
    }

    /// Sends a batch of one event; returns its entry id.
    async fn send_one(self) -> Result<String, PublishError> {
        let stream = self
            .items
            .first()
            .map(|(stream, _, _)| stream.clone())
            .unwrap_or_default();
        let mut ids = self.send().await?;
        ids.pop().ok_or_else(|| PublishError::Redis {
            stream,
            reason: "Redis answered no entry id".into(),
        })
    }

    async fn send_untraced(self) -> Result<Vec<String>, PublishError> {
        let Some((first_stream, _, _)) = self.items.first() else {
            return Ok(Vec::new());
        };
        let first_stream = first_stream.clone();
        // Per stream: the largest cap and the longest retention it is
        // written with; per item, the index of its stream there.
        let mut streams: Vec<(&str, u64, Duration)> = Vec::new();
        let mut item_streams = Vec::with_capacity(self.items.len());
        for (stream, _, layout) in &self.items {
            let index = match streams.iter().position(|(name, _, _)| name == stream) {
                Some(index) => index,
                None => {
                    streams.push((stream, 0, Duration::ZERO));
                    streams.len() - 1
                }
            };
            let (_, cap, retention) = &mut streams[index];
            *cap = (*cap).max(layout.max_len);
            *retention = (*retention).max(layout.retention);
            item_streams.push(index);
        }
        let mut pipe = SlotPipeline::new();
        for ((stream, envelope, _), index) in self.items.iter().zip(item_streams) {
            // Room for the metadata fields without growing, as a rule.
            let command = Cmd::with_capacity(32, 512 + stream.len() + envelope.data.len());
            let add = pipe
                .add(stream, command)
                .arg("XADD")
                .arg(stream)
                .arg("MAXLEN")
                .arg("~")
                .arg(streams[index].1)
                .arg("*");
            envelope.visit_fields(|name, value| {
                add.arg(name).arg(value);
            });
        }
        let due = self
            .publisher
            .age_trims
            .due(streams.iter().map(|(stream, _, retention)| (*stream, *retention)));
        for (stream, min_id) in due {
            pipe.cmd(stream, "XTRIM").arg(stream).arg("MINID").arg("~").arg(min_id);
        }
        let timeout = self.publisher.timeout;
        // WAIT gets most of the timeout, so that too few replicas in time
        // fails with that reason rather than with a bare timeout.
        pipe.wait_for_replicas(self.publisher.replicas, timeout.mul_f64(0.8));
        let mut connection = self.publisher.connection.clone();
        // A connection Redis dropped (it restarted, say) is noticed on
        // first use: send once more on the new one, within the same timeout.
        // Ids repeat if the first write had landed, so consumers can tell.
        let send = async {
            match pipe.query(&mut connection).await {
                Err(error) if error.is_connection_dropped() || error.is_connection_refusal() => {
                    tracing::debug!(%error, "connection to Redis dropped; publishing again on a new one");
                    pipe.query(&mut connection).await
                }
                sent => sent,
            }
        };
        let reply: Vec<Value> = tokio::time::timeout(timeout, send)
            .await
            .map_err(|_| PublishError::Timeout {
                stream: first_stream.clone(),
                after: timeout,
            })?
            .map_err(|error| PublishError::Redis {
                stream: first_stream.clone(),
                reason: error.to_string(),
            })?;
        reply
            .into_iter()
            .take(self.items.len())
            .map(|id| match id {
                Value::BulkString(bytes) => String::from_utf8(bytes).map_err(|_| ()),
                Value::SimpleString(text) => Ok(text),
                _ => Err(()),
            })
            .collect::<Result<Vec<String>, ()>>()
            .map_err(|()| PublishError::Redis {
                stream: first_stream,
                reason: "Redis answered something other than an entry id".into(),
            })
    }
}

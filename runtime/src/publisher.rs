//! The [`Publisher`]: typed events to their category streams, one round trip
//! per publish or per batch, never waiting longer than the publish timeout.
//! On a single server every publish of a process goes over one connection
//! of the runtime's own, in the order they came, each written at once,
//! without waiting for the replies owed to the publishes before it (see
//! [`WriteConnection`]); a batch's first entries are written while the rest
//! are built. On a Redis Cluster a publish goes through the redis crate's
//! cluster client, a batch as one pipeline per slot it writes to, sent at
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

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{SubsecRound, Utc};
use redis::{RedisError, Value};
use tracing::Instrument;
use uuid::Uuid;

use crate::config::Config;
use crate::connection::{self, AddCommands, Commands, Connection, SlotPipeline, WriteConnection, Writer};
use crate::envelope::Envelope;
use crate::error::Error;
use crate::event::{Event, StreamLayout};
use crate::keys::Keys;
use crate::publish::{Publish, PublishContext, PublishError};
use crate::telemetry::{PerType, Publishing, trace};
use crate::trim::AgeTrims;

/// The room a payload's JSON is written into: most events' fit, so that
/// only larger ones grow it (`serde_json::to_string` starts at 128 bytes
/// and grows the usual event's JSON once or twice).
const PAYLOAD_CAPACITY: usize = 512;

/// How many bytes of a batch's commands [`Batch::write_ahead`] encodes
/// before it writes them: a few dozen entries of the usual size.
const WRITE_AHEAD: usize = 8 * 1024;

/// Publishes events to Redis streams. Cheap to clone: clones share its
/// self-healing connections.
#[derive(Clone)]
pub struct Publisher {
    connection: Connection,
    /// On a single server, the runtime's own connection, which every
    /// publish writes on (see [`WriteConnection`]).
    writes: Option<WriteConnection>,
    keys: Keys,
    source: String,
    timeout: Duration,
    /// Replicas that must have each entry (`XERPIUM_PUBLISH_REPLICAS`).
    replicas: u32,
    /// The age bounds last sent (see [Trimming](self#trimming)).
    age_trims: AgeTrims,
    /// The counters of what it published, per type (see [`telemetry`](crate::telemetry)).
    metrics: Arc<PerType<Publishing>>,
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
            writes: WriteConnection::new(config)?,
            keys: config.keys(),
            source: config.service().to_owned(),
            timeout: config.publish_timeout(),
            replicas: config.publish_replicas(),
            age_trims: AgeTrims::default(),
            metrics: Arc::new(PerType::new()),
        })
    }

    /// The envelope `event` travels in: a new UUIDv7 id, the current time,
    /// this service as source, and `context`'s correlation (when it has
    /// none, this message starts a chain: its own id), causation and trace;
    /// with no trace in `context`, the current span's (feature `otel`, see
    /// [`trace`]).
    pub fn envelope<E: Event>(&self, event: &E, context: &PublishContext) -> Result<Envelope, PublishError> {
        Ok(self.envelope_of(event, payload(event)?, context))
    }

    /// The envelope of `event`, whose JSON is `data`.
    fn envelope_of<E: Event>(&self, event: &E, data: String, context: &PublishContext) -> Envelope {
        let id = Uuid::now_v7();
        let (traceparent, tracestate) = match &context.traceparent {
            Some(_) => (context.traceparent.clone(), context.tracestate.clone()),
            None => trace::span_or(&tracing::Span::current(), (None, None)),
        };
        Envelope {
            id,
            event_type: E::TYPE.to_owned(),
            version: E::VERSION,
            source: self.source.clone(),
            // The wire format keeps microseconds: so does the envelope.
            time: Utc::now().trunc_subsecs(6),
            subject: event.subject(),
            correlation_id: context.correlation_id.clone().unwrap_or_else(|| hyphenated(id)),
            causation_id: context.causation_id.clone(),
            traceparent,
            tracestate,
            data,
        }
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
        self.send_one(self.item(category, envelope.clone(), layout)).await
    }

    /// Publishes `events` with one `context` in one pipelined round trip;
    /// returns their entry ids in order. Events published together share
    /// one correlation id (a new one when `context` has none). Nothing is
    /// published when one of them cannot be encoded.
    ///
    /// On a single server the first events are written while the envelopes
    /// of the rest are still being built, so that Redis stores them
    /// meanwhile.
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
                    .unwrap_or_else(|| hyphenated(Uuid::now_v7())),
            ),
            ..context.clone()
        };
        let payloads = events
            .iter()
            .map(payload)
            .collect::<Result<Vec<String>, PublishError>>()?;
        let mut batch = self.batch();
        for (event, data) in events.iter().zip(payloads) {
            let envelope = self.envelope_of(event, data, &context);
            batch.add_envelope(E::CATEGORY, envelope, &E::STREAM);
            batch.write_ahead().await;
        }
        batch.send().await
    }

    /// An empty batch of events of any types, sent in one round trip.
    pub fn batch(&self) -> Batch<'_> {
        Batch {
            publisher: self,
            items: Vec::new(),
            ahead: None,
        }
    }

    /// `envelope` on its way to the stream of `category` laid out as `layout`.
    fn item(&self, category: &str, envelope: Envelope, layout: &StreamLayout) -> Item {
        Item {
            stream: self.keys.event_stream(category, layout, &envelope.subject),
            envelope,
            layout: *layout,
        }
    }

    /// Sends `item` alone; returns its entry id.
    async fn send_one(&self, item: Item) -> Result<String, PublishError> {
        let mut ids = self.send(std::slice::from_ref(&item), None).await?;
        ids.pop().ok_or_else(|| PublishError::Redis {
            stream: item.stream,
            reason: "Redis answered no entry id".into(),
        })
    }

    /// Sends `items` in one round trip, on the call `ahead` started if any (see
    /// [`Batch::send`]).
    async fn send(&self, items: &[Item], ahead: Option<Ahead>) -> Result<Vec<String>, PublishError> {
        let Some(Item {
            stream,
            envelope: first,
            ..
        }) = items.first()
        else {
            return Ok(Vec::new());
        };
        let span = tracing::info_span!(
            "publish",
            event_type = %first.event_type,
            stream = %stream,
            message_id = %first.id,
            correlation_id = %first.correlation_id,
            traceparent = first.traceparent.as_deref(),
            count = items.len(),
            entry_id = tracing::field::Empty,
        );
        trace::continue_trace(&span, first.traceparent.as_deref(), first.tracestate.as_deref());
        let sent = self.send_untraced(items, ahead).instrument(span.clone()).await;
        if let Ok(ids) = &sent
            && let Some(id) = ids.first()
        {
            span.record("entry_id", id.as_str());
        }
        for same_type in items.chunk_by(|a, b| a.envelope.event_type == b.envelope.event_type) {
            self.metrics
                .get(&same_type[0].envelope.event_type, Publishing::new)
                .count(same_type.len() as u64, sent.is_ok());
        }
        sent
    }

    async fn send_untraced(&self, items: &[Item], ahead: Option<Ahead>) -> Result<Vec<String>, PublishError> {
        let Some(Item {
            stream: first_stream, ..
        }) = items.first()
        else {
            return Ok(Vec::new());
        };
        let timeout = self.timeout;
        let ahead = ahead.or_else(|| Ahead::take(self));
        // Per stream, the largest cap and the longest retention it is
        // written with, so that no type trims away entries another keeps.
        let mut streams: Vec<(&str, u64, Duration)> = Vec::new();
        for Item { stream, layout, .. } in items {
            match streams.iter_mut().find(|(name, _, _)| name == stream) {
                Some((_, cap, retention)) => {
                    *cap = (*cap).max(layout.max_len);
                    *retention = (*retention).max(layout.retention);
                }
                None => streams.push((stream, layout.max_len, layout.retention)),
            }
        }
        let due = self
            .age_trims
            .due(streams.iter().map(|(stream, _, retention)| (*stream, *retention)));
        // WAIT gets most of the timeout, so that too few replicas in time
        // fails with that reason rather than with a bare timeout.
        let replicas = (self.replicas > 0).then(|| (self.replicas, timeout.mul_f64(0.8)));
        let send = async {
            let mut replies = match ahead {
                Some(Ahead {
                    mut writer, encoded, ..
                }) => {
                    add_rest(writer.commands(), &items[encoded..], &streams, &due, replicas);
                    writer.call().await?
                }
                None => {
                    let mut pipe = SlotPipeline::new();
                    add_writes(&mut pipe, items, |stream, _| cap_of(&streams, stream));
                    add_trims(&mut pipe, &due);
                    if let Some((wanted, wait)) = replicas {
                        pipe.wait_for_replicas(wanted, wait);
                    }
                    return send_pipeline(&mut pipe, &self.connection).await;
                }
            };
            if let Some((wanted, wait)) = replicas {
                connection::check_replicas(replies.pop(), wanted, wait)?;
            }
            Ok(replies)
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
            .take(items.len())
            .map(|id| match id {
                Value::BulkString(bytes) => String::from_utf8(bytes).map_err(|_| ()),
                Value::SimpleString(text) => Ok(text),
                _ => Err(()),
            })
            .collect::<Result<Vec<String>, ()>>()
            .map_err(|()| PublishError::Redis {
                stream: first_stream.clone(),
                reason: "Redis answered something other than an entry id".into(),
            })
    }
}

impl Publish for Publisher {
    async fn publish<E: Event>(&self, event: &E, context: &PublishContext) -> Result<String, PublishError> {
        let envelope = self.envelope(event, context)?;
        self.send_one(self.item(E::CATEGORY, envelope, &E::STREAM)).await
    }
}

/// The JSON of `event`.
fn payload<E: Event>(event: &E) -> Result<String, PublishError> {
    let encode_error = |source| PublishError::Encode {
        event_type: E::TYPE,
        source,
    };
    let mut json = Vec::with_capacity(PAYLOAD_CAPACITY);
    serde_json::to_writer(&mut json, event).map_err(encode_error)?;
    String::from_utf8(json).map_err(|error| encode_error(serde::ser::Error::custom(error)))
}

/// `id` in its hyphenated form, as a correlation id.
fn hyphenated(id: Uuid) -> String {
    id.hyphenated().encode_lower(&mut Uuid::encode_buffer()).to_owned()
}

/// Sends `pipe` on `connection`. A connection Redis dropped (it restarted,
/// say) is noticed on first use: it sends once more on the new one. Ids
/// repeat if the first write had landed, so consumers can tell.
async fn send_pipeline(pipe: &mut SlotPipeline, connection: &Connection) -> Result<Vec<Value>, RedisError> {
    let mut connection = connection.clone();
    match pipe.query(&mut connection).await {
        Err(error) if error.is_connection_dropped() || error.is_connection_refusal() => {
            tracing::debug!(%error, "connection to Redis dropped; publishing again on a new one");
            pipe.query(&mut connection).await
        }
        sent => sent,
    }
}

/// An event on its way: the stream it is written to, its envelope, and the
/// layout that stream is trimmed by.
#[derive(Debug)]
struct Item {
    stream: String,
    envelope: Envelope,
    layout: StreamLayout,
}

/// Events to publish together in one pipelined round trip.
#[derive(Debug)]
#[must_use = "a batch publishes nothing until it is sent"]
pub struct Batch<'p> {
    publisher: &'p Publisher,
    items: Vec<Item>,
    /// The runtime's own connection, once [`write_ahead`](Self::write_ahead)
    /// took it.
    ahead: Option<Ahead>,
}

/// A batch's call on the runtime's own connection: the commands of the
/// first `encoded` items are encoded on it; writing ahead stops at
/// `deadline` (the publish timeout from when the call started) or when a
/// write fails, and the rest waits for the call then.
#[derive(Debug)]
struct Ahead {
    writer: Writer,
    encoded: usize,
    deadline: Instant,
    stopped: bool,
}

impl Ahead {
    /// A call on `publisher`'s own connection, unless it has none (a
    /// cluster).
    fn take(publisher: &Publisher) -> Option<Ahead> {
        let writer = publisher.writes.as_ref()?.writer();
        Some(Ahead {
            writer,
            encoded: 0,
            deadline: Instant::now() + publisher.timeout,
            stopped: false,
        })
    }
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
        self.items.push(self.publisher.item(category, envelope, layout));
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
    /// failed to, per type (see [`telemetry`](crate::telemetry)).
    pub async fn send(self) -> Result<Vec<String>, PublishError> {
        let Batch {
            publisher,
            items,
            ahead,
        } = self;
        publisher.send(&items, ahead).await
    }

    /// On the runtime's own connection (a single server): encodes the
    /// events added since the last time, and
    /// writes what is encoded once it is [`WRITE_AHEAD`] bytes or more, so
    /// that Redis stores those while the rest are built.
    async fn write_ahead(&mut self) {
        if self.ahead.is_none() {
            self.ahead = Ahead::take(self.publisher);
        }
        let Some(ahead) = &mut self.ahead else {
            return;
        };
        // Items of one type (`publish_batch`): each is capped as its layout says.
        add_writes(ahead.writer.commands(), &self.items[ahead.encoded..], |_, layout| {
            layout.max_len
        });
        ahead.encoded = self.items.len();
        ahead.writer.commands().end();
        if !ahead.stopped && ahead.writer.unsent() >= WRITE_AHEAD {
            // A write cut short at the deadline goes on in the call.
            let sent = tokio::time::timeout_at(ahead.deadline.into(), ahead.writer.send_early()).await;
            ahead.stopped = !sent.unwrap_or(false);
        }
    }
}

/// Adds to `commands` an `XADD` of each of `items` (capped as `streams`
/// says), the `XTRIM`s `due` and, when replicas are wanted, the `WAIT` for
/// them.
fn add_rest(
    commands: &mut Commands,
    items: &[Item],
    streams: &[(&str, u64, Duration)],
    due: &[(&str, u64)],
    replicas: Option<(u32, Duration)>,
) {
    add_writes(commands, items, |stream, _| cap_of(streams, stream));
    add_trims(commands, due);
    if let Some((wanted, wait)) = replicas {
        commands
            .command("", "WAIT")
            .number(wanted.into())
            .number(connection::wait_millis(wait));
    }
}

/// Adds to `sink` an `XADD` of each of `items` to its stream, capped at
/// `cap(stream, layout)`.
fn add_writes(sink: &mut impl AddCommands, items: &[Item], cap: impl Fn(&str, &StreamLayout) -> u64) {
    for Item {
        stream,
        envelope,
        layout,
    } in items
    {
        sink.command(stream, "XADD")
            .arg(stream.as_bytes())
            .arg(b"MAXLEN")
            .arg(b"~")
            .number(cap(stream, layout))
            .arg(b"*");
        envelope.visit_fields(|name, value| {
            sink.arg(name.as_bytes()).arg(value.as_bytes());
        });
    }
}

/// The cap of `stream` in `streams` (each with its cap and retention).
fn cap_of(streams: &[(&str, u64, Duration)], stream: &str) -> u64 {
    streams
        .iter()
        .find(|(name, _, _)| *name == stream)
        .map_or(0, |(_, cap, _)| *cap)
}

/// Adds to `sink` the `XTRIM`s by age that are `due` (see
/// [Trimming](self#trimming)).
fn add_trims(sink: &mut impl AddCommands, due: &[(&str, u64)]) {
    for (stream, min_id) in due {
        sink.command(stream, "XTRIM")
            .arg(stream.as_bytes())
            .arg(b"MINID")
            .arg(b"~")
            .number(*min_id);
    }
}

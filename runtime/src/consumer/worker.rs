//! Settling one delivery: claim it again if it is a due retry, read its
//! envelope, check its attempts and the idempotency store, run the handler
//! and turn the result into an [`Outcome`].

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use redis::{RedisError, Value};
use tracing::Instrument;

use super::Delivery;
use super::dead_letter::{DeadLetter, Reason};
use super::idempotency::{Claim, Idempotency, Lease};
use crate::connection::{Connection, Outage, bounded};
use crate::envelope::Envelope;
use crate::event::DeliveryPolicy;
use crate::handler::{Dispatch, HandlerError};
use crate::keys::Keys;
use crate::message::Message;
use crate::stream;
use crate::telemetry::{self, ConsumerMetrics};

/// What a consumer's workers share.
pub(super) struct Shared<D> {
    pub dispatch: D,
    /// For non-blocking commands (claims, dead letters, acks, idempotency).
    pub connection: Connection,
    pub keys: Keys,
    pub group: String,
    pub consumer: String,
    pub dead_letters: String,
    pub default_policy: DeliveryPolicy,
    pub idempotency: Option<Idempotency>,
    /// Bound on every call.
    pub limit: Duration,
    /// Metric handles, by event type.
    pub metrics: ConsumerMetrics,
}

/// How a delivery ended.
#[derive(Debug)]
pub(super) enum Outcome {
    /// Handled (or known handled): ack it.
    Ack,
    /// Dead-lettered and acked already.
    Settled,
    /// Leave it pending; run it again at `due` (claiming it again first
    /// when [`Delivery::reclaim`] is set: a retry after a failure).
    Retry { delivery: Delivery, due: Instant },
    /// No longer this consumer's, or shutting down: let go, leave it pending.
    Release,
}

/// A delivery that is done, and where it came from.
#[derive(Debug)]
pub(super) struct Finished {
    pub lane: String,
    pub stream: Arc<str>,
    pub id: String,
    pub outcome: Outcome,
}

/// Settles `delivery` of lane `lane`.
pub(super) async fn handle<D: Dispatch>(shared: Arc<Shared<D>>, lane: String, delivery: Delivery) -> Finished {
    let stream = delivery.stream.clone();
    let id = delivery.id.clone();
    let outcome = settle(&shared, delivery).await;
    Finished {
        lane,
        stream,
        id,
        outcome,
    }
}

async fn settle<D: Dispatch>(shared: &Shared<D>, mut delivery: Delivery) -> Outcome {
    if delivery.stub {
        delivery.stub = false;
        if !reread(shared, &mut delivery).await {
            let error = "trimmed from the stream while queued behind its subject".to_owned();
            return dead_letter(shared, &delivery, Reason::LostToRetention, error).await;
        }
    }
    if delivery.reclaim {
        delivery.reclaim = false;
        match reclaim(shared, &mut delivery).await {
            Reclaimed::Ours => {}
            Reclaimed::Gone => return Outcome::Release,
            Reclaimed::Trimmed => {
                let error = "trimmed from the stream while waiting for a retry".to_owned();
                return dead_letter(shared, &delivery, Reason::LostToRetention, error).await;
            }
        }
    }
    let Some(fields) = &delivery.fields else {
        let error = "trimmed from the stream while pending, before this group handled it".to_owned();
        return dead_letter(shared, &delivery, Reason::LostToRetention, error).await;
    };
    if let Some(field) = fields.not_utf8() {
        let error = format!("a field is not UTF-8: {field:?}");
        return dead_letter(shared, &delivery, Reason::BadEnvelope, error).await;
    }
    let envelope = match Envelope::from_fields(|name| fields.get(name)) {
        Ok(envelope) => envelope,
        Err(error) => return dead_letter(shared, &delivery, Reason::BadEnvelope, error.to_string()).await,
    };
    let policy = shared
        .dispatch
        .policy(&envelope.event_type)
        .unwrap_or(shared.default_policy);
    let metrics = shared
        .metrics
        .handling(telemetry::type_label(&shared.dispatch, Some(&envelope.event_type)));
    if delivery.count > policy.max_attempts {
        let error = format!(
            "delivered {} times, more than the {} attempts allowed, without being settled: \
             a consumer probably crashed while handling it",
            delivery.count, policy.max_attempts
        );
        return dead_letter(shared, &delivery, Reason::TooManyDeliveries, error).await;
    }
    let marker = shared.idempotency.as_ref().map(|store| {
        let key = shared.keys.handled(&shared.group, &envelope.id.to_string());
        (store, store.lease(key, &delivery.id))
    });
    if let Some((store, lease)) = &marker {
        match persist(shared, |mut c| async move { store.claim(&mut c, lease).await }).await {
            Claim::Acquired => {}
            Claim::AlreadyHandled => {
                tracing::debug!(id = %envelope.id, entry = %delivery.id, "event already handled by this group; skipping");
                metrics.acked();
                return Outcome::Ack;
            }
            Claim::Busy => {
                // Not an attempt: the other delivery's outcome decides.
                tracing::debug!(id = %envelope.id, entry = %delivery.id, "the same event is being handled by another delivery; waiting");
                let due = Instant::now() + store.busy_wait();
                return Outcome::Retry { delivery, due };
            }
        }
    }
    let message = Message {
        envelope,
        stream: delivery.stream.to_string(),
        entry_id: delivery.id.clone(),
        delivery_count: delivery.count,
    };
    let span = handle_span(&message, &shared.group);
    metrics.consumed();
    if message.delivery_count <= 1 {
        let age = chrono::Utc::now() - message.envelope.time;
        metrics.published_before(age.to_std().unwrap_or_default());
    }
    let started = Instant::now();
    let handling = shared.dispatch.dispatch_entry(&message, fields);
    let handling = AssertUnwindSafe(handling.instrument(span.clone()))
        .catch_unwind()
        .map(|result| {
            result.unwrap_or_else(|panic| {
                Err(HandlerError::retry(format!(
                    "handler panicked: {}",
                    panic_text(&*panic)
                )))
            })
        });
    let result = match &marker {
        Some((store, lease)) => keeping_lease(shared, store, lease, handling).await,
        None => handling.await,
    };
    metrics.handled_in(started.elapsed());
    span.record("outcome", outcome_name(&result));
    if let Some((store, lease)) = &marker {
        match &result {
            Ok(()) => persist(shared, |mut c| async move { store.done(&mut c, lease).await }).await,
            Err(_) => persist(shared, |mut c| async move { store.release(&mut c, lease).await }).await,
        }
    }
    let error = match result {
        Ok(()) => {
            metrics.acked();
            return Outcome::Ack;
        }
        Err(error) => error,
    };
    let reason = match &error {
        HandlerError::Retryable(_) if delivery.count < policy.max_attempts => {
            tracing::debug!(entry = %delivery.id, attempt = delivery.count, %error, "handler failed; will retry");
            metrics.retried();
            return retry(delivery, &policy);
        }
        HandlerError::Retryable(_) => Reason::RetriesExhausted,
        HandlerError::Permanent(_) => Reason::Permanent,
        HandlerError::Undecodable(_) => Reason::Undecodable,
        HandlerError::UnknownType { .. } => Reason::UnknownType,
    };
    dead_letter(shared, &delivery, reason, error.to_string()).await
}

/// A retry after the policy's backoff for this delivery, plus up to 25 % jitter.
fn retry(mut delivery: Delivery, policy: &DeliveryPolicy) -> Outcome {
    let delay = policy
        .backoff(delivery.count.max(1))
        .mul_f64(1.0 + fastrand::f64() * 0.25);
    delivery.reclaim = true;
    Outcome::Retry {
        delivery,
        due: Instant::now() + delay,
    }
}

/// Runs `handling` while renewing `lease` every third of its length, so a
/// handler slower than the lease keeps it.
async fn keeping_lease<D, T>(
    shared: &Shared<D>,
    store: &Idempotency,
    lease: &Lease,
    handling: impl Future<Output = T>,
) -> T {
    let mut handling = std::pin::pin!(handling);
    let mut renew = tokio::time::interval(store.renew_every());
    renew.tick().await;
    loop {
        tokio::select! {
            result = &mut handling => return result,
            _ = renew.tick() => {
                let mut connection = shared.connection.clone();
                match bounded(shared.limit, store.renew(&mut connection, lease)).await {
                    Ok(true) => {}
                    Ok(false) => tracing::warn!(key = %lease.key, "the idempotency lease of a running handler expired and was taken: the event may be handled twice"),
                    Err(error) => tracing::debug!(%error, key = %lease.key, "could not renew an idempotency lease"),
                }
            }
        }
    }
}

/// Reads a stub's fields again; `false` when it is gone from the stream.
async fn reread<D>(shared: &Shared<D>, delivery: &mut Delivery) -> bool {
    let range = redis::cmd("XRANGE")
        .arg(&*delivery.stream)
        .arg(&delivery.id)
        .arg(&delivery.id)
        .to_owned();
    let found = persist(shared, |mut c| {
        let range = &range;
        async move { stream::entry_list(range.query_async::<Value>(&mut c).await?) }
    })
    .await;
    match found.into_iter().next() {
        Some(entry) if entry.fields.is_some() => {
            delivery.fields = entry.fields;
            true
        }
        _ => false,
    }
}

enum Reclaimed {
    /// Claimed again: its fields and delivery count are fresh.
    Ours,
    /// Another consumer holds it, or it was acked: not ours to handle.
    Gone,
    /// It was trimmed from the stream.
    Trimmed,
}

/// Claims a due retry again (counting a delivery) before running it.
async fn reclaim<D>(shared: &Shared<D>, delivery: &mut Delivery) -> Reclaimed {
    let stream = &*delivery.stream;
    let id = &delivery.id;
    let claim = redis::cmd("XCLAIM")
        .arg(stream)
        .arg(&shared.group)
        .arg(&shared.consumer)
        .arg(0)
        .arg(id)
        .to_owned();
    let claimed = persist(shared, |mut c| {
        let claim = &claim;
        async move { stream::entry_list(claim.query_async::<Value>(&mut c).await?) }
    })
    .await;
    if let Some(entry) = claimed.into_iter().next() {
        if entry.fields.is_some() {
            delivery.fields = entry.fields;
        }
        delivery.count = delivery.count.saturating_add(1);
        return Reclaimed::Ours;
    }
    let range = redis::cmd("XRANGE").arg(stream).arg(id).arg(id).to_owned();
    let found = persist(shared, |mut c| {
        let range = &range;
        async move { stream::entry_list(range.query_async::<Value>(&mut c).await?) }
    })
    .await;
    if found.is_empty() {
        Reclaimed::Trimmed
    } else {
        Reclaimed::Gone
    }
}

/// Copies the entry to the dead-letter stream, then acks it: two commands
/// on two keys (a Redis Cluster refuses one spanning both), in that order,
/// each retried until Redis takes it. A failure between them leaves the
/// entry pending, to be dead-lettered again: a duplicate dead letter, never
/// a loss. While Redis refuses the dead letter (a key of the wrong type,
/// say) the entry stays pending and the error is logged.
async fn dead_letter<D: Dispatch>(shared: &Shared<D>, delivery: &Delivery, reason: Reason, error: String) -> Outcome {
    let event_type = delivery
        .fields
        .as_ref()
        .and_then(|fields| fields.get(crate::envelope::field::TYPE));
    let metrics = shared
        .metrics
        .handling(telemetry::type_label(&shared.dispatch, event_type));
    metrics.dead_lettered(reason.as_str());
    tracing::warn!(
        stream = %delivery.stream,
        entry = %delivery.id,
        group = %shared.group,
        attempts = delivery.count,
        %reason,
        %error,
        "dead-lettering entry"
    );
    let letter = DeadLetter {
        stream: &delivery.stream,
        entry_id: &delivery.id,
        fields: delivery.fields.as_ref(),
        attempts: delivery.count,
        reason,
        error,
    };
    let add = letter.add(
        &shared.dead_letters,
        shared.default_policy.max_len,
        &shared.group,
        &shared.consumer,
    );
    persist(shared, |mut c| {
        let add = &add;
        async move { add.query_async::<()>(&mut c).await }
    })
    .await;
    let ack = redis::cmd("XACK")
        .arg(&*delivery.stream)
        .arg(&shared.group)
        .arg(&delivery.id)
        .to_owned();
    persist(shared, |mut c| {
        let ack = &ack;
        async move { ack.query_async::<()>(&mut c).await }
    })
    .await;
    Outcome::Settled
}

/// Runs `call` until it succeeds, waiting longer after each failure. The
/// outage is logged quietly: the fetcher reports it loudly once.
async fn persist<D, T, F, Fut>(shared: &Shared<D>, mut call: F) -> T
where
    F: FnMut(Connection) -> Fut,
    Fut: Future<Output = Result<T, RedisError>>,
{
    let mut outage = Outage::quiet("settling entries");
    let mut refused = false;
    loop {
        match bounded(shared.limit, call(shared.connection.clone())).await {
            Ok(value) => return value,
            Err(error) => {
                // A refusal (not an outage) would otherwise retry in silence.
                if error.code().is_some() && !std::mem::replace(&mut refused, true) {
                    tracing::error!(%error, "Redis refuses a command needed to settle an entry; retrying");
                }
                tokio::time::sleep(outage.failed(&error)).await;
            }
        }
    }
}

/// The span a handler runs in: what the entry is, where it came from, the
/// correlation id and the W3C trace context it carries, whose child it is
/// (feature `otel`).
fn handle_span(message: &Message, group: &str) -> tracing::Span {
    let envelope = &message.envelope;
    let span = tracing::info_span!(
        "handle",
        event_type = %envelope.event_type,
        stream = %message.stream,
        entry_id = %message.entry_id,
        group = %group,
        message_id = %envelope.id,
        correlation_id = %envelope.correlation_id,
        causation_id = envelope.causation_id.as_deref(),
        traceparent = envelope.traceparent.as_deref(),
        delivery = message.delivery_count,
        outcome = tracing::field::Empty,
    );
    telemetry::trace::continue_trace(&span, envelope.traceparent.as_deref(), envelope.tracestate.as_deref());
    span
}

/// The `outcome` recorded on a handler's span.
fn outcome_name(result: &Result<(), HandlerError>) -> &'static str {
    match result {
        Ok(()) => "ok",
        Err(HandlerError::Retryable(_)) => "retryable",
        Err(HandlerError::Permanent(_)) => "permanent",
        Err(HandlerError::Undecodable(_)) => "undecodable",
        Err(HandlerError::UnknownType { .. }) => "unknown-type",
    }
}

fn panic_text(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned())
}

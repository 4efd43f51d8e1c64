//! The [`Subscriber`]: the notifications sent to a user (to them, to their
//! roles and to everyone) as a [`Stream`], on a Pub/Sub connection that
//! resubscribes by itself after a disconnection.
//!
//! Fire and forget (see [`notify`](crate::notify)): a subscription receives
//! what is sent while it is subscribed. What is sent while it reconnects
//! (Redis restarting, a network failure) is missed, and so is what arrives
//! while the stream's buffer is full because its reader is not keeping up
//! (logged). Each stream holds one Redis connection while it lives;
//! dropping it unsubscribes.
//!
//! On a Redis Cluster, notifications use plain Pub/Sub, which the cluster
//! forwards to every node: a subscription holds a connection to any one of
//! the configured nodes and moves to another when that one fails, with no
//! slot to follow. Sharded Pub/Sub would spare the cluster that broadcast,
//! which matters only at rates far above what notifications to people reach,
//! and would tie each channel to one shard, to be followed through failovers
//! and resharding.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use redis::aio::{PubSubSink, PubSubStream};
use redis::{ErrorKind, RedisError};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot};

use crate::config::Config;
use crate::connection::{Outage, bounded};
use crate::error::Error;
use crate::keys::Keys;
use crate::notify::{NotificationMessage, NotificationTarget};
use crate::task::AbortOnDrop;

/// Notifications a stream holds for its reader at most; more are dropped.
pub const BUFFER: usize = 1024;

/// How often an idle subscription checks its connection (`PING`), so that
/// a connection that died silently is replaced.
const PING_EVERY: Duration = Duration::from_secs(15);

/// Opens notification subscriptions on `config`'s Redis and namespace.
#[derive(Debug, Clone)]
pub struct Subscriber {
    /// The server, or each configured node of a cluster.
    clients: Vec<redis::Client>,
    keys: Keys,
    url: String,
    limit: Duration,
}

impl Subscriber {
    /// A subscriber for `config`'s Redis and namespace; connects nothing yet.
    pub fn new(config: &Config) -> Result<Subscriber, Error> {
        let clients = config
            .redis()
            .urls()
            .iter()
            .map(|url| redis::Client::open(url.as_str()))
            .collect::<Result<_, _>>()
            .map_err(|source| Error::RedisUrl {
                url: config.redis_url_redacted(),
                source,
            })?;
        Ok(Subscriber {
            clients,
            keys: config.keys(),
            url: config.redis_url_redacted(),
            limit: config.publish_timeout(),
        })
    }

    /// The notifications for user `user_id`: those sent to them, to any of
    /// `roles`, and to everyone. See [`subscribe`](Self::subscribe).
    pub async fn subscribe_user<R: Into<String>>(
        &self,
        user_id: &str,
        roles: impl IntoIterator<Item = R>,
    ) -> Result<NotificationStream, Error> {
        let user = NotificationTarget::User(user_id.to_owned());
        let roles = roles.into_iter().map(|role| NotificationTarget::Role(role.into()));
        self.subscribe(std::iter::once(user).chain(roles).chain([NotificationTarget::All]))
            .await
    }

    /// The notifications sent to any of `targets`, from the moment this
    /// returns. Fails when Redis cannot be reached now (within the publish
    /// timeout); once subscribed, the stream resubscribes by itself after
    /// a disconnection and never ends while Redis may come back. With no
    /// target, the stream ends at once.
    pub async fn subscribe(
        &self,
        targets: impl IntoIterator<Item = NotificationTarget>,
    ) -> Result<NotificationStream, Error> {
        let mut channels: Vec<String> = targets.into_iter().map(|target| target.channel(&self.keys)).collect();
        channels.sort();
        channels.dedup();
        let (sender, receiver) = mpsc::channel(BUFFER);
        if channels.is_empty() {
            return Ok(NotificationStream {
                receiver,
                channels,
                _listener: None,
            });
        }
        let listener = Listener {
            clients: self.clients.clone(),
            channels: channels.clone(),
            sender,
            limit: self.limit,
        };
        let (ready, subscribed) = oneshot::channel();
        let task = AbortOnDrop::spawn(listener.run(ready));
        let first = subscribed.await.unwrap_or_else(|_| {
            Err(RedisError::from((
                ErrorKind::Io,
                "the subscription task stopped before subscribing",
            )))
        });
        match first {
            Ok(()) => Ok(NotificationStream {
                receiver,
                channels,
                _listener: Some(task),
            }),
            Err(source) => Err(Error::Unreachable {
                url: self.url.clone(),
                doing: "subscribe to notifications",
                source,
            }),
        }
    }
}

/// The notifications of one subscription, in the order Redis delivered
/// them; see [`Subscriber::subscribe`]. Dropping it unsubscribes.
#[derive(Debug)]
pub struct NotificationStream {
    receiver: mpsc::Receiver<NotificationMessage>,
    channels: Vec<String>,
    _listener: Option<AbortOnDrop>,
}

impl NotificationStream {
    /// The channels subscribed to, sorted.
    pub fn channels(&self) -> &[String] {
        &self.channels
    }

    /// The next notification, as `StreamExt::next` gives it, without
    /// importing a trait; `None` only for a stream with no target.
    pub async fn recv(&mut self) -> Option<NotificationMessage> {
        self.receiver.recv().await
    }
}

impl Stream for NotificationStream {
    type Item = NotificationMessage;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<NotificationMessage>> {
        self.get_mut().receiver.poll_recv(cx)
    }
}

/// The task behind a stream: subscribes, forwards, resubscribes.
struct Listener {
    clients: Vec<redis::Client>,
    channels: Vec<String>,
    sender: mpsc::Sender<NotificationMessage>,
    limit: Duration,
}

impl Listener {
    /// Reports the first subscription on `ready` (and stops if it failed),
    /// then forwards notifications and resubscribes after each loss, until
    /// the stream is dropped.
    async fn run(self, ready: oneshot::Sender<Result<(), RedisError>>) {
        let mut ready = Some(ready);
        let mut outage = Outage::new("subscribing to notifications");
        let mut attempt = 0;
        loop {
            // Each attempt on the next node (on a cluster), so that a node
            // that is down is left for another.
            let client = &self.clients[attempt % self.clients.len()];
            attempt += 1;
            match bounded(self.limit, self.connect(client)).await {
                Ok((sink, messages)) => {
                    match ready.take() {
                        Some(ready) => {
                            let _ = ready.send(Ok(()));
                        }
                        None => {
                            outage.recovered();
                            tracing::info!(channels = ?self.channels, "notifications resubscribed");
                        }
                    }
                    if !self.forward(sink, messages).await {
                        return;
                    }
                    tracing::warn!(
                        channels = ?self.channels,
                        "notification subscription lost; resubscribing (what is sent meanwhile is missed)"
                    );
                }
                // The first subscription fails only once every node failed.
                Err(_) if ready.is_some() && attempt < self.clients.len() => {}
                Err(error) => {
                    if let Some(ready) = ready.take() {
                        let _ = ready.send(Err(error));
                        return;
                    }
                    tokio::select! {
                        () = tokio::time::sleep(outage.failed(&error)) => {}
                        () = self.sender.closed() => return,
                    }
                }
            }
        }
    }

    async fn connect(&self, client: &redis::Client) -> Result<(PubSubSink, PubSubStream), RedisError> {
        let (mut sink, messages) = client.get_async_pubsub().await?.split();
        sink.subscribe(&self.channels).await?;
        Ok((sink, messages))
    }

    /// Forwards notifications until the connection is lost (`true`) or the
    /// stream is dropped (`false`).
    async fn forward(&self, mut sink: PubSubSink, mut messages: PubSubStream) -> bool {
        let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
        let mut dropped = 0_u64;
        loop {
            tokio::select! {
                message = messages.next() => match message {
                    Some(message) => {
                        if !self.pass(&message, &mut dropped) {
                            return false;
                        }
                    }
                    None => return true,
                },
                _ = ping.tick() => {
                    if let Err(error) = bounded(self.limit, sink.ping::<redis::Value>()).await {
                        tracing::debug!(%error, "notification connection does not answer PING");
                        return true;
                    }
                }
                () = self.sender.closed() => return false,
            }
        }
    }

    /// Hands one message to the stream; `false` when the stream is gone.
    fn pass(&self, message: &redis::Msg, dropped: &mut u64) -> bool {
        let notification: NotificationMessage = match serde_json::from_slice(message.get_payload_bytes()) {
            Ok(notification) => notification,
            Err(error) => {
                let channel = message.get_channel_name();
                tracing::warn!(channel, %error, "unreadable notification: dropped");
                return true;
            }
        };
        match self.sender.try_send(notification) {
            Ok(()) => {
                if *dropped > 0 {
                    tracing::info!(dropped = *dropped, "notification reader caught up");
                    *dropped = 0;
                }
                true
            }
            Err(TrySendError::Full(_)) => {
                if *dropped == 0 {
                    tracing::warn!(
                        buffer = BUFFER,
                        "notification reader is not keeping up: dropping notifications until it does"
                    );
                }
                *dropped += 1;
                true
            }
            Err(TrySendError::Closed(_)) => false,
        }
    }
}

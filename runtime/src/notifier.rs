//! The [`Notifier`]: sends real-time notifications with `PUBLISH` on their
//! target's channel.
//!
//! Fire and forget: a notification reaches the subscribers listening at
//! that moment and no one else; it is neither stored nor retried (see
//! [`notify`](crate::notify)).

use std::time::Duration;

use chrono::{SubsecRound, Utc};
use uuid::Uuid;

use crate::config::Config;
use crate::connection::{self, Connection};
use crate::error::Error;
use crate::keys::Keys;
use crate::notify::{Notification, NotificationMessage, NotificationTarget, Notify};
use crate::publish::PublishError;

/// Sends notifications to a user, a role or everyone. Cheap to clone:
/// clones share one self-healing connection.
#[derive(Clone)]
pub struct Notifier {
    connection: Connection,
    keys: Keys,
    timeout: Duration,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("namespace", &self.keys.namespace())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Notifier {
    /// A notifier for `config`'s Redis and namespace. Connects on first
    /// use; a send fails after the publish timeout while Redis is down.
    pub fn new(config: &Config) -> Result<Notifier, Error> {
        Ok(Notifier {
            connection: connection::open(config, config.publish_timeout())?,
            keys: config.keys(),
            timeout: config.publish_timeout(),
        })
    }

    /// Publishes `notification` to `target`'s channel with a new id and the
    /// current time; returns how many subscriptions received it (0: nobody
    /// was listening, and nobody ever will receive this one). On a Redis
    /// Cluster the count is of the subscriptions on the node that took the
    /// `PUBLISH` only (the cluster forwards it to the others, uncounted).
    pub async fn send(&self, target: &NotificationTarget, notification: &Notification) -> Result<usize, PublishError> {
        let channel = target.channel(&self.keys);
        let message = NotificationMessage {
            id: Uuid::now_v7(),
            time: Utc::now().trunc_subsecs(3),
            target: target.clone(),
            notification: notification.clone(),
        };
        let payload = serde_json::to_string(&message).map_err(|source| PublishError::Encode {
            event_type: "notification",
            source,
        })?;
        let mut connection = self.connection.clone();
        let mut publish = redis::cmd("PUBLISH");
        publish.arg(&channel).arg(payload);
        let receivers = tokio::time::timeout(self.timeout, publish.query_async::<usize>(&mut connection))
            .await
            .map_err(|_| PublishError::Timeout {
                stream: channel.clone(),
                after: self.timeout,
            })?
            .map_err(|error| PublishError::Redis {
                stream: channel.clone(),
                reason: error.to_string(),
            })?;
        tracing::debug!(%channel, id = %message.id, kind = %notification.kind, receivers, "notification sent");
        Ok(receivers)
    }
}

impl Notify for Notifier {
    async fn notify(&self, target: &NotificationTarget, notification: &Notification) -> Result<(), PublishError> {
        self.send(target, notification).await.map(drop)
    }
}

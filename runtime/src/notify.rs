//! Real-time notifications (fire and forget, over Pub/Sub): who receives
//! one, what it carries, and the [`Notify`] trait that sends it.
//!
//! # Fire and forget
//! A notification is published once on a Redis Pub/Sub channel and reaches
//! whoever is subscribed at that moment, nothing more: it is not stored,
//! not retried, not acknowledged. A user with no open subscription (not
//! signed in, or reconnecting after a network or Redis failure) misses it
//! for good. Use notifications for what a user should see *now* (a toast,
//! a badge); anything that must not be lost is an event.
//!
//! Channels: `<ns>:notify:user:<user id>`, `<ns>:notify:role:<role>` and
//! `<ns>:notify:all`; the payload is a [`NotificationMessage`] as JSON.
//! Send with a [`Notifier`](crate::Notifier), receive with a
//! [`Subscriber`](crate::Subscriber).

use std::future::Future;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::keys::Keys;
use crate::publish::PublishError;

/// Who receives a notification.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum NotificationTarget {
    /// One user, by id.
    User(String),
    /// Every user holding a role.
    Role(String),
    /// Everyone connected.
    All,
}

impl NotificationTarget {
    /// The Pub/Sub channel of this target: `<ns>:notify:user:<id>`,
    /// `<ns>:notify:role:<role>` or `<ns>:notify:all`.
    pub fn channel(&self, keys: &Keys) -> String {
        match self {
            NotificationTarget::User(id) => keys.notify(&format!("user:{id}")),
            NotificationTarget::Role(role) => keys.notify(&format!("role:{role}")),
            NotificationTarget::All => keys.notify("all"),
        }
    }
}

/// What a notification carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// The notification type from the catalog, e.g. `success`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short title.
    pub title: String,
    /// The message shown to the user.
    pub message: String,
    /// Optional structured data for the client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
}

/// A notification as it travels on its channel, as JSON: the
/// [`Notification`]'s fields, its id, when it was sent and to whom.
///
/// ```json
/// {"id":"0190…","time":"2025-01-01T12:00:00.000Z","target":{"kind":"role","id":"admin"},
///  "type":"warning","title":"Backup","message":"The backup is late.","data":{"hours":3}}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotificationMessage {
    /// A UUIDv7 of this notification.
    pub id: Uuid,
    /// When it was sent (UTC).
    pub time: DateTime<Utc>,
    /// Who it was sent to: tells a subscriber whether it was personal, for
    /// one of its roles, or for everyone.
    pub target: NotificationTarget,
    /// What it carries.
    #[serde(flatten)]
    pub notification: Notification,
}

impl NotificationMessage {
    /// The notification type read as the catalog's type (e.g. the generated
    /// `NotificationType`), or the error of its `FromStr`.
    pub fn kind<K: std::str::FromStr>(&self) -> Result<K, K::Err> {
        self.notification.kind.parse()
    }
}

/// Sends notifications; generated `notify_user`/`notify_role`/`notify_all` call it.
pub trait Notify: Send + Sync {
    /// Sends `notification` to `target`. Who is not listening misses it.
    fn notify(
        &self,
        target: &NotificationTarget,
        notification: &Notification,
    ) -> impl Future<Output = Result<(), PublishError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_have_their_channels() {
        let keys = Keys::new("prod");
        assert_eq!(
            NotificationTarget::User("42".into()).channel(&keys),
            "prod:notify:user:42"
        );
        assert_eq!(
            NotificationTarget::Role("admin".into()).channel(&keys),
            "prod:notify:role:admin"
        );
        assert_eq!(NotificationTarget::All.channel(&keys), "prod:notify:all");
    }

    #[test]
    fn messages_are_flat_json_and_round_trip() {
        let message = NotificationMessage {
            id: Uuid::now_v7(),
            time: Utc::now(),
            target: NotificationTarget::Role("admin".into()),
            notification: Notification {
                kind: "warning".into(),
                title: "Backup".into(),
                message: "The backup is late.".into(),
                data: Some(serde_json::json!({ "hours": 3 })),
            },
        };
        let json: serde_json::Value = serde_json::to_value(&message).expect("encodes");
        assert_eq!(json["type"], "warning");
        assert_eq!(json["target"], serde_json::json!({ "kind": "role", "id": "admin" }));
        assert_eq!(json["data"]["hours"], 3);
        let back: NotificationMessage = serde_json::from_value(json).expect("decodes");
        assert_eq!(back, message);
        assert_eq!(back.kind::<String>(), Ok("warning".to_owned()));
        let all = serde_json::to_value(NotificationTarget::All).expect("encodes");
        assert_eq!(all, serde_json::json!({ "kind": "all" }));
    }
}

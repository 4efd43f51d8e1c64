//! Real-time notifications (fire and forget, over Pub/Sub): who receives
//! one, what it carries, and the [`Notify`] trait that sends it.

use std::future::Future;

use serde::{Deserialize, Serialize};

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

/// Sends notifications; generated `notify_user`/`notify_role`/`notify_all` call it.
pub trait Notify: Send + Sync {
    /// Sends `notification` to `target`. Who is not listening misses it.
    fn notify(
        &self,
        target: &NotificationTarget,
        notification: &Notification,
    ) -> impl Future<Output = Result<(), PublishError>> + Send;
}

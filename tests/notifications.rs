//! Notifications through the generated API: `SendNotifications` on a
//! `Notifier`, received typed by a user's subscription, through a real
//! redis-server.

use std::time::Duration;

use xerpium_events::messaging::testing::RedisServer;
use xerpium_events::messaging::{NotificationTarget, Notifier, Subscriber};
use xerpium_events::{NotificationType, SendNotifications};

const PATIENCE: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_notification_arrives_typed() {
    let server = RedisServer::start().expect("redis-server starts");
    let config = server.config("ui").build().expect("valid config");
    let mut inbox = Subscriber::new(&config)
        .expect("subscriber")
        .subscribe_user("42", ["admin"])
        .await
        .expect("subscribed");
    let notifier = Notifier::new(&config).expect("notifier");
    let data = serde_json::json!({ "hours": 3 });
    notifier
        .notify_role(
            "admin",
            NotificationType::Warning,
            "Backup",
            "The backup is late.",
            Some(data.clone()),
        )
        .await
        .expect("sent");

    let note = tokio::time::timeout(PATIENCE, inbox.recv())
        .await
        .expect("in time")
        .expect("a notification");
    assert_eq!(note.kind::<NotificationType>(), Ok(NotificationType::Warning));
    assert_eq!(note.target, NotificationTarget::Role("admin".into()));
    assert_eq!(note.notification.title, "Backup");
    assert_eq!(note.notification.message, "The backup is late.");
    assert_eq!(note.notification.data, Some(data));
}

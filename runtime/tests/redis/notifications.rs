//! Notifications over Pub/Sub: to a user, a role, everyone; what a
//! subscriber receives and what it does not; resubscribing after Redis
//! restarts.

use std::time::Duration;

use futures_util::StreamExt;
use xerpium_messaging::{
    Error, Notification, NotificationMessage, NotificationStream, NotificationTarget, Notifier, Notify, Subscriber,
};

use super::support::*;

// On a single server and on a cluster, the same code.
on_both!(
    a_notification_to_a_user_reaches_that_user_only,
    a_notification_to_everyone_reaches_everyone,
);

fn notification(title: &str) -> Notification {
    Notification {
        kind: "info".into(),
        title: title.into(),
        message: format!("about {title}"),
        data: Some(serde_json::json!({ "title": title })),
    }
}

/// The next notification of `stream`, failing the test after [`PATIENCE`].
async fn next(stream: &mut NotificationStream) -> NotificationMessage {
    tokio::time::timeout(PATIENCE, stream.recv())
        .await
        .expect("a notification in time")
        .expect("the stream goes on")
}

/// Checks the receivers `Notifier::send` reported when `receivers`
/// subscriptions got a notification: all of them on a single server; on a
/// cluster only those on the node that took the `PUBLISH` (the master of the
/// channel's slot), so at most that many.
fn assert_reported(f: &Fixture, reported: usize, receivers: usize) {
    if f.server.is_cluster() {
        assert!(reported <= receivers, "{reported} reported, {receivers} subscribed");
    } else {
        assert_eq!(reported, receivers);
    }
}

/// A notifier, and the subscriptions of Ada (admin) and Bob (viewer).
async fn setup(f: &Fixture) -> (Notifier, NotificationStream, NotificationStream) {
    let notifier = Notifier::new(&f.config).expect("notifier");
    let subscriber = Subscriber::new(&f.config).expect("subscriber");
    let ada = subscriber.subscribe_user("ada", ["admin"]).await.expect("subscribed");
    let bob = subscriber.subscribe_user("bob", ["viewer"]).await.expect("subscribed");
    (notifier, ada, bob)
}

/// Sends a marker to everyone, then returns the one notification `reader`
/// received besides it, checking that `bystander` received the marker only.
/// The two may arrive in either order: on a cluster, each is forwarded from
/// the master of its channel's slot, and channels keep no order between them.
async fn only_reached(
    notifier: &Notifier,
    reader: &mut NotificationStream,
    bystander: &mut NotificationStream,
) -> NotificationMessage {
    marker(notifier).await;
    let mut two = [next(reader).await, next(reader).await];
    two.sort_by_key(|message| message.notification.title == "marker");
    assert_eq!(two[1].notification.title, "marker");
    assert_ne!(two[0].notification.title, "marker");
    let first = next(bystander).await;
    assert_eq!(first.notification.title, "marker");
    let more = tokio::time::timeout(Duration::from_millis(300), bystander.recv()).await;
    assert!(more.is_err(), "the bystander got more than the marker: {more:?}");
    let [got, _] = two;
    got
}

/// Sends a marker to everyone: when it is the next thing a subscriber
/// receives, that subscriber received nothing before it.
async fn marker(notifier: &Notifier) {
    notifier
        .send(&NotificationTarget::All, &notification("marker"))
        .await
        .expect("sent");
}

async fn a_notification_to_a_user_reaches_that_user_only(f: Fixture) {
    let (notifier, mut ada, mut bob) = setup(&f).await;
    assert_eq!(
        ada.channels(),
        [
            format!("{}:notify:all", f.config.namespace()),
            format!("{}:notify:role:admin", f.config.namespace()),
            format!("{}:notify:user:ada", f.config.namespace()),
        ]
    );
    let target = NotificationTarget::User("ada".into());
    let receivers = notifier.send(&target, &notification("yours")).await.expect("sent");
    assert_reported(&f, receivers, 1);
    let got = only_reached(&notifier, &mut ada, &mut bob).await;
    assert_eq!(got.target, target);
    assert_eq!(got.notification, notification("yours"));
    assert_eq!(got.notification.kind, "info");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_to_a_role_reaches_its_holders_only() {
    let f = fixture().await;
    let (notifier, mut ada, mut bob) = setup(&f).await;
    // Through the `Notify` trait, as generated `notify_role` does.
    let target = NotificationTarget::Role("admin".into());
    notifier.notify(&target, &notification("admins")).await.expect("sent");
    let got = only_reached(&notifier, &mut ada, &mut bob).await;
    assert_eq!((got.target, got.notification.title.as_str()), (target, "admins"));
}

async fn a_notification_to_everyone_reaches_everyone(f: Fixture) {
    let (notifier, mut ada, mut bob) = setup(&f).await;
    let sent = notifier
        .send(&NotificationTarget::All, &notification("all"))
        .await
        .expect("sent");
    assert_reported(&f, sent, 2);
    // As a `futures` stream.
    let to_bob = tokio::time::timeout(PATIENCE, bob.next())
        .await
        .expect("in time")
        .expect("goes on");
    let to_ada = next(&mut ada).await;
    assert_eq!(to_ada, to_bob, "one notification, same id");
    assert_eq!(to_ada.target, NotificationTarget::All);
    assert_eq!(to_ada.notification.data, Some(serde_json::json!({ "title": "all" })));
    assert!(chrono::Utc::now() - to_ada.time < chrono::TimeDelta::minutes(1));
    // Nobody listening: nobody ever receives it.
    let nobody = NotificationTarget::User("carol".into());
    assert_eq!(notifier.send(&nobody, &notification("lost")).await.expect("sent"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_notification_is_skipped() {
    let f = fixture().await;
    let (notifier, mut ada, _bob) = setup(&f).await;
    let channel = NotificationTarget::User("ada".into()).channel(&f.config.keys());
    let _: usize = redis::cmd("PUBLISH")
        .arg(&channel)
        .arg("{not json")
        .query_async(&mut f.redis.clone())
        .await
        .expect("PUBLISH");
    marker(&notifier).await;
    assert_eq!(next(&mut ada).await.notification.title, "marker");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_resubscribes_after_redis_restarts() {
    let mut f = fixture().await;
    let (notifier, mut ada, _bob) = setup(&f).await;
    let target = NotificationTarget::User("ada".into());
    notifier.send(&target, &notification("before")).await.expect("sent");
    assert_eq!(next(&mut ada).await.notification.title, "before");

    tokio::task::block_in_place(|| f.server.server_mut().restart()).expect("restarts");
    // Whatever is sent before the subscription is back is lost: send until
    // it reaches someone.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Ok(1) = notifier.send(&target, &notification("after")).await {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never resubscribed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(next(&mut ada).await.notification.title, "after");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribing_without_redis_fails_clearly() {
    let mut f = fixture().await;
    tokio::task::block_in_place(|| f.server.server_mut().stop()).expect("stops");
    let error = Subscriber::new(&f.config)
        .expect("subscriber")
        .subscribe_user("ada", ["admin"])
        .await
        .expect_err("no Redis");
    assert!(matches!(error, Error::Unreachable { .. }), "{error:?}");
    let text = error.to_string();
    assert!(
        text.starts_with(&format!(
            "cannot reach Redis at `{}` to subscribe to notifications: ",
            f.server.server().url()
        )),
        "{text}"
    );
}

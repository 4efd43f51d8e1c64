//! Events published through the generated API reach the generated handler
//! traits through a real redis-server, typed end to end.

use std::time::Duration;

use chrono::{SubsecRound, Utc};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;
use xerpium_events::messaging::testing::RedisServer;
use xerpium_events::messaging::{Consumer, Event, Publisher, StartPosition};
use xerpium_events::{
    ClientInfo, EventDispatch, EventHandler, HandlerResult, Message, PublishContext, PublishEvents, UserCreated,
    UserDispatch, UserHandler, UserLoginFailed, UserRole,
};

const PATIENCE: Duration = Duration::from_secs(20);

fn user_created() -> UserCreated {
    UserCreated {
        user_id: Uuid::now_v7(),
        company_id: Uuid::now_v7(),
        email: "ada@example.com".into(),
        display_name: "Ada".into(),
        roles: vec![UserRole::Admin, UserRole::Viewer],
        locale: "en".into(),
        invited_by: None,
        created_at: Utc::now().trunc_subsecs(6),
    }
}

/// Forwards what it handles, with the envelope it came in.
struct Forward(mpsc::UnboundedSender<(String, Message)>);

impl UserHandler for Forward {
    async fn created(&self, event: UserCreated, message: &Message) -> HandlerResult {
        let _ = self.0.send((serde_json::to_string(&event)?, message.clone()));
        Ok(())
    }
}

impl EventHandler for Forward {
    async fn user_login_failed(&self, event: UserLoginFailed, message: &Message) -> HandlerResult {
        let _ = self.0.send((event.email, message.clone()));
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typed_event_arrives_typed_with_its_envelope() {
    let server = RedisServer::start().expect("redis-server starts");
    let config = server
        .config("user-auth")
        .start(StartPosition::Beginning)
        .build()
        .expect("valid config");
    let publisher = Publisher::connect(&config).await.expect("publisher");
    let event = user_created();
    let context = PublishContext::new().with_correlation_id("req-42");
    let entry_id = publisher.user_created(&event, &context).await.expect("published");

    let (sender, mut received) = mpsc::unbounded_channel();
    let (stop, stopped) = oneshot::channel::<()>();
    let consumer = Consumer::builder(&config).group("welcome").build().expect("consumer");
    let running = tokio::spawn(consumer.run(UserDispatch(Forward(sender)), async {
        let _ = stopped.await;
    }));

    let (json, message) = tokio::time::timeout(PATIENCE, received.recv())
        .await
        .expect("in time")
        .expect("handled");
    let decoded: UserCreated = serde_json::from_str(&json).expect("valid JSON");
    assert_eq!(decoded, event);
    assert_eq!(message.entry_id, entry_id);
    assert_eq!(message.envelope.event_type, "user.created");
    assert_eq!(message.envelope.version, 1);
    assert_eq!(message.envelope.subject, event.user_id.to_string());
    assert_eq!(message.envelope.correlation_id, "req-42");
    assert_eq!(message.envelope.source, "user-auth");
    // `user` is partitioned: the entry is on the stream of its subject's partition.
    let stream = config
        .keys()
        .event_stream(UserCreated::CATEGORY, &UserCreated::STREAM, &message.envelope.subject);
    assert_eq!(message.stream, stream);
    assert!(
        stream.starts_with(&format!("test{}:events:user:", server.port())),
        "{stream}"
    );

    let _ = stop.send(());
    running.await.expect("consumer task").expect("consumer ends cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_all_events_handler_reads_every_category() {
    let server = RedisServer::start().expect("redis-server starts");
    let config = server
        .config("audit-logger")
        .start(StartPosition::Beginning)
        .build()
        .expect("valid config");
    let publisher = Publisher::connect(&config).await.expect("publisher");
    let failed = UserLoginFailed {
        email: "eve@example.com".into(),
        user_id: None,
        failed_attempts: 3,
        client: ClientInfo {
            ip_address: "192.0.2.1".into(),
            user_agent: None,
        },
        attempted_at: Utc::now(),
    };
    publisher
        .user_login_failed(&failed, &PublishContext::new())
        .await
        .expect("published");

    let (sender, mut received) = mpsc::unbounded_channel();
    let (stop, stopped) = oneshot::channel::<()>();
    let consumer = Consumer::builder(&config).group("audit").build().expect("consumer");
    let running = tokio::spawn(consumer.run(EventDispatch(Forward(sender)), async {
        let _ = stopped.await;
    }));
    let (email, message) = tokio::time::timeout(PATIENCE, received.recv())
        .await
        .expect("in time")
        .expect("handled");
    assert_eq!(email, "eve@example.com");
    assert_eq!(message.envelope.subject, "eve@example.com");
    assert_eq!(
        message.envelope.correlation_id,
        message.envelope.id.to_string(),
        "with no correlation id, a message starts a chain of its own"
    );
    let _ = stop.send(());
    running.await.expect("consumer task").expect("consumer ends cleanly");
}

//! What the runtime tells operators: a loud warning when Redis may evict
//! keys, and one warning per Redis outage (not one per retry).

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing::subscriber::DefaultGuard;
use xerpium_messaging::testing::RedisServer;
use xerpium_messaging::{Publish, PublishContext, Publisher, StartPosition};

use super::support::{Ping, Recorder, config, eventually, fixture, spawn};

/// Log lines written while a [`capture`] guard is alive, on this thread.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("not poisoned")).into_owned()
    }
}

impl io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().expect("not poisoned").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Captures INFO and louder logs of this thread (tests here run on a
/// current-thread runtime, so the runtime's tasks log on it too).
fn capture() -> (Captured, DefaultGuard) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    (captured, tracing::subscriber::set_default(subscriber))
}

#[tokio::test]
async fn a_redis_that_may_evict_keys_is_reported_loudly() {
    let (logs, _guard) = capture();
    let evicting = RedisServer::start_with(&["--maxmemory-policy", "allkeys-lru"]).expect("redis-server starts");
    Publisher::connect(&config(&evicting)).await.expect("publisher");
    let text = logs.text();
    assert!(text.contains("WARN"), "{text}");
    assert!(text.contains("maxmemory-policy is `allkeys-lru`"), "{text}");

    let (logs, _guard) = capture();
    let safe = RedisServer::start().expect("redis-server starts");
    Publisher::connect(&config(&safe)).await.expect("publisher");
    assert!(
        !logs.text().contains("maxmemory-policy"),
        "noeviction is not reported: {}",
        logs.text()
    );
}

#[tokio::test]
async fn a_redis_outage_is_logged_once_not_per_retry() {
    let (logs, _guard) = capture();
    let mut f = fixture().await;
    let recorder = Recorder::ok();
    let log = recorder.log.clone();
    let consumer = spawn(&f.config, recorder, |b| b.start(StartPosition::Beginning));
    f.publisher
        .publish(&Ping::new("a", 1), &PublishContext::new())
        .await
        .expect("published");
    eventually("the first event is handled", || async { log.done().len() == 1 }).await;

    f.server.server_mut().stop().expect("redis stops");
    // Long enough for many retries of the reading loop (the first delays are 50 ms, doubling).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    f.server.server_mut().start_again().expect("redis starts again");
    eventually("the consumer is back", || async {
        let _ = f.publisher.publish(&Ping::new("a", 2), &PublishContext::new()).await;
        log.done().iter().any(|call| call.n == 2)
    })
    .await;
    consumer.stop().await;

    let text = logs.text();
    let outages = text.matches("Redis is unavailable while").count();
    let recoveries = text.matches("Redis is back").count();
    assert!(outages >= 1, "the outage is reported:\n{text}");
    assert_eq!(
        outages, recoveries,
        "each outage reported once, and its end once:\n{text}"
    );
    assert!(
        outages <= 3,
        "one report per task that saw the outage, not per retry:\n{text}"
    );
}

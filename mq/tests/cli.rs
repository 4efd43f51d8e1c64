//! `xerpium-mq` against a seeded, real `redis-server` (one per test): the
//! binary is run as an operator would, its output compared with snapshots
//! in which volatile values (entry ids, recent times, ages, sizes, the
//! namespace) are masked. Update the snapshots with `UPDATE_EXPECT=1`.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use expect_test::{Expect, expect};
use uuid::Uuid;
use xerpium_events::{
    Event, EventType, HandlerError, HandlerResult, Message, PublishContext, SecurityDispatch, SecurityHandler,
    SecurityTokenRevoked, UserDeleted, UserDispatch, UserHandler,
};
use xerpium_messaging::connection::Connection;
use xerpium_messaging::consumer::dead_letter::field as dead_letter;
use xerpium_messaging::testing::TestRedis;
use xerpium_messaging::{Config, Consumer, Heartbeat, Keys, Publisher, StartPosition};

const PATIENCE: Duration = Duration::from_secs(30);

/// A server (or a cluster), the namespace of its tests and a publisher for
/// service `seed`.
struct Seed {
    server: TestRedis,
    namespace: String,
    publisher: Publisher,
    redis: Connection,
}

/// Runs each scenario named (an `async fn(Seed)`) as two tests, in a module
/// of its name: on a single server and on a cluster.
macro_rules! on_both {
    ($($scenario:ident),* $(,)?) => {
        $(
            mod $scenario {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn standalone() {
                    super::$scenario(super::Seed::new().await).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn cluster() {
                    let cluster = xerpium_messaging::testing::TestRedis::start_cluster().expect("the cluster starts");
                    super::$scenario(super::Seed::on(cluster).await).await;
                }
            }
        )*
    };
}

on_both!(
    streams_groups_and_health,
    dead_letters_go_back_to_their_partition,
    tail_merges_partitions_beyond_one_read,
);

impl Seed {
    async fn new() -> Seed {
        Seed::on(TestRedis::start_standalone().expect("redis-server starts")).await
    }

    async fn on(server: TestRedis) -> Seed {
        let config = Self::config_of(&server, "seed");
        let publisher = Publisher::connect(&config).await.expect("publisher");
        let redis = Connection::open(&config).expect("a connection");
        Seed {
            namespace: config.namespace().to_owned(),
            server,
            publisher,
            redis,
        }
    }

    fn config_of(server: &TestRedis, service: &str) -> Config {
        server.config(service).build().expect("config")
    }

    fn config(&self, service: &str) -> Config {
        Self::config_of(&self.server, service)
    }

    fn key(&self, rest: &str) -> String {
        format!("{}:{rest}", self.namespace)
    }

    /// The stream the runtime publishes `event` to (its partition's, in a
    /// partitioned category).
    fn stream_of<E: Event>(&self, event: &E) -> String {
        Keys::new(&self.namespace).event_stream(E::CATEGORY, &E::STREAM, &event.subject())
    }

    /// Publishes `event` with a fixed message id, time and correlation id
    /// (number `n`), so that its output is the same at every run.
    async fn publish<E: Event>(&self, event: &E, n: u128) -> String {
        let context = PublishContext::new().with_correlation_id(format!("corr-{n}"));
        let mut envelope = self.publisher.envelope(event, &context).expect("envelope");
        envelope.id = Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 + n);
        envelope.time = at(n as i64);
        self.publisher
            .publish_envelope(E::CATEGORY, &envelope, &E::STREAM)
            .await
            .expect("published")
    }

    /// Adds an entry of `event_type`, subject `u-9`, whose payload does not
    /// match its schema, where the runtime would publish it.
    async fn add_undecodable(&self, event_type: EventType) {
        let id = uuid(9).to_string();
        let fields = [
            ("specversion", "1.0"),
            ("id", id.as_str()),
            ("type", event_type.as_str()),
            ("version", "1"),
            ("source", "legacy"),
            ("time", "2024-01-02T03:04:05Z"),
            ("subject", "u-9"),
            ("correlationid", "corr-9"),
            ("data", r#"{"user_id":"not a uuid"}"#),
        ];
        let stream =
            Keys::new(&self.namespace).event_stream(event_type.category().as_str(), &event_type.layout(), "u-9");
        let mut add = vec!["XADD".to_owned(), stream, "*".to_owned()];
        add.extend(
            fields
                .iter()
                .flat_map(|(name, value)| [(*name).to_owned(), (*value).to_owned()]),
        );
        let _: String = self.cmd(&add.iter().map(String::as_str).collect::<Vec<_>>()).await;
    }

    /// Runs a Redis command.
    async fn cmd<T: redis::FromRedisValue>(&self, args: &[&str]) -> T {
        let mut command = redis::cmd(args[0]);
        for arg in &args[1..] {
            command.arg(*arg);
        }
        command
            .query_async(&mut self.redis.clone())
            .await
            .expect("redis command")
    }

    /// How many `XREAD`s the server has answered.
    async fn xread_calls(&self) -> u64 {
        let info: String = self.cmd(&["INFO", "commandstats"]).await;
        info.lines()
            .find_map(|line| line.strip_prefix("cmdstat_xread:calls="))
            .and_then(|rest| rest.split(',').next())
            .and_then(|calls| calls.parse().ok())
            .unwrap_or(0)
    }

    /// Starts `tail <category> --count 1` (new events only), waits until
    /// `reading` says it reads, publishes `event` (number `n`) and returns
    /// what the tail printed.
    async fn tail_next<E: Event, Fut: Future<Output = bool>>(
        &self,
        category: &str,
        reading: impl FnMut() -> Fut,
        event: &E,
        n: u128,
    ) -> Run {
        let mut waiting = self.command(&["tail", category, "--count", "1"]).spawn().expect("runs");
        drop(waiting.stdin.take());
        eventually("tail reads", reading).await;
        self.publish(event, n).await;
        tokio::task::spawn_blocking(move || Run::from(wait(waiting)))
            .await
            .expect("ran")
    }

    /// Runs `xerpium-mq` with `args`, `stdin` on its standard input.
    async fn mq(&self, args: &[&str], stdin: &str) -> Run {
        let mut command = self.command(args);
        let stdin = stdin.to_owned();
        tokio::task::spawn_blocking(move || {
            let mut child = command.spawn().expect("xerpium-mq runs");
            if let Some(mut input) = child.stdin.take() {
                input.write_all(stdin.as_bytes()).expect("stdin");
            }
            Run::from(wait(child))
        })
        .await
        .expect("ran")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = common::xerpium_mq(&self.config("mq"));
        command
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    /// Checks a run's exit code and its masked standard output.
    fn check(&self, run: &Run, code: i32, expected: Expect) {
        assert_eq!(run.code, code, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
        expected.assert_eq(&mask(&run.stdout, &self.namespace));
    }
}

/// What a run printed and how it ended.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl From<std::process::Output> for Run {
    fn from(output: std::process::Output) -> Self {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// Waits for `child`, killing it after [`PATIENCE`].
fn wait(mut child: std::process::Child) -> std::process::Output {
    let deadline = Instant::now() + PATIENCE;
    while child.try_wait().expect("waits").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("xerpium-mq did not finish: {:?}", child.wait_with_output());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().expect("output")
}

/// A fixed time: 2024-01-02T03:04:05Z plus `n` seconds.
fn at(n: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_704_164_645 + n, 0).unwrap_or_default()
}

fn uuid(n: u128) -> Uuid {
    Uuid::from_u128(0x0190_0000_0000_7000_9000_0000_0000_0000 + n)
}

fn user_deleted(n: u128, reason: Option<&str>) -> UserDeleted {
    UserDeleted {
        user_id: uuid(n),
        company_id: uuid(201),
        deleted_by: uuid(100),
        reason: reason.map(str::to_owned),
        erase_personal_data: true,
        deleted_at: at(n as i64),
    }
}

fn token_revoked(n: u128, reason: &str) -> SecurityTokenRevoked {
    SecurityTokenRevoked {
        user_id: uuid(n),
        token_id: uuid(300 + n),
        reason: reason.to_owned(),
        revoked_by: None,
        revoked_at: at(n as i64),
    }
}

/// `text` with what changes from run to run masked: the namespace, entry
/// ids, times of the last day, ages and durations, sizes. Column gaps (two
/// spaces or more) become two spaces, since widths depend on masked values.
fn mask(text: &str, namespace: &str) -> String {
    let text = text.replace(namespace, "<ns>");
    let mut masked = String::new();
    for line in text.lines() {
        let indent = line.len() - line.trim_start().len();
        let cells: Vec<String> = line[indent..]
            .split("  ")
            .map(str::trim)
            .filter(|cell| !cell.is_empty())
            .map(mask_cell)
            .collect();
        masked.push_str(&line[..indent]);
        masked.push_str(&cells.join("  "));
        masked.push('\n');
    }
    masked
}

/// One table cell (or line), masked word by word.
fn mask_cell(cell: &str) -> String {
    let mut tokens: Vec<String> = Vec::new();
    for token in cell.split(' ') {
        let start = token.find(|c: char| !"(\"[".contains(c)).unwrap_or(token.len());
        let end = token
            .char_indices()
            .rev()
            .find(|(_, c)| !")\"],;:".contains(*c))
            .map_or(start, |(i, c)| i + c.len_utf8())
            .max(start);
        let (prefix, core, suffix) = (&token[..start], &token[start..end], &token[end..]);
        let core = mask_value(core);
        match tokens.last_mut() {
            // "1m 5s" is one duration.
            Some(last) if core == "<age>" && prefix.is_empty() && last.ends_with("<age>") => last.push_str(suffix),
            _ => tokens.push(format!("{prefix}{core}{suffix}")),
        }
    }
    tokens.join(" ")
}

fn mask_value(value: &str) -> String {
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    if let Some((ms, seq)) = value.split_once('-')
        && digits(ms)
        && digits(seq)
        && ms.len() >= 12
    {
        return "<id>".into();
    }
    if let Ok(time) = DateTime::parse_from_rfc3339(value)
        && (Utc::now() - time.with_timezone(&Utc)).num_hours().abs() < 24
    {
        return "<time>".into();
    }
    let number_end = value
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(value.len());
    if number_end > 0 {
        let unit = &value[number_end..];
        if ["ns", "us", "ms", "s", "m", "h", "day", "days"].contains(&unit) {
            return "<age>".into();
        }
        if ["B", "KiB", "MiB", "GiB"].contains(&unit) {
            return "<size>".into();
        }
    }
    value.to_owned()
}

#[test]
fn the_mask_hides_what_changes() {
    let masked = mask(
        "x:events:user  1704164645000-0 (1m 5s ago)  1.5KiB  2m\n  \"12s\", 250ms old",
        "x",
    );
    assert_eq!(
        masked,
        "<ns>:events:user  <id> (<age> ago)  <size>  <age>\n  \"<age>\", <age> old\n"
    );
    assert_eq!(mask_value(&Utc::now().to_rfc3339()), "<time>");
    assert_eq!(mask_value("2024-01-02T03:04:05Z"), "2024-01-02T03:04:05Z");
}

/// Seeds two categories and two groups: `audit` on the partition stream of
/// one user, of the partitioned `user` (read 2 of its 3 entries, acked 1),
/// `mailer` on `security`, one stream (read 1 of 2, then the last entry
/// deleted: its lag cannot be known).
async fn seed_groups(seed: &Seed) {
    let deleted = |n: u128| UserDeleted {
        deleted_at: at(n as i64),
        ..user_deleted(1, None)
    };
    let (user, security) = (seed.stream_of(&deleted(1)), seed.stream_of(&token_revoked(1, "logout")));
    for n in 1..=3 {
        seed.publish(&deleted(n), n).await;
    }
    let mut security_ids = Vec::new();
    for n in 1..=2 {
        security_ids.push(seed.publish(&token_revoked(n, "logout"), 10 + n).await);
    }
    let _: () = seed.cmd(&["XGROUP", "CREATE", &user, "audit", "0"]).await;
    let _: () = seed.cmd(&["XGROUP", "CREATE", &security, "mailer", "0"]).await;
    let read: redis::Value = seed
        .cmd(&[
            "XREADGROUP",
            "GROUP",
            "audit",
            "audit-1",
            "COUNT",
            "2",
            "STREAMS",
            &user,
            ">",
        ])
        .await;
    let first = first_entry_id(read);
    let _: u64 = seed.cmd(&["XACK", &user, "audit", &first]).await;
    let _: redis::Value = seed
        .cmd(&[
            "XREADGROUP",
            "GROUP",
            "mailer",
            "mailer-1",
            "COUNT",
            "1",
            "STREAMS",
            &security,
            ">",
        ])
        .await;
    let _: u64 = seed.cmd(&["XDEL", &security, &security_ids[1]]).await;
}

fn first_entry_id(read: redis::Value) -> String {
    let reply: redis::streams::StreamReadReply = redis::from_redis_value(read).expect("XREADGROUP reply");
    reply.keys[0].ids[0].id.clone()
}

async fn streams_groups_and_health(seed: Seed) {
    seed.check(
        &seed.mq(&["streams"], "").await,
        0,
        expect![[r#"
            No streams under `<ns>:`.
        "#]],
    );
    seed_groups(&seed).await;

    seed.check(
        &seed.mq(&["streams"], "").await,
        0,
        expect![[r#"
            STREAM  LENGTH  GROUPS  MEMORY  FIRST ENTRY  LAST ENTRY
            <ns>:events:security  1  1  <size>  <id> (<age> ago)  <id> (<age> ago)
            <ns>:events:user:0  3  1  <size>  <id> (<age> ago)  <id> (<age> ago)
        "#]],
    );
    seed.check(
        &seed.mq(&["groups"], "").await,
        0,
        expect![[r#"
            STREAM  GROUP  LAG  PENDING  READ  LAST DELIVERED  OLDEST PENDING
            <ns>:events:security  mailer  unknown  1  1  <id>  <age> old, mailer-1, 1 delivery
            <ns>:events:user:0  audit  1  1  2  <id>  <age> old, audit-1, 1 delivery

            STREAM  GROUP  CONSUMER  PENDING  IDLE
            <ns>:events:security  mailer  mailer-1  1  <age>
            <ns>:events:user:0  audit  audit-1  1  <age>
        "#]],
    );
    let json = seed.mq(&["groups", "--json"], "").await;
    let groups: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(groups[0]["group"], "mailer");
    assert_eq!(
        groups[0]["lag"],
        serde_json::Value::Null,
        "an unknown lag is null, never 0"
    );
    assert_eq!(
        (groups[1]["lag"].as_u64(), groups[1]["pending"].as_u64()),
        (Some(1), Some(1))
    );

    let beat = |service: &str, instance: &str, version: &str, ttl: u64| {
        Heartbeat::builder(&seed.config(service))
            .instance(instance)
            .version(version)
            .interval(Duration::from_millis(100))
            .ttl(Duration::from_millis(ttl))
            .start()
            .expect("heartbeat")
    };
    let audit = beat("audit", "audit-1", "1.4.0", 5_000);
    let mailer = beat("mailer", "mailer-1", "1.0.0", 5_000);
    let billing = beat("billing", "billing-1", "0.9.0", 300);
    let billing_key = seed.key("health:billing:billing-1");
    eventually("every instance beat", || async {
        seed.cmd::<u64>(&["EXISTS", &billing_key]).await == 1 && audit.latest().is_some() && mailer.latest().is_some()
    })
    .await;
    mailer.stop().await;
    drop(billing);
    eventually("billing's report expired", || async {
        seed.cmd::<u64>(&["EXISTS", &billing_key]).await == 0
    })
    .await;

    seed.check(
        &seed.mq(&["health"], "").await,
        3,
        expect![[r#"
            Service instances
            SERVICE  INSTANCE  VERSION  STATE  STATUS  UPTIME  LAST BEAT
            audit  audit-1  1.4.0  up  healthy  <age>  <age> ago
            billing  billing-1  0.9.0  stale  healthy  <age>  <age> ago
            mailer  mailer-1  1.0.0  stopped  stopped  <age>  <age> ago

            Consumer groups
            STREAM  GROUP  LAG  PENDING  OLDEST PENDING
            <ns>:events:security  mailer  unknown  1  <age> old, mailer-1, 1 delivery
            <ns>:events:user:0  audit  1  1  <age> old, audit-1, 1 delivery

            Dead letters
              none

            Problems
              - billing/billing-1 is stale: no heartbeat for <age> (it beats every <age>)
        "#]],
    );
    let json = seed.mq(&["health", "--json"], "").await;
    assert_eq!(json.code, 3);
    let health: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    let states: Vec<_> = health["instances"]
        .as_array()
        .expect("instances")
        .iter()
        .map(|i| (i["state"].as_str(), i["report"]["service"].as_str()))
        .collect();
    assert_eq!(
        states,
        [
            (Some("up"), Some("audit")),
            (Some("stale"), Some("billing")),
            (Some("stopped"), Some("mailer"))
        ]
    );
    assert_eq!(health["dead_letters"], serde_json::json!([]));
    audit.stop().await;
}

/// Fails `user.deleted` and `security.token_revoked` events whose reason is
/// `bad`, permanently.
struct Picky;

impl Picky {
    fn handle(reason: Option<&str>) -> HandlerResult {
        match reason {
            Some("bad") => Err(HandlerError::permanent("mailbox gone")),
            _ => Ok(()),
        }
    }
}

impl UserHandler for Picky {
    async fn deleted(&self, event: UserDeleted, _message: &Message) -> HandlerResult {
        Picky::handle(event.reason.as_deref())
    }
}

impl SecurityHandler for Picky {
    async fn token_revoked(&self, event: SecurityTokenRevoked, _message: &Message) -> HandlerResult {
        Picky::handle(Some(event.reason.as_str()))
    }
}

/// Runs group `audit` with `dispatch` until `dead` entries are dead-lettered.
async fn dead_letter(seed: &Seed, dispatch: impl xerpium_messaging::Dispatch, dead: u64) {
    let dlq = seed.key("dlq:audit");
    let consumer = Consumer::builder(&seed.config("audit"))
        .consumer("audit-1")
        .start(StartPosition::Beginning)
        .build()
        .expect("consumer");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(consumer.run(dispatch, async move {
        let _ = stopped.await;
    }));
    eventually("the entries are dead-lettered", || async {
        seed.cmd::<u64>(&["XLEN", &dlq]).await == dead
    })
    .await;
    let _ = stop.send(());
    running.await.expect("consumer task").expect("consumer ends cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_listed_shown_replayed_and_purged() {
    let seed = Seed::new().await;
    // `security` has one stream, so the dead letters come in publishing order.
    let (security, dlq) = (seed.key("events:security"), seed.key("dlq:audit"));
    seed.publish(&token_revoked(1, "bad"), 1).await;
    seed.publish(&token_revoked(2, "logout"), 2).await;
    seed.publish(&token_revoked(3, "bad"), 3).await;
    seed.add_undecodable(EventType::SecurityTokenRevoked).await;
    dead_letter(&seed, SecurityDispatch(Picky), 3).await;

    seed.check(
        &seed.mq(&["dlq", "list"], "").await,
        0,
        expect![[r#"
            GROUP  COUNT  STREAM
            audit  3  <ns>:dlq:audit
        "#]],
    );
    seed.check(
        &seed.mq(&["dlq", "list", "audit"], "").await,
        0,
        expect![[r#"
            ID  TYPE  REASON  ATTEMPTS  FROM  ERROR
            <id>  security.token_revoked  permanent  1  <ns>:events:security <id>  permanent: mailbox gone
            <id>  security.token_revoked  permanent  1  <ns>:events:security <id>  permanent: mailbox gone
            <id>  security.token_revoked  undecodable  1  <ns>:events:security <id>  undecodable: payload of `security.token_revoked` v1 does no…
        "#]],
    );
    seed.check(
        &seed.mq(&["dlq", "list", "audit", "--limit", "1"], "").await,
        0,
        expect![[r#"
            ID  TYPE  REASON  ATTEMPTS  FROM  ERROR
            <id>  security.token_revoked  permanent  1  <ns>:events:security <id>  permanent: mailbox gone
            (1 of 3 shown; --limit to see more)
        "#]],
    );
    let listed = seed.mq(&["dlq", "list", "audit", "--json"], "").await;
    let letters: serde_json::Value = serde_json::from_str(&listed.stdout).expect("JSON");
    let ids: Vec<String> = letters
        .as_array()
        .expect("a list")
        .iter()
        .map(|l| l["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(letters[0]["reason"], "permanent");
    assert_eq!(letters[0]["attempts"], 1);

    seed.check(
        &seed.mq(&["dlq", "show", "audit", &ids[0]], "").await,
        0,
        expect![[r#"
            Dead letter <id> in <ns>:dlq:audit
              dlqstream  <ns>:events:security
              dlqentryid  <id>
              dlqgroup  audit
              dlqconsumer  audit-1
              dlqattempts  1
              dlqreason  permanent
              dlqerror  permanent: mailbox gone
              dlqtime  <time>

            Message
            <id>  security.token_revoked v1  subject 01900000-0000-7000-9000-000000000001
              id 01900000-0000-7000-8000-000000000001  time 2024-01-02T03:04:06.000000Z  source seed
              correlation corr-1
              {
                "reason": "bad",
                "revoked_at": "2024-01-02T03:04:06Z",
                "token_id": "01900000-0000-7000-9000-00000000012d",
                "user_id": "01900000-0000-7000-9000-000000000001"
              }
        "#]],
    );
    seed.check(
        &seed.mq(&["dlq", "show", "audit", &ids[2]], "").await,
        0,
        expect![[r#"
            Dead letter <id> in <ns>:dlq:audit
              dlqstream  <ns>:events:security
              dlqentryid  <id>
              dlqgroup  audit
              dlqconsumer  audit-1
              dlqattempts  1
              dlqreason  undecodable
              dlqerror  undecodable: payload of `security.token_revoked` v1 does not match its schema: UUID parsing failed: invalid character: found `n` at 0 at line 1 column 23
              dlqtime  <time>

            Message
            <id>  security.token_revoked v1  subject u-9
              id 01900000-0000-7000-9000-000000000009  time 2024-01-02T03:04:05.000000Z  source legacy
              correlation corr-9
              cannot decode: payload of `security.token_revoked` v1 does not match its schema: UUID parsing failed: invalid character: found `n` at 0 at line 1 column 23
              {
                "user_id": "not a uuid"
              }
        "#]],
    );
    let missing = seed.mq(&["dlq", "show", "audit", "1-1"], "").await;
    assert_eq!(missing.code, 1);
    expect![[r#"
        xerpium-mq: no dead letter `1-1` in <ns>:dlq:audit
    "#]]
    .assert_eq(&mask(&missing.stderr, &seed.namespace));

    seed.check(
        &seed.mq(&["dlq", "replay", "audit", &ids[0]], "").await,
        0,
        expect![[r#"
            replayed <id> to <ns>:events:security as <id>
            1 dead letter(s) replayed, removed from <ns>:dlq:audit.
        "#]],
    );
    let last: redis::Value = seed.cmd(&["XREVRANGE", &security, "+", "-", "COUNT", "1"]).await;
    let reply: redis::streams::StreamRangeReply = redis::from_redis_value(last).expect("XREVRANGE");
    let replayed = &reply.ids[0];
    let field = |name: &str| replayed.get::<String>(name).unwrap_or_default();
    assert_eq!(
        field("id"),
        Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001).to_string()
    );
    assert_eq!(field("replayfrom"), dlq);
    assert_eq!(field("replayid"), ids[0]);
    assert_eq!(field("replayreason"), "permanent");
    let fields: Vec<(String, String)> = replayed
        .map
        .iter()
        .map(|(name, value)| (name.clone(), redis::from_redis_value(value.clone()).expect("text")))
        .collect();
    if let Err(why) = xerpium_messaging::testing::read_as_cloudevent(&fields) {
        panic!("the replayed entry is no CloudEvent: {why}");
    }
    assert!(
        replayed.get::<String>(dead_letter::REASON).is_none(),
        "dead-letter fields are not replayed"
    );
    assert_eq!(seed.cmd::<u64>(&["XLEN", &dlq]).await, 2);

    let not_asked = seed.mq(&["dlq", "purge", "audit"], "").await;
    assert_eq!(not_asked.code, 1);
    expect![[r#"
        Delete all 2 dead letter(s) of group `audit` (<ns>:dlq:audit)? [y/N]
        xerpium-mq: no answer on standard input; nothing deleted (pass --yes to purge without asking)
    "#]]
    .assert_eq(&mask(&not_asked.stderr, &seed.namespace));
    seed.check(
        &seed.mq(&["dlq", "purge", "audit"], "n\n").await,
        0,
        expect![[r#"
            Nothing deleted.
        "#]],
    );
    assert_eq!(seed.cmd::<u64>(&["XLEN", &dlq]).await, 2);
    seed.check(
        &seed.mq(&["dlq", "purge", "audit", &ids[1]], "y\n").await,
        0,
        expect![[r#"
            Deleted 1 dead letter(s) from <ns>:dlq:audit.
        "#]],
    );
    seed.check(
        &seed.mq(&["dlq", "purge", "audit", "--yes"], "").await,
        0,
        expect![[r#"
            Deleted 1 dead letter(s) from <ns>:dlq:audit.
        "#]],
    );
    assert_eq!(seed.cmd::<u64>(&["XLEN", &dlq]).await, 0);
    seed.check(
        &seed.mq(&["dlq", "list", "audit"], "").await,
        0,
        expect![[r#"
            No dead letters in <ns>:dlq:audit.
        "#]],
    );
}

/// A dead letter of a partitioned category goes back to the partition stream
/// it was read from; one from a stream the category no longer has (written
/// before `user` was partitioned) goes where its subject goes now.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_of_one_reason_are_replayed_or_purged_together() {
    let seed = Seed::new().await;
    let (security, dlq) = (seed.key("events:security"), seed.key("dlq:audit"));
    seed.publish(&token_revoked(1, "bad"), 1).await;
    seed.publish(&token_revoked(2, "bad"), 2).await;
    seed.add_undecodable(EventType::SecurityTokenRevoked).await;
    dead_letter(&seed, SecurityDispatch(Picky), 3).await;
    let before: u64 = seed.cmd(&["XLEN", &security]).await;
    seed.check(
        &seed
            .mq(&["dlq", "purge", "audit", "--reason", "undecodable", "--yes"], "")
            .await,
        0,
        expect![[r#"
            Deleted 1 dead letter(s) from <ns>:dlq:audit.
        "#]],
    );
    seed.check(
        &seed.mq(&["dlq", "replay", "audit", "--reason", "permanent"], "").await,
        0,
        expect![[r#"
            replayed <id> to <ns>:events:security as <id>
            replayed <id> to <ns>:events:security as <id>
            2 dead letter(s) replayed, removed from <ns>:dlq:audit.
        "#]],
    );
    assert_eq!(seed.cmd::<u64>(&["XLEN", &security]).await, before + 2);
    assert_eq!(seed.cmd::<u64>(&["XLEN", &dlq]).await, 0);
    let both = seed
        .mq(&["dlq", "replay", "audit", "--all", "--reason", "permanent"], "")
        .await;
    assert_eq!(both.code, 2, "--all and --reason conflict: {}", both.stderr);
}

async fn dead_letters_go_back_to_their_partition(seed: Seed) {
    let (single, dlq) = (seed.key("events:user"), seed.key("dlq:audit"));
    let event = user_deleted(3, Some("bad"));
    let partition = seed.stream_of(&event);
    seed.publish(&event, 3).await;
    dead_letter(&seed, UserDispatch(Picky), 1).await;
    let letters: redis::streams::StreamRangeReply =
        redis::from_redis_value(seed.cmd::<redis::Value>(&["XRANGE", &dlq, "-", "+"]).await).expect("XRANGE");
    let letter = &letters.ids[0];
    assert_eq!(letter.get::<String>(dead_letter::STREAM), Some(partition.clone()));
    // A dead letter from before the partitions changed, and from before its
    // fields were renamed (`dlq.stream`, …): both are read.
    let mut stale = vec!["XADD".to_owned(), dlq.clone(), "*".to_owned()];
    for (name, value) in &letter.map {
        let value: String = redis::from_redis_value(value.clone()).expect("text");
        let value = if name == dead_letter::STREAM {
            single.clone()
        } else {
            value
        };
        let name = dead_letter::legacy(name).unwrap_or(name);
        stale.extend([name.to_owned(), value]);
    }
    let _: String = seed.cmd(&stale.iter().map(String::as_str).collect::<Vec<_>>()).await;

    seed.check(
        &seed.mq(&["dlq", "replay", "audit", "--all"], "").await,
        0,
        expect![[r#"
            replayed <id> to <ns>:events:user:6 as <id>
            replayed <id> to <ns>:events:user:6 as <id> (it came from <ns>:events:user, which its category no longer has: its partitions changed)
            2 dead letter(s) replayed, removed from <ns>:dlq:audit.
        "#]],
    );
    assert_eq!(seed.cmd::<u64>(&["XLEN", &partition]).await, 3);
    assert_eq!(seed.cmd::<u64>(&["EXISTS", &single]).await, 0);
}

/// Waits a little, so that the next entry's id is later by time than the
/// last one's even in another stream (ids only order by time across streams).
async fn next_millisecond() {
    tokio::time::sleep(Duration::from_millis(3)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_prints_events_decoded_by_type() {
    let seed = Seed::new().await;
    // `user` is partitioned: the first and the third entry go to one
    // partition, the second to a lower one, and they show in entry-id
    // (arrival) order, not by partition nor by their `time`.
    let first = user_deleted(3, Some("left the company"));
    let (high, low) = (seed.stream_of(&first), seed.key("events:user:2"));
    assert!(high > low, "{high} sorts after {low}");
    seed.publish(&first, 3).await;
    next_millisecond().await;
    seed.add_undecodable(EventType::UserDeleted).await;
    next_millisecond().await;
    let _: String = seed.cmd(&["XADD", &high, "*", "hello", "world"]).await;
    assert_eq!(seed.cmd::<u64>(&["XLEN", &low]).await, 1, "`u-9` is in partition 2");

    seed.check(
        &seed.mq(&["tail", "user", "--from", "0", "--count", "3"], "").await,
        0,
        expect![[r#"
            <ns>:events:user:6 <id>  user.deleted v1  subject 01900000-0000-7000-9000-000000000003
              id 01900000-0000-7000-8000-000000000003  time 2024-01-02T03:04:08.000000Z  source seed
              correlation corr-3
              {
                "company_id": "01900000-0000-7000-9000-0000000000c9",
                "deleted_at": "2024-01-02T03:04:08Z",
                "deleted_by": "01900000-0000-7000-9000-000000000064",
                "erase_personal_data": true,
                "reason": "left the company",
                "user_id": "01900000-0000-7000-9000-000000000003"
              }

            <ns>:events:user:2 <id>  user.deleted v1  subject u-9
              id 01900000-0000-7000-9000-000000000009  time 2024-01-02T03:04:05.000000Z  source legacy
              correlation corr-9
              cannot decode: payload of `user.deleted` v1 does not match its schema: UUID parsing failed: invalid character: found `n` at 0 at line 1 column 23
              {
                "user_id": "not a uuid"
              }

            <ns>:events:user:6 <id>  not a message: stream entry has no `specversion` field
              hello = world

        "#]],
    );
    let json = seed
        .mq(&["tail", "user", "--from", "0", "--count", "2", "--json"], "")
        .await;
    assert_eq!(json.code, 0, "{}", json.stderr);
    let lines: Vec<serde_json::Value> = json
        .stdout
        .lines()
        .map(|line| {
            let mut event: serde_json::Value = serde_json::from_str(line).expect("one JSON object per line");
            event["entry_id"] = "<id>".into();
            event
        })
        .collect();
    expect![[r#"
        [
          {
            "causation_id": null,
            "correlation_id": "corr-3",
            "data": {
              "company_id": "01900000-0000-7000-9000-0000000000c9",
              "deleted_at": "2024-01-02T03:04:08Z",
              "deleted_by": "01900000-0000-7000-9000-000000000064",
              "erase_personal_data": true,
              "reason": "left the company",
              "user_id": "01900000-0000-7000-9000-000000000003"
            },
            "entry_id": "<id>",
            "error": null,
            "id": "01900000-0000-7000-8000-000000000003",
            "source": "seed",
            "stream": "<ns>:events:user:6",
            "subject": "01900000-0000-7000-9000-000000000003",
            "time": "2024-01-02T03:04:08Z",
            "traceparent": null,
            "type": "user.deleted",
            "version": 1
          },
          {
            "causation_id": null,
            "correlation_id": "corr-9",
            "data": {
              "user_id": "not a uuid"
            },
            "entry_id": "<id>",
            "error": "payload of `user.deleted` v1 does not match its schema: UUID parsing failed: invalid character: found `n` at 0 at line 1 column 23",
            "id": "01900000-0000-7000-9000-000000000009",
            "source": "legacy",
            "stream": "<ns>:events:user:2",
            "subject": "u-9",
            "time": "2024-01-02T03:04:05Z",
            "traceparent": null,
            "type": "user.deleted",
            "version": 1
          }
        ]"#]].assert_eq(&serde_json::to_string_pretty(&lines).expect("JSON").replace(&seed.namespace, "<ns>"));

    // Without --from: only events published after it started, in any partition.
    let reads = seed.xread_calls().await;
    let polling = || async { seed.xread_calls().await > reads };
    let run = seed.tail_next("user", polling, &user_deleted(4, None), 4).await;
    seed.check(
        &run,
        0,
        expect![[r#"
        <ns>:events:user:7 <id>  user.deleted v1  subject 01900000-0000-7000-9000-000000000004
          id 01900000-0000-7000-8000-000000000004  time 2024-01-02T03:04:09.000000Z  source seed
          correlation corr-4
          {
            "company_id": "01900000-0000-7000-9000-0000000000c9",
            "deleted_at": "2024-01-02T03:04:09Z",
            "deleted_by": "01900000-0000-7000-9000-000000000064",
            "erase_personal_data": true,
            "user_id": "01900000-0000-7000-9000-000000000004"
          }

    "#]],
    );
}

/// More entries than one read brings (100) in one partition, and one in
/// another partition amid them: the first partition is read again before the
/// other's entry shows, so it shows in its place.
async fn tail_merges_partitions_beyond_one_read(seed: Seed) {
    let (busy, quiet) = (seed.key("events:menu:0"), seed.key("events:menu:3"));
    for n in 0..150 {
        if n == 120 {
            next_millisecond().await;
            let _: String = seed.cmd(&["XADD", &quiet, "*", "n", "quiet"]).await;
            next_millisecond().await;
        }
        let _: String = seed.cmd(&["XADD", &busy, "*", "n", &n.to_string()]).await;
    }
    let run = seed
        .mq(&["tail", "menu", "--from", "0", "--count", "151", "--json"], "")
        .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let shown: Vec<String> = run
        .stdout
        .lines()
        .map(|line| {
            let event: serde_json::Value = serde_json::from_str(line).expect("one JSON object per line");
            let stream = event["stream"]
                .as_str()
                .expect("stream")
                .replace(&seed.namespace, "<ns>");
            format!("{stream} {}", event["fields"]["n"].as_str().expect("n"))
        })
        .collect();
    let mut expected: Vec<String> = (0..150).map(|n| format!("<ns>:events:menu:0 {n}")).collect();
    expected.insert(120, "<ns>:events:menu:3 quiet".to_owned());
    assert_eq!(shown, expected);
}

/// A category of one stream is followed with a blocking read, its entries
/// headed by their id alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_blocks_on_a_category_of_one_stream() {
    let seed = Seed::new().await;
    seed.publish(&token_revoked(1, "logout"), 1).await;
    let blocked = || async {
        let info: String = seed.cmd(&["INFO", "clients"]).await;
        info.contains("blocked_clients:1")
    };
    let run = seed
        .tail_next("security", blocked, &token_revoked(2, "admin_action"), 2)
        .await;
    seed.check(
        &run,
        0,
        expect![[r#"
        <id>  security.token_revoked v1  subject 01900000-0000-7000-9000-000000000002
          id 01900000-0000-7000-8000-000000000002  time 2024-01-02T03:04:07.000000Z  source seed
          correlation corr-2
          {
            "reason": "admin_action",
            "revoked_at": "2024-01-02T03:04:07Z",
            "token_id": "01900000-0000-7000-9000-00000000012e",
            "user_id": "01900000-0000-7000-9000-000000000002"
          }

    "#]],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_clear() {
    let mut seed = Seed::new().await;
    let url = seed.server.server().url();
    seed.server.server_mut().kill().expect("killed");
    let down = seed.mq(&["health"], "").await;
    assert_eq!(down.code, 1);
    assert!(down.stdout.is_empty());
    expect![[r#"
        xerpium-mq: cannot reach Redis at <url>: Connection refused (os error 111) (is it running? set XERPIUM_REDIS_URL or --redis-url, or XERPIUM_REDIS_CLUSTER_NODES for a cluster)
    "#]].assert_eq(&down.stderr.replace(&url, "<url>"));

    let mut command = seed.command(&["streams"]);
    command.env("XERPIUM_BLOCK", "forever");
    let bad = Run::from(wait(command.spawn().expect("runs")));
    assert_eq!(bad.code, 1);
    expect![[r#"
        xerpium-mq: XERPIUM_BLOCK="forever" is invalid: expected number at 0 (write a duration like `250ms`, `30s`, `5m`, `24h`)
    "#]].assert_eq(&bad.stderr);

    let usage = seed.mq(&["tail", "usr"], "").await;
    assert_eq!(usage.code, 2);
    assert!(
        usage
            .stderr
            .contains("unknown category `usr`; the catalog has: user, company"),
        "{}",
        usage.stderr
    );
}

async fn eventually<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !condition().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

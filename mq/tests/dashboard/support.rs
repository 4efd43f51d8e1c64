//! A fleet for the dashboard to look at, on a real Redis filled by the
//! runtime: three groups in three states, with instances that beat, and the
//! dashboard itself run as an operator would run it, with an HTTP client.
//!
//! - `audit` (categories `user` and `company`) is healthy. It handles
//!   everything, retries a `user.created` whose name says `flaky` once, and
//!   dead-letters (permanently) one whose e-mail is at `bounce.example`
//!   while [`Fleet::mend`] has not been called.
//! - `mailer` (category `security`) is stalled: its handler never returns,
//!   and its instance's heartbeat says so after a second.
//! - `reports` (category `company`) is lagging: it handles one event a
//!   second, with a backlog of [`BACKLOG`].

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use uuid::Uuid;
use xerpium_events::{
    CompanyCreated, CompanyDispatch, CompanyHandler, EventDispatch, EventHandler, HandlerError, HandlerResult, Message,
    PublishEvents, SecurityDispatch, SecurityHandler, SecurityTokenRevoked, UserCreated, UserRole,
};
use xerpium_messaging::testing::TestRedis;
use xerpium_messaging::{Config, Consumer, Dispatch, Heartbeat, Publisher, StartPosition};

/// How long a test waits for anything.
pub const PATIENCE: Duration = Duration::from_secs(60);
/// The operator token of a dashboard started with one.
pub const TOKEN: &str = "operator-token-0123456789";
/// The events waiting for `reports` at the start.
pub const BACKLOG: usize = 100;

/// What `audit` handled, and whether it is mended.
#[derive(Default)]
struct AuditState {
    handled: Mutex<HashSet<Uuid>>,
    mended: AtomicBool,
}

/// `audit`'s handler.
#[derive(Clone)]
struct Audit(Arc<AuditState>);

impl EventHandler for Audit {
    async fn user_created(&self, event: UserCreated, message: &Message) -> HandlerResult {
        if event.email.ends_with("@bounce.example") && !self.0.mended.load(Ordering::SeqCst) {
            return Err(HandlerError::permanent("the mailbox does not exist"));
        }
        if event.display_name.contains("flaky") && message.delivery_count == 1 {
            return Err(HandlerError::retry("the directory timed out"));
        }
        self.0.handled.lock().expect("lock").insert(event.user_id);
        Ok(())
    }
}

/// `mailer`'s handler: it never returns.
struct Hung;

impl SecurityHandler for Hung {
    async fn token_revoked(&self, _event: SecurityTokenRevoked, _message: &Message) -> HandlerResult {
        std::future::pending().await
    }
}

/// `reports`' handler: one event a second.
struct Slow;

impl CompanyHandler for Slow {
    async fn created(&self, _event: CompanyCreated, _message: &Message) -> HandlerResult {
        tokio::time::sleep(Duration::from_secs(1)).await;
        Ok(())
    }
}

/// How one group's consumer runs.
struct Run {
    /// The group (and service); its consumer is `<group>-1`.
    group: &'static str,
    /// The categories it reads (none: its dispatcher's).
    categories: &'static [&'static str],
    /// One entry at a time.
    one_at_a_time: bool,
    /// When its heartbeat calls it stuck.
    stall_after: Duration,
}

impl Run {
    fn new(group: &'static str) -> Run {
        Run {
            group,
            categories: &[],
            one_at_a_time: false,
            stall_after: Duration::from_secs(30),
        }
    }
}

/// A running consumer with its heartbeat.
struct Instance {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    running: tokio::task::JoinHandle<()>,
    heartbeat: Option<Heartbeat>,
}

/// The Redis server (or cluster), the three groups, and a publisher.
pub struct Fleet {
    /// The server.
    pub server: TestRedis,
    /// The namespace.
    pub namespace: String,
    /// A publisher of service `seed`.
    pub publisher: Publisher,
    /// The user id of the sign-up dead-lettered at the start.
    pub bounced: Uuid,
    audit: Arc<AuditState>,
    instances: Vec<Instance>,
}

impl Fleet {
    /// The fleet on a single server.
    pub async fn start() -> Fleet {
        Fleet::on(TestRedis::start_standalone().expect("redis-server starts")).await
    }

    /// The fleet on `server`: the backlog of `reports` published, then the
    /// three groups started and, for `audit`, a bounced, a flaky and a
    /// plain sign-up handled (the bounced one dead-lettered).
    pub async fn on(server: TestRedis) -> Fleet {
        let config = server.config("seed").build().expect("config");
        let publisher = Publisher::connect(&config).await.expect("publisher");
        let mut fleet = Fleet {
            namespace: config.namespace().to_owned(),
            server,
            publisher,
            bounced: Uuid::nil(),
            audit: Arc::default(),
            instances: Vec::new(),
        };
        for n in 0..BACKLOG {
            fleet
                .publisher
                .company_created(&company(n), &Default::default())
                .await
                .expect("published");
        }
        let audit = Run {
            categories: &["user", "company"],
            ..Run::new("audit")
        };
        fleet.run(audit, EventDispatch(Audit(fleet.audit.clone())));
        let mailer = Run {
            stall_after: Duration::from_secs(1),
            ..Run::new("mailer")
        };
        fleet.run(mailer, SecurityDispatch(Hung));
        let reports = Run {
            one_at_a_time: true,
            ..Run::new("reports")
        };
        fleet.run(reports, CompanyDispatch(Slow));
        fleet.publish_user("plain").await;
        fleet.publish_user("flaky").await;
        fleet.bounced = fleet.publish_user("bounce").await;
        fleet
            .publisher
            .security_token_revoked(
                &SecurityTokenRevoked {
                    user_id: Uuid::now_v7(),
                    token_id: Uuid::now_v7(),
                    reason: "logout".into(),
                    revoked_by: None,
                    revoked_at: Utc::now(),
                },
                &Default::default(),
            )
            .await
            .expect("published");
        fleet
    }

    /// Starts `run`'s consumer with `dispatch`, from the streams'
    /// beginning, and its instance's heartbeat (every second).
    fn run(&mut self, run: Run, dispatch: impl Dispatch) {
        let config = self.config(run.group);
        let consumer = format!("{}-1", run.group);
        let mut builder = Consumer::builder(&config)
            .consumer(&consumer)
            .start(StartPosition::Beginning);
        if !run.categories.is_empty() {
            builder = builder.categories(run.categories.iter().copied());
        }
        if run.one_at_a_time {
            builder = builder.batch_size(1).concurrency(1).max_in_flight(1);
        }
        let built = builder.build().expect("consumer");
        let heartbeat = Heartbeat::builder(&config)
            .instance(consumer)
            .version("1.0.0")
            .interval(Duration::from_secs(1))
            .stall_after(run.stall_after)
            .watch(built.progress())
            .start()
            .expect("heartbeat");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(async move {
            built
                .run(dispatch, async move {
                    let _ = stopped.await;
                })
                .await
                .expect("the consumer runs");
        });
        self.instances.push(Instance {
            stop: Some(stop),
            running,
            heartbeat: Some(heartbeat),
        });
    }

    /// A configuration of service `service` on the fleet's server.
    pub fn config(&self, service: &str) -> Config {
        self.server.config(service).build().expect("config")
    }

    /// Publishes a `user.created` whose display name and e-mail say `kind`
    /// (`plain`, `flaky`, `bounce`: see the module docs); returns its user id.
    pub async fn publish_user(&self, kind: &str) -> Uuid {
        publish_sign_up(&self.publisher, kind).await
    }

    /// Adds a `user.created` whose payload does not match its schema, with
    /// personal data in the value that breaks it (`roles` is an e-mail
    /// address), where the runtime would publish it: `audit` dead-letters it
    /// as undecodable, quoting the value in the error. Returns its subject.
    pub async fn add_undecodable_sign_up(&self, email: &str) -> String {
        let config = self.config("seed");
        let subject = Uuid::now_v7().to_string();
        let layout = <UserCreated as xerpium_events::Event>::STREAM;
        let stream = config.keys().event_stream("user", &layout, &subject);
        let data = format!(
            r#"{{"user_id":"{subject}","company_id":"{subject}","email":"{email}","display_name":"x","roles":"{email}","created_at":"2026-01-01T00:00:00Z"}}"#
        );
        let id = Uuid::now_v7().to_string();
        let fields = [
            ("specversion", "1.0"),
            ("id", id.as_str()),
            ("type", "user.created"),
            ("version", "1"),
            ("source", "legacy"),
            ("time", "2026-01-01T00:00:00Z"),
            ("subject", subject.as_str()),
            ("correlationid", id.as_str()),
            ("data", data.as_str()),
        ];
        let mut add = redis::cmd("XADD");
        add.arg(&stream).arg("*");
        for (name, value) in fields {
            add.arg(name).arg(value);
        }
        let mut redis = xerpium_messaging::connection::Connection::open(&config).expect("a connection");
        let _: String = add.query_async(&mut redis).await.expect("added");
        subject
    }

    /// Whether `audit` handled the sign-up of `user_id`.
    pub fn handled(&self, user_id: Uuid) -> bool {
        self.audit.handled.lock().expect("lock").contains(&user_id)
    }

    /// From now on `audit` handles bounced sign-ups too.
    pub fn mend(&self) {
        self.audit.mended.store(true, Ordering::SeqCst);
    }

    /// Waits until `audit` has `count` dead letters, as `dashboard` shows them.
    pub async fn until_dead_letters(&self, dashboard: &Dashboard, count: usize) {
        let shown = format!("<p>{count} in ");
        eventually(&format!("audit has {count} dead letters"), || async {
            dashboard.get("/dead-letters/audit").await.body.contains(&shown)
        })
        .await;
    }

    /// Starts the dashboard on this fleet: with the operator token
    /// [`TOKEN`] when `token`, else read-only.
    pub fn dashboard(&self, token: bool) -> Dashboard {
        self.dashboard_with(if token { Some(TOKEN) } else { None }, &[])
    }

    /// Starts the dashboard with `token` in its environment and more
    /// arguments; panics unless it says where it listens.
    pub fn dashboard_with(&self, token: Option<&str>, args: &[&str]) -> Dashboard {
        let mut child = self
            .mq_command(token, args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("xerpium-mq runs");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("the first line");
        let base = line
            .split_whitespace()
            .find_map(|word| word.strip_prefix("http://"))
            .map(|rest| format!("http://{}", rest.trim_end_matches('/')))
            .unwrap_or_else(|| panic!("no address in {line:?}: {:?}", child.kill()));
        Dashboard {
            child,
            base,
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// `xerpium-mq dashboard` on this fleet, with `token` and `args`.
    pub fn mq_command(&self, token: Option<&str>, args: &[&str]) -> Command {
        let mut command = crate::common::xerpium_mq(&self.config("mq"));
        if let Some(token) = token {
            command.env("XERPIUM_DASHBOARD_TOKEN", token);
        }
        command
            .args([
                "dashboard",
                "--addr",
                "127.0.0.1:0",
                "--sample-every",
                "1s",
                "--stall-after",
                "30s",
                "--lag-threshold",
                "10",
            ])
            .args(args)
            .stdin(Stdio::null());
        command
    }

    /// Stops every consumer and heartbeat (the hung handler is abandoned).
    pub async fn stop(mut self) {
        for mut instance in self.instances.drain(..) {
            if let Some(heartbeat) = instance.heartbeat.take() {
                heartbeat.stop().await;
            }
            if let Some(stop) = instance.stop.take() {
                let _ = stop.send(());
            }
            instance.running.abort();
        }
    }
}

/// Publishes with `publisher` a `user.created` whose display name and
/// e-mail say `kind`; returns its user id.
pub async fn publish_sign_up(publisher: &Publisher, kind: &str) -> Uuid {
    let user_id = Uuid::now_v7();
    let domain = if kind == "bounce" {
        "bounce.example"
    } else {
        "example.com"
    };
    let event = UserCreated {
        user_id,
        company_id: Uuid::now_v7(),
        email: format!("{kind}.person@{domain}"),
        display_name: format!("A {kind} person"),
        roles: vec![UserRole::Employee],
        locale: "en".into(),
        invited_by: None,
        created_at: Utc::now(),
    };
    publisher
        .user_created(&event, &Default::default())
        .await
        .expect("published");
    user_id
}

/// Company number `n` of the backlog.
fn company(n: usize) -> CompanyCreated {
    CompanyCreated {
        company_id: Uuid::now_v7(),
        name: format!("Company {n}"),
        legal_name: format!("Company {n} Ltd"),
        vat_number: None,
        currency: "EUR".into(),
        address: None,
        created_by: Uuid::now_v7(),
        created_at: Utc::now(),
    }
}

/// A running dashboard and a client for it; killed when dropped.
pub struct Dashboard {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

/// An answer.
#[derive(Debug)]
pub struct Answer {
    /// Its status code.
    pub status: u16,
    /// Its headers.
    pub headers: hyper::HeaderMap,
    /// Its body, as text.
    pub body: String,
}

impl Answer {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|error| panic!("not JSON ({error}): {}", self.body))
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

impl Dashboard {
    /// `GET path` with `headers`.
    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        self.send("GET", path, headers, String::new()).await
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Answer {
        self.get_with(path, &[]).await
    }

    /// `POST path` with the form `fields` and `headers`.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)], headers: &[(&str, &str)]) -> Answer {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let mut headers = headers.to_vec();
        headers.push(("content-type", "application/x-www-form-urlencoded"));
        self.send("POST", path, &headers, body).await
    }

    async fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: String) -> Answer {
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Full::new(Bytes::from(body))).expect("a request");
        let response = tokio::time::timeout(PATIENCE, self.client.request(request))
            .await
            .expect("the dashboard answers in time")
            .expect("the dashboard answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.expect("a body").to_bytes();
        Answer {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    /// Logs in as `name`: the cookie header to send and the form key.
    pub async fn log_in(&self, name: &str) -> (String, String) {
        let answer = self.post("/login", &[("name", name), ("token", TOKEN)], &[]).await;
        assert_eq!(answer.status, 303, "{}", answer.body);
        let cookie = answer
            .header("set-cookie")
            .and_then(|cookie| cookie.split(';').next())
            .expect("a session cookie")
            .to_owned();
        let page = self.get_with("/", &[("cookie", &cookie)]).await;
        let key = page
            .body
            .split("name=\"form_key\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("a form key on the page")
            .to_owned();
        (cookie, key)
    }

    /// Stops the dashboard and returns what it wrote on standard error.
    pub fn stop(mut self) -> String {
        let _ = self.child.kill();
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
        }
        let _ = self.child.wait();
        stderr
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `condition` holds, for [`PATIENCE`] at most.
pub async fn eventually<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !condition().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

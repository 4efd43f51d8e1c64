//! End to end: real `redis-server`, real SQLite, the three services.
//!
//! - the scripted scenario leaves exactly the expected audit rows (personal
//!   data redacted) and the expected events in each stream;
//! - user-auth answers `user.get_profile` from its store: a registered
//!   user's profile, nothing for an unknown or a deleted user;
//! - Redis stopped in the middle of the work and started again: the
//!   services keep answering, and every event reaches the trail once, in
//!   order per subject;
//! - audit-logger killed in the middle of the work and started again: no
//!   event missing from the trail, none twice.

mod support;

use std::collections::{BTreeMap, HashSet};

use serde_json::{Value, json};
use support::{PATIENCE, Stack};
use uuid::Uuid;
use xerpium_demo::scenario::{self, Expected};
use xerpium_events::{CommandClient, UserGetProfileRequest, UserRole};

const REDACTED: &str = "[redacted]";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scenario_leaves_the_expected_trail_and_streams() {
    let stack = Stack::start().await;
    let services = stack.services();
    let caller = stack.caller().await;
    let report = scenario::run(&services, &caller, |line| eprintln!("{line}"))
        .await
        .expect("the scenario runs as scripted");
    let trail = scenario::wait_for_trail(&services.audit, &report, PATIENCE)
        .await
        .expect("the trail is complete");

    // One row per expected event, nothing else, in order per subject.
    assert_eq!(trail.len(), report.expected.len(), "{trail:#?}");
    assert_same_events(&trail, &report.expected);
    assert_order_per_subject(&trail, &report.expected);

    // The rows themselves, personal data redacted.
    let row = |event_type: &str, subject: &str| -> &Value {
        trail
            .iter()
            .find(|r| r["type"] == event_type && r["subject"] == subject)
            .unwrap_or_else(|| panic!("no {event_type} about {subject}"))
    };
    let (alice, bob) = (report.alice.to_string(), report.bob.to_string());
    let company_id = "00000000-0000-0000-0000-000000000001";
    assert_row(
        row("user.created", &alice),
        "user-auth",
        json!({
            "user_id": alice, "company_id": company_id, "email": REDACTED, "display_name": REDACTED,
            "roles": ["admin"], "locale": "en", "created_at": "*"
        }),
    );
    assert_row(
        row("user.created", &bob),
        "user-auth",
        json!({
            "user_id": bob, "company_id": company_id, "email": REDACTED, "display_name": REDACTED,
            "roles": ["employee"], "locale": "en", "created_at": "*"
        }),
    );
    let failures: Vec<&Value> = trail.iter().filter(|r| r["type"] == "user.login_failed").collect();
    for (attempt, failure) in failures.iter().enumerate() {
        assert_eq!(failure["subject"], REDACTED, "the subject is the e-mail");
        assert_row(
            failure,
            "user-auth",
            json!({
                "email": REDACTED, "user_id": bob, "failed_attempts": attempt + 1,
                "client": { "ip_address": REDACTED }, "attempted_at": "*"
            }),
        );
    }
    assert_row(
        row("user.account_locked", &bob),
        "user-auth",
        json!({
            "user_id": bob, "company_id": company_id, "reason": "too_many_failed_logins",
            "failed_attempts": 5, "locked_at": "*"
        }),
    );
    let violation = trail
        .iter()
        .find(|r| r["type"] == "security.violation_detected")
        .expect("a violation");
    assert_row(
        violation,
        "user-auth",
        json!({
            "violation_id": violation["subject"], "kind": "brute_force", "severity": "high",
            "company_id": company_id, "user_id": bob, "target": REDACTED,
            "client": { "ip_address": REDACTED }, "detected_by": "user-auth",
            "details": { "failed_attempts": 5 }, "detected_at": "*"
        }),
    );
    assert_row(
        row("user.account_unlocked", &bob),
        "user-auth",
        json!({
            "user_id": bob, "company_id": company_id, "unlocked_by": alice,
            "reason": "Bob called the help desk", "unlocked_at": "*"
        }),
    );
    let session = |user: &str| row("user.logged_in", user)["data"]["session_id"].clone();
    assert_row(
        row("user.logged_in", &bob),
        "user-auth",
        json!({
            "user_id": bob, "company_id": company_id, "session_id": session(&bob),
            "client": { "ip_address": REDACTED }, "mfa_used": false,
            "session_expires_at": "*", "logged_in_at": "*"
        }),
    );
    let company = report.company.to_string();
    assert_row(
        row("company.created", &company),
        "company-partner",
        json!({
            "company_id": company, "name": "Acme", "legal_name": "Acme Trading GmbH",
            "vat_number": "DE136695976", "currency": "EUR",
            "address": { "street": REDACTED, "postal_code": REDACTED, "city": REDACTED, "country": "DE" },
            "created_by": alice, "created_at": "*"
        }),
    );
    let partner = report.partner.to_string();
    assert_row(
        row("partner.created", &partner),
        "company-partner",
        json!({
            "partner_id": partner, "company_id": company, "kind": "customer", "name": REDACTED,
            "email": REDACTED, "vat_number": REDACTED,
            "credit_limit": { "amount": "5000.00", "currency": "EUR" },
            "payment_terms_days": 30, "created_by": alice, "created_at": "*"
        }),
    );
    assert_row(
        row("currency.rate_updated", "EUR/USD"),
        "company-partner",
        json!({
            "pair": "EUR/USD", "base": "EUR", "quote": "USD", "rate": "1.0845", "source": "ecb",
            "valid_on": "*", "recorded_by": alice, "recorded_at": "*"
        }),
    );

    // The streams hold exactly these events, each once.
    let mut per_stream: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for expected in &report.expected {
        let category = expected.event_type.split('.').next().unwrap_or_default();
        per_stream.entry(category).or_default().push(expected.event_type);
    }
    for (category, types) in &per_stream {
        let stream = stack.stream(category).await;
        let found: Vec<&str> = stream.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(&found, types, "stream {category}");
    }
    assert_eq!(
        per_stream.keys().copied().collect::<Vec<_>>(),
        ["company", "currency", "partner", "security", "user"]
    );

    // The commands answered from user-auth's and company-partner's data.
    let profile = report.alice_profile.as_ref().expect("user.get_profile finds Alice");
    assert_eq!(profile.user_id, report.alice);
    assert_eq!(profile.display_name, "Alice Admin");
    assert_eq!(profile.roles, [UserRole::Admin]);
    assert_eq!(report.company_name.as_deref(), Some("Acme"));
    assert!(report.vat.valid);
    assert_eq!(report.vat.normalized.as_deref(), Some("DE136695976"));
    assert_eq!(report.converted.converted.amount.to_string(), "108.45");

    // Each browser got its user's notifications, the welcome included.
    let titles = |notifications: Vec<Value>| -> Vec<String> {
        notifications
            .iter()
            .map(|n| n["title"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let alice_got = report.alice_notifications.wait_for(2, PATIENCE).await;
    assert_eq!(titles(alice_got), ["Welcome!", "Account locked"]);
    let bob_got = report.bob_notifications.wait_for(2, PATIENCE).await;
    assert_eq!(titles(bob_got), ["Welcome!", "Account unlocked"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_auth_serves_user_get_profile_from_its_store() {
    let stack = Stack::start().await;
    let services = stack.services();
    let caller = stack.caller().await;
    let mut work = Work::new(&services);
    let dave = work.register("dave").await;
    let token = work.login("dave").await;
    let profile = async |user_id| caller.user_get_profile(&UserGetProfileRequest { user_id }).await;

    let found = profile(dave).await.expect("user-auth answers").profile;
    let found = found.expect("a registered user is found");
    assert_eq!(found.user_id, dave);
    assert_eq!(found.email, "dave@example.com");
    assert_eq!(found.display_name, "dave");
    assert_eq!(found.roles, [UserRole::Admin], "the company's first user");
    assert!(!found.locked);
    assert!(found.last_login_at.is_some(), "dave signed in");

    let unknown = profile(Uuid::now_v7()).await.expect("user-auth answers");
    assert_eq!(unknown.profile, None, "an unknown user is not found");

    let delete = services
        .user_auth
        .call(hyper::Method::DELETE, format!("/users/{dave}"))
        .header("authorization", &token);
    work.send(delete, 204).await;
    let deleted = profile(dave).await.expect("user-auth answers");
    assert_eq!(deleted.profile, None, "a deleted user is not found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_written_while_redis_is_down_arrive_once_and_in_order() {
    let mut stack = Stack::start().await;
    let services = stack.services();
    let mut work = Work::new(&services);
    let admin = work.register("admin").await;
    let token = work.login("admin").await;

    tokio::task::block_in_place(|| stack.redis.stop()).expect("redis stops");

    // Redis is down: every request is still answered, events wait in the outboxes.
    let user = work.register("carol").await;
    for _ in 0..5 {
        work.wrong_password("carol").await;
    }
    work.unlock(&token, user).await;
    let company = work.company(admin).await;
    for name in ["Acme 2", "Acme 3", "Acme 4"] {
        work.rename(admin, company, name).await;
    }
    for rate in ["1.01", "1.02", "1.03"] {
        work.rate(admin, rate).await;
    }
    let pending = services.user_auth.get("/health").send().await.expect("health").body["outbox_pending"].clone();
    assert!(
        pending.as_u64().unwrap_or_default() > 0,
        "events wait while Redis is down: {pending}"
    );

    tokio::task::block_in_place(|| stack.redis.start_again()).expect("redis starts again");

    stack.outboxes_empty().await;
    let trail = stack.trail_of(work.expected.len()).await;
    assert_eq!(trail.len(), work.expected.len(), "every event once: {trail:#?}");
    assert_same_events(&trail, &work.expected);
    assert_order_per_subject(&trail, &work.expected);
    let rates: Vec<&Value> = trail
        .iter()
        .filter(|r| r["type"] == "currency.rate_updated")
        .map(|r| &r["data"]["previous_rate"])
        .collect();
    assert_eq!(rates, [&Value::Null, &json!("1.01"), &json!("1.02")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_audit_logger_resumes_without_gaps_or_duplicates() {
    let mut stack = Stack::start().await;
    let services = stack.services();
    let mut work = Work::new(&services);
    let admin = work.register("admin").await;
    let company = work.company(admin).await;

    let renames = 40;
    for n in 0..renames {
        if n == renames / 2 {
            stack.audit.take().expect("running").kill();
        }
        work.rename(admin, company, &format!("Acme {n}")).await;
    }
    stack.start_audit().await;

    stack.outboxes_empty().await;
    let trail = stack.trail_of(work.expected.len()).await;
    let ids: HashSet<&str> = trail.iter().filter_map(|r| r["event_id"].as_str()).collect();
    assert_eq!(ids.len(), trail.len(), "no event twice");
    assert_eq!(trail.len(), work.expected.len(), "no event missing");
    assert_same_events(&trail, &work.expected);
    assert_order_per_subject(&trail, &work.expected);
    let mut published: HashSet<String> = HashSet::new();
    for category in ["user", "company"] {
        published.extend(stack.stream(category).await.into_iter().map(|(id, _)| id));
    }
    assert_eq!(
        ids,
        published.iter().map(String::as_str).collect(),
        "every published event is in the trail"
    );
    let audit = stack.audit.take().expect("running");
    audit.stop().await.expect("the restarted audit logger stops cleanly");
}

/// Scripted writes that record the events they cause, for the tests that
/// do not need the whole scenario (no notifications, no commands: they
/// run while Redis is down).
struct Work<'s> {
    services: &'s xerpium_demo::scenario::Services,
    expected: Vec<Expected>,
    requests: usize,
}

impl<'s> Work<'s> {
    fn new(services: &'s xerpium_demo::scenario::Services) -> Self {
        Work {
            services,
            expected: Vec::new(),
            requests: 0,
        }
    }

    fn request_id(&mut self) -> String {
        self.requests += 1;
        format!("work-{:03}", self.requests)
    }

    fn expect(&mut self, event_type: &'static str, subject: Option<String>, request_id: &str) {
        self.expected.push(Expected {
            event_type,
            subject,
            correlation_id: request_id.to_owned(),
        });
    }

    async fn send(&mut self, call: xerpium_demo::http::Call<'_>, status: u16) -> (String, Value) {
        let id = self.request_id();
        let what = call.describe();
        let reply = call
            .header("x-request-id", &id)
            .send()
            .await
            .expect("the service answers");
        assert_eq!(reply.status.as_u16(), status, "{what}: {}", reply.body);
        assert_eq!(
            reply.request_id.as_deref(),
            Some(id.as_str()),
            "the request id comes back"
        );
        (id, reply.body)
    }

    async fn register(&mut self, name: &str) -> Uuid {
        let body = json!({ "email": format!("{name}@example.com"), "password": "long enough", "display_name": name });
        let call = self.services.user_auth.post("/users").json(body);
        let (id, body) = self.send(call, 201).await;
        let user = uuid(&body["user_id"]);
        self.expect("user.created", Some(user.to_string()), &id);
        user
    }

    async fn login(&mut self, name: &str) -> String {
        let body = json!({ "email": format!("{name}@example.com"), "password": "long enough" });
        let call = self.services.user_auth.post("/sessions").json(body);
        let (id, body) = self.send(call, 200).await;
        self.expect(
            "user.logged_in",
            Some(body["user_id"].as_str().unwrap_or_default().to_owned()),
            &id,
        );
        format!("Bearer {}", body["token"].as_str().unwrap_or_default())
    }

    async fn wrong_password(&mut self, name: &str) {
        let failures = self
            .expected
            .iter()
            .filter(|e| e.event_type == "user.login_failed")
            .count();
        let locks = failures + 1 == scenario::MAX_FAILED_LOGINS;
        let body = json!({ "email": format!("{name}@example.com"), "password": "wrong password" });
        let call = self.services.user_auth.post("/sessions").json(body);
        let (id, _) = self.send(call, if locks { 423 } else { 401 }).await;
        self.expect("user.login_failed", Some(REDACTED.to_owned()), &id);
        if locks {
            let user = self
                .expected
                .iter()
                .rev()
                .find(|e| e.event_type == "user.created")
                .and_then(|e| e.subject.clone());
            self.expect("user.account_locked", user, &id);
            self.expect("security.violation_detected", None, &id);
        }
    }

    async fn unlock(&mut self, token: &str, user: Uuid) {
        let call = self
            .services
            .user_auth
            .post(format!("/admin/users/{user}/unlock"))
            .header("authorization", token);
        let (id, _) = self.send(call, 200).await;
        self.expect("user.account_unlocked", Some(user.to_string()), &id);
    }

    async fn company(&mut self, admin: Uuid) -> Uuid {
        let body = json!({ "name": "Acme", "legal_name": "Acme GmbH", "currency": "EUR" });
        let call = self
            .services
            .company_partner
            .post("/companies")
            .header("x-user-id", &admin.to_string())
            .json(body);
        let (id, body) = self.send(call, 201).await;
        let company = uuid(&body["company_id"]);
        self.expect("company.created", Some(company.to_string()), &id);
        company
    }

    async fn rename(&mut self, admin: Uuid, company: Uuid, name: &str) {
        let call = self
            .services
            .company_partner
            .call(hyper::Method::PATCH, format!("/companies/{company}"))
            .header("x-user-id", &admin.to_string())
            .json(json!({ "name": name }));
        let (id, _) = self.send(call, 200).await;
        self.expect("company.updated", Some(company.to_string()), &id);
    }

    async fn rate(&mut self, admin: Uuid, rate: &str) {
        let body = json!({ "base": "EUR", "quote": "USD", "rate": rate });
        let call = self
            .services
            .company_partner
            .post("/currency-rates")
            .header("x-user-id", &admin.to_string())
            .json(body);
        let (id, _) = self.send(call, 201).await;
        self.expect("currency.rate_updated", Some("EUR/USD".to_owned()), &id);
    }
}

fn uuid(value: &Value) -> Uuid {
    Uuid::parse_str(value.as_str().unwrap_or_default()).expect("an id")
}

/// The trail holds exactly the expected events (type, subject, correlation id), in any order.
fn assert_same_events(trail: &[Value], expected: &[Expected]) {
    let key = |event_type: &str, subject: Option<&str>, correlation: &str| {
        format!("{event_type} {} {correlation}", subject.unwrap_or("*"))
    };
    let mut wanted: Vec<String> = expected
        .iter()
        .map(|e| key(e.event_type, e.subject.as_deref(), &e.correlation_id))
        .collect();
    let mut found: Vec<String> = trail
        .iter()
        .map(|r| {
            let event_type = r["type"].as_str().unwrap_or_default();
            let known = expected
                .iter()
                .any(|e| e.event_type == event_type && e.subject.is_some());
            let subject = r["subject"].as_str().filter(|_| known);
            key(event_type, subject, r["correlation_id"].as_str().unwrap_or_default())
        })
        .collect();
    wanted.sort();
    found.sort();
    assert_eq!(found, wanted);
}

/// For each subject, the trail lists its events in the order they were caused.
fn assert_order_per_subject(trail: &[Value], expected: &[Expected]) {
    let subjects: HashSet<&str> = expected.iter().filter_map(|e| e.subject.as_deref()).collect();
    for subject in subjects {
        let wanted: Vec<(&str, &str)> = expected
            .iter()
            .filter(|e| e.subject.as_deref() == Some(subject))
            .map(|e| (e.event_type, e.correlation_id.as_str()))
            .collect();
        let found: Vec<(&str, &str)> = trail
            .iter()
            .filter(|r| r["subject"] == subject)
            .map(|r| {
                (
                    r["type"].as_str().unwrap_or_default(),
                    r["correlation_id"].as_str().unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(found, wanted, "order of {subject}");
    }
}

/// `record` came from `source` and its payload is exactly `data`, where
/// `"*"` stands for any value (times).
fn assert_row(record: &Value, source: &str, data: Value) {
    assert_eq!(record["source"], source, "{record:#}");
    assert_eq!(record["version"], 1);
    let (Some(found), Some(wanted)) = (record["data"].as_object(), data.as_object()) else {
        panic!("not an object: {record:#}");
    };
    let mut found_keys: Vec<&String> = found.keys().collect();
    let mut wanted_keys: Vec<&String> = wanted.keys().collect();
    found_keys.sort();
    wanted_keys.sort();
    assert_eq!(found_keys, wanted_keys, "{record:#}");
    for (key, value) in wanted {
        if value != "*" {
            assert_eq!(&found[key], value, "{key} of {record:#}");
        }
    }
}

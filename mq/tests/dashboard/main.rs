//! `xerpium-mq dashboard` over HTTP, as an operator's browser and scripts
//! use it, against a real Redis filled by the runtime (see [`support`]):
//! every page and action, the refusals, and bad input.

mod browser;
#[path = "../common/mod.rs"]
mod common;
mod support;

use std::time::Duration;

use serde_json::Value;
use support::{Dashboard, Fleet, PATIENCE, TOKEN, eventually};
use xerpium_events::{COMMANDS, EventType};
use xerpium_messaging::testing::TestRedis;

/// Runs each scenario named (an `async fn(Fleet)`) as two tests, in a
/// module of its name: on a single server and on a cluster.
macro_rules! on_both {
    ($($scenario:ident),* $(,)?) => {
        $(
            mod $scenario {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn standalone() {
                    super::$scenario(super::Fleet::start().await).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn cluster() {
                    let cluster = super::TestRedis::start_cluster().expect("the cluster starts");
                    super::$scenario(super::Fleet::on(cluster).await).await;
                }
            }
        )*
    };
}

on_both!(
    the_overview_says_where_it_is_unhealthy_and_why,
    a_group_page_shows_streams_consumers_pending_entries_and_partition_owners,
    scripts_replay_and_purge_by_reason_with_the_token,
    the_live_tail_decodes_filters_and_keeps_order_across_partitions,
);

/// The verdict of each group, by name, as `/api/status` gives them.
async fn verdicts(dashboard: &Dashboard) -> Vec<(String, String)> {
    let status = dashboard.get("/api/status").await.json();
    let mut verdicts: Vec<(String, String)> = status["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|group| {
            (
                group["name"].as_str().unwrap_or_default().to_owned(),
                group["verdict"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    verdicts.sort();
    verdicts
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

/// Waits until the three groups show the states the fleet puts them in.
async fn until_each_group_shows_its_state(dashboard: &Dashboard) {
    let expected = pairs(&[("audit", "healthy"), ("mailer", "stalled"), ("reports", "lagging")]);
    eventually("each group shows its state", || async {
        verdicts(dashboard).await == expected
    })
    .await;
}

/// The id of the first dead letter listed on a group's page.
fn first_dead_letter(page: &str, group: &str) -> String {
    dead_letter_of(page, group, "")
}

/// The id of the first dead letter listed on a group's page whose subject
/// has `subject` in it.
fn dead_letter_of(page: &str, group: &str, subject: &str) -> String {
    let link = format!("href=\"/dead-letters/{group}/");
    page.split("<tr>")
        .filter(|row| row.contains(&format!("<td class=\"subject\">{subject}")))
        .find_map(|row| row.split(&link).nth(1)?.split('"').next())
        .unwrap_or_else(|| panic!("no dead letter of {subject:?} listed: {page}"))
        .to_owned()
}

async fn the_overview_says_where_it_is_unhealthy_and_why(fleet: Fleet) {
    let dashboard = fleet.dashboard(false);
    until_each_group_shows_its_state(&dashboard).await;
    let page = dashboard.get("/").await;
    assert_eq!(page.status, 200);
    let policy = page.header("content-security-policy").unwrap_or_default();
    assert!(
        policy.contains("script-src 'self'") && policy.contains("frame-ancestors 'none'"),
        "{policy}"
    );
    let html = &page.body;
    // The verdict first: what is wrong, and where.
    assert!(html.contains("problem"), "{html}");
    assert!(
        html.contains("group mailer is stalled: consumer mailer-1: stuck: holds 1 entries and has settled none for"),
        "{html}"
    );
    assert!(html.contains("group reports is lagging"), "{html}");
    assert!(!html.contains("group audit is"), "audit is fine: {html}");
    for (group, verdict) in [("audit", "healthy"), ("mailer", "stalled"), ("reports", "lagging")] {
        assert!(
            html.contains(&format!("data-group=\"{group}\" data-verdict=\"{verdict}\"")),
            "{group}: {html}"
        );
    }
    // The dead letter waiting, the instances and what they consume, the server.
    assert!(html.contains("1 dead letter</a> wait"), "{html}");
    for instance in ["audit-1", "mailer-1", "reports-1"] {
        assert!(html.contains(&format!("<td>{instance}</td>")), "{instance}: {html}");
    }
    assert!(html.contains("<td>audit</td>") || html.contains("audit</td>"), "{html}");
    assert!(html.contains("noeviction"), "{html}");
    let status = dashboard.get("/api/status").await.json();
    assert!(
        status["nodes"][0]["version"]
            .as_str()
            .is_some_and(|v| v.starts_with('7')),
        "{status}"
    );
    if fleet.server.is_cluster() {
        assert!(html.contains("Cluster nodes"), "{html}");
        assert_eq!(
            status["cluster"].as_array().map(Vec::len),
            Some(6),
            "3 masters, 3 replicas: {status}"
        );
    }
    // The charts' data: samples every second, each group's lag.
    eventually("the history has a few samples", || async {
        dashboard.get("/api/history").await.json()["times"]
            .as_array()
            .map_or(0, Vec::len)
            >= 3
    })
    .await;
    let history = dashboard.get("/api/history").await.json();
    let lag: Vec<u64> = history["lag"]["reports"]
        .as_array()
        .expect("the lag of reports")
        .iter()
        .filter_map(Value::as_u64)
        .collect();
    assert!(lag.iter().all(|lag| *lag >= 10) && !lag.is_empty(), "{history}");
    assert!(history["published"]["company"].is_array(), "{history}");
    // Healthy groups say so; rates come once there are samples.
    let audit = &status["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .find(|g| g["name"] == "audit")
        .cloned();
    assert_eq!(
        audit.as_ref().map(|g| g["dead_letters"].clone()),
        Some(Value::from(1)),
        "{status}"
    );
    let stderr = dashboard.stop();
    assert!(!stderr.contains("panicked"), "{stderr}");
    fleet.stop().await;
}

async fn a_group_page_shows_streams_consumers_pending_entries_and_partition_owners(fleet: Fleet) {
    let dashboard = fleet.dashboard(false);
    until_each_group_shows_its_state(&dashboard).await;
    let reports = dashboard.get("/groups/reports").await;
    assert_eq!(reports.status, 200);
    let html = &reports.body;
    assert!(
        html.contains(&format!("{}:events:company:7", fleet.namespace)),
        "{html}"
    );
    assert!(html.contains("<td>reports-1</td>"), "{html}");
    assert!(html.contains("Pending entries"), "{html}");
    // `company` is ordered: each of its 8 partitions has an owner, the group's one instance.
    assert_eq!(html.matches("class=\"owner\"").count(), 8, "{html}");
    assert_eq!(html.matches(">reports-1</span>").count(), 8, "{html}");
    // `audit` reads `user` and `company`: 16 partitions, all its own.
    let audit = dashboard.get("/groups/audit").await.body;
    assert_eq!(audit.matches(">audit-1</span>").count(), 16, "{audit}");
    // `security` has one stream: no owner; the hung handler holds its entry.
    let mailer = dashboard.get("/groups/mailer").await.body;
    assert!(mailer.contains("not partitioned"), "{mailer}");
    assert!(
        mailer.contains("<span class=\"badge stalled\">stalled</span>"),
        "{mailer}"
    );
    assert!(!mailer.contains("None: every entry"), "{mailer}");
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_reads_a_dead_letter_and_replays_it() {
    let fleet = Fleet::start().await;
    let dashboard = fleet.dashboard(true);
    let bounced = fleet.publish_user("bounce").await;
    let dlq = "/dead-letters/audit".to_owned();
    fleet.until_dead_letters(&dashboard, 2).await;
    let index = dashboard.get("/dead-letters").await.body;
    assert!(index.contains("href=\"/dead-letters/audit\""), "{index}");
    let list = dashboard.get(&dlq).await.body;
    assert!(list.contains("user.created") && list.contains("permanent"), "{list}");
    assert!(list.contains("mailbox"), "the error is shown: {list}");
    let id = dead_letter_of(&list, "audit", &fleet.bounced.to_string());

    // Personal data is hidden, and shown only to a logged-in operator.
    let letter = dashboard.get(&format!("{dlq}/{id}")).await;
    assert_eq!(letter.status, 200);
    assert!(letter.body.contains("[redacted]"), "{}", letter.body);
    assert!(!letter.body.contains("person@bounce.example"), "{}", letter.body);
    assert!(letter.body.contains("user.created"), "{}", letter.body);
    let peek = dashboard.get(&format!("{dlq}/{id}?reveal=1")).await;
    assert_eq!(peek.status, 401, "{}", peek.body);
    let (cookie, key) = dashboard.log_in("ann").await;
    let revealed = dashboard
        .get_with(&format!("{dlq}/{id}?reveal=1"), &[("cookie", &cookie)])
        .await;
    assert_eq!(revealed.status, 200);
    assert!(revealed.body.contains("person@bounce.example"), "{}", revealed.body);

    // A replay needs the session and its form key, from this dashboard's page.
    let form = [
        ("form_key", key.as_str()),
        ("selection", "selected"),
        ("id", id.as_str()),
    ];
    let replay = format!("{dlq}/replay");
    let anonymous = dashboard.post(&replay, &form, &[]).await;
    assert_eq!(anonymous.status, 401, "{}", anonymous.body);
    let forged = [("form_key", "guess"), ("selection", "selected"), ("id", id.as_str())];
    let forged = dashboard.post(&replay, &forged, &[("cookie", &cookie)]).await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    let foreign = dashboard
        .post(
            &replay,
            &form,
            &[("cookie", &cookie), ("origin", "http://evil.example")],
        )
        .await;
    assert_eq!(foreign.status, 403, "{}", foreign.body);
    assert!(
        foreign.body.contains("did not come from this dashboard"),
        "{}",
        foreign.body
    );

    fleet.mend();
    let done = dashboard.post(&replay, &form, &[("cookie", &cookie)]).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.header("location"), Some(dlq.as_str()));
    let after = dashboard.get_with(&dlq, &[("cookie", &cookie)]).await.body;
    assert!(after.contains("Replayed 1 dead letter(s) of group audit"), "{after}");
    assert!(after.contains("<p>1 in "), "one is left: {after}");
    // The one replayed is handled; the other waits.
    eventually("the replayed sign-up is handled", || async {
        fleet.handled(fleet.bounced)
    })
    .await;
    assert!(!fleet.handled(bounced));
    let actions = dashboard.get("/dead-letters").await.body;
    assert!(actions.contains("<td>ann</td>"), "{actions}");
    assert!(
        actions.contains(&format!("replayed dead letters of group audit ({id})")),
        "{actions}"
    );
    let stderr = dashboard.stop();
    assert!(
        stderr.contains("operator \"ann\" looked at the personal data of dead letter"),
        "{stderr}"
    );
    assert!(
        stderr.contains("operator \"ann\" replayed dead letters of group audit"),
        "{stderr}"
    );
    fleet.stop().await;
}

async fn scripts_replay_and_purge_by_reason_with_the_token(fleet: Fleet) {
    let dashboard = fleet.dashboard(true);
    let bounced = [fleet.publish_user("bounce").await, fleet.publish_user("bounce").await];
    let dlq = "/dead-letters/audit";
    fleet.until_dead_letters(&dashboard, 3).await;
    let script = [
        ("authorization", format!("Bearer {TOKEN}")),
        ("x-operator", "ci".to_owned()),
    ];
    let script: Vec<(&str, &str)> = script.iter().map(|(n, v)| (*n, v.as_str())).collect();
    // A purge must be confirmed with the group's name.
    let unconfirmed = dashboard
        .post(
            &format!("{dlq}/purge"),
            &[("selection", "reason"), ("reason", "permanent")],
            &script,
        )
        .await;
    assert_eq!(unconfirmed.status, 400, "{}", unconfirmed.body);
    assert!(unconfirmed.body.contains("nothing deleted"), "{}", unconfirmed.body);
    let list = dashboard.get(dlq).await.body;
    let one = dead_letter_of(&list, "audit", &fleet.bounced.to_string());
    let purged = dashboard
        .post(
            &format!("{dlq}/purge"),
            &[("selection", "selected"), ("id", one.as_str()), ("confirm", "audit")],
            &script,
        )
        .await;
    assert_eq!(purged.status, 200, "{}", purged.body);
    assert_eq!(purged.json()["deleted"], 1);
    fleet.mend();
    let replayed = dashboard
        .post(
            &format!("{dlq}/replay"),
            &[("selection", "reason"), ("reason", "permanent")],
            &script,
        )
        .await;
    assert_eq!(replayed.status, 200, "{}", replayed.body);
    assert_eq!(
        replayed.json()["replayed"].as_array().map(Vec::len),
        Some(2),
        "{}",
        replayed.body
    );
    eventually("the two replayed sign-ups are handled", || async {
        bounced.iter().all(|user| fleet.handled(*user))
    })
    .await;
    assert!(!fleet.handled(fleet.bounced), "the one purged is gone");
    assert!(dashboard.get(dlq).await.body.contains("<p>0 in "));
    let wrong = [("authorization", "Bearer not-the-token-at-all"), ("x-operator", "ci")];
    let refused = dashboard
        .post(&format!("{dlq}/replay"), &[("selection", "all")], &wrong)
        .await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    let stderr = dashboard.stop();
    assert!(
        stderr.contains("operator \"ci\" purged dead letters of group audit"),
        "{stderr}"
    );
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_data_quoted_in_errors_is_hidden_too() {
    let fleet = Fleet::start().await;
    let dashboard = fleet.dashboard(true);
    let page = dashboard.get("/api/tail?category=user").await.json();
    let after = page["after"].as_str().expect("a cursor").to_owned();
    let subject = fleet.add_undecodable_sign_up("eve@private.example").await;
    fleet.until_dead_letters(&dashboard, 2).await;
    let dlq = "/dead-letters/audit";
    let list = dashboard.get(dlq).await.body;
    assert!(list.contains("undecodable"), "{list}");
    assert!(!list.contains("eve@private.example"), "{list}");
    let id = dead_letter_of(&list, "audit", &subject);
    let letter = dashboard.get(&format!("{dlq}/{id}")).await.body;
    assert!(letter.contains("[redacted]"), "{letter}");
    assert!(!letter.contains("eve@private.example"), "{letter}");
    let tail = dashboard
        .get(&format!("/api/tail?category=user&after={after}"))
        .await
        .body;
    assert!(
        tail.contains(&subject) && !tail.contains("eve@private.example"),
        "{tail}"
    );
    // Shown to a logged-in operator who asks, and the look at the tail logged once.
    let (cookie, _) = dashboard.log_in("ann").await;
    let revealed = dashboard
        .get_with(&format!("{dlq}/{id}?reveal=1"), &[("cookie", &cookie)])
        .await
        .body;
    assert!(revealed.contains("eve@private.example"), "{revealed}");
    for _ in 0..3 {
        let tail = dashboard
            .get_with(
                &format!("/api/tail?category=user&after={after}&reveal=1"),
                &[("cookie", &cookie)],
            )
            .await
            .body;
        assert!(tail.contains("eve@private.example"), "{tail}");
    }
    let stderr = dashboard.stop();
    assert_eq!(
        stderr
            .matches("looked at the personal data of the live tail of user")
            .count(),
        1,
        "{stderr}"
    );
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actions_take_turns_and_act_on_what_the_page_shows() {
    let fleet = Fleet::start().await;
    let dashboard = fleet.dashboard(true);
    fleet.publish_user("bounce").await;
    fleet.publish_user("bounce").await;
    fleet.until_dead_letters(&dashboard, 3).await;
    // The buttons post where they say, and a filtered page acts on its reason.
    let (cookie, _) = dashboard.log_in("ann").await;
    let list = dashboard
        .get_with("/dead-letters/audit", &[("cookie", &cookie)])
        .await
        .body;
    assert!(list.contains("formaction=\"/dead-letters/audit/purge\""), "{list}");
    let filtered = dashboard
        .get_with("/dead-letters/audit?reason=permanent", &[("cookie", &cookie)])
        .await
        .body;
    assert!(
        filtered.contains("value=\"reason\">Replay all with reason permanent"),
        "{filtered}"
    );
    assert!(!filtered.contains("value=\"all\""), "{filtered}");
    // Two replays of all at once: each dead letter goes back once (mended,
    // so that none comes back as a new dead letter).
    fleet.mend();
    let script = [
        ("authorization", format!("Bearer {TOKEN}")),
        ("x-operator", "ci".to_owned()),
    ];
    let script: Vec<(&str, &str)> = script.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let replay = |_: usize| dashboard.post("/dead-letters/audit/replay", &[("selection", "all")], &script);
    let (first, second) = tokio::join!(replay(1), replay(2));
    let count = |answer: &support::Answer| answer.json()["replayed"].as_array().map_or(0, Vec::len);
    assert_eq!(count(&first) + count(&second), 3, "{} / {}", first.body, second.body);
    // A request for another host (DNS rebinding) gets nothing.
    let rebound = dashboard.get_with("/api/status", &[("host", "evil.example")]).await;
    assert_eq!(rebound.status, 421, "{}", rebound.body);
    assert!(rebound.body.contains("--allow-host"), "{}", rebound.body);
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_the_dashboard_is_read_only() {
    let fleet = Fleet::start().await;
    let dashboard = fleet.dashboard(false);
    let dlq = "/dead-letters/audit";
    fleet.until_dead_letters(&dashboard, 1).await;
    let list = dashboard.get(dlq).await.body;
    assert!(list.contains("Read-only"), "{list}");
    assert!(!list.contains("Replay selected"), "{list}");
    let replay = dashboard
        .post(&format!("{dlq}/replay"), &[("selection", "all")], &[])
        .await;
    assert_eq!(replay.status, 403, "{}", replay.body);
    assert!(replay.body.contains("XERPIUM_DASHBOARD_TOKEN"), "{}", replay.body);
    let script = [("authorization", "Bearer anything-at-all-here"), ("x-operator", "ci")];
    let purge = dashboard
        .post(
            &format!("{dlq}/purge"),
            &[("selection", "all"), ("confirm", "audit")],
            &script,
        )
        .await;
    assert_eq!(purge.status, 403, "{}", purge.body);
    assert_eq!(dashboard.get("/login").await.status, 403);
    let id = first_dead_letter(&list, "audit");
    assert_eq!(dashboard.get(&format!("{dlq}/{id}?reveal=1")).await.status, 403);
    assert!(dashboard.get(dlq).await.body.contains("<p>1 in "), "nothing changed");
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_clear_message() {
    let fleet = Fleet::start().await;
    let dashboard = fleet.dashboard(true);
    let cases: [(&str, u16, &str); 9] = [
        (
            "/groups/nope",
            404,
            "no consumer group `nope` in this namespace; the groups are: audit, mailer, reports",
        ),
        ("/dead-letters/nope", 404, "no consumer group `nope`"),
        ("/dead-letters/audit/not-an-id", 404, "no dead letter `not-an-id`"),
        ("/dead-letters/audit/1-1", 404, "no dead letter `1-1`"),
        (
            "/tail?category=nope",
            400,
            "unknown category `nope`; the catalog has: user, company",
        ),
        ("/api/tail?category=nope", 400, "unknown category `nope`"),
        (
            "/api/tail?category=user&after=1-0",
            400,
            "`after` must be `$` or 8 entry ids",
        ),
        ("/nope", 404, "there is no page at /nope"),
        ("/assets/nope.js", 404, "no asset `nope.js`"),
    ];
    eventually("the groups exist", || async { verdicts(&dashboard).await.len() == 3 }).await;
    for (path, status, message) in cases {
        let answer = dashboard.get(path).await;
        assert_eq!(answer.status, status, "{path}: {}", answer.body);
        assert!(answer.body.contains(message), "{path}: {}", answer.body);
    }
    assert!(dashboard.get("/api/tail?category=nope").await.json()["error"].is_string());
    let (cookie, key) = dashboard.log_in("ann").await;
    let bogus = dashboard
        .post(
            "/dead-letters/audit/replay",
            &[("form_key", &key), ("selection", "bogus")],
            &[("cookie", &cookie)],
        )
        .await;
    assert_eq!(bogus.status, 400, "{}", bogus.body);
    let nothing = dashboard
        .post(
            "/dead-letters/audit/replay",
            &[("form_key", &key)],
            &[("cookie", &cookie)],
        )
        .await;
    assert_eq!(nothing.status, 400);
    assert!(nothing.body.contains("no dead letter selected"), "{}", nothing.body);
    let wrong = dashboard
        .post("/login", &[("name", "eve"), ("token", "wrong")], &[])
        .await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("Wrong token"), "{}", wrong.body);
    let stderr = dashboard.stop();
    assert!(!stderr.contains("panicked"), "{stderr}");
    fleet.stop().await;
}

async fn the_live_tail_decodes_filters_and_keeps_order_across_partitions(fleet: Fleet) {
    let dashboard = fleet.dashboard(false);
    let page = dashboard.get("/tail?category=user").await.body;
    assert!(page.contains("data-category=\"user\""), "{page}");
    assert!(page.contains("<option value=\"user.created\">"), "{page}");
    let start = dashboard.get("/api/tail?category=user").await.json();
    let mut after = start["after"].as_str().expect("a cursor").to_owned();
    assert_eq!(
        start["events"].as_array().map(Vec::len),
        Some(0),
        "from now on: {start}"
    );
    let mut published = Vec::new();
    for _ in 0..12 {
        published.push(fleet.publish_user("plain").await.to_string());
    }
    let mut seen: Vec<Value> = Vec::new();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while seen.len() < published.len() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the tail saw {} of 12",
            seen.len()
        );
        let answer = dashboard
            .get(&format!("/api/tail?category=user&after={after}"))
            .await
            .json();
        after = answer["after"].as_str().expect("a cursor").to_owned();
        seen.extend(answer["events"].as_array().cloned().unwrap_or_default());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let subjects: Vec<&str> = seen.iter().filter_map(|event| event["subject"].as_str()).collect();
    assert_eq!(subjects, published, "in publishing order across the 8 partitions");
    assert_eq!(seen[0]["data"]["email"], "[redacted]", "{}", seen[0]);
    assert_eq!(seen[0]["type"], "user.created");
    // Filters: by subject, by type.
    let one = fleet.publish_user("plain").await.to_string();
    fleet.publish_user("plain").await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let filtered = loop {
        let answer = dashboard
            .get(&format!("/api/tail?category=user&after={after}&subject={one}"))
            .await
            .json();
        let events = answer["events"].as_array().cloned().unwrap_or_default();
        if !events.is_empty() {
            break events;
        }
        assert!(tokio::time::Instant::now() < deadline, "the filtered tail saw nothing");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(filtered.len(), 1, "{filtered:?}");
    assert_eq!(filtered[0]["subject"], one.as_str());
    let none = dashboard
        .get(&format!("/api/tail?category=user&after={after}&type=user.deleted"))
        .await
        .json();
    assert_eq!(none["events"].as_array().map(Vec::len), Some(0), "{none}");
    assert_eq!(
        dashboard
            .get(&format!("/api/tail?category=user&after={after}&reveal=1"))
            .await
            .status,
        403
    );
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalog_and_streams_show_what_the_build_knows_and_redis_holds() {
    let fleet = Fleet::start().await;
    let dashboard = fleet.dashboard(false);
    let catalog = dashboard.get("/catalog").await;
    assert_eq!(catalog.status, 200);
    for event in EventType::ALL {
        assert!(
            catalog.body.contains(&format!("id=\"{}\"", event.as_str())),
            "{}",
            event.as_str()
        );
    }
    assert!(!COMMANDS.is_empty());
    for command in COMMANDS {
        assert!(
            catalog.body.contains(&format!("id=\"{}\"", command.name)),
            "{}",
            command.name
        );
        assert!(catalog.body.contains(command.service), "{}", command.service);
    }
    assert!(
        catalog.body.contains("8 partitions by subject, ordered"),
        "{}",
        catalog.body
    );
    assert!(
        catalog.body.contains("href=\"/tail?category=user\""),
        "{}",
        catalog.body
    );
    assert!(
        catalog.body.contains(&format!("{}:notify:all", fleet.namespace)),
        "{}",
        catalog.body
    );
    let dead_letters = format!("{}:dlq:audit", fleet.namespace);
    eventually("the dead-letter stream is listed", || async {
        dashboard.get("/streams").await.body.contains(&dead_letters)
    })
    .await;
    let streams = dashboard.get("/streams").await.body;
    assert!(
        streams.contains(&format!("id=\"{}:events:company:0\"", fleet.namespace)),
        "{streams}"
    );
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_setting_is_named() {
    let fleet = Fleet::start().await;
    let short = fleet.mq_command(Some("short"), &[]).output().expect("runs");
    assert_eq!(short.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&short.stderr);
    assert!(
        stderr.contains("XERPIUM_DASHBOARD_TOKEN is 5 characters long"),
        "{stderr}"
    );
    let first = fleet.dashboard(false);
    let taken = first.base.trim_start_matches("http://").to_owned();
    let second = fleet.mq_command(None, &["--addr", &taken]).output().expect("runs");
    assert_eq!(second.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains(&format!("the dashboard cannot listen on {taken}")),
        "{stderr}"
    );
    fleet.stop().await;
}

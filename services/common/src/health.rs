//! A service's own `GET /health`, answered from its heartbeat's latest
//! report ([`Heartbeat::reports`]; a report is made every beat, 5 s by
//! default), so that a process whose consumer or command server is stopped,
//! stuck or not reading never looks alive.
//!
//! | the latest report | HTTP | `status` |
//! |---|---|---|
//! | every check passes | 200 | `ok` |
//! | only the `redis` check fails | 200 | `degraded` |
//! | a consumer's (or the command server's) check fails | 503 | `unhealthy` |
//! | older than two beats and their timeouts: the heartbeat no longer beats | 503 | `unhealthy` (a failing `heartbeat` check) |
//! | none yet: before the first beat | 503 | `starting` |
//! | the heartbeat's last (`stopped`): the service is shutting down | 503 | `stopping` |
//!
//! The body is `{"status": …, <the service's own fields>, "checks": [{"name",
//! "ok", "detail"}, …]}`, plus `"failing": [{"name", "detail"}, …]` when a
//! check fails. A consumer's check is named `consumer <group>/<consumer>`
//! (the command server's too: it is a consumer of the command stream).
//!
//! # Redis down
//! An outage of Redis alone does not make a service unhealthy: its `redis`
//! check fails and it answers 200 `degraded`, since a service may keep
//! working through one (user-auth and company-partner take requests into
//! their outbox). But a consumer that cannot read is not reading: once no
//! read of it has come back for (block time + publish timeout) × 2, 20 s at
//! the defaults, its check fails and the service answers 503 naming it,
//! until Redis is back, a read returns and the next beat reports it.

use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use xerpium_events::messaging::Config;
use xerpium_events::messaging::Heartbeat;
use xerpium_events::messaging::health::{Check, HealthReport, LatestReport, Status, format_duration};

/// Answers a service's `GET /health` from its heartbeat; clones share it.
#[derive(Debug, Clone)]
pub struct Health {
    reports: LatestReport,
    /// Bound on each of a beat's calls to Redis (the publish timeout).
    call_timeout: Duration,
}

impl Health {
    /// Answers from `heartbeat`, started with `config`.
    pub fn new(heartbeat: &Heartbeat, config: &Config) -> Health {
        Health {
            reports: heartbeat.reports(),
            call_timeout: config.publish_timeout(),
        }
    }

    /// The answer now (see the [module docs](self)), with the service's
    /// own `fields` (e.g. `outbox_pending`) next to `status`.
    pub fn answer(&self, fields: Map<String, Value>) -> Response {
        Verdict::of(self.reports.get(), Utc::now(), self.call_timeout).respond(fields)
    }
}

/// What the latest report says about the service.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Verdict {
    code: StatusCode,
    status: &'static str,
    checks: Vec<Check>,
}

impl Verdict {
    /// The verdict on `report` at `now`, for a heartbeat whose calls to
    /// Redis are bounded by `call_timeout`.
    fn of(report: Option<HealthReport>, now: DateTime<Utc>, call_timeout: Duration) -> Verdict {
        let Some(report) = report else {
            return Verdict {
                code: StatusCode::SERVICE_UNAVAILABLE,
                status: "starting",
                checks: Vec::new(),
            };
        };
        if report.status == Status::Stopped {
            return Verdict {
                code: StatusCode::SERVICE_UNAVAILABLE,
                status: "stopping",
                checks: report.checks,
            };
        }
        let mut checks = report.checks;
        // Beats are an interval apart, plus a PING and a write to Redis,
        // each bounded by the call timeout; twice that is no beat missed.
        let patience = (report.interval + call_timeout * 2) * 2;
        let age = (now - report.time).to_std().unwrap_or_default();
        if age > patience {
            checks.push(Check {
                name: "heartbeat".into(),
                ok: false,
                detail: format!(
                    "the latest report is {} old: the heartbeat no longer beats",
                    format_duration(age)
                ),
            });
        }
        let (code, status) = if checks.iter().all(|check| check.ok) {
            (StatusCode::OK, "ok")
        } else if checks.iter().all(|check| check.ok || check.name == Check::REDIS) {
            (StatusCode::OK, "degraded")
        } else {
            (StatusCode::SERVICE_UNAVAILABLE, "unhealthy")
        };
        Verdict { code, status, checks }
    }

    fn respond(self, mut body: Map<String, Value>) -> Response {
        let failing: Vec<Value> = self
            .checks
            .iter()
            .filter(|check| !check.ok)
            .map(|check| json!({ "name": check.name, "detail": check.detail }))
            .collect();
        body.insert("status".into(), self.status.into());
        if !failing.is_empty() {
            body.insert("failing".into(), failing.into());
        }
        body.insert("checks".into(), json!(self.checks));
        (self.code, axum::Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(5);

    fn check(name: &str, ok: bool) -> Check {
        Check {
            name: name.into(),
            ok,
            detail: format!("{name} is {}", if ok { "fine" } else { "broken" }),
        }
    }

    fn report(checks: Vec<Check>) -> HealthReport {
        let time = Utc::now();
        HealthReport {
            service: "audit-logger".into(),
            instance: "h-0".into(),
            version: "0.1.0".into(),
            status: if checks.iter().all(|check| check.ok) {
                Status::Healthy
            } else {
                Status::Unhealthy
            },
            time,
            started: time,
            uptime: Duration::from_secs(60),
            interval: Duration::from_secs(5),
            checks,
        }
    }

    fn judged(report: Option<HealthReport>) -> (StatusCode, &'static str) {
        let verdict = Verdict::of(report, Utc::now(), TIMEOUT);
        (verdict.code, verdict.status)
    }

    const CONSUMER: &str = "consumer audit-logger/h-0";

    #[test]
    fn only_a_failing_consumer_makes_the_service_unhealthy() {
        let ok = StatusCode::OK;
        let unavailable = StatusCode::SERVICE_UNAVAILABLE;
        let checks = |redis, consumer| Some(report(vec![check(Check::REDIS, redis), check(CONSUMER, consumer)]));
        assert_eq!(judged(checks(true, true)), (ok, "ok"));
        assert_eq!(judged(checks(false, true)), (ok, "degraded"));
        assert_eq!(judged(checks(true, false)), (unavailable, "unhealthy"));
        assert_eq!(judged(checks(false, false)), (unavailable, "unhealthy"));
        assert_eq!(judged(None), (unavailable, "starting"));
        let stopped = checks(true, true).map(|report| HealthReport {
            status: Status::Stopped,
            ..report
        });
        assert_eq!(judged(stopped), (unavailable, "stopping"));
    }

    #[test]
    fn a_report_the_heartbeat_no_longer_renews_is_unhealthy() {
        let fresh = report(vec![check(Check::REDIS, true), check(CONSUMER, true)]);
        let within = fresh.time + chrono::Duration::seconds(25);
        assert_eq!(Verdict::of(Some(fresh.clone()), within, TIMEOUT).code, StatusCode::OK);
        let late = fresh.time + chrono::Duration::seconds(31);
        let verdict = Verdict::of(Some(fresh), late, TIMEOUT);
        assert_eq!(verdict.code, StatusCode::SERVICE_UNAVAILABLE);
        let heartbeat = verdict.checks.last().expect("a heartbeat check");
        assert_eq!((heartbeat.name.as_str(), heartbeat.ok), ("heartbeat", false));
        assert!(
            heartbeat.detail.starts_with("the latest report is 31s old"),
            "{}",
            heartbeat.detail
        );
    }

    #[tokio::test]
    async fn the_body_names_the_failing_checks_next_to_the_service_fields() {
        let verdict = Verdict::of(
            Some(report(vec![check(Check::REDIS, false), check(CONSUMER, false)])),
            Utc::now(),
            TIMEOUT,
        );
        let mut fields = Map::new();
        fields.insert("outbox_pending".into(), 3.into());
        let response = verdict.respond(fields);
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("a body");
        let body: Value = serde_json::from_slice(&bytes).expect("JSON");
        assert_eq!(body["status"], "unhealthy");
        assert_eq!(body["outbox_pending"], 3);
        assert_eq!(
            body["failing"],
            json!([
                { "name": "redis", "detail": "redis is broken" },
                { "name": CONSUMER, "detail": format!("{CONSUMER} is broken") },
            ])
        );
        assert_eq!(body["checks"].as_array().map(Vec::len), Some(2));
    }
}

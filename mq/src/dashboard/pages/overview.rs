//! `/`: is messaging healthy, and if not, where? The problems first, then
//! the groups with their verdicts, the charts, the instances and the
//! servers. Also `/api/status` and `/api/history`, the same as JSON.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use chrono::Utc;
use maud::{Markup, html};
use xerpium_messaging::health::format_duration;

use super::layout::{self, Section, badge, chart};
use super::{App, Viewer, rate, segment};
use crate::dashboard::history;
use crate::dashboard::problem::Problem;
use crate::dashboard::redis_info;
use crate::dashboard::status::{GroupStatus, Status};
use crate::error::Error;
use crate::output::age;

/// Everything the overview shows, read now.
pub async fn status(app: &App) -> Result<Status, Problem> {
    let health = app.monitor.check().await.map_err(Error::from)?;
    let redis = &app.session.redis;
    let failed = |doing: &str| {
        let url = app.session.url.clone();
        let doing = doing.to_owned();
        move |source| Error::Redis { url, doing, source }
    };
    let nodes = redis_info::nodes(redis).await.map_err(failed("reading INFO"))?;
    let cluster = redis_info::cluster_nodes(redis)
        .await
        .map_err(failed("reading CLUSTER NODES"))?;
    Ok(history::with(&app.history, |history| {
        Status::of(health, (nodes, cluster), history, app.thresholds)
    }))
}

/// `GET /`.
pub async fn page(State(app): State<App>, headers: HeaderMap) -> Result<Html<String>, Problem> {
    let viewer = Viewer::of(&app, &headers);
    let status = status(&app).await?;
    let body = html! {
        div #live data-refresh="5" {
            (verdict(&status))
            (groups(&status))
        }
        section.charts {
            h2 { "The last hour" }
            p.muted {
                "Sampled by this dashboard every " (format_duration(app.sample_every)) " while it runs (kept in memory: a dashboard started a minute ago shows a minute)."
            }
            div.chart-grid {
                (chart("lag", "Lag per group (entries not yet delivered)", "entries"))
                (chart("pending", "Pending per group (delivered, not yet settled)", "entries"))
                (chart("published", "Published per category", "events/s"))
                (chart("handled", "Handled per category, all groups", "events/s"))
            }
        }
        div #live-more data-refresh="5" {
            (instances(&status))
            (servers(&status))
        }
    };
    Ok(Html(
        layout::page("Overview", Section::Overview, &viewer, None, body).into_string(),
    ))
}

/// `GET /api/status`: the overview as JSON.
pub async fn api(State(app): State<App>) -> Result<Response, Problem> {
    let status = status(&app).await.map_err(Problem::in_json)?;
    Ok(Json(status).into_response())
}

/// `GET /api/history`: the charts' data.
pub async fn history(State(app): State<App>) -> Response {
    Json(history::with(&app.history, |history| history.series())).into_response()
}

/// The verdict on the whole: healthy, or the list of what is wrong.
fn verdict(status: &Status) -> Markup {
    html! {
        @if status.is_healthy() {
            section.verdict.healthy {
                h1 { "Messaging is healthy" }
                p { "Every group is up to date or working off what comes in; every instance that beats is fine." }
            }
        } @else {
            section.verdict.unhealthy {
                h1 { (status.problems.len()) " problem" @if status.problems.len() != 1 { "s" } }
                ul.problems {
                    @for problem in &status.problems { li { (problem) } }
                }
            }
        }
        @let dead: u64 = status.health.dead_letters.iter().map(|dead| dead.count).sum();
        @if dead > 0 {
            p.dead-letters {
                a href="/dead-letters" { (dead) " dead letter" @if dead != 1 { "s" } }
                " wait for an operator."
            }
        }
    }
}

/// The groups table, worst first.
fn groups(status: &Status) -> Markup {
    html! {
        section {
            h2 { "Consumer groups" }
            @if status.groups.is_empty() {
                p.muted { "No consumer group yet: no service has started consuming in this namespace." }
            } @else {
                table.groups {
                    thead { tr {
                        th { "Verdict" } th { "Group" } th { "Why" } th.num { "Lag" } th.num { "Pending" }
                        th { "Oldest pending" } th.num { "Consumers" } th.num { "Handled" } th.num { "Dead-lettered" } th.num { "Dead letters" }
                    } }
                    tbody {
                        @for group in &status.groups { (group_row(group)) }
                    }
                }
            }
        }
    }
}

fn group_row(group: &GroupStatus) -> Markup {
    let name = segment(&group.name);
    html! {
        tr data-group=(group.name) data-verdict=(group.verdict.as_str()) {
            td { (badge(group.verdict.as_str(), group.verdict.as_str())) }
            td { a href={ "/groups/" (name) } { (group.name) } }
            td.reason { (group.reason) }
            td.num { @if !group.lag_known { "≥ " } (group.lag) }
            td.num { (group.pending) }
            td {
                @match &group.oldest_pending {
                    Some(oldest) => { (format_duration(oldest.age)) " old, idle " (format_duration(oldest.idle)) }
                    None => { "–" }
                }
            }
            td.num { (group.consumers.len()) }
            td.num { (rate(group.handled_per_second)) }
            td.num { (rate(group.dead_lettered_per_second)) }
            td.num {
                @if group.dead_letters > 0 {
                    a href={ "/dead-letters/" (name) } { (group.dead_letters) }
                } @else { "0" }
            }
        }
    }
}

/// Every service instance seen in the last hour.
fn instances(status: &Status) -> Markup {
    let now = status.health.time;
    html! {
        section {
            h2 { "Service instances" }
            @if status.health.instances.is_empty() {
                p.muted { "No instance has sent a heartbeat in the last hour." }
            } @else {
                table {
                    thead { tr {
                        th { "State" } th { "Service" } th { "Instance" } th { "Version" } th { "Last heartbeat" }
                        th { "Up for" } th { "Consumes" } th { "Failing checks" }
                    } }
                    tbody {
                        @for instance in &status.health.instances {
                            @let report = &instance.report;
                            @let state = instance.state.as_str();
                            @let shown = if instance.state == xerpium_messaging::health::InstanceState::Up { report.status.as_str() } else { state };
                            tr {
                                td { (badge(if instance.is_fine() { "healthy" } else { "stalled" }, shown)) }
                                td { (report.service) }
                                td { (report.instance) }
                                td { (report.version) }
                                td { (age(now, report.time)) " ago" }
                                td { (format_duration(report.uptime)) }
                                td { (consumes(report)) }
                                td.reason {
                                    @for check in report.failing() { div { (check.name) ": " (check.detail) } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The groups an instance's consumers read, from its checks' names
/// (`consumer <group>/<consumer>`).
fn consumes(report: &xerpium_messaging::HealthReport) -> String {
    let mut groups: Vec<&str> = report
        .checks
        .iter()
        .filter_map(|check| check.name.strip_prefix("consumer "))
        .map(|name| name.split_once('/').map_or(name, |(group, _)| group))
        .collect();
    groups.dedup();
    if groups.is_empty() {
        "–".to_owned()
    } else {
        groups.join(", ")
    }
}

/// The Redis servers, and a cluster's nodes.
fn servers(status: &Status) -> Markup {
    html! {
        section {
            h2 { "Redis" }
            table {
                thead { tr { th { "Server" } th { "Version" } th { "Memory used" } th { "Max memory" } th { "Eviction policy" } } }
                tbody {
                    @for node in &status.nodes {
                        tr {
                            td { (node.address.as_deref().unwrap_or("the server")) }
                            @if let Some(error) = &node.error {
                                td colspan="4" .problem { (error) }
                            } @else {
                                td { (node.version.as_deref().unwrap_or("?")) }
                                td { (node.used_memory.as_deref().unwrap_or("?")) }
                                td { (node.max_memory.as_deref().map(|max| if max == "0B" { "no limit" } else { max }).unwrap_or("?")) }
                                td {
                                    (node.policy.as_deref().unwrap_or("?"))
                                    @if node.may_evict() { " " (badge("stalled", "may evict keys: set noeviction")) }
                                }
                            }
                        }
                    }
                }
            }
            @if !status.cluster.is_empty() {
                h3 { "Cluster nodes" }
                table {
                    thead { tr { th { "Node" } th { "Flags" } th { "Link" } th { "Slots" } } }
                    tbody {
                        @for node in &status.cluster {
                            tr {
                                td { (node.address) }
                                td { (node.flags) }
                                td { (node.link) }
                                td { (node.slots) }
                            }
                        }
                    }
                }
            }
            p.muted { "Read " (Utc::now().format("%H:%M:%S UTC")) "." }
        }
    }
}

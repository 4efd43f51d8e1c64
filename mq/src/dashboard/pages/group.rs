//! `/groups/<group>`: one consumer group: its verdict, each stream it
//! reads (with the instance that owns the partition, for an ordered
//! category), its consumers, and its pending entries.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Html;
use maud::{Markup, html};
use xerpium_events::Category;
use xerpium_messaging::health::{GroupHealth, format_duration};

use super::layout::{self, Section, badge};
use super::{App, Viewer, no_such_group, segment};
use crate::dashboard::history::category_of;
use crate::dashboard::problem::Problem;
use crate::dashboard::status::GroupStatus;
use crate::error::Error;
use crate::output::count_or_unknown;

/// Pending entries shown per stream at most.
const PENDING_SHOWN: usize = 100;

/// One pending entry, as `XPENDING … - + <count>` lists it.
struct Pending {
    id: String,
    consumer: String,
    idle: Duration,
    deliveries: u64,
}

/// Who owns a partition stream for the group, and for how much longer.
struct Owner {
    /// The lease's holder: `<consumer>/<run id>`.
    holder: String,
    expires_in: Option<Duration>,
}

impl Owner {
    /// The consumer holding the lease, and its run.
    fn consumer_and_run(&self) -> (&str, &str) {
        self.holder.rsplit_once('/').unwrap_or((&self.holder, ""))
    }
}

/// `GET /groups/<group>`.
pub async fn page(
    State(app): State<App>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Html<String>, Problem> {
    let viewer = Viewer::of(&app, &headers);
    let status = super::overview::status(&app).await?;
    let Some(group) = status.groups.iter().find(|group| group.name == name) else {
        let mut known: Vec<String> = status.groups.iter().map(|group| group.name.clone()).collect();
        known.sort();
        return Err(no_such_group(&name, &known));
    };
    let mut streams = Vec::with_capacity(group.streams.len());
    for stream in &group.streams {
        let pending = pending(&app, stream).await?;
        let owner = owner(&app, stream).await?;
        streams.push((stream, owner, pending));
    }
    let body = html! {
        div #live data-refresh="5" {
            h1 { "Group " code { (group.name) } " " (badge(group.verdict.as_str(), group.verdict.as_str())) }
            p.reason { (group.reason) }
            (summary(group))
            h2 { "Streams" }
            table {
                thead { tr {
                    th { "Stream" } th.num { "Lag" } th.num { "Pending" } th.num { "Read" } th { "Last delivered" } th { "Partition owner" }
                } }
                tbody {
                    @for (stream, owner, _) in &streams {
                        tr {
                            td { code { (stream.stream) } }
                            td.num { (count_or_unknown(stream.lag)) }
                            td.num { (stream.pending) }
                            td.num { (count_or_unknown(stream.entries_read)) }
                            td { code { (stream.last_delivered_id) } }
                            td {
                                @match owner {
                                    Some(Some(owner)) => {
                                        @let (consumer, run) = owner.consumer_and_run();
                                        span.owner title={ "run " (run) } { (consumer) }
                                        @if let Some(left) = owner.expires_in { span.muted { " (lease " (format_duration(left)) " left)" } }
                                    }
                                    Some(None) => { span.problem { "none: no instance holds it" } }
                                    None => { span.muted { "not partitioned" } }
                                }
                            }
                        }
                    }
                }
            }
            h2 { "Consumers" }
            (consumers(&group.streams))
            h2 { "Pending entries" }
            @let all: Vec<(&str, &Pending)> = streams.iter().flat_map(|(stream, _, pending)| pending.iter().map(|entry| (stream.stream.as_str(), entry))).collect();
            @if all.is_empty() {
                p.muted { "None: every entry delivered to the group is settled." }
            } @else {
                table {
                    thead { tr { th { "Stream" } th { "Entry" } th { "Consumer" } th { "Idle" } th.num { "Deliveries" } } }
                    tbody {
                        @for (stream, entry) in &all {
                            tr {
                                td { code { (stream) } }
                                td { code { (entry.id) } }
                                td { (entry.consumer) }
                                td { (format_duration(entry.idle)) }
                                td.num { (entry.deliveries) }
                            }
                        }
                    }
                }
                p.muted { "At most " (PENDING_SHOWN) " per stream, oldest first." }
            }
        }
    };
    Ok(Html(
        layout::page(&format!("Group {name}"), Section::Overview, &viewer, None, body).into_string(),
    ))
}

/// The group's figures in one line.
fn summary(group: &GroupStatus) -> Markup {
    let name = segment(&group.name);
    html! {
        p {
            "Lag " strong { @if !group.lag_known { "at least " } (group.lag) } ", pending " strong { (group.pending) }
            ", " (group.consumers.len()) " consumer" @if group.consumers.len() != 1 { "s" }
            ", handled " (super::rate(group.handled_per_second))
            ", " a href={ "/dead-letters/" (name) } { (group.dead_letters) " dead letter" @if group.dead_letters != 1 { "s" } } "."
        }
    }
}

/// The consumers over every stream: what each holds and how long it has been idle.
fn consumers(streams: &[GroupHealth]) -> Markup {
    let mut consumers: BTreeMap<&str, (u64, Duration, Vec<&str>)> = BTreeMap::new();
    for stream in streams {
        for consumer in &stream.consumers {
            let entry = consumers
                .entry(&consumer.name)
                .or_insert((0, consumer.idle, Vec::new()));
            entry.0 += consumer.pending;
            entry.1 = entry.1.min(consumer.idle);
            entry.2.push(&stream.stream);
        }
    }
    html! {
        @if consumers.is_empty() {
            p.problem { "No consumer: nothing reads this group." }
        } @else {
            table {
                thead { tr { th { "Consumer" } th.num { "Pending" } th { "Idle" } th { "Streams" } } }
                tbody {
                    @for (name, (pending, idle, streams)) in &consumers {
                        tr {
                            td { (name) }
                            td.num { (pending) }
                            td { (format_duration(*idle)) }
                            td { (streams.len()) }
                        }
                    }
                }
            }
        }
    }
}

/// The oldest pending entries of the group on `stream`.
async fn pending(app: &App, stream: &GroupHealth) -> Result<Vec<Pending>, Problem> {
    if stream.pending == 0 {
        return Ok(Vec::new());
    }
    let mut redis = app.session.redis.clone();
    let list = redis::cmd("XPENDING")
        .arg(&stream.stream)
        .arg(&stream.group)
        .arg("-")
        .arg("+")
        .arg(PENDING_SHOWN)
        .to_owned();
    let rows: Vec<(String, String, u64, u64)> = app
        .session
        .run("listing pending entries", list.query_async(&mut redis))
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, consumer, idle, deliveries)| Pending {
            id,
            consumer,
            idle: Duration::from_millis(idle),
            deliveries,
        })
        .collect())
}

/// For a partition stream of an ordered category, who holds its lease for
/// the group (`Some(None)`: nobody); `None` for any other stream.
async fn owner(app: &App, stream: &GroupHealth) -> Result<Option<Option<Owner>>, Error> {
    let keys = &app.session.keys;
    let partitioned = category_of(keys, &stream.stream)
        .and_then(|name| name.parse::<Category>().ok())
        .is_some_and(|category| category.layout().is_partitioned());
    if !partitioned {
        return Ok(None);
    }
    let lease = keys.partition_lease(&stream.group, &stream.stream);
    let mut redis = app.session.redis.clone();
    let holder: Option<String> = app
        .session
        .run(
            "reading a partition lease",
            redis::cmd("GET").arg(&lease).query_async(&mut redis),
        )
        .await?;
    let Some(holder) = holder else {
        return Ok(Some(None));
    };
    let left: i64 = app
        .session
        .run(
            "reading a partition lease",
            redis::cmd("PTTL").arg(&lease).query_async(&mut redis),
        )
        .await?;
    Ok(Some(Some(Owner {
        holder,
        expires_in: u64::try_from(left).ok().map(Duration::from_millis),
    })))
}

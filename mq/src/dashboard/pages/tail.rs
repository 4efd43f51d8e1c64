//! `/tail`: a category's events as they arrive, decoded by type, filtered
//! by type and subject, pausable. The page's script asks `/api/tail` for
//! what came after what it has shown; `/api/tail` reads each stream of the
//! category once (no blocking) and answers in entry-id order across them,
//! as `xerpium-mq tail` does.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use maud::html;
use serde::Deserialize;
use serde_json::{Value, json};
use xerpium_events::Category;

use super::layout::{self, Section};
use super::{App, Viewer};
use crate::dashboard::problem::Problem;
use crate::dead_letters::is_entry_id;
use crate::tail::{Personal, Source, event_json, last_id, next_in_order};

/// Entries read per stream per request at most.
const BATCH: u64 = 200;

/// What the tail page can be asked for.
#[derive(Debug, Deserialize)]
pub struct PageQuery {
    /// The category to follow.
    category: Option<String>,
}

/// `GET /tail`.
pub async fn page(
    State(app): State<App>,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
) -> Result<Html<String>, Problem> {
    let viewer = Viewer::of(&app, &headers);
    let category = match &query.category {
        Some(name) => Some(category(name)?),
        None => None,
    };
    let body = html! {
        h1 { "Live tail" }
        form.tail-controls method="get" action="/tail" {
            label { "Category "
                select name="category" data-submit-on-change {
                    @if category.is_none() { option value="" selected { "choose…" } }
                    @for known in Category::ALL {
                        option value=(known.as_str()) selected[Some(*known) == category] { (known.as_str()) }
                    }
                }
            }
            @if let Some(category) = category {
                label { "Type "
                    select #tail-type {
                        option value="" { "every type" }
                        @for event in category.events() { option value=(event.as_str()) { (event.as_str()) } }
                    }
                }
                label { "Subject " input #tail-subject type="search" placeholder="any subject"; }
                button #tail-pause type="button" { "Pause" }
                @if viewer.operator.is_some() {
                    label { input #tail-reveal type="checkbox"; " show personal data (logged)" }
                }
            }
        }
        @if let Some(category) = category {
            @let streams = app.session.keys.event_streams(category.as_str(), &category.layout());
            p.muted { "Following " (streams.len()) " stream" @if streams.len() != 1 { "s" } " of " code { (category.as_str()) } ", newest events first, from now on. Personal data is hidden unless shown." }
            div #tail data-category=(category.as_str()) {
                p #tail-state.muted { "waiting for events…" }
                ol #tail-events {}
            }
        } @else {
            p { "Choose a category to follow its events as they arrive." }
        }
    };
    Ok(Html(
        layout::page("Live tail", Section::Tail, &viewer, None, body).into_string(),
    ))
}

/// What `/api/tail` can be asked for.
#[derive(Debug, Deserialize)]
pub struct ApiQuery {
    /// The category.
    category: String,
    /// Where to start: `$` (from now on) or one entry id per stream of
    /// the category, comma-separated, in the order the answer's `after`
    /// gives them.
    after: Option<String>,
    /// Only events of this type.
    #[serde(rename = "type")]
    event_type: Option<String>,
    /// Only events with this subject.
    subject: Option<String>,
    /// `1` to show personal data (operators only).
    reveal: Option<String>,
}

/// `GET /api/tail`: `{"after": "<id>,<id>…", "streams": […], "events": […]}`.
pub async fn api(
    State(app): State<App>,
    Query(query): Query<ApiQuery>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    tail(&app, &query, &headers).await.map_err(Problem::in_json)
}

async fn tail(app: &App, query: &ApiQuery, headers: &HeaderMap) -> Result<Response, Problem> {
    let category = category(&query.category)?;
    let personal = if query.reveal.as_deref() == Some("1") {
        let operator = app.operators.reader(headers)?;
        app.operators.record_once(
            &operator,
            format!("looked at the personal data of the live tail of {category}"),
        );
        Personal::Shown
    } else {
        Personal::Redacted
    };
    let session = &app.session;
    let streams = session.keys.event_streams(category.as_str(), &category.layout());
    let after: Vec<String> = match query.after.as_deref().unwrap_or("$") {
        "$" => {
            let mut ids = Vec::with_capacity(streams.len());
            for stream in &streams {
                ids.push(last_id(session, stream).await?);
            }
            ids
        }
        ids => {
            let ids: Vec<String> = ids.split(',').map(str::to_owned).collect();
            if ids.len() != streams.len() || !ids.iter().all(|id| is_entry_id(id)) {
                return Err(Problem::bad_request(format!(
                    "`after` must be `$` or {} entry ids (one per stream of `{category}`), comma-separated",
                    streams.len()
                )));
            }
            ids
        }
    };
    let mut sources: Vec<Source> = streams
        .iter()
        .cloned()
        .zip(after)
        .map(|(s, a)| Source::new(s, a))
        .collect();
    let fresh = query.after.as_deref().is_some_and(|after| after != "$");
    let mut events = Vec::new();
    if fresh {
        for source in &mut sources {
            source.read(session, BATCH, None).await?;
        }
        while let Some((index, entry)) = next_in_order(&mut sources) {
            let event = event_json(&sources[index].stream, &entry, personal);
            if matches(&event, query) {
                events.push(event);
            }
        }
    }
    let after: Vec<&str> = sources.iter().map(|source| source.taken.as_str()).collect();
    Ok(Json(json!({ "after": after.join(","), "streams": streams, "events": events })).into_response())
}

/// Whether `event` passes the query's type and subject filters.
fn matches(event: &Value, query: &ApiQuery) -> bool {
    let is = |field: &str, wanted: &Option<String>| {
        wanted
            .as_deref()
            .filter(|wanted| !wanted.is_empty())
            .is_none_or(|wanted| event.get(field).and_then(Value::as_str) == Some(wanted))
    };
    is("type", &query.event_type) && is("subject", &query.subject)
}

/// The category `name`, or a message listing the known ones.
fn category(name: &str) -> Result<Category, Problem> {
    name.parse().map_err(|_| {
        let known: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
        Problem::bad_request(format!(
            "unknown category `{name}`; the catalog has: {}",
            known.join(", ")
        ))
    })
}

//! The dead letters: `/dead-letters` (every group's count),
//! `/dead-letters/<group>` (a group's, with their reasons, to replay or
//! purge), `/dead-letters/<group>/<id>` (one in full), and the two actions,
//! `POST /dead-letters/<group>/replay` and `…/purge`. What they do is
//! [`crate::dead_letters`]'s, as for `xerpium-mq dlq`.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Query, State};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::json;
use xerpium_messaging::consumer::dead_letter::field as dlq;

use super::layout::{self, Section, form_key};
use super::{App, Viewer, group_names, no_such_group, query_value, segment};
use crate::dashboard::operator::{Operator, Refusal, WRONG_TOKEN_DELAY};
use crate::dashboard::problem::Problem;
use crate::dead_letters::{DeadLetters, Selection, added, is_added, is_of, original};
use crate::entry::Entry;
use crate::output::{payload, shorten};
use crate::tail::{self, HIDDEN, Personal};

/// Dead letters listed on a group's page by default.
const LISTED: usize = 100;
/// Up to this many, a group's page counts its dead letters by reason.
const COUNTED: u64 = 10_000;

/// `GET /dead-letters`: every group's dead letters, and what operators did.
pub async fn index(State(app): State<App>, headers: HeaderMap) -> Result<Html<String>, Problem> {
    let viewer = Viewer::of(&app, &headers);
    let counts = app.monitor.dead_letters().await.map_err(crate::error::Error::from)?;
    let actions = app.operators.actions();
    let flash = app.operators.take_flash(&headers);
    let body = html! {
        h1 { "Dead letters" }
        @if counts.iter().all(|dead| dead.count == 0) {
            p.muted { "No dead letters." }
        }
        @if !counts.is_empty() {
            table {
                thead { tr { th { "Group" } th.num { "Dead letters" } th { "Stream" } } }
                tbody {
                    @for dead in &counts {
                        tr {
                            td { a href={ "/dead-letters/" (segment(&dead.group)) } { (dead.group) } }
                            td.num { (dead.count) }
                            td { code { (dead.stream) } }
                        }
                    }
                }
            }
        }
        h2 { "What operators did" }
        @if actions.is_empty() {
            p.muted { "Nothing yet, since this dashboard started." }
        } @else {
            table {
                thead { tr { th { "When" } th { "Operator" } th { "What" } } }
                tbody {
                    @for action in &actions {
                        tr { td { (action.time.format("%Y-%m-%d %H:%M:%S UTC")) } td { (action.operator) } td { (action.what) } }
                    }
                }
            }
        }
    };
    Ok(Html(
        layout::page("Dead letters", Section::DeadLetters, &viewer, flash.as_deref(), body).into_string(),
    ))
}

/// What a group's page can be asked for.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    /// Only those with this reason.
    reason: Option<String>,
    /// At most this many.
    limit: Option<usize>,
}

/// `GET /dead-letters/<group>`.
pub async fn list(
    State(app): State<App>,
    Path(group): Path<String>,
    Query(query): Query<ListQuery>,
    headers: HeaderMap,
) -> Result<Html<String>, Problem> {
    let viewer = Viewer::of(&app, &headers);
    let dead_letters = DeadLetters::of(&app.session, &group);
    let total = dead_letters.count().await?;
    if total == 0 {
        let known = group_names(&app).await?;
        if !known.contains(&group) {
            return Err(no_such_group(&group, &known));
        }
    }
    let limit = query.limit.unwrap_or(LISTED).clamp(1, 10_000);
    // Up to COUNTED, one read gives both the counts by reason and the letters shown.
    let (reasons, letters) = if total <= COUNTED {
        let all = dead_letters.select(&Selection::All).await?;
        let mut reasons: BTreeMap<String, u64> = BTreeMap::new();
        for letter in &all {
            *reasons
                .entry(added(letter, dlq::REASON).unwrap_or("unknown").to_owned())
                .or_default() += 1;
        }
        let letters: Vec<Entry> = all
            .into_iter()
            .filter(|letter| is_of(letter, query.reason.as_deref()))
            .take(limit)
            .collect();
        (Some(reasons), letters)
    } else {
        (None, dead_letters.first(query.reason.as_deref(), limit).await?)
    };
    let shown = &letters[..];
    let flash = app.operators.take_flash(&headers);
    let base = format!("/dead-letters/{}", segment(&group));
    let body = html! {
        h1 { "Dead letters of " code { (group) } }
        p { (total) " in " code { (dead_letters.stream()) } "." }
        @if let Some(reasons) = &reasons {
            @if !reasons.is_empty() {
                h2 { "By reason" }
                table.reasons {
                    thead { tr { th { "Reason" } th.num { "Count" } th {} } }
                    tbody {
                        @for (reason, count) in reasons {
                            tr {
                                td { a href={ (base) "?reason=" (query_value(reason)) } { (reason) } }
                                td.num { (count) }
                                td { (reason_actions(&viewer, &base, reason)) }
                            }
                        }
                    }
                }
            }
        }
        @if let Some(reason) = &query.reason {
            p { "Showing those with reason " strong { (reason) } ". " a href=(base) { "Show all" } }
        }
        @if shown.is_empty() {
            p.muted { "None." }
        } @else {
            form method="post" action={ (base) "/replay" } {
                (form_key(&viewer))
                table.letters {
                    thead { tr {
                        th { input type="checkbox" data-select-all title="select all"; }
                        th { "Id" } th { "Type" } th { "Subject" } th { "Reason" } th.num { "Attempts" } th { "When" } th { "Error" }
                    } }
                    tbody {
                        @for letter in shown {
                            @let get = |name| added(letter, name).unwrap_or("–");
                            tr {
                                td { input type="checkbox" name="id" value=(letter.id); }
                                td { a href={ (base) "/" (segment(&letter.id)) } { code { (letter.id) } } }
                                td { (get("type")) }
                                td.subject { (get("subject")) }
                                td { (get(dlq::REASON)) }
                                td.num { (get(dlq::ATTEMPTS)) }
                                td { (get(dlq::TIME)) }
                                td.reason { (shorten(&Personal::Redacted.text(get(dlq::ERROR)), 120)) }
                            }
                        }
                    }
                }
                @if (shown.len() as u64) < total && query.reason.is_none() {
                    p.muted { (shown.len()) " of " (total) " shown, oldest first. " a href={ (base) "?limit=" (limit * 10) } { "Show more" } }
                }
                (selection_actions(&viewer, &base, &group, query.reason.as_deref()))
            }
        }
    };
    Ok(Html(
        layout::page(
            &format!("Dead letters of {group}"),
            Section::DeadLetters,
            &viewer,
            flash.as_deref(),
            body,
        )
        .into_string(),
    ))
}

/// The buttons for the selected dead letters, or all of them: all of the
/// reason the page is filtered by, when it is.
fn selection_actions(viewer: &Viewer, base: &str, group: &str, reason: Option<&str>) -> Markup {
    let (every, every_label) = match reason {
        Some(reason) => ("reason", format!("all with reason {reason}")),
        None => ("all", "all".to_owned()),
    };
    html! {
        @if viewer.operator.is_some() {
            div.actions {
                @if let Some(reason) = reason { input type="hidden" name="reason" value=(reason); }
                button type="submit" name="selection" value="selected" { "Replay selected" }
                button type="submit" name="selection" value=(every) { "Replay " (every_label) }
                span.purge {
                    label { "To purge, type the group's name: " input type="text" name="confirm" placeholder=(group) autocomplete="off"; }
                    button.danger type="submit" formaction={ (base) "/purge" } name="selection" value="selected" { "Purge selected" }
                    button.danger type="submit" formaction={ (base) "/purge" } name="selection" value=(every) { "Purge " (every_label) }
                }
            }
        } @else {
            (log_in_to_act(viewer))
        }
    }
}

/// The buttons for every dead letter of one reason.
fn reason_actions(viewer: &Viewer, base: &str, reason: &str) -> Markup {
    html! {
        @if viewer.operator.is_some() {
            form.inline method="post" action={ (base) "/replay" } {
                (form_key(viewer))
                input type="hidden" name="reason" value=(reason);
                button type="submit" name="selection" value="reason" { "Replay all " (reason) }
            }
        }
    }
}

/// Why there are no buttons.
fn log_in_to_act(viewer: &Viewer) -> Markup {
    html! {
        @if viewer.read_only {
            p.muted { "Read-only: start the dashboard with XERPIUM_DASHBOARD_TOKEN set to replay and purge." }
        } @else {
            p { a href="/login" { "Log in" } " to replay or purge." }
        }
    }
}

/// What the page of one dead letter can be asked for.
#[derive(Debug, Deserialize)]
pub struct OneQuery {
    /// `1` to show personal data (operators only).
    reveal: Option<String>,
}

/// `GET /dead-letters/<group>/<id>`.
pub async fn one(
    State(app): State<App>,
    Path((group, id)): Path<(String, String)>,
    Query(query): Query<OneQuery>,
    headers: HeaderMap,
) -> Result<Html<String>, Problem> {
    let viewer = Viewer::of(&app, &headers);
    let dead_letters = DeadLetters::of(&app.session, &group);
    let letter = dead_letters.one(&id).await?;
    let personal = if query.reveal.as_deref() == Some("1") {
        let operator = app.operators.reader(&headers)?;
        app.operators.record(
            &operator,
            format!("looked at the personal data of dead letter {id} of group {group}"),
        );
        Personal::Shown
    } else {
        Personal::Redacted
    };
    let base = format!("/dead-letters/{}", segment(&group));
    let body = html! {
        h1 { "Dead letter " code { (letter.id) } }
        p { "Of group " a href=(base) { (group) } ", in " code { (dead_letters.stream()) } "." }
        h2 { "Why" }
        table.fields {
            tbody {
                @for (name, value) in letter.fields().filter(|(name, _)| is_added(name)) {
                    tr { th { (name) } td { (personal.text(value)) } }
                }
            }
        }
        h2 { "The message" }
        (message(&letter, personal))
        @if personal == Personal::Redacted {
            p.muted {
                "Personal data (the fields the catalog marks pii) is hidden. "
                @if viewer.operator.is_some() {
                    a href="?reveal=1" { "Reveal it" } " (this is logged)."
                }
            }
        }
        @if viewer.operator.is_some() {
            form method="post" action={ (base) "/replay" } {
                (form_key(&viewer))
                input type="hidden" name="id" value=(letter.id);
                div.actions {
                    button type="submit" name="selection" value="selected" { "Replay it" }
                    span.purge {
                        label { "To purge, type the group's name: " input type="text" name="confirm" placeholder=(group) autocomplete="off"; }
                        button.danger type="submit" formaction={ (base) "/purge" } name="selection" value="selected" { "Purge it" }
                    }
                }
            }
        } @else {
            (log_in_to_act(&viewer))
        }
    };
    Ok(Html(
        layout::page(&format!("Dead letter {id}"), Section::DeadLetters, &viewer, None, body).into_string(),
    ))
}

/// The dead letter's message: its envelope and payload, decoded.
fn message(letter: &Entry, personal: Personal) -> Markup {
    let envelope = letter.envelope();
    html! {
        @match &envelope {
            Ok(envelope) => {
                table.fields {
                    tbody {
                        tr { th { "type" } td { (envelope.event_type) " v" (envelope.version) } }
                        tr { th { "id" } td { code { (envelope.id) } } }
                        tr { th { "subject" } td { (envelope.subject) } }
                        tr { th { "source" } td { (envelope.source) } }
                        tr { th { "time" } td { (envelope.time.to_rfc3339()) } }
                        tr { th { "correlation" } td { code { (envelope.correlation_id) } } }
                        @if let Some(causation) = &envelope.causation_id { tr { th { "causation" } td { code { (causation) } } } }
                        @if let Some(traceparent) = &envelope.traceparent { tr { th { "traceparent" } td { code { (traceparent) } } } }
                    }
                }
                @match tail::decode(envelope, personal) {
                    Ok(data) => { pre.payload { (serde_json::to_string_pretty(&data).unwrap_or_default()) } }
                    Err(error) => {
                        p.problem { "Cannot decode it: " (personal.text(&error)) }
                        @if personal == Personal::Shown {
                            pre.payload { (payload(&envelope.data)) }
                        } @else {
                            p.muted { (HIDDEN) }
                        }
                    }
                }
            }
            Err(_) if original(letter).next().is_none() => {
                p.muted { "Not kept: it was trimmed from its stream before it could be read." }
            }
            Err(error) => {
                p.problem { "Not a message: " (personal.text(&error.to_string())) }
                table.fields {
                    tbody {
                        @for (name, value) in original(letter) {
                            tr { th { (name) } td { @if personal == Personal::Shown || name != "data" { (shorten(value, 500)) } @else { (HIDDEN) } } }
                        }
                    }
                }
            }
        }
    }
}

/// A mutating form's fields, repeated ones (`id`) kept.
pub struct Fields(Vec<(String, String)>);

impl Fields {
    fn parse(body: &[u8]) -> Fields {
        Fields(form_urlencoded::parse(body).into_owned().collect())
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
            .collect()
    }

    /// The dead letters the form names: `selection=all`, `selection=reason`
    /// with `reason`, or `selection=selected` (or none) with `id`s.
    fn selection(&self) -> Result<Selection, Problem> {
        match (self.get("selection"), self.get("reason")) {
            (Some("all"), _) => Ok(Selection::All),
            (Some("reason"), Some(reason)) | (None, Some(reason)) if !reason.is_empty() => {
                Ok(Selection::Reason(reason.to_owned()))
            }
            (Some("reason"), _) => Err(Problem::bad_request("no reason given")),
            (Some("selected") | None, _) => {
                let ids = self.all("id");
                if ids.is_empty() {
                    Err(Problem::bad_request("no dead letter selected: tick the ones to act on"))
                } else {
                    Ok(Selection::Ids(ids))
                }
            }
            (Some(other), _) => Err(Problem::bad_request(format!(
                "unknown selection `{other}`: all, reason or selected"
            ))),
        }
    }
}

/// What `selection` names, for the action log.
fn described(selection: &Selection) -> String {
    match selection {
        Selection::All => "all".to_owned(),
        Selection::Reason(reason) => format!("those with reason {reason}"),
        Selection::Ids(ids) => ids.join(", "),
    }
}

/// A mutating request: who sent it, its headers, the form, and the dead
/// letters it names. Extracting it refuses a request whose sender may not act.
pub struct Request {
    operator: Operator,
    headers: HeaderMap,
    fields: Fields,
    selection: Selection,
}

impl FromRequest<App> for Request {
    type Rejection = Problem;

    async fn from_request(request: axum::extract::Request, app: &App) -> Result<Request, Problem> {
        let headers = request.headers().clone();
        let body = Bytes::from_request(request, app)
            .await
            .map_err(|rejection| Problem::bad_request(rejection.body_text()))?;
        let fields = Fields::parse(&body);
        let operator = match app.operators.authorize(&headers, fields.get("form_key")) {
            Ok(operator) => operator,
            Err(refusal) => {
                if refusal == Refusal::NotLoggedIn && headers.contains_key(AUTHORIZATION) {
                    tokio::time::sleep(WRONG_TOKEN_DELAY).await;
                }
                return Err(refusal.into());
            }
        };
        let selection = fields.selection()?;
        Ok(Request {
            operator,
            headers,
            fields,
            selection,
        })
    }
}

/// The answer to an action on `group`'s dead letters: JSON for a script
/// (bearer token), else back to the group's page with `done` shown there.
fn answer(app: &App, headers: &HeaderMap, group: &str, done: String, json: serde_json::Value) -> Response {
    if headers.contains_key(AUTHORIZATION) {
        return Json(json).into_response();
    }
    app.operators.set_flash(headers, done);
    Redirect::to(&format!("/dead-letters/{}", segment(group))).into_response()
}

/// Runs `action` on a task of its own, after the action before it ends:
/// it runs to its end even if the operator's browser goes away (a replay
/// stopped halfway would leave letters in both streams), and two actions
/// never work on the same dead letters at once (each would replay them).
async fn in_turn<T: Send + 'static>(app: &App, action: impl Future<Output = T> + Send + 'static) -> Result<T, Problem> {
    let app = app.clone();
    tokio::spawn(async move {
        let _turn = app.actions.lock().await;
        action.await
    })
    .await
    .map_err(|error| Problem::internal(format!("the action stopped: {error}")))
}

/// `POST /dead-letters/<group>/replay`: puts the selected dead letters back
/// on their streams (`keep=1`: and leaves them in the dead-letter stream).
pub async fn replay(State(app): State<App>, Path(group): Path<String>, request: Request) -> Result<Response, Problem> {
    let keep = request.fields.get("keep") == Some("1");
    let (job, job_group, selection) = (app.clone(), group.clone(), request.selection.clone());
    let outcome = in_turn(&app, async move {
        let dead_letters = DeadLetters::of(&job.session, &job_group);
        let letters = dead_letters.select(&selection).await?;
        Ok::<_, crate::error::Error>(dead_letters.replay(&letters, keep).await)
    })
    .await??;
    let mut done = format!("Replayed {} dead letter(s) of group {group}", outcome.replayed.len());
    if !outcome.refused.is_empty() {
        let refused: Vec<String> = outcome.refused.iter().map(|(id, why)| format!("{id}: {why}")).collect();
        done.push_str(&format!("; {} could not be: {}", refused.len(), refused.join("; ")));
    }
    if let Some(error) = &outcome.failed {
        done.push_str(&format!("; then Redis failed and the rest was not tried: {error}"));
    }
    app.operators.record(
        &request.operator,
        format!(
            "replayed dead letters of group {group} ({}): {done}",
            described(&request.selection)
        ),
    );
    if let Some(error) = outcome.failed {
        return Err(Problem::from(error).prefixed(&format!("Replayed {}, then: ", outcome.replayed.len())));
    }
    let replayed: Vec<serde_json::Value> = outcome
        .replayed
        .iter()
        .map(|done| json!({ "id": done.id, "stream": done.stream, "entry_id": done.entry_id }))
        .collect();
    let refused: Vec<serde_json::Value> = outcome
        .refused
        .iter()
        .map(|(id, why)| json!({ "id": id, "reason": why }))
        .collect();
    Ok(answer(
        &app,
        &request.headers,
        &group,
        done,
        json!({ "replayed": replayed, "refused": refused }),
    ))
}

/// `POST /dead-letters/<group>/purge`: deletes the selected dead letters;
/// the form must carry the group's name in `confirm`.
pub async fn purge(State(app): State<App>, Path(group): Path<String>, request: Request) -> Result<Response, Problem> {
    if request.fields.get("confirm") != Some(group.as_str()) {
        return Err(Problem::bad_request(format!(
            "nothing deleted: to purge, type the group's name (`{group}`) in the confirmation field"
        )));
    }
    let (job, job_group, selection) = (app.clone(), group.clone(), request.selection.clone());
    let deleted = in_turn(&app, async move {
        DeadLetters::of(&job.session, &job_group).purge(&selection).await
    })
    .await??;
    let done = format!("Deleted {deleted} dead letter(s) of group {group}");
    app.operators.record(
        &request.operator,
        format!(
            "purged dead letters of group {group} ({}): {done}",
            described(&request.selection)
        ),
    );
    Ok(answer(
        &app,
        &request.headers,
        &group,
        done,
        json!({ "deleted": deleted }),
    ))
}

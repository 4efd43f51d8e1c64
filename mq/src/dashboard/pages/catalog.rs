//! `/catalog`: the events, commands and notifications this build knows,
//! from the generated code, with their delivery policy and streams.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Html;
use maud::html;
use xerpium_events::{COMMANDS, EventType, NOTIFICATION_TARGETS, NotificationType};
use xerpium_messaging::health::format_duration;

use super::layout::{self, Section};
use super::{App, Viewer, segment};

/// `GET /catalog`.
pub async fn page(State(app): State<App>, headers: HeaderMap) -> Html<String> {
    let viewer = Viewer::of(&app, &headers);
    let keys = &app.session.keys;
    let body = html! {
        h1 { "Catalog" }
        p.muted { "What this build of xerpium-mq knows (generated from events.yaml). A service built from a newer catalog may publish types that are not here." }
        h2 { "Events" }
        table.catalog {
            thead { tr {
                th { "Type" } th { "What" } th { "Streams" } th.num { "Attempts" } th { "Retry backoff" } th { "Retention" } th.num { "Max length" }
            } }
            tbody {
                @for event in EventType::ALL {
                    @let category = event.category();
                    @let layout = event.layout();
                    @let policy = event.policy();
                    tr id=(event.as_str()) {
                        td { code { (event.as_str()) } " v" (event.version()) }
                        td { (event.summary()) }
                        td {
                            a href={ "/tail?category=" (segment(category.as_str())) } {
                                code { (keys.events(category.as_str())) @if layout.is_partitioned() { ":0…" (layout.partitions - 1) } }
                            }
                            @if layout.is_partitioned() { div.muted { (layout.partitions) " partitions by subject, ordered" } }
                        }
                        td.num { (policy.max_attempts) }
                        td { (format_duration(policy.backoff_first)) " doubling to " (format_duration(policy.backoff_max)) }
                        td { (format_duration(layout.retention)) }
                        td.num { (layout.max_len) }
                    }
                }
            }
        }
        h2 { "Commands" }
        @if COMMANDS.is_empty() {
            p.muted { "None." }
        } @else {
            table.catalog {
                thead { tr { th { "Command" } th { "What" } th { "Served by" } th { "Stream" } th { "Timeout" } } }
                tbody {
                    @for command in COMMANDS {
                        tr id=(command.name) {
                            td { code { (command.name) } " v" (command.version) }
                            td { (command.summary) }
                            td { (command.service) }
                            td { code { (keys.commands(command.service)) } }
                            td { (format_duration(command.timeout)) }
                        }
                    }
                }
            }
        }
        h2 { "Notifications" }
        @if NOTIFICATION_TARGETS.is_empty() {
            p.muted { "None." }
        } @else {
            p {
                "Sent over Pub/Sub (fire and forget) to "
                @for (n, target) in NOTIFICATION_TARGETS.iter().enumerate() {
                    @if n > 0 { ", " }
                    code { (keys.notify(target)) @if *target != "all" { ":<" (target) ">" } }
                }
                ", of the types "
                @for (n, kind) in NotificationType::ALL.iter().enumerate() {
                    @if n > 0 { ", " }
                    code { (kind.as_str()) }
                }
                "."
            }
        }
    };
    Html(layout::page("Catalog", Section::Catalog, &viewer, None, body).into_string())
}

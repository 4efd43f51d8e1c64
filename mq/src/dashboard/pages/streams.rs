//! `/streams`: every stream of the namespace, as `xerpium-mq streams`
//! shows them: length, groups, memory, first and last entry.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Html;
use maud::html;

use super::layout::{self, Section};
use super::{App, Viewer, segment};
use crate::dashboard::history::category_of;
use crate::dashboard::problem::Problem;
use crate::error::Error;
use crate::output::{bytes, count_or_unknown};

/// `GET /streams`.
pub async fn page(State(app): State<App>, headers: HeaderMap) -> Result<Html<String>, Problem> {
    let viewer = Viewer::of(&app, &headers);
    let streams = app.monitor.streams().await.map_err(Error::from)?;
    let keys = &app.session.keys;
    let body = html! {
        h1 { "Streams" }
        @if streams.is_empty() {
            p.muted { "No stream in this namespace yet." }
        } @else {
            table {
                thead { tr {
                    th { "Stream" } th.num { "Length" } th.num { "Ever added" } th.num { "Groups" } th.num { "Memory" }
                    th { "First entry" } th { "Last entry" } th {}
                } }
                tbody {
                    @for stream in &streams {
                        tr id=(stream.key) {
                            td { code { (stream.key) } }
                            td.num { (stream.length) }
                            td.num { (count_or_unknown(stream.entries_added)) }
                            td.num { (stream.groups) }
                            td.num { (stream.memory.map_or_else(|| "?".to_owned(), bytes)) }
                            td { @if let Some(first) = &stream.first { code { (first.id) } } @else { "–" } }
                            td { @if let Some(last) = &stream.last { code { (last.id) } " " span.muted { (last.time.format("%Y-%m-%d %H:%M:%S")) } } @else { "–" } }
                            td {
                                @if let Some(category) = category_of(keys, &stream.key) {
                                    a href={ "/tail?category=" (segment(category)) } { "tail" }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(Html(
        layout::page("Streams", Section::Streams, &viewer, None, body).into_string(),
    ))
}

//! The style sheet and the script, compiled into the binary: the dashboard
//! needs nothing from anywhere else.

use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};

use super::problem::Problem;

/// The style sheet.
const STYLE: &str = include_str!("assets/style.css");
/// The script: live refresh, charts, the tail.
const SCRIPT: &str = include_str!("assets/app.js");

/// `/assets/<file>`.
pub async fn serve(Path(file): Path<String>) -> Result<Response, Problem> {
    let (body, kind) = match file.as_str() {
        "style.css" => (STYLE, "text/css; charset=utf-8"),
        "app.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        _ => return Err(Problem::not_found(format!("no asset `{file}`"))),
    };
    Ok(([(CONTENT_TYPE, kind), (CACHE_CONTROL, "no-cache")], body).into_response())
}

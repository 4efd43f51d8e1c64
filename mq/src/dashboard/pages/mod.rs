//! The pages, each in its module, and what they share: who is looking, how
//! names go into links, how times and rates read.

pub mod catalog;
pub mod dead_letters;
pub mod group;
pub mod layout;
pub mod login;
pub mod overview;
pub mod streams;
pub mod tail;

use axum::http::{HeaderMap, Uri};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::operator::Operator;
use super::problem::Problem;
use super::{App, Dashboard};

/// Who is looking at a page.
pub struct Viewer {
    /// The logged-in operator, if any.
    pub operator: Option<Operator>,
    /// Whether the dashboard runs without a token.
    pub read_only: bool,
    /// The namespace shown.
    pub namespace: String,
}

impl Viewer {
    /// Who sent `headers`.
    pub fn of(dashboard: &Dashboard, headers: &HeaderMap) -> Viewer {
        Viewer {
            operator: dashboard.operators.session(headers),
            read_only: dashboard.operators.is_read_only(),
            namespace: dashboard.session.keys.namespace().to_owned(),
        }
    }
}

/// What a path segment keeps as it is: letters, digits and RFC 3986's
/// other unreserved characters (`-`, `.`, `_`, `~`).
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// `text` as one path segment of a link.
pub fn segment(text: &str) -> String {
    utf8_percent_encode(text, UNRESERVED).to_string()
}

/// `text` as a query value.
pub fn query_value(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// A rate per second for people (`12.5/s`), `–` when not known yet.
pub fn rate(rate: Option<f64>) -> String {
    match rate {
        Some(rate) if rate >= 10.0 => format!("{rate:.0}/s"),
        Some(rate) => format!("{rate:.1}/s"),
        None => "–".to_owned(),
    }
}

/// Any path that is no page.
pub async fn not_found(uri: Uri) -> Problem {
    let problem = Problem::not_found(format!("there is no page at {}", uri.path()));
    if uri.path().starts_with("/api/") {
        problem.in_json()
    } else {
        problem
    }
}

/// The dashboard's groups, by name: for "no such group" messages.
pub async fn group_names(app: &App) -> Result<Vec<String>, Problem> {
    let groups = app.monitor.groups().await.map_err(crate::error::Error::from)?;
    let mut names: Vec<String> = groups.into_iter().map(|group| group.group).collect();
    names.sort();
    names.dedup();
    Ok(names)
}

/// The problem of a group that does not exist, naming those that do.
pub fn no_such_group(name: &str, known: &[String]) -> Problem {
    let known = if known.is_empty() {
        "there are none yet".to_owned()
    } else {
        format!("the groups are: {}", known.join(", "))
    };
    Problem::not_found(format!("no consumer group `{name}` in this namespace; {known}"))
}

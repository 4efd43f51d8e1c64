//! What a request that cannot be answered gets: a status and a message
//! for people (a page, or JSON for `/api/…`), never a stack trace.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde_json::json;

use super::operator::Refusal;
use super::pages::layout;
use crate::error::Error;

/// A request that cannot be answered, and why.
#[derive(Debug)]
pub struct Problem {
    status: StatusCode,
    message: String,
    json: bool,
}

impl Problem {
    /// `404 Not Found`.
    pub fn not_found(message: impl Into<String>) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, message)
    }

    /// `400 Bad Request`.
    pub fn bad_request(message: impl Into<String>) -> Problem {
        Problem::new(StatusCode::BAD_REQUEST, message)
    }

    /// `403 Forbidden`, or `401` when logging in would help.
    pub fn refused(refusal: &Refusal) -> Problem {
        let status = match refusal {
            Refusal::NotLoggedIn => StatusCode::UNAUTHORIZED,
            Refusal::ReadOnly | Refusal::CrossSite => StatusCode::FORBIDDEN,
        };
        Problem::new(status, refusal.message())
    }

    /// `421 Misdirected Request`: for a host this dashboard is not.
    pub fn misdirected(message: impl Into<String>) -> Problem {
        Problem::new(StatusCode::MISDIRECTED_REQUEST, message)
    }

    /// `500 Internal Server Error`: something of the dashboard's own failed.
    pub fn internal(message: impl Into<String>) -> Problem {
        Problem::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// The same, its message after `before` (what was done first).
    pub fn prefixed(mut self, before: &str) -> Problem {
        self.message.insert_str(0, before);
        self
    }

    fn new(status: StatusCode, message: impl Into<String>) -> Problem {
        Problem {
            status,
            message: message.into(),
            json: false,
        }
    }

    /// The same, answered as JSON (`{"error": …}`).
    pub fn in_json(mut self) -> Problem {
        self.json = true;
        self
    }
}

impl From<Error> for Problem {
    fn from(error: Error) -> Problem {
        let status = match &error {
            Error::NoSuchDeadLetter { .. } => StatusCode::NOT_FOUND,
            Error::Unreachable { .. } | Error::Redis { .. } | Error::Monitor(_) => StatusCode::BAD_GATEWAY,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Problem::new(status, error.to_string())
    }
}

impl From<Refusal> for Problem {
    fn from(refusal: Refusal) -> Problem {
        Problem::refused(&refusal)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        if self.json {
            return (self.status, Json(json!({ "error": self.message }))).into_response();
        }
        let title = self.status.canonical_reason().unwrap_or("Error");
        (self.status, Html(layout::problem(title, &self.message).into_string())).into_response()
    }
}

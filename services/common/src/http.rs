//! HTTP plumbing shared by the services: the request id (`X-Request-ID`,
//! the correlation id of every event a request causes), the request's span
//! (in the caller's trace when it sends `traceparent`), JSON errors, and
//! serving a router until shutdown.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tokio::net::TcpListener;
use tracing::Instrument;
use xerpium_events::PublishContext;
use xerpium_events::messaging::envelope::field::{TRACEPARENT, TRACESTATE};
use xerpium_events::messaging::telemetry::trace;

use crate::db::DbError;
use crate::health::Health;
use crate::outbox::Outbox;
use crate::shutdown::Shutdown;

/// The request id header, read from requests and set on every response.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the current request: the caller's `X-Request-ID` when it is
/// usable (1 to 128 characters of `A-Z a-z 0-9 - _ . :`), a new UUIDv7
/// otherwise. Events published because of the request carry it as their
/// correlation id, and the response returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

impl RequestId {
    /// The publish context of events this request causes.
    pub fn context(&self) -> PublishContext {
        PublishContext::new().with_correlation_id(self.0.clone())
    }

    fn from_header(value: Option<&HeaderValue>) -> RequestId {
        let given = value.and_then(|value| value.to_str().ok()).map(str::trim).filter(|id| {
            (1..=128).contains(&id.len())
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
        });
        RequestId(given.map_or_else(|| uuid::Uuid::now_v7().to_string(), str::to_owned))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(|| RequestId::from_header(parts.headers.get(REQUEST_ID))))
    }
}

/// Middleware: settles the request id, hands it to handlers (as the
/// [`RequestId`] extractor) and returns it in the response. The request
/// runs in an `http_request` span (method, path, request id, status),
/// continuing the W3C trace context of its `traceparent` and `tracestate`
/// headers when it has them: the events it publishes carry that span.
pub async fn request_id(mut request: Request, next: Next) -> Response {
    let id = RequestId::from_header(request.headers().get(REQUEST_ID));
    let span = tracing::info_span!(
        "http_request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id = %id.0,
        status = tracing::field::Empty,
    );
    let headers = request.headers();
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    trace::continue_trace(&span, header(TRACEPARENT), header(TRACESTATE));
    request.extensions_mut().insert(id.clone());
    let mut response = next.run(request).instrument(span.clone()).await;
    span.record("status", response.status().as_u16());
    if let Ok(value) = HeaderValue::from_str(&id.0) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

/// An error answered as `{"error": "…"}` with its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong, for the caller.
    pub message: String,
}

impl ApiError {
    /// An error with `status` and `message`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    /// 400: the request is malformed.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 401: no valid credentials.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    /// 403: the caller may not do this.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    /// 404: no such thing.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// 409: it conflicts with what exists.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }

    /// 422: well-formed but not acceptable.
    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, message)
    }

    /// 500: logged in full, answered without details.
    pub fn internal(error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "request failed");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    }
}

impl From<DbError> for ApiError {
    fn from(error: DbError) -> Self {
        ApiError::internal(error)
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(error: rusqlite::Error) -> Self {
        ApiError::internal(error)
    }
}

impl From<xerpium_events::PublishError> for ApiError {
    fn from(error: xerpium_events::PublishError) -> Self {
        ApiError::internal(error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        #[derive(Serialize)]
        struct Body {
            error: String,
        }
        (self.status, axum::Json(Body { error: self.message })).into_response()
    }
}

/// Serves `router` (with the request-id middleware) on `listener` until
/// `shutdown`, then lets open requests finish. Handlers can read the
/// client's address with `ConnectInfo<SocketAddr>`.
pub async fn serve(listener: TcpListener, router: Router, shutdown: Shutdown) -> std::io::Result<()> {
    let router = router.layer(axum::middleware::from_fn(request_id));
    axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown.wait())
        .await
}

/// A publishing service's `GET /health`: `health`'s answer (see
/// [`crate::health`]; 200 `{"status": "ok", …}` or 503 naming the failing
/// checks) with `"outbox_pending": n`, the events its outbox still holds.
pub async fn health(outbox: &Outbox, health: &Health) -> Result<Response, ApiError> {
    let mut fields = serde_json::Map::new();
    fields.insert("outbox_pending".into(), outbox.pending().await?.into());
    Ok(health.answer(fields))
}

/// Binds a TCP listener on `address`, naming it in the error.
pub async fn bind(address: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(address)
        .await
        .map_err(|error| std::io::Error::new(error.kind(), format!("cannot listen on {address}: {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usable_request_ids_are_kept_and_others_replaced() {
        let keep = HeaderValue::from_static("req-42.a:b_c");
        assert_eq!(RequestId::from_header(Some(&keep)).0, "req-42.a:b_c");
        for bad in ["", "has space", "semi;colon", &"x".repeat(129)] {
            let value = HeaderValue::from_str(bad).expect("header");
            let id = RequestId::from_header(Some(&value)).0;
            assert_ne!(id, bad);
            assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
        }
        assert!(uuid::Uuid::parse_str(&RequestId::from_header(None).0).is_ok());
    }
}

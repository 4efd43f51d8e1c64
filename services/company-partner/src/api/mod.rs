//! The HTTP API: one module per resource, and the router.
//!
//! | method and path | what |
//! |---|---|
//! | `POST /companies` | create a company (`company.created`) |
//! | `GET /companies/{id}` | a company |
//! | `PATCH /companies/{id}` | change it (`company.updated`) |
//! | `POST /companies/{id}/deactivate` | deactivate it (`company.deactivated`) |
//! | `POST /companies/{id}/currencies` | enable a currency for it (`currency.activated`) |
//! | `POST /companies/{id}/partners` | create a partner of it (`partner.created`) |
//! | `GET /partners/{id}` | a partner |
//! | `PATCH /partners/{id}` | change it (`partner.updated`) |
//! | `POST /partners/{id}/archive` | archive it (`partner.archived`) |
//! | `POST /currency-rates` | record an exchange rate (`currency.rate_updated`) |
//! | `GET /currency-rates/{base}/{quote}` | the latest rate of a pair (`?on=YYYY-MM-DD`: valid on that day) |
//! | `GET /health` | 200 `{"status": "ok", "outbox_pending": n, "checks": […]}`; 503 naming the failing checks when the command server is stopped, stuck or not reading (see below) |
//!
//! Writes name who acts in `X-User-ID` (a UUID): the service trusts the
//! gateway in front of it to have authenticated that user. Decimals
//! (rates, amounts) are JSON strings, never numbers. Every response carries
//! `X-Request-ID`, the correlation id of the events the request caused.
//!
//! # Health
//! `GET /health` answers from the heartbeat's latest report (one every 5 s;
//! see [`xerpium_service::health`]), with `outbox_pending` (events not yet
//! published) in every answer: 200 `ok` while the command server reads and
//! settles; 503 `unhealthy`, its check named in `failing` (`consumer
//! company-partner/<consumer>` and what is wrong), when it is stopped, stuck
//! (holds commands, settles none for a minute) or not reading. A command
//! server that ends on its own stops the whole process (exit code 1).
//!
//! Redis down: writes keep working (their events wait in the
//! outbox), so an outage alone is no failure: 200 `degraded`, the `redis`
//! check failing. The command server cannot read commands meanwhile: once
//! it has not read for (block + publish timeout) × 2, 20 s at the defaults,
//! `/health` answers 503 naming it, although the API still takes requests,
//! and 200 again at the first beat after a read comes back.

mod companies;
mod partners;
mod rates;

use axum::Router;
use axum::extract::{FromRequestParts, State};
use axum::http::HeaderName;
use axum::http::request::Parts;
use axum::response::Response;
use axum::routing::{get, post};
use uuid::Uuid;
use xerpium_service::{ApiError, http};

use crate::AppState;

/// The header naming the acting user.
pub const USER_ID: HeaderName = HeaderName::from_static("x-user-id");

/// The service's routes.
pub fn router(app: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/companies", post(companies::create))
        .route("/companies/{id}", get(companies::get).patch(companies::update))
        .route("/companies/{id}/deactivate", post(companies::deactivate))
        .route("/companies/{id}/currencies", post(companies::activate_currency))
        .route("/companies/{id}/partners", post(partners::create))
        .route("/partners/{id}", get(partners::get).patch(partners::update))
        .route("/partners/{id}/archive", post(partners::archive))
        .route("/currency-rates", post(rates::record))
        .route("/currency-rates/{base}/{quote}", get(rates::latest))
        .with_state(app)
}

async fn health(State(app): State<AppState>) -> Result<Response, ApiError> {
    http::health(&app.outbox, &app.health).await
}

/// The acting user, from `X-User-ID`; 401 without it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for Actor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        parts
            .headers
            .get(USER_ID)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| Uuid::parse_str(value.trim()).ok())
            .map(Actor)
            .ok_or_else(|| ApiError::unauthorized("name the acting user in X-User-ID (a UUID)"))
    }
}

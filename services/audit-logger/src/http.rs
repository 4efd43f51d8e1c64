//! The query API: `GET /audit` with the [`Filter`] as query parameters
//! (`subject`, `type`, `correlation_id`, `since`, `until`, `limit`) answers
//! the matching records as a JSON array, in trail order.
//!
//! `GET /health` answers from the heartbeat's latest report (see
//! [`xerpium_service::health`]): 200 `{"status": "ok", "checks": […]}`
//! while the consumer reads and settles; 503 `{"status": "unhealthy",
//! "failing": [{"name": "consumer audit-logger/…", "detail": …}], …}` when
//! it is stopped, stuck (holds events, records none for a minute) or not
//! reading. Redis down: 200 `degraded` at first (nothing to record is no
//! fault), 503 naming the consumer once it has not read for (block +
//! publish timeout) × 2, 20 s at the defaults, until Redis is back.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use xerpium_service::{ApiError, Database, Health};

use crate::filter::Filter;
use crate::trail::{self, Record};

/// The routes, reading `db`, with `health` answering `GET /health`.
pub fn router(db: Database, health: Health) -> Router {
    Router::new().route("/audit", get(audit)).with_state(db).route(
        "/health",
        get(move || std::future::ready(health.answer(serde_json::Map::new()))),
    )
}

async fn audit(State(db): State<Database>, Query(filter): Query<Filter>) -> Result<Json<Vec<Record>>, ApiError> {
    let records = db
        .run(move |c| trail::query(c, &filter).map_err(ApiError::from))
        .await?;
    Ok(Json(records))
}

//! The query API: `GET /audit` with the [`Filter`] as query parameters
//! (`subject`, `type`, `correlation_id`, `since`, `until`, `limit`) answers
//! the matching records as a JSON array, in trail order; `GET /health`.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use xerpium_service::{ApiError, Database};

use crate::filter::Filter;
use crate::trail::{self, Record};

/// The routes, reading `db`.
pub fn router(db: Database) -> Router {
    Router::new()
        .route("/audit", get(audit))
        .route("/health", get(health))
        .with_state(db)
}

async fn audit(State(db): State<Database>, Query(filter): Query<Filter>) -> Result<Json<Vec<Record>>, ApiError> {
    let records = db
        .run(move |c| trail::query(c, &filter).map_err(ApiError::from))
        .await?;
    Ok(Json(records))
}

async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

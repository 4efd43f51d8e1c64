//! Exchange rates: record one (`currency.rate_updated`, with the rate it
//! replaces), read the latest of a pair.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use xerpium_events::{CurrencyRateUpdated, PublishEvents};
use xerpium_service::db::column::now;
use xerpium_service::{ApiError, RequestId, decimal};

use super::Actor;
use crate::store::{self, Rate};
use crate::{AppState, codes};

/// A rate to record.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRate {
    base: String,
    quote: String,
    /// Units of `quote` per unit of `base`, as a decimal string.
    #[serde(deserialize_with = "decimal::from_string")]
    rate: Decimal,
    /// The day it applies to; today (UTC) when absent.
    #[serde(default)]
    valid_on: Option<NaiveDate>,
    /// Where it comes from; `manual` when absent.
    #[serde(default)]
    source: Option<String>,
}

/// A recorded rate, with the one it replaced.
#[derive(Debug, Serialize)]
pub struct Recorded {
    /// `BASE/QUOTE`.
    pub pair: String,
    /// The rate as recorded.
    #[serde(flatten)]
    pub rate: Rate,
    /// The latest rate of the pair before this one.
    pub previous_rate: Option<Decimal>,
}

/// Records a rate: 201; publishes `currency.rate_updated`.
pub async fn record(
    State(app): State<AppState>,
    request: RequestId,
    Actor(actor): Actor,
    Json(body): Json<NewRate>,
) -> Result<(StatusCode, Json<Recorded>), ApiError> {
    let base = codes::currency(&body.base)?;
    let quote = codes::currency(&body.quote)?;
    if base == quote {
        return Err(ApiError::unprocessable("a rate needs two different currencies"));
    }
    if body.rate <= Decimal::ZERO {
        return Err(ApiError::unprocessable("a rate must be above zero"));
    }
    let source = body
        .source
        .map(|source| source.trim().to_owned())
        .filter(|source| !source.is_empty());
    let rate = Rate {
        base,
        quote,
        rate: body.rate.normalize(),
        valid_on: body.valid_on.unwrap_or_else(|| Utc::now().date_naive()),
        source: source.unwrap_or_else(|| "manual".to_owned()),
        recorded_by: Some(actor),
        recorded_at: now(),
    };
    let mut tx = app.outbox.begin().await?;
    let stored = rate.clone();
    let previous = tx
        .run(move |c| {
            let previous = store::latest_rate(c, &stored.base, &stored.quote, None)?;
            store::insert_rate(c, &stored)?;
            Ok::<_, ApiError>(previous.map(|previous| previous.rate))
        })
        .await?;
    let pair = format!("{}/{}", rate.base, rate.quote);
    let event = CurrencyRateUpdated {
        pair: pair.clone(),
        base: rate.base.clone(),
        quote: rate.quote.clone(),
        rate: rate.rate,
        previous_rate: previous,
        source: rate.source.clone(),
        valid_on: rate.valid_on,
        recorded_by: rate.recorded_by,
        recorded_at: rate.recorded_at,
    };
    tx.events().currency_rate_updated(&event, &request.context()).await?;
    tx.commit().await?;
    let recorded = Recorded {
        pair,
        rate,
        previous_rate: previous,
    };
    Ok((StatusCode::CREATED, Json(recorded)))
}

/// Which day's rate to read.
#[derive(Debug, Default, Deserialize)]
pub struct On {
    #[serde(default)]
    on: Option<NaiveDate>,
}

/// The latest rate of a pair (valid on `?on=` when given); 404 without one.
pub async fn latest(
    State(app): State<AppState>,
    Path((base, quote)): Path<(String, String)>,
    Query(On { on }): Query<On>,
) -> Result<Json<Rate>, ApiError> {
    let (base, quote) = (codes::currency(&base)?, codes::currency(&quote)?);
    app.db
        .run(move |c| store::latest_rate(c, &base, &quote, on).map_err(ApiError::from))
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("no rate is recorded for this pair"))
}

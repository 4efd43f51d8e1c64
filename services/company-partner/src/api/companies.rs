//! Companies: create, read, change, deactivate, and enable currencies.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use uuid::Uuid;
use xerpium_events::{
    Address, Company, CompanyCreated, CompanyDeactivated, CompanyUpdated, CurrencyActivated, PublishEvents,
};
use xerpium_service::db::column::now;
use xerpium_service::outbox::OutboxTransaction;
use xerpium_service::{ApiError, RequestId, changes, patch};

use xerpium_service::input::{Reason, name, optional_text};

use super::Actor;
use crate::{AppState, codes, store};

/// A new company.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCompany {
    name: String,
    legal_name: String,
    #[serde(default)]
    vat_number: Option<String>,
    currency: String,
    #[serde(default)]
    address: Option<Address>,
}

/// Creates a company: 201 with it; publishes `company.created`.
pub async fn create(
    State(app): State<AppState>,
    request: RequestId,
    Actor(actor): Actor,
    Json(body): Json<NewCompany>,
) -> Result<(StatusCode, Json<Company>), ApiError> {
    let company = Company {
        company_id: Uuid::now_v7(),
        name: name("name", &body.name)?,
        legal_name: name("legal_name", &body.legal_name)?,
        vat_number: optional_text(body.vat_number)?,
        currency: codes::currency(&body.currency)?,
        address: body.address.map(address).transpose()?,
        active: true,
    };
    let mut tx = app.outbox.begin().await?;
    save(&mut tx, &company).await?;
    let event = CompanyCreated {
        company_id: company.company_id,
        name: company.name.clone(),
        legal_name: company.legal_name.clone(),
        vat_number: company.vat_number.clone(),
        currency: company.currency.clone(),
        address: company.address.clone(),
        created_by: actor,
        created_at: now(),
    };
    tx.events().company_created(&event, &request.context()).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(company)))
}

/// A company.
pub async fn get(State(app): State<AppState>, Path(id): Path<Uuid>) -> Result<Json<Company>, ApiError> {
    app.db
        .run(move |c| store::company(c, id).map_err(ApiError::from))
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("no such company"))
}

/// Company fields to change; absent ones stay, `null` clears an optional one.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompanyChange {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    legal_name: Option<String>,
    #[serde(default, deserialize_with = "patch::nullable")]
    vat_number: Option<Option<String>>,
    #[serde(default)]
    currency: Option<String>,
    #[serde(default, deserialize_with = "patch::nullable")]
    address: Option<Option<Address>>,
}

/// Changes a company; publishes `company.updated` with what changed.
pub async fn update(
    State(app): State<AppState>,
    request: RequestId,
    Actor(actor): Actor,
    Path(id): Path<Uuid>,
    Json(body): Json<CompanyChange>,
) -> Result<Json<Company>, ApiError> {
    let name_change = body.name.as_deref().map(|text| name("name", text)).transpose()?;
    let legal_name = body
        .legal_name
        .as_deref()
        .map(|text| name("legal_name", text))
        .transpose()?;
    let vat_number = body.vat_number.map(optional_text).transpose()?;
    let currency = body.currency.as_deref().map(codes::currency).transpose()?;
    let address_change = body.address.map(|value| value.map(address).transpose()).transpose()?;

    let mut tx = app.outbox.begin().await?;
    let before = company(&mut tx, id).await?;
    let mut after = before.clone();
    patch::apply(&mut after.name, name_change);
    patch::apply(&mut after.legal_name, legal_name);
    patch::apply(&mut after.vat_number, vat_number);
    patch::apply(&mut after.currency, currency);
    patch::apply(&mut after.address, address_change);
    let changes = changes::diff(&before, &after).map_err(ApiError::internal)?;
    if changes.is_empty() {
        return Ok(Json(after));
    }
    save(&mut tx, &after).await?;
    let event = CompanyUpdated {
        company_id: id,
        changes,
        updated_by: actor,
        updated_at: now(),
    };
    tx.events().company_updated(&event, &request.context()).await?;
    tx.commit().await?;
    Ok(Json(after))
}

/// Deactivates a company; publishes `company.deactivated`; 409 when it is inactive already.
pub async fn deactivate(
    State(app): State<AppState>,
    request: RequestId,
    Actor(actor): Actor,
    Path(id): Path<Uuid>,
    body: Option<Json<Reason>>,
) -> Result<Json<Company>, ApiError> {
    let reason = body.map_or(Ok(None), |Json(body)| body.text())?;
    let mut tx = app.outbox.begin().await?;
    let mut company = company(&mut tx, id).await?;
    if !company.active {
        return Err(ApiError::conflict("the company is inactive already"));
    }
    company.active = false;
    save(&mut tx, &company).await?;
    let event = CompanyDeactivated {
        company_id: id,
        reason,
        deactivated_by: actor,
        deactivated_at: now(),
    };
    tx.events().company_deactivated(&event, &request.context()).await?;
    tx.commit().await?;
    Ok(Json(company))
}

/// A currency to enable, with its minor-unit digits (ISO 4217's by default).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Activation {
    currency: String,
    #[serde(default)]
    decimals: Option<u32>,
}

/// Enables a currency for a company's documents: 201; publishes
/// `currency.activated`; 409 when it is enabled already.
pub async fn activate_currency(
    State(app): State<AppState>,
    request: RequestId,
    Actor(actor): Actor,
    Path(id): Path<Uuid>,
    Json(body): Json<Activation>,
) -> Result<StatusCode, ApiError> {
    let currency = codes::currency(&body.currency)?;
    let decimals = body.decimals.unwrap_or_else(|| codes::minor_units(&currency));
    if decimals > 8 {
        return Err(ApiError::unprocessable("decimals must be 0 to 8"));
    }
    let mut tx = app.outbox.begin().await?;
    company(&mut tx, id).await?;
    let code = currency.clone();
    let added = tx
        .run(move |c| store::activate_currency(c, id, &code, decimals))
        .await?;
    if !added {
        return Err(ApiError::conflict("the currency is enabled already"));
    }
    let event = CurrencyActivated {
        company_id: id,
        currency,
        decimals,
        activated_by: actor,
        activated_at: now(),
    };
    tx.events().currency_activated(&event, &request.context()).await?;
    tx.commit().await?;
    Ok(StatusCode::CREATED)
}

/// The company `id` inside a transaction, or 404.
pub(super) async fn company(tx: &mut OutboxTransaction, id: Uuid) -> Result<Company, ApiError> {
    tx.run(move |c| store::company(c, id).map_err(ApiError::from))
        .await?
        .ok_or_else(|| ApiError::not_found("no such company"))
}

/// An address with its country code checked.
pub(super) fn address(mut address: Address) -> Result<Address, ApiError> {
    address.country = codes::country(&address.country)?;
    Ok(address)
}

/// Stores `company` in the transaction.
async fn save(tx: &mut OutboxTransaction, company: &Company) -> Result<(), ApiError> {
    let stored = company.clone();
    Ok(tx.run(move |c| store::put_company(c, &stored)).await?)
}

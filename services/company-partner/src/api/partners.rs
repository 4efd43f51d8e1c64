//! Partners of a company: create, read, change, archive.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use rust_decimal::Decimal;
use serde::Deserialize;
use uuid::Uuid;
use xerpium_events::{Address, Money, PartnerArchived, PartnerCreated, PartnerKind, PartnerUpdated, PublishEvents};
use xerpium_service::db::column::now;
use xerpium_service::outbox::OutboxTransaction;
use xerpium_service::{ApiError, RequestId, changes, decimal, patch};

use super::companies::{address, company};
use xerpium_service::input::{Reason, known, name, optional_text};

use super::Actor;
use crate::store::{self, Partner};
use crate::{AppState, codes};

/// An amount as a request gives it: the amount as a decimal string.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Amount {
    #[serde(deserialize_with = "decimal::from_string")]
    amount: Decimal,
    currency: String,
}

impl Amount {
    fn money(self) -> Result<Money, ApiError> {
        if self.amount.is_sign_negative() {
            return Err(ApiError::unprocessable("a credit limit cannot be negative"));
        }
        Ok(Money {
            amount: self.amount,
            currency: codes::currency(&self.currency)?,
        })
    }
}

/// A new partner.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPartner {
    kind: PartnerKind,
    name: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    vat_number: Option<String>,
    #[serde(default)]
    address: Option<Address>,
    #[serde(default)]
    credit_limit: Option<Amount>,
    #[serde(default)]
    payment_terms_days: Option<u32>,
}

/// Creates a partner of an active company: 201 with it; publishes `partner.created`.
pub async fn create(
    State(app): State<AppState>,
    request: RequestId,
    Actor(actor): Actor,
    Path(company_id): Path<Uuid>,
    Json(body): Json<NewPartner>,
) -> Result<(StatusCode, Json<Partner>), ApiError> {
    let partner = Partner {
        partner_id: Uuid::now_v7(),
        company_id,
        kind: known("kind", body.kind, PartnerKind::ALL)?,
        name: name("name", &body.name)?,
        email: optional_text(body.email)?,
        phone: optional_text(body.phone)?,
        vat_number: optional_text(body.vat_number)?,
        address: body.address.map(address).transpose()?,
        credit_limit: body.credit_limit.map(Amount::money).transpose()?,
        payment_terms_days: terms(body.payment_terms_days.unwrap_or(30))?,
        archived: false,
    };
    let mut tx = app.outbox.begin().await?;
    if !company(&mut tx, company_id).await?.active {
        return Err(ApiError::unprocessable("the company is inactive"));
    }
    save(&mut tx, &partner).await?;
    let event = PartnerCreated {
        partner_id: partner.partner_id,
        company_id,
        kind: partner.kind.clone(),
        name: partner.name.clone(),
        email: partner.email.clone(),
        phone: partner.phone.clone(),
        vat_number: partner.vat_number.clone(),
        address: partner.address.clone(),
        credit_limit: partner.credit_limit.clone(),
        payment_terms_days: partner.payment_terms_days,
        created_by: actor,
        created_at: now(),
    };
    tx.events().partner_created(&event, &request.context()).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(partner)))
}

/// A partner.
pub async fn get(State(app): State<AppState>, Path(id): Path<Uuid>) -> Result<Json<Partner>, ApiError> {
    app.db
        .run(move |c| store::partner(c, id).map_err(ApiError::from))
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("no such partner"))
}

/// Partner fields to change; absent ones stay, `null` clears an optional one.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartnerChange {
    #[serde(default)]
    kind: Option<PartnerKind>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default, deserialize_with = "patch::nullable")]
    email: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch::nullable")]
    phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch::nullable")]
    vat_number: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch::nullable")]
    address: Option<Option<Address>>,
    #[serde(default, deserialize_with = "patch::nullable")]
    credit_limit: Option<Option<Amount>>,
    #[serde(default)]
    payment_terms_days: Option<u32>,
}

/// Changes a partner; publishes `partner.updated` with what changed.
pub async fn update(
    State(app): State<AppState>,
    request: RequestId,
    Actor(actor): Actor,
    Path(id): Path<Uuid>,
    Json(body): Json<PartnerChange>,
) -> Result<Json<Partner>, ApiError> {
    let kind = body
        .kind
        .map(|kind| known("kind", kind, PartnerKind::ALL))
        .transpose()?;
    let name_change = body.name.as_deref().map(|text| name("name", text)).transpose()?;
    let email = body.email.map(optional_text).transpose()?;
    let phone = body.phone.map(optional_text).transpose()?;
    let vat_number = body.vat_number.map(optional_text).transpose()?;
    let address_change = body.address.map(|value| value.map(address).transpose()).transpose()?;
    let credit_limit = body
        .credit_limit
        .map(|value| value.map(Amount::money).transpose())
        .transpose()?;
    let payment_terms_days = body.payment_terms_days.map(terms).transpose()?;

    let mut tx = app.outbox.begin().await?;
    let before = partner(&mut tx, id).await?;
    let mut after = before.clone();
    patch::apply(&mut after.kind, kind);
    patch::apply(&mut after.name, name_change);
    patch::apply(&mut after.email, email);
    patch::apply(&mut after.phone, phone);
    patch::apply(&mut after.vat_number, vat_number);
    patch::apply(&mut after.address, address_change);
    patch::apply(&mut after.credit_limit, credit_limit);
    patch::apply(&mut after.payment_terms_days, payment_terms_days);
    let changes = changes::diff(&before, &after).map_err(ApiError::internal)?;
    if changes.is_empty() {
        return Ok(Json(after));
    }
    save(&mut tx, &after).await?;
    let event = PartnerUpdated {
        partner_id: id,
        company_id: after.company_id,
        changes,
        updated_by: actor,
        updated_at: now(),
    };
    tx.events().partner_updated(&event, &request.context()).await?;
    tx.commit().await?;
    Ok(Json(after))
}

/// Archives a partner; publishes `partner.archived`; 409 when it is archived already.
pub async fn archive(
    State(app): State<AppState>,
    request: RequestId,
    Actor(actor): Actor,
    Path(id): Path<Uuid>,
    body: Option<Json<Reason>>,
) -> Result<Json<Partner>, ApiError> {
    let reason = body.map_or(Ok(None), |Json(body)| body.text())?;
    let mut tx = app.outbox.begin().await?;
    let mut partner = partner(&mut tx, id).await?;
    if partner.archived {
        return Err(ApiError::conflict("the partner is archived already"));
    }
    partner.archived = true;
    save(&mut tx, &partner).await?;
    let event = PartnerArchived {
        partner_id: id,
        company_id: partner.company_id,
        reason,
        archived_by: actor,
        archived_at: now(),
    };
    tx.events().partner_archived(&event, &request.context()).await?;
    tx.commit().await?;
    Ok(Json(partner))
}

async fn partner(tx: &mut OutboxTransaction, id: Uuid) -> Result<Partner, ApiError> {
    tx.run(move |c| store::partner(c, id).map_err(ApiError::from))
        .await?
        .ok_or_else(|| ApiError::not_found("no such partner"))
}

fn terms(days: u32) -> Result<u32, ApiError> {
    if days > 365 {
        return Err(ApiError::unprocessable("payment terms are at most 365 days"));
    }
    Ok(days)
}

/// Stores `partner` in the transaction.
async fn save(tx: &mut OutboxTransaction, partner: &Partner) -> Result<(), ApiError> {
    let stored = partner.clone();
    Ok(tx.run(move |c| store::put_partner(c, &stored)).await?)
}

//! `GET /users/me`, `GET|PATCH|DELETE /users/{id}`: the profile, its
//! changes (`user.updated`, with old and new values) and erasure
//! (`user.deleted`).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use uuid::Uuid;
use xerpium_events::{PublishEvents, UserDeleted, UserProfile, UserUpdated};
use xerpium_service::db::column::now;
use xerpium_service::input::Reason;
use xerpium_service::{ApiError, RequestId, changes, patch};

use crate::auth::CurrentUser;
use crate::store;
use crate::{AppState, validate};

/// The caller's own profile.
pub async fn me(me: CurrentUser) -> Json<UserProfile> {
    Json(me.user.profile())
}

/// A user's profile, for the user or an admin of their company.
pub async fn get(
    State(app): State<AppState>,
    me: CurrentUser,
    Path(id): Path<Uuid>,
) -> Result<Json<UserProfile>, ApiError> {
    let user = app
        .db
        .run(move |c| store::user_by_id(c, id).map_err(ApiError::from))
        .await?
        .filter(|user| me.may_manage(user))
        .ok_or_else(|| ApiError::not_found("no such user"))?;
    Ok(Json(user.profile()))
}

/// Profile fields to change; absent ones stay. `phone: null` clears it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileChange {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default, deserialize_with = "patch::nullable")]
    phone: Option<Option<String>>,
    #[serde(default)]
    locale: Option<String>,
}

/// Changes a profile; publishes `user.updated` with what changed (nothing
/// changed: no event). 409 when the new e-mail is taken.
pub async fn update(
    State(app): State<AppState>,
    request: RequestId,
    me: CurrentUser,
    Path(id): Path<Uuid>,
    Json(body): Json<ProfileChange>,
) -> Result<Json<UserProfile>, ApiError> {
    let email = body.email.as_deref().map(validate::email).transpose()?;
    let display_name = body.display_name.as_deref().map(validate::display_name).transpose()?;
    let phone = body
        .phone
        .map(|phone| phone.as_deref().map(validate::phone).transpose())
        .transpose()?;
    let locale = body.locale.as_deref().map(validate::locale).transpose()?;

    let mut tx = app.outbox.begin().await?;
    let mut user = super::target(&mut tx, id).await?;
    if !me.may_manage(&user) {
        return Err(ApiError::not_found("no such user"));
    }
    let before = user.profile();
    patch::apply(&mut user.email, email);
    patch::apply(&mut user.display_name, display_name);
    patch::apply(&mut user.phone, phone);
    patch::apply(&mut user.locale, locale);
    let changes = changes::diff(&before, &user.profile()).map_err(ApiError::internal)?;
    if changes.is_empty() {
        return Ok(Json(user.profile()));
    }
    let update = user.clone();
    tx.run(move |c| {
        if let Some(other) = store::user_by_email(c, &update.email)?
            && other.id != update.id
        {
            return Err(ApiError::conflict("this e-mail is already registered"));
        }
        store::put_user(c, &update).map_err(ApiError::from)
    })
    .await?;
    let event = UserUpdated {
        user_id: user.id,
        company_id: user.company_id,
        changes,
        updated_by: me.user.id,
        updated_at: now(),
    };
    tx.events().user_updated(&event, &request.context()).await?;
    tx.commit().await?;
    Ok(Json(user.profile()))
}

/// Deletes an account and its sessions (204); publishes `user.deleted`,
/// asking every service to erase the user's personal data.
pub async fn delete(
    State(app): State<AppState>,
    request: RequestId,
    me: CurrentUser,
    Path(id): Path<Uuid>,
    Query(query): Query<Reason>,
) -> Result<StatusCode, ApiError> {
    let mut tx = app.outbox.begin().await?;
    let user = super::target(&mut tx, id).await?;
    if !me.may_manage(&user) {
        return Err(ApiError::not_found("no such user"));
    }
    tx.run(move |c| store::delete_user(c, id).map_err(ApiError::from))
        .await?;
    let event = UserDeleted {
        user_id: user.id,
        company_id: user.company_id,
        deleted_by: me.user.id,
        reason: query.text()?,
        erase_personal_data: true,
        deleted_at: now(),
    };
    tx.events().user_deleted(&event, &request.context()).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

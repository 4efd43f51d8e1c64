//! `POST /admin/users/{id}/lock|unlock`, `PUT /admin/users/{id}/roles`: what
//! an admin does to the accounts of their company. Admins cannot lock
//! themselves out or change their own roles.

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use uuid::Uuid;
use xerpium_events::{
    LockReason, LogoutReason, PublishEvents, UserAccountLocked, UserAccountUnlocked, UserProfile, UserRole,
    UserRolesChanged,
};
use xerpium_service::db::column::now;
use xerpium_service::input::{Reason, known};
use xerpium_service::outbox::OutboxTransaction;
use xerpium_service::{ApiError, RequestId};

use crate::AppState;
use crate::auth::CurrentUser;
use crate::store::{self, User};

/// Locks an account (its sessions end): publishes `user.account_locked`
/// (reason `admin_action`); 409 when it is locked already.
pub async fn lock(
    State(app): State<AppState>,
    request: RequestId,
    me: CurrentUser,
    Path(id): Path<Uuid>,
) -> Result<Json<UserProfile>, ApiError> {
    let context = request.context();
    let mut tx = app.outbox.begin().await?;
    let mut user = managed(&mut tx, &me, id).await?;
    if user.locked {
        return Err(ApiError::conflict("the account is locked already"));
    }
    user.locked = true;
    save(&mut tx, &user).await?;
    super::end_sessions(
        &mut tx,
        &user,
        None,
        LogoutReason::AccountLocked,
        Some(me.user.id),
        &context,
    )
    .await?;
    let event = UserAccountLocked {
        user_id: user.id,
        company_id: user.company_id,
        reason: LockReason::AdminAction,
        locked_by: Some(me.user.id),
        failed_attempts: user.failed_attempts,
        locked_until: None,
        locked_at: now(),
    };
    tx.events().user_account_locked(&event, &context).await?;
    tx.commit().await?;
    Ok(Json(user.profile()))
}

/// Unlocks an account and clears its failed sign-ins: publishes
/// `user.account_unlocked`; 409 when it is not locked.
pub async fn unlock(
    State(app): State<AppState>,
    request: RequestId,
    me: CurrentUser,
    Path(id): Path<Uuid>,
    body: Option<Json<Reason>>,
) -> Result<Json<UserProfile>, ApiError> {
    let reason = body.map_or(Ok(None), |Json(body)| body.text())?;
    let mut tx = app.outbox.begin().await?;
    let mut user = managed(&mut tx, &me, id).await?;
    if !user.locked {
        return Err(ApiError::conflict("the account is not locked"));
    }
    user.locked = false;
    user.failed_attempts = 0;
    save(&mut tx, &user).await?;
    let event = UserAccountUnlocked {
        user_id: user.id,
        company_id: user.company_id,
        unlocked_by: Some(me.user.id),
        reason,
        unlocked_at: now(),
    };
    tx.events().user_account_unlocked(&event, &request.context()).await?;
    tx.commit().await?;
    app.notices.account_unlocked(&user).await;
    Ok(Json(user.profile()))
}

/// The roles a user should hold.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Roles {
    roles: Vec<UserRole>,
}

/// Sets a user's roles: publishes `user.roles_changed` when they change.
pub async fn roles(
    State(app): State<AppState>,
    request: RequestId,
    me: CurrentUser,
    Path(id): Path<Uuid>,
    Json(body): Json<Roles>,
) -> Result<Json<UserProfile>, ApiError> {
    let mut roles = body
        .roles
        .into_iter()
        .map(|role| known("role", role, UserRole::ALL))
        .collect::<Result<Vec<_>, _>>()?;
    roles.sort();
    roles.dedup();
    if roles.is_empty() {
        return Err(ApiError::unprocessable("a user needs at least one role"));
    }
    let mut tx = app.outbox.begin().await?;
    let mut user = managed(&mut tx, &me, id).await?;
    let added: Vec<UserRole> = roles
        .iter()
        .filter(|role| !user.roles.contains(role))
        .cloned()
        .collect();
    let removed: Vec<UserRole> = user
        .roles
        .iter()
        .filter(|role| !roles.contains(role))
        .cloned()
        .collect();
    if added.is_empty() && removed.is_empty() {
        return Ok(Json(user.profile()));
    }
    user.roles = roles;
    save(&mut tx, &user).await?;
    let event = UserRolesChanged {
        user_id: user.id,
        company_id: user.company_id,
        added,
        removed,
        roles: user.roles.clone(),
        changed_by: me.user.id,
        changed_at: now(),
    };
    tx.events().user_roles_changed(&event, &request.context()).await?;
    tx.commit().await?;
    Ok(Json(user.profile()))
}

/// The user `id`, if `me` is an admin of their company and not them: else
/// 403 (not an admin, or themselves) or 404.
async fn managed(tx: &mut OutboxTransaction, me: &CurrentUser, id: Uuid) -> Result<User, ApiError> {
    if !me.user.has_role(UserRole::Admin) {
        return Err(ApiError::forbidden("only an admin may do this"));
    }
    if me.user.id == id {
        return Err(ApiError::forbidden("admins cannot do this to their own account"));
    }
    let user = super::target(tx, id).await?;
    if !me.is_admin_of(&user) {
        return Err(ApiError::not_found("no such user"));
    }
    Ok(user)
}

async fn save(tx: &mut OutboxTransaction, user: &User) -> Result<(), ApiError> {
    let update = user.clone();
    tx.run(move |c| store::put_user(c, &update).map_err(ApiError::from))
        .await
}

//! `PUT /users/{id}/password`: a user changes their password (giving the
//! current one; their other sessions end), or an admin resets it (every
//! session ends). Publishes `user.password_changed` and a `user.logged_out`
//! per ended session.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use uuid::Uuid;
use xerpium_events::{LogoutReason, PublishEvents, UserPasswordChanged};
use xerpium_service::db::column::now;
use xerpium_service::{ApiError, RequestId};

use crate::auth::CurrentUser;
use crate::client::Client;
use crate::{AppState, password, store};

/// A password change.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// The current password; required when users change their own.
    #[serde(default)]
    current_password: Option<String>,
    new_password: String,
}

/// Changes or resets a password: 204; 403 when the current password is wrong.
pub async fn change(
    State(app): State<AppState>,
    request: RequestId,
    me: CurrentUser,
    Client(client): Client,
    Path(id): Path<Uuid>,
    Json(body): Json<PasswordChange>,
) -> Result<StatusCode, ApiError> {
    password::check_new(&body.new_password)?;
    let own = me.user.id == id;
    if own {
        let current = body.current_password.unwrap_or_default();
        if !password::verify(current, Some(me.user.password_hash.clone())).await? {
            return Err(ApiError::forbidden("the current password is wrong"));
        }
    }
    let hash = password::hash(body.new_password).await?;

    let context = request.context();
    let mut tx = app.outbox.begin().await?;
    let mut user = super::target(&mut tx, id).await?;
    if !own && !me.is_admin_of(&user) {
        return Err(ApiError::not_found("no such user"));
    }
    user.password_hash = hash;
    let update = user.clone();
    tx.run(move |c| store::put_user(c, &update).map_err(ApiError::from))
        .await?;
    let (keep, ended_by) = if own {
        (Some(me.session.id), None)
    } else {
        (None, Some(me.user.id))
    };
    let revoked = super::end_sessions(&mut tx, &user, keep, LogoutReason::PasswordChanged, ended_by, &context).await?;
    let event = UserPasswordChanged {
        user_id: user.id,
        changed_by: me.user.id,
        reset: !own,
        sessions_revoked: revoked,
        client: Some(client),
        changed_at: now(),
    };
    tx.events().user_password_changed(&event, &context).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

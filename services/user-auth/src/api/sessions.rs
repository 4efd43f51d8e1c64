//! `POST /sessions` (sign in) and `DELETE /sessions/current` (sign out).
//!
//! Each failed sign-in of a known account counts; the one that reaches the
//! limit locks the account (`user.account_locked`, reason
//! `too_many_failed_logins`) and reports a brute-force attempt
//! (`security.violation_detected`). A locked account cannot sign in until
//! an admin unlocks it.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use xerpium_events::{
    LockReason, LogoutReason, PublishEvents, SecurityViolationDetected, Severity, UserAccountLocked, UserLoggedIn,
    UserLoggedOut, UserLoginFailed, ViolationKind,
};
use xerpium_service::db::column::now;
use xerpium_service::{ApiError, RequestId};

use crate::auth::{self, CurrentUser};
use crate::client::Client;
use crate::store::{self, Session};
use crate::{AppState, password, validate};

/// What a sign-in sends.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    email: String,
    password: String,
}

/// A new session.
#[derive(Debug, Serialize)]
pub struct NewSession {
    /// The bearer token (also set as the `xerpium_session` cookie).
    pub token: String,
    /// The session's id.
    pub session_id: Uuid,
    /// The signed-in user.
    pub user_id: Uuid,
    /// When the session ends.
    pub expires_at: DateTime<Utc>,
}

/// The message of a failed sign-in; the same whether the login exists or not.
const WRONG: &str = "wrong e-mail or password";

/// Signs in: 200 with a [`NewSession`] and its cookie; 401 for a wrong
/// login or password; 423 when the account is locked (also by this very
/// attempt).
pub async fn login(
    State(app): State<AppState>,
    request: RequestId,
    Client(client): Client,
    Json(body): Json<Credentials>,
) -> Result<Response, ApiError> {
    let email = validate::email(&body.email).map_err(|_| ApiError::unauthorized(WRONG))?;
    let lookup = email.clone();
    let known = app
        .db
        .run(move |c| store::user_by_email(c, &lookup).map_err(ApiError::from))
        .await?;
    if known.as_ref().is_some_and(|user| user.locked) {
        return Err(locked());
    }
    let verified = password::verify(body.password, known.as_ref().map(|user| user.password_hash.clone())).await?;
    let context = request.context();
    let at = now();

    let mut tx = app.outbox.begin().await?;
    let lookup = email.clone();
    let user = tx
        .run(move |c| store::user_by_email(c, &lookup).map_err(ApiError::from))
        .await?;
    let Some(mut user) = user.filter(|user| Some(user.id) == known.as_ref().map(|known| known.id)) else {
        // An unknown login (or one deleted meanwhile): report it, no account to count on.
        let event = UserLoginFailed {
            email,
            user_id: None,
            failed_attempts: 1,
            client,
            attempted_at: at,
        };
        tx.events().user_login_failed(&event, &context).await?;
        tx.commit().await?;
        return Err(ApiError::unauthorized(WRONG));
    };
    if user.locked {
        return Err(locked());
    }

    if !verified {
        user.failed_attempts += 1;
        let lock = user.failed_attempts >= app.settings.max_failed_logins;
        user.locked = lock;
        let update = user.clone();
        tx.run(move |c| store::put_user(c, &update).map_err(ApiError::from))
            .await?;
        let failed = UserLoginFailed {
            email: user.email.clone(),
            user_id: Some(user.id),
            failed_attempts: user.failed_attempts,
            client: client.clone(),
            attempted_at: at,
        };
        tx.events().user_login_failed(&failed, &context).await?;
        if !lock {
            tx.commit().await?;
            return Err(ApiError::unauthorized(WRONG));
        }
        super::end_sessions(&mut tx, &user, None, LogoutReason::AccountLocked, None, &context).await?;
        let locked_event = UserAccountLocked {
            user_id: user.id,
            company_id: user.company_id,
            reason: LockReason::TooManyFailedLogins,
            locked_by: None,
            failed_attempts: user.failed_attempts,
            locked_until: None,
            locked_at: at,
        };
        tx.events().user_account_locked(&locked_event, &context).await?;
        let violation = SecurityViolationDetected {
            violation_id: Uuid::now_v7(),
            kind: ViolationKind::BruteForce,
            severity: Severity::High,
            company_id: Some(user.company_id),
            user_id: Some(user.id),
            target: Some(user.email.clone()),
            client: Some(client),
            detected_by: app.config.service().to_owned(),
            details: BTreeMap::from([("failed_attempts".to_owned(), user.failed_attempts.into())]),
            detected_at: at,
        };
        tx.events().security_violation_detected(&violation, &context).await?;
        let company_id = user.company_id;
        let admins = tx
            .run(move |c| store::company_admins(c, company_id).map_err(ApiError::from))
            .await?;
        tx.commit().await?;
        app.notices.account_locked(&admins, &user).await;
        return Err(locked());
    }

    user.failed_attempts = 0;
    user.last_login_at = Some(at);
    let session = Session {
        id: Uuid::now_v7(),
        user_id: user.id,
        expires_at: at + app.settings.session_length(),
    };
    let token = auth::new_token();
    let (update, stored, stored_token) = (user.clone(), session.clone(), token.clone());
    tx.run(move |c| {
        store::put_user(c, &update)?;
        store::insert_session(c, &stored, &stored_token, at).map_err(ApiError::from)
    })
    .await?;
    let event = UserLoggedIn {
        user_id: user.id,
        company_id: user.company_id,
        session_id: session.id,
        client,
        mfa_used: false,
        session_expires_at: session.expires_at,
        logged_in_at: at,
    };
    tx.events().user_logged_in(&event, &context).await?;
    tx.commit().await?;

    let mut headers = HeaderMap::new();
    let cookie = auth::cookie(&token, app.settings.session_ttl.as_secs());
    headers.insert(SET_COOKIE, HeaderValue::from_str(&cookie).map_err(ApiError::internal)?);
    let body = NewSession {
        token,
        session_id: session.id,
        user_id: user.id,
        expires_at: session.expires_at,
    };
    Ok((headers, Json(body)).into_response())
}

/// Signs out the current session: 204, and the cookie is removed.
pub async fn logout(State(app): State<AppState>, request: RequestId, me: CurrentUser) -> Result<Response, ApiError> {
    let at = now();
    let session_id = me.session.id;
    let mut tx = app.outbox.begin().await?;
    let ended = tx
        .run(move |c| store::end_session(c, session_id, at).map_err(ApiError::from))
        .await?;
    if ended {
        let event = UserLoggedOut {
            user_id: me.user.id,
            session_id,
            reason: LogoutReason::UserRequest,
            ended_by: None,
            logged_out_at: at,
        };
        tx.events().user_logged_out(&event, &request.context()).await?;
    }
    tx.commit().await?;
    let cookie = HeaderValue::from_str(&auth::expired_cookie()).map_err(ApiError::internal)?;
    Ok((StatusCode::NO_CONTENT, [(SET_COOKIE, cookie)]).into_response())
}

fn locked() -> ApiError {
    ApiError::new(
        StatusCode::LOCKED,
        "the account is locked after too many failed sign-ins; an admin can unlock it",
    )
}

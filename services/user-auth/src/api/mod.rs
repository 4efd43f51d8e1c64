//! The HTTP API: one module per resource, and the router.
//!
//! | method and path | who | what |
//! |---|---|---|
//! | `POST /users` | anyone | register (`user.created`); the first user of a company is its admin |
//! | `POST /sessions` | anyone | sign in (`user.logged_in`, or `user.login_failed`; the last allowed failure locks: `user.account_locked` + `security.violation_detected`) |
//! | `DELETE /sessions/current` | signed in | sign out (`user.logged_out`) |
//! | `GET /users/me`, `GET /users/{id}` | the user, an admin | the profile |
//! | `PATCH /users/{id}` | the user, an admin | change the profile (`user.updated`) |
//! | `DELETE /users/{id}` | the user, an admin | delete the account (`user.deleted`) |
//! | `PUT /users/{id}/password` | the user (with the current password), an admin (reset) | `user.password_changed`, other sessions end (`user.logged_out`) |
//! | `POST /admin/users/{id}/lock`, `…/unlock` | an admin | `user.account_locked`, `user.account_unlocked` |
//! | `PUT /admin/users/{id}/roles` | an admin | `user.roles_changed` |
//! | `GET /notifications` | signed in | the user's notifications as Server-Sent Events |
//! | `GET /` | anyone | the page: register, sign in, see notifications as toasts |
//! | `GET /health` | anyone | 200 `{"status": "ok", "outbox_pending": n, "checks": […]}`; 503 naming the failing checks when the command server is stopped, stuck or not reading (see below) |
//!
//! Every response carries `X-Request-ID`: the caller's, or a new one; it is
//! the correlation id of every event the request caused.
//!
//! # Health
//! `GET /health` answers from the heartbeat's latest report (one every 5 s;
//! see [`xerpium_service::health`]), with `outbox_pending` (events not yet
//! published) in every answer: 200 `ok` while the command server reads and
//! settles; 503 `unhealthy`, its check named in `failing` (`consumer
//! user-auth/<consumer>` and what is wrong), when it is stopped, stuck
//! (holds commands, settles none for a minute) or not reading. A command
//! server that ends on its own stops the whole process (exit code 1).
//!
//! Redis down: sign-ups, sign-ins and every other write keep working (their events wait in the
//! outbox), so an outage alone is no failure: 200 `degraded`, the `redis`
//! check failing. The command server cannot read commands meanwhile: once
//! it has not read for (block + publish timeout) × 2, 20 s at the defaults,
//! `/health` answers 503 naming it, although the API still takes requests,
//! and 200 again at the first beat after a read comes back.

mod admin;
mod password;
mod profile;
mod registration;
mod sessions;

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{delete, get, post, put};
use uuid::Uuid;
use xerpium_events::{LogoutReason, PublishContext, PublishEvents, UserLoggedOut};
use xerpium_service::outbox::OutboxTransaction;
use xerpium_service::{ApiError, db::column::now, http};

use crate::store::{self, User};
use crate::{AppState, gateway, page};

/// The service's routes.
pub fn router(app: AppState) -> Router {
    Router::new()
        .route("/", get(page::page))
        .route("/health", get(health))
        .route("/users", post(registration::register))
        .route("/users/me", get(profile::me))
        .route(
            "/users/{id}",
            get(profile::get).patch(profile::update).delete(profile::delete),
        )
        .route("/users/{id}/password", put(password::change))
        .route("/sessions", post(sessions::login))
        .route("/sessions/current", delete(sessions::logout))
        .route("/admin/users/{id}/lock", post(admin::lock))
        .route("/admin/users/{id}/unlock", post(admin::unlock))
        .route("/admin/users/{id}/roles", put(admin::roles))
        .route("/notifications", get(gateway::stream))
        .with_state(app)
}

async fn health(State(app): State<AppState>) -> Result<Response, ApiError> {
    http::health(&app.outbox, &app.health).await
}

/// The user `id` inside a transaction, or 404.
async fn target(tx: &mut OutboxTransaction, id: Uuid) -> Result<User, ApiError> {
    tx.run(move |c| store::user_by_id(c, id).map_err(ApiError::from))
        .await?
        .ok_or_else(|| ApiError::not_found("no such user"))
}

/// Ends `user`'s open sessions but `keep`, staging a `user.logged_out` for
/// each; returns how many ended.
async fn end_sessions(
    tx: &mut OutboxTransaction,
    user: &User,
    keep: Option<Uuid>,
    reason: LogoutReason,
    ended_by: Option<Uuid>,
    context: &PublishContext,
) -> Result<u32, ApiError> {
    let user_id = user.id;
    let at = now();
    let ended = tx
        .run(move |c| store::end_sessions(c, user_id, keep, at).map_err(ApiError::from))
        .await?;
    for session_id in &ended {
        let event = UserLoggedOut {
            user_id,
            session_id: *session_id,
            reason: reason.clone(),
            ended_by,
            logged_out_at: at,
        };
        tx.events().user_logged_out(&event, context).await?;
    }
    Ok(u32::try_from(ended.len()).unwrap_or(u32::MAX))
}

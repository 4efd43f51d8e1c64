//! `POST /users`: registration.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use uuid::Uuid;
use xerpium_events::{PublishEvents, UserCreated, UserProfile, UserRole};
use xerpium_service::db::column::now;
use xerpium_service::{ApiError, RequestId};

use crate::store::{self, User};
use crate::{AppState, password, validate};

/// What a registration sends.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    email: String,
    password: String,
    display_name: String,
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    locale: Option<String>,
    /// The company to join; the service's default company when absent.
    #[serde(default)]
    company_id: Option<Uuid>,
}

/// Registers a user: 201 with the profile; 409 when the e-mail is taken.
/// The first user of a company becomes its admin, later ones employees.
/// Publishes `user.created`, then sends the user a "Welcome!" notification.
pub async fn register(
    State(app): State<AppState>,
    request: RequestId,
    Json(body): Json<Registration>,
) -> Result<(StatusCode, Json<UserProfile>), ApiError> {
    let email = validate::email(&body.email)?;
    let display_name = validate::display_name(&body.display_name)?;
    let phone = body.phone.as_deref().map(validate::phone).transpose()?;
    let locale = validate::locale(body.locale.as_deref().unwrap_or("en"))?;
    password::check_new(&body.password)?;
    let password_hash = password::hash(body.password).await?;
    let company_id = body.company_id.unwrap_or(app.settings.default_company);

    let mut tx = app.outbox.begin().await?;
    let user = tx
        .run(move |c| {
            if store::user_by_email(c, &email)?.is_some() {
                return Err(ApiError::conflict("this e-mail is already registered"));
            }
            let role = if store::company_has_users(c, company_id)? {
                UserRole::Employee
            } else {
                UserRole::Admin
            };
            let user = User {
                id: Uuid::now_v7(),
                company_id,
                email,
                display_name,
                phone,
                locale,
                roles: vec![role],
                password_hash,
                failed_attempts: 0,
                locked: false,
                created_at: now(),
                last_login_at: None,
            };
            store::put_user(c, &user)?;
            Ok(user)
        })
        .await?;
    let event = UserCreated {
        user_id: user.id,
        company_id: user.company_id,
        email: user.email.clone(),
        display_name: user.display_name.clone(),
        roles: user.roles.clone(),
        locale: user.locale.clone(),
        invited_by: None,
        created_at: user.created_at,
    };
    tx.events().user_created(&event, &request.context()).await?;
    tx.commit().await?;
    app.gateway.hold(&user).await;
    app.notices.welcome(&user).await;
    Ok((StatusCode::CREATED, Json(user.profile())))
}

//! Sessions as callers present them: the bearer token (`Authorization:
//! Bearer …`, or the `xerpium_session` cookie the page gets), and the
//! [`CurrentUser`] extractor that resolves it.

use std::fmt::Write;

use argon2::password_hash::rand_core::{OsRng, RngCore};
use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use xerpium_events::UserRole;
use xerpium_service::ApiError;
use xerpium_service::db::column::now;

use crate::AppState;
use crate::store::{self, Session, User};

/// The name of the session cookie.
pub const COOKIE_NAME: &str = "xerpium_session";

/// A new session token: 32 random bytes from the OS, hex-encoded.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    bytes.iter().fold(String::with_capacity(64), |mut text, byte| {
        let _ = write!(text, "{byte:02x}");
        text
    })
}

/// The `Set-Cookie` value that hands `token` to the browser for `max_age`
/// seconds (`HttpOnly`: scripts cannot read it; `SameSite=Strict`: other
/// sites cannot send it). Served over plain HTTP on a developer machine,
/// so not `Secure`; put TLS in front in production.
pub fn cookie(token: &str, max_age: u64) -> String {
    format!("{COOKIE_NAME}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}")
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn expired_cookie() -> String {
    cookie("", 0)
}

/// The signed-in user of a request, with the session it came with.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    /// The user.
    pub user: User,
    /// The session.
    pub session: Session,
}

impl CurrentUser {
    /// Whether the caller may act on `target`: themselves, or any user of
    /// their company if they are an admin.
    pub fn may_manage(&self, target: &User) -> bool {
        self.user.id == target.id || self.is_admin_of(target)
    }

    /// Whether the caller is an admin of `target`'s company.
    pub fn is_admin_of(&self, target: &User) -> bool {
        self.user.has_role(UserRole::Admin) && self.user.company_id == target.company_id
    }
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let token = token(parts).ok_or_else(|| ApiError::unauthorized("sign in first"))?;
        let found = app
            .db
            .run(move |c| store::session_by_token(c, &token, now()).map_err(ApiError::from))
            .await?;
        match found {
            Some((_, user)) if user.locked => {
                Err(ApiError::new(axum::http::StatusCode::LOCKED, "the account is locked"))
            }
            Some((session, user)) => Ok(CurrentUser { user, session }),
            None => Err(ApiError::unauthorized("the session has ended; sign in again")),
        }
    }
}

/// The session token of a request: its bearer token, else its cookie.
fn token(parts: &Parts) -> Option<String> {
    let bearer = parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim);
    let cookie = || {
        parts
            .headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == COOKIE_NAME)
            .map(|(_, value)| value.trim())
    };
    bearer
        .or_else(cookie)
        .filter(|token| !token.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn parts(headers: &[(&str, &str)]) -> Parts {
        let mut request = Request::builder();
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(()).expect("request").into_parts().0
    }

    #[test]
    fn tokens_come_from_the_bearer_or_the_cookie() {
        assert_eq!(token(&parts(&[("authorization", "Bearer abc")])), Some("abc".into()));
        assert_eq!(
            token(&parts(&[("cookie", "theme=dark; xerpium_session=def; x=y")])),
            Some("def".into())
        );
        assert_eq!(token(&parts(&[("cookie", "xerpium_session=")])), None);
        assert_eq!(token(&parts(&[("authorization", "Basic abc")])), None);
    }

    #[test]
    fn new_tokens_are_long_and_different() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
    }
}

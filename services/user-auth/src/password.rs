//! Password hashing with argon2id (the crate's recommended parameters),
//! on blocking threads: a hash takes tens of milliseconds on purpose.

use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use xerpium_service::ApiError;

/// The shortest password accepted.
pub const MIN_LENGTH: usize = 8;
/// The longest password accepted (hashing cost grows with it).
pub const MAX_LENGTH: usize = 1024;

/// Checks a new password's length.
pub fn check_new(password: &str) -> Result<(), ApiError> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Err(ApiError::unprocessable(format!(
            "the password must have at least {MIN_LENGTH} characters"
        )));
    }
    if password.len() > MAX_LENGTH {
        return Err(ApiError::unprocessable(format!(
            "the password must have at most {MAX_LENGTH} bytes"
        )));
    }
    Ok(())
}

/// The PHC string (`$argon2id$…`) of `password` with a fresh salt.
pub async fn hash(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(ApiError::internal)
    })
    .await
    .map_err(ApiError::internal)?
}

/// Whether `password` matches the PHC string `hash`; `None` (an unknown
/// login) spends the same time on a dummy hash, so that the answer's
/// timing does not tell which logins exist.
pub async fn verify(password: String, hash: Option<String>) -> Result<bool, ApiError> {
    tokio::task::spawn_blocking(move || {
        let stored = hash.as_deref().unwrap_or(DUMMY.as_str());
        let parsed = PasswordHash::new(stored).map_err(ApiError::internal)?;
        let matches = Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok();
        Ok(matches && hash.is_some())
    })
    .await
    .map_err(ApiError::internal)?
}

/// A hash of a random password, verified against for unknown logins.
static DUMMY: LazyLock<String> = LazyLock::new(|| {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(salt.as_str().as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .unwrap_or_default()
});

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let hash = hash("correct horse".into()).await.expect("hash");
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(
            verify("correct horse".into(), Some(hash.clone()))
                .await
                .expect("verify")
        );
        assert!(!verify("wrong horse".into(), Some(hash)).await.expect("verify"));
        assert!(!verify("anything".into(), None).await.expect("verify"));
    }

    #[test]
    fn lengths_are_checked() {
        assert!(check_new("short").is_err());
        assert!(check_new("long enough").is_ok());
        assert!(check_new(&"x".repeat(MAX_LENGTH + 1)).is_err());
    }
}

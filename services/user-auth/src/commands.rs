//! The catalog's commands served by user-auth (`user.get_profile`),
//! through the generated [`UserAuthCommands`] trait and
//! `UserAuthCommandServer`.
//!
//! Reads only, so serving one twice (at-least-once delivery) is harmless.

use xerpium_events::{HandlerError, Message, UserAuthCommands, UserGetProfileRequest, UserGetProfileResponse};
use xerpium_service::Database;

use crate::store;

/// user-auth's command handlers.
#[derive(Debug, Clone)]
pub struct Commands {
    db: Database,
}

impl Commands {
    /// Handlers reading `db`.
    pub fn new(db: Database) -> Commands {
        Commands { db }
    }
}

impl UserAuthCommands for Commands {
    /// The user's profile; none for an unknown (or deleted) user.
    async fn user_get_profile(
        &self,
        request: UserGetProfileRequest,
        _message: &Message,
    ) -> Result<UserGetProfileResponse, HandlerError> {
        let user = self
            .db
            .run(move |c| store::user_by_id(c, request.user_id).map_err(HandlerError::from))
            .await?;
        Ok(UserGetProfileResponse {
            profile: user.map(|user| user.profile()),
        })
    }
}

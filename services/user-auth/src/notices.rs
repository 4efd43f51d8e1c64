//! The notifications user-auth sends to people, through the generated
//! [`SendNotifications`] methods: "Welcome!" after registration, a warning
//! to a company's admins when one of its accounts locks itself after too
//! many failed sign-ins, and a note to a user whose account was unlocked.
//!
//! Fire and forget: a failure to send is logged, never an error of the
//! request that caused it (the events of that request are in the outbox).

use xerpium_events::messaging::{Config, Error, Notifier};
use xerpium_events::{NotificationType, SendNotifications};

use crate::store::User;

/// Sends user-auth's notifications; cheap to clone.
#[derive(Debug, Clone)]
pub struct Notices {
    notifier: Notifier,
}

impl Notices {
    /// Notices for `config`'s Redis and namespace.
    pub fn new(config: &Config) -> Result<Notices, Error> {
        Ok(Notices {
            notifier: Notifier::new(config)?,
        })
    }

    /// "Welcome!" to a new user.
    pub async fn welcome(&self, user: &User) {
        let message = format!("Welcome to XERPIUM, {}!", user.display_name);
        self.send(user, NotificationType::Success, "Welcome!", &message).await;
    }

    /// To the company's `admins`: `user` was locked after too many failed sign-ins.
    pub async fn account_locked(&self, admins: &[User], user: &User) {
        let message = format!(
            "{} was locked after {} failed sign-ins.",
            user.email, user.failed_attempts
        );
        for admin in admins {
            self.send(admin, NotificationType::Warning, "Account locked", &message)
                .await;
        }
    }

    /// To `user`: their account was unlocked.
    pub async fn account_unlocked(&self, user: &User) {
        let message = "An admin unlocked your account; you can sign in again.";
        self.send(user, NotificationType::Info, "Account unlocked", message)
            .await;
    }

    async fn send(&self, to: &User, kind: NotificationType, title: &str, message: &str) {
        let user_id = to.id.to_string();
        if let Err(error) = self.notifier.notify_user(&user_id, kind, title, message, None).await {
            tracing::warn!(%error, %user_id, title, "cannot send a notification");
        }
    }
}

//! The consumer side: every event of every category, through the generated
//! [`EventHandler`] (run with `EventDispatch`), into the trail.
//!
//! Every typed method records the message it was given, with the event it
//! was decoded into, redacted by the generated code ([`crate::redaction`]);
//! so does [`EventHandler::unknown`] (types this build does not know are
//! recorded with their payload redacted whole). A redelivered event is
//! recorded once: the trail keeps one row per event id. A database failure
//! is retried.

use xerpium_events::*;
use xerpium_service::Database;
use xerpium_service::db::column::now;

use crate::redaction::Redacted;
use crate::trail::{self, Record};

/// Records events in the audit trail.
#[derive(Debug, Clone)]
pub struct Recorder {
    db: Database,
}

impl Recorder {
    /// A recorder writing to `db`.
    pub fn new(db: Database) -> Recorder {
        Recorder { db }
    }

    /// Appends `message` to the trail (once per event id), with `event`, what
    /// it was decoded into, redacted; `None` for a type this build does not
    /// know, redacted whole.
    pub async fn record(&self, message: &Message, event: Option<AnyEvent>) -> HandlerResult {
        let envelope = &message.envelope;
        let redacted = match &event {
            Some(event) => Redacted::event(event, &envelope.subject),
            None => Redacted::whole(),
        };
        let record = Record {
            seq: 0,
            event_id: envelope.id.to_string(),
            event_type: envelope.event_type.clone(),
            version: envelope.version,
            source: envelope.source.clone(),
            subject: redacted.subject,
            correlation_id: envelope.correlation_id.clone(),
            causation_id: envelope.causation_id.clone(),
            time: envelope.time,
            recorded_at: now(),
            stream: message.stream.clone(),
            entry_id: message.entry_id.clone(),
            data: redacted.data,
        };
        let added = self
            .db
            .run(move |c| trail::append(c, &record).map_err(HandlerError::from))
            .await?;
        if !added {
            tracing::debug!(event_id = %envelope.id, "already recorded");
        }
        Ok(())
    }
}

/// Implements every event method of [`EventHandler`] as "record the message
/// with its event", the event named by its type, which is also its variant of
/// [`AnyEvent`].
macro_rules! record_every_event {
    ($($method:ident: $event:ident,)*) => {
        impl EventHandler for Recorder {
            $(
                async fn $method(&self, event: $event, message: &Message) -> HandlerResult {
                    self.record(message, Some(AnyEvent::$event(event))).await
                }
            )*

            async fn unknown(&self, message: &Message) -> HandlerResult {
                self.record(message, None).await
            }
        }

        /// The `EventHandler` methods the recorder implements, as wire types
        /// with `_` for `.`: a test checks that they cover the catalog.
        #[cfg(test)]
        const RECORDED: &[&str] = &[$(stringify!($method)),*];
    };
}

record_every_event! {
    user_created: UserCreated,
    user_updated: UserUpdated,
    user_deleted: UserDeleted,
    user_logged_in: UserLoggedIn,
    user_logged_out: UserLoggedOut,
    user_login_failed: UserLoginFailed,
    user_password_changed: UserPasswordChanged,
    user_account_locked: UserAccountLocked,
    user_account_unlocked: UserAccountUnlocked,
    user_roles_changed: UserRolesChanged,
    company_created: CompanyCreated,
    company_updated: CompanyUpdated,
    company_deactivated: CompanyDeactivated,
    partner_created: PartnerCreated,
    partner_updated: PartnerUpdated,
    partner_archived: PartnerArchived,
    currency_rate_updated: CurrencyRateUpdated,
    currency_activated: CurrencyActivated,
    system_service_started: SystemServiceStarted,
    system_service_stopped: SystemServiceStopped,
    system_status_changed: SystemStatusChanged,
    audit_data_exported: AuditDataExported,
    audit_record_viewed: AuditRecordViewed,
    audit_settings_changed: AuditSettingsChanged,
    menu_item_created: MenuItemCreated,
    menu_item_deleted: MenuItemDeleted,
    menu_role_permissions_changed: MenuRolePermissionsChanged,
    menu_item_access_granted: MenuItemAccessGranted,
    menu_item_access_revoked: MenuItemAccessRevoked,
    security_violation_detected: SecurityViolationDetected,
    security_ip_blocked: SecurityIpBlocked,
    security_token_revoked: SecurityTokenRevoked,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_of_the_catalog_is_recorded() {
        let missing: Vec<&str> = EventType::ALL
            .iter()
            .map(|event_type| event_type.as_str())
            .filter(|name| !RECORDED.contains(&name.replace('.', "_").as_str()))
            .collect();
        assert!(
            missing.is_empty(),
            "add these to record_every_event! in recorder.rs: {missing:?}"
        );
    }
}

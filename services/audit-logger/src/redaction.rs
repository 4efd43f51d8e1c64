//! Personal data out of the audit trail, as the catalog marks it, by the
//! generated code: the event the dispatcher decoded is recorded as
//! [`AnyEvent::redacted`] gives it, so a field with `pii: true` is replaced
//! wherever it appears (also inside shared types, lists and maps; the rules are
//! those of [`REDACTED`]), and an event whose subject field is personal (e.g.
//! `user.login_failed`, keyed by e-mail) gets the subject `[redacted]` too.
//!
//! Nothing here knows which fields are personal, and nothing reads the
//! catalog at run time: a field marked `pii` in `events.yaml` is redacted once
//! the service is rebuilt. It fails closed: an entry whose type or version
//! this build does not know is redacted whole, and fields the build does not
//! know are not recorded (the generated types do not keep them).

use serde_json::Value;
use xerpium_events::AnyEvent;

pub use xerpium_events::REDACTED;

/// An event's payload and subject, redacted.
#[derive(Debug, Clone, PartialEq)]
pub struct Redacted {
    /// The subject, or [`REDACTED`] when the subject field is personal.
    pub subject: String,
    /// The payload with personal values replaced.
    pub data: Value,
}

impl Redacted {
    /// `event`, which came with the envelope subject `subject`, redacted: its
    /// payload as the generated redaction leaves it, and the subject kept unless
    /// redaction changes the event's subject (its subject field is personal).
    pub fn event(event: &AnyEvent, subject: &str) -> Redacted {
        let redacted = event.redacted();
        let subject = if redacted.subject() == event.subject() {
            subject.to_owned()
        } else {
            REDACTED.to_owned()
        };
        match redacted.to_json() {
            Ok(data) => Redacted { subject, data },
            Err(_) => Redacted::whole(),
        }
    }

    /// An entry of a type or version this build does not know: subject and
    /// payload redacted whole.
    pub fn whole() -> Redacted {
        Redacted {
            subject: REDACTED.to_owned(),
            data: Value::from(REDACTED),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use uuid::Uuid;
    use xerpium_events::{
        Address, ClientInfo, CompanyUpdated, FieldChange, PartnerCreated, PartnerKind, UserCreated, UserLoggedIn,
        UserLoginFailed, UserRole, UserUpdated,
    };

    use super::*;

    fn time() -> chrono::DateTime<chrono::Utc> {
        "2025-01-31T12:00:00Z".parse().expect("a time")
    }

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn changes() -> Vec<FieldChange> {
        vec![FieldChange {
            field: "name".into(),
            old_value: Some(json!("A")),
            new_value: Some(json!("B")),
        }]
    }

    #[test]
    fn personal_fields_are_redacted_and_the_rest_kept() {
        let created = UserCreated {
            user_id: id(1),
            company_id: id(2),
            email: "ada@example.com".into(),
            display_name: "Ada".into(),
            roles: vec![UserRole::Admin],
            locale: "en".into(),
            invited_by: None,
            created_at: time(),
        };
        let redacted = Redacted::event(&AnyEvent::UserCreated(created), "u1");
        assert_eq!(redacted.subject, "u1");
        assert_eq!(
            redacted.data,
            json!({
                "user_id": id(1), "company_id": id(2), "email": REDACTED, "display_name": REDACTED,
                "roles": ["admin"], "locale": "en", "created_at": "2025-01-31T12:00:00Z"
            })
        );
    }

    #[test]
    fn nested_values_are_redacted() {
        let logged_in = UserLoggedIn {
            user_id: id(1),
            company_id: id(2),
            session_id: id(3),
            client: ClientInfo {
                ip_address: "10.0.0.1".into(),
                user_agent: None,
            },
            mfa_used: false,
            session_expires_at: time(),
            logged_in_at: time(),
        };
        let redacted = Redacted::event(&AnyEvent::UserLoggedIn(logged_in), "u1");
        assert_eq!(
            redacted.data["client"],
            json!({"ip_address": REDACTED}),
            "absent stays absent"
        );
        assert_eq!(redacted.data["user_id"], json!(id(1)));

        let partner = PartnerCreated {
            partner_id: id(4),
            company_id: id(2),
            kind: PartnerKind::Customer,
            name: "Ada Lovelace".into(),
            email: Some("ada@example.com".into()),
            phone: None,
            vat_number: None,
            address: Some(Address {
                street: "1 Rue de Rivoli".into(),
                postal_code: "75001".into(),
                city: "Paris".into(),
                region: None,
                country: "FR".into(),
            }),
            credit_limit: None,
            payment_terms_days: 30,
            created_by: id(1),
            created_at: time(),
        };
        let redacted = Redacted::event(&AnyEvent::PartnerCreated(partner), "p1");
        assert_eq!(
            (&redacted.data["name"], &redacted.data["email"], &redacted.data["kind"]),
            (&json!(REDACTED), &json!(REDACTED), &json!("customer"))
        );
        assert_eq!(
            redacted.data["address"],
            json!({"street": REDACTED, "postal_code": REDACTED, "city": REDACTED, "country": "FR"})
        );
    }

    #[test]
    fn it_fails_closed() {
        let failed = UserLoginFailed {
            email: "a@b.c".into(),
            user_id: None,
            failed_attempts: 1,
            client: ClientInfo {
                ip_address: "x".into(),
                user_agent: Some("curl".into()),
            },
            attempted_at: time(),
        };
        let redacted = Redacted::event(&AnyEvent::UserLoginFailed(failed), "a@b.c");
        assert_eq!(redacted.subject, REDACTED, "the subject field is personal");
        assert_eq!(redacted.data["email"], json!(REDACTED));
        assert_eq!(redacted.data["failed_attempts"], json!(1));
        let unknown = Redacted::whole();
        assert_eq!((unknown.subject.as_str(), unknown.data), (REDACTED, json!(REDACTED)));
    }

    #[test]
    fn lists_are_walked() {
        let company = CompanyUpdated {
            company_id: id(2),
            changes: changes(),
            updated_by: id(1),
            updated_at: time(),
        };
        let company = Redacted::event(&AnyEvent::CompanyUpdated(company), "c");
        assert_eq!(
            company.data["changes"][0]["new_value"],
            json!("B"),
            "company changes are not personal"
        );
        let user = UserUpdated {
            user_id: id(1),
            company_id: id(2),
            changes: changes(),
            updated_by: id(1),
            updated_at: time(),
        };
        let user = Redacted::event(&AnyEvent::UserUpdated(user), "u");
        assert_eq!(
            user.data["changes"],
            json!([{"field": REDACTED, "old_value": REDACTED, "new_value": REDACTED}]),
            "user changes are, as a whole: every value in them"
        );
    }
}

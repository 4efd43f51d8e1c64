//! The scripted scenario: two users register, one of them fails to sign in
//! five times and is locked, an admin unlocks them, the admin creates a
//! company and a partner, records a currency rate, and calls the catalog's
//! commands (`user.get_profile` of user-auth, company-partner's). Every step sends its own `X-Request-ID`, so each event it
//! causes can be found in the audit trail by correlation id.
//!
//! [`run`] plays it against running services and returns a [`Report`]
//! whose [`expected`](Report::expected) lists, in order, the events the
//! audit trail must then hold.

use std::time::Duration;

use hyper::StatusCode;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use uuid::Uuid;
use xerpium_events::{
    CommandClient, CommandError, CompanyGetRequest, CurrencyConvertRequest, CurrencyConvertResponse, Money,
    PartnerValidateVatRequest, PartnerValidateVatResponse, UserGetProfileRequest, UserProfile,
};

use crate::http::{Call, Events, Http, HttpError, Reply};

/// The services the scenario talks to.
#[derive(Debug, Clone)]
pub struct Services {
    /// user-auth.
    pub user_auth: Http,
    /// company-partner.
    pub company_partner: Http,
    /// audit-logger's query API.
    pub audit: Http,
}

/// Why the scenario stopped.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// A request could not be made.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// A service answered something else than the scenario expects.
    #[error("step `{step}`: expected {expected}, got {status}: {body}")]
    Unexpected {
        /// The step.
        step: String,
        /// The status expected.
        expected: StatusCode,
        /// The status received.
        status: StatusCode,
        /// The body received.
        body: Value,
    },
    /// An answer lacks an id the scenario needs.
    #[error("step `{step}`: the answer has no `{field}`")]
    Missing {
        /// The step.
        step: String,
        /// The field.
        field: String,
    },
    /// A command failed.
    #[error("command `{command}`: {source}")]
    Command {
        /// The command.
        command: &'static str,
        /// Why.
        source: CommandError,
    },
    /// The audit trail did not show what was expected in time.
    #[error("the audit trail holds {found} of the scenario's {expected} events after {waited:?}")]
    Trail {
        /// Events found.
        found: usize,
        /// Events expected.
        expected: usize,
        /// How long it was awaited.
        waited: Duration,
    },
}

/// One event the audit trail must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// Its type.
    pub event_type: &'static str,
    /// Its subject as recorded; `None` when the scenario cannot know it (a new violation id).
    pub subject: Option<String>,
    /// The request id of the step that caused it.
    pub correlation_id: String,
}

/// What the scenario did.
#[derive(Debug)]
pub struct Report {
    /// The prefix of every request id of this run.
    pub run: String,
    /// Alice, the first user: the admin.
    pub alice: Uuid,
    /// Bob, the employee who forgets his password.
    pub bob: Uuid,
    /// The company Alice creates.
    pub company: Uuid,
    /// The partner Alice creates.
    pub partner: Uuid,
    /// The steps taken: name, request id, status.
    pub steps: Vec<(String, String, StatusCode)>,
    /// What `user.get_profile` answered for Alice.
    pub alice_profile: Option<UserProfile>,
    /// What `company.get` answered: the company's name.
    pub company_name: Option<String>,
    /// What `partner.validate_vat` answered.
    pub vat: PartnerValidateVatResponse,
    /// What `currency.convert` answered.
    pub converted: CurrencyConvertResponse,
    /// The events the audit trail must hold, in publish order.
    pub expected: Vec<Expected>,
    /// Alice's notifications, as her browser would get them.
    pub alice_notifications: Events,
    /// Bob's notifications, from the moment he signs in.
    pub bob_notifications: Events,
}

/// Failed sign-ins that lock an account (user-auth's default).
pub const MAX_FAILED_LOGINS: usize = 5;

/// Alice's and Bob's password.
const PASSWORD: &str = "correct horse battery";

/// Plays the scenario; `say` gets a line per step.
pub async fn run<C: CommandClient>(
    services: &Services,
    commands: &C,
    say: impl Fn(&str),
) -> Result<Report, ScenarioError> {
    let run = format!("demo-{}", &Uuid::now_v7().simple().to_string()[24..]);
    let mut play = Play {
        run: run.clone(),
        say: &say,
        steps: Vec::new(),
        expected: Vec::new(),
    };
    let (alice_email, bob_email) = (format!("alice.{run}@example.com"), format!("bob.{run}@example.com"));
    let ua = &services.user_auth;

    let reply = play
        .step(
            "register-alice",
            StatusCode::CREATED,
            ua.post("/users").json(json!({
                "email": alice_email, "password": PASSWORD, "display_name": "Alice Admin"
            })),
        )
        .await?;
    let alice = play.id(&reply, "user_id")?;
    play.expect("user.created", Some(alice));

    let reply = play
        .step(
            "register-bob",
            StatusCode::CREATED,
            ua.post("/users").json(json!({
                "email": bob_email, "password": PASSWORD, "display_name": "Bob Employee"
            })),
        )
        .await?;
    let bob = play.id(&reply, "user_id")?;
    play.expect("user.created", Some(bob));

    let login = |email: &str, password: &str| {
        ua.post("/sessions")
            .json(json!({ "email": email, "password": password }))
    };
    let (alice_token, alice_notifications) = play.sign_in("login-alice", ua, login(&alice_email, PASSWORD)).await?;

    for attempt in 1..=MAX_FAILED_LOGINS {
        let status = if attempt < MAX_FAILED_LOGINS {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::LOCKED
        };
        play.step(
            &format!("wrong-password-{attempt}"),
            status,
            login(&bob_email, "wrong password"),
        )
        .await?;
        play.expect_subject("user.login_failed", Some("[redacted]".to_owned()));
    }
    play.expect("user.account_locked", Some(bob));
    play.expect_subject("security.violation_detected", None);
    play.step("locked-out", StatusCode::LOCKED, login(&bob_email, PASSWORD))
        .await?;

    let unlock = ua
        .post(format!("/admin/users/{bob}/unlock"))
        .header("authorization", &alice_token)
        .json(json!({ "reason": "Bob called the help desk" }));
    play.step("unlock-bob", StatusCode::OK, unlock).await?;
    play.expect("user.account_unlocked", Some(bob));

    let (_, bob_notifications) = play.sign_in("login-bob", ua, login(&bob_email, PASSWORD)).await?;

    let cp = &services.company_partner;
    let alice_id = alice.to_string();
    let company = cp.post("/companies").header("x-user-id", &alice_id).json(json!({
        "name": "Acme", "legal_name": "Acme Trading GmbH", "vat_number": "DE136695976", "currency": "EUR",
        "address": { "street": "Hauptstraße 1", "postal_code": "10115", "city": "Berlin", "country": "DE" }
    }));
    let reply = play.step("create-company", StatusCode::CREATED, company).await?;
    let company = play.id(&reply, "company_id")?;
    play.expect("company.created", Some(company));

    let partner = cp
        .post(format!("/companies/{company}/partners"))
        .header("x-user-id", &alice_id)
        .json(json!({
            "kind": "customer", "name": "Erika Mustermann", "email": "erika@example.com",
            "vat_number": "ATU13585627", "credit_limit": { "amount": "5000.00", "currency": "EUR" }
        }));
    let reply = play.step("create-partner", StatusCode::CREATED, partner).await?;
    let partner = play.id(&reply, "partner_id")?;
    play.expect("partner.created", Some(partner));

    let rate = cp.post("/currency-rates").header("x-user-id", &alice_id).json(json!({
        "base": "EUR", "quote": "USD", "rate": "1.0845", "source": "ecb"
    }));
    play.step("record-rate", StatusCode::CREATED, rate).await?;
    play.expect_subject("currency.rate_updated", Some("EUR/USD".to_owned()));

    let command = |command, source| ScenarioError::Command { command, source };
    let alice_profile = commands
        .user_get_profile(&UserGetProfileRequest { user_id: alice })
        .await
        .map_err(|e| command("user.get_profile", e))?
        .profile;
    say(&format!(
        "command user.get_profile → {:?}",
        alice_profile.as_ref().map(|profile| &profile.roles)
    ));
    let company_name = commands
        .company_get(&CompanyGetRequest { company_id: company })
        .await
        .map_err(|e| command("company.get", e))?
        .company
        .map(|company| company.name);
    say(&format!("command company.get → {company_name:?}"));
    let vat = commands
        .partner_validate_vat(&PartnerValidateVatRequest {
            country: "DE".into(),
            vat_number: "de 136 695 976".into(),
        })
        .await
        .map_err(|e| command("partner.validate_vat", e))?;
    say(&format!(
        "command partner.validate_vat → valid: {}, normalized: {:?}",
        vat.valid, vat.normalized
    ));
    let converted = commands
        .currency_convert(&CurrencyConvertRequest {
            amount: Money {
                amount: Decimal::new(10000, 2),
                currency: "EUR".into(),
            },
            to: "USD".into(),
            rate_date: None,
        })
        .await
        .map_err(|e| command("currency.convert", e))?;
    say(&format!(
        "command currency.convert → 100.00 EUR = {} {} at {}",
        converted.converted.amount, converted.converted.currency, converted.rate
    ));

    Ok(Report {
        run,
        alice,
        bob,
        company,
        partner,
        steps: play.steps,
        alice_profile,
        company_name,
        vat,
        converted,
        expected: play.expected,
        alice_notifications,
        bob_notifications,
    })
}

/// Waits until the audit trail holds every event of `report` (by
/// correlation id), then returns the trail's records of this run, in order.
pub async fn wait_for_trail(audit: &Http, report: &Report, timeout: Duration) -> Result<Vec<Value>, ScenarioError> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let reply = audit.get("/audit?limit=100000").send().await?;
        let records: Vec<Value> = reply
            .body
            .as_array()
            .into_iter()
            .flatten()
            .filter(|record| {
                record["correlation_id"]
                    .as_str()
                    .is_some_and(|id| id.starts_with(&format!("{}-", report.run)))
            })
            .cloned()
            .collect();
        if records.len() >= report.expected.len() {
            return Ok(records);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(ScenarioError::Trail {
                found: records.len(),
                expected: report.expected.len(),
                waited: timeout,
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The scenario in progress.
struct Play<'a, S: Fn(&str)> {
    run: String,
    say: &'a S,
    steps: Vec<(String, String, StatusCode)>,
    expected: Vec<Expected>,
}

impl<S: Fn(&str)> Play<'_, S> {
    /// Sends `call` with this step's request id; fails unless it answers `expected`.
    async fn step(&mut self, name: &str, expected: StatusCode, call: Call<'_>) -> Result<Reply, ScenarioError> {
        let request_id = format!("{}-{:02}-{name}", self.run, self.steps.len() + 1);
        let what = call.describe();
        let reply = call.header("x-request-id", &request_id).send().await?;
        (self.say)(&format!("{name:<18} {what} → {}", reply.status));
        self.steps.push((name.to_owned(), request_id, reply.status));
        if reply.status != expected {
            return Err(ScenarioError::Unexpected {
                step: name.to_owned(),
                expected,
                status: reply.status,
                body: reply.body,
            });
        }
        Ok(reply)
    }

    /// Signs in with `call` (`POST /sessions`), expects `user.logged_in`,
    /// and opens the user's notifications as their browser would; returns
    /// the `Authorization` header value and the notifications.
    async fn sign_in(
        &mut self,
        name: &str,
        user_auth: &Http,
        call: Call<'_>,
    ) -> Result<(String, Events), ScenarioError> {
        let reply = self.step(name, StatusCode::OK, call).await?;
        let user = self.id(&reply, "user_id")?;
        self.expect("user.logged_in", Some(user));
        let token = format!("Bearer {}", reply.text("token"));
        let notifications = user_auth
            .events("/notifications", &[("authorization", token.as_str())], "notification")
            .await?;
        Ok((token, notifications))
    }

    /// The id in `field` of the last step's answer.
    fn id(&self, reply: &Reply, field: &str) -> Result<Uuid, ScenarioError> {
        Uuid::parse_str(reply.text(field)).map_err(|_| ScenarioError::Missing {
            step: self.steps.last().map(|(name, _, _)| name.clone()).unwrap_or_default(),
            field: field.to_owned(),
        })
    }

    /// The last step publishes `event_type` about `subject`.
    fn expect(&mut self, event_type: &'static str, subject: Option<Uuid>) {
        self.expect_subject(event_type, subject.map(|id| id.to_string()));
    }

    fn expect_subject(&mut self, event_type: &'static str, subject: Option<String>) {
        let correlation_id = self.steps.last().map(|(_, id, _)| id.clone()).unwrap_or_default();
        self.expected.push(Expected {
            event_type,
            subject,
            correlation_id,
        });
    }
}

//! Who may change things: the operator token, the sessions of operators
//! who logged in with it, the checks against cross-site requests, and the
//! log of what operators did.
//!
//! - Without `XERPIUM_DASHBOARD_TOKEN` the dashboard is read-only: it shows
//!   everything but personal data, and refuses every replay and purge.
//! - With it, an operator logs in with a name and the token and gets a
//!   session cookie (`HttpOnly`, `SameSite=Strict`). Every mutating form
//!   carries the session's own anti-forgery value, checked on arrival; a
//!   request whose `Origin` is not the dashboard's own, or that the browser
//!   marks as cross-site, is refused whatever it carries.
//! - Scripts can instead send `Authorization: Bearer <token>` and
//!   `X-Operator: <name>` (a browser never sends those cross-site without
//!   asking the dashboard first, which it does not allow).
//! - Every action, and every look at personal data, is written to standard
//!   error with the time, the operator and what was done, and kept in
//!   memory (the newest [`KEPT_ACTIONS`]) for the pages to show.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, COOKIE, HOST, ORIGIN};
use chrono::{DateTime, SecondsFormat, Utc};
use constant_time_eq::constant_time_eq;
use serde::Serialize;

use crate::error::Error;

/// The environment variable holding the operator token.
pub const TOKEN_VARIABLE: &str = "XERPIUM_DASHBOARD_TOKEN";
/// The shortest token accepted: a guessable token is no protection.
const MIN_TOKEN_LENGTH: usize = 16;
/// The session cookie's name.
pub const COOKIE_NAME: &str = "xerpium_operator";
/// How long a session lasts after logging in.
const SESSION_LENGTH: Duration = Duration::from_secs(12 * 3600);
/// How many actions the pages can show.
pub const KEPT_ACTIONS: usize = 50;
/// How long a wrong token waits before it is answered, to slow guessing.
pub const WRONG_TOKEN_DELAY: Duration = Duration::from_secs(1);
/// The header naming the operator of a request with the bearer token.
const OPERATOR_HEADER: &str = "x-operator";

/// An operator acting: who, and the anti-forgery value of their session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    /// The name they logged in with.
    pub name: String,
    /// The value every mutating form must carry (empty for a request with
    /// the bearer token, which needs none).
    pub form_key: String,
}

/// Why a mutating request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The dashboard was started without a token.
    ReadOnly,
    /// No valid session or token came with it.
    NotLoggedIn,
    /// It came from another site, or without the session's form key.
    CrossSite,
}

impl Refusal {
    /// For the operator.
    pub fn message(&self) -> String {
        match self {
            Refusal::ReadOnly => format!(
                "this dashboard is read-only: start it with {TOKEN_VARIABLE} set to replay, purge or reveal personal data"
            ),
            Refusal::NotLoggedIn => "log in with the operator token first".to_owned(),
            Refusal::CrossSite => {
                "refused: the request did not come from this dashboard's own page (reload the page and try again)"
                    .to_owned()
            }
        }
    }
}

/// One thing an operator did.
#[derive(Debug, Clone, Serialize)]
pub struct Action {
    /// When.
    pub time: DateTime<Utc>,
    /// Who.
    pub operator: String,
    /// What, for people.
    pub what: String,
}

struct Session {
    name: String,
    form_key: String,
    since: Instant,
    /// What the session's last action did, shown once on the next page.
    flash: Option<String>,
}

/// The token, the sessions, the action log.
pub struct Operators {
    token: Option<String>,
    sessions: Mutex<HashMap<String, Session>>,
    actions: Mutex<VecDeque<Action>>,
    /// What [`record_once`](Operators::record_once) recorded already: by
    /// session (its form key, or the name for the bearer token) and what.
    recorded: Mutex<std::collections::HashSet<(String, String)>>,
}

impl Operators {
    /// With the token from [`TOKEN_VARIABLE`] (read-only without one); an
    /// error naming the variable when it is set but too short.
    pub fn from_env() -> Result<Operators, Error> {
        let token = match std::env::var(TOKEN_VARIABLE) {
            Ok(token) if token.is_empty() => None,
            Ok(token) if token.chars().count() < MIN_TOKEN_LENGTH => {
                return Err(Error::Setting {
                    name: TOKEN_VARIABLE,
                    problem: format!(
                        "is {} characters long; an operator token needs at least {MIN_TOKEN_LENGTH} (e.g. `openssl rand -hex 16`)",
                        token.chars().count()
                    ),
                });
            }
            Ok(token) => Some(token),
            Err(std::env::VarError::NotPresent) => None,
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(Error::Setting {
                    name: TOKEN_VARIABLE,
                    problem: "is not valid UTF-8".to_owned(),
                });
            }
        };
        Ok(Operators {
            token,
            sessions: Mutex::new(HashMap::new()),
            actions: Mutex::new(VecDeque::new()),
            recorded: Mutex::default(),
        })
    }

    /// Whether nobody can change anything.
    pub fn is_read_only(&self) -> bool {
        self.token.is_none()
    }

    fn token_matches(&self, given: &str) -> bool {
        self.token
            .as_deref()
            .is_some_and(|token| constant_time_eq(token.as_bytes(), given.as_bytes()))
    }

    /// Logs `name` in when `token` is the operator token: the new
    /// session's cookie value, else why not.
    pub fn log_in(&self, name: &str, token: &str) -> Result<String, Refusal> {
        if self.is_read_only() {
            return Err(Refusal::ReadOnly);
        }
        if name.trim().is_empty() || !self.token_matches(token) {
            return Err(Refusal::NotLoggedIn);
        }
        let id = uuid::Uuid::new_v4().simple().to_string();
        let session = Session {
            name: name.trim().to_owned(),
            form_key: uuid::Uuid::new_v4().simple().to_string(),
            since: Instant::now(),
            flash: None,
        };
        lock(&self.sessions).insert(id.clone(), session);
        Ok(id)
    }

    /// Ends the session the request's cookie names.
    pub fn log_out(&self, headers: &HeaderMap) {
        if let Some(id) = session_id(headers) {
            lock(&self.sessions).remove(&id);
        }
    }

    /// The operator whose session the request's cookie names, if any.
    pub fn session(&self, headers: &HeaderMap) -> Option<Operator> {
        let id = session_id(headers)?;
        let mut sessions = lock(&self.sessions);
        sessions.retain(|_, session| session.since.elapsed() < SESSION_LENGTH);
        let session = sessions.get(&id)?;
        Some(Operator {
            name: session.name.clone(),
            form_key: session.form_key.clone(),
        })
    }

    /// Keeps `text` (what an action did) for the next page the request's
    /// session sees.
    pub fn set_flash(&self, headers: &HeaderMap, text: String) {
        if let Some(id) = session_id(headers)
            && let Some(session) = lock(&self.sessions).get_mut(&id)
        {
            session.flash = Some(text);
        }
    }

    /// What the request's session's last action did, once.
    pub fn take_flash(&self, headers: &HeaderMap) -> Option<String> {
        let id = session_id(headers)?;
        lock(&self.sessions).get_mut(&id)?.flash.take()
    }

    /// The operator behind a mutating request, or why it is refused: a
    /// request from this dashboard's own pages with a session and its
    /// `form_key`, or one with the bearer token and an operator name.
    pub fn authorize(&self, headers: &HeaderMap, form_key: Option<&str>) -> Result<Operator, Refusal> {
        if self.is_read_only() {
            return Err(Refusal::ReadOnly);
        }
        if let Some(token) = bearer(headers) {
            let name = headers.get(OPERATOR_HEADER).and_then(|value| value.to_str().ok());
            return match name.map(str::trim) {
                Some(name) if !name.is_empty() && self.token_matches(token) => Ok(Operator {
                    name: name.to_owned(),
                    form_key: String::new(),
                }),
                _ => Err(Refusal::NotLoggedIn),
            };
        }
        if is_cross_site(headers) {
            return Err(Refusal::CrossSite);
        }
        let operator = self.session(headers).ok_or(Refusal::NotLoggedIn)?;
        match form_key {
            Some(key) if constant_time_eq(key.as_bytes(), operator.form_key.as_bytes()) => Ok(operator),
            _ => Err(Refusal::CrossSite),
        }
    }

    /// The operator allowed to see personal data on a page (a logged-in
    /// session, or the bearer token), or why not.
    pub fn reader(&self, headers: &HeaderMap) -> Result<Operator, Refusal> {
        if self.is_read_only() {
            return Err(Refusal::ReadOnly);
        }
        if bearer(headers).is_some() {
            return self.authorize(headers, None);
        }
        self.session(headers).ok_or(Refusal::NotLoggedIn)
    }

    /// Records that `operator` did `what`: on standard error and in memory.
    pub fn record(&self, operator: &Operator, what: String) {
        let action = Action {
            time: Utc::now(),
            operator: operator.name.clone(),
            what,
        };
        eprintln!(
            "{} xerpium-mq dashboard: operator {:?} {}",
            action.time.to_rfc3339_opts(SecondsFormat::Millis, true),
            action.operator,
            action.what
        );
        let mut actions = lock(&self.actions);
        actions.push_front(action);
        actions.truncate(KEPT_ACTIONS);
    }

    /// Records that `operator` did `what`, the first time in their session
    /// (a look that a page repeats every second is logged once).
    pub fn record_once(&self, operator: &Operator, what: String) {
        let session = if operator.form_key.is_empty() {
            &operator.name
        } else {
            &operator.form_key
        };
        if lock(&self.recorded).insert((session.clone(), what.clone())) {
            self.record(operator, what);
        }
    }

    /// The newest actions, newest first.
    pub fn actions(&self) -> Vec<Action> {
        lock(&self.actions).iter().cloned().collect()
    }
}

/// The session cookie for `id`, as a `Set-Cookie` value.
pub fn session_cookie(id: &str) -> String {
    format!(
        "{COOKIE_NAME}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
        SESSION_LENGTH.as_secs()
    )
}

/// The `Set-Cookie` value that ends the session cookie.
pub fn expired_cookie() -> String {
    format!("{COOKIE_NAME}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0")
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The session id in the request's `Cookie` headers (`name=value` pairs
/// separated by `;`, RFC 6265 section 5.4).
fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == COOKIE_NAME && !value.is_empty()).then(|| value.to_owned())
        })
}

/// The bearer token of the request's `Authorization` header.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers.get(AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ")
}

/// Whether the browser says the request comes from another site: an
/// `Origin` whose host is not the request's `Host`, or `Sec-Fetch-Site:
/// cross-site`.
fn is_cross_site(headers: &HeaderMap) -> bool {
    let text = |name| {
        headers
            .get(name)
            .and_then(|value: &axum::http::HeaderValue| value.to_str().ok())
    };
    if text(axum::http::HeaderName::from_static("sec-fetch-site")) == Some("cross-site") {
        return true;
    }
    match (text(ORIGIN), text(HOST)) {
        (Some(origin), Some(host)) => origin.split_once("://").map(|(_, rest)| rest) != Some(host),
        (Some(_), None) => true,
        (None, _) => false,
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn operators(token: Option<&str>) -> Operators {
        Operators {
            token: token.map(str::to_owned),
            sessions: Mutex::new(HashMap::new()),
            actions: Mutex::new(VecDeque::new()),
            recorded: Mutex::default(),
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, HeaderValue::from_str(value).expect("a header value"));
        }
        headers
    }

    #[test]
    fn a_session_needs_its_form_key_and_the_same_origin() {
        let operators = operators(Some("0123456789abcdef"));
        assert_eq!(operators.log_in("ann", "wrong-token-0000"), Err(Refusal::NotLoggedIn));
        assert_eq!(operators.log_in(" ", "0123456789abcdef"), Err(Refusal::NotLoggedIn));
        let id = operators.log_in("ann", "0123456789abcdef").expect("logged in");
        let cookie = format!("theme=dark; {COOKIE_NAME}={id}");
        let own = headers(&[
            ("cookie", &cookie),
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080"),
        ]);
        let key = operators.session(&own).expect("a session").form_key;
        assert_eq!(operators.authorize(&own, Some(&key)).map(|o| o.name), Ok("ann".into()));
        assert_eq!(operators.authorize(&own, Some("guess")), Err(Refusal::CrossSite));
        assert_eq!(operators.authorize(&own, None), Err(Refusal::CrossSite));
        let foreign = headers(&[
            ("cookie", &cookie),
            ("host", "127.0.0.1:8080"),
            ("origin", "http://evil.example"),
        ]);
        assert_eq!(operators.authorize(&foreign, Some(&key)), Err(Refusal::CrossSite));
        let marked = headers(&[("cookie", &cookie), ("sec-fetch-site", "cross-site")]);
        assert_eq!(operators.authorize(&marked, Some(&key)), Err(Refusal::CrossSite));
        operators.log_out(&own);
        assert_eq!(operators.authorize(&own, Some(&key)), Err(Refusal::NotLoggedIn));
    }

    #[test]
    fn scripts_use_the_bearer_token_with_a_name() {
        let operators = operators(Some("0123456789abcdef"));
        let script = headers(&[("authorization", "Bearer 0123456789abcdef"), ("x-operator", "ci")]);
        assert_eq!(operators.authorize(&script, None).map(|o| o.name), Ok("ci".into()));
        let nameless = headers(&[("authorization", "Bearer 0123456789abcdef")]);
        assert_eq!(operators.authorize(&nameless, None), Err(Refusal::NotLoggedIn));
        let wrong = headers(&[("authorization", "Bearer 0123456789abcdeX"), ("x-operator", "ci")]);
        assert_eq!(operators.authorize(&wrong, None), Err(Refusal::NotLoggedIn));
    }

    #[test]
    fn without_a_token_nothing_changes() {
        let operators = operators(None);
        assert_eq!(operators.log_in("ann", ""), Err(Refusal::ReadOnly));
        assert_eq!(operators.authorize(&HeaderMap::new(), None), Err(Refusal::ReadOnly));
        assert_eq!(operators.reader(&HeaderMap::new()), Err(Refusal::ReadOnly));
    }

    #[test]
    fn actions_are_kept_newest_first() {
        let operators = operators(Some("0123456789abcdef"));
        let ann = Operator {
            name: "ann".into(),
            form_key: String::new(),
        };
        for n in 0..KEPT_ACTIONS + 5 {
            operators.record(&ann, format!("did {n}"));
        }
        let actions = operators.actions();
        assert_eq!(actions.len(), KEPT_ACTIONS);
        assert_eq!(actions[0].what, format!("did {}", KEPT_ACTIONS + 4));
    }
}

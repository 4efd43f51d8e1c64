//! `xerpium-mq dashboard`: the operator's view in a browser.
//!
//! It serves, on loopback by default:
//! - `/`: the overview: a verdict per consumer group (healthy, lagging,
//!   stalled) with the reason, every service instance, the dead letters,
//!   the Redis servers, and charts of the last hour;
//! - `/groups/<group>`: one group's streams, consumers, pending entries and
//!   partition owners;
//! - `/dead-letters`, `/dead-letters/<group>`, `/dead-letters/<group>/<id>`:
//!   dead letters to read, replay and purge (the semantics of
//!   `xerpium-mq dlq`, from the same code);
//! - `/tail`: a live tail of a category;
//! - `/catalog` and `/streams`: what this build knows, and what Redis holds;
//! - `/api/status`, `/api/history`, `/api/tail`: the same as JSON.
//!
//! The charts come from a [history](history) the dashboard samples while it
//! runs. Who may change things is [`operator`]'s business. Every page is
//! made on the server; the one script (`/assets/app.js`, served by the
//! dashboard itself like the style sheet: nothing comes from elsewhere)
//! refreshes the live parts, draws the charts and runs the tail.

mod assets;
mod history;
mod operator;
mod pages;
mod problem;
mod redis_info;
mod status;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::http::header::{CONTENT_SECURITY_POLICY, HOST, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use xerpium_messaging::HealthMonitor;

use crate::error::Error;
use crate::session::Session;
use history::SharedHistory;
use operator::Operators;
pub use status::Thresholds;

/// How `dashboard` was asked to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where to listen.
    pub addr: SocketAddr,
    /// How often the history is sampled.
    pub sample_every: Duration,
    /// When a group counts as lagging or stalled.
    pub thresholds: Thresholds,
    /// Other names (`host` or `host:port`) it may be reached by, e.g.
    /// behind a proxy; besides its address, `localhost`, `127.0.0.1` and
    /// `[::1]` at its port.
    pub allow_hosts: Vec<String>,
}

/// What every page works with.
pub struct Dashboard {
    /// The configuration and the connection.
    session: Session,
    /// The namespace's health monitor.
    monitor: HealthMonitor,
    /// What the sampler saw.
    history: SharedHistory,
    /// Who may change things.
    operators: Operators,
    /// When a group counts as lagging or stalled.
    thresholds: Thresholds,
    /// How often the history is sampled.
    sample_every: Duration,
    /// Held by the dead-letter action running (replay, purge): one at a time.
    actions: tokio::sync::Mutex<()>,
    /// The `Host` values it answers to (see [`Options::allow_hosts`]).
    hosts: Vec<String>,
}

/// The dashboard, shared by every request.
type App = Arc<Dashboard>;

/// Serves the dashboard until interrupted (Ctrl-C, `SIGTERM`).
pub async fn serve(session: Session, options: Options) -> Result<ExitCode, Error> {
    let operators = Operators::from_env()?;
    let monitor = session.monitor()?;
    let history = SharedHistory::default();
    let listener = tokio::net::TcpListener::bind(options.addr)
        .await
        .map_err(|source| Error::Listen {
            addr: options.addr,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| Error::Listen {
        addr: options.addr,
        source,
    })?;
    let sampler = tokio::spawn(history::sample(
        monitor.clone(),
        session.keys.clone(),
        history.clone(),
        options.sample_every,
    ));
    let mode = if operators.is_read_only() {
        format!("read-only: set {} to replay and purge", operator::TOKEN_VARIABLE)
    } else {
        "operators log in with the token".to_owned()
    };
    if !addr.ip().is_loopback() {
        eprintln!("xerpium-mq dashboard: warning: listening on {addr}, reachable from other hosts");
    }
    println!(
        "xerpium-mq dashboard for namespace `{}` at {}: http://{addr}/ ({mode})",
        session.keys.namespace(),
        session.url
    );
    let app = Arc::new(Dashboard {
        session,
        monitor,
        history,
        operators,
        thresholds: options.thresholds,
        sample_every: options.sample_every,
        actions: tokio::sync::Mutex::new(()),
        hosts: hosts(addr, &options.allow_hosts),
    });
    let served = axum::serve(listener, router(app))
        .with_graceful_shutdown(interrupted())
        .await;
    sampler.abort();
    served.map_err(Error::Output)?;
    Ok(ExitCode::SUCCESS)
}

/// Every page, action and asset.
fn router(app: App) -> Router {
    Router::new()
        .route("/", get(pages::overview::page))
        .route("/groups/{group}", get(pages::group::page))
        .route("/dead-letters", get(pages::dead_letters::index))
        .route("/dead-letters/{group}", get(pages::dead_letters::list))
        .route("/dead-letters/{group}/replay", post(pages::dead_letters::replay))
        .route("/dead-letters/{group}/purge", post(pages::dead_letters::purge))
        .route("/dead-letters/{group}/{id}", get(pages::dead_letters::one))
        .route("/tail", get(pages::tail::page))
        .route("/catalog", get(pages::catalog::page))
        .route("/streams", get(pages::streams::page))
        .route("/login", get(pages::login::form).post(pages::login::log_in))
        .route("/logout", post(pages::login::log_out))
        .route("/api/status", get(pages::overview::api))
        .route("/api/history", get(pages::overview::history))
        .route("/api/tail", get(pages::tail::api))
        .route("/assets/{file}", get(assets::serve))
        .fallback(pages::not_found)
        .layer(axum::middleware::map_response(protect))
        .layer(axum::middleware::from_fn_with_state(app.clone(), known_host))
        .with_state(app)
}

/// The `Host` values a dashboard listening on `addr` answers to.
fn hosts(addr: SocketAddr, allowed: &[String]) -> Vec<String> {
    let port = addr.port();
    let mut hosts = vec![
        addr.to_string(),
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
    ];
    for host in allowed {
        hosts.push(host.clone());
        if !host.contains(':') {
            hosts.push(format!("{host}:{port}"));
        }
    }
    hosts
}

/// Refuses a request for a host the dashboard does not answer to: a page
/// elsewhere that points its own name at this machine (DNS rebinding) gets
/// nothing.
async fn known_host(State(app): State<App>, request: Request, next: Next) -> Response {
    let host = request.headers().get(HOST).and_then(|host| host.to_str().ok());
    if host.is_some_and(|host| app.hosts.iter().any(|known| known.eq_ignore_ascii_case(host))) {
        return next.run(request).await;
    }
    let asked = host.unwrap_or("none");
    problem::Problem::misdirected(format!(
        "this dashboard answers to {} (the request was for host {asked}); pass --allow-host NAME to reach it by another name",
        app.hosts[0]
    ))
    .into_response()
}

/// What every answer carries: only the dashboard's own script, styles and
/// forms run on its pages; no other site may frame them; nothing is sniffed
/// or sent on as a referrer to other sites (`same-origin`: a stricter
/// policy makes browsers send `Origin: null`, which the cross-site check refuses).
async fn protect(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    response
}

/// Resolves on Ctrl-C or `SIGTERM`.
async fn interrupted() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

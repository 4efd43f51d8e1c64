//! `user-auth`: XERPIUM's reference user service.
//!
//! Accounts, sessions and credentials over HTTP (see [`api`]), users in
//! SQLite with argon2 password hashes, every user event of the catalog
//! published through the generated methods into a transactional outbox
//! (so the service keeps answering while Redis is down, and loses nothing),
//! and the user's real-time notifications forwarded to the browser
//! ([`gateway`], [`page`]); and the catalog's `user.get_profile` command
//! served through the generated handler trait ([`commands`]).
//!
//! # Layout
//! - [`settings`]: `USER_AUTH_*` settings.
//! - [`store`]: users and sessions in SQLite.
//! - [`password`]: argon2 hashing; [`auth`]: session tokens and the signed-in user.
//! - [`validate`]: checks of what callers send; [`client`]: where a request came from.
//! - [`api`]: the HTTP API, one module per resource.
//! - [`commands`]: the catalog's commands this service serves.
//! - [`notices`]: the notifications this service sends (e.g. "Welcome!").
//! - [`gateway`]: notifications to the browser as Server-Sent Events; [`page`]: the page showing them.

pub mod api;
pub mod auth;
pub mod client;
pub mod commands;
pub mod gateway;
pub mod notices;
pub mod page;
pub mod password;
pub mod settings;
pub mod store;
pub mod validate;

use std::sync::Arc;

use tokio::net::TcpListener;
use xerpium_events::UserAuthCommandServer;
use xerpium_events::messaging::{Config, Heartbeat, Publisher};
use xerpium_service::commands::Serving;
use xerpium_service::{Database, Error, Health, Outbox, Shutdown, http, outbox};

pub use settings::Settings;

/// The service's name: the `source` of its events, and the target of its commands.
pub const SERVICE: &str = "user-auth";

/// What every request handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The database.
    pub db: Database,
    /// The outbox of the events to publish.
    pub outbox: Outbox,
    /// The service's settings.
    pub settings: Arc<Settings>,
    /// The runtime's configuration.
    pub config: Config,
    /// The notifications this service sends.
    pub notices: notices::Notices,
    /// The notifications this service forwards to browsers.
    pub gateway: gateway::Gateway,
    /// What `GET /health` answers, from the heartbeat.
    pub health: Health,
}

/// Runs user-auth on `listener` until `shutdown`: the HTTP API, the outbox
/// relay, the command server, the notification gateway and a heartbeat.
/// The command server is essential: if it stops before `shutdown`,
/// everything stops and this returns its error.
pub async fn run(settings: Settings, config: Config, listener: TcpListener, shutdown: Shutdown) -> Result<(), Error> {
    let db = Database::open(&settings.database, &[store::SCHEMA, outbox::SCHEMA].concat())?;
    let outbox = Outbox::new(db.clone(), Publisher::connect(&config).await?);
    let serving = Serving::start(
        &config,
        UserAuthCommandServer(commands::Commands::new(db.clone())),
        &shutdown,
    )?;
    let heartbeat = Heartbeat::builder(&config)
        .version(env!("CARGO_PKG_VERSION"))
        .watch(serving.progress())
        .start()?;
    let relay = tokio::spawn(outbox.relay().run(shutdown.clone()));
    let app = AppState {
        notices: notices::Notices::new(&config)?,
        gateway: gateway::Gateway::new(&config, shutdown.clone())?,
        health: Health::new(&heartbeat, &config),
        db,
        outbox,
        settings: Arc::new(settings),
        config,
    };
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "user-auth listening");
    }
    let served = http::serve(listener, api::router(app), shutdown.clone()).await;
    shutdown.trigger();
    let commands = serving.stop().await;
    if let Err(error) = relay.await {
        tracing::error!(%error, "the outbox relay failed");
    }
    heartbeat.stop().await;
    served?;
    commands
}

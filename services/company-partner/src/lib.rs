//! `company-partner`: XERPIUM's reference company/partner service.
//!
//! Companies, their partners and currency rates over HTTP (see [`api`]),
//! stored in SQLite, decimals exact end to end; the catalog's company,
//! partner and currency events published through the generated methods
//! into a transactional outbox; and the catalog's `company.get`,
//! `partner.validate_vat` and `currency.convert` commands served through
//! the generated handler trait ([`commands`]).
//!
//! # Layout
//! - [`settings`]: `COMPANY_PARTNER_*` settings.
//! - [`store`]: companies, partners, currencies and rates in SQLite.
//! - [`codes`]: currency and country codes; [`vat`]: VAT number checks; [`conversion`]: currency conversion.
//! - [`api`]: the HTTP API, one module per resource.
//! - [`commands`]: the catalog's commands this service serves.

pub mod api;
pub mod codes;
pub mod commands;
pub mod conversion;
pub mod settings;
pub mod store;
pub mod vat;

use tokio::net::TcpListener;
use xerpium_events::CompanyPartnerCommandServer;
use xerpium_events::messaging::{Config, Heartbeat, Publisher};
use xerpium_service::commands::Serving;
use xerpium_service::{Database, Error, Health, Outbox, Shutdown, http, outbox};

pub use settings::Settings;

/// The service's name: the `source` of its events, and the target of its commands.
pub const SERVICE: &str = "company-partner";

/// What every request handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The database.
    pub db: Database,
    /// The outbox of the events to publish.
    pub outbox: Outbox,
    /// What `GET /health` answers, from the heartbeat.
    pub health: Health,
}

/// Runs company-partner on `listener` until `shutdown`: the HTTP API, the
/// outbox relay, the command server and a heartbeat. The command server is
/// essential: if it stops before `shutdown`, everything stops and this
/// returns its error.
pub async fn run(settings: Settings, config: Config, listener: TcpListener, shutdown: Shutdown) -> Result<(), Error> {
    let db = Database::open(&settings.database, &[store::SCHEMA, outbox::SCHEMA].concat())?;
    let outbox = Outbox::new(db.clone(), Publisher::connect(&config).await?);
    let commands = commands::Commands::new(db.clone());
    let serving = Serving::start(&config, CompanyPartnerCommandServer(commands), &shutdown)?;
    let heartbeat = Heartbeat::builder(&config)
        .version(env!("CARGO_PKG_VERSION"))
        .watch(serving.progress())
        .start()?;
    let relay = tokio::spawn(outbox.relay().run(shutdown.clone()));
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "company-partner listening");
    }
    let app = AppState {
        health: Health::new(&heartbeat, &config),
        db,
        outbox,
    };
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

//! Companies, partners, active currencies and exchange rates in SQLite: the
//! schema, the records and every statement on them. Companies and partners
//! are stored as JSON documents of their public shape (the catalog's
//! `Company`, and [`Partner`]), decimals as strings, so nothing is rounded.

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use xerpium_events::{Address, Company, Money, PartnerKind};
use xerpium_service::DbError;
use xerpium_service::db::column::{self, time_text};

/// The tables (the outbox's is added by the service).
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS companies (
    id TEXT PRIMARY KEY,
    doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS partners (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies (id),
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS partners_company ON partners (company_id);
CREATE TABLE IF NOT EXISTS currencies (
    company_id TEXT NOT NULL REFERENCES companies (id),
    currency TEXT NOT NULL,
    decimals INTEGER NOT NULL,
    PRIMARY KEY (company_id, currency)
);
CREATE TABLE IF NOT EXISTS rates (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    base TEXT NOT NULL,
    quote TEXT NOT NULL,
    rate TEXT NOT NULL,
    valid_on TEXT NOT NULL,
    source TEXT NOT NULL,
    recorded_by TEXT,
    recorded_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS rates_pair ON rates (base, quote, valid_on);
";

/// A business partner of a company.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Partner {
    /// Its id.
    pub partner_id: Uuid,
    /// The company that owns the record.
    pub company_id: Uuid,
    /// Customer, supplier or both.
    pub kind: PartnerKind,
    /// Person or organisation name.
    pub name: String,
    /// Contact e-mail.
    pub email: Option<String>,
    /// Contact phone number.
    pub phone: Option<String>,
    /// VAT number.
    pub vat_number: Option<String>,
    /// Billing address.
    pub address: Option<Address>,
    /// The most the partner may owe.
    pub credit_limit: Option<Money>,
    /// Days until an invoice is due.
    pub payment_terms_days: u32,
    /// Whether it is archived (kept in history, no new documents).
    pub archived: bool,
}

/// An exchange rate as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rate {
    /// Base currency.
    pub base: String,
    /// Quote currency.
    pub quote: String,
    /// Units of `quote` per unit of `base`.
    pub rate: Decimal,
    /// The day it applies to.
    pub valid_on: NaiveDate,
    /// Where it comes from.
    pub source: String,
    /// Who entered it.
    pub recorded_by: Option<Uuid>,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
}

/// The company `id`, if any.
pub fn company(c: &Connection, id: Uuid) -> Result<Option<Company>, DbError> {
    document(c, "SELECT doc FROM companies WHERE id = ?1", id)
}

/// Stores `company`, new or changed.
pub fn put_company(c: &Connection, company: &Company) -> Result<(), DbError> {
    c.execute(
        "INSERT INTO companies (id, doc) VALUES (?1, ?2) ON CONFLICT (id) DO UPDATE SET doc = excluded.doc",
        params![company.company_id.to_string(), json(company)?],
    )?;
    Ok(())
}

/// The partner `id`, if any.
pub fn partner(c: &Connection, id: Uuid) -> Result<Option<Partner>, DbError> {
    document(c, "SELECT doc FROM partners WHERE id = ?1", id)
}

/// Stores `partner`, new or changed.
pub fn put_partner(c: &Connection, partner: &Partner) -> Result<(), DbError> {
    c.execute(
        "INSERT INTO partners (id, company_id, doc) VALUES (?1, ?2, ?3)
         ON CONFLICT (id) DO UPDATE SET doc = excluded.doc",
        params![
            partner.partner_id.to_string(),
            partner.company_id.to_string(),
            json(partner)?
        ],
    )?;
    Ok(())
}

/// Activates `currency` for `company_id`; returns false when it was active already.
pub fn activate_currency(c: &Connection, company_id: Uuid, currency: &str, decimals: u32) -> Result<bool, DbError> {
    let added = c.execute(
        "INSERT OR IGNORE INTO currencies (company_id, currency, decimals) VALUES (?1, ?2, ?3)",
        params![company_id.to_string(), currency, decimals],
    )?;
    Ok(added > 0)
}

/// Records a rate.
pub fn insert_rate(c: &Connection, rate: &Rate) -> Result<(), DbError> {
    c.execute(
        "INSERT INTO rates (base, quote, rate, valid_on, source, recorded_by, recorded_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            rate.base,
            rate.quote,
            rate.rate.to_string(),
            rate.valid_on.to_string(),
            rate.source,
            rate.recorded_by.map(|id| id.to_string()),
            time_text(&rate.recorded_at),
        ],
    )?;
    Ok(())
}

/// The latest rate from `base` to `quote` valid on `on` (the latest of all
/// when `None`): the one for the latest day, the last recorded for that day.
pub fn latest_rate(c: &Connection, base: &str, quote: &str, on: Option<NaiveDate>) -> Result<Option<Rate>, DbError> {
    let on = on.map_or_else(|| "9999-12-31".to_owned(), |day| day.to_string());
    let rate = c
        .query_row(
            "SELECT base, quote, rate, valid_on, source, recorded_by, recorded_at FROM rates
             WHERE base = ?1 AND quote = ?2 AND valid_on <= ?3
             ORDER BY valid_on DESC, seq DESC LIMIT 1",
            params![base, quote, on],
            |row| {
                let rate: String = row.get(2)?;
                let valid_on: String = row.get(3)?;
                Ok(Rate {
                    base: row.get(0)?,
                    quote: row.get(1)?,
                    rate: rate.parse().map_err(|error| invalid(2, error))?,
                    valid_on: valid_on.parse().map_err(|error| invalid(3, error))?,
                    source: row.get(4)?,
                    recorded_by: column::opt_uuid(row, 5)?,
                    recorded_at: column::time(row, 6)?,
                })
            },
        )
        .optional()?;
    Ok(rate)
}

fn document<T: DeserializeOwned>(c: &Connection, sql: &str, id: Uuid) -> Result<Option<T>, DbError> {
    let doc: Option<String> = c.query_row(sql, [id.to_string()], |row| row.get(0)).optional()?;
    doc.map(|doc| serde_json::from_str(&doc).map_err(|error| DbError::Sqlite(invalid(0, error))))
        .transpose()
}

fn json<T: Serialize>(value: &T) -> Result<String, DbError> {
    serde_json::to_string(value)
        .map_err(|error| DbError::Sqlite(rusqlite::Error::ToSqlConversionFailure(Box::new(error))))
}

fn invalid(index: usize, error: impl std::error::Error + Send + Sync + 'static) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, Box::new(error))
}

#[cfg(test)]
mod tests {
    use super::*;
    use xerpium_service::db::column::now;

    fn db() -> Connection {
        let c = Connection::open_in_memory().expect("sqlite");
        c.execute_batch(SCHEMA).expect("schema");
        c
    }

    fn rate(rate: &str, valid_on: &str) -> Rate {
        Rate {
            base: "EUR".into(),
            quote: "USD".into(),
            rate: rate.parse().expect("decimal"),
            valid_on: valid_on.parse().expect("date"),
            source: "manual".into(),
            recorded_by: None,
            recorded_at: now(),
        }
    }

    #[test]
    fn the_latest_rate_is_per_day_then_per_recording() {
        let c = db();
        for (value, day) in [("1.08", "2025-01-01"), ("1.09", "2025-01-02"), ("1.10", "2025-01-02")] {
            insert_rate(&c, &rate(value, day)).expect("insert");
        }
        let latest = |on: Option<&str>| {
            latest_rate(&c, "EUR", "USD", on.map(|day| day.parse().expect("date")))
                .expect("query")
                .map(|rate| rate.rate.to_string())
        };
        assert_eq!(latest(None).as_deref(), Some("1.10"));
        assert_eq!(latest(Some("2025-01-01")).as_deref(), Some("1.08"));
        assert_eq!(latest(Some("2024-12-31")), None);
        assert_eq!(latest_rate(&c, "USD", "EUR", None).expect("query"), None);
    }

    #[test]
    fn documents_round_trip() {
        let c = db();
        let acme = Company {
            company_id: Uuid::now_v7(),
            name: "Acme".into(),
            legal_name: "Acme GmbH".into(),
            vat_number: None,
            currency: "EUR".into(),
            address: None,
            active: true,
        };
        put_company(&c, &acme).expect("put");
        assert_eq!(company(&c, acme.company_id).expect("get"), Some(acme.clone()));
        assert!(activate_currency(&c, acme.company_id, "USD", 2).expect("activate"));
        assert!(!activate_currency(&c, acme.company_id, "USD", 2).expect("activate"));
    }
}

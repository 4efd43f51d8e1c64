//! The catalog's commands served by company-partner (`company.get`,
//! `partner.validate_vat`, `currency.convert`), through the generated
//! [`CompanyPartnerCommands`] trait and `CompanyPartnerCommandServer`.
//!
//! Reads only, so serving one twice (at-least-once delivery) is harmless.
//! A command that cannot be answered (no rate for a pair) fails
//! permanently: the caller gets the reason at once.

use chrono::Utc;
use xerpium_events::{
    CompanyGetRequest, CompanyGetResponse, CompanyPartnerCommands, CurrencyConvertRequest, CurrencyConvertResponse,
    HandlerError, Message, PartnerValidateVatRequest, PartnerValidateVatResponse,
};
use xerpium_service::Database;

use crate::conversion::{self, ConversionError};
use crate::vat::{self, Verdict};
use crate::{codes, store};

/// company-partner's command handlers.
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

impl CompanyPartnerCommands for Commands {
    async fn company_get(
        &self,
        request: CompanyGetRequest,
        _message: &Message,
    ) -> Result<CompanyGetResponse, HandlerError> {
        let company = self
            .db
            .run(move |c| store::company(c, request.company_id).map_err(HandlerError::from))
            .await?;
        Ok(CompanyGetResponse { company })
    }

    async fn partner_validate_vat(
        &self,
        request: PartnerValidateVatRequest,
        _message: &Message,
    ) -> Result<PartnerValidateVatResponse, HandlerError> {
        let verdict = match codes::country(&request.country) {
            Ok(country) => vat::check(&country, &request.vat_number),
            Err(error) => Verdict::Invalid(error.message),
        };
        Ok(match verdict {
            Verdict::Valid(normalized) => PartnerValidateVatResponse {
                valid: true,
                normalized: Some(normalized),
                reason: None,
            },
            Verdict::Invalid(reason) => PartnerValidateVatResponse {
                valid: false,
                normalized: None,
                reason: Some(reason),
            },
        })
    }

    async fn currency_convert(
        &self,
        request: CurrencyConvertRequest,
        _message: &Message,
    ) -> Result<CurrencyConvertResponse, HandlerError> {
        let from = codes::currency(&request.amount.currency).map_err(|error| HandlerError::permanent(error.message))?;
        let to = codes::currency(&request.to).map_err(|error| HandlerError::permanent(error.message))?;
        let on = request.rate_date;
        let (base, quote) = (from.clone(), to.clone());
        let (direct, inverse) = self
            .db
            .run(move |c| {
                let direct = store::latest_rate(c, &base, &quote, on)?;
                let inverse = store::latest_rate(c, &quote, &base, on)?;
                Ok::<_, HandlerError>((direct, inverse))
            })
            .await?;
        let amount = xerpium_events::Money {
            amount: request.amount.amount,
            currency: from,
        };
        let converted = conversion::convert(&amount, &to, direct, inverse, on, Utc::now().date_naive())
            .map_err(|error: ConversionError| HandlerError::permanent(error))?;
        Ok(CurrencyConvertResponse {
            converted: converted.amount,
            rate: converted.rate,
            valid_on: converted.valid_on,
        })
    }
}

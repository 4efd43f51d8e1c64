//! Currency conversion with recorded rates, in decimals: the rate of the
//! pair (or the inverse of the opposite pair), the amount rounded to the
//! target currency's minor units, half away from zero.

use chrono::NaiveDate;
use rust_decimal::{Decimal, RoundingStrategy};
use xerpium_events::Money;

use crate::codes::minor_units;
use crate::store::Rate;

/// Digits kept of a rate computed as the inverse of a recorded one.
pub const INVERSE_RATE_DIGITS: u32 = 10;

/// A conversion's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Converted {
    /// The amount in the target currency, rounded.
    pub amount: Money,
    /// The rate applied: units of the target per unit of the source.
    pub rate: Decimal,
    /// The day the rate is valid for.
    pub valid_on: NaiveDate,
}

/// Why an amount cannot be converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConversionError {
    /// No rate is recorded for the pair (either way) on or before the day.
    #[error("no rate from {from} to {to} is recorded{}", on.map(|day| format!(" for {day} or before")).unwrap_or_default())]
    NoRate {
        /// The source currency.
        from: String,
        /// The target currency.
        to: String,
        /// The day asked for.
        on: Option<NaiveDate>,
    },
    /// The result does not fit a decimal.
    #[error("the converted amount is too large")]
    Overflow,
}

/// Converts `amount` into `to` with `direct` (a rate from the amount's
/// currency to `to`) or else `inverse` (from `to` to it); the same currency
/// converts at 1 on `today`.
pub fn convert(
    amount: &Money,
    to: &str,
    direct: Option<Rate>,
    inverse: Option<Rate>,
    on: Option<NaiveDate>,
    today: NaiveDate,
) -> Result<Converted, ConversionError> {
    let (rate, valid_on) = if amount.currency == to {
        (Decimal::ONE, on.unwrap_or(today))
    } else if let Some(direct) = direct {
        (direct.rate, direct.valid_on)
    } else if let Some(inverse) = inverse.filter(|rate| !rate.rate.is_zero()) {
        let rate = Decimal::ONE
            .checked_div(inverse.rate)
            .ok_or(ConversionError::Overflow)?
            .round_dp(INVERSE_RATE_DIGITS)
            .normalize();
        (rate, inverse.valid_on)
    } else {
        return Err(ConversionError::NoRate {
            from: amount.currency.clone(),
            to: to.to_owned(),
            on,
        });
    };
    let digits = minor_units(to);
    let mut value = amount
        .amount
        .checked_mul(rate)
        .ok_or(ConversionError::Overflow)?
        .round_dp_with_strategy(digits, RoundingStrategy::MidpointAwayFromZero);
    value.rescale(digits);
    Ok(Converted {
        amount: Money {
            amount: value,
            currency: to.to_owned(),
        },
        rate,
        valid_on,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money(amount: &str, currency: &str) -> Money {
        Money {
            amount: amount.parse().expect("decimal"),
            currency: currency.into(),
        }
    }

    fn rate(base: &str, quote: &str, rate: &str) -> Rate {
        Rate {
            base: base.into(),
            quote: quote.into(),
            rate: rate.parse().expect("decimal"),
            valid_on: day(),
            source: "manual".into(),
            recorded_by: None,
            recorded_at: chrono::Utc::now(),
        }
    }

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 3, 14).expect("date")
    }

    #[test]
    fn direct_inverse_and_same_currency() {
        let direct = convert(
            &money("100.00", "EUR"),
            "USD",
            Some(rate("EUR", "USD", "1.0845")),
            None,
            None,
            day(),
        )
        .expect("converts");
        assert_eq!(direct.amount, money("108.45", "USD"));
        assert_eq!(direct.rate.to_string(), "1.0845");

        let inverse = convert(
            &money("108.45", "USD"),
            "EUR",
            None,
            Some(rate("EUR", "USD", "1.0845")),
            None,
            day(),
        )
        .expect("converts");
        assert_eq!(inverse.amount, money("100.00", "EUR"));
        assert_eq!(inverse.rate.to_string(), "0.9220839096");

        let same = convert(&money("5", "EUR"), "EUR", None, None, None, day()).expect("converts");
        assert_eq!(same.amount.amount.to_string(), "5.00");
    }

    #[test]
    fn rounding_follows_the_target_currency() {
        let yen = convert(
            &money("10.00", "EUR"),
            "JPY",
            Some(rate("EUR", "JPY", "161.55")),
            None,
            None,
            day(),
        )
        .expect("converts");
        assert_eq!(yen.amount.amount.to_string(), "1616");
        let half = convert(
            &money("0.125", "EUR"),
            "USD",
            Some(rate("EUR", "USD", "1")),
            None,
            None,
            day(),
        )
        .expect("converts");
        assert_eq!(half.amount.amount.to_string(), "0.13");
    }

    #[test]
    fn no_rate_is_an_error() {
        let error = convert(&money("1", "EUR"), "CHF", None, None, Some(day()), day()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "no rate from EUR to CHF is recorded for 2025-03-14 or before"
        );
    }
}

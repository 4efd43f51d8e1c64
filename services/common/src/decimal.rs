//! Decimals in JSON requests: accepted as strings only (`"1.0845"`), so an
//! amount or a rate never passes through a binary float on its way in.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, de::Error};

/// Deserializes a [`Decimal`] from a JSON string; a JSON number is refused.
/// Use with `#[serde(deserialize_with = "xerpium_service::decimal::from_string")]`.
pub fn from_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
    let text = String::deserialize(deserializer)
        .map_err(|_| D::Error::custom("a decimal must be written as a string, e.g. \"1.0845\""))?;
    Decimal::from_str(text.trim()).map_err(|error| D::Error::custom(format!("invalid decimal {text:?}: {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Rate {
        #[serde(deserialize_with = "from_string")]
        rate: Decimal,
    }

    #[test]
    fn strings_only() {
        let rate: Rate = serde_json::from_str(r#"{"rate": "1.0845"}"#).expect("a string");
        assert_eq!(rate.rate.to_string(), "1.0845");
        assert!(serde_json::from_str::<Rate>(r#"{"rate": 1.0845}"#).is_err());
        assert!(serde_json::from_str::<Rate>(r#"{"rate": "one"}"#).is_err());
    }
}

//! ISO codes as callers send them: currencies (ISO 4217) with their minor
//! units, and countries (ISO 3166-1 alpha-2).

use xerpium_service::ApiError;

/// A currency code: three letters, upper-cased (`eur` → `EUR`).
pub fn currency(code: &str) -> Result<String, ApiError> {
    letters(code, 3).ok_or_else(|| ApiError::unprocessable(format!("{code:?} is not a currency code like EUR")))
}

/// A country code: two letters, upper-cased (`de` → `DE`).
pub fn country(code: &str) -> Result<String, ApiError> {
    letters(code, 2).ok_or_else(|| ApiError::unprocessable(format!("{code:?} is not a country code like DE")))
}

fn letters(code: &str, length: usize) -> Option<String> {
    let code = code.trim();
    (code.len() == length && code.chars().all(|c| c.is_ascii_alphabetic())).then(|| code.to_ascii_uppercase())
}

/// The minor-unit digits of a currency (ISO 4217): 0 for the yen and a few
/// others, 3 for some dinars, 2 for everything else.
pub fn minor_units(currency: &str) -> u32 {
    match currency {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX" | "UYI" | "VND"
        | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        _ => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_checked_and_upper_cased() {
        assert_eq!(currency(" eur ").expect("valid"), "EUR");
        assert!(currency("EURO").is_err());
        assert!(currency("E1R").is_err());
        assert_eq!(country("de").expect("valid"), "DE");
        assert!(country("DEU").is_err());
        assert_eq!((minor_units("JPY"), minor_units("EUR"), minor_units("KWD")), (0, 2, 3));
    }
}

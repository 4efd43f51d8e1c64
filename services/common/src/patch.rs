//! Partial updates (`PATCH`): a field left out keeps its value, a field set
//! to `null` clears it. Declare such a field as `Option<Option<T>>` with
//! `#[serde(default, deserialize_with = "xerpium_service::patch::nullable")]`.

use serde::{Deserialize, Deserializer};

/// Reads a present field: `null` as `Some(None)`, a value as `Some(Some(v))`
/// (an absent field stays `None` through `#[serde(default)]`).
pub fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

/// Applies a partial update to `field`: `None` keeps it, `Some(value)` sets it.
pub fn apply<T>(field: &mut T, update: Option<T>) {
    if let Some(value) = update {
        *field = value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Change {
        #[serde(default, deserialize_with = "nullable")]
        phone: Option<Option<String>>,
    }

    #[test]
    fn absent_null_and_value_differ() {
        let parse = |text| serde_json::from_str::<Change>(text).expect("valid").phone;
        assert_eq!(parse("{}"), None);
        assert_eq!(parse(r#"{"phone": null}"#), Some(None));
        assert_eq!(parse(r#"{"phone": "+4930"}"#), Some(Some("+4930".to_owned())));
        let mut phone = Some("old".to_owned());
        apply(&mut phone, None);
        assert_eq!(phone.as_deref(), Some("old"));
        apply(&mut phone, Some(None));
        assert_eq!(phone, None);
    }
}

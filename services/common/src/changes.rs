//! What changed between two versions of a record, as the catalog's
//! `list<FieldChange>`: one entry per top-level field whose JSON value
//! differs, with the old and the new value (absent when null).

use serde::Serialize;
use serde_json::Value;
use xerpium_events::FieldChange;

/// The fields of `old` and `new` (records that serialize to JSON objects)
/// whose values differ, in `new`'s field order, then fields only `old` has.
pub fn diff<T: Serialize>(old: &T, new: &T) -> Result<Vec<FieldChange>, serde_json::Error> {
    let (old, new) = (serde_json::to_value(old)?, serde_json::to_value(new)?);
    let empty = serde_json::Map::new();
    let old = old.as_object().unwrap_or(&empty);
    let new = new.as_object().unwrap_or(&empty);
    let present = |value: Option<&Value>| value.filter(|value| !value.is_null()).cloned();
    let fields = new.keys().chain(old.keys().filter(|key| !new.contains_key(*key)));
    Ok(fields
        .filter_map(|field| {
            let (before, after) = (present(old.get(field)), present(new.get(field)));
            (before != after).then(|| FieldChange {
                field: field.clone(),
                old_value: before,
                new_value: after,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_differences_are_listed_and_null_is_absent() {
        let old = json!({"name": "Acme", "vat": null, "city": "Berlin", "gone": 1});
        let new = json!({"name": "Acme AG", "vat": "DE1", "city": "Berlin"});
        let changes = diff(&old, &new).expect("objects");
        let fields: Vec<_> = changes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, ["name", "vat", "gone"]);
        assert_eq!(changes[1].old_value, None);
        assert_eq!(changes[1].new_value, Some(json!("DE1")));
        assert_eq!(changes[2].new_value, None);
        assert!(diff(&new, &new).expect("objects").is_empty());
    }
}

//! Wording shared by the documents: durations, delivery policies, summaries.

use std::time::Duration;

use crate::model::Policy;

/// A duration as the catalog writes it: `24h`, `5m`, `30s`, `250ms`.
pub fn duration(value: Duration) -> String {
    let millis = value.as_millis();
    let seconds = value.as_secs();
    if value.subsec_millis() != 0 || seconds == 0 {
        format!("{millis}ms")
    } else if seconds.is_multiple_of(3600) {
        format!("{}h", seconds / 3600)
    } else if seconds.is_multiple_of(60) {
        format!("{}m", seconds / 60)
    } else {
        format!("{seconds}s")
    }
}

/// A delivery policy in a sentence fragment.
pub fn policy(policy: &Policy) -> String {
    format!(
        "at most {} attempts, retried after {} doubling up to {}; entries kept {}, at most {} per stream",
        policy.max_attempts,
        duration(policy.backoff_first),
        duration(policy.backoff_max),
        duration(policy.retention),
        policy.max_len
    )
}

/// `count` and the noun, singular or plural: `1 event`, `2 events`.
pub fn count(count: usize, singular: &str, plural: &str) -> String {
    format!("{count} {}", if count == 1 { singular } else { plural })
}

/// The first line of a description, as a summary.
pub fn first_line(text: Option<&str>) -> Option<String> {
    text.and_then(|text| text.trim().lines().next()).map(str::to_owned)
}

/// `word` with its first letter in upper case.
pub fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().collect::<String>() + chars.as_str())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_durations_and_policies() {
        assert_eq!(duration(Duration::from_secs(86_400)), "24h");
        assert_eq!(duration(Duration::from_secs(300)), "5m");
        assert_eq!(duration(Duration::from_secs(90)), "90s");
        assert_eq!(duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(
            policy(&Policy::default()),
            "at most 5 attempts, retried after 1s doubling up to 5m; entries kept 24h, at most 1000000 per stream"
        );
        assert_eq!(first_line(Some(" One.\nTwo.")), Some("One.".into()));
        assert_eq!(capitalize("call"), "Call");
        assert_eq!(count(1, "category", "categories"), "1 category");
        assert_eq!(count(0, "event", "events"), "0 events");
    }
}

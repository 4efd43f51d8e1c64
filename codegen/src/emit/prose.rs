//! Wording shared by the documents (and, for summaries, the Rust module): durations, delivery policies, summaries.

use std::time::Duration;

use crate::model::{Category, Policy, StreamLayout};

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

/// A delivery policy in a sentence fragment. Its retention and cap are the least its type is kept: the
/// stream, shared with the other types of the category, may keep entries longer (see [`trimming`]).
pub fn policy(policy: &Policy) -> String {
    format!(
        "at most {} attempts, retried after {} doubling up to {}; entries kept at least {}, and at least the newest {} per stream",
        policy.max_attempts,
        duration(policy.backoff_first),
        duration(policy.backoff_max),
        duration(policy.retention),
        policy.max_len
    )
}

/// How a category's streams are trimmed, in a sentence fragment.
pub fn trimming(layout: &StreamLayout) -> String {
    format!(
        "trimmed on write to the last {} and about {} entries (the longest retention and largest cap of the category's types)",
        duration(layout.retention),
        layout.max_len
    )
}

/// How the partition of an entry is chosen, modulo `modulus` (a number, or words for it).
pub fn partition_hash(modulus: &str) -> String {
    format!(
        "the 32-bit FNV-1a hash of the subject's UTF-8 bytes (offset basis 0x811c9dc5, prime 0x01000193) modulo {modulus}"
    )
}

/// A category's streams in a sentence fragment: its key, and for a partitioned category how an
/// entry's partition is chosen and who reads it.
pub fn streams(category: &Category) -> String {
    let partitions = category.layout.partitions;
    if category.layout.is_partitioned() {
        format!(
            "{partitions} streams `{}`, `p` from 0 to {}: the partition of the entry's subject; each is read by one instance of a group at a time, so order per subject holds across instances",
            category.stream_key(),
            partitions - 1
        )
    } else {
        format!("one stream `{}`", category.stream_key())
    }
}

/// `count` and the noun, singular or plural: `1 event`, `2 events`.
pub fn count(count: usize, singular: &str, plural: &str) -> String {
    format!("{count} {}", if count == 1 { singular } else { plural })
}

/// The first line of a description, as a summary.
pub fn first_line(text: Option<&str>) -> Option<String> {
    text.and_then(|text| text.trim().lines().next()).map(str::to_owned)
}

/// The first sentence of a description, as a one-line summary: its [first line](first_line) up to the first `.`,
/// `!` or `?` that a space and a capital letter follow, else the whole line. A word with a dot inside (`e.g.`,
/// `i.e.`) ends no sentence.
pub fn first_sentence(text: Option<&str>) -> Option<String> {
    let line = first_line(text)?;
    let mut words = line.split(' ').peekable();
    let mut sentence = Vec::new();
    while let Some(word) = words.next() {
        sentence.push(word);
        let ends = word.ends_with(['.', '!', '?']) && !word[..word.len() - 1].contains('.');
        if ends && words.peek().is_some_and(|next| next.starts_with(char::is_uppercase)) {
            break;
        }
    }
    Some(sentence.join(" "))
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
            "at most 5 attempts, retried after 1s doubling up to 5m; entries kept at least 24h, and at least the newest 1000000 per stream"
        );
        let layout = StreamLayout {
            partitions: 8,
            retention: Duration::from_secs(7 * 86_400),
            max_len: 500,
        };
        assert_eq!(
            trimming(&layout),
            "trimmed on write to the last 168h and about 500 entries (the longest retention and largest cap of the category's types)"
        );
        let mut category = Category {
            name: "user".into(),
            description: None,
            layout,
            events: Vec::new(),
        };
        assert!(streams(&category).starts_with("8 streams `<ns>:events:user:<p>`, `p` from 0 to 7: "));
        category.layout.partitions = 1;
        assert_eq!(streams(&category), "one stream `<ns>:events:user`");
        assert_eq!(first_line(Some(" One.\nTwo.")), Some("One.".into()));
        assert_eq!(first_sentence(Some(" One. Two.\nThree.")), Some("One.".into()));
        assert_eq!(
            first_sentence(Some("Reads a code, e.g. EUR or i.e. USD. Then more.")),
            Some("Reads a code, e.g. EUR or i.e. USD.".into())
        );
        assert_eq!(first_sentence(Some("Done? Yes. Really")), Some("Done?".into()));
        assert_eq!(
            first_sentence(Some("Rate 1.5 applies. in lower case")),
            Some("Rate 1.5 applies. in lower case".into())
        );
        assert_eq!(first_sentence(Some("  ")), None);
        assert_eq!(first_sentence(None), None);
        assert_eq!(capitalize("call"), "Call");
        assert_eq!(count(1, "category", "categories"), "1 category");
        assert_eq!(count(0, "event", "events"), "0 events");
    }
}

//! The entries a consumer settled a moment ago (acknowledged or
//! dead-lettered), so that one delivered to it again — its own pending
//! entries read again after a lost reply, while their ack was on the way,
//! or an ack a failed-over master lost — is acknowledged again rather than
//! handled twice.

use std::collections::VecDeque;
use std::sync::Arc;

use foldhash::HashSet;

/// Entries settled recently, the newest [`RecentlySettled::CAPACITY`].
#[derive(Debug, Default)]
pub(super) struct RecentlySettled {
    entries: HashSet<(Arc<str>, String)>,
    order: VecDeque<(Arc<str>, String)>,
}

impl RecentlySettled {
    /// How many it remembers: far more than settle while one read's reply
    /// is on the way.
    const CAPACITY: usize = 4096;

    /// Remembers entry `id` of `stream` as settled, forgetting the oldest.
    pub(super) fn insert(&mut self, stream: Arc<str>, id: String) {
        let key = (stream, id);
        if self.entries.insert(key.clone()) {
            self.order.push_back(key);
            if self.order.len() > Self::CAPACITY
                && let Some(oldest) = self.order.pop_front()
            {
                self.entries.remove(&oldest);
            }
        }
    }

    /// Whether entry `key` (stream, id) was settled recently.
    pub(super) fn contains(&self, key: &(Arc<str>, String)) -> bool {
        self.entries.contains(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_the_newest_only() {
        let stream: Arc<str> = Arc::from("s");
        let mut settled = RecentlySettled::default();
        for n in 0..RecentlySettled::CAPACITY + 10 {
            settled.insert(stream.clone(), n.to_string());
            settled.insert(stream.clone(), n.to_string());
        }
        assert!(!settled.contains(&(stream.clone(), "9".to_owned())));
        assert!(settled.contains(&(stream.clone(), "10".to_owned())));
        assert!(settled.contains(&(stream, (RecentlySettled::CAPACITY + 9).to_string())));
        assert_eq!(settled.order.len(), RecentlySettled::CAPACITY);
    }
}

//! Per-subject ordering: one lane per subject, at most one entry of a lane
//! handled at a time, lanes served in the order they became ready.
//!
//! Plain data, no I/O: the consumer's loop admits entries, takes ready ones
//! to start, reports finished ones and parks retries until they are due.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::time::Instant;

use foldhash::{HashMap, HashMapExt};

/// Entries grouped by lane key (the subject), in arrival order per lane.
#[derive(Debug)]
pub(crate) struct Lanes<T> {
    /// Active lanes (their head is ready, running or delayed) and what
    /// waits behind the head.
    waiting: HashMap<String, VecDeque<T>>,
    /// Heads that may start now, oldest first.
    ready: VecDeque<(String, T)>,
    /// Heads parked until a time (retries in backoff), by due time.
    delayed: BinaryHeap<Reverse<(Instant, u64)>>,
    parked: HashMap<u64, (String, T)>,
    next_seq: u64,
}

impl<T> Default for Lanes<T> {
    fn default() -> Self {
        Lanes {
            waiting: HashMap::new(),
            ready: VecDeque::new(),
            delayed: BinaryHeap::new(),
            parked: HashMap::new(),
            next_seq: 0,
        }
    }
}

impl<T> Lanes<T> {
    /// Adds `item` to lane `key`: ready at once when the lane is idle,
    /// otherwise queued behind it.
    pub(crate) fn admit(&mut self, key: String, item: T) {
        match self.waiting.get_mut(&key) {
            Some(queue) => queue.push_back(item),
            None => {
                self.waiting.insert(key.clone(), VecDeque::new());
                self.ready.push_back((key, item));
            }
        }
    }

    /// The oldest ready head, to start.
    pub(crate) fn next_ready(&mut self) -> Option<(String, T)> {
        self.ready.pop_front()
    }

    /// Lane `key`'s head is done: its next entry becomes ready, or the lane
    /// closes.
    pub(crate) fn finished(&mut self, key: String) {
        match self.waiting.get_mut(&key).and_then(VecDeque::pop_front) {
            Some(next) => self.ready.push_back((key, next)),
            None => {
                self.waiting.remove(&key);
            }
        }
    }

    /// Lane `key`'s head must run again at `due`; the lane stays blocked
    /// until then.
    pub(crate) fn delay(&mut self, key: String, item: T, due: Instant) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.parked.insert(seq, (key, item));
        self.delayed.push(Reverse((due, seq)));
    }

    /// When the next delayed head is due, if any.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.delayed.peek().map(|Reverse((due, _))| *due)
    }

    /// Makes every head due at or before `now` ready.
    pub(crate) fn wake(&mut self, now: Instant) {
        while let Some(Reverse((due, seq))) = self.delayed.peek().copied() {
            if due > now {
                break;
            }
            self.delayed.pop();
            if let Some(head) = self.parked.remove(&seq) {
                self.ready.push_back(head);
            }
        }
    }

    /// How many entries wait behind lane `key`'s head; `None` when the lane
    /// is idle (an entry admitted to it would be ready at once).
    pub(crate) fn queued(&self, key: &str) -> Option<usize> {
        self.waiting.get(key).map(VecDeque::len)
    }

    /// Takes every entry not running for which `matches` holds, closing the
    /// lanes whose ready or delayed head it takes. Every entry of a lane
    /// must answer `matches` alike (a lane belongs to one stream).
    pub(crate) fn drain_matching(&mut self, mut matches: impl FnMut(&T) -> bool) -> Vec<T> {
        let mut taken = Vec::new();
        let mut closed = Vec::new();
        let mut kept = VecDeque::new();
        for (key, item) in self.ready.drain(..) {
            if matches(&item) {
                closed.push(key);
                taken.push(item);
            } else {
                kept.push_back((key, item));
            }
        }
        self.ready = kept;
        let parked: Vec<u64> = self
            .parked
            .iter()
            .filter(|(_, (_, item))| matches(item))
            .map(|(seq, _)| *seq)
            .collect();
        for seq in parked {
            if let Some((key, item)) = self.parked.remove(&seq) {
                closed.push(key);
                taken.push(item);
            }
        }
        for queue in self.waiting.values_mut() {
            let (out, keep): (VecDeque<T>, VecDeque<T>) = queue.drain(..).partition(|item| matches(item));
            taken.extend(out);
            *queue = keep;
        }
        for key in closed {
            self.waiting.remove(&key);
        }
        taken
    }

    /// Takes every entry not running (ready, queued, delayed), closing all
    /// lanes; used at shutdown.
    pub(crate) fn drain(&mut self) -> Vec<T> {
        let mut items: Vec<T> = self.ready.drain(..).map(|(_, item)| item).collect();
        items.extend(self.parked.drain().map(|(_, (_, item))| item));
        items.extend(self.waiting.drain().flat_map(|(_, queue)| queue));
        self.delayed.clear();
        items
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn take_all(lanes: &mut Lanes<u32>) -> Vec<u32> {
        std::iter::from_fn(|| lanes.next_ready().map(|(_, item)| item)).collect()
    }

    #[test]
    fn one_entry_per_subject_at_a_time_in_order() {
        let mut lanes = Lanes::default();
        lanes.admit("a".into(), 1);
        lanes.admit("b".into(), 2);
        lanes.admit("a".into(), 3);
        lanes.admit("a".into(), 4);
        assert_eq!(take_all(&mut lanes), [1, 2]);
        lanes.finished("a".into());
        assert_eq!(take_all(&mut lanes), [3]);
        lanes.finished("b".into());
        lanes.finished("a".into());
        assert_eq!(take_all(&mut lanes), [4]);
        lanes.finished("a".into());
        lanes.admit("a".into(), 5);
        assert_eq!(take_all(&mut lanes), [5]);
    }

    #[test]
    fn a_delayed_head_blocks_its_lane_until_due() {
        let mut lanes = Lanes::default();
        let now = Instant::now();
        lanes.admit("a".into(), 1);
        lanes.admit("a".into(), 2);
        let (key, item) = lanes.next_ready().expect("ready");
        lanes.delay(key, item, now + Duration::from_secs(1));
        lanes.wake(now);
        assert_eq!(take_all(&mut lanes), Vec::<u32>::new());
        assert_eq!(lanes.next_due(), Some(now + Duration::from_secs(1)));
        lanes.wake(now + Duration::from_secs(1));
        assert_eq!(take_all(&mut lanes), [1]);
        lanes.finished("a".into());
        assert_eq!(take_all(&mut lanes), [2]);
    }

    #[test]
    fn drain_matching_takes_one_stream_and_keeps_running_lanes_blocked() {
        let mut lanes = Lanes::default();
        lanes.admit("a".into(), 10);
        lanes.admit("a".into(), 11);
        lanes.admit("b".into(), 20);
        lanes.admit("b".into(), 21);
        lanes.admit("c".into(), 30);
        let (running, _) = lanes.next_ready().expect("a's head");
        assert_eq!(lanes.queued("a"), Some(1));
        assert_eq!(lanes.queued("z"), None);
        let mut taken = lanes.drain_matching(|item| *item < 30);
        taken.sort();
        assert_eq!(taken, [11, 20, 21]);
        assert_eq!(take_all(&mut lanes), [30]);
        // `a`'s head still runs: its lane stays open until it finishes.
        lanes.admit(running.clone(), 12);
        assert_eq!(take_all(&mut lanes), Vec::<u32>::new());
        lanes.finished(running);
        assert_eq!(take_all(&mut lanes), [12]);
        // `b` was closed with its head: a new entry is ready at once.
        lanes.admit("b".into(), 22);
        assert_eq!(take_all(&mut lanes), [22]);
    }

    #[test]
    fn drain_returns_everything_not_running() {
        let mut lanes = Lanes::default();
        lanes.admit("a".into(), 1);
        lanes.admit("a".into(), 2);
        lanes.admit("b".into(), 3);
        let (key, item) = lanes.next_ready().expect("ready");
        lanes.delay(key, item, Instant::now());
        let mut drained = lanes.drain();
        drained.sort();
        assert_eq!(drained, [1, 2, 3]);
        assert!(lanes.next_ready().is_none());
    }
}

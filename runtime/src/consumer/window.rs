//! The window: how many entries (with their fields) a consumer holds at
//! once. A reader starts a read only while the window has room, asks for
//! no more entries than there is room for, and counts what it got; the
//! consumer gives places back as entries are settled.
//!
//! Room is not reserved while a read waits for entries (a blocking read may
//! wait seconds), so several readers never starve each other nor the
//! reclaimer; the price is that readers that find room at the same moment
//! may together overfill the window by up to their reads in flight (two
//! batches) each.

use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use super::progress::ConsumerProgress;

/// Places in the window, shared by a consumer's readers and its loop.
#[derive(Debug, Clone)]
pub(super) struct Window {
    inner: Arc<Inner>,
    progress: ConsumerProgress,
}

#[derive(Debug)]
struct Inner {
    size: usize,
    used: Mutex<usize>,
    freed: Notify,
}

impl Window {
    /// A window of `size` places.
    pub(super) fn new(size: usize, progress: ConsumerProgress) -> Self {
        Window {
            inner: Arc::new(Inner {
                size,
                used: Mutex::new(0),
                freed: Notify::new(),
            }),
            progress,
        }
    }

    /// Waits until a place is free; returns how many are (at most `max`),
    /// without taking them.
    pub(super) async fn room(&self, max: usize) -> usize {
        loop {
            let freed = self.inner.freed.notified();
            let mut freed = std::pin::pin!(freed);
            freed.as_mut().enable();
            let free = self.try_room(max);
            if free > 0 || max == 0 {
                return free;
            }
            let _waiting = self.progress.waiting_for_room();
            freed.await;
        }
    }

    /// How many places are free now (at most `max`).
    pub(super) fn try_room(&self, max: usize) -> usize {
        self.inner.size.saturating_sub(*self.used()).min(max)
    }

    /// Counts `count` entries taken into the window.
    pub(super) fn take(&self, count: usize) {
        *self.used() += count;
    }

    /// Gives `count` places back.
    pub(super) fn release(&self, count: usize) {
        if count == 0 {
            return;
        }
        let mut used = self.used();
        let was_full = *used >= self.inner.size;
        *used = used.saturating_sub(count);
        let has_room = *used < self.inner.size;
        drop(used);
        // Readers wait only while the window is full.
        if was_full && has_room {
            self.inner.freed.notify_waiters();
        }
    }

    fn used(&self) -> std::sync::MutexGuard<'_, usize> {
        // The count stays right even if a holder panicked mid-update.
        self.inner
            .used
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn room_waits_for_a_free_place_and_is_not_reserved() {
        let window = Window::new(3, ConsumerProgress::new("g", "c"));
        assert_eq!(window.room(10).await, 3);
        assert_eq!(window.room(2).await, 2, "room is not taken by asking");
        window.take(4);
        assert_eq!(window.try_room(10), 0);
        let waiting = {
            let window = window.clone();
            tokio::spawn(async move { window.room(10).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished());
        window.release(2);
        assert_eq!(waiting.await.expect("room"), 1);
    }
}

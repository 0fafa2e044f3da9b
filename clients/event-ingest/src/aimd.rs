//! How many requests may be in flight at once: additive increase, multiplicative decrease.
//!
//! The limit starts at `--concurrency`, halves when the server says it is overloaded (429 or
//! 503), and grows back by one only after a whole window of requests (as many as the limit)
//! went through without such an answer: a shared server recovers before we push again.

use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

#[derive(Debug)]
struct Window {
    limit: usize,
    in_flight: usize,
    /// Successes since the limit last changed.
    successes: usize,
}

/// A concurrency limit that adapts to the server's answers.
#[derive(Debug)]
pub struct Aimd {
    max: usize,
    window: Mutex<Window>,
    freed: Notify,
}

/// One request's slot; dropping it frees the slot.
#[derive(Debug)]
pub struct Permit {
    aimd: Arc<Aimd>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.aimd.lock().in_flight -= 1;
        self.aimd.freed.notify_waiters();
    }
}

impl Aimd {
    pub fn new(max: usize) -> Self {
        let max = max.max(1);
        Aimd {
            max,
            window: Mutex::new(Window {
                limit: max,
                in_flight: 0,
                successes: 0,
            }),
            freed: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Window> {
        self.window
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The current limit.
    pub fn limit(&self) -> usize {
        self.lock().limit
    }

    /// Wait for a slot under the current limit.
    pub async fn acquire(self: &Arc<Self>) -> Permit {
        loop {
            let freed = self.freed.notified();
            {
                let mut window = self.lock();
                if window.in_flight < window.limit {
                    window.in_flight += 1;
                    return Permit {
                        aimd: Arc::clone(self),
                    };
                }
            }
            freed.await;
        }
    }

    /// The server said it is overloaded: halve the limit (never below one).
    pub fn on_overload(&self) {
        let mut window = self.lock();
        window.limit = (window.limit / 2).max(1);
        window.successes = 0;
    }

    /// A request went through: after a window of them, one more slot (up to the maximum).
    pub fn on_success(&self) {
        let mut window = self.lock();
        window.successes += 1;
        if window.successes >= window.limit && window.limit < self.max {
            window.limit += 1;
            window.successes = 0;
            drop(window);
            self.freed.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overload_halves_and_success_grows_back_by_one_per_window() {
        let aimd = Aimd::new(8);
        aimd.on_overload();
        assert_eq!(aimd.limit(), 4);
        aimd.on_overload();
        aimd.on_overload();
        aimd.on_overload();
        assert_eq!(aimd.limit(), 1, "never below one");
        aimd.on_success();
        assert_eq!(aimd.limit(), 2);
        aimd.on_success();
        assert_eq!(aimd.limit(), 2, "a window of 2 successes before growing");
        aimd.on_success();
        assert_eq!(aimd.limit(), 3);
        for _ in 0..100 {
            aimd.on_success();
        }
        assert_eq!(aimd.limit(), 8, "never above the maximum");
    }

    #[tokio::test]
    async fn no_more_than_the_limit_are_in_flight() {
        let aimd = Arc::new(Aimd::new(2));
        let a = aimd.acquire().await;
        let _b = aimd.acquire().await;
        let third =
            tokio::time::timeout(std::time::Duration::from_millis(50), aimd.acquire()).await;
        assert!(third.is_err(), "the third waits");
        drop(a);
        let third =
            tokio::time::timeout(std::time::Duration::from_millis(50), aimd.acquire()).await;
        assert!(third.is_ok(), "a freed slot is taken");
    }
}

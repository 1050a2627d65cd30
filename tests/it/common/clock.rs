//! A clock tests move by hand.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use statusgate::domain::{Clock, SystemClock, Timestamp};

#[derive(Debug)]
pub struct ManualClock {
    micros: AtomicI64,
}

impl ManualClock {
    /// Starts at the current wall-clock time.
    pub fn new() -> Self {
        Self {
            micros: AtomicI64::new(SystemClock.now().as_micros()),
        }
    }

    pub fn advance(&self, by: Duration) {
        self.micros
            .fetch_add(by.as_micros() as i64, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_micros(self.micros.load(Ordering::SeqCst))
    }
}

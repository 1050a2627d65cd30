//! Time as the domain sees it: microseconds since the Unix epoch, read from an
//! injectable clock so that expiry can be tested without sleeping.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A point in time with microsecond precision (what both databases store).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const fn from_micros(micros: i64) -> Self {
        Self(micros)
    }

    pub const fn as_micros(self) -> i64 {
        self.0
    }

    pub fn from_system_time(time: SystemTime) -> Self {
        match time.duration_since(UNIX_EPOCH) {
            Ok(since) => Self(i64::try_from(since.as_micros()).unwrap_or(i64::MAX)),
            Err(before) => Self(-i64::try_from(before.duration().as_micros()).unwrap_or(i64::MAX)),
        }
    }

    pub fn to_system_time(self) -> SystemTime {
        let magnitude = Duration::from_micros(self.0.unsigned_abs());
        if self.0 >= 0 {
            UNIX_EPOCH + magnitude
        } else {
            UNIX_EPOCH - magnitude
        }
    }

    /// Whole seconds and the nanoseconds within that second (protobuf form).
    pub fn seconds_and_nanos(self) -> (i64, i32) {
        let seconds = self.0.div_euclid(1_000_000);
        let nanos = self.0.rem_euclid(1_000_000) * 1_000;
        (seconds, nanos as i32)
    }

    pub fn from_seconds_and_nanos(seconds: i64, nanos: i32) -> Self {
        Self(
            seconds
                .saturating_mul(1_000_000)
                .saturating_add(i64::from(nanos) / 1_000),
        )
    }

    /// The instant `duration` after this one.
    pub fn plus(self, duration: Duration) -> Self {
        Self(
            self.0
                .saturating_add(i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)),
        )
    }

    /// The instant `duration` before this one.
    pub fn minus(self, duration: Duration) -> Self {
        Self(
            self.0
                .saturating_sub(i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)),
        )
    }
}

/// Where "now" comes from.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_system_time(SystemTime::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_and_nanos_round_trip_including_before_the_epoch() {
        for micros in [
            0,
            1,
            999_999,
            1_000_000,
            1_633_036_800_123_456,
            -1,
            -1_500_000,
        ] {
            let timestamp = Timestamp::from_micros(micros);
            let (seconds, nanos) = timestamp.seconds_and_nanos();
            assert!(
                (0..1_000_000_000).contains(&nanos),
                "nanos {nanos} for {micros}"
            );
            assert_eq!(Timestamp::from_seconds_and_nanos(seconds, nanos), timestamp);
            assert_eq!(
                Timestamp::from_system_time(timestamp.to_system_time()),
                timestamp
            );
        }
    }

    #[test]
    fn minus_moves_back_by_the_duration() {
        let now = Timestamp::from_micros(10_000_000);
        assert_eq!(
            now.minus(Duration::from_secs(3)),
            Timestamp::from_micros(7_000_000)
        );
    }
}

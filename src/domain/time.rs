//! Time as the domain sees it: microseconds since the Unix epoch, read from an
//! injectable clock so that expiry can be tested without sleeping; and the
//! window a time a worker records must lie in ([`check_recorded_time`]).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::FieldViolation;

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

/// How far before now a recorded time may lie. A `RetryAfter` in the past
/// means "retry now", and a worker's clock may run behind ours or its report
/// arrive late; a day covers both. An older time says nothing more than
/// "now" does, and far-off values are what clients fail to parse.
pub const RECORDED_TIME_MAX_PAST: Duration = Duration::from_secs(24 * 3600);

/// How far after now a recorded time may lie: longer than any retry or hook
/// is worth waiting for, and far inside what every SDK can parse (boto3 fails
/// on the whole response beyond the year 9999).
pub const RECORDED_TIME_MAX_FUTURE: Duration = Duration::from_secs(366 * 24 * 3600);

/// Refuses a time a worker records (`RetryAfter`, hook event times) outside
/// `now - 1 day ..= now + 366 days`, naming the member. One caller's
/// absurd time would otherwise be returned to every reader of the account.
pub fn check_recorded_time(
    member: &'static str,
    time: Timestamp,
    now: Timestamp,
) -> Result<Timestamp, FieldViolation> {
    let earliest = now.minus(RECORDED_TIME_MAX_PAST);
    let latest = now.plus(RECORDED_TIME_MAX_FUTURE);
    if (earliest..=latest).contains(&time) {
        return Ok(time);
    }
    let (seconds, _) = time.seconds_and_nanos();
    Err(FieldViolation::invalid(
        member,
        &seconds.to_string(),
        "Member must be a time from 1 day before to 366 days after the current time",
    ))
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
    fn recorded_times_lie_within_a_day_before_and_a_year_after_now() {
        let now = Timestamp::from_micros(1_700_000_000_000_000);
        let day = Duration::from_secs(24 * 3600);
        for fine in [
            now,
            now.minus(day),
            now.plus(Duration::from_secs(366 * 24 * 3600)),
        ] {
            assert_eq!(check_recorded_time("RetryAfter", fine, now), Ok(fine));
        }
        let year_10000 = Timestamp::from_seconds_and_nanos(253_402_300_800, 0);
        for absurd in [
            year_10000,
            now.minus(day + Duration::from_secs(1)),
            now.plus(Duration::from_secs(367 * 24 * 3600)),
            Timestamp::from_micros(i64::MIN),
            Timestamp::from_micros(i64::MAX),
        ] {
            let violation = check_recorded_time("RetryAfter", absurd, now).unwrap_err();
            assert_eq!(violation.member, "RetryAfter");
        }
        let violation = check_recorded_time("RetryAfter", year_10000, now).unwrap_err();
        assert_eq!(violation.value.as_deref(), Some("253402300800"));
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

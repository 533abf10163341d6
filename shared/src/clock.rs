//! Time, injectable for tests. Japan time decides "today" for birth dates and the cutoff.

use std::sync::Mutex;

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, Utc};

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;

    fn today_in_japan(&self) -> NaiveDate {
        japan_date(self.now())
    }
}

pub fn japan() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).expect("+09:00 is a valid offset")
}

/// The Japan date (JST, UTC+9, no daylight saving) of the instant `at`.
pub fn japan_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&japan()).date_naive()
}

/// Midnight Japan time at the start of `date`, as UTC.
pub fn start_of_japan_day(date: NaiveDate) -> DateTime<Utc> {
    date.and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(japan()).single())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock the tests move by hand.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new(at: DateTime<Utc>) -> Self {
        Self(Mutex::new(at))
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A clock that runs on tokio's timer from `start` (UTC): with tokio's paused clock (tests, the
/// notices benchmark) it moves exactly as far as the tasks have slept.
#[derive(Debug)]
pub struct TimerClock {
    start: DateTime<Utc>,
    origin: tokio::time::Instant,
}

impl TimerClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self { start, origin: tokio::time::Instant::now() }
    }
}

impl Clock for TimerClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = Duration::from_std(self.origin.elapsed()).unwrap_or(Duration::zero());
        self.start + elapsed
    }
}

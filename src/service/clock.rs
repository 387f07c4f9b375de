//! Time comes from a clock the service is given, so tests and the sandbox's demo clock can move it.

use chrono::{DateTime, Duration, SubsecRound, Utc};
use std::sync::Mutex;

/// Where the service reads the time.
pub trait Clock: Send + Sync {
    /// The time now.
    fn now(&self) -> DateTime<Utc>;

    /// The clock as a `ManualClock`, where it is one: the sandbox's demo clock control moves it.
    fn as_manual(&self) -> Option<&ManualClock> {
        None
    }
}

/// The real time.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

/// The record keeps times to the microsecond: a clock gives no finer time, so an event's time
/// reads back exactly as it was hashed and `audit verify` finds it unchanged.
fn as_recorded(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(6)
}

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        as_recorded(Utc::now())
    }
}

/// A clock that moves only when told: real time plus an offset that demos and tests advance.
#[derive(Debug)]
pub struct ManualClock {
    offset: Mutex<Duration>,
    frozen: Option<DateTime<Utc>>,
}

impl ManualClock {
    /// A clock that runs with real time, shifted by whatever `advance` adds.
    pub fn running() -> ManualClock {
        ManualClock {
            offset: Mutex::new(Duration::zero()),
            frozen: None,
        }
    }

    /// A clock stopped at `at` until advanced.
    pub fn frozen_at(at: DateTime<Utc>) -> ManualClock {
        ManualClock {
            offset: Mutex::new(Duration::zero()),
            frozen: Some(at),
        }
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let mut offset = self.offset.lock().unwrap_or_else(|p| p.into_inner());
        *offset += by;
    }

    /// How far the clock has been moved from where it started.
    pub fn offset(&self) -> Duration {
        *self.offset.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Moves the clock to an instant (never backwards).
    pub fn set(&self, to: DateTime<Utc>) {
        let now = self.now();
        if to > now {
            self.advance(to - now);
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        let offset = *self.offset.lock().unwrap_or_else(|p| p.into_inner());
        as_recorded(self.frozen.unwrap_or_else(Utc::now) + offset)
    }

    fn as_manual(&self) -> Option<&ManualClock> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Timelike;

    #[test]
    fn clocks_give_times_the_record_keeps_exactly() {
        let running = ManualClock::running();
        running.advance(Duration::nanoseconds(1_234_567));
        for t in [SystemClock.now(), running.now()] {
            assert_eq!(t.nanosecond() % 1_000, 0, "{t:?} is whole microseconds");
        }
    }
}

//! The time, read through a clock the tests can control: the retention
//! sweep and everything that ages reads [`Clock::now`], never the system
//! clock directly.
//!
//! Every time the server stores is taken to the microsecond: that is what
//! PostgreSQL keeps (SQLite would keep nanoseconds), so a value answered
//! before it was stored is the value read back later, on either database,
//! and the API writes every time with six fractional digits
//! ([`crate::http::time`]).

use std::sync::{Arc, Mutex};

use chrono::{Duration, NaiveDateTime, Utc};

/// The system's time in UTC, to the microsecond: for what no test needs to
/// move (audit events, signing keys, the first start). Everything that
/// ages reads a [`Clock`] instead.
pub fn system_now() -> NaiveDateTime {
    micros(Utc::now().naive_utc())
}

/// `at`, without its nanoseconds below the microsecond.
pub fn micros(at: NaiveDateTime) -> NaiveDateTime {
    use chrono::Timelike;
    at.with_nanosecond(at.nanosecond() / 1000 * 1000)
        .unwrap_or(at)
}

/// The system clock, or a manual one that moves only when told.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    manual: Option<Arc<Mutex<NaiveDateTime>>>,
}

impl Clock {
    /// The system's clock (UTC).
    pub fn system() -> Self {
        Self::default()
    }

    /// A clock that reads `start` until advanced.
    pub fn manual(start: NaiveDateTime) -> Self {
        Self {
            manual: Some(Arc::new(Mutex::new(start))),
        }
    }

    /// Now, in UTC, to the microsecond.
    pub fn now(&self) -> NaiveDateTime {
        match &self.manual {
            Some(at) => micros(*at.lock().unwrap_or_else(|e| e.into_inner())),
            None => system_now(),
        }
    }

    /// Moves a manual clock on; the system clock ignores it.
    pub fn advance(&self, by: Duration) {
        if let Some(at) = &self.manual {
            let mut at = at.lock().unwrap_or_else(|e| e.into_inner());
            *at += by;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let start = micros(Utc::now().naive_utc());
        let clock = Clock::manual(start);
        assert_eq!(clock.now(), start);
        clock.advance(Duration::days(91));
        assert_eq!(clock.now(), start + Duration::days(91));
        let system = Clock::system();
        system.advance(Duration::days(1));
        assert!(system.now() - Utc::now().naive_utc() < Duration::seconds(5));
    }
}

//! The time, read through a clock the tests can control: the retention
//! sweep and everything that ages reads [`Clock::now`], never the system
//! clock directly.

use std::sync::{Arc, Mutex};

use chrono::{Duration, NaiveDateTime, Utc};

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

    pub fn now(&self) -> NaiveDateTime {
        match &self.manual {
            Some(at) => *at.lock().unwrap_or_else(|e| e.into_inner()),
            None => Utc::now().naive_utc(),
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
        let start = Utc::now().naive_utc();
        let clock = Clock::manual(start);
        assert_eq!(clock.now(), start);
        clock.advance(Duration::days(91));
        assert_eq!(clock.now(), start + Duration::days(91));
        let system = Clock::system();
        system.advance(Duration::days(1));
        assert!(system.now() - Utc::now().naive_utc() < Duration::seconds(5));
    }
}

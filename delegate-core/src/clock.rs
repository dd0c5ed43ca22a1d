//! Injected time: the system clock for production, a manual clock for tests. Nothing else
//! reads the wall clock: expiry, grace windows, rate windows, cache expiry and deadlines all
//! ask a [`Clock`].

use crate::error::{Error, Result};
use chrono::{DateTime, TimeDelta, Utc};
use futures::future::BoxFuture;
use std::sync::Arc;
use tokio::sync::watch;

/// A source of the current time, and of waits measured by it.
pub trait Clock: Send + Sync + 'static {
    /// The current instant, UTC.
    fn now(&self) -> DateTime<Utc>;

    /// Resolves once the clock reads `deadline` or later. The default waits on the
    /// runtime's timer for the time left now, which is right for a clock that moves with
    /// real time; a clock that moves otherwise overrides it ([`ManualClock`] does).
    fn sleep_until(&self, deadline: DateTime<Utc>) -> BoxFuture<'static, ()> {
        let left = (deadline - self.now()).to_std().unwrap_or_default();
        Box::pin(tokio::time::sleep(left))
    }
}

/// The real wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to; clones share the same time. Its waits end when
/// [`ManualClock::advance`] reaches their deadline, so tests of timeouts never sleep.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<watch::Sender<DateTime<Utc>>>);

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self(Arc::new(watch::Sender::new(start)))
    }

    /// Moves the clock forward by `by`, ending the waits it reaches.
    pub fn advance(&self, by: std::time::Duration) {
        let delta = TimeDelta::from_std(by).expect("duration fits in a TimeDelta");
        self.0.send_modify(|now| *now += delta);
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new(Utc::now())
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.borrow()
    }

    fn sleep_until(&self, deadline: DateTime<Utc>) -> BoxFuture<'static, ()> {
        let mut time = self.0.subscribe();
        Box::pin(async move {
            // Ends when the clock reaches the deadline; never, if every handle is dropped
            // first (nobody can advance it any more).
            while *time.borrow_and_update() < deadline {
                if time.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        })
    }
}

/// `duration` as a [`TimeDelta`], to add to a clock reading; an [`Error::Internal`] for a
/// duration past what timestamps hold (a misconfiguration).
pub(crate) fn delta(duration: std::time::Duration) -> Result<TimeDelta> {
    TimeDelta::from_std(duration)
        .map_err(|e| Error::internal("a duration too long for a timestamp").with_source(e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn manual_clock_moves_only_when_advanced_and_clones_share_time() {
        let clock = ManualClock::default();
        let other = clock.clone();
        let t0 = clock.now();
        assert_eq!(clock.now(), t0);
        other.advance(Duration::from_secs(90));
        assert_eq!(clock.now() - t0, TimeDelta::seconds(90));
    }

    #[tokio::test]
    async fn a_manual_wait_ends_when_the_clock_is_advanced_to_its_deadline() {
        let clock = ManualClock::default();
        let deadline = clock.now() + TimeDelta::seconds(30);
        let mut wait = clock.sleep_until(deadline);
        clock.advance(Duration::from_secs(29));
        assert!(
            futures::poll!(&mut wait).is_pending(),
            "ended before its deadline"
        );
        clock.advance(Duration::from_secs(1));
        wait.await;
        // A deadline already passed ends at once.
        clock.sleep_until(deadline).await;
    }
}

//! The in-process `RateLimiter`: a sliding-window log per key, timed by the clock, kept as
//! runs of requests so that its size is bounded by the window's length rather than its limit,
//! in a bounded map whose idle keys expire by themselves (no scan on the request path).

use crate::clock::Clock;
use crate::error::Result;
use crate::hashing::FastHash;
use crate::ratelimit::{RateDecision, RateLimiter};
use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Most keys held: with each key's log bounded (see [`RUNS_PER_WINDOW`]), the memory bound.
/// When full, the least useful keys are evicted, which can only admit more, never refuse a
/// client it should not.
const MAX_KEYS: u64 = 2_000_000;

/// A request admitted within `window / RUNS_PER_WINDOW` of a run's first joins that run, so a
/// key's log holds at most this many runs (and one more), however high its limit. A run
/// leaves the window when its last request does: its earlier requests are counted up to a
/// 1024th of the window longer than exact, which can only refuse a little early.
const RUNS_PER_WINDOW: i32 = 1024;

/// One key's window: its own length and the admitted requests in it.
struct Window {
    span: Duration,
    log: Mutex<Log>,
}

impl Window {
    fn new(span: Duration) -> Arc<Self> {
        Arc::new(Self {
            span,
            log: Mutex::new(Log::default()),
        })
    }
}

/// The admitted requests still in a window, in runs, oldest first, and how many there are.
#[derive(Default)]
struct Log {
    runs: VecDeque<Run>,
    admitted: u64,
}

/// Requests admitted close together: from `first` to `last`, `count` of them.
struct Run {
    first: DateTime<Utc>,
    last: DateTime<Utc>,
    count: u32,
}

impl Log {
    /// Drops the runs whose last request has left the window at `now`.
    fn slide(&mut self, now: DateTime<Utc>, span: TimeDelta) {
        while let Some(run) = self.runs.front().filter(|run| now - run.last >= span) {
            self.admitted -= u64::from(run.count);
            self.runs.pop_front();
        }
    }

    /// Counts a request admitted at `now`, in the newest run if it began within `grain`.
    fn admit(&mut self, now: DateTime<Utc>, grain: TimeDelta) {
        self.admitted += 1;
        if let Some(run) = self.runs.back_mut()
            && now - run.first < grain
            && run.count < u32::MAX
        {
            run.last = run.last.max(now);
            run.count += 1;
            return;
        }
        self.runs.push_back(Run {
            first: now,
            last: now,
            count: 1,
        });
    }
}

/// Keys expire once idle for their own window: by then their log is empty.
struct IdleForItsWindow;

impl moka::Expiry<String, Arc<Window>> for IdleForItsWindow {
    fn expire_after_create(
        &self,
        _: &String,
        window: &Arc<Window>,
        _: Instant,
    ) -> Option<Duration> {
        Some(window.span)
    }

    fn expire_after_read(
        &self,
        _: &String,
        window: &Arc<Window>,
        _: Instant,
        _: Option<Duration>,
        _: Instant,
    ) -> Option<Duration> {
        Some(window.span)
    }

    fn expire_after_update(
        &self,
        _: &String,
        window: &Arc<Window>,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(window.span)
    }
}

/// Sliding-window limits held in process memory (one instance only).
pub struct MemoryRateLimiter {
    clock: Arc<dyn Clock>,
    windows: moka::sync::Cache<String, Arc<Window>, FastHash>,
}

impl MemoryRateLimiter {
    /// An empty limiter.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            windows: moka::sync::Cache::builder()
                .max_capacity(MAX_KEYS)
                .expire_after(IdleForItsWindow)
                .build_with_hasher(FastHash::default()),
        }
    }

    /// How many keys are held (expired ones may linger until the map's next maintenance).
    pub fn key_count(&self) -> u64 {
        self.windows.run_pending_tasks();
        self.windows.entry_count()
    }
}

#[async_trait]
impl RateLimiter for MemoryRateLimiter {
    async fn check(&self, key: &str, limit: u32, window: Duration) -> Result<RateDecision> {
        let now = self.clock.now();
        let span = crate::clock::delta(window)?;
        // The read path first: a known key costs no write to the map.
        let mut entry = match self.windows.get(key) {
            Some(entry) => entry,
            None => self
                .windows
                .entry_by_ref(key)
                .or_insert_with(|| Window::new(window))
                .into_value(),
        };
        if entry.span != window {
            // The same key used with another window (a configuration change): start over.
            entry = Window::new(window);
            self.windows.insert(key.to_owned(), entry.clone());
        }
        let mut log = entry.log.lock().expect("limiter lock");
        log.slide(now, span);
        let allowed = log.admitted < u64::from(limit);
        if allowed {
            log.admit(now, span / RUNS_PER_WINDOW);
        }
        let until = |run: &Run| (run.last + span - now).to_std().unwrap_or_default();
        Ok(RateDecision {
            allowed,
            limit,
            remaining: u32::try_from(u64::from(limit).saturating_sub(log.admitted))
                .unwrap_or(limit),
            retry_after: if allowed {
                Duration::ZERO
            } else {
                log.runs.front().map(until).unwrap_or(window)
            },
            reset_after: log.runs.back().map(until).unwrap_or_default(),
        })
    }

    async fn reset(&self, key: &str) -> Result<()> {
        self.windows.invalidate(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[tokio::test]
    async fn keys_keep_their_own_windows() {
        let clock = ManualClock::default();
        let limiter = MemoryRateLimiter::new(Arc::new(clock.clone()));
        let (short, long) = (Duration::from_secs(10), Duration::from_secs(100));
        assert!(limiter.check("a", 1, short).await.unwrap().allowed);
        assert!(limiter.check("b", 1, long).await.unwrap().allowed);
        clock.advance(Duration::from_secs(11));
        // Many other keys come and go meanwhile; b's window is b's own.
        for i in 0..20_000 {
            limiter.check(&format!("k{i}"), 5, short).await.unwrap();
        }
        assert!(limiter.check("a", 1, short).await.unwrap().allowed);
        let b = limiter.check("b", 1, long).await.unwrap();
        assert!(!b.allowed, "b's 100 s window still holds its request");
        assert_eq!(b.retry_after, Duration::from_secs(89));
    }

    #[tokio::test]
    async fn a_keys_log_is_bounded_by_its_window_not_its_limit_and_errs_only_early() {
        let clock = ManualClock::default();
        let limiter = MemoryRateLimiter::new(Arc::new(clock.clone()));
        let window = Duration::from_secs(1024);
        let runs = || {
            limiter
                .windows
                .get("k")
                .unwrap()
                .log
                .lock()
                .unwrap()
                .runs
                .len()
        };
        // 100 requests a second for the whole window: 102,400 admitted, in 1,024 runs.
        for _ in 0..1024 * 100 {
            assert!(limiter.check("k", u32::MAX, window).await.unwrap().allowed);
            clock.advance(Duration::from_millis(10));
        }
        assert_eq!(runs(), 1024);
        // Sliding on keeps it there. The window holds 102,400 requests; the oldest run (at
        // most 100 requests, one second's worth) is counted until its last one leaves.
        for _ in 0..1000 {
            let decision = limiter.check("k", u32::MAX, window).await.unwrap();
            clock.advance(Duration::from_millis(10));
            assert!(runs() <= 1025);
            let exact = u32::MAX - 1024 * 100;
            assert!(
                (exact - 100..=exact).contains(&decision.remaining),
                "{decision:?}"
            );
        }
        // Two requests 0.5 s apart share a run (a run spans up to a 1024th of the window,
        // here 1 s), so the first is counted until the second leaves: refused 0.5 s early,
        // never admitted late.
        let (limit, window) = (2, Duration::from_secs(1024));
        assert!(limiter.check("j", limit, window).await.unwrap().allowed);
        clock.advance(Duration::from_millis(500));
        assert!(limiter.check("j", limit, window).await.unwrap().allowed);
        clock.advance(window - Duration::from_millis(500));
        let early = limiter.check("j", limit, window).await.unwrap();
        assert!(!early.allowed);
        assert_eq!(early.retry_after, Duration::from_millis(500));
        clock.advance(Duration::from_millis(500));
        let decision = limiter.check("j", limit, window).await.unwrap();
        assert!(decision.allowed);
        assert_eq!(decision.remaining, 1);
    }

    #[tokio::test]
    async fn idle_keys_leave_the_map_by_themselves() {
        let limiter = MemoryRateLimiter::new(Arc::new(crate::clock::SystemClock));
        for i in 0..1000 {
            limiter
                .check(&format!("k{i}"), 5, Duration::from_millis(100))
                .await
                .unwrap();
        }
        assert_eq!(limiter.key_count(), 1000);
        // The map's timer wheel works in steps of about a second.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert_eq!(limiter.key_count(), 0);
    }
}

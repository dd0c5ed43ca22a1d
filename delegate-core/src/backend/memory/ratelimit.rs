//! The in-process `RateLimiter`: an exact sliding-window log per key, timed by the clock,
//! in a bounded map whose idle keys expire by themselves (no scan on the request path).

use crate::clock::Clock;
use crate::error::Result;
use crate::hashing::FastHash;
use crate::ratelimit::{RateDecision, RateLimiter};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Most keys held: with each key's log bounded by its limit, the memory bound. When full,
/// the least useful keys are evicted, which can only admit more, never refuse a client it
/// should not.
const MAX_KEYS: u64 = 2_000_000;

/// One key's window: its own length and the admitted requests in it, oldest first.
struct Window {
    span: Duration,
    log: Mutex<VecDeque<DateTime<Utc>>>,
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
                .or_insert_with(|| {
                    Arc::new(Window {
                        span: window,
                        log: Mutex::new(VecDeque::new()),
                    })
                })
                .into_value(),
        };
        if entry.span != window {
            // The same key used with another window (a configuration change): start over.
            entry = Arc::new(Window {
                span: window,
                log: Mutex::new(VecDeque::new()),
            });
            self.windows.insert(key.to_owned(), entry.clone());
        }
        let mut log = entry.log.lock().expect("limiter lock");
        while log.front().is_some_and(|t| now - *t >= span) {
            log.pop_front();
        }
        let until = |t: &DateTime<Utc>| (*t + span - now).to_std().unwrap_or_default();
        let allowed = (log.len() as u64) < u64::from(limit);
        if allowed {
            log.push_back(now);
        }
        Ok(RateDecision {
            allowed,
            limit,
            remaining: limit.saturating_sub(log.len() as u32),
            retry_after: if allowed {
                Duration::ZERO
            } else {
                log.front().map(until).unwrap_or(window)
            },
            reset_after: log.back().map(until).unwrap_or_default(),
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

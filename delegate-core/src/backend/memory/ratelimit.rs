//! The in-process `RateLimiter`: an exact sliding-window log per key, timed by the clock.

use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::ratelimit::{RateDecision, RateLimiter};
use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Sliding-window limits held in process memory (one instance only).
pub struct MemoryRateLimiter {
    clock: Arc<dyn Clock>,
    windows: Mutex<HashMap<String, VecDeque<DateTime<Utc>>>>,
}

impl MemoryRateLimiter {
    /// An empty limiter.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            windows: Mutex::new(HashMap::new()),
        }
    }
}

#[async_trait]
impl RateLimiter for MemoryRateLimiter {
    async fn check(&self, key: &str, limit: u32, window: Duration) -> Result<RateDecision> {
        let now = self.clock.now();
        let span = TimeDelta::from_std(window).map_err(Error::internal)?;
        let mut windows = self.windows.lock().expect("limiter lock");
        if windows.len() > 10_000 {
            windows.retain(|_, log| log.back().is_some_and(|t| now - *t < span));
        }
        let log = windows.entry(key.to_owned()).or_default();
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
        self.windows.lock().expect("limiter lock").remove(key);
        Ok(())
    }
}

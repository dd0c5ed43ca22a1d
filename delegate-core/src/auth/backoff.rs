//! Per-account login backoff: failures are counted in the shared rate limiter (so across
//! instances) and a lock with a growing, bounded delay is kept in the shared cache.

use crate::cache::Cache;
use crate::clock::Clock;
use crate::config::LoginBackoffConfig;
use crate::error::{Error, Result};
use crate::ratelimit::RateLimiter;
use std::sync::Arc;
use std::time::Duration;

/// The limit used to count failures: high enough never to refuse, so `remaining` tells the
/// count.
const COUNTING_LIMIT: u32 = 1_000_000;

/// Counts failed logins per account and locks logins after too many.
pub(crate) struct LoginBackoff {
    config: LoginBackoffConfig,
    limiter: Arc<dyn RateLimiter>,
    cache: Arc<dyn Cache>,
    clock: Arc<dyn Clock>,
}

impl LoginBackoff {
    pub(crate) fn new(
        config: LoginBackoffConfig,
        limiter: Arc<dyn RateLimiter>,
        cache: Arc<dyn Cache>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            config,
            limiter,
            cache,
            clock,
        }
    }

    /// Refuses with [`Error::RateLimited`] while `account` is locked.
    pub(crate) async fn check(&self, account: &str) -> Result<()> {
        let Some(stored) = self.cache.get(&lock_key(account)).await? else {
            return Ok(());
        };
        let unlock = stored
            .as_slice()
            .try_into()
            .map(i64::from_be_bytes)
            .unwrap_or_default();
        let left = unlock - self.clock.now().timestamp_millis();
        if left > 0 {
            return Err(Error::RateLimited {
                retry_after: Duration::from_millis(left as u64),
            });
        }
        Ok(())
    }

    /// Counts a failure; past the free ones, locks the account for the next delay.
    pub(crate) async fn failed(&self, account: &str) -> Result<()> {
        let window = Duration::from_secs(self.config.window_secs);
        let decision = self
            .limiter
            .check(&failures_key(account), COUNTING_LIMIT, window)
            .await?;
        let failures = COUNTING_LIMIT - decision.remaining;
        let Some(excess) = failures.checked_sub(self.config.free_failures + 1) else {
            return Ok(());
        };
        let delay = Duration::from_millis(
            self.config
                .base_delay_ms
                .saturating_mul(1u64 << excess.min(32)),
        )
        .min(Duration::from_secs(self.config.max_delay_secs));
        let unlock = self.clock.now().timestamp_millis() + delay.as_millis() as i64;
        self.cache
            .set(&lock_key(account), unlock.to_be_bytes().to_vec(), delay)
            .await
    }

    /// Clears the count and any lock after a successful login.
    pub(crate) async fn succeeded(&self, account: &str) -> Result<()> {
        self.limiter.reset(&failures_key(account)).await?;
        self.cache.delete(&lock_key(account)).await.map(|_| ())
    }
}

fn failures_key(account: &str) -> String {
    format!("login_failures:{account}")
}

fn lock_key(account: &str) -> String {
    format!("login_lock:{account}")
}

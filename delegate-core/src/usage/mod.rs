//! Usage metering: the `UsageStore` ledger (kept when sessions are deleted) and tier quotas.

mod quota;

pub use quota::{QuotaConfig, TierQuota, UsageReport, UsageService};

use crate::error::Result;
use crate::ids::UserId;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// What a user consumed over a period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UsageTotals {
    /// Messages sent by the user.
    pub messages: u64,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
}

/// One metered event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageEvent {
    /// Whose.
    pub user_id: UserId,
    /// When.
    pub at: DateTime<Utc>,
    /// Messages sent (1 for a user message, 0 for a reply's tokens).
    pub messages: u32,
    /// Prompt tokens.
    pub prompt_tokens: u32,
    /// Completion tokens.
    pub completion_tokens: u32,
}

/// The UTC midnight starting the day of `at`.
pub fn day_of(at: DateTime<Utc>) -> DateTime<Utc> {
    at.date_naive()
        .and_hms_opt(0, 0, 0)
        .map_or(at, |d| d.and_utc())
}

/// The first UTC midnight at or after `since`: totals from there on come from daily
/// rollups; only the part of a day before it needs the events.
pub fn first_whole_day(since: DateTime<Utc>) -> DateTime<Utc> {
    let day = day_of(since);
    if day == since {
        day
    } else {
        day + chrono::TimeDelta::days(1)
    }
}

/// Durable, append-only usage ledger.
#[async_trait]
pub trait UsageStore: Send + Sync + 'static {
    /// Appends an event.
    async fn record(&self, event: &UsageEvent) -> Result<()>;
    /// The user's totals over events at or after `since`.
    async fn totals_since(&self, user: UserId, since: DateTime<Utc>) -> Result<UsageTotals>;
}

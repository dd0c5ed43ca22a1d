//! Usage metering: the `UsageStore` ledger (kept when sessions are deleted) and tier quotas.

mod quota;

pub use quota::{QuotaConfig, TierQuota, UsageReport, UsageService};

use crate::error::Result;
use crate::ids::UserId;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// What a user consumed over a period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
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

/// Durable, append-only usage ledger.
#[async_trait]
pub trait UsageStore: Send + Sync + 'static {
    /// Appends an event.
    async fn record(&self, event: &UsageEvent) -> Result<()>;
    /// The user's totals over events at or after `since`.
    async fn totals_since(&self, user: UserId, since: DateTime<Utc>) -> Result<UsageTotals>;
}

//! Usage metering: the `UsageStore` ledger (kept when sessions are deleted) and tier quotas.

mod quota;

pub(crate) use quota::UsageNews;
pub use quota::{QuotaConfig, TierQuota, UsageReport, UsageService};

use crate::error::Result;
use crate::ids::{MessageId, UserId};
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
    /// Milliseconds of the user's speech that were transcribed.
    #[serde(default)]
    pub voice_in_ms: u64,
    /// Milliseconds of speech synthesized for the user.
    #[serde(default)]
    pub voice_out_ms: u64,
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
    /// Milliseconds of the user's speech transcribed.
    pub voice_in_ms: u32,
    /// Milliseconds of speech synthesized.
    pub voice_out_ms: u32,
}

impl UsageEvent {
    /// An event of `user` at `at` that meters nothing yet: set the fields it meters.
    pub fn new(user_id: UserId, at: DateTime<Utc>) -> Self {
        Self {
            user_id,
            at,
            messages: 0,
            prompt_tokens: 0,
            completion_tokens: 0,
            voice_in_ms: 0,
            voice_out_ms: 0,
        }
    }
}

impl UsageTotals {
    /// Voice seconds, speech in and out together (what the voice quota counts).
    pub fn voice_ms(&self) -> u64 {
        self.voice_in_ms.saturating_add(self.voice_out_ms)
    }
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

/// Budget held for one reply in flight (keyed by the reply's message), from before the
/// provider is called until the reply is settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hold {
    /// The reply it is for.
    pub message_id: MessageId,
    /// Whose budget.
    pub user_id: UserId,
    /// Tokens held (what the reply may use at most).
    pub tokens: u32,
    /// When the hold lapses if it was never released (a crashed instance).
    pub expires_at: DateTime<Utc>,
}

/// What a hold must fit in, counting the ledger and the other live holds (0 = unlimited).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HoldLimits {
    /// Now: holds that expired before it do not count.
    pub now: DateTime<Utc>,
    /// The UTC midnight starting today.
    pub day_start: DateTime<Utc>,
    /// The UTC midnight starting this month.
    pub month_start: DateTime<Utc>,
    /// Messages per day: each live hold counts as one more.
    pub messages_per_day: u64,
    /// Tokens per month: live holds count their tokens.
    pub tokens_per_month: u64,
    /// Live holds at once.
    pub max_holds: u32,
}

/// The outcome of asking for a hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldOutcome {
    /// Held: the reply may go ahead.
    Held,
    /// Today's messages are used up (counting replies in flight).
    MessagesUsedUp,
    /// This month's tokens are used up (counting what replies in flight hold).
    TokensUsedUp,
    /// The user already has `max_holds` replies in flight.
    TooManyInFlight,
}

/// Durable usage ledger (append-only) and the holds of replies in flight.
#[async_trait]
pub trait UsageStore: Send + Sync + 'static {
    /// Appends an event.
    async fn record(&self, event: &UsageEvent) -> Result<()>;
    /// The user's totals over events at or after `since`.
    async fn totals_since(&self, user: UserId, since: DateTime<Utc>) -> Result<UsageTotals>;
    /// Takes `hold` if it fits `limits`, atomically with every other `hold` call for the same
    /// user, on every instance: of concurrent calls, only as many as fit are `Held`.
    async fn hold(&self, hold: &Hold, limits: &HoldLimits) -> Result<HoldOutcome>;
    /// Drops a hold (the reply was settled); unknown ids are fine.
    async fn release(&self, message_id: MessageId) -> Result<()>;
}

/// Decides a hold from what is used and held already: the rule every store applies inside
/// its per-user lock.
pub fn decide_hold(
    limits: &HoldLimits,
    messages_today: u64,
    tokens_this_month: u64,
    live_holds: u64,
    held_tokens: u64,
) -> HoldOutcome {
    if limits.max_holds > 0 && live_holds >= u64::from(limits.max_holds) {
        HoldOutcome::TooManyInFlight
    } else if limits.messages_per_day > 0 && messages_today + live_holds >= limits.messages_per_day
    {
        HoldOutcome::MessagesUsedUp
    } else if limits.tokens_per_month > 0
        && tokens_this_month + held_tokens >= limits.tokens_per_month
    {
        HoldOutcome::TokensUsedUp
    } else {
        HoldOutcome::Held
    }
}

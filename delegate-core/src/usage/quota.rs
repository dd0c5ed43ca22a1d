//! Tier quotas (messages per day, tokens per month) and the usage service that checks them
//! against the ledger.

use super::{Hold, HoldLimits, HoldOutcome, UsageEvent, UsageStore, UsageTotals};
use crate::auth::AuthContext;
use crate::cache::{Cache, cached_json, forget, keys, store_json};
use crate::chat::TokenUsage;
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::ids::{MessageId, UserId};
use crate::realtime::{RealtimeService, kinds};
use crate::users::{Tier, UsersService};
use chrono::{DateTime, Datelike, TimeZone, Utc};
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;

/// One tier's limits; 0 means unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(default)]
pub struct TierQuota {
    /// Messages a user may send per UTC day.
    pub messages_per_day: u64,
    /// Prompt plus completion tokens per UTC calendar month.
    pub tokens_per_month: u64,
}

impl Default for TierQuota {
    fn default() -> Self {
        QuotaConfig::default().free
    }
}

/// Quotas by tier (`DELEGATE_QUOTA__PRO__MESSAGES_PER_DAY`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(default)]
pub struct QuotaConfig {
    /// The free tier.
    pub free: TierQuota,
    /// The pro tier.
    pub pro: TierQuota,
    /// The enterprise tier.
    pub enterprise: TierQuota,
}

impl Default for QuotaConfig {
    fn default() -> Self {
        Self {
            free: TierQuota {
                messages_per_day: 50,
                tokens_per_month: 200_000,
            },
            pro: TierQuota {
                messages_per_day: 1_000,
                tokens_per_month: 5_000_000,
            },
            enterprise: TierQuota {
                messages_per_day: 20_000,
                tokens_per_month: 100_000_000,
            },
        }
    }
}

impl QuotaConfig {
    /// The limits of `tier`.
    pub fn of(&self, tier: Tier) -> TierQuota {
        match tier {
            Tier::Free => self.free,
            Tier::Pro => self.pro,
            Tier::Enterprise => self.enterprise,
        }
    }
}

/// A user's usage in the current periods, with the tier's limits.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageReport {
    /// The tier the limits come from.
    pub tier: Tier,
    /// The limits (0 = unlimited).
    pub quota: TierQuota,
    /// Start of the current day (UTC).
    pub day_start: DateTime<Utc>,
    /// Start of the current month (UTC).
    pub month_start: DateTime<Utc>,
    /// Messages sent today.
    pub messages_today: u64,
    /// Usage this month.
    pub month: UsageTotals,
    /// When this month ends (UTC): the monthly quotas start again.
    pub month_end: DateTime<Utc>,
    /// The tier's voice seconds a month, speech in and out together (0 = unlimited).
    pub voice_seconds_per_month: u64,
}

/// Metering and quota checks.
///
/// A user's totals for the current day and month are cached (one entry per user and day),
/// so checking the quota before a message reads no ledger rows; each metered exchange
/// rewrites the entry from the ledger, off the request path.
#[derive(Clone)]
pub struct UsageService {
    store: Arc<dyn UsageStore>,
    quotas: QuotaConfig,
    voice: crate::config::VoiceTiers,
    cache: Arc<dyn Cache>,
    /// How long cached totals live: the longest a lost race between a read and a write
    /// of the entry can leave them behind the ledger.
    ttl: Duration,
    clock: Arc<dyn Clock>,
    news: UsageNews,
}

/// Where a change of usage is told: `usage.updated` to the user's live connections, with
/// the report of their tier (from their profile).
#[derive(Clone)]
pub(crate) struct UsageNews {
    /// Profiles, for the tier.
    pub(crate) users: UsersService,
    /// The users' event streams.
    pub(crate) realtime: RealtimeService,
}

impl UsageService {
    pub(crate) fn new(
        store: Arc<dyn UsageStore>,
        quotas: QuotaConfig,
        voice: crate::config::VoiceTiers,
        cache: Arc<dyn Cache>,
        ttl: Duration,
        clock: Arc<dyn Clock>,
        news: UsageNews,
    ) -> Self {
        Self {
            store,
            quotas,
            voice,
            cache,
            ttl,
            clock,
            news,
        }
    }

    /// The caller's usage this day and month against the quota of their tier now — the
    /// same tier their sends are held against (the caller's, from their current profile).
    pub async fn report(&self, caller: &AuthContext) -> Result<UsageReport> {
        self.report_for(caller.user_id, caller.tier).await
    }

    /// `user`'s usage this day and month against the quota of `tier` (for operators).
    pub async fn report_for(&self, user: UserId, tier: Tier) -> Result<UsageReport> {
        let now = self.clock.now();
        let (day_start, month_start) = (day_start(now), month_start(now));
        let store = self.store.clone();
        let [today, month] = cached_json(
            self.cache.as_ref(),
            &keys::usage(user, day_start),
            self.ttl,
            move || Box::pin(totals(store.clone(), user, day_start, month_start)),
        )
        .await?;
        Ok(UsageReport {
            tier,
            quota: self.quotas.of(tier),
            day_start,
            month_start,
            messages_today: today.messages,
            month,
            month_end: next_month(now),
            voice_seconds_per_month: self.voice.of(tier).seconds_per_month,
        })
    }

    /// `user`'s usage since `since`, straight from the ledger.
    pub async fn totals_since(&self, user: UserId, since: DateTime<Utc>) -> Result<UsageTotals> {
        self.store.totals_since(user, since).await
    }

    /// Drops the cached totals of a deleted account.
    pub(crate) async fn forget(&self, user: UserId) {
        let key = keys::usage(user, day_start(self.clock.now()));
        crate::cache::forget(self.cache.as_ref(), &[key]).await;
    }

    /// Holds budget for one reply before its provider is called: atomically (across
    /// instances) with the user's other holds, so concurrent sends cannot together overrun
    /// the quota. Refuses with [`Error::QuotaExceeded`] when the tier's messages or tokens
    /// are used up (counting replies in flight), or [`Error::RateLimited`] when the user
    /// already has `max_in_flight` replies streaming. Released by [`Self::settle`].
    pub(crate) async fn reserve(
        &self,
        user: UserId,
        tier: Tier,
        reply: MessageId,
        tokens: u32,
        max_in_flight: u32,
        lapse_after: Duration,
    ) -> Result<()> {
        let now = self.clock.now();
        let quota = self.quotas.of(tier);
        let hold = Hold {
            message_id: reply,
            user_id: user,
            tokens,
            expires_at: now + crate::clock::delta(lapse_after)?,
        };
        let limits = HoldLimits {
            now,
            day_start: day_start(now),
            month_start: month_start(now),
            messages_per_day: quota.messages_per_day,
            tokens_per_month: quota.tokens_per_month,
            max_holds: max_in_flight,
        };
        match self.store.hold(&hold, &limits).await? {
            HoldOutcome::Held => Ok(()),
            HoldOutcome::MessagesUsedUp => Err(messages_used_up(tier, quota, now)),
            HoldOutcome::TokensUsedUp => Err(tokens_used_up(tier, quota, now)),
            HoldOutcome::TooManyInFlight => Err(Error::RateLimited {
                retry_after: Duration::from_secs(1),
            }),
        }
    }

    /// Settles a reply: meters the exchange, then drops its hold.
    pub(crate) async fn settle(
        &self,
        user: UserId,
        reply: MessageId,
        usage: Option<TokenUsage>,
    ) -> Result<()> {
        let metered = self.exchange(user, usage).await;
        self.store.release(reply).await?;
        metered
    }

    /// Drops a hold whose reply never started.
    pub(crate) async fn release(&self, reply: MessageId) -> Result<()> {
        self.store.release(reply).await
    }

    /// Meters one exchange: a message sent, and the tokens its reply used.
    async fn exchange(&self, user: UserId, usage: Option<TokenUsage>) -> Result<()> {
        let usage = usage.unwrap_or_default();
        self.meter(UsageEvent {
            messages: 1,
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            ..UsageEvent::new(user, self.clock.now())
        })
        .await
    }

    /// Meters seconds of speech: `heard` transcribed, `spoken` synthesized.
    pub(crate) async fn meter_voice(
        &self,
        user: UserId,
        heard: Duration,
        spoken: Duration,
    ) -> Result<()> {
        let ms = |d: Duration| u32::try_from(d.as_millis()).unwrap_or(u32::MAX);
        self.meter(UsageEvent {
            voice_in_ms: ms(heard),
            voice_out_ms: ms(spoken),
            ..UsageEvent::new(user, self.clock.now())
        })
        .await
    }

    /// Refuses with [`Error::QuotaExceeded`] when the caller's messages today or tokens this
    /// month are used up (not counting replies in flight: a cheap early check, not a hold).
    pub(crate) async fn check_messages_left(&self, caller: &AuthContext) -> Result<()> {
        let report = self.report(caller).await?;
        let (quota, now) = (report.quota, self.clock.now());
        let tokens = report.month.prompt_tokens + report.month.completion_tokens;
        if quota.messages_per_day > 0 && report.messages_today >= quota.messages_per_day {
            return Err(messages_used_up(caller.tier, quota, now));
        }
        if quota.tokens_per_month > 0 && tokens >= quota.tokens_per_month {
            return Err(tokens_used_up(caller.tier, quota, now));
        }
        Ok(())
    }

    /// The time from now until this month's quotas start again.
    pub(crate) fn until_next_month(&self) -> Duration {
        let now = self.clock.now();
        (next_month(now) - now).to_std().unwrap_or_default()
    }

    /// Appends `event` to the ledger and refreshes the user's cached totals.
    async fn meter(&self, event: UsageEvent) -> Result<()> {
        let (user, now) = (event.user_id, event.at);
        self.store.record(&event).await?;
        // Rewritten, not dropped: the next quota check finds fresh totals in the cache.
        let day_start = day_start(now);
        let key = keys::usage(user, day_start);
        match totals(self.store.clone(), user, day_start, month_start(now)).await {
            Ok(fresh) => store_json(self.cache.as_ref(), &key, &fresh, self.ttl).await,
            Err(e) => {
                tracing::warn!(error = %e.report(), "could not reload usage totals; dropping them");
                forget(self.cache.as_ref(), &[key]).await;
            }
        }
        self.announce(user).await;
        Ok(())
    }

    /// Tells the user's devices their usage changed: `usage.updated` with the report as
    /// `GET /api/v1/users/usage` answers it (logged, never failing: the ledger is the truth).
    async fn announce(&self, user: UserId) {
        let report = match self.news.users.get(user).await {
            Ok(profile) => self.report_for(user, profile.tier).await,
            Err(e) => Err(e),
        };
        match report {
            Ok(report) => {
                let data = crate::realtime::payload::usage(&report);
                let realtime = &self.news.realtime;
                realtime.notify(user, kinds::USAGE_UPDATED, data).await;
            }
            Err(e) => tracing::warn!(error = %e.report(), "could not announce a usage change"),
        }
    }
}

/// The refusal when `tier`'s messages of the day are used up.
fn messages_used_up(tier: Tier, quota: TierQuota, now: DateTime<Utc>) -> Error {
    Error::QuotaExceeded {
        message: format!(
            "the {} tier allows {} messages a day",
            tier, quota.messages_per_day
        ),
        retry_after: (next_day(now) - now).to_std().unwrap_or_default(),
    }
}

/// The refusal when `tier`'s tokens of the month are used up.
fn tokens_used_up(tier: Tier, quota: TierQuota, now: DateTime<Utc>) -> Error {
    Error::QuotaExceeded {
        message: format!(
            "the {} tier allows {} tokens a month",
            tier, quota.tokens_per_month
        ),
        retry_after: (next_month(now) - now).to_std().unwrap_or_default(),
    }
}

/// The user's totals since `day_start` and since `month_start`, from the ledger.
async fn totals(
    store: Arc<dyn UsageStore>,
    user: UserId,
    day_start: DateTime<Utc>,
    month_start: DateTime<Utc>,
) -> Result<[UsageTotals; 2]> {
    let (today, month) = tokio::try_join!(
        store.totals_since(user, day_start),
        store.totals_since(user, month_start)
    )?;
    Ok([today, month])
}

fn day_start(now: DateTime<Utc>) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(now.year(), now.month(), now.day(), 0, 0, 0)
        .single()
        .unwrap_or(now)
}

fn month_start(now: DateTime<Utc>) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
        .single()
        .unwrap_or(now)
}

fn next_day(now: DateTime<Utc>) -> DateTime<Utc> {
    day_start(now) + chrono::TimeDelta::days(1)
}

fn next_month(now: DateTime<Utc>) -> DateTime<Utc> {
    let (year, month) = if now.month() == 12 {
        (now.year() + 1, 1)
    } else {
        (now.year(), now.month() + 1)
    };
    Utc.with_ymd_and_hms(year, month, 1, 0, 0, 0)
        .single()
        .unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_start_at_utc_midnight_and_the_first_of_the_month() {
        let now = Utc.with_ymd_and_hms(2026, 12, 31, 18, 30, 5).unwrap();
        assert_eq!(
            day_start(now),
            Utc.with_ymd_and_hms(2026, 12, 31, 0, 0, 0).unwrap()
        );
        assert_eq!(
            next_day(now),
            Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap()
        );
        assert_eq!(
            month_start(now),
            Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap()
        );
        assert_eq!(
            next_month(now),
            Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap()
        );
    }
}

//! `UsageStore` on PostgreSQL: the append-only usage ledger with daily rollups.

use super::{PgStore, db_error};
use crate::backend::transaction::begin;
use crate::error::{Error, Result};
use crate::ids::{MessageId, UserId};
use crate::usage::{
    Hold, HoldLimits, HoldOutcome, UsageEvent, UsageStore, UsageTotals, day_of, decide_hold,
    first_whole_day,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;

#[async_trait]
impl UsageStore for PgStore {
    async fn record(&self, event: &UsageEvent) -> Result<()> {
        let mut tx = begin(&self.pool, None, db_error).await?;
        sqlx::query(
            "INSERT INTO usage_events (user_id, at, messages, prompt_tokens, completion_tokens, \
             voice_in_ms, voice_out_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(event.user_id.as_uuid())
        .bind(event.at)
        .bind(i64::from(event.messages))
        .bind(i64::from(event.prompt_tokens))
        .bind(i64::from(event.completion_tokens))
        .bind(i64::from(event.voice_in_ms))
        .bind(i64::from(event.voice_out_ms))
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        sqlx::query(
            "INSERT INTO usage_daily (user_id, day, messages, prompt_tokens, completion_tokens, \
             voice_in_ms, voice_out_ms) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (user_id, day) DO UPDATE SET \
             messages = usage_daily.messages + excluded.messages, \
             prompt_tokens = usage_daily.prompt_tokens + excluded.prompt_tokens, \
             completion_tokens = usage_daily.completion_tokens + excluded.completion_tokens, \
             voice_in_ms = usage_daily.voice_in_ms + excluded.voice_in_ms, \
             voice_out_ms = usage_daily.voice_out_ms + excluded.voice_out_ms",
        )
        .bind(event.user_id.as_uuid())
        .bind(day_of(event.at))
        .bind(i64::from(event.messages))
        .bind(i64::from(event.prompt_tokens))
        .bind(i64::from(event.completion_tokens))
        .bind(i64::from(event.voice_in_ms))
        .bind(i64::from(event.voice_out_ms))
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)
    }

    async fn totals_since(&self, user: UserId, since: DateTime<Utc>) -> Result<UsageTotals> {
        // Whole days from the rollups, the part of a day before the first from the events.
        let row = sqlx::query(
            "SELECT (d.m + e.m)::bigint AS messages, (d.p + e.p)::bigint AS prompt_tokens, \
             (d.c + e.c)::bigint AS completion_tokens, (d.vi + e.vi)::bigint AS voice_in_ms, \
             (d.vo + e.vo)::bigint AS voice_out_ms \
             FROM (SELECT COALESCE(SUM(messages), 0) AS m, COALESCE(SUM(prompt_tokens), 0) AS p, \
             COALESCE(SUM(completion_tokens), 0) AS c, COALESCE(SUM(voice_in_ms), 0) AS vi, \
             COALESCE(SUM(voice_out_ms), 0) AS vo \
                   FROM usage_daily WHERE user_id = $1 AND day >= $3) AS d, \
                  (SELECT COALESCE(SUM(messages), 0) AS m, COALESCE(SUM(prompt_tokens), 0) AS p, \
             COALESCE(SUM(completion_tokens), 0) AS c, COALESCE(SUM(voice_in_ms), 0) AS vi, \
             COALESCE(SUM(voice_out_ms), 0) AS vo \
                   FROM usage_events WHERE user_id = $1 AND at >= $2 AND at < $3) AS e",
        )
        .bind(user.as_uuid())
        .bind(since)
        .bind(first_whole_day(since))
        .fetch_one(&self.pool)
        .await
        .map_err(db_error)?;
        let total = |col: &str| {
            let sum: i64 = row.try_get(col).map_err(db_error)?;
            u64::try_from(sum).map_err(|_| Error::internal("negative usage total"))
        };
        Ok(UsageTotals {
            messages: total("messages")?,
            prompt_tokens: total("prompt_tokens")?,
            completion_tokens: total("completion_tokens")?,
            voice_in_ms: total("voice_in_ms")?,
            voice_out_ms: total("voice_out_ms")?,
        })
    }

    async fn hold(&self, hold: &Hold, limits: &HoldLimits) -> Result<HoldOutcome> {
        let mut tx = begin(&self.pool, None, db_error).await?;
        // One transaction at a time per user, on every instance: the lock is held until
        // commit, so the read below sees every hold taken before it.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 7301))")
            .bind(hold.user_id.as_uuid())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        sqlx::query("DELETE FROM usage_holds WHERE user_id = $1 AND expires_at <= $2")
            .bind(hold.user_id.as_uuid())
            .bind(limits.now)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        let row = sqlx::query(
            "SELECT \
             (SELECT COALESCE(SUM(messages), 0)::bigint FROM usage_daily \
              WHERE user_id = $1 AND day >= $2) AS messages_today, \
             (SELECT COALESCE(SUM(prompt_tokens + completion_tokens), 0)::bigint \
              FROM usage_daily WHERE user_id = $1 AND day >= $3) AS tokens_month, \
             (SELECT COUNT(*) FROM usage_holds WHERE user_id = $1) AS live, \
             (SELECT COALESCE(SUM(tokens), 0)::bigint FROM usage_holds WHERE user_id = $1) \
              AS held",
        )
        .bind(hold.user_id.as_uuid())
        .bind(limits.day_start)
        .bind(limits.month_start)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error)?;
        let count = |col: &str| -> Result<u64> {
            let n: i64 = row.try_get(col).map_err(db_error)?;
            u64::try_from(n).map_err(|_| Error::internal("negative usage total"))
        };
        let outcome = decide_hold(
            limits,
            count("messages_today")?,
            count("tokens_month")?,
            count("live")?,
            count("held")?,
        );
        if outcome == HoldOutcome::Held {
            sqlx::query(
                "INSERT INTO usage_holds (message_id, user_id, tokens, expires_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(hold.message_id.as_uuid())
            .bind(hold.user_id.as_uuid())
            .bind(i64::from(hold.tokens))
            .bind(hold.expires_at)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        }
        tx.commit().await.map_err(db_error)?;
        Ok(outcome)
    }

    async fn release(&self, message_id: MessageId) -> Result<()> {
        sqlx::query("DELETE FROM usage_holds WHERE message_id = $1")
            .bind(message_id.as_uuid())
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }
}

//! `UsageStore` on PostgreSQL: the append-only usage ledger.

use super::{PgStore, db_error};
use crate::error::{Error, Result};
use crate::ids::UserId;
use crate::usage::{UsageEvent, UsageStore, UsageTotals};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;

#[async_trait]
impl UsageStore for PgStore {
    async fn record(&self, event: &UsageEvent) -> Result<()> {
        sqlx::query(
            "INSERT INTO usage_events (user_id, at, messages, prompt_tokens, completion_tokens) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(event.user_id.as_uuid())
        .bind(event.at)
        .bind(i64::from(event.messages))
        .bind(i64::from(event.prompt_tokens))
        .bind(i64::from(event.completion_tokens))
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn totals_since(&self, user: UserId, since: DateTime<Utc>) -> Result<UsageTotals> {
        // SUM(bigint) is numeric; the totals fit a bigint by far.
        let row = sqlx::query(
            "SELECT COALESCE(SUM(messages), 0)::bigint AS messages, \
             COALESCE(SUM(prompt_tokens), 0)::bigint AS prompt_tokens, \
             COALESCE(SUM(completion_tokens), 0)::bigint AS completion_tokens \
             FROM usage_events WHERE user_id = $1 AND at >= $2",
        )
        .bind(user.as_uuid())
        .bind(since)
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
        })
    }
}

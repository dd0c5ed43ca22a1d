//! The usage report for operators: every account's usage over a period, and the totals.

use super::{Actor, AdminService};
use crate::error::{Error, Result};
use crate::usage::UsageTotals;
use crate::users::{User, UserQuery};
use chrono::{DateTime, Utc};

/// One account's usage over the period.
#[derive(Debug, Clone, PartialEq)]
pub struct UserUsage {
    /// The account.
    pub user: User,
    /// What it used in the period.
    pub usage: UsageTotals,
}

impl AdminService {
    /// A page of accounts (`limit` 1–1000, after `after`) with what each used from `from`
    /// until `until` (now when `None`). Accounts that used nothing are included.
    pub async fn usage_report(
        &self,
        actor: &Actor,
        from: DateTime<Utc>,
        until: Option<DateTime<Utc>>,
        after: Option<crate::UserId>,
        limit: u32,
    ) -> Result<Vec<UserUsage>> {
        Self::authorize(actor)?;
        if until.is_some_and(|u| u < from) {
            return Err(Error::invalid("until", "must not be before `from`"));
        }
        let users = self
            .users
            .search(UserQuery {
                after,
                ..UserQuery::all(limit)
            })
            .await?;
        let mut report = Vec::with_capacity(users.len());
        for user in users {
            let since_from = self.usage.totals_since(user.id, from).await?;
            let usage = match until {
                Some(until) => minus(since_from, self.usage.totals_since(user.id, until).await?),
                None => since_from,
            };
            report.push(UserUsage { user, usage });
        }
        Ok(report)
    }
}

/// `a - b`, field by field (never below zero).
fn minus(a: UsageTotals, b: UsageTotals) -> UsageTotals {
    UsageTotals {
        messages: a.messages.saturating_sub(b.messages),
        prompt_tokens: a.prompt_tokens.saturating_sub(b.prompt_tokens),
        completion_tokens: a.completion_tokens.saturating_sub(b.completion_tokens),
        voice_in_ms: a.voice_in_ms.saturating_sub(b.voice_in_ms),
        voice_out_ms: a.voice_out_ms.saturating_sub(b.voice_out_ms),
    }
}

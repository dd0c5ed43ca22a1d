//! Views of operator actions: an account's details, deletions and sign-outs, the audit
//! trail, cache statistics and clears, and the usage report.

use super::{UserView, rfc3339, short_time};
use crate::table::{Table, dash};
use chrono::{DateTime, Utc};
use delegate_core::admin::{AuditEvent, CacheStatsReport, UserDetail, UserUsage};
use serde::Serialize;
use std::fmt::Write as _;

/// Usage this period against the tier's quota (0 = unlimited).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QuotaUseView {
    /// Messages today.
    pub messages_today: u64,
    /// The daily message limit.
    pub messages_per_day: u64,
    /// Tokens this month.
    pub tokens_this_month: u64,
    /// The monthly token limit.
    pub tokens_per_month: u64,
}

/// An account with its usage and live login sessions (`users show`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserDetailView {
    /// The account.
    #[serde(flatten)]
    pub user: UserView,
    /// Usage against the quota.
    pub usage: QuotaUseView,
    /// Login sessions alive now.
    pub live_sessions: u64,
}

impl From<UserDetail> for UserDetailView {
    fn from(d: UserDetail) -> Self {
        let month = d.usage.month;
        Self {
            user: d.user.into(),
            usage: QuotaUseView {
                messages_today: d.usage.messages_today,
                messages_per_day: d.usage.quota.messages_per_day,
                tokens_this_month: month.prompt_tokens + month.completion_tokens,
                tokens_per_month: d.usage.quota.tokens_per_month,
            },
            live_sessions: d.live_sessions,
        }
    }
}

impl UserDetailView {
    pub(super) fn human(&self) -> String {
        let limit = |n: u64| {
            if n == 0 {
                "unlimited".to_owned()
            } else {
                n.to_string()
            }
        };
        format!(
            "{}\nsessions: {} live\nmessages: {} today (limit {})\ntokens:   {} this month (limit {})",
            self.user.human(),
            self.live_sessions,
            self.usage.messages_today,
            limit(self.usage.messages_per_day),
            self.usage.tokens_this_month,
            limit(self.usage.tokens_per_month),
        )
    }
}

/// A deleted account (`users delete`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeletedView {
    /// The account's id.
    pub id: String,
    /// Always true: failures are errors.
    pub deleted: bool,
}

impl DeletedView {
    pub(super) fn human(&self) -> String {
        format!("deleted user {} and everything it owned", self.id)
    }
}

/// How many login sessions `users logout-all` ended.
#[derive(Debug, Serialize)]
pub struct LoggedOutView {
    /// Sessions that were alive.
    pub revoked: u64,
}

impl LoggedOutView {
    pub(super) fn human(&self) -> String {
        format!("revoked {} login sessions", self.revoked)
    }
}

/// One audit event.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEventView {
    /// Event id.
    pub id: String,
    /// When.
    #[serde(serialize_with = "rfc3339")]
    pub at: DateTime<Utc>,
    /// What.
    pub kind: String,
    /// `user`, `operator`, `system` or `anonymous`.
    pub actor_type: String,
    /// The acting user, if any.
    pub actor_user_id: Option<String>,
    /// The account concerned.
    pub target_user_id: Option<String>,
    /// The client's IP.
    pub ip: Option<String>,
    /// Details.
    pub detail: serde_json::Value,
}

impl From<AuditEvent> for AuditEventView {
    fn from(e: AuditEvent) -> Self {
        Self {
            id: e.id.to_string(),
            at: e.at,
            kind: e.kind.as_str().to_owned(),
            actor_type: e.actor.kind().to_owned(),
            actor_user_id: e.actor.user_id().map(|u| u.to_string()),
            target_user_id: e.target.map(|u| u.to_string()),
            ip: e.ip,
            detail: e.detail,
        }
    }
}

/// A page of the audit trail (`audit`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditListView {
    /// Newest first.
    pub items: Vec<AuditEventView>,
    /// Pass as `--cursor` for the next page.
    pub next_cursor: Option<String>,
}

impl AuditListView {
    pub(super) fn human(&self) -> String {
        if self.items.is_empty() {
            return "no audit events".to_owned();
        }
        let mut table = Table::new(["AT", "KIND", "ACTOR", "TARGET", "IP", "DETAIL"]);
        for e in &self.items {
            let actor = match &e.actor_user_id {
                Some(id) => id.clone(),
                None => e.actor_type.clone(),
            };
            table.row([
                short_time(e.at),
                e.kind.clone(),
                actor,
                dash(&e.target_user_id),
                dash(&e.ip),
                e.detail.to_string(),
            ]);
        }
        let mut out = table.render();
        if let Some(next) = &self.next_cursor {
            let _ = write!(out, "\nmore: --cursor {next}");
        }
        out
    }
}

/// One namespace of one cache layer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CacheNamespaceView {
    /// `in_process` or `redis`.
    pub layer: String,
    /// The namespace.
    pub namespace: String,
    /// Entries held.
    pub entries: Option<u64>,
    /// Bytes held.
    pub bytes: Option<u64>,
    /// Hits (this process).
    pub hits: u64,
    /// Misses (this process).
    pub misses: u64,
}

/// `cache stats`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CacheStatsView {
    /// One row per layer and namespace.
    pub namespaces: Vec<CacheNamespaceView>,
    /// Layers whose sizes come from a scan that stopped early.
    pub truncated: Vec<String>,
}

impl From<CacheStatsReport> for CacheStatsView {
    fn from(r: CacheStatsReport) -> Self {
        let mut namespaces = Vec::new();
        let mut truncated = Vec::new();
        for layer in r.layers {
            let name = layer.layer.name().to_owned();
            if layer.truncated {
                truncated.push(name.clone());
            }
            for n in layer.namespaces {
                namespaces.push(CacheNamespaceView {
                    layer: name.clone(),
                    namespace: n.namespace,
                    entries: n.entries,
                    bytes: n.bytes,
                    hits: n.hits,
                    misses: n.misses,
                });
            }
        }
        Self {
            namespaces,
            truncated,
        }
    }
}

impl CacheStatsView {
    pub(super) fn human(&self) -> String {
        if self.namespaces.is_empty() {
            return "the cache is empty".to_owned();
        }
        let number = |n: Option<u64>| n.map_or_else(|| "-".to_owned(), |n| n.to_string());
        let mut table = Table::new(["LAYER", "NAMESPACE", "ENTRIES", "BYTES", "HITS", "MISSES"]);
        for n in &self.namespaces {
            table.row([
                n.layer.clone(),
                n.namespace.clone(),
                number(n.entries),
                number(n.bytes),
                n.hits.to_string(),
                n.misses.to_string(),
            ]);
        }
        let mut out = table.render();
        for layer in &self.truncated {
            let _ = write!(out, "\n{layer}: sizes from a partial scan (very many keys)");
        }
        out
    }
}

/// `cache clear`.
#[derive(Debug, Serialize)]
pub struct CacheClearedView {
    /// Entries removed.
    pub removed: u64,
}

impl CacheClearedView {
    pub(super) fn human(&self) -> String {
        format!("removed {} cache entries", self.removed)
    }
}

/// One account's usage over the period.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserUsageView {
    /// User id.
    pub user_id: String,
    /// Email.
    pub email: String,
    /// Tier.
    pub tier: String,
    /// Messages sent.
    pub messages: u64,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
}

impl From<UserUsage> for UserUsageView {
    fn from(u: UserUsage) -> Self {
        Self {
            user_id: u.user.id.to_string(),
            email: u.user.email,
            tier: u.user.tier.to_string(),
            messages: u.usage.messages,
            prompt_tokens: u.usage.prompt_tokens,
            completion_tokens: u.usage.completion_tokens,
        }
    }
}

/// Totals over every account.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageTotalsView {
    /// Accounts in the report.
    pub users: u64,
    /// Messages sent.
    pub messages: u64,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
}

/// `usage report`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageReportView {
    /// Start of the period.
    #[serde(serialize_with = "rfc3339")]
    pub from: DateTime<Utc>,
    /// End of the period.
    #[serde(serialize_with = "rfc3339")]
    pub until: DateTime<Utc>,
    /// Per account, in id order.
    pub items: Vec<UserUsageView>,
    /// Over every account.
    pub totals: UsageTotalsView,
}

impl UsageReportView {
    /// The report of `items` over `from`–`until`, with its totals.
    pub fn new(from: DateTime<Utc>, until: DateTime<Utc>, items: Vec<UserUsageView>) -> Self {
        let mut totals = UsageTotalsView::default();
        for i in &items {
            totals.users += 1;
            totals.messages += i.messages;
            totals.prompt_tokens += i.prompt_tokens;
            totals.completion_tokens += i.completion_tokens;
        }
        Self {
            from,
            until,
            items,
            totals,
        }
    }

    pub(super) fn human(&self) -> String {
        let mut table = Table::new(["USER", "EMAIL", "TIER", "MESSAGES", "PROMPT", "COMPLETION"]);
        for i in &self.items {
            table.row([
                i.user_id.clone(),
                i.email.clone(),
                i.tier.clone(),
                i.messages.to_string(),
                i.prompt_tokens.to_string(),
                i.completion_tokens.to_string(),
            ]);
        }
        let t = &self.totals;
        format!(
            "usage from {} until {}\n{}\ntotal: {} users, {} messages, {} prompt tokens, {} completion tokens",
            short_time(self.from),
            short_time(self.until),
            table.render(),
            t.users,
            t.messages,
            t.prompt_tokens,
            t.completion_tokens
        )
    }
}

//! `delegate cache …`, `delegate audit` and `delegate usage report`: the admin API's
//! read-outs, as the operator.

use crate::cli::{AuditArgs, CacheCommand, UsageCommand};
use crate::views::{AuditListView, CacheClearedView, Output, UsageReportView};
use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use delegate_core::admin::{Actor, AuditQuery};
use delegate_core::paging::parse_cursor;
use delegate_core::{Config, Error, Result};

/// Accounts read per step of the usage report.
const REPORT_PAGE: u32 = 200;

/// Runs a `cache` subcommand.
pub async fn cache(command: CacheCommand, config: Config) -> Result<Output> {
    let delegate = super::connect(config).await?;
    let admin = delegate.admin();
    match command {
        CacheCommand::Stats => Ok(Output::CacheStats(
            admin.cache_stats(&Actor::Operator).await?.into(),
        )),
        CacheCommand::Clear { pattern } => {
            let report = admin.clear_cache(&Actor::Operator, &pattern).await?;
            Ok(Output::CacheCleared(CacheClearedView {
                removed: report.removed,
            }))
        }
    }
}

/// Runs `audit`.
pub async fn audit(args: AuditArgs, config: Config) -> Result<Output> {
    let kind = args.kind.as_deref().map(str::parse).transpose()?;
    let from = args.from.as_deref().map(|t| time("from", t)).transpose()?;
    let to = args.to.as_deref().map(|t| time("to", t)).transpose()?;
    let before = args.cursor.as_deref().map(parse_cursor).transpose()?;
    let delegate = super::connect(config).await?;
    let user = match &args.user {
        Some(user) => Some(super::find_user(&delegate, user).await?.id),
        None => None,
    };
    let query = AuditQuery {
        user,
        kind,
        from,
        to,
        before,
        limit: args.limit,
    };
    let page = delegate.admin().audit(&Actor::Operator, query).await?;
    Ok(Output::Audit(AuditListView {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Runs a `usage` subcommand, with a progress bar over the accounts.
pub async fn usage(command: UsageCommand, config: Config, json: bool) -> Result<Output> {
    let UsageCommand::Report { from, until } = command;
    let until = until.as_deref().map(|t| time("until", t)).transpose()?;
    let from = from.as_deref().map(|t| time("from", t)).transpose()?;
    let delegate = super::connect(config).await?;
    let now = delegate.clock().now();
    let from = match from {
        Some(from) => from,
        None => Utc
            .with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
            .single()
            .unwrap_or(now),
    };
    let admin = delegate.admin();
    let bar = crate::progress::bar(None, "reading usage", json);
    let mut items = Vec::new();
    let mut after = None;
    loop {
        let page = admin
            .usage_report(&Actor::Operator, from, until, after, REPORT_PAGE)
            .await?;
        bar.inc(page.len() as u64);
        after = page.last().map(|u| u.user.id);
        let last = page.len() < REPORT_PAGE as usize;
        items.extend(page.into_iter().map(Into::into));
        if last {
            break;
        }
    }
    bar.finish_and_clear();
    Ok(Output::UsageReport(UsageReportView::new(
        from,
        until.unwrap_or(now),
        items,
    )))
}

/// An RFC 3339 time, or a date (`YYYY-MM-DD`, its UTC midnight), for `field`.
fn time(field: &'static str, text: &str) -> Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| Error::invalid(field, "must be an RFC 3339 time or a YYYY-MM-DD date"))
}

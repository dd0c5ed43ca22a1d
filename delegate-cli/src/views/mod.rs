//! What commands print: camelCase JSON bodies converted by hand from core types, each with
//! its human rendering; one file per group of commands.

mod accounts;
mod admin;
mod ops;

pub use accounts::*;
pub use admin::*;
pub use ops::*;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

/// Serialises a timestamp as RFC 3339 UTC with milliseconds, the JSON form of every time.
fn rfc3339<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// RFC 3339 UTC to the second, for tables.
fn short_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The result of a command, ready to print either way.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Output {
    /// `migrate`.
    Migrated(MigratedView),
    /// One account (`users create`, `set-tier`, `set-role`, `disable`, `enable`).
    User(UserView),
    /// A page of accounts (`users list`, `users search`).
    Users(UserListView),
    /// An account with its usage (`users show`).
    UserDetail(UserDetailView),
    /// `users delete`.
    Deleted(DeletedView),
    /// `users logout-all`.
    LoggedOut(LoggedOutView),
    /// A user's sessions (`sessions list`).
    Sessions(SessionListView),
    /// `sessions revoke`.
    Revoked(RevokedView),
    /// `sessions cleanup`.
    Cleanup(CleanupView),
    /// `cache stats`.
    CacheStats(CacheStatsView),
    /// `cache clear`.
    CacheCleared(CacheClearedView),
    /// `audit`.
    Audit(AuditListView),
    /// `usage report`.
    UsageReport(UsageReportView),
    /// `doctor`.
    Doctor(DoctorView),
    /// `import users`.
    Imported(ImportView),
    /// `seed --demo`.
    Seeded(SeedView),
    /// Text printed as is, even with `--json` (`completions`).
    #[serde(skip)]
    Raw(String),
}

impl Output {
    /// The human rendering, one or more lines without a trailing newline.
    pub fn human(&self) -> String {
        match self {
            Output::Migrated(v) => v.human(),
            Output::User(v) => v.human(),
            Output::Users(v) => v.human(),
            Output::UserDetail(v) => v.human(),
            Output::Deleted(v) => v.human(),
            Output::LoggedOut(v) => v.human(),
            Output::Sessions(v) => v.human(),
            Output::Revoked(v) => v.human(),
            Output::Cleanup(v) => v.human(),
            Output::CacheStats(v) => v.human(),
            Output::CacheCleared(v) => v.human(),
            Output::Audit(v) => v.human(),
            Output::UsageReport(v) => v.human(),
            Output::Doctor(v) => v.human(),
            Output::Imported(v) => v.human(),
            Output::Seeded(v) => v.human(),
            Output::Raw(text) => text.trim_end().to_owned(),
        }
    }

    /// Whether the command printed a failure that must set a non-zero exit code (a doctor
    /// that found the store down, an import with bad rows).
    pub fn failed(&self) -> bool {
        match self {
            Output::Doctor(v) => v.status == "down",
            Output::Imported(v) => !v.failed.is_empty(),
            _ => false,
        }
    }
}

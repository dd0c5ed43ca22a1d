//! Views of setup and data commands: `doctor`, `import users` and `seed --demo`.

use crate::table::{Table, dash};
use delegate_core::health::{Check, HealthReport};
use serde::Serialize;
use std::fmt::Write as _;

/// What `doctor` read of the configuration (URLs without credentials, no secrets).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DoctorConfigView {
    /// `development`, `test` or `production`.
    pub environment: String,
    /// The relational store.
    pub database_url: String,
    /// Cache, limits and bus.
    pub redis_url: String,
    /// The AI provider setting.
    pub ai_provider: String,
    /// Whether both JWT secrets are set (else they are generated at each start).
    pub jwt_secrets_configured: bool,
    /// Whether GET /metrics needs a bearer token.
    pub metrics_token_configured: bool,
}

/// One dependency check.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckView {
    /// `database`, `redis`, `ai`, or `connect` when Delegate could not start.
    pub name: String,
    /// `ok`, `degraded` or `down`.
    pub status: String,
    /// The backend (`sqlite`, `postgres`, `redis`, `openai`, …).
    pub kind: String,
    /// Round trip, in milliseconds.
    pub latency_ms: f64,
    /// Why it is not ok.
    pub detail: Option<String>,
}

impl From<Check> for CheckView {
    fn from(c: Check) -> Self {
        Self {
            name: c.name.to_owned(),
            status: c.status.as_str().to_owned(),
            kind: c.kind,
            latency_ms: c.latency.as_secs_f64() * 1000.0,
            detail: c.detail,
        }
    }
}

/// `doctor`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DoctorView {
    /// `ok`, `degraded` or `down` (exit code 1 when down).
    pub status: String,
    /// Delegate's version.
    pub version: String,
    /// The configuration read.
    pub config: DoctorConfigView,
    /// Each dependency.
    pub checks: Vec<CheckView>,
    /// What to look at.
    pub warnings: Vec<String>,
}

impl DoctorView {
    /// The view of a health report.
    pub fn new(config: DoctorConfigView, report: HealthReport, warnings: Vec<String>) -> Self {
        Self {
            status: report.status.as_str().to_owned(),
            version: report.version.to_owned(),
            config,
            checks: report.checks.into_iter().map(Into::into).collect(),
            warnings,
        }
    }

    pub(super) fn human(&self) -> String {
        let c = &self.config;
        let mut out = format!(
            "delegate {}\nenvironment: {}\ndatabase:    {}\nredis:       {}\nai provider: {}\njwt secrets: {}\nmetrics:     {}\n\n",
            self.version,
            c.environment,
            c.database_url,
            c.redis_url,
            c.ai_provider,
            if c.jwt_secrets_configured {
                "configured"
            } else {
                "not set (generated at each start)"
            },
            if c.metrics_token_configured {
                "bearer token required"
            } else {
                "open (set METRICS_TOKEN)"
            },
        );
        let mut table = Table::new(["CHECK", "STATUS", "KIND", "LATENCY", "DETAIL"]);
        for check in &self.checks {
            table.row([
                check.name.clone(),
                check.status.clone(),
                check.kind.clone(),
                format!("{:.1} ms", check.latency_ms),
                dash(&check.detail),
            ]);
        }
        out.push_str(&table.render());
        for warning in &self.warnings {
            let _ = write!(out, "\nwarning: {warning}");
        }
        let _ = write!(out, "\noverall: {}", self.status);
        out
    }
}

/// A row `import users` skipped: its email exists already.
#[derive(Debug, Serialize)]
pub struct SkippedRow {
    /// The line in the file (1-based; the CSV header is line 1).
    pub line: u64,
    /// The existing email.
    pub email: String,
}

/// A row `import users` could not import.
#[derive(Debug, Serialize)]
pub struct FailedRow {
    /// The line in the file (1-based).
    pub line: u64,
    /// The error code (`invalid_field`, `invalid_row`, …).
    pub code: String,
    /// What is wrong.
    pub message: String,
}

/// `import users`.
#[derive(Debug, Default, Serialize)]
pub struct ImportView {
    /// Accounts created.
    pub created: u64,
    /// Rows whose email exists already.
    pub skipped: Vec<SkippedRow>,
    /// Rows that could not be imported (exit code 1 when any).
    pub failed: Vec<FailedRow>,
}

impl ImportView {
    pub(super) fn human(&self) -> String {
        let mut out = format!(
            "created {} users, skipped {} existing, {} failed",
            self.created,
            self.skipped.len(),
            self.failed.len()
        );
        for row in &self.skipped {
            let _ = write!(out, "\nline {}: skipped, {} exists", row.line, row.email);
        }
        for row in &self.failed {
            let _ = write!(out, "\nline {}: {} ({})", row.line, row.message, row.code);
        }
        out
    }
}

/// A demo account.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeedAccountView {
    /// Its email.
    pub email: String,
    /// Its role.
    pub role: String,
    /// The password, when this run created it (shown once); `null` when it existed.
    pub password: Option<String>,
}

/// `seed --demo`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeedView {
    /// The admin and the user.
    pub accounts: Vec<SeedAccountView>,
    /// Sample chats created by this run.
    pub chats: u64,
}

impl SeedView {
    pub(super) fn human(&self) -> String {
        let mut out = String::new();
        for a in &self.accounts {
            let password = match &a.password {
                Some(p) => format!("password {p}"),
                None => "existed, unchanged".to_owned(),
            };
            let _ = writeln!(out, "{} ({}): {password}", a.email, a.role);
        }
        let _ = write!(out, "{} sample chats created", self.chats);
        out
    }
}

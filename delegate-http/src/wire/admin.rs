//! Bodies of /api/v1/admin.

use delegate_core::CleanupReport;
use serde::Serialize;
use utoipa::ToSchema;

/// POST /api/v1/admin/sessions/cleanup
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CleanupBody {
    /// Rows removed in all.
    pub removed: u64,
    /// Expired or revoked login sessions removed.
    pub sessions: u64,
    /// Refresh tokens of expired families removed.
    pub refresh_tokens: u64,
    /// Ended access-token denials removed.
    pub denials: u64,
}

impl From<CleanupReport> for CleanupBody {
    fn from(r: CleanupReport) -> Self {
        Self {
            removed: r.sessions + r.refresh_tokens + r.denials,
            sessions: r.sessions,
            refresh_tokens: r.refresh_tokens,
            denials: r.denials,
        }
    }
}

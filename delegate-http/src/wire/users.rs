//! Bodies of /api/v1/users: the profile, its updates, and usage against the tier's quota.

use super::time;
use delegate_core::{Role, Tier, User};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// PATCH /api/v1/users/profile
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProfileUpdateRequest {
    /// New display name (1–100 characters).
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: Option<String>,
    /// New avatar URL (http or https); `null` removes it, absent leaves it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 2048, pattern = r"^https?://[^\s\x00-\x1f\x7f-\x9f]*$")]
    pub avatar_url: Option<Option<String>>,
}

/// Tells an explicit `null` (`Some(None)`) from an absent field (`None`, via `default`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// A user as clients see it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserBody {
    /// User id (UUID).
    pub id: String,
    /// Normalised email.
    pub email: String,
    /// Display name.
    pub name: String,
    /// `free`, `pro` or `enterprise`.
    #[schema(value_type = String, example = "free")]
    pub tier: Tier,
    /// `user` or `admin`.
    #[schema(value_type = String, example = "user")]
    pub role: Role,
    /// Client preferences (JSON object).
    #[schema(value_type = Object)]
    pub preferences: serde_json::Value,
    /// Avatar URL.
    pub avatar_url: Option<String>,
    /// RFC 3339 UTC.
    pub created_at: String,
}

impl From<User> for UserBody {
    fn from(u: User) -> Self {
        Self {
            id: u.id.to_string(),
            email: u.email,
            name: u.name,
            tier: u.tier,
            role: u.role,
            preferences: u.preferences,
            avatar_url: u.avatar_url,
            created_at: time(u.created_at),
        }
    }
}

/// Used against a limit (0 = unlimited).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MeteredBody {
    /// Used this period.
    pub used: u64,
    /// The tier's limit for the period (0 = unlimited).
    pub limit: u64,
    /// Start of the period.
    pub period_start: String,
}

/// GET /api/v1/users/usage
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageBody {
    /// The caller's tier.
    #[schema(value_type = String, example = "free")]
    pub tier: Tier,
    /// Messages sent today (UTC) against the daily quota.
    pub messages: MeteredBody,
    /// Tokens this calendar month against the monthly quota.
    pub tokens: MeteredBody,
    /// Prompt tokens this month.
    pub prompt_tokens: u64,
    /// Completion tokens this month.
    pub completion_tokens: u64,
    /// Voice seconds this month against the voice quota.
    pub voice: super::VoiceUsageBody,
}

impl From<delegate_core::usage::UsageReport> for UsageBody {
    fn from(r: delegate_core::usage::UsageReport) -> Self {
        let voice = delegate_core::voice::VoiceUsage::of(&r);
        Self {
            tier: r.tier,
            messages: MeteredBody {
                used: r.messages_today,
                limit: r.quota.messages_per_day,
                period_start: time(r.day_start),
            },
            tokens: MeteredBody {
                used: r.month.prompt_tokens + r.month.completion_tokens,
                limit: r.quota.tokens_per_month,
                period_start: time(r.month_start),
            },
            prompt_tokens: r.month.prompt_tokens,
            completion_tokens: r.month.completion_tokens,
            voice: voice.into(),
        }
    }
}

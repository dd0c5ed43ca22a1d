//! Request and response bodies (camelCase JSON), converted by hand from core types.

use chrono::{DateTime, SecondsFormat, Utc};
use delegate_core::{DeviceInfo, LoginSession, LoginSessionId, Role, Tier, TokenPair, User};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// RFC 3339 UTC with milliseconds, the wire form of every timestamp.
fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The device a client signs in from (all optional; the server adds user agent and IP).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeviceInput {
    /// A label, e.g. "Ada's iPhone".
    pub name: Option<String>,
    /// Platform, e.g. "ios", "web".
    pub platform: Option<String>,
    /// A client-computed fingerprint.
    pub fingerprint: Option<String>,
}

impl DeviceInput {
    /// Core device info, with what the server saw of the client.
    pub fn into_core(self, meta: crate::extract::ClientMeta) -> DeviceInfo {
        DeviceInfo {
            name: self.name,
            platform: self.platform,
            fingerprint: self.fingerprint,
            user_agent: meta.user_agent,
            ip: meta.ip,
        }
    }
}

/// POST /api/v1/auth/register
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisterRequest {
    /// Email address (case-insensitive).
    #[schema(format = "email", max_length = 254)]
    pub email: String,
    /// 8–128 characters, not a common password.
    #[schema(min_length = 8, max_length = 128)]
    pub password: String,
    /// Display name (default: the email's local part).
    #[schema(max_length = 100)]
    pub name: Option<String>,
    /// The signing-in device.
    pub device: Option<DeviceInput>,
}

/// POST /api/v1/auth/login
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginRequest {
    /// Email address.
    pub email: String,
    /// Password.
    pub password: String,
    /// The signing-in device.
    pub device: Option<DeviceInput>,
}

/// POST /api/v1/auth/refresh
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefreshRequest {
    /// The refresh token from the last login or refresh.
    pub refresh_token: String,
}

/// POST /api/v1/auth/password
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangePasswordRequest {
    /// The password now.
    pub current_password: String,
    /// The new password: 8–128 characters, not a common password.
    pub new_password: String,
}

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

/// Device details of a login session.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeviceBody {
    /// Client label.
    pub name: Option<String>,
    /// Platform.
    pub platform: Option<String>,
    /// Client fingerprint.
    pub fingerprint: Option<String>,
    /// User-Agent at sign-in.
    pub user_agent: Option<String>,
    /// IP at sign-in.
    pub ip: Option<String>,
}

/// A login session (device); never carries a token, hash or jti.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginSessionBody {
    /// Session id (UUID).
    pub id: String,
    /// The device.
    pub device: DeviceBody,
    /// Sign-in time.
    pub created_at: String,
    /// Last use (updated at most once a minute).
    pub last_seen_at: String,
    /// Absolute end of the session.
    pub expires_at: String,
    /// Whether this is the session of the calling token.
    pub current: bool,
}

impl LoginSessionBody {
    /// The wire form of `s`; `current` marks the caller's own session.
    pub fn new(s: LoginSession, current: LoginSessionId) -> Self {
        Self {
            id: s.id.to_string(),
            current: s.id == current,
            device: DeviceBody {
                name: s.device.name,
                platform: s.device.platform,
                fingerprint: s.device.fingerprint,
                user_agent: s.device.user_agent,
                ip: s.device.ip,
            },
            created_at: time(s.created_at),
            last_seen_at: time(s.last_seen_at),
            expires_at: time(s.expires_at),
        }
    }
}

/// Tokens returned by login, register and refresh.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenBody {
    /// Bearer token for requests.
    pub access_token: String,
    /// Single-use refresh token.
    pub refresh_token: String,
    /// Access-token lifetime in seconds.
    pub expires_in: u64,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
}

impl From<TokenPair> for TokenBody {
    fn from(t: TokenPair) -> Self {
        Self {
            access_token: t.access_token,
            refresh_token: t.refresh_token,
            expires_in: t.expires_in,
            token_type: "Bearer",
        }
    }
}

/// Register and login answer.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthResultBody {
    /// The account.
    pub user: UserBody,
    /// The tokens (`accessToken`, `refreshToken`, `expiresIn`, `tokenType`).
    #[serde(flatten)]
    pub tokens: TokenBody,
    /// The new login session.
    pub session: LoginSessionBody,
}

impl From<delegate_core::SignedIn> for AuthResultBody {
    fn from(s: delegate_core::SignedIn) -> Self {
        let id = s.session.id;
        Self {
            user: s.user.into(),
            tokens: s.tokens.into(),
            session: LoginSessionBody::new(s.session, id),
        }
    }
}

/// GET /api/v1/auth/me
#[derive(Debug, Serialize, ToSchema)]
pub struct MeBody {
    /// The caller.
    pub user: UserBody,
    /// The caller's login session.
    pub session: LoginSessionBody,
}

/// GET /api/v1/auth/sessions
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionListBody {
    /// The caller's alive sessions, newest first.
    pub items: Vec<LoginSessionBody>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// POST /api/v1/auth/logout-all
#[derive(Debug, Serialize, ToSchema)]
pub struct RevokedBody {
    /// How many login sessions were revoked.
    pub revoked: u64,
}

/// GET /health
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthBody {
    /// `ok` when the server answers.
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// Query of list routes: `?limit=` (default 20, max 100) and `?cursor=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Page size, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// The `nextCursor` of the previous page.
    #[param(format = Uuid)]
    pub cursor: Option<String>,
}

/// POST /api/v1/sessions
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateSessionRequest {
    /// Title (default "New chat").
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub title: Option<String>,
    /// Model (default: the configured one); one the caller's tier may use.
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub model: Option<String>,
    /// System prompt.
    #[schema(max_length = 8000)]
    pub system_prompt: Option<String>,
}

/// PATCH /api/v1/sessions/{id}
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RenameSessionRequest {
    /// The new title.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub title: Option<String>,
}

/// POST /api/v1/sessions/{id}/messages
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SendMessageRequest {
    /// The user's message.
    #[schema(min_length = 1, max_length = 32000, pattern = r"\S")]
    pub content: String,
    /// Stream the reply as server-sent events (also with `Accept: text/event-stream`).
    #[serde(default)]
    pub stream: bool,
}

/// A chat session.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatSessionBody {
    /// Session id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Model, if set.
    pub model: Option<String>,
    /// System prompt, if set.
    pub system_prompt: Option<String>,
    /// Creation time.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
}

impl From<delegate_core::chat::ChatSession> for ChatSessionBody {
    fn from(s: delegate_core::chat::ChatSession) -> Self {
        Self {
            id: s.id.to_string(),
            title: s.title,
            model: s.model,
            system_prompt: s.system_prompt,
            created_at: time(s.created_at),
            updated_at: time(s.updated_at),
        }
    }
}

/// Tokens a reply used.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenUsageBody {
    /// Prompt tokens.
    pub prompt_tokens: u32,
    /// Completion tokens.
    pub completion_tokens: u32,
    /// Their sum.
    pub total_tokens: u32,
}

impl From<delegate_core::chat::TokenUsage> for TokenUsageBody {
    fn from(u: delegate_core::chat::TokenUsage) -> Self {
        Self {
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
            total_tokens: u.prompt_tokens.saturating_add(u.completion_tokens),
        }
    }
}

/// A chat message.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageBody {
    /// Message id.
    pub id: String,
    /// Its session.
    pub session_id: String,
    /// `user` or `assistant`.
    #[schema(example = "assistant")]
    pub role: &'static str,
    /// The text.
    pub content: String,
    /// `complete`, `partial`, `failed` or `cancelled`.
    #[schema(example = "complete")]
    pub status: &'static str,
    /// Creation time.
    pub created_at: String,
    /// Tokens used (assistant messages).
    pub usage: Option<TokenUsageBody>,
}

impl From<delegate_core::chat::Message> for MessageBody {
    fn from(m: delegate_core::chat::Message) -> Self {
        Self {
            id: m.id.to_string(),
            session_id: m.session_id.to_string(),
            role: m.role.as_str(),
            content: m.content,
            status: m.status.as_str(),
            created_at: time(m.created_at),
            usage: m.usage.map(Into::into),
        }
    }
}

/// A page of chat sessions.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatSessionPage {
    /// Newest first.
    pub items: Vec<ChatSessionBody>,
    /// The next page's cursor, or null.
    pub next_cursor: Option<String>,
}

/// A page of messages.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessagePage {
    /// Oldest first.
    pub items: Vec<MessageBody>,
    /// The next page's cursor, or null.
    pub next_cursor: Option<String>,
}

/// The answer to a message sent without streaming.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SentBody {
    /// The stored user message.
    pub user_message: MessageBody,
    /// The stored reply.
    pub assistant_message: MessageBody,
    /// Tokens the reply used.
    pub usage: Option<TokenUsageBody>,
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
}

impl From<delegate_core::usage::UsageReport> for UsageBody {
    fn from(r: delegate_core::usage::UsageReport) -> Self {
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
        }
    }
}

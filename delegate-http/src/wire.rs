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
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisterRequest {
    /// Email address (case-insensitive).
    pub email: String,
    /// 8–128 characters, not a common password.
    pub password: String,
    /// Display name (default: the email's local part).
    pub name: Option<String>,
    /// The signing-in device.
    pub device: Option<DeviceInput>,
}

/// POST /api/v1/auth/login
#[derive(Debug, Deserialize, ToSchema)]
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
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefreshRequest {
    /// The refresh token from the last login or refresh.
    pub refresh_token: String,
}

/// PATCH /api/v1/users/profile
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProfileUpdateRequest {
    /// New display name (1–100 characters).
    pub name: Option<String>,
    /// New avatar URL (http or https); `null` removes it, absent leaves it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
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
#[derive(Debug, Serialize, ToSchema)]
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
#[derive(Debug, Serialize, ToSchema)]
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
pub struct SessionListBody {
    /// The caller's alive sessions, newest first.
    pub items: Vec<LoginSessionBody>,
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

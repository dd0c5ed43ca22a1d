//! Bodies of /api/v1/auth: sign-up, sign-in, refresh, password change, and the login
//! sessions (devices) of the caller.

use super::time;
use super::users::UserBody;
use delegate_core::{DeviceInfo, LoginSession, LoginSessionId, TokenPair};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

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
pub struct LoginSessionPage {
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

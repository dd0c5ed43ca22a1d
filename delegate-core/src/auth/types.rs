//! What the auth service takes and returns: registrations and sign-in attempts (whose
//! `Debug` never prints a password), token pairs (never printed either), the signed-in
//! result, and the verified caller of a request.

use super::login_session::{DeviceInfo, LoginSession};
use crate::ids::{LoginSessionId, UserId};
use crate::users::{Role, Tier, User};
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// A request to create an account. `Debug` never prints the password.
#[derive(Clone)]
pub struct Registration {
    pub(crate) email: String,
    pub(crate) password: String,
    pub(crate) name: Option<String>,
    pub(crate) device: DeviceInfo,
}

impl Registration {
    /// Registration with an email and password.
    pub fn new(email: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            email: email.into(),
            password: password.into(),
            name: None,
            device: DeviceInfo::default(),
        }
    }

    /// Sets the display name (default: the email's local part).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the device that signs in.
    pub fn with_device(mut self, device: DeviceInfo) -> Self {
        self.device = device;
        self
    }
}

/// A sign-in attempt. `Debug` never prints the password.
#[derive(Clone)]
pub struct Credentials {
    pub(crate) email: String,
    pub(crate) password: String,
    pub(crate) device: DeviceInfo,
}

impl Credentials {
    /// Credentials with an email and password.
    pub fn new(email: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            email: email.into(),
            password: password.into(),
            device: DeviceInfo::default(),
        }
    }

    /// Sets the device that signs in.
    pub fn with_device(mut self, device: DeviceInfo) -> Self {
        self.device = device;
        self
    }
}

/// A fresh access token and refresh token. `Debug` never prints the tokens.
#[derive(Clone)]
pub struct TokenPair {
    /// The bearer token for requests.
    pub access_token: String,
    /// The single-use refresh token.
    pub refresh_token: String,
    /// Access-token lifetime in seconds.
    pub expires_in: u64,
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("email", &self.email)
            .field("password", &"[redacted]")
            .field("name", &self.name)
            .field("device", &self.device)
            .finish()
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("email", &self.email)
            .field("password", &"[redacted]")
            .field("device", &self.device)
            .finish()
    }
}

impl std::fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenPair")
            .field("access_token", &"[redacted]")
            .field("refresh_token", &"[redacted]")
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// The result of registering or signing in.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The account.
    pub user: User,
    /// The new login session.
    pub session: LoginSession,
    /// Its tokens.
    pub tokens: TokenPair,
}

/// A verified caller: what a valid access token for a live session says.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthContext {
    /// The user.
    pub user_id: UserId,
    /// The login session.
    pub session_id: LoginSessionId,
    /// The token's id.
    pub jti: String,
    /// The user's tier now.
    pub tier: Tier,
    /// The user's role now.
    pub role: Role,
    /// When the token expires.
    pub expires_at: DateTime<Utc>,
    /// The account as read when the token was verified (from the profile cache), so that a
    /// request reads it once.
    pub profile: Arc<User>,
}

//! Revocation events carried over the event bus so that every instance's guard learns them.

use crate::ids::LoginSessionId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The bus topic auth events travel on.
pub const AUTH_TOPIC: &str = "auth";

/// Something every instance must apply to its in-process guard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AuthEvent {
    /// These login sessions were revoked.
    SessionsRevoked {
        /// The revoked sessions.
        ids: Vec<LoginSessionId>,
    },
    /// This access token id is denied until `expires_at`.
    TokenDenied {
        /// The denied `jti`.
        jti: String,
        /// When the token expires anyway.
        expires_at: DateTime<Utc>,
    },
}

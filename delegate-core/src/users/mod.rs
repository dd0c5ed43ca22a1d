//! User accounts: the domain type, tiers and roles, the store trait and the users service.

pub(crate) mod service;
mod store;

pub use service::{MAX_PREFERENCES_BYTES, UsersService};
pub use store::{ProfileChange, UserCredentials, UserQuery, UserStore, email_taken, last_admin};

use crate::ids::UserId;
use chrono::{DateTime, Utc};

/// A usage tier; decides quotas. Not settable by users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// The default tier.
    #[default]
    Free,
    /// Paid tier.
    Pro,
    /// Organisation tier.
    Enterprise,
}

/// What a user may do. Not settable by users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// An ordinary user.
    #[default]
    User,
    /// An operator with access to admin routes.
    Admin,
}

crate::text_enum::text_enum!(
    Tier,
    "tier",
    Free = "free",
    Pro = "pro",
    Enterprise = "enterprise"
);
crate::text_enum::text_enum!(Role, "role", User = "user", Admin = "admin");

/// A user account, as every frontend sees it (never carries the password hash). The serde
/// form is the cache format (`user:{id}`), not a wire type.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct User {
    /// The account id.
    pub id: UserId,
    /// Normalised (trimmed, lowercased) email.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Usage tier.
    pub tier: Tier,
    /// Role.
    pub role: Role,
    /// Free-form client preferences (a JSON object).
    pub preferences: serde_json::Value,
    /// Avatar URL, if any.
    pub avatar_url: Option<String>,
    /// Set by an operator: a disabled account cannot sign in, refresh or use its tokens.
    #[serde(default)]
    pub disabled: bool,
    /// When the account was created.
    pub created_at: DateTime<Utc>,
    /// When the account last changed.
    pub updated_at: DateTime<Utc>,
}

impl User {
    /// A new free-tier user with empty preferences, created at `now`.
    pub fn new(email: impl Into<String>, name: impl Into<String>, now: DateTime<Utc>) -> Self {
        Self {
            id: UserId::new(),
            email: email.into(),
            name: name.into(),
            tier: Tier::Free,
            role: Role::User,
            preferences: serde_json::Value::Object(Default::default()),
            avatar_url: None,
            disabled: false,
            created_at: now,
            updated_at: now,
        }
    }

    /// The same user with another role.
    pub fn with_role(mut self, role: Role) -> Self {
        self.role = role;
        self
    }

    /// The same user with another tier.
    pub fn with_tier(mut self, tier: Tier) -> Self {
        self.tier = tier;
        self
    }
}

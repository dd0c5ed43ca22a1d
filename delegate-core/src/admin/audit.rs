//! The audit trail's domain: what an event records, its kinds, how it is queried, and the
//! `AuditStore` backend trait (append-only rows in the relational store).

use crate::error::Result;
use crate::ids::{AuditEventId, UserId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditKind {
    /// A login with a wrong password (or for an unknown or disabled account).
    LoginFailed,
    /// Repeated failures locked an account's logins from one client for a while.
    LoginLocked,
    /// A spent refresh token was presented again; its family and login session were killed.
    RefreshReused,
    /// A user changed their password.
    PasswordChanged,
    /// Login sessions were revoked (sign-out everywhere, one device, or by an operator).
    SessionsRevoked,
    /// An account was created by an operator (the CLI, an import, demo data).
    UserCreated,
    /// An operator disabled an account.
    UserDisabled,
    /// An operator enabled an account again.
    UserEnabled,
    /// An operator changed an account's role.
    RoleChanged,
    /// An operator changed an account's tier.
    TierChanged,
    /// An operator deleted an account and everything it owned.
    UserDeleted,
    /// An operator cleared cache entries.
    CacheCleared,
    /// An operator ran the cleanup of ended login sessions.
    SessionsCleaned,
}

crate::text_enum::text_enum!(
    AuditKind,
    "kind",
    LoginFailed = "login.failed",
    LoginLocked = "login.locked",
    RefreshReused = "refresh.reused",
    PasswordChanged = "password.changed",
    SessionsRevoked = "sessions.revoked",
    UserCreated = "user.created",
    UserDisabled = "user.disabled",
    UserEnabled = "user.enabled",
    RoleChanged = "user.role_changed",
    TierChanged = "user.tier_changed",
    UserDeleted = "user.deleted",
    CacheCleared = "cache.cleared",
    SessionsCleaned = "sessions.cleanup",
);

impl AuditKind {
    /// Every kind.
    pub const ALL: [AuditKind; 13] = [
        AuditKind::LoginFailed,
        AuditKind::LoginLocked,
        AuditKind::RefreshReused,
        AuditKind::PasswordChanged,
        AuditKind::SessionsRevoked,
        AuditKind::UserCreated,
        AuditKind::UserDisabled,
        AuditKind::UserEnabled,
        AuditKind::RoleChanged,
        AuditKind::TierChanged,
        AuditKind::UserDeleted,
        AuditKind::CacheCleared,
        AuditKind::SessionsCleaned,
    ];

    /// Whether this is a security event (not an operator's action): these also go to the
    /// log at `warn` when they suggest an attack.
    pub fn is_alarming(&self) -> bool {
        matches!(self, AuditKind::LoginLocked | AuditKind::RefreshReused)
    }
}

/// Who caused an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditActor {
    /// A signed-in user (an admin, for admin actions).
    User(UserId),
    /// The operator at the machine (the CLI).
    Operator,
    /// Delegate itself (a timer).
    System,
    /// An unauthenticated client (a failed login).
    Anonymous,
}

impl AuditActor {
    /// The actor's kind as stored: `user`, `operator`, `system` or `anonymous`.
    pub fn kind(&self) -> &'static str {
        match self {
            AuditActor::User(_) => "user",
            AuditActor::Operator => "operator",
            AuditActor::System => "system",
            AuditActor::Anonymous => "anonymous",
        }
    }

    /// The user, for [`AuditActor::User`].
    pub fn user_id(&self) -> Option<UserId> {
        match self {
            AuditActor::User(id) => Some(*id),
            _ => None,
        }
    }

    /// The actor from its stored kind and user id.
    pub fn from_parts(kind: &str, user: Option<UserId>) -> Result<Self> {
        match (kind, user) {
            ("user", Some(id)) => Ok(AuditActor::User(id)),
            ("operator", _) => Ok(AuditActor::Operator),
            ("system", _) => Ok(AuditActor::System),
            ("anonymous", _) => Ok(AuditActor::Anonymous),
            _ => Err(crate::Error::internal(format!(
                "stored audit actor {kind:?} is not one Delegate writes"
            ))),
        }
    }
}

/// One entry of the audit trail. Never carries a password, token or email address.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    /// The event id (time-ordered).
    pub id: AuditEventId,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// What happened.
    pub kind: AuditKind,
    /// Who did it.
    pub actor: AuditActor,
    /// The account it concerns, if any.
    pub target: Option<UserId>,
    /// The client's IP address, when known.
    pub ip: Option<String>,
    /// Details: before/after values, counts, the session concerned (a JSON object).
    pub detail: serde_json::Value,
}

impl AuditEvent {
    /// An event of `kind` by `actor` at `at`, with no target, IP or detail yet.
    pub fn new(kind: AuditKind, actor: AuditActor, at: DateTime<Utc>) -> Self {
        Self {
            id: AuditEventId::new(),
            at,
            kind,
            actor,
            target: None,
            ip: None,
            detail: serde_json::Value::Object(Default::default()),
        }
    }

    /// The same event about `target`.
    pub fn with_target(mut self, target: UserId) -> Self {
        self.target = Some(target);
        self
    }

    /// The same event from the client at `ip`.
    pub fn with_ip(mut self, ip: Option<String>) -> Self {
        self.ip = ip;
        self
    }

    /// The same event with `detail` (a JSON object).
    pub fn with_detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = detail;
        self
    }
}

/// Which events [`AuditStore::query`] returns, newest first: every set field must match.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditQuery {
    /// Events by or about this user.
    pub user: Option<UserId>,
    /// Only this kind.
    pub kind: Option<AuditKind>,
    /// At or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Before this time.
    pub to: Option<DateTime<Utc>>,
    /// Only events older than this one (the previous page's last).
    pub before: Option<AuditEventId>,
    /// The most events to return.
    pub limit: u32,
}

impl AuditQuery {
    /// The newest `limit` events of every kind.
    pub fn newest(limit: u32) -> Self {
        Self {
            user: None,
            kind: None,
            from: None,
            to: None,
            before: None,
            limit,
        }
    }

    /// Whether `event` matches the filters (not the paging): the reference every store
    /// agrees with.
    pub fn matches(&self, event: &AuditEvent) -> bool {
        self.user
            .is_none_or(|u| event.target == Some(u) || event.actor.user_id() == Some(u))
            && self.kind.is_none_or(|k| event.kind == k)
            && self.from.is_none_or(|from| event.at >= from)
            && self.to.is_none_or(|to| event.at < to)
    }
}

/// Durable, append-only storage of audit events.
#[async_trait]
pub trait AuditStore: Send + Sync + 'static {
    /// Appends events; an id already stored is skipped (a retried batch appends once).
    async fn append(&self, events: &[AuditEvent]) -> Result<()>;
    /// Up to `query.limit` events matching `query`, newest (highest id) first.
    async fn query(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>>;
    /// Deletes events from before `before` (retention); returns how many.
    async fn purge_before(&self, before: DateTime<Utc>) -> Result<u64>;
}

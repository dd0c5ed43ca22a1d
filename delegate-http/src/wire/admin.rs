//! Bodies of /api/v1/admin: accounts as operators see them, the audit trail, cache stats and
//! clearing, and the cleanup report.

use super::{UsageBody, UserBody, time};
use delegate_core::admin::{AuditActor, AuditEvent, CacheStatsReport, UserDetail};
use delegate_core::cache::stats::{LayerReport, NamespaceReport};
use delegate_core::{CleanupReport, Role, Tier, User};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

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
    /// Audit events past their retention removed.
    pub audit_events: u64,
}

impl From<CleanupReport> for CleanupBody {
    fn from(r: CleanupReport) -> Self {
        Self {
            removed: r.total(),
            sessions: r.sessions,
            refresh_tokens: r.refresh_tokens,
            denials: r.denials,
            audit_events: r.audit_events,
        }
    }
}

/// An account as operators see it: the user, whether it is disabled, when it last changed.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminUserBody {
    /// The user as clients see it.
    #[serde(flatten)]
    pub user: UserBody,
    /// Disabled accounts cannot sign in, refresh or use their tokens.
    pub disabled: bool,
    /// RFC 3339 UTC.
    pub updated_at: String,
}

impl From<User> for AdminUserBody {
    fn from(u: User) -> Self {
        let (disabled, updated_at) = (u.disabled, time(u.updated_at));
        Self {
            user: u.into(),
            disabled,
            updated_at,
        }
    }
}

/// GET /api/v1/admin/users
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminUserPage {
    /// Accounts in id (creation) order.
    pub items: Vec<AdminUserBody>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// GET /api/v1/admin/users/{id}
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminUserDetailBody {
    /// The account.
    #[serde(flatten)]
    pub account: AdminUserBody,
    /// Usage this period against the tier's quota.
    pub usage: UsageBody,
    /// Login sessions alive now.
    pub live_sessions: u64,
}

impl From<UserDetail> for AdminUserDetailBody {
    fn from(d: UserDetail) -> Self {
        Self {
            account: d.user.into(),
            usage: d.usage.into(),
            live_sessions: d.live_sessions,
        }
    }
}

/// Query of GET /api/v1/admin/users.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserSearchQuery {
    /// A prefix of the email or name (ASCII case-insensitive).
    #[param(max_length = 254)]
    pub q: Option<String>,
    /// `free`, `pro` or `enterprise`.
    #[param(value_type = Option<String>, pattern = "^(free|pro|enterprise)$")]
    pub tier: Option<Tier>,
    /// `user` or `admin`.
    #[param(value_type = Option<String>, pattern = "^(user|admin)$")]
    pub role: Option<Role>,
    /// Only disabled (`true`) or enabled (`false`) accounts.
    pub disabled: Option<bool>,
    /// Page size, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// The `nextCursor` of the previous page.
    #[param(format = Uuid)]
    pub cursor: Option<String>,
}

/// PATCH /api/v1/admin/users/{id}: absent fields are left as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccountChangeRequest {
    /// `free`, `pro` or `enterprise`.
    #[schema(value_type = Option<String>, pattern = "^(free|pro|enterprise)$")]
    pub tier: Option<Tier>,
    /// `user` or `admin`. Neither the caller's own account (409 `own_account`) nor the last
    /// enabled admin (409 `last_admin`) can be demoted.
    #[schema(value_type = Option<String>, pattern = "^(user|admin)$")]
    pub role: Option<Role>,
    /// `true` disables the account and ends its login sessions at once; `false` enables it.
    /// The last enabled admin cannot be disabled (409 `last_admin`).
    pub disabled: Option<bool>,
}

/// Query of GET /api/v1/admin/audit.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct AuditListQuery {
    /// Events by or about this user (UUID).
    #[param(format = Uuid)]
    pub user_id: Option<String>,
    /// One kind (empty: all).
    #[param(
        pattern = r"^(|login\.failed|login\.locked|refresh\.reused|password\.changed|sessions\.revoked|user\.created|user\.disabled|user\.enabled|user\.role_changed|user\.tier_changed|user\.deleted|cache\.cleared|sessions\.cleanup)$"
    )]
    pub kind: Option<String>,
    /// At or after this time (RFC 3339).
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// Before this time (RFC 3339).
    #[param(format = DateTime)]
    pub to: Option<String>,
    /// Page size, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// The `nextCursor` of the previous page.
    #[param(format = Uuid)]
    pub cursor: Option<String>,
}

/// Who caused an audit event.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditActorBody {
    /// `user`, `operator` (the CLI), `system` or `anonymous`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The user, when `type` is `user`.
    pub user_id: Option<String>,
}

impl From<AuditActor> for AuditActorBody {
    fn from(a: AuditActor) -> Self {
        Self {
            kind: a.kind().to_owned(),
            user_id: a.user_id().map(|u| u.to_string()),
        }
    }
}

/// One audit event.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEventBody {
    /// Event id (UUID, time-ordered).
    pub id: String,
    /// RFC 3339 UTC.
    pub at: String,
    /// What happened, e.g. `login.failed`, `user.disabled`.
    pub kind: String,
    /// Who did it.
    pub actor: AuditActorBody,
    /// The account it concerns.
    pub target_user_id: Option<String>,
    /// The client's IP, when known.
    pub ip: Option<String>,
    /// Details: before/after, counts (never a password, token or email).
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

impl From<AuditEvent> for AuditEventBody {
    fn from(e: AuditEvent) -> Self {
        Self {
            id: e.id.to_string(),
            at: time(e.at),
            kind: e.kind.as_str().to_owned(),
            actor: e.actor.into(),
            target_user_id: e.target.map(|u| u.to_string()),
            ip: e.ip,
            detail: e.detail,
        }
    }
}

/// GET /api/v1/admin/audit
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditPage {
    /// Newest first.
    pub items: Vec<AuditEventBody>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// One namespace of one cache layer.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CacheNamespaceBody {
    /// The namespace (`user`, `chat_sessions`, …).
    pub namespace: String,
    /// Entries held now (when the layer counts them).
    pub entries: Option<u64>,
    /// Bytes held now (when the layer measures them).
    pub bytes: Option<u64>,
    /// Reads that found an entry (this instance, since it started).
    pub hits: u64,
    /// Reads that found none (this instance, since it started).
    pub misses: u64,
    /// hits / (hits + misses), `null` before any read.
    pub hit_rate: Option<f64>,
}

impl From<NamespaceReport> for CacheNamespaceBody {
    fn from(n: NamespaceReport) -> Self {
        let reads = n.hits + n.misses;
        Self {
            hit_rate: (reads > 0).then(|| n.hits as f64 / reads as f64),
            namespace: n.namespace,
            entries: n.entries,
            bytes: n.bytes,
            hits: n.hits,
            misses: n.misses,
        }
    }
}

/// One cache layer.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CacheLayerBody {
    /// `in_process` or `redis`.
    pub layer: String,
    /// Per namespace.
    pub namespaces: Vec<CacheNamespaceBody>,
    /// True when sizes come from a scan that stopped early (a very large keyspace).
    pub truncated: bool,
}

impl From<LayerReport> for CacheLayerBody {
    fn from(l: LayerReport) -> Self {
        Self {
            layer: l.layer.name().to_owned(),
            namespaces: l.namespaces.into_iter().map(Into::into).collect(),
            truncated: l.truncated,
        }
    }
}

/// GET /api/v1/admin/cache/stats
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CacheStatsBody {
    /// In-process first, then Redis when configured.
    pub layers: Vec<CacheLayerBody>,
}

impl From<CacheStatsReport> for CacheStatsBody {
    fn from(r: CacheStatsReport) -> Self {
        Self {
            layers: r.layers.into_iter().map(Into::into).collect(),
        }
    }
}

/// POST /api/v1/admin/cache/clear
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CacheClearRequest {
    /// Keys to remove, `*` matching any run of characters (`user:*`, `*`).
    #[schema(min_length = 1, max_length = 200, pattern = r"^[A-Za-z0-9:_.*{}-]+$")]
    pub pattern: String,
}

/// POST /api/v1/admin/notify
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotifyRequest {
    /// Whose connections get it.
    #[schema(format = Uuid)]
    pub user_id: String,
    /// The event type: `app.` then letters, digits, `.`, `_` or `-`.
    #[serde(rename = "type")]
    #[schema(pattern = r"^app\.[A-Za-z0-9._-]{1,64}$")]
    pub kind: String,
    /// The event's data: a JSON object of at most 16 KiB (default `{}`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub data: Option<serde_json::Map<String, serde_json::Value>>,
}

/// The number the event got in the user's stream.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotifiedBody {
    /// Its `seq`.
    pub seq: u64,
}

/// What a cache clear removed.
#[derive(Debug, Serialize, ToSchema)]
pub struct CacheClearBody {
    /// Entries removed.
    pub removed: u64,
}

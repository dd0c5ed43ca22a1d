//! Account administration: search, inspect, change tier/role/disabled, sign out everywhere,
//! delete — each audited, each reaching every instance at once.

use super::{Actor, AdminService, AuditEvent, AuditKind};
use crate::auth::LoginSessionStore as _;
use crate::error::{Error, Result};
use crate::ids::UserId;
use crate::paging::{Page, check_limit, page};
use crate::usage::UsageReport;
use crate::users::{Role, Tier, User, UserQuery};

/// An account as an operator sees it.
#[derive(Debug, Clone)]
pub struct UserDetail {
    /// The account.
    pub user: User,
    /// Its usage this period against its tier's quota.
    pub usage: UsageReport,
    /// How many login sessions are alive.
    pub live_sessions: u64,
}

/// What an operator changes on an account; `None` leaves a field as it is.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AccountChange {
    /// The new tier.
    pub tier: Option<Tier>,
    /// The new role.
    pub role: Option<Role>,
    /// Disable (`true`) or enable (`false`).
    pub disabled: Option<bool>,
}

impl AdminService {
    /// A page of accounts matching `query` (`limit` 1–100), in id order.
    pub async fn search_users(&self, actor: &Actor, query: UserQuery) -> Result<Page<User>> {
        Self::authorize(actor)?;
        let limit = check_limit(query.limit)?;
        let items = self.users.search(query).await?;
        Ok(page(items, limit, |u| u.id.to_string()))
    }

    /// An account with its usage and live login sessions.
    pub async fn user(&self, actor: &Actor, id: UserId) -> Result<UserDetail> {
        Self::authorize(actor)?;
        let user = self.fresh(id).await?;
        let usage = self.usage.report_for(user.id, user.tier).await?;
        let live_sessions = self.core.sessions.list_alive(id, self.now()).await?.len() as u64;
        Ok(UserDetail {
            user,
            usage,
            live_sessions,
        })
    }

    /// Applies `change`: disabling first (which also ends every login session at once, on
    /// every instance), then the role, then the tier. Refuses, with a conflict, to demote or
    /// disable the last enabled admin, and an admin's demoting or disabling of their own
    /// account (`own_account`: another admin or the operator must). Each change is audited
    /// with its before and after.
    pub async fn change_user(
        &self,
        actor: &Actor,
        id: UserId,
        change: AccountChange,
    ) -> Result<User> {
        Self::authorize(actor)?;
        if change.disabled == Some(true) || change.role == Some(Role::User) {
            refuse_own_account(actor, id)?;
        }
        let mut user = self.fresh(id).await?;
        if let Some(disabled) = change.disabled.filter(|d| *d != user.disabled) {
            user = self.users.set_disabled(id, disabled).await?;
            let kind = if disabled {
                AuditKind::UserDisabled
            } else {
                AuditKind::UserEnabled
            };
            let mut detail = serde_json::json!({ "before": !disabled, "after": disabled });
            if disabled {
                detail["revokedSessions"] = self.end_all_sessions(id).await?.into();
            }
            self.record(self.event(kind, actor, id).with_detail(detail))
                .await;
        }
        if let Some(role) = change.role.filter(|r| *r != user.role) {
            let before = user.role;
            user = self.users.set_role(id, role).await?;
            self.record(self.event(AuditKind::RoleChanged, actor, id).with_detail(
                serde_json::json!({ "before": before.as_str(), "after": role.as_str() }),
            ))
            .await;
        }
        if let Some(tier) = change.tier.filter(|t| *t != user.tier) {
            let before = user.tier;
            user = self.users.set_tier(id, tier).await?;
            self.record(self.event(AuditKind::TierChanged, actor, id).with_detail(
                serde_json::json!({ "before": before.as_str(), "after": tier.as_str() }),
            ))
            .await;
        }
        Ok(user)
    }

    /// Ends every login session of the account at once, on every instance; returns how many
    /// were alive.
    pub async fn logout_user(&self, actor: &Actor, id: UserId) -> Result<u64> {
        Self::authorize(actor)?;
        self.fresh(id).await?;
        let revoked = self.end_all_sessions(id).await?;
        self.core
            .record_revoked(actor.audit_actor(), id, revoked, None);
        self.core.audit.flush(super::DURABLE_WITHIN).await;
        Ok(revoked)
    }

    /// Deletes the account and everything it owns (login sessions, refresh tokens, chats,
    /// messages, usage); its tokens stop working at once everywhere. The last enabled admin
    /// cannot be deleted, and an admin cannot delete their own account (`own_account`). The
    /// audit trail keeps the account's id, not its email.
    pub async fn delete_user(&self, actor: &Actor, id: UserId) -> Result<()> {
        Self::authorize(actor)?;
        refuse_own_account(actor, id)?;
        let user = self.fresh(id).await?;
        if user.role == Role::Admin && !user.disabled {
            // Refused up front (the store refuses too), so no session is ended for nothing.
            let others = UserQuery {
                role: Some(Role::Admin),
                disabled: Some(false),
                ..UserQuery::all(2)
            };
            if self.users.search(others).await?.len() < 2 {
                return Err(crate::users::last_admin());
            }
        }
        let revoked = self.end_all_sessions(id).await?;
        self.users.delete(id).await?;
        self.usage.forget(id).await;
        self.record(self.event(AuditKind::UserDeleted, actor, id).with_detail(
            serde_json::json!({ "revokedSessions": revoked, "tier": user.tier.as_str() }),
        ))
        .await;
        Ok(())
    }

    /// Records that an account was created by `actor` (the CLI, an import, demo data).
    pub async fn record_created(&self, actor: &Actor, user: &User, how: &str) {
        self.record(
            self.event(AuditKind::UserCreated, actor, user.id)
                .with_detail(serde_json::json!({ "via": how, "role": user.role.as_str(), "tier": user.tier.as_str() })),
        )
        .await;
    }

    /// The account as the store has it now (not the profile cache).
    async fn fresh(&self, id: UserId) -> Result<User> {
        self.core
            .users
            .get(id)
            .await?
            .ok_or(Error::NotFound("user"))
    }

    async fn end_all_sessions(&self, id: UserId) -> Result<u64> {
        let ids = self.core.sessions.revoke_all(id, self.now()).await?;
        self.core.revoke_sessions(&ids).await?;
        Ok(ids.len() as u64)
    }

    fn event(&self, kind: AuditKind, actor: &Actor, target: UserId) -> AuditEvent {
        AuditEvent::new(kind, actor.audit_actor(), self.now()).with_target(target)
    }
}

/// An admin cannot lock themselves out (disable, demote or delete their own account): another
/// admin or the operator must.
fn refuse_own_account(actor: &Actor, id: UserId) -> Result<()> {
    match actor {
        Actor::Caller(caller) if caller.user_id == id => Err(Error::Conflict {
            code: "own_account",
            message: "admins cannot disable, demote or delete their own account; ask another \
                      admin, or use the delegate CLI"
                .to_owned(),
        }),
        _ => Ok(()),
    }
}

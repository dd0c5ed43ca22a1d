//! `d.admin`: the operator actions of core, each taken by an actor: an admin `Caller`, or
//! `delegate.OPERATOR` (the host process itself, trusted as the CLI is for holding the
//! store's credentials). Every action is checked (403 `Forbidden` for a non-admin caller) and
//! audited as the HTTP admin API's are.

use crate::bridge::spawn;
use crate::error::to_py;
use crate::types::{
    AuditEvent, AuditPage, CacheLayer, Caller, Cleanup, Usage, User, UserDetail, UserPage,
};
use chrono::{DateTime, Utc};
use delegate_core::admin::{AccountChange, Actor, AuditKind, AuditQuery};
use delegate_core::users::UserQuery;
use delegate_core::{AuditEventId, Delegate, Error, Role, Tier, UserId};
use pyo3::prelude::*;

/// The host process acting as the operator (`delegate.OPERATOR`).
#[pyclass(frozen, module = "delegate")]
pub(crate) struct Operator;

#[pymethods]
impl Operator {
    fn __repr__(&self) -> &'static str {
        "delegate.OPERATOR"
    }
}

/// Who acts: an admin caller or the operator.
#[derive(FromPyObject)]
pub(crate) enum ActorArg<'py> {
    Caller(PyRef<'py, Caller>),
    // Held only so that extraction checks the argument is `delegate.OPERATOR`.
    #[allow(dead_code)]
    Operator(PyRef<'py, Operator>),
}

impl ActorArg<'_> {
    fn actor(&self) -> Actor {
        match self {
            Self::Caller(caller) => Actor::Caller(caller.context.clone()),
            Self::Operator(_) => Actor::Operator,
        }
    }
}

fn user_id(id: &str) -> PyResult<UserId> {
    UserId::parse(id).map_err(|_| to_py(Error::NotFound("user")))
}

fn parsed<T: std::str::FromStr<Err = Error>>(value: Option<&str>) -> PyResult<Option<T>> {
    value.map(|v| v.parse::<T>().map_err(to_py)).transpose()
}

/// Operator actions.
#[pyclass(frozen, module = "delegate")]
pub(crate) struct Admin {
    pub(crate) core: Delegate,
}

#[pymethods]
impl Admin {
    /// A page of accounts (email or name prefix `q`, tier, role, disabled), in id order.
    #[pyo3(signature = (actor, *, q = None, tier = None, role = None, disabled = None, cursor = None, limit = 20))]
    #[allow(clippy::too_many_arguments)]
    fn users<'py>(
        &self,
        py: Python<'py>,
        actor: ActorArg<'py>,
        q: Option<String>,
        tier: Option<&str>,
        role: Option<&str>,
        disabled: Option<bool>,
        cursor: Option<&str>,
        limit: u32,
    ) -> PyResult<Bound<'py, PyAny>> {
        let query = UserQuery {
            prefix: q,
            tier: parsed::<Tier>(tier)?,
            role: parsed::<Role>(role)?,
            disabled,
            after: cursor.map(user_id).transpose()?,
            limit,
        };
        let (admin, actor) = (self.core.admin(), actor.actor());
        spawn(py, async move {
            let page = admin.search_users(&actor, query).await.map_err(to_py)?;
            Ok(UserPage {
                items: page.items.iter().map(User::from).collect(),
                next_cursor: page.next_cursor,
            })
        })
    }

    /// One account with its usage and live login sessions.
    fn user<'py>(
        &self,
        py: Python<'py>,
        actor: ActorArg<'py>,
        id: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (admin, actor, id) = (self.core.admin(), actor.actor(), user_id(id)?);
        spawn(py, async move {
            let detail = admin.user(&actor, id).await.map_err(to_py)?;
            Ok(UserDetail {
                user: User::from(&detail.user),
                usage: Usage::from(detail.usage),
                live_sessions: detail.live_sessions,
            })
        })
    }

    /// Changes an account's tier, role or disabled flag (disabling ends its sessions at
    /// once); `Conflict` for the last enabled admin.
    #[pyo3(signature = (actor, id, *, tier = None, role = None, disabled = None))]
    fn change_user<'py>(
        &self,
        py: Python<'py>,
        actor: ActorArg<'py>,
        id: &str,
        tier: Option<&str>,
        role: Option<&str>,
        disabled: Option<bool>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let change = AccountChange {
            tier: parsed::<Tier>(tier)?,
            role: parsed::<Role>(role)?,
            disabled,
        };
        let (admin, actor, id) = (self.core.admin(), actor.actor(), user_id(id)?);
        spawn(py, async move {
            let user = admin.change_user(&actor, id, change).await.map_err(to_py)?;
            Ok(User::from(&user))
        })
    }

    /// Ends every login session of an account; how many were live.
    fn logout_user<'py>(
        &self,
        py: Python<'py>,
        actor: ActorArg<'py>,
        id: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (admin, actor, id) = (self.core.admin(), actor.actor(), user_id(id)?);
        spawn(py, async move {
            admin.logout_user(&actor, id).await.map_err(to_py)
        })
    }

    /// Deletes an account and everything it owns (the audit trail keeps its id).
    fn delete_user<'py>(
        &self,
        py: Python<'py>,
        actor: ActorArg<'py>,
        id: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (admin, actor, id) = (self.core.admin(), actor.actor(), user_id(id)?);
        spawn(py, async move {
            admin.delete_user(&actor, id).await.map_err(to_py)
        })
    }

    /// What the cache holds and how it was used, per layer (in-process first) and namespace.
    fn cache_stats<'py>(
        &self,
        py: Python<'py>,
        actor: ActorArg<'py>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (admin, actor) = (self.core.admin(), actor.actor());
        spawn(py, async move {
            let report = admin.cache_stats(&actor).await.map_err(to_py)?;
            Ok(report
                .layers
                .iter()
                .map(CacheLayer::from)
                .collect::<Vec<_>>())
        })
    }

    /// Removes the cache entries matching `pattern` (`user:*`, `*`), on every instance; how
    /// many.
    fn clear_cache<'py>(
        &self,
        py: Python<'py>,
        actor: ActorArg<'py>,
        pattern: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (admin, actor) = (self.core.admin(), actor.actor());
        spawn(py, async move {
            let report = admin.clear_cache(&actor, &pattern).await.map_err(to_py)?;
            Ok(report.removed)
        })
    }

    /// Deletes ended login sessions, spent refresh families, ended denials and old audit
    /// events.
    fn cleanup<'py>(&self, py: Python<'py>, actor: ActorArg<'py>) -> PyResult<Bound<'py, PyAny>> {
        let (admin, actor) = (self.core.admin(), actor.actor());
        spawn(py, async move {
            let report = admin.cleanup_login_sessions(&actor).await.map_err(to_py)?;
            Ok(Cleanup {
                sessions: report.sessions,
                refresh_tokens: report.refresh_tokens,
                denials: report.denials,
                audit_events: report.audit_events,
            })
        })
    }

    /// The audit trail, newest first, filtered by user, kind and time.
    #[pyo3(signature = (actor, *, user_id = None, kind = None, since = None, until = None, cursor = None, limit = 20))]
    #[allow(clippy::too_many_arguments)]
    fn audit<'py>(
        &self,
        py: Python<'py>,
        actor: ActorArg<'py>,
        user_id: Option<&str>,
        kind: Option<&str>,
        since: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
        cursor: Option<&str>,
        limit: u32,
    ) -> PyResult<Bound<'py, PyAny>> {
        let query = AuditQuery {
            user: user_id.map(self::user_id).transpose()?,
            kind: parsed::<AuditKind>(kind)?,
            from: since,
            to: until,
            before: cursor
                .map(|c| {
                    AuditEventId::parse(c).map_err(|_| {
                        to_py(Error::invalid("cursor", "is not a cursor this API gave"))
                    })
                })
                .transpose()?,
            limit,
        };
        let (admin, actor) = (self.core.admin(), actor.actor());
        spawn(py, async move {
            let page = admin.audit(&actor, query).await.map_err(to_py)?;
            Ok(AuditPage {
                items: page.items.iter().map(AuditEvent::from).collect(),
                next_cursor: page.next_cursor,
            })
        })
    }
}

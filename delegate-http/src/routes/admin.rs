//! /api/v1/admin: operator actions for callers with the admin role (accounts, the audit
//! trail, cache, cleanup), and which paths are admin paths: on each of them, in any case and
//! with or without a trailing slash, `crate::gate` answers 401/403 before the router's 404.

use super::DEFAULT_LIMIT;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery, query_time};
use crate::wire::{
    AccountChangeRequest, AdminUserBody, AdminUserDetailBody, AdminUserPage, AuditListQuery,
    AuditPage, CacheClearBody, CacheClearRequest, CacheStatsBody, CleanupBody, NotifiedBody,
    NotifyRequest, RevokedBody, UserSearchQuery,
};
use axum::Router;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use delegate_core::admin::{AccountChange, Actor, AuditKind, AuditQuery};
use delegate_core::paging::parse_cursor;
use delegate_core::users::UserQuery;
use delegate_core::{AuthContext, Delegate, Error, UserId};

pub(crate) fn routes() -> Router<Delegate> {
    Router::new()
        .route(
            "/api/v1/admin/sessions/cleanup",
            get(cleanup_login_sessions).post(cleanup_login_sessions),
        )
        .route("/api/v1/admin/users", get(list_users))
        .route(
            "/api/v1/admin/users/{id}",
            get(show_user).patch(change_user).delete(delete_user),
        )
        .route("/api/v1/admin/users/{id}/logout-all", post(logout_user))
        .route("/api/v1/admin/audit", get(audit))
        .route("/api/v1/admin/cache/stats", get(cache_stats))
        .route("/api/v1/admin/cache/clear", post(clear_cache))
        .route("/api/v1/admin/notify", post(notify))
}

/// Send an application event (`app.*`) to every live connection of a user, on every
/// instance: numbered in the user's stream, so a reconnecting client replays it.
#[utoipa::path(post, path = "/api/v1/admin/notify", tag = "admin", security(("bearer" = [])),
    request_body = NotifyRequest,
    responses(
        (status = 200, description = "Published; its number in the user's stream", body = NotifiedBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 422, description = "A type that is not app.*, or data over 16 KiB", body = ErrorBody),
    ))]
pub(crate) async fn notify(
    State(delegate): State<Delegate>,
    ApiJson(body): ApiJson<NotifyRequest>,
) -> Result<ApiJson<NotifiedBody>, ApiError> {
    let user = UserId::parse(&body.user_id).map_err(|_| Error::NotFound("user"))?;
    delegate.users().get(user).await?;
    let data = serde_json::Value::Object(body.data.unwrap_or_default());
    let seq = delegate
        .realtime()
        .publish_app(user, &body.kind, data)
        .await?;
    Ok(ApiJson(NotifiedBody { seq }))
}

/// A user id from the path; anything else is the same 404 as an unknown user.
fn user_id(id: &str) -> Result<UserId, ApiError> {
    UserId::parse(id).map_err(|_| Error::NotFound("user").into())
}

/// Whether `path` is under /api/v1/admin, in any case, with or without a trailing slash.
pub(crate) fn is_admin_path(path: &str) -> bool {
    const ADMIN: &str = "/api/v1/admin";
    let path = path.trim_end_matches('/');
    path.get(..ADMIN.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(ADMIN))
        && matches!(path.as_bytes().get(ADMIN.len()), None | Some(b'/'))
}

/// Delete expired and revoked login sessions, expired refresh families, ended denials and
/// audit events past their retention (also done on a timer:
/// `DELEGATE_AUTH__CLEANUP_INTERVAL_SECS`).
#[utoipa::path(method(get, post), path = "/api/v1/admin/sessions/cleanup", tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "What was removed", body = CleanupBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
    ))]
pub(crate) async fn cleanup_login_sessions(
    State(delegate): State<Delegate>,
    Extension(caller): Extension<AuthContext>,
) -> Result<ApiJson<CleanupBody>, ApiError> {
    let report = delegate
        .admin()
        .cleanup_login_sessions(&Actor::Caller(caller))
        .await?;
    Ok(ApiJson(report.into()))
}

/// Accounts, searched by email or name prefix and filtered by tier, role and disabled.
#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin", security(("bearer" = [])),
    params(UserSearchQuery),
    responses(
        (status = 200, description = "A page of accounts in id order", body = AdminUserPage),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 422, description = "Bad filter, limit or cursor", body = ErrorBody),
    ))]
pub(crate) async fn list_users(
    State(delegate): State<Delegate>,
    Extension(caller): Extension<AuthContext>,
    ApiQuery(query): ApiQuery<UserSearchQuery>,
) -> Result<ApiJson<AdminUserPage>, ApiError> {
    let after = query.cursor.as_deref().map(parse_cursor).transpose()?;
    let search = UserQuery {
        prefix: query.q.filter(|q| !q.is_empty()),
        tier: query.tier,
        role: query.role,
        disabled: query.disabled,
        after,
        limit: query.limit.unwrap_or(DEFAULT_LIMIT),
    };
    let page = delegate
        .admin()
        .search_users(&Actor::Caller(caller), search)
        .await?;
    Ok(ApiJson(AdminUserPage {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// One account with its usage this period and its live login sessions.
#[utoipa::path(get, path = "/api/v1/admin/users/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "User id (UUID)")),
    responses(
        (status = 200, description = "The account", body = AdminUserDetailBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
    ))]
pub(crate) async fn show_user(
    State(delegate): State<Delegate>,
    Extension(caller): Extension<AuthContext>,
    ApiPath(id): ApiPath<String>,
) -> Result<ApiJson<AdminUserDetailBody>, ApiError> {
    let detail = delegate
        .admin()
        .user(&Actor::Caller(caller), user_id(&id)?)
        .await?;
    Ok(ApiJson(detail.into()))
}

/// Change an account's tier, role or disabled flag; takes effect at once on every instance
/// (disabling also ends every login session). Audited with before and after.
#[utoipa::path(patch, path = "/api/v1/admin/users/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "User id (UUID)")),
    request_body = AccountChangeRequest,
    responses(
        (status = 200, description = "The account after the change", body = AdminUserBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 409, description = "It would demote or disable the caller's own account (`own_account`) or the last enabled admin (`last_admin`)", body = ErrorBody),
    ))]
pub(crate) async fn change_user(
    State(delegate): State<Delegate>,
    Extension(caller): Extension<AuthContext>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<AccountChangeRequest>,
) -> Result<ApiJson<AdminUserBody>, ApiError> {
    let change = AccountChange {
        tier: body.tier,
        role: body.role,
        disabled: body.disabled,
    };
    let user = delegate
        .admin()
        .change_user(&Actor::Caller(caller), user_id(&id)?, change)
        .await?;
    Ok(ApiJson(user.into()))
}

/// End every login session of an account, at once on every instance.
#[utoipa::path(post, path = "/api/v1/admin/users/{id}/logout-all", tag = "admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "User id (UUID)")),
    responses(
        (status = 200, description = "How many were alive", body = RevokedBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
    ))]
pub(crate) async fn logout_user(
    State(delegate): State<Delegate>,
    Extension(caller): Extension<AuthContext>,
    ApiPath(id): ApiPath<String>,
) -> Result<ApiJson<RevokedBody>, ApiError> {
    let revoked = delegate
        .admin()
        .logout_user(&Actor::Caller(caller), user_id(&id)?)
        .await?;
    Ok(ApiJson(RevokedBody { revoked }))
}

/// Delete an account and everything it owns (login sessions, chats, messages, usage).
#[utoipa::path(delete, path = "/api/v1/admin/users/{id}", tag = "admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "User id (UUID)")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 409, description = "The caller's own account (`own_account`) or the last enabled admin (`last_admin`)", body = ErrorBody),
    ))]
pub(crate) async fn delete_user(
    State(delegate): State<Delegate>,
    Extension(caller): Extension<AuthContext>,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    delegate
        .admin()
        .delete_user(&Actor::Caller(caller), user_id(&id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The audit trail, newest first: admin actions and security events.
#[utoipa::path(get, path = "/api/v1/admin/audit", tag = "admin", security(("bearer" = [])),
    params(AuditListQuery),
    responses(
        (status = 200, description = "A page of events", body = AuditPage),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 422, description = "Bad filter, limit or cursor", body = ErrorBody),
    ))]
pub(crate) async fn audit(
    State(delegate): State<Delegate>,
    Extension(caller): Extension<AuthContext>,
    ApiQuery(query): ApiQuery<AuditListQuery>,
) -> Result<ApiJson<AuditPage>, ApiError> {
    let user = query
        .user_id
        .as_deref()
        .map(|u| UserId::parse(u).map_err(|_| Error::invalid("userId", "must be a user id (UUID)")))
        .transpose()?;
    let before = query.cursor.as_deref().map(parse_cursor).transpose()?;
    let kind = query
        .kind
        .as_deref()
        .filter(|k| !k.is_empty())
        .map(str::parse::<AuditKind>)
        .transpose()?;
    let filter = AuditQuery {
        user,
        kind,
        from: query_time("from", query.from.as_deref())?,
        to: query_time("to", query.to.as_deref())?,
        before,
        limit: query.limit.unwrap_or(DEFAULT_LIMIT),
    };
    let page = delegate
        .admin()
        .audit(&Actor::Caller(caller), filter)
        .await?;
    Ok(ApiJson(AuditPage {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Cache statistics per layer (in-process, Redis) and namespace: entries, bytes, hits,
/// misses and hit rate (hits and misses are this instance's since it started).
#[utoipa::path(get, path = "/api/v1/admin/cache/stats", tag = "admin", security(("bearer" = [])),
    responses(
        (status = 200, description = "Per layer and namespace", body = CacheStatsBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
    ))]
pub(crate) async fn cache_stats(
    State(delegate): State<Delegate>,
    Extension(caller): Extension<AuthContext>,
) -> Result<ApiJson<CacheStatsBody>, ApiError> {
    let report = delegate.admin().cache_stats(&Actor::Caller(caller)).await?;
    Ok(ApiJson(report.into()))
}

/// Remove cache entries matching a pattern, on every instance.
#[utoipa::path(post, path = "/api/v1/admin/cache/clear", tag = "admin", security(("bearer" = [])),
    request_body = CacheClearRequest,
    responses(
        (status = 200, description = "How many entries were removed", body = CacheClearBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 422, description = "A pattern that is not letters, digits and :_-.*{}", body = ErrorBody),
    ))]
pub(crate) async fn clear_cache(
    State(delegate): State<Delegate>,
    Extension(caller): Extension<AuthContext>,
    ApiJson(body): ApiJson<CacheClearRequest>,
) -> Result<ApiJson<CacheClearBody>, ApiError> {
    let report = delegate
        .admin()
        .clear_cache(&Actor::Caller(caller), &body.pattern)
        .await?;
    Ok(ApiJson(CacheClearBody {
        removed: report.removed,
    }))
}

#[cfg(test)]
mod tests {
    use super::is_admin_path;

    #[test]
    fn the_documented_audit_kinds_are_exactly_the_core_ones() {
        use utoipa::OpenApi;
        let doc = serde_json::to_value(crate::openapi::ApiDoc::openapi()).unwrap();
        let params = doc["paths"]["/api/v1/admin/audit"]["get"]["parameters"]
            .as_array()
            .unwrap();
        let kind = params.iter().find(|p| p["name"] == "kind").unwrap();
        let pattern = kind["schema"]["pattern"].as_str().unwrap();
        let documented: Vec<String> = pattern
            .trim_start_matches("^(|")
            .trim_end_matches(")$")
            .split('|')
            .map(|k| k.replace("\\.", "."))
            .collect();
        let core: Vec<&str> = delegate_core::admin::AuditKind::ALL
            .iter()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(documented, core);
    }

    #[test]
    fn admin_paths_match_in_any_case_and_with_a_trailing_slash_only_under_admin() {
        for path in [
            "/api/v1/admin",
            "/api/v1/admin/",
            "/API/V1/ADMIN/Sessions/Cleanup",
            "/api/v1/admin/sessions/cleanup//",
            "/api/v1/admin/no-such-route",
        ] {
            assert!(is_admin_path(path), "{path}");
        }
        for path in [
            "/api/v1/administrators",
            "/api/v1/users",
            "/admin",
            "/api/v1/adm",
        ] {
            assert!(!is_admin_path(path), "{path}");
        }
    }
}

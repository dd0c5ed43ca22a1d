//! /api/v1/admin: operator actions for callers with the admin role, and the guard that
//! answers 401/403 on every admin path and method (whatever its case or trailing slash)
//! before routing.

use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, bearer_token};
use crate::wire::CleanupBody;
use axum::Router;
use axum::extract::{Extension, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use delegate_core::admin::{Actor, AdminService};
use delegate_core::{AuthContext, Delegate};

pub(crate) fn routes() -> Router<Delegate> {
    Router::new().route(
        "/sessions/cleanup",
        get(cleanup_login_sessions).post(cleanup_login_sessions),
    )
}

/// Whether `path` is under /api/v1/admin, in any case, with or without a trailing slash.
fn is_admin_path(path: &str) -> bool {
    let path = path.trim_end_matches('/').to_ascii_lowercase();
    path == "/api/v1/admin" || path.starts_with("/api/v1/admin/")
}

/// Lets only admins reach /api/v1/admin: 401 without a valid token, 403 for anyone else, on
/// every path and method there (known or not), before routing.
pub(crate) async fn guard(State(delegate): State<Delegate>, req: Request, next: Next) -> Response {
    if !is_admin_path(req.uri().path()) {
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    let caller = match bearer_token(&parts) {
        Err(e) => return e.into_response(),
        Ok(None) => return ApiError::missing_token().into_response(),
        Ok(Some(token)) => match delegate.auth().authenticate(token).await {
            Ok(caller) => caller,
            Err(e) => return ApiError::from(e).into_response(),
        },
    };
    if let Err(e) = AdminService::authorize(&Actor::Caller(caller.clone())) {
        return ApiError::from(e).into_response();
    }
    parts.extensions.insert(caller);
    next.run(Request::from_parts(parts, body)).await
}

/// Delete expired and revoked login sessions, expired refresh families and ended denials
/// (also done on a timer: `DELEGATE_AUTH__CLEANUP_INTERVAL_SECS`).
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

#[cfg(test)]
mod tests {
    use super::is_admin_path;

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

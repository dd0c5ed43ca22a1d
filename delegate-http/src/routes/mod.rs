//! The router: every route, the fallbacks, and the middleware stack.

pub(crate) mod admin;
pub(crate) mod auth;
pub(crate) mod chat;
pub(crate) mod health;
pub(crate) mod realtime;
pub(crate) mod transcripts;
pub(crate) mod users;
pub(crate) mod voice;

use crate::error::ApiError;
use crate::openapi;
use axum::Router;
use delegate_core::Delegate;

/// Page size of lists when the client names none.
pub(crate) const DEFAULT_LIMIT: u32 = 20;

/// Delegate's whole REST API as an axum router, ready to serve or to merge into a host app.
/// Serve it with connect info (`into_make_service_with_connect_info::<SocketAddr>()`, as
/// [`crate::serve`] does): anonymous requests are refused without it. Bodies are limited to
/// `config.server.body_limit_bytes`; every response carries an `x-request-id` (the client's,
/// or a fresh UUID) and the security headers.
pub fn router(delegate: Delegate) -> Router {
    crate::metrics::install();
    let server = delegate.config().server.clone();
    let models = delegate.chat().models_of_any_tier();
    let voices: Vec<String> = delegate
        .voice()
        .voices()
        .map(|voices| voices.into_iter().map(|v| v.id).collect())
        .unwrap_or_default();
    let formats: Vec<String> = delegate
        .voice()
        .formats()
        .map(|formats| formats.iter().map(|f| f.as_str().to_owned()).collect())
        .unwrap_or_default();
    let voice_upload_limit =
        delegate.voice().max_upload_bytes() + crate::upload::MULTIPART_OVERHEAD;
    let socketio = realtime::socketio::layer(delegate.clone());
    let api = Router::new()
        .nest("/api/v1/auth", auth::routes())
        .nest("/api/v1/users", users::routes())
        .nest("/api/v1/sessions", chat::routes())
        .nest("/api/v1/transcripts", transcripts::routes())
        .nest("/api/v1/voice", voice::routes())
        .route("/api/v1/ws", axum::routing::get(realtime::connect))
        .nest("/api/v1/health", health::api_routes())
        .nest("/api/v1/admin", admin::routes())
        .route_layer(axum::middleware::from_fn_with_state(
            delegate.clone(),
            crate::ratelimit::limit,
        ))
        .merge(health::routes())
        .route("/metrics", axum::routing::get(crate::metrics::render))
        .fallback(|| async { ApiError::route_not_found() })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .layer(axum::middleware::from_fn_with_state(
            delegate.clone(),
            admin::guard,
        ))
        .with_state(delegate)
        .merge(openapi::routes(&models, &voices, &formats));
    crate::edge::wrap(api, &server, voice_upload_limit, socketio)
}

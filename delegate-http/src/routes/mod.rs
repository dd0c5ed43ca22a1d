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
    // Every route carries its whole path (no `nest`): a nested route strips its prefix from
    // the URI of each request it serves, which rebuilds the URI every time.
    let api = Router::new()
        .merge(auth::routes())
        .merge(users::routes())
        .merge(chat::routes())
        .merge(transcripts::routes())
        .merge(voice::routes())
        .route("/api/v1/ws", axum::routing::get(realtime::connect))
        .merge(health::api_routes())
        .merge(admin::routes())
        // Around each route's methods, so that a 405 is neither counted nor refused first.
        .route_layer(crate::gate::GateLayer::limit(delegate.clone()))
        .merge(health::routes())
        .route("/metrics", axum::routing::get(crate::metrics::render))
        .fallback(|| async { ApiError::route_not_found() })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .with_state(delegate.clone())
        .merge(openapi::routes(&models, &voices, &formats));
    crate::edge::wrap(api, delegate, &server, voice_upload_limit, socketio)
}

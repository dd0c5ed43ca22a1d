//! Embedding examples. A host axum application that embeds Delegate: its own state, its own
//! route protected by Delegate's [`AuthUser`] extractor, and Delegate's whole API mounted
//! beside it (runnable: `host_app.rs`; the tests drive [`host_router`] over HTTP). And a
//! custom backend, [`logging_cache::LoggingCache`] (runnable: `custom_backend.rs`; the tests
//! run the cache conformance suite on it).

pub mod logging_cache;

use axum::extract::{FromRef, State};
use axum::routing::get;
use axum::{Json, Router};
use delegate_core::Delegate;
use delegate_http::AuthUser;
use serde_json::{Value, json};

/// The host's own state; Delegate is one part of it.
#[derive(Clone)]
pub struct HostState {
    /// The embedded kernel.
    pub delegate: Delegate,
    /// Something of the host's own.
    pub greeting: &'static str,
}

impl FromRef<HostState> for Delegate {
    fn from_ref(state: &HostState) -> Delegate {
        state.delegate.clone()
    }
}

/// The host's routes (`GET /api/hello`, signed-in users only) merged with Delegate's API.
pub fn host_router(delegate: Delegate) -> Router {
    let host = Router::new()
        .route("/api/hello", get(hello))
        .with_state(HostState {
            delegate: delegate.clone(),
            greeting: "hello",
        });
    host.merge(delegate_http::router(delegate))
}

/// A route of the host app: only a valid access token for a live login session gets in.
async fn hello(State(state): State<HostState>, AuthUser(caller): AuthUser) -> Json<Value> {
    let user = state.delegate.users().get(caller.user_id).await.ok();
    Json(json!({
        "message": format!("{}, {}", state.greeting, user.map(|u| u.name).unwrap_or_default()),
        "userId": caller.user_id.to_string(),
        "tier": caller.tier.as_str(),
    }))
}

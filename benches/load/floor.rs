//! `delegate-bench-floor`: the load benchmark's baseline, a bare axum route. `GET /` answers a
//! JSON object about the size of a user profile (~200 bytes), serialized per request as
//! Delegate's handlers do, on a default multi-thread Tokio runtime. It listens on
//! `127.0.0.1:$PORT` until killed; `benches/load/run` measures every Delegate route against it.

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

/// The port to listen on when `PORT` is unset.
const DEFAULT_PORT: u16 = 3099;

/// `GET /`: a profile-sized JSON body, built and serialized on every request.
async fn profile_sized_json() -> Json<Value> {
    Json(json!({
        "id": "0193a1b2-7c4d-7e5f-8a9b-0c1d2e3f4a5b",
        "email": "floor@bench.example.com",
        "name": "Floor Bench",
        "avatarUrl": null,
        "tier": "free",
        "role": "user",
        "preferences": {},
        "createdAt": "2026-01-01T00:00:00Z",
        "updatedAt": "2026-01-01T00:00:00Z"
    }))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(DEFAULT_PORT);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let app = Router::new().route("/", get(profile_sized_json));
    axum::serve(listener, app).await
}

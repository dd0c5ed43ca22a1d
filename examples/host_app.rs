//! Runnable example: a host axum app that mounts Delegate and protects its own route.
//!
//! ```sh
//! DATABASE_URL=sqlite://host-example.db PORT=3002 cargo run -p delegate-examples --example host_app
//! # register via Delegate's API, then call the host's own route with the access token:
//! curl -H "Authorization: Bearer $TOKEN" localhost:3002/api/hello
//! ```

use delegate_core::{Config, Delegate};
use std::net::SocketAddr;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::load(None)?;
    let port = config.server.port;
    let delegate = Delegate::connect(config).await?;
    let app = delegate_examples::host_router(delegate);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("host app on http://{}", listener.local_addr()?);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}

//! Runnable example: Delegate on a backend of your own. The cache here is
//! [`LoggingCache`](delegate_examples::logging_cache::LoggingCache) (a logging `HashMap`,
//! which passes the same conformance suite as the built-in caches), in place of the
//! in-process or Redis cache; every cache call it gets is logged.
//!
//! ```sh
//! RUST_LOG=delegate_examples=debug cargo run -p delegate-examples --example custom_backend
//! ```

use delegate_core::{Config, Delegate, Registration, Secret, Shared, SystemClock};
use delegate_examples::logging_cache::LoggingCache;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "delegate_examples=debug".into()),
        )
        .init();
    let mut config = Config::load(None)?;
    config.database_url = "memory:".to_owned(); // A throwaway store: nothing is written.
    config.auth.jwt_secret.get_or_insert_with(Secret::random);
    config
        .auth
        .jwt_refresh_secret
        .get_or_insert_with(Secret::random);
    let clock = Arc::new(SystemClock);
    let cache = Arc::new(LoggingCache::new(clock.clone()));
    let shared = Shared {
        cache: cache.clone(),
        // Our cache does not describe itself: admin cache stats answer 503.
        inspect: None,
        ..Shared::memory(clock.clone())
    };
    let delegate = Delegate::builder(config)
        .with_clock(clock)
        .with_shared(shared)
        .build()
        .await?;
    let signed_in = delegate
        .auth()
        .register(Registration::new("custom@example.com", "a long passphrase"))
        .await?;
    // The first read loads the profile into our cache; the second is served from it.
    for _ in 0..2 {
        let user = delegate.users().get(signed_in.user.id).await?;
        println!("profile of {} ({})", user.email, user.tier.as_str());
    }
    println!("entries in the custom cache: {}", cache.len());
    Ok(())
}

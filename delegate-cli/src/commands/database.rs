//! `delegate serve` and `delegate migrate`: the server and the schema.

use crate::views::{MigratedView, Output};
use delegate_core::{Config, Error, Result};

/// Runs the HTTP server until SIGINT/SIGTERM, exactly as the `delegate-server` binary does.
pub async fn serve(config: Config) -> Result<()> {
    delegate_http::init_tracing(&config);
    let served = match super::connect(config).await {
        Ok(delegate) => delegate_http::run(delegate)
            .await
            .map_err(|e| Error::internal("the server stopped").with_source(e)),
        Err(e) => Err(e),
    };
    delegate_http::flush_logs();
    served
}

/// Applies pending migrations to `config.database_url`.
pub async fn migrate(config: &Config) -> Result<Output> {
    let applied = delegate_core::backend::migrate(&config.database_url).await?;
    Ok(Output::Migrated(MigratedView { applied }))
}

//! Running the server: tracing set-up, binding, and graceful shutdown on SIGINT/SIGTERM.

use crate::JsonSpanFields;
use crate::log_sink::LogSink;
pub use crate::log_sink::flush_logs;
use axum::serve::ListenerExt;
use delegate_core::config::redact_url;
use delegate_core::{Config, Delegate, Environment};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;

/// Installs a tracing subscriber: JSON lines in production (`environment`, from
/// `NODE_ENV`, `DELEGATE_ENVIRONMENT` or the TOML file, as [`Config::load`] read it),
/// readable text otherwise; the filter comes from `RUST_LOG` (default `info`). Lines go to
/// standard output through a writer thread (see [`flush_logs`]), so that no request waits on
/// a write for its log line.
pub fn init_tracing(config: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let production = config.environment == Environment::Production;
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    // A second initialisation (tests, embedding hosts) keeps the first subscriber.
    let builder = builder.with_writer(LogSink::stdout());
    let _ = if production {
        // The span list names every span a line was logged in (the request's id among
        // them); the innermost span alone would repeat its last entry on every line.
        builder
            .json()
            .with_current_span(false)
            .fmt_fields(JsonSpanFields)
            .try_init()
    } else {
        builder.try_init()
    };
}

/// Binds `config.server.host:port`, says in one line each what it runs on, and serves until
/// SIGINT or SIGTERM.
pub async fn run(delegate: Delegate) -> std::io::Result<()> {
    let server = &delegate.config().server;
    let listener = TcpListener::bind((server.host.as_str(), server.port)).await?;
    let address = listener.local_addr()?;
    tracing::info!(%address, "delegate listening");
    log_what_it_runs_on(&delegate, address);
    serve(delegate, listener, shutdown_signal()).await
}

/// One line each: the store, the cache/limits/bus backend, the AI provider (or what answers
/// 503 without one), and where the API docs are. URLs are shown without their credentials.
fn log_what_it_runs_on(delegate: &Delegate, address: SocketAddr) {
    let config = delegate.config();
    tracing::info!(store = %redact_url(&config.database_url), "relational store");
    let shared = if config.redis_url.starts_with("memory:") {
        "in-process (this process only; the store carries events between processes)".to_owned()
    } else {
        redact_url(&config.redis_url)
    };
    tracing::info!(backend = %shared, "cache, rate limits and event bus");
    match delegate.chat().provider() {
        Some(provider) => tracing::info!(provider, model = %config.ai.model, "AI provider"),
        None => tracing::warn!(
            "AI provider: not configured; chat answers 503 ai_not_configured (set OPENAI_API_KEY, \
             or DELEGATE_AI_PROVIDER=echo for the offline demo)"
        ),
    }
    tracing::info!(docs = %format!("http://{address}/docs"), "API docs");
}

/// Serves the Delegate router on `listener` until `shutdown` completes, then lets in-flight
/// requests finish.
pub async fn serve(
    delegate: Delegate,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let audit = delegate.admin();
    let app = crate::router(delegate).into_make_service_with_connect_info::<SocketAddr>();
    // No Nagle delay: a streamed reply's small SSE writes go out as they are made, instead
    // of waiting for the previous segment's ACK.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
    });
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    // Audit events recorded by the last requests are stored before the process exits.
    if !audit.audit_log().flush(Duration::from_secs(5)).await {
        tracing::error!("audit events still queued at shutdown could not be stored in 5 s");
    }
    flush_logs();
    served
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}

//! The `delegate-server` binary: loads config (the one loader: TOML file, `DELEGATE_*` and
//! the original backend's variables) and serves HTTP.

use delegate_core::{Config, Delegate};
use std::process::ExitCode;

#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(all(feature = "jemalloc", not(feature = "mimalloc")))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let config = match Config::load(None) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("delegate-server: {e}");
            return ExitCode::FAILURE;
        }
    };
    delegate_http::init_tracing(&config);
    let served = match Delegate::connect(config).await {
        Ok(delegate) => delegate_http::run(delegate)
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    delegate_http::flush_logs();
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("delegate-server: {e}");
            ExitCode::FAILURE
        }
    }
}

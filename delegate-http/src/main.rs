//! The `delegate-server` binary: loads config from the environment and serves HTTP.

use delegate_core::{Config, Delegate};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    delegate_http::init_tracing();
    let started = async {
        let config = Config::load(None)?;
        Delegate::connect(config).await
    };
    let delegate = match started.await {
        Ok(delegate) => delegate,
        Err(e) => {
            eprintln!("delegate-server: {e}");
            return ExitCode::FAILURE;
        }
    };
    match delegate_http::run(delegate).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("delegate-server: {e}");
            ExitCode::FAILURE
        }
    }
}

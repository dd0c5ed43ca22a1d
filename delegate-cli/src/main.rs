//! The `delegate` admin CLI over delegate-core: `serve`, `migrate`, `users …`, `sessions …`,
//! `cache …`, `audit`, `usage report`, `doctor`, `completions`, `import users`, `seed --demo`.

mod cli;
mod commands;
mod error;
mod output;
mod progress;
mod table;
mod views;

use clap::Parser;
use cli::Cli;
use error::ErrorDetail;
use std::process::ExitCode;

#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    match commands::run(cli.command, cli.config.as_deref(), cli.json).await {
        Ok(Some(out)) => {
            output::print_output(&out, cli.json);
            if out.failed() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Ok(None) => ExitCode::SUCCESS,
        Err(e) => {
            error::print_error(&e, cli.json);
            ExitCode::FAILURE
        }
    }
}

/// Help and version print as clap prints them. A usage error is clap's message, or with
/// `--json` anywhere on the line a `usage` error object; either way the exit code is clap's.
fn usage_error(e: clap::Error) -> ExitCode {
    let code = u8::try_from(e.exit_code()).unwrap_or(2);
    if e.use_stderr() && std::env::args().any(|a| a == "--json") {
        error::print_error_detail(ErrorDetail::new("usage", &first_line(&e)), true);
    } else {
        let _ = e.print();
    }
    ExitCode::from(code)
}

/// Clap's error message without its `Usage:` and `--help` hints.
fn first_line(e: &clap::Error) -> String {
    let rendered = e.render().to_string();
    let line = rendered.lines().next().unwrap_or_default();
    line.strip_prefix("error: ").unwrap_or(line).to_owned()
}

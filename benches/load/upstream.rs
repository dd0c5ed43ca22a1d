//! `delegate-bench-upstream`: the load benchmark's AI provider, the local OpenAI-wire server of
//! `delegate_core::testing::upstream` (a real HTTP server on loopback, JSON and SSE). Every
//! chat completion gets the same short reply in a few deltas, at once. It binds a free port,
//! prints its base URL (`http://127.0.0.1:PORT/v1`) as the first line on stdout and serves
//! until killed.
//!
//! The test upstream records every request it receives in memory, so it grows by about the
//! request's size per chat message; fine for runs of a few minutes.

use delegate_core::testing::upstream::{Reply, Upstream};
use std::io::Write;

/// The reply to every chat completion: a sentence in four deltas.
const REPLY: &str = "Sure, here is a short answer from the bench upstream.";

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let upstream = Upstream::start().await;
    upstream.set_default(Reply::new(REPLY).in_chunks(4));
    let mut stdout = std::io::stdout();
    writeln!(stdout, "{}", upstream.base_url())?;
    stdout.flush()?;
    tokio::signal::ctrl_c().await?;
    drop(upstream);
    Ok(())
}

//! Progress bars for long work, on stderr, only on a terminal and never with `--json`.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// A bar over `len` steps (a spinner when `len` is unknown), hidden when stderr is not a
/// terminal or output is JSON.
pub fn bar(len: Option<u64>, what: &str, json: bool) -> ProgressBar {
    let bar = match len {
        Some(len) => ProgressBar::new(len),
        None => ProgressBar::new_spinner(),
    };
    if json || !std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
        return bar;
    }
    let template = match len {
        Some(_) => "{msg} [{bar:40}] {pos}/{len} ({eta})",
        None => "{spinner} {msg} {pos}",
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_owned());
    bar
}

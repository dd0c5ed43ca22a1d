//! Printing a command's result on stdout: pretty JSON with `--json`, else its human form.

use crate::error::print_error;
use crate::views::Output;
use delegate_core::Error;

/// Prints a command's result on stdout: pretty JSON with `--json`, else the human form.
pub fn print_output(output: &Output, json: bool) {
    if let Output::Raw(text) = output {
        print!("{text}");
        return;
    }
    if json {
        match serde_json::to_string_pretty(output) {
            Ok(text) => println!("{text}"),
            Err(e) => print_error(&Error::internal("printing JSON").with_source(e), true),
        }
    } else {
        println!("{}", output.human());
    }
}

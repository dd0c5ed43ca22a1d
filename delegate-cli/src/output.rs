//! Printing: results as a human table/line or JSON on stdout, errors as one line (or a JSON
//! error object) on stderr.

use crate::views::Output;
use delegate_core::{Error, ErrorKind};
use serde::Serialize;

/// Prints a command's result on stdout: pretty JSON with `--json`, else the human form.
pub fn print_output(output: &Output, json: bool) {
    if json {
        match serde_json::to_string_pretty(output) {
            Ok(text) => println!("{text}"),
            Err(e) => print_error(&Error::internal("printing JSON").with_source(e), true),
        }
    } else {
        println!("{}", output.human());
    }
}

/// The error envelope printed on stderr with `--json`, as the HTTP API writes it.
#[derive(Debug, Serialize)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// The inside of the error envelope.
#[derive(Debug, Serialize)]
pub struct ErrorDetail {
    /// Stable snake_case code (`not_found`, `email_taken`, …).
    pub code: String,
    /// Human-readable explanation, on one line.
    pub message: String,
    /// The offending input, for validation errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl From<&Error> for ErrorDetail {
    fn from(err: &Error) -> Self {
        // The operator runs this on the machine that owns the database, so unlike an HTTP
        // client they see the cause of an internal failure (a bad path, a failed migration).
        let message = match err.kind() {
            ErrorKind::Internal => err.report().to_string(),
            _ => err.public_message(),
        };
        let field = match err {
            Error::Invalid { field, .. } => Some((*field).to_owned()),
            _ => None,
        };
        Self {
            code: err.code().to_owned(),
            message: one_line(&message),
            field,
        }
    }
}

impl ErrorDetail {
    /// An error raised by the CLI itself (usage), with its own code.
    pub fn new(code: &str, message: &str) -> Self {
        Self {
            code: code.to_owned(),
            message: one_line(message),
            field: None,
        }
    }
}

/// Prints a core error on stderr.
pub fn print_error(err: &Error, json: bool) {
    print_error_detail(ErrorDetail::from(err), json);
}

/// Prints an error on stderr: `{"error":{…}}` with `--json`, else `error: [field: ]message`.
pub fn print_error_detail(detail: ErrorDetail, json: bool) {
    if json {
        let body = ErrorBody { error: detail };
        let text = serde_json::to_string(&body).unwrap_or_else(|_| {
            r#"{"error":{"code":"internal_error","message":"could not print the error"}}"#
                .to_owned()
        });
        eprintln!("{text}");
    } else {
        match &detail.field {
            Some(field) => eprintln!("error: {field}: {}", detail.message),
            None => eprintln!("error: {}", detail.message),
        }
    }
}

/// Collapses line breaks and runs of whitespace so a message fits on one line.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `-` for a missing value in a table cell.
pub fn dash(value: &Option<String>) -> String {
    value.clone().unwrap_or_else(|| "-".to_owned())
}

/// A plain text table with left-aligned, space-padded columns.
#[derive(Debug)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column titles.
    pub fn new<const N: usize>(header: [&str; N]) -> Self {
        Self {
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row; cells are made single-line.
    pub fn row<const N: usize>(&mut self, cells: [String; N]) {
        self.rows
            .push(cells.iter().map(|cell| one_line(cell)).collect());
    }

    /// The table as lines, without a trailing newline.
    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        std::iter::once(&self.header)
            .chain(&self.rows)
            .map(|row| {
                let line: Vec<String> = row
                    .iter()
                    .zip(&widths)
                    .map(|(cell, width)| format!("{cell:<width$}"))
                    .collect();
                line.join("  ").trim_end().to_owned()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_pad_columns_to_the_widest_cell() {
        let mut table = Table::new(["ID", "NAME"]);
        table.row(["1".to_owned(), "Ada".to_owned()]);
        table.row(["1000".to_owned(), "B\nC".to_owned()]);
        assert_eq!(table.render(), "ID    NAME\n1     Ada\n1000  B C");
    }

    #[test]
    fn error_details_carry_code_field_and_a_single_line() {
        let detail = ErrorDetail::from(&Error::invalid("password", "too\nshort"));
        assert_eq!(detail.code, "invalid_field");
        assert_eq!(detail.field.as_deref(), Some("password"));
        assert_eq!(detail.message, "too short");
        let json = serde_json::to_value(ErrorBody { error: detail }).unwrap();
        assert_eq!(json["error"]["code"], "invalid_field");
        let missing = ErrorDetail::from(&Error::NotFound("user"));
        assert_eq!(missing.code, "not_found");
        assert!(missing.field.is_none());
    }
}

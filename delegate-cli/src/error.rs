//! The one place the CLI turns errors into output: a core error or a usage error, as one
//! `error: …` line on stderr, or with `--json` the API's error envelope.

use crate::table::one_line;
use delegate_core::{Error, ErrorKind};
use serde::Serialize;

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

#[cfg(test)]
mod tests {
    use super::*;

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

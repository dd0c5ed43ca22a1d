//! The one place core errors and request rejections become HTTP responses:
//! `{"error":{"code":"snake_case","message":"…"}}` with the right status.

use axum::Json;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use delegate_core::{Error, ErrorKind};
use serde::Serialize;
use std::borrow::Cow;
use std::time::Duration;
use utoipa::ToSchema;

/// An error answer. Build it from a core [`Error`] (or let `?` do it); internal details are
/// logged, never sent.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: Cow<'static, str>,
    message: String,
    field: Option<Cow<'static, str>>,
    retry_after: Option<Duration>,
    close: bool,
}

/// The error envelope every error response carries.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// The inside of the error envelope.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable snake_case code (`invalid_credentials`, `not_found`, …).
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// The offending input field, for validation errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ApiError {
    /// An error with an explicit status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: Cow::Borrowed(code),
            message: message.into(),
            field: None,
            retry_after: None,
            close: false,
        }
    }

    /// The same error, closing the connection after the answer (its request's body was not
    /// read, and need not be sent).
    pub(crate) fn closing(mut self) -> Self {
        self.close = true;
        self
    }

    pub(crate) fn with_field(mut self, field: impl Into<Cow<'static, str>>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// The 401 for a request without an access token.
    pub fn missing_token() -> Self {
        Error::unauthenticated(
            "missing_token",
            "an Authorization: Bearer <accessToken> header is required",
        )
        .into()
    }

    /// The 400 for credentials presented more than once (two Authorization headers, or a
    /// header and a query-string token).
    pub fn ambiguous_credentials() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "ambiguous_credentials",
            "present exactly one access token, in one Authorization header",
        )
    }

    /// The 400 for a route that needs a body and got none.
    pub fn missing_body() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "missing_body",
            "this route needs a JSON body",
        )
    }

    /// The 415 for a body that is not declared as JSON.
    pub fn not_json() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "expected a JSON body with Content-Type: application/json",
        )
    }

    /// The 422 for a JSON body that is not an object.
    pub fn body_not_object() -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "the body must be a JSON object",
        )
    }

    /// The 400 for a body that is not valid JSON.
    pub fn malformed_json() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            "the body is not valid JSON",
        )
    }

    /// The 413 for a body over the limit. The connection is closed after the answer, since
    /// the rest of the body is not read.
    pub fn payload_too_large(limit: usize) -> Self {
        Self::too_large(format!(
            "the request body is larger than the limit of {limit} bytes"
        ))
    }

    fn too_large(message: impl Into<String>) -> Self {
        let mut error = Self::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message);
        error.close = true;
        error
    }

    /// The 400 for a query string that does not fit the route, naming the parameter.
    pub fn invalid_query(parameter: String) -> Self {
        let known = !parameter.is_empty() && parameter != ".";
        let message = if known {
            format!("query parameter `{parameter}` has an invalid value")
        } else {
            "the query string is invalid".to_owned()
        };
        let error = Self::new(StatusCode::BAD_REQUEST, "invalid_query", message);
        if known {
            error.with_field(parameter)
        } else {
            error
        }
    }

    /// The 503 for a request shed because the server is at its concurrency limit.
    pub fn overloaded() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            "the server is busy; retry shortly",
        )
        .with_retry_after(Duration::from_secs(1))
    }

    /// The 503 for a request that ran past the server's request timeout.
    pub fn timed_out() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "request_timeout",
            "the request took too long and was stopped; retry shortly",
        )
        .with_retry_after(Duration::from_secs(1))
    }

    /// The 429 for a request over a rate limit.
    pub fn rate_limited(retry_after: Duration) -> Self {
        Error::RateLimited { retry_after }.into()
    }

    /// The 400/422 for a JSON body that parsed but does not fit the route: names the field
    /// and what was expected, never the parser's internals.
    pub fn from_json_error(err: serde_path_to_error::Error<serde_json::Error>) -> Self {
        use serde_json::error::Category;
        if !matches!(err.inner().classify(), Category::Data) {
            return Self::malformed_json();
        }
        let path = err.path().to_string();
        let detail = err.inner().to_string();
        let detail = detail.split(" at line ").next().unwrap_or_default();
        let quoted = |text: &str| text.split('`').nth(1).map(str::to_owned);
        let join = |name: &str| match path.as_str() {
            "." | "" => name.to_owned(),
            parent => format!("{parent}.{name}"),
        };
        let (field, message) = if let Some(rest) = detail.strip_prefix("missing field ") {
            let field = quoted(rest).map_or_else(|| path.clone(), |name| join(&name));
            (field, "is required".to_owned())
        } else if detail.starts_with("unknown field ") {
            let field = quoted(detail).map_or_else(|| path.clone(), |name| join(&name));
            (field, "is not a known field".to_owned())
        } else if let Some((_, expected)) = detail.split_once(", expected ") {
            (path, format!("must be {expected}"))
        } else {
            (path, "has an invalid value".to_owned())
        };
        if field == "." || field.is_empty() {
            let message = format!("the body {message}");
            return Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", message);
        }
        let message = format!("`{field}` {message}");
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", message).with_field(field)
    }

    /// The 404 for routes that do not exist.
    pub fn route_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such route")
    }

    /// The 405 for a known route with another method.
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this route does not accept that method",
        )
    }

    /// The same error, telling the client when to retry.
    pub fn with_retry_after(mut self, wait: Duration) -> Self {
        self.retry_after = Some(wait);
        self
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        let status = match err.kind() {
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorKind::Forbidden => StatusCode::FORBIDDEN,
            ErrorKind::RateLimited | ErrorKind::QuotaExceeded => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::UnsupportedMedia => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorKind::Upstream => StatusCode::BAD_GATEWAY,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        // Inside the request's span, so the log line carries its request id; the causes
        // go to the log, never to the client.
        if status.is_server_error() {
            tracing::error!(error = %err.report(), "request failed");
        }
        let field = match &err {
            Error::Invalid { field, .. } => Some(Cow::Borrowed(*field)),
            _ => None,
        };
        Self {
            status,
            code: Cow::Borrowed(err.code()),
            message: err.public_message(),
            field,
            retry_after: err.retry_after(),
            close: false,
        }
    }
}

impl From<BytesRejection> for ApiError {
    fn from(rejection: BytesRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Self::too_large("the request body is larger than the limit")
        } else {
            Self::new(
                StatusCode::BAD_REQUEST,
                "unreadable_body",
                "the request body could not be read",
            )
        }
    }
}

impl From<&ApiError> for ErrorDetail {
    fn from(e: &ApiError) -> Self {
        Self {
            code: e.code.to_string(),
            message: e.message.clone(),
            field: e.field.as_ref().map(|f| f.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail::from(&self),
        };
        let mut response = (self.status, Json(body)).into_response();
        let headers = response.headers_mut();
        if let Some(wait) = self.retry_after {
            headers.insert(
                header::RETRY_AFTER,
                HeaderValue::from(whole_secs(wait).max(1)),
            );
        }
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if self.close {
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

/// `wait` in whole seconds, rounded up (the unit of `Retry-After` and `RateLimit-Reset`).
pub(crate) fn whole_secs(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

//! The one error type of the core, with a stable [`ErrorKind`] that frontends map.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// The failure underneath an [`Error::Internal`], [`Error::Upstream`] or
/// [`Error::Unavailable`]: kept for logs (it is the error's `source()`), never shown to a
/// client. Shared, so errors stay `Clone`.
pub type Cause = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// What went wrong, in terms a frontend can map to its own vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The thing asked for does not exist (or is not the caller's).
    NotFound,
    /// The request collides with existing state (a taken email, a concurrent rotation).
    Conflict,
    /// The input broke a rule; the message says which.
    Invalid,
    /// No valid credentials were presented.
    Unauthenticated,
    /// The caller is known but not allowed.
    Forbidden,
    /// Too many requests; try again later.
    RateLimited,
    /// The caller's tier quota is used up.
    QuotaExceeded,
    /// The uploaded content is not of a type the operation takes (not audio, say).
    UnsupportedMedia,
    /// An upstream service (AI provider) failed.
    Upstream,
    /// A dependency is down; try again later.
    Unavailable,
    /// A bug or an unexpected failure; details are logged, never shown.
    Internal,
}

/// Every fallible core operation returns this error.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// See [`ErrorKind::NotFound`].
    #[error("{0} not found")]
    NotFound(&'static str),
    /// See [`ErrorKind::Conflict`]; `code` is a stable snake_case identifier.
    #[error("{message}")]
    Conflict {
        /// Stable machine-readable code.
        code: &'static str,
        /// Human-readable explanation.
        message: String,
    },
    /// See [`ErrorKind::Invalid`]; `field` names the offending input.
    #[error("{message}")]
    Invalid {
        /// The input field at fault.
        field: &'static str,
        /// Human-readable explanation.
        message: String,
    },
    /// See [`ErrorKind::Unauthenticated`]; `code` is a stable snake_case identifier.
    #[error("{message}")]
    Unauthenticated {
        /// Stable machine-readable code.
        code: &'static str,
        /// Human-readable explanation.
        message: &'static str,
    },
    /// See [`ErrorKind::Forbidden`].
    #[error("{0}")]
    Forbidden(&'static str),
    /// The account was disabled by an operator (kind [`ErrorKind::Forbidden`]).
    #[error("this account is disabled; contact an administrator")]
    AccountDisabled,
    /// See [`ErrorKind::RateLimited`].
    #[error("too many requests; retry in {}s", retry_after.as_secs().max(1))]
    RateLimited {
        /// How long until a retry can succeed.
        retry_after: Duration,
    },
    /// See [`ErrorKind::QuotaExceeded`].
    #[error("{message}")]
    QuotaExceeded {
        /// Which quota, and its limit.
        message: String,
        /// Time until the quota's period starts again.
        retry_after: Duration,
    },
    /// No AI provider is configured (kind [`ErrorKind::Unavailable`]).
    #[error(
        "no AI provider is configured: set OPENAI_API_KEY (and OPENAI_BASE_URL for an \
         OpenAI-compatible server), or DELEGATE_AI_PROVIDER=echo for the offline demo provider"
    )]
    AiNotConfigured,
    /// No speech provider is configured (kind [`ErrorKind::Unavailable`]).
    #[error(
        "no speech provider is configured: set OPENAI_API_KEY or OPENAI_BASE_URL (voice uses \
         the chat provider's), or OPENAI_VOICE_BASE_URL (and OPENAI_VOICE_API_KEY) for a \
         separate OpenAI-compatible speech server"
    )]
    VoiceNotConfigured,
    /// See [`ErrorKind::UnsupportedMedia`]; the message says what was expected.
    #[error("{0}")]
    UnsupportedMedia(String),
    /// See [`ErrorKind::Upstream`]; the context and cause are for logs only.
    #[error("upstream failure: {context}")]
    Upstream {
        /// What failed, in words (scrubbed of secrets).
        context: Cow<'static, str>,
        /// The underlying error, when there is one.
        #[source]
        source: Option<Cause>,
    },
    /// See [`ErrorKind::Unavailable`].
    #[error("{what} is unavailable")]
    Unavailable {
        /// The dependency that is down.
        what: &'static str,
        /// A hint for clients on when to retry.
        retry_after: Duration,
        /// The underlying error, when there is one (for logs).
        #[source]
        source: Option<Cause>,
    },
    /// See [`ErrorKind::Internal`]; the context and cause are for logs only.
    #[error("internal error: {context}")]
    Internal {
        /// What was being done, in words.
        context: Cow<'static, str>,
        /// The underlying error, when there is one.
        #[source]
        source: Option<Cause>,
    },
}

impl Error {
    /// The stable kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NotFound(_) => ErrorKind::NotFound,
            Error::Conflict { .. } => ErrorKind::Conflict,
            Error::Invalid { .. } => ErrorKind::Invalid,
            Error::Unauthenticated { .. } => ErrorKind::Unauthenticated,
            Error::Forbidden(_) | Error::AccountDisabled => ErrorKind::Forbidden,
            Error::RateLimited { .. } => ErrorKind::RateLimited,
            Error::QuotaExceeded { .. } => ErrorKind::QuotaExceeded,
            Error::AiNotConfigured | Error::VoiceNotConfigured => ErrorKind::Unavailable,
            Error::UnsupportedMedia(_) => ErrorKind::UnsupportedMedia,
            Error::Upstream { .. } => ErrorKind::Upstream,
            Error::Unavailable { .. } => ErrorKind::Unavailable,
            Error::Internal { .. } => ErrorKind::Internal,
        }
    }

    /// A stable snake_case code for clients.
    pub fn code(&self) -> &'static str {
        match self {
            Error::NotFound(_) => "not_found",
            Error::Conflict { code, .. } | Error::Unauthenticated { code, .. } => code,
            Error::Invalid { .. } => "invalid_field",
            Error::Forbidden(_) => "forbidden",
            Error::AccountDisabled => "account_disabled",
            Error::RateLimited { .. } => "rate_limited",
            Error::QuotaExceeded { .. } => "quota_exceeded",
            Error::AiNotConfigured => "ai_not_configured",
            Error::VoiceNotConfigured => "voice_not_configured",
            Error::UnsupportedMedia(_) => "unsupported_media_type",
            Error::Upstream { .. } => "upstream_error",
            Error::Unavailable { .. } => "service_unavailable",
            Error::Internal { .. } => "internal_error",
        }
    }

    /// The message a client may see; internal details are replaced by a generic line.
    pub fn public_message(&self) -> String {
        match self {
            Error::Internal { .. } => "an internal error occurred".to_owned(),
            Error::Upstream { .. } => "the upstream service failed".to_owned(),
            other => other.to_string(),
        }
    }

    /// How long a client should wait before retrying, where that is known.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after }
            | Error::Unavailable { retry_after, .. }
            | Error::QuotaExceeded { retry_after, .. } => Some(*retry_after),
            Error::AiNotConfigured | Error::VoiceNotConfigured => Some(Duration::from_secs(60)),
            _ => None,
        }
    }

    /// Shorthand for an [`Error::Invalid`].
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Error::Invalid {
            field,
            message: message.into(),
        }
    }

    /// Shorthand for an [`Error::Unauthenticated`].
    pub fn unauthenticated(code: &'static str, message: &'static str) -> Self {
        Error::Unauthenticated { code, message }
    }

    /// An [`Error::Internal`]: `context` says what was being done (or what broke an
    /// invariant); add the underlying error with [`Error::with_source`].
    pub fn internal(context: impl Into<Cow<'static, str>>) -> Self {
        Error::Internal {
            context: context.into(),
            source: None,
        }
    }

    /// An [`Error::Upstream`]: `context` says what the provider did (no secrets in it).
    pub fn upstream(context: impl Into<Cow<'static, str>>) -> Self {
        Error::Upstream {
            context: context.into(),
            source: None,
        }
    }

    /// An [`Error::Unavailable`]: `what` is down, retry after `retry_after`.
    pub fn unavailable(what: &'static str, retry_after: Duration) -> Self {
        Error::Unavailable {
            what,
            retry_after,
            source: None,
        }
    }

    /// The same error, keeping `cause` as its source (for [`Error::Internal`],
    /// [`Error::Upstream`] and [`Error::Unavailable`]; other kinds carry no cause and are
    /// returned unchanged).
    pub fn with_source(mut self, cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        if let Error::Internal { source, .. }
        | Error::Upstream { source, .. }
        | Error::Unavailable { source, .. } = &mut self
        {
            *source = Some(Arc::new(cause));
        }
        self
    }

    /// The error and every cause under it, `: `-separated, for logs (never for clients).
    pub fn report(&self) -> Report<'_> {
        Report(self)
    }
}

/// An error with its whole `source()` chain, displayed on one line: see [`Error::report`].
pub struct Report<'a>(&'a Error);

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = std::error::Error::source(self.0);
        while let Some(inner) = cause {
            write!(f, ": {inner}")?;
            cause = inner.source();
        }
        Ok(())
    }
}

/// The core's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_details_never_reach_public_message() {
        let err = Error::internal("SELECT * FROM users failed: disk I/O");
        assert_eq!(err.kind(), ErrorKind::Internal);
        assert!(!err.public_message().contains("SELECT"));
    }

    #[test]
    fn a_cause_is_kept_as_the_source_and_reported_but_never_public() {
        let io = std::io::Error::other("disk full at /var/lib/db");
        let err = Error::internal("writing a row").with_source(io);
        let source = std::error::Error::source(&err).expect("a source");
        assert_eq!(source.to_string(), "disk full at /var/lib/db");
        assert_eq!(
            err.report().to_string(),
            "internal error: writing a row: disk full at /var/lib/db"
        );
        assert!(!err.public_message().contains("disk"));
        // Kinds without a cause are left as they are.
        let missing = Error::NotFound("user").with_source(std::io::Error::other("x"));
        assert!(std::error::Error::source(&missing).is_none());
    }

    #[test]
    fn retry_after_is_exposed_for_limits_and_outages() {
        let err = Error::RateLimited {
            retry_after: Duration::from_secs(7),
        };
        assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
        assert_eq!(Error::NotFound("user").retry_after(), None);
    }
}

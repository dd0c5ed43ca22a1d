//! What the OpenAI-compatible providers (chat and speech) share: one configured endpoint —
//! base URL, key (bearer or Azure's `api-key` header), organization — its HTTP client and
//! async-openai client, retries before the first byte, and errors free of secrets.

use crate::config::{KeyHeader, Secret};
use crate::error::{Error, Result};
use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::middleware::HttpRequestFactory;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// The longest wait before a retry (backoff or `retry-after`); a server asking for longer is
/// not retried.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(5);
/// The longest wait for a TCP (and TLS) connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How much of an upstream error text is kept in an error message.
const MAX_DETAIL_CHARS: usize = 300;
/// What clients are told to wait when the provider is unreachable.
pub(crate) const UNAVAILABLE_RETRY_AFTER: Duration = Duration::from_secs(5);

/// Which provider an endpoint is, in the words of its errors and logs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Role {
    /// "AI provider", "speech provider".
    pub(crate) label: &'static str,
    /// The dependency named by [`Error::Unavailable`]: "ai provider", "speech provider".
    pub(crate) dependency: &'static str,
    /// The setting holding the key, named when the provider refuses it.
    pub(crate) key_var: &'static str,
    /// The setting holding the base URL, named when it is malformed.
    pub(crate) base_var: &'static str,
}

/// The settings an endpoint is built from.
pub(crate) struct EndpointSettings<'a> {
    /// The base URL including the version path; blank or `None` is `default_base`.
    pub(crate) base_url: Option<&'a str>,
    /// Where requests go when no base URL is set.
    pub(crate) default_base: &'a str,
    /// The key, if any.
    pub(crate) api_key: Option<&'a Secret>,
    /// How the key is sent.
    pub(crate) key_header: KeyHeader,
    /// The `OpenAI-Organization` header, if any.
    pub(crate) organization: Option<&'a str>,
    /// The whole-call deadline (bounds the connect timeout too).
    pub(crate) timeout: Duration,
    /// Who it is.
    pub(crate) role: Role,
}

/// One configured OpenAI-compatible endpoint.
#[derive(Clone)]
pub(crate) struct Endpoint {
    /// The plain HTTP client (for raw requests and probes).
    pub(crate) http: reqwest::Client,
    /// The base URL, without a trailing slash.
    pub(crate) base_url: String,
    key: Option<Arc<str>>,
    key_header: KeyHeader,
    organization: String,
    pub(crate) role: Role,
    /// Masks the key in error texts.
    pub(crate) scrubber: Scrubber,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("base_url", &self.base_url)
            .field("key_header", &self.key_header)
            .field("api_key", &self.key.as_ref().map(|_| "[redacted]"))
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// Checks and builds an endpoint: an [`Error::Invalid`] when the base URL is not
    /// `http(s)://…`, the timeout is 0, or the key or organization cannot be sent in a header.
    pub(crate) fn new(settings: EndpointSettings<'_>) -> Result<Self> {
        let role = settings.role;
        let base_url = settings
            .base_url
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .unwrap_or(settings.default_base)
            .trim_end_matches('/')
            .to_owned();
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(Error::invalid(
                "config",
                format!("{} must start with http:// or https://", role.base_var),
            ));
        }
        if settings.timeout.is_zero() {
            return Err(Error::invalid(
                "config",
                format!("the {} timeout must be at least 1 second", role.label),
            ));
        }
        // Whitespace around a pasted key is never part of it.
        let key = settings
            .api_key
            .map(|k| String::from_utf8_lossy(k.expose()).trim().to_owned())
            .filter(|k| !k.is_empty());
        let organization = settings
            .organization
            .map(str::trim)
            .unwrap_or_default()
            .to_owned();
        // async-openai unwraps these header values when it sends a request: check them here.
        let header_ok = |v: &str| reqwest::header::HeaderValue::from_str(v).is_ok();
        if !header_ok(&format!("Bearer {}", key.as_deref().unwrap_or_default())) {
            return Err(Error::invalid(
                "config",
                format!(
                    "{} contains characters that cannot be sent in an HTTP header",
                    role.key_var
                ),
            ));
        }
        if !header_ok(&organization) {
            return Err(Error::invalid(
                "config",
                "OPENAI_ORGANIZATION contains characters that cannot be sent in an HTTP header",
            ));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT.min(settings.timeout))
            .build()
            .map_err(|e| Error::internal("building a provider's HTTP client").with_source(e))?;
        Ok(Self {
            http,
            base_url,
            key: key.map(Into::into),
            key_header: settings.key_header,
            organization,
            role,
            scrubber: Scrubber(None),
        }
        .with_scrubber())
    }

    fn with_scrubber(mut self) -> Self {
        self.scrubber = Scrubber(self.key.clone());
        self
    }

    /// An async-openai client on this endpoint: the plain transport without async-openai's
    /// own retries (retrying is done by [`Endpoint::retrying`], where "before the first byte"
    /// is known), HTTP errors turned into [`HttpFailure`]s that keep the status and
    /// `retry-after`, the key in the configured header (none at all without a key).
    pub(crate) fn openai_client(&self) -> Client<OpenAIConfig> {
        // Set every field: the defaults would read OPENAI_* variables behind the config's back.
        let config = OpenAIConfig::new()
            .with_api_base(self.base_url.clone())
            .with_api_key(self.key.as_deref().unwrap_or_default())
            .with_org_id(self.organization.as_str())
            .with_project_id("");
        let endpoint = self.clone();
        let service = tower::service_fn(move |request: HttpRequestFactory| {
            let endpoint = endpoint.clone();
            async move {
                let mut request = request.build().await?;
                let headers = request.headers_mut();
                headers.remove(reqwest::header::AUTHORIZATION);
                if let Some((name, value)) = endpoint.key_header_value() {
                    headers.insert(name, value);
                }
                let response = endpoint
                    .http
                    .execute(request)
                    .await
                    .map_err(OpenAIError::Reqwest)?;
                HttpFailure::check(response)
                    .await
                    .map_err(|failure| OpenAIError::Boxed(Box::new(failure)))
            }
        });
        Client::build(self.http.clone(), config).with_http_service(service)
    }

    /// The header carrying the key, if there is a key.
    fn key_header_value(
        &self,
    ) -> Option<(reqwest::header::HeaderName, reqwest::header::HeaderValue)> {
        let key = self.key.as_deref()?;
        let (name, value) = match self.key_header {
            KeyHeader::Bearer => (reqwest::header::AUTHORIZATION, format!("Bearer {key}")),
            KeyHeader::ApiKey => (
                reqwest::header::HeaderName::from_static("api-key"),
                key.to_owned(),
            ),
        };
        let mut value = reqwest::header::HeaderValue::from_str(&value).ok()?;
        value.set_sensitive(true);
        Some((name, value))
    }

    /// A `POST {base}/{path}` with the key and organization headers.
    pub(crate) fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.authorized(self.http.post(format!("{}/{path}", self.base_url)))
    }

    fn authorized(&self, mut request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        if let Some((name, value)) = self.key_header_value() {
            request = request.header(name, value);
        }
        if !self.organization.is_empty() {
            request = request.header("OpenAI-Organization", self.organization.as_str());
        }
        request
    }

    /// Sends a raw request: the response when it is a success, else the classified failure.
    pub(crate) async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> std::result::Result<reqwest::Response, Failure> {
        let response = request
            .send()
            .await
            .map_err(|e| self.classify(OpenAIError::Reqwest(e)))?;
        HttpFailure::check(response)
            .await
            .map_err(|failure| self.http_failure(&failure))
    }

    /// Runs `attempt` until it succeeds, retrying what may be retried: up to `max_retries`
    /// more times, waiting `base`, 2×`base`, … (or the server's `retry-after`, if at most
    /// 5 s), never past `deadline`.
    pub(crate) async fn retrying<T, F, Fut>(
        &self,
        max_retries: u32,
        base: Duration,
        deadline: Instant,
        mut attempt: F,
    ) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = std::result::Result<T, Failure>>,
    {
        let mut retries = 0;
        loop {
            let failure = match attempt().await {
                Ok(done) => return Ok(done),
                Err(failure) => failure,
            };
            if !failure.retryable || retries >= max_retries {
                return Err(failure.error);
            }
            let delay = failure.retry_after.unwrap_or_else(|| {
                base.saturating_mul(2u32.saturating_pow(retries))
                    .min(MAX_RETRY_DELAY)
            });
            if delay > MAX_RETRY_DELAY || Instant::now() + delay >= deadline {
                return Err(failure.error);
            }
            tracing::warn!(
                error = %failure.error,
                retry = retries + 1,
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                "{} failed before the first byte; retrying",
                self.role.label
            );
            tokio::time::sleep(delay).await;
            retries += 1;
        }
    }

    /// `text` with the key masked and its length bounded.
    pub(crate) fn scrub(&self, text: &str) -> String {
        self.scrubber.clean(text)
    }

    /// What an async-openai (or reqwest) error means: its error, and whether to retry.
    pub(crate) fn classify(&self, error: OpenAIError) -> Failure {
        let label = self.role.label;
        match error {
            OpenAIError::Boxed(boxed) => match boxed.downcast::<HttpFailure>() {
                Ok(http) => self.http_failure(&http),
                Err(other) => Failure::fatal(Error::upstream(self.scrub(&other.to_string()))),
            },
            OpenAIError::ApiError(api) => self.http_failure(&HttpFailure {
                status: api.status_code.as_u16(),
                retry_after: None,
                body: serde_json::json!({"error": api.api_error}).to_string(),
            }),
            OpenAIError::Reqwest(e) if e.is_connect() => {
                tracing::warn!(
                    error = %self.scrub(&e.without_url().to_string()),
                    base_url = %self.base_url,
                    "cannot connect to the {label}"
                );
                Failure::retry(Error::unavailable(
                    self.role.dependency,
                    UNAVAILABLE_RETRY_AFTER,
                ))
            }
            OpenAIError::Reqwest(e) if e.is_builder() => Failure::fatal(Error::internal(format!(
                "building the {label} request: {}",
                self.scrub(&e.without_url().to_string())
            ))),
            OpenAIError::Reqwest(e) => Failure::retry(Error::upstream(format!(
                "the connection to the {label} failed: {}",
                self.scrub(&error_chain(&e.without_url()))
            ))),
            OpenAIError::JSONDeserialize(e, _) => Failure::fatal(
                Error::upstream(format!("the {label} sent a malformed reply")).with_source(e),
            ),
            OpenAIError::StreamError(e) => Failure::retry(Error::upstream(format!(
                "the {label}'s reply stream broke: {}",
                self.scrub(&e.to_string())
            ))),
            OpenAIError::InvalidArgument(m) => Failure::fatal(Error::internal(format!(
                "building the {label} request: {m}"
            ))),
            other => Failure::fatal(Error::upstream(self.scrub(&other.to_string()))),
        }
    }

    /// What an HTTP error answer means.
    fn http_failure(&self, http: &HttpFailure) -> Failure {
        let (label, key_var) = (self.role.label, self.role.key_var);
        let status = http.status;
        let parsed: Option<serde_json::Value> = serde_json::from_str(&http.body).ok();
        let field = |name: &str| {
            parsed
                .as_ref()
                .and_then(|v| v.pointer(&format!("/error/{name}")))
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        let detail = self.scrub(&field("message").unwrap_or_else(|| http.body.clone()));
        let detail = if detail.is_empty() {
            String::new()
        } else {
            format!(": {detail}")
        };
        let no_quota = [field("type"), field("code")]
            .iter()
            .any(|v| v.as_deref() == Some("insufficient_quota"));
        let mut failure = match status {
            401 | 403 => Failure::fatal(Error::upstream(format!(
                "the {label} refused the credentials ({status}); check {key_var}"
            ))),
            429 if no_quota => Failure::fatal(Error::upstream(format!(
                "the {label} account has no quota left (429 insufficient_quota)"
            ))),
            429 => Failure::retry(Error::upstream(format!(
                "the {label} is rate limiting (429){detail}"
            ))),
            500..=599 => Failure::retry(Error::upstream(format!(
                "the {label} failed ({status}){detail}"
            ))),
            _ => Failure::fatal(Error::upstream(format!(
                "the {label} rejected the request ({status}){detail}"
            ))),
        };
        failure.retry_after = http.retry_after;
        failure
    }

    /// `GET {base}/models`: any answer but a refusal of the credentials or a server error
    /// means the provider is reachable (a server without that route answers 404).
    pub(crate) async fn probe(&self) -> Result<()> {
        let request = self.authorized(self.http.get(format!("{}/models", self.base_url)));
        let response = request.send().await.map_err(|e| {
            Error::unavailable(self.role.dependency, UNAVAILABLE_RETRY_AFTER)
                .with_source(e.without_url())
        })?;
        let (label, key_var) = (self.role.label, self.role.key_var);
        match response.status().as_u16() {
            status @ (401 | 403) => Err(Error::upstream(format!(
                "the {label} refused the credentials ({status}); check {key_var}"
            ))),
            status @ 500..=599 => Err(Error::upstream(format!("the {label} failed ({status})"))),
            _ => Ok(()),
        }
    }
}

/// An error and its sources, joined (reqwest hides the interesting part in the sources).
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// An HTTP error answer, with what is needed to decide on a retry.
#[derive(Debug)]
pub(crate) struct HttpFailure {
    status: u16,
    retry_after: Option<Duration>,
    body: String,
}

impl HttpFailure {
    /// The response when it is a success; else its status, `retry-after` and body.
    async fn check(response: reqwest::Response) -> std::result::Result<reqwest::Response, Self> {
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = response
            .bytes()
            .await
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        Err(Self {
            status,
            retry_after,
            body,
        })
    }
}

impl fmt::Display for HttpFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.status)
    }
}

impl std::error::Error for HttpFailure {}

/// A failed attempt: the error to report, and whether another attempt may succeed.
pub(crate) struct Failure {
    pub(crate) error: Error,
    pub(crate) retryable: bool,
    pub(crate) retry_after: Option<Duration>,
}

impl Failure {
    /// A failure another attempt may fix.
    pub(crate) fn retry(error: Error) -> Self {
        Self {
            error,
            retryable: true,
            retry_after: None,
        }
    }

    /// A failure no retry fixes.
    pub(crate) fn fatal(error: Error) -> Self {
        Self {
            error,
            retryable: false,
            retry_after: None,
        }
    }
}

/// Masks the API key wherever it appears in a text, and bounds the text's length.
#[derive(Clone)]
pub(crate) struct Scrubber(Option<Arc<str>>);

impl Scrubber {
    /// `text` with the key masked, trimmed, at most 300 characters.
    pub(crate) fn clean(&self, text: &str) -> String {
        let text = match &self.0 {
            Some(key) => text.replace(&**key, "[redacted]"),
            None => text.to_owned(),
        };
        let text = text.trim();
        match text.char_indices().nth(MAX_DETAIL_CHARS) {
            Some((cut, _)) => format!("{}…", &text[..cut]),
            None => text.to_owned(),
        }
    }
}

//! The OpenAI-compatible chat provider on async-openai: streamed replies with usage, retries
//! before the first token only, one deadline for the whole reply, errors free of secrets.

use crate::chat::{ChatChunk, ChatModel, ChatRequest, ChatStream, MessageRole, TokenUsage};
use crate::config::AiConfig;
use crate::error::{Error, Result};
use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::middleware::HttpRequestFactory;
use async_openai::types::chat::{
    ChatCompletionRequestAssistantMessage, ChatCompletionRequestMessage,
    ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage,
    ChatCompletionResponseStream, ChatCompletionStreamOptions, CreateChatCompletionRequest,
    CreateChatCompletionStreamResponse,
};
use async_trait::async_trait;
use futures::StreamExt;
use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;
use tokio::time::Instant;

/// Where requests go when no base URL is configured.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";

/// The first retry's delay; each further retry doubles it.
const RETRY_BASE: Duration = Duration::from_millis(200);
/// The longest wait before a retry (backoff or `retry-after`); a server asking for longer is
/// not retried.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(5);
/// The longest wait for a TCP (and TLS) connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How much of an upstream error text is kept in an error message.
const MAX_DETAIL_CHARS: usize = 300;
/// What clients are told to wait when the provider is unreachable.
const UNAVAILABLE_RETRY_AFTER: Duration = Duration::from_secs(5);

/// A [`ChatModel`] speaking the OpenAI chat-completions API (OpenAI, Azure OpenAI's
/// OpenAI-compatible endpoint, Ollama, vLLM, …) through async-openai.
///
/// * Every request streams and asks for usage (`stream_options.include_usage`), so the
///   prompt and completion tokens arrive as the last [`ChatChunk::Usage`].
/// * **Retries.** A 429 (except `insufficient_quota`), a 5xx, a failed connection or a stream
///   that breaks before its first chunk is retried up to `max_retries` times, waiting 200 ms,
///   400 ms, 800 ms, … (or the server's `retry-after`, if it is at most 5 s). Retrying happens
///   only before the first chunk: once [`ChatModel::stream`] has returned, an error ends the
///   stream with an `Err` item and is never retried (the text so far is the caller's).
/// * **Deadline.** `timeout` bounds the whole reply, retries and streaming included: past it,
///   `stream` returns (or the stream yields) [`Error::Upstream`] and the connection is closed.
/// * **Cancellation.** Dropping the stream (or the `stream` future) closes the upstream
///   connection, which cancels the generation.
/// * **Errors.** After the retries, an HTTP error or a malformed reply is [`Error::Upstream`]
///   and an unreachable server is [`Error::Unavailable`] (`"ai provider"`). Messages carry
///   the status and at most 300 characters of the server's explanation, never the API key
///   (it is masked wherever it appears; 401 and 403 bodies are dropped altogether).
pub struct OpenAiModel {
    client: Client<OpenAIConfig>,
    /// The plain HTTP client, for the health probe.
    http: reqwest::Client,
    base_url: String,
    default_model: String,
    timeout: Duration,
    max_retries: u32,
    retry_base: Duration,
    /// Masks the API key in error texts.
    scrubber: Scrubber,
}

impl fmt::Debug for OpenAiModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiModel")
            .field("base_url", &self.base_url)
            .field("default_model", &self.default_model)
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .field("api_key", &self.scrubber.0.as_ref().map(|_| "[redacted]"))
            .finish_non_exhaustive()
    }
}

impl OpenAiModel {
    /// A provider for `config`: its base URL (default
    /// [`DEFAULT_BASE_URL`](crate::ai::DEFAULT_BASE_URL)), API key (sent as
    /// `Authorization: Bearer …`; with none, no Authorization header), organization header,
    /// model, deadline and retries.
    ///
    /// Fails with [`Error::Invalid`] when the base URL is not `http(s)://…`, the timeout is 0,
    /// or the key or organization cannot be sent in an HTTP header.
    pub fn new(config: &AiConfig) -> Result<Self> {
        let base_url = config
            .base_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .unwrap_or(DEFAULT_BASE_URL)
            .trim_end_matches('/')
            .to_owned();
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(Error::invalid(
                "config",
                "OPENAI_BASE_URL must start with http:// or https://",
            ));
        }
        if config.timeout_secs == 0 {
            return Err(Error::invalid(
                "config",
                "the AI timeout (DELEGATE_AI__TIMEOUT_SECS) must be at least 1 second",
            ));
        }
        // Whitespace around a pasted key is never part of it.
        let secret = config
            .api_key
            .as_ref()
            .map(|k| String::from_utf8_lossy(k.expose()).trim().to_owned())
            .filter(|k| !k.is_empty());
        let organization = config
            .organization
            .as_deref()
            .map(str::trim)
            .unwrap_or_default();
        // async-openai unwraps these header values when it sends a request: check them here.
        let header_ok = |v: &str| reqwest::header::HeaderValue::from_str(v).is_ok();
        if !header_ok(&format!("Bearer {}", secret.as_deref().unwrap_or_default())) {
            return Err(Error::invalid(
                "config",
                "OPENAI_API_KEY contains characters that cannot be sent in an HTTP header",
            ));
        }
        if !header_ok(organization) {
            return Err(Error::invalid(
                "config",
                "OPENAI_ORGANIZATION contains characters that cannot be sent in an HTTP header",
            ));
        }

        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT.min(config.timeout()))
            .build()
            .map_err(|e| {
                Error::internal("building the AI provider's HTTP client").with_source(e)
            })?;
        // Set every field: the defaults would read OPENAI_* variables behind the config's back.
        let openai_config = OpenAIConfig::new()
            .with_api_base(base_url.clone())
            .with_api_key(secret.clone().unwrap_or_default())
            .with_org_id(organization)
            .with_project_id("");
        // The plain transport, without async-openai's own retry layer (retrying is done here,
        // where "before the first chunk" is known), turning HTTP errors into `HttpFailure`s
        // that keep the status and the `retry-after` header. Without a key, no Authorization
        // header at all (async-openai would send an empty bearer token).
        let keyless = secret.is_none();
        let transport = http.clone();
        let service = tower::service_fn(move |request: HttpRequestFactory| {
            let transport = transport.clone();
            async move {
                let mut request = request.build().await?;
                if keyless {
                    request.headers_mut().remove(reqwest::header::AUTHORIZATION);
                }
                let response = transport
                    .execute(request)
                    .await
                    .map_err(OpenAIError::Reqwest)?;
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
                Err(OpenAIError::Boxed(Box::new(HttpFailure {
                    status,
                    retry_after,
                    body,
                })))
            }
        });
        let client = Client::build(http.clone(), openai_config).with_http_service(service);
        Ok(Self {
            client,
            http,
            base_url,
            default_model: config.model.clone(),
            timeout: config.timeout(),
            max_retries: config.max_retries,
            retry_base: RETRY_BASE,
            scrubber: Scrubber(secret.map(Into::into)),
        })
    }

    /// The same provider with another deadline for a whole reply (sub-second ones for tests).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The same provider with another first retry delay (doubled on each further retry).
    pub fn with_retry_base(mut self, base: Duration) -> Self {
        self.retry_base = base;
        self
    }

    /// The model used when a request names none.
    pub fn default_model(&self) -> &str {
        &self.default_model
    }

    /// The API base URL requests go to.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    fn request_body(&self, request: ChatRequest) -> Result<CreateChatCompletionRequest> {
        if request.turns.is_empty() {
            return Err(Error::invalid(
                "turns",
                "a chat request needs at least one message",
            ));
        }
        let model = if request.model.trim().is_empty() {
            self.default_model.clone()
        } else {
            request.model
        };
        let messages = request
            .turns
            .into_iter()
            .map(|turn| -> ChatCompletionRequestMessage {
                match turn.role {
                    None => ChatCompletionRequestSystemMessage::from(turn.content).into(),
                    Some(MessageRole::User) => {
                        ChatCompletionRequestUserMessage::from(turn.content).into()
                    }
                    Some(MessageRole::Assistant) => {
                        ChatCompletionRequestAssistantMessage::from(turn.content).into()
                    }
                }
            })
            .collect();
        Ok(CreateChatCompletionRequest {
            model,
            messages,
            temperature: request.temperature,
            max_completion_tokens: request.max_tokens,
            stream: Some(true),
            stream_options: Some(ChatCompletionStreamOptions {
                include_usage: Some(true),
                include_obfuscation: None,
            }),
            ..Default::default()
        })
    }

    /// Sends the request until a first chunk arrives, retrying what may be retried.
    async fn open(&self, body: &CreateChatCompletionRequest, deadline: Instant) -> Result<Reading> {
        let mut retries = 0;
        loop {
            let failure = match self.attempt(body).await {
                Ok(reading) => return Ok(reading),
                Err(failure) => failure,
            };
            if !failure.retryable || retries >= self.max_retries {
                return Err(failure.error);
            }
            let delay = failure.retry_after.unwrap_or_else(|| {
                self.retry_base
                    .saturating_mul(2u32.saturating_pow(retries))
                    .min(MAX_RETRY_DELAY)
            });
            if delay > MAX_RETRY_DELAY || Instant::now() + delay >= deadline {
                return Err(failure.error);
            }
            tracing::warn!(
                error = %failure.error,
                retry = retries + 1,
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                "AI provider failed before the first token; retrying"
            );
            tokio::time::sleep(delay).await;
            retries += 1;
        }
    }

    /// One request, read up to its first chunk.
    async fn attempt(&self, body: &CreateChatCompletionRequest) -> Result<Reading, Failure> {
        let stream = self
            .client
            .chat()
            .create_stream(body.clone())
            .await
            .map_err(|e| self.classify(e))?;
        let mut reading = Reading {
            inner: Some(stream),
            pending: VecDeque::new(),
            finished: false,
        };
        while reading.pending.is_empty() {
            let Some(inner) = reading.inner.as_mut() else {
                break;
            };
            match inner.next().await {
                Some(Ok(chunk)) => reading.absorb(chunk),
                Some(Err(e)) => return Err(self.classify(e)),
                None => reading.inner = None,
            }
        }
        if reading.inner.is_none() && reading.pending.is_empty() && !reading.finished {
            return Err(Failure::fatal(Error::upstream(
                "the AI provider's reply ended before any text",
            )));
        }
        Ok(reading)
    }

    fn timed_out(&self) -> Error {
        Error::upstream(format!(
            "the AI provider gave no complete reply within {:?}",
            self.timeout
        ))
    }

    fn scrub(&self, text: &str) -> String {
        self.scrubber.clean(text)
    }

    fn classify(&self, error: OpenAIError) -> Failure {
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
                    "cannot connect to the AI provider"
                );
                Failure::retry(Error::unavailable("ai provider", UNAVAILABLE_RETRY_AFTER))
            }
            OpenAIError::Reqwest(e) if e.is_builder() => Failure::fatal(Error::internal(format!(
                "building the AI request: {}",
                self.scrub(&e.without_url().to_string())
            ))),
            OpenAIError::Reqwest(e) => Failure::retry(Error::upstream(format!(
                "the connection to the AI provider failed: {}",
                self.scrub(&error_chain(&e.without_url()))
            ))),
            OpenAIError::JSONDeserialize(e, _) => Failure::fatal(
                Error::upstream("the AI provider sent a malformed reply").with_source(e),
            ),
            OpenAIError::StreamError(e) => Failure::retry(Error::upstream(format!(
                "the AI provider's reply stream broke: {}",
                self.scrub(&e.to_string())
            ))),
            OpenAIError::InvalidArgument(m) => {
                Failure::fatal(Error::internal(format!("building the AI request: {m}")))
            }
            other => Failure::fatal(Error::upstream(self.scrub(&other.to_string()))),
        }
    }

    fn http_failure(&self, http: &HttpFailure) -> Failure {
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
                "the AI provider refused the credentials ({status}); check OPENAI_API_KEY"
            ))),
            429 if no_quota => Failure::fatal(Error::upstream(
                "the AI provider account has no quota left (429 insufficient_quota)",
            )),
            429 => Failure::retry(Error::upstream(format!(
                "the AI provider is rate limiting (429){detail}"
            ))),
            500..=599 => Failure::retry(Error::upstream(format!(
                "the AI provider failed ({status}){detail}"
            ))),
            _ => Failure::fatal(Error::upstream(format!(
                "the AI provider rejected the request ({status}){detail}"
            ))),
        };
        failure.retry_after = http.retry_after;
        failure
    }
}

/// An error and its sources, joined (reqwest hides the interesting part in the sources).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[async_trait]
impl ChatModel for OpenAiModel {
    async fn stream(&self, request: ChatRequest) -> Result<ChatStream> {
        let deadline = Instant::now() + self.timeout;
        let body = self.request_body(request)?;
        let reading = match tokio::time::timeout_at(deadline, self.open(&body, deadline)).await {
            Ok(reading) => reading?,
            Err(_) => return Err(self.timed_out()),
        };
        Ok(reading.into_stream(deadline, self.timed_out(), self.scrubber.clone()))
    }

    fn name(&self) -> &str {
        "openai"
    }

    /// `GET {base}/models`: any answer but a refusal of the credentials or a server error
    /// means the provider is reachable (a server without that route answers 404).
    async fn probe(&self) -> Result<()> {
        let mut request = self.http.get(format!("{}/models", self.base_url));
        if let Some(key) = &self.scrubber.0 {
            request = request.bearer_auth(key);
        }
        let response = request.send().await.map_err(|e| {
            Error::unavailable("ai provider", UNAVAILABLE_RETRY_AFTER).with_source(e.without_url())
        })?;
        match response.status().as_u16() {
            401 | 403 => Err(Error::upstream(format!(
                "the AI provider refused the credentials ({}); check OPENAI_API_KEY",
                response.status().as_u16()
            ))),
            status @ 500..=599 => Err(Error::upstream(format!(
                "the AI provider failed ({status})"
            ))),
            _ => Ok(()),
        }
    }
}

/// An HTTP error answer, with what is needed to decide on a retry.
#[derive(Debug)]
struct HttpFailure {
    status: u16,
    retry_after: Option<Duration>,
    body: String,
}

impl fmt::Display for HttpFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.status)
    }
}

impl std::error::Error for HttpFailure {}

/// A failed attempt: the error to report, and whether another attempt may succeed.
struct Failure {
    error: Error,
    retryable: bool,
    retry_after: Option<Duration>,
}

impl Failure {
    fn retry(error: Error) -> Self {
        Self {
            error,
            retryable: true,
            retry_after: None,
        }
    }

    fn fatal(error: Error) -> Self {
        Self {
            error,
            retryable: false,
            retry_after: None,
        }
    }
}

/// A reply being read: the upstream stream (until it ends or fails) and the chunks read from
/// it but not yet handed out.
struct Reading {
    inner: Option<ChatCompletionResponseStream>,
    pending: VecDeque<ChatChunk>,
    /// Whether the model said it finished (`finish_reason`); a stream ending without it was cut.
    finished: bool,
}

impl Reading {
    fn absorb(&mut self, chunk: CreateChatCompletionStreamResponse) {
        for choice in chunk.choices.into_iter().filter(|c| c.index == 0) {
            let texts = [choice.delta.content, choice.delta.refusal];
            for text in texts.into_iter().flatten().filter(|t| !t.is_empty()) {
                self.pending.push_back(ChatChunk::Delta(text));
            }
            if choice.finish_reason.is_some() {
                self.finished = true;
            }
        }
        if let Some(usage) = chunk.usage {
            self.pending.push_back(ChatChunk::Usage(TokenUsage {
                prompt_tokens: usage.prompt_tokens,
                completion_tokens: usage.completion_tokens,
            }));
        }
    }

    /// The chunks read so far, then the rest of the reply; an error, a cut or the deadline ends
    /// it with one `Err` (and drops the connection).
    fn into_stream(self, deadline: Instant, timed_out: Error, scrubber: Scrubber) -> ChatStream {
        let state = (self, Some(timed_out));
        futures::stream::unfold(state, move |(mut reading, mut timed_out)| {
            let scrubber = scrubber.clone();
            async move {
                loop {
                    if let Some(chunk) = reading.pending.pop_front() {
                        return Some((Ok(chunk), (reading, timed_out)));
                    }
                    let inner = reading.inner.as_mut()?;
                    let error = match tokio::time::timeout_at(deadline, inner.next()).await {
                        Ok(Some(Ok(chunk))) => {
                            reading.absorb(chunk);
                            continue;
                        }
                        Ok(None) if reading.finished => return None,
                        Ok(None) => Error::upstream(
                            "the AI provider's reply stream ended before the model finished",
                        ),
                        Ok(Some(Err(e))) => stream_error(e, &scrubber),
                        Err(_) => timed_out
                            .take()
                            .unwrap_or_else(|| Error::upstream("the AI provider timed out")),
                    };
                    reading.inner = None;
                    return Some((Err(error), (reading, timed_out)));
                }
            }
        })
        .boxed()
    }
}

/// An error met after the first chunk.
fn stream_error(error: OpenAIError, scrubber: &Scrubber) -> Error {
    match error {
        OpenAIError::JSONDeserialize(e, _) => {
            Error::upstream("the AI provider sent a malformed chunk").with_source(e)
        }
        OpenAIError::StreamError(e) => Error::upstream(format!(
            "the AI provider's reply stream broke: {}",
            scrubber.clean(&e.to_string())
        )),
        other => Error::upstream(format!(
            "the AI provider failed mid-reply: {}",
            scrubber.clean(&other.to_string())
        )),
    }
}

/// Masks the API key wherever it appears in a text, and bounds the text's length.
#[derive(Clone)]
struct Scrubber(Option<std::sync::Arc<str>>);

impl Scrubber {
    fn clean(&self, text: &str) -> String {
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

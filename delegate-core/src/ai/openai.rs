//! The OpenAI-compatible chat provider on async-openai: streamed replies with usage, retries
//! before the first token only, one deadline for the whole reply, errors free of secrets.

use super::endpoint::{Endpoint, EndpointSettings, Failure, Role, Scrubber};
use crate::chat::{ChatChunk, ChatModel, ChatRequest, ChatStream, MessageRole, TokenUsage};
use crate::config::AiConfig;
use crate::error::{Error, Result};
use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
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
pub(crate) const RETRY_BASE: Duration = Duration::from_millis(200);

/// How the chat provider names itself in errors and logs.
const CHAT_ROLE: Role = Role {
    label: "AI provider",
    dependency: "ai provider",
    key_var: "OPENAI_API_KEY",
    base_var: "OPENAI_BASE_URL",
};

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
    endpoint: Endpoint,
    default_model: String,
    timeout: Duration,
    max_retries: u32,
    retry_base: Duration,
}

impl fmt::Debug for OpenAiModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiModel")
            .field("endpoint", &self.endpoint)
            .field("default_model", &self.default_model)
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .finish_non_exhaustive()
    }
}

impl OpenAiModel {
    /// A provider for `config`: its base URL (default
    /// [`DEFAULT_BASE_URL`](crate::ai::DEFAULT_BASE_URL)), API key (sent as
    /// `Authorization: Bearer …`, or as Azure's `api-key` header with
    /// `key_header = "api-key"`; with none, no key header at all), organization header,
    /// model, deadline and retries.
    ///
    /// Fails with [`Error::Invalid`] when the base URL is not `http(s)://…`, the timeout is 0,
    /// or the key or organization cannot be sent in an HTTP header.
    pub fn new(config: &AiConfig) -> Result<Self> {
        let endpoint = Endpoint::new(EndpointSettings {
            base_url: config.base_url.as_deref(),
            default_base: DEFAULT_BASE_URL,
            api_key: config.api_key.as_ref(),
            key_header: config.key_header,
            organization: config.organization.as_deref(),
            timeout: config.timeout(),
            role: CHAT_ROLE,
        })?;
        Ok(Self {
            client: endpoint.openai_client(),
            endpoint,
            default_model: config.model.clone(),
            timeout: config.timeout(),
            max_retries: config.max_retries,
            retry_base: RETRY_BASE,
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
        &self.endpoint.base_url
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
        self.endpoint
            .retrying(self.max_retries, self.retry_base, deadline, || {
                self.attempt(body)
            })
            .await
    }

    /// One request, read up to its first chunk.
    async fn attempt(&self, body: &CreateChatCompletionRequest) -> Result<Reading, Failure> {
        let stream = self
            .client
            .chat()
            .create_stream(body.clone())
            .await
            .map_err(|e| self.endpoint.classify(e))?;
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
                Some(Err(e)) => return Err(self.endpoint.classify(e)),
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
        Ok(reading.into_stream(deadline, self.timed_out(), self.endpoint.scrubber.clone()))
    }

    fn name(&self) -> &str {
        "openai"
    }

    /// `GET {base}/models`: any answer but a refusal of the credentials or a server error
    /// means the provider is reachable (a server without that route answers 404).
    async fn probe(&self) -> Result<()> {
        self.endpoint.probe().await
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

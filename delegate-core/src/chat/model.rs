//! The `ChatModel` provider trait: a streamed chat completion.

use super::{MessageRole, TokenUsage};
use crate::error::Result;
use async_trait::async_trait;
use futures::stream::BoxStream;

/// One turn of the context sent to the model.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatTurn {
    /// `None` for the system prompt.
    pub role: Option<MessageRole>,
    /// The text.
    pub content: String,
}

/// A chat completion request.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    /// The model name.
    pub model: String,
    /// The context, system prompt first, oldest turn first.
    pub turns: Vec<ChatTurn>,
    /// Sampling temperature, if set.
    pub temperature: Option<f32>,
    /// The most completion tokens wanted, if set.
    pub max_tokens: Option<u32>,
}

/// A piece of a streamed completion.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatChunk {
    /// More text.
    Delta(String),
    /// The tokens the call used (at the end of the stream).
    Usage(TokenUsage),
}

/// A streamed completion: chunks until the model finishes; an `Err` item ends it early.
pub type ChatStream = BoxStream<'static, Result<ChatChunk>>;

/// An AI chat provider (OpenAI-compatible, or the offline echo).
#[async_trait]
pub trait ChatModel: Send + Sync + 'static {
    /// Starts a completion. Errors before the first chunk (after the provider's own retries)
    /// are returned here: [`crate::Error::Upstream`], or [`crate::Error::Unavailable`] when
    /// the provider is unreachable.
    async fn stream(&self, request: ChatRequest) -> Result<ChatStream>;
    /// A label for health checks and logs ("openai", "echo").
    fn name(&self) -> &str;
    /// A cheap round trip to the provider, for health checks; the default asks nothing (a
    /// provider in process, like the echo).
    async fn probe(&self) -> Result<()> {
        Ok(())
    }
}

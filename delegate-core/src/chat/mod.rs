//! Chat: conversations ("chat sessions") and their messages, the `ConversationStore` backend
//! trait, the `ChatModel` provider trait, and the chat service.

mod context;
mod model;
mod observe;
mod reply;
mod service;
mod store;

pub use crate::paging::{MAX_PAGE, Page};
pub use model::{ChatChunk, ChatModel, ChatRequest, ChatStream, ChatTurn};
pub use reply::{Ended, Reply, ReplyEvent, Sent};
pub use service::{ChatService, ChatSettings, MAX_MESSAGE_CHARS, NewChatSession};
pub use store::ConversationStore;

use crate::ids::{ChatSessionId, MessageId, UserId};
use chrono::{DateTime, Utc};

/// A conversation between a user and the assistant.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ChatSession {
    /// Its id.
    pub id: ChatSessionId,
    /// The owner; nobody else can reach it.
    pub user_id: UserId,
    /// A title for lists.
    pub title: String,
    /// The model to use (default: the provider's configured model).
    pub model: Option<String>,
    /// The system prompt sent before the messages.
    pub system_prompt: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change (rename or new message).
    pub updated_at: DateTime<Utc>,
}

impl ChatSession {
    /// A new session of `user_id`, created at `now`.
    pub fn new(user_id: UserId, title: impl Into<String>, now: DateTime<Utc>) -> Self {
        Self {
            id: ChatSessionId::new(),
            user_id,
            title: title.into(),
            model: None,
            system_prompt: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// The same session with a model.
    pub fn with_model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// The same session with a system prompt.
    pub fn with_system_prompt(mut self, prompt: impl Into<String>) -> Self {
        self.system_prompt = Some(prompt.into());
        self
    }
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageRole {
    /// The user.
    User,
    /// The AI.
    Assistant,
}

/// Whether a message is whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageStatus {
    /// Whole (every user message; an assistant reply that finished).
    Complete,
    /// An assistant reply that stopped early (the upstream broke off) or is still streaming;
    /// the content is what arrived.
    Partial,
    /// An assistant reply that failed (upstream error or timeout); the content is what arrived.
    Failed,
    /// An assistant reply the client abandoned; the content is what arrived.
    Cancelled,
}

/// Where a message came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageSource {
    /// Typed (and every assistant reply).
    #[default]
    Text,
    /// Spoken by the user and transcribed (the voice pipeline).
    Voice,
}

crate::text_enum::text_enum!(MessageRole, "role", User = "user", Assistant = "assistant");
crate::text_enum::text_enum!(MessageSource, "source", Text = "text", Voice = "voice");
crate::text_enum::text_enum!(
    MessageStatus,
    "status",
    Complete = "complete",
    Partial = "partial",
    Failed = "failed",
    Cancelled = "cancelled"
);

/// Tokens one model call used, as the provider reported them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TokenUsage {
    /// Prompt (input) tokens.
    pub prompt_tokens: u32,
    /// Completion (output) tokens.
    pub completion_tokens: u32,
}

/// A message of a chat session.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Message {
    /// Its id (time-ordered: messages sort by id).
    pub id: MessageId,
    /// The session.
    pub session_id: ChatSessionId,
    /// Who wrote it.
    pub role: MessageRole,
    /// The text.
    pub content: String,
    /// Whether it is whole.
    pub status: MessageStatus,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Tokens used producing it (assistant messages).
    pub usage: Option<TokenUsage>,
    /// Where it came from.
    #[serde(default)]
    pub source: MessageSource,
}

impl Message {
    /// A new message in `session_id`, created at `now`.
    pub fn new(
        session_id: ChatSessionId,
        role: MessageRole,
        content: impl Into<String>,
        status: MessageStatus,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id: MessageId::new(),
            session_id,
            role,
            content: content.into(),
            status,
            created_at: now,
            usage: None,
            source: MessageSource::Text,
        }
    }
}

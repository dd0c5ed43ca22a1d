//! Bodies of /api/v1/sessions: chat sessions, their messages, and sent messages.

use super::time;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// POST /api/v1/sessions
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateChatSessionRequest {
    /// Title (default "New chat").
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub title: Option<String>,
    /// Model (default: the configured one); one the caller's tier may use.
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub model: Option<String>,
    /// System prompt.
    #[schema(max_length = 8000)]
    pub system_prompt: Option<String>,
}

/// PATCH /api/v1/sessions/{id}
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RenameChatSessionRequest {
    /// The new title.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub title: Option<String>,
}

/// POST /api/v1/sessions/{id}/messages
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SendMessageRequest {
    /// The user's message.
    #[schema(min_length = 1, max_length = 32000, pattern = r"\S")]
    pub content: String,
    /// Stream the reply as server-sent events (also with `Accept: text/event-stream`).
    #[serde(default)]
    pub stream: bool,
}

/// A chat session.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatSessionBody {
    /// Session id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Model, if set.
    pub model: Option<String>,
    /// System prompt, if set.
    pub system_prompt: Option<String>,
    /// Creation time.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
}

impl From<delegate_core::chat::ChatSession> for ChatSessionBody {
    fn from(s: delegate_core::chat::ChatSession) -> Self {
        Self {
            id: s.id.to_string(),
            title: s.title,
            model: s.model,
            system_prompt: s.system_prompt,
            created_at: time(s.created_at),
            updated_at: time(s.updated_at),
        }
    }
}

/// Tokens a reply used.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenUsageBody {
    /// Prompt tokens.
    pub prompt_tokens: u32,
    /// Completion tokens.
    pub completion_tokens: u32,
    /// Their sum.
    pub total_tokens: u32,
}

impl From<delegate_core::chat::TokenUsage> for TokenUsageBody {
    fn from(u: delegate_core::chat::TokenUsage) -> Self {
        Self {
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
            total_tokens: u.prompt_tokens.saturating_add(u.completion_tokens),
        }
    }
}

/// A chat message.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageBody {
    /// Message id.
    pub id: String,
    /// Its session.
    pub session_id: String,
    /// `user` or `assistant`.
    #[schema(example = "assistant")]
    pub role: &'static str,
    /// The text.
    pub content: String,
    /// `complete`, `partial`, `failed` or `cancelled`.
    #[schema(example = "complete")]
    pub status: &'static str,
    /// Creation time.
    pub created_at: String,
    /// Tokens used (assistant messages).
    pub usage: Option<TokenUsageBody>,
    /// `text` (typed) or `voice` (spoken and transcribed).
    #[schema(example = "text")]
    pub source: &'static str,
}

impl From<delegate_core::chat::Message> for MessageBody {
    fn from(m: delegate_core::chat::Message) -> Self {
        Self {
            id: m.id.to_string(),
            session_id: m.session_id.to_string(),
            role: m.role.as_str(),
            content: m.content,
            status: m.status.as_str(),
            created_at: time(m.created_at),
            usage: m.usage.map(Into::into),
            source: m.source.as_str(),
        }
    }
}

/// A page of chat sessions.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatSessionPage {
    /// Newest first.
    pub items: Vec<ChatSessionBody>,
    /// The next page's cursor, or null.
    pub next_cursor: Option<String>,
}

/// A page of messages.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessagePage {
    /// Oldest first.
    pub items: Vec<MessageBody>,
    /// The next page's cursor, or null.
    pub next_cursor: Option<String>,
}

/// The answer to a message sent without streaming.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SentBody {
    /// The stored user message.
    pub user_message: MessageBody,
    /// The stored reply.
    pub assistant_message: MessageBody,
    /// Tokens the reply used.
    pub usage: Option<TokenUsageBody>,
}

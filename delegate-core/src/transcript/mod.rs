//! Transcripts: saved conversations (from a chat, later from voice, or written by hand),
//! tagged, searched with ranked full text, exported; the `TranscriptStore` backend trait and
//! the transcripts service.

mod export;
pub mod query;
mod service;
mod snippet;
mod store;

pub use export::ExportFormat;
pub use query::SearchQuery;
pub use service::{MAX_CONTENT_CHARS, MAX_TAGS, MAX_TITLE_CHARS, TranscriptsService};
pub use snippet::Snippet;
pub use store::{RANK_WINDOW, TranscriptChange, TranscriptFilter, TranscriptStore};

use crate::ids::{ChatSessionId, TranscriptId, UserId};
use chrono::{DateTime, Utc};

/// Where a transcript came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TranscriptSource {
    /// Built from a chat session's messages.
    Chat,
    /// Built from a voice conversation.
    Voice,
    /// Written by the user.
    Manual,
}

crate::text_enum::text_enum!(
    TranscriptSource,
    "source",
    Chat = "chat",
    Voice = "voice",
    Manual = "manual"
);

/// A saved transcript. The serde form is the cache format, not a wire type.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Transcript {
    /// Its id.
    pub id: TranscriptId,
    /// The owner; nobody else can reach it.
    pub user_id: UserId,
    /// The chat session it was built from, if any.
    pub session_id: Option<ChatSessionId>,
    /// Title.
    pub title: String,
    /// The text.
    pub content: String,
    /// Tags (lowercased, distinct, in the order given).
    pub tags: Vec<String>,
    /// Where it came from.
    pub source: TranscriptSource,
    /// Words in the content.
    pub word_count: u32,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl Transcript {
    /// A new transcript of `user_id` at `now`; the word count is computed from `content`.
    pub fn new(
        user_id: UserId,
        title: impl Into<String>,
        content: impl Into<String>,
        source: TranscriptSource,
        now: DateTime<Utc>,
    ) -> Self {
        let content = content.into();
        Self {
            id: TranscriptId::new(),
            user_id,
            session_id: None,
            title: title.into(),
            word_count: word_count(&content),
            content,
            tags: Vec::new(),
            source,
            created_at: now,
            updated_at: now,
        }
    }

    /// The same transcript built from `session`.
    pub fn with_session(mut self, session: ChatSessionId) -> Self {
        self.session_id = Some(session);
        self
    }

    /// The same transcript with `tags`.
    pub fn with_tags(mut self, tags: Vec<String>) -> Self {
        self.tags = tags;
        self
    }
}

/// One hit of a search: the transcript, its relevance (higher is better, comparable only
/// within one search), and a snippet around the best match with its highlighted ranges.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    /// The transcript.
    pub transcript: Transcript,
    /// Relevance.
    pub score: f64,
    /// The snippet and its highlights.
    pub snippet: Snippet,
}

/// Words in `text` (runs of letters and digits).
pub fn word_count(text: &str) -> u32 {
    u32::try_from(query::words(text).len()).unwrap_or(u32::MAX)
}

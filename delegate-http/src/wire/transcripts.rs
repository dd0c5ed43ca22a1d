//! Bodies of /api/v1/transcripts: transcripts, their list items (with an excerpt), search
//! hits (snippet and highlight ranges), and the requests.

use super::time;
use delegate_core::transcript::{SearchHit, Transcript};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Characters of content a list item's excerpt keeps.
const EXCERPT_CHARS: usize = 200;

/// A tag: 1–50 characters, stored lowercased.
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct TagName(pub String);

impl utoipa::PartialSchema for TagName {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .min_length(Some(1))
            .max_length(Some(50))
            .pattern(Some(r"\S"))
            .into()
    }
}

impl ToSchema for TagName {}

/// POST /api/v1/transcripts: from a chat, or written by hand.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum CreateTranscriptRequest {
    /// Built from the caller's chat session: its messages, speaker-labelled.
    #[serde(rename_all = "camelCase")]
    FromChat {
        /// The chat session (UUID).
        #[schema(format = Uuid)]
        session_id: String,
        /// Title (default: the chat's).
        #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
        title: Option<String>,
        /// Tags (at most 20).
        #[schema(max_items = 20)]
        tags: Option<Vec<TagName>>,
    },
    /// Written by hand.
    Manual {
        /// Title, 1–200 characters.
        #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
        title: String,
        /// The text, 1–200,000 characters.
        #[schema(min_length = 1, max_length = 200000, pattern = r"\S")]
        content: String,
        /// Tags (at most 20).
        #[schema(max_items = 20)]
        tags: Option<Vec<TagName>>,
    },
}

/// PATCH /api/v1/transcripts/{id}
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateTranscriptRequest {
    /// New title.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub title: Option<String>,
    /// New content.
    #[schema(min_length = 1, max_length = 200000, pattern = r"\S")]
    pub content: Option<String>,
    /// New tags (replacing the old ones).
    #[schema(max_items = 20)]
    pub tags: Option<Vec<TagName>>,
}

/// A transcript.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TranscriptBody {
    /// Transcript id (UUID).
    pub id: String,
    /// The chat session it was built from.
    pub session_id: Option<String>,
    /// Title.
    pub title: String,
    /// The text.
    pub content: String,
    /// Tags.
    pub tags: Vec<String>,
    /// `chat`, `voice` or `manual`.
    pub source: String,
    /// Words in the content.
    pub word_count: u32,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// RFC 3339 UTC.
    pub updated_at: String,
}

impl From<Transcript> for TranscriptBody {
    fn from(t: Transcript) -> Self {
        Self {
            id: t.id.to_string(),
            session_id: t.session_id.map(|s| s.to_string()),
            title: t.title,
            content: t.content,
            tags: t.tags,
            source: t.source.as_str().to_owned(),
            word_count: t.word_count,
            created_at: time(t.created_at),
            updated_at: time(t.updated_at),
        }
    }
}

/// A transcript in a list: an excerpt instead of the content.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TranscriptSummaryBody {
    /// Transcript id (UUID).
    pub id: String,
    /// The chat session it was built from.
    pub session_id: Option<String>,
    /// Title.
    pub title: String,
    /// The first characters of the content.
    pub excerpt: String,
    /// Tags.
    pub tags: Vec<String>,
    /// `chat`, `voice` or `manual`.
    pub source: String,
    /// Words in the content.
    pub word_count: u32,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// RFC 3339 UTC.
    pub updated_at: String,
}

impl From<Transcript> for TranscriptSummaryBody {
    fn from(t: Transcript) -> Self {
        let mut excerpt: String = t.content.chars().take(EXCERPT_CHARS).collect();
        if t.content.chars().nth(EXCERPT_CHARS).is_some() {
            excerpt.push('…');
        }
        Self {
            id: t.id.to_string(),
            session_id: t.session_id.map(|s| s.to_string()),
            title: t.title,
            excerpt,
            tags: t.tags,
            source: t.source.as_str().to_owned(),
            word_count: t.word_count,
            created_at: time(t.created_at),
            updated_at: time(t.updated_at),
        }
    }
}

/// GET /api/v1/transcripts
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TranscriptPage {
    /// Newest first.
    pub items: Vec<TranscriptSummaryBody>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// Query of GET /api/v1/transcripts.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TranscriptListQuery {
    /// Only transcripts with this tag.
    #[param(min_length = 1, max_length = 50, pattern = r"\S")]
    pub tag: Option<String>,
    /// Created at or after (RFC 3339).
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// Created before (RFC 3339).
    #[param(format = DateTime)]
    pub to: Option<String>,
    /// Page size, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// The `nextCursor` of the previous page.
    #[param(format = Uuid)]
    pub cursor: Option<String>,
}

/// Query of GET /api/v1/transcripts/search.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TranscriptSearchQuery {
    /// Words (all must match), "quoted phrases", `-excluded`, `OR`, `prefix*` (the last word
    /// is a prefix while typing); anything else is literal text. 1–256 characters with at
    /// least one word to find (exclusions or punctuation alone answer 422).
    #[param(min_length = 1, max_length = 256)]
    pub q: String,
    /// Only transcripts with this tag.
    #[param(min_length = 1, max_length = 50, pattern = r"\S")]
    pub tag: Option<String>,
    /// Page size, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// The `nextCursor` of the previous page.
    #[param(pattern = "^[0-9]{1,5}$")]
    pub cursor: Option<String>,
}

/// One search hit.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SearchHitBody {
    /// The transcript (with an excerpt, not the content).
    pub transcript: TranscriptSummaryBody,
    /// Relevance: higher is better, comparable within one search.
    pub score: f64,
    /// Text around the best match.
    pub snippet: String,
    /// `[start, end)` character offsets into `snippet` of the matched words.
    pub highlights: Vec<[usize; 2]>,
}

impl From<SearchHit> for SearchHitBody {
    fn from(h: SearchHit) -> Self {
        Self {
            transcript: h.transcript.into(),
            score: h.score,
            snippet: h.snippet.text,
            highlights: h.snippet.highlights,
        }
    }
}

/// GET /api/v1/transcripts/search
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SearchPage {
    /// Best first.
    pub items: Vec<SearchHitBody>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// Query of GET /api/v1/transcripts/{id}/export.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `markdown` (default), `text` or `json`.
    #[param(pattern = "^(markdown|text|json)$")]
    pub format: Option<String>,
}

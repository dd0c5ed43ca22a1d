//! The `TranscriptStore` backend trait: owner-scoped transcripts with ranked full-text search.

use super::{SearchQuery, Transcript};
use crate::error::Result;
use crate::ids::{TranscriptId, UserId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// How many of a user's matches a search ranks: the newest this many (by creation). A word found in thousands of one user's transcripts says little about which of them
/// is wanted, and ranking every match would cost time in proportion to them; up to this many,
/// the ranking is exact, past it older matches are left out of the results (a narrower query or
/// a tag reaches them: the window holds the newest matches with the tag). Every backend applies the same window.
pub const RANK_WINDOW: u32 = 500;

/// Which of a user's transcripts [`TranscriptStore::list`] returns, newest (highest id) first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TranscriptFilter {
    /// Only transcripts with this tag.
    pub tag: Option<String>,
    /// Created at or after.
    pub from: Option<DateTime<Utc>>,
    /// Created before.
    pub to: Option<DateTime<Utc>>,
    /// Only transcripts older than this one (the previous page's last).
    pub before: Option<TranscriptId>,
}

impl TranscriptFilter {
    /// Whether `t` passes the filter (not the paging): the reference every store agrees with.
    pub fn matches(&self, t: &Transcript) -> bool {
        self.tag.as_ref().is_none_or(|tag| t.tags.contains(tag))
            && self.from.is_none_or(|from| t.created_at >= from)
            && self.to.is_none_or(|to| t.created_at < to)
    }
}

/// A change to a transcript; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TranscriptChange {
    /// New title.
    pub title: Option<String>,
    /// New content (the word count follows).
    pub content: Option<String>,
    /// New tags.
    pub tags: Option<Vec<String>>,
}

/// Durable storage of transcripts. Every read or write names the owner: another user's
/// transcript behaves exactly like a missing one. Search indexes are kept in step with every
/// write, in the same transaction.
#[async_trait]
pub trait TranscriptStore: Send + Sync + 'static {
    /// Stores a new transcript.
    async fn insert_transcript(&self, transcript: &Transcript) -> Result<()>;
    /// The transcript, if it exists and belongs to `user`.
    async fn get_transcript(&self, user: UserId, id: TranscriptId) -> Result<Option<Transcript>>;
    /// Up to `limit` of the user's transcripts matching `filter`, newest first.
    async fn list_transcripts(
        &self,
        user: UserId,
        filter: &TranscriptFilter,
        limit: u32,
    ) -> Result<Vec<Transcript>>;
    /// Applies `change` at `now`; the transcript after it, or `None` when `user` has no such
    /// transcript.
    async fn update_transcript(
        &self,
        user: UserId,
        id: TranscriptId,
        change: &TranscriptChange,
        now: DateTime<Utc>,
    ) -> Result<Option<Transcript>>;
    /// Deletes the user's transcript; false if there is no such transcript of `user`.
    async fn delete_transcript(&self, user: UserId, id: TranscriptId) -> Result<bool>;
    /// The user's transcripts matching `query` (and `tag`), best first: title matches weigh
    /// more than content matches; ties newest first. Only the newest [`RANK_WINDOW`] matches
    /// (with the tag, when one is given) are ranked. `offset` hits are skipped, then up to
    /// `limit` returned, each with its score (higher is better).
    async fn search_transcripts(
        &self,
        user: UserId,
        query: &SearchQuery,
        tag: Option<&str>,
        offset: u32,
        limit: u32,
    ) -> Result<Vec<(Transcript, f64)>>;
}

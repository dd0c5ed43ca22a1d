//! The in-memory `TranscriptStore`: a scan with the query's own matcher, scored by how often
//! the query's words occur (title occurrences weigh more).

use super::store::MemoryStore;
use crate::error::Result;
use crate::ids::{TranscriptId, UserId};
use crate::transcript::query::words;
use crate::transcript::{
    SearchQuery, Transcript, TranscriptChange, TranscriptFilter, TranscriptStore, word_count,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// How much more a title occurrence counts than a content one.
const TITLE_WEIGHT: f64 = 10.0;

#[async_trait]
impl TranscriptStore for MemoryStore {
    async fn insert_transcript(&self, transcript: &Transcript) -> Result<()> {
        self.state()
            .transcripts
            .insert(transcript.id, transcript.clone());
        Ok(())
    }

    async fn get_transcript(&self, user: UserId, id: TranscriptId) -> Result<Option<Transcript>> {
        Ok(self
            .state()
            .transcripts
            .get(&id)
            .filter(|t| t.user_id == user)
            .cloned())
    }

    async fn list_transcripts(
        &self,
        user: UserId,
        filter: &TranscriptFilter,
        limit: u32,
    ) -> Result<Vec<Transcript>> {
        let state = self.state();
        Ok(state
            .transcripts
            .values()
            .rev()
            .filter(|t| t.user_id == user && filter.before.is_none_or(|b| t.id < b))
            .filter(|t| filter.matches(t))
            .take(limit as usize)
            .cloned()
            .collect())
    }

    async fn update_transcript(
        &self,
        user: UserId,
        id: TranscriptId,
        change: &TranscriptChange,
        now: DateTime<Utc>,
    ) -> Result<Option<Transcript>> {
        let mut state = self.state();
        let Some(t) = state.transcripts.get_mut(&id).filter(|t| t.user_id == user) else {
            return Ok(None);
        };
        if let Some(title) = &change.title {
            t.title = title.clone();
        }
        if let Some(content) = &change.content {
            t.content = content.clone();
            t.word_count = word_count(content);
        }
        if let Some(tags) = &change.tags {
            t.tags = tags.clone();
        }
        t.updated_at = now;
        Ok(Some(t.clone()))
    }

    async fn delete_transcript(&self, user: UserId, id: TranscriptId) -> Result<bool> {
        let mut state = self.state();
        let owned = state
            .transcripts
            .get(&id)
            .is_some_and(|t| t.user_id == user);
        if owned {
            state.transcripts.remove(&id);
        }
        Ok(owned)
    }

    async fn search_transcripts(
        &self,
        user: UserId,
        query: &SearchQuery,
        tag: Option<&str>,
        offset: u32,
        limit: u32,
    ) -> Result<Vec<(Transcript, f64)>> {
        let state = self.state();
        let wanted = query.positive_words();
        let occurrences = |text: &str| {
            words(text)
                .iter()
                .filter(|(w, _, _)| {
                    wanted
                        .iter()
                        .any(|(q, prefix)| w == q || (*prefix && w.starts_with(q.as_str())))
                })
                .count() as f64
        };
        let mut hits: Vec<(Transcript, f64)> = state
            .transcripts
            .values()
            .filter(|t| t.user_id == user && tag.is_none_or(|tag| t.tags.iter().any(|x| x == tag)))
            .filter(|t| query.matches(&format!("{}\n{}", t.title, t.content)))
            .map(|t| {
                let score = TITLE_WEIGHT * occurrences(&t.title) + occurrences(&t.content);
                (t.clone(), score)
            })
            .collect();
        hits.sort_by(|a, b| b.1.total_cmp(&a.1).then(b.0.id.cmp(&a.0.id)));
        Ok(hits
            .into_iter()
            .skip(offset as usize)
            .take(limit as usize)
            .collect())
    }
}

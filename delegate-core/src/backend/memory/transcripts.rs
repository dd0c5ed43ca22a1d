//! The in-memory `TranscriptStore`: a scan with the query's own matcher, ranked by BM25 as
//! SQLite FTS5's `bm25()` computes it (title hits weigh more), over the owner's transcripts.

use super::store::MemoryStore;
use crate::error::Result;
use crate::ids::{TranscriptId, UserId};
use crate::transcript::query::{Term, term_hits, words};
use crate::transcript::{
    RANK_WINDOW, SearchQuery, Transcript, TranscriptChange, TranscriptFilter, TranscriptStore,
    word_count,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// How much more a title hit counts than a content one (FTS5's column weight).
const TITLE_WEIGHT: f64 = 10.0;
/// BM25's term-frequency saturation, as in FTS5.
const K1: f64 = 1.2;
/// BM25's length normalisation, as in FTS5.
const B: f64 = 0.75;

/// A transcript with its title's words followed by its content's (split once, for matching
/// and for ranking).
struct Tokenized<'a> {
    transcript: &'a Transcript,
    words: Vec<String>,
    /// How many of `words` are the title's.
    title_words: usize,
}

impl<'a> Tokenized<'a> {
    fn new(transcript: &'a Transcript) -> Self {
        let mut words = tokens(&transcript.title);
        let title_words = words.len();
        words.extend(tokens(&transcript.content));
        Self {
            transcript,
            words,
            title_words,
        }
    }

    /// Words in title and content together (BM25's document length).
    fn length(&self) -> f64 {
        self.words.len() as f64
    }

    /// The weighted hits of `term`: each title hit counts [`TITLE_WEIGHT`], each content hit 1.
    fn frequency(&self, term: &Term) -> f64 {
        let (title, content) = self.words.split_at(self.title_words);
        TITLE_WEIGHT * term_hits(term, title) as f64 + term_hits(term, content) as f64
    }
}

/// The words of `text`, without their ranges.
fn tokens(text: &str) -> Vec<String> {
    words(text).into_iter().map(|(word, _, _)| word).collect()
}

/// FTS5's inverse document frequency of a term found in `containing` of `docs` documents:
/// `ln((N - n + 0.5) / (n + 0.5))`, or 1e-6 when that is not positive (a very common term).
fn idf(docs: usize, containing: usize) -> f64 {
    let (docs, containing) = (docs as f64, containing as f64);
    let idf = ((docs - containing + 0.5) / (containing + 0.5)).ln();
    if idf > 0.0 { idf } else { 1e-6 }
}

/// One term's BM25 score in one document, as FTS5 computes it: `idf × f × (k1 + 1) /
/// (f + k1 × (1 − b + b × length / avg_length))`, where `f` is the term's weighted hits and
/// `length` the document's length in words.
fn bm25(idf: f64, frequency: f64, length: f64, avg_length: f64) -> f64 {
    idf * frequency * (K1 + 1.0) / (frequency + K1 * (1.0 - B + B * length / avg_length))
}

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
        // The owner's transcripts are the collection: they give N, n and the mean length.
        let docs: Vec<Tokenized<'_>> = state
            .transcripts
            .values()
            .filter(|t| t.user_id == user)
            .map(Tokenized::new)
            .collect();
        let avg_length = docs.iter().map(Tokenized::length).sum::<f64>() / docs.len() as f64;
        let terms: Vec<(&Term, f64)> = query
            .all
            .iter()
            .flatten()
            .map(|term| {
                let containing = docs.iter().filter(|d| d.frequency(term) > 0.0).count();
                (term, idf(docs.len(), containing))
            })
            .collect();
        // The newest RANK_WINDOW matches (with the tag) are ranked, as on every backend.
        let mut hits: Vec<(Transcript, f64)> = docs
            .iter()
            .rev()
            .filter(|d| tag.is_none_or(|tag| d.transcript.tags.iter().any(|x| x == tag)))
            .filter(|d| query.matches_words(&d.words))
            .take(RANK_WINDOW as usize)
            .map(|d| {
                let score = terms
                    .iter()
                    .map(|&(term, weight)| bm25(weight, d.frequency(term), d.length(), avg_length))
                    .sum::<f64>();
                (d.transcript.clone(), score)
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

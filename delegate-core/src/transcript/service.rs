//! The transcripts service: create (from a chat or by hand), list (the first page cached per
//! user, longer for higher tiers), read, change, delete, search and export — owner-scoped,
//! with a bus event for every write.

use super::{
    ExportFormat, SearchHit, SearchQuery, Snippet, Transcript, TranscriptChange, TranscriptFilter,
    TranscriptSource, TranscriptStore,
};
use crate::auth::AuthContext;
use crate::bus::EventBus;
use crate::cache::{Cache, cached_json, forget, keys};
use crate::chat::{ConversationStore, MAX_PAGE, MessageRole, MessageSource};
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::ids::{ChatSessionId, TranscriptId, UserId};
use crate::paging::{Page, check_limit, page, parse_cursor};
use crate::realtime::{RealtimeService, kinds, payload};
use crate::users::Tier;
use std::sync::Arc;
use std::time::Duration;

/// Longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest content, in characters (a transcript built from a longer chat is refused).
pub const MAX_CONTENT_CHARS: usize = 200_000;
/// Most tags on one transcript.
pub const MAX_TAGS: usize = 20;
/// Longest tag, in characters.
const MAX_TAG_CHARS: usize = 50;
/// The deepest a search pages (a cursor is an offset: five digits at most).
const MAX_OFFSET: u32 = 99_999;
/// The bus topic transcript events travel on (`{"type","userId","transcriptId"}`).
pub(crate) const TRANSCRIPTS_TOPIC: &str = "transcripts";

/// Transcripts of users.
#[derive(Clone)]
pub struct TranscriptsService {
    store: Arc<dyn TranscriptStore>,
    chats: Arc<dyn ConversationStore>,
    cache: Arc<dyn Cache>,
    bus: Arc<dyn EventBus>,
    /// Where the user's connections learn what changed.
    realtime: RealtimeService,
    clock: Arc<dyn Clock>,
    /// How long a first page stays cached, by tier.
    ttls: [Duration; 3],
}

impl TranscriptsService {
    pub(crate) fn new(
        store: Arc<dyn TranscriptStore>,
        chats: Arc<dyn ConversationStore>,
        cache: Arc<dyn Cache>,
        bus: Arc<dyn EventBus>,
        realtime: RealtimeService,
        clock: Arc<dyn Clock>,
        ttls: [Duration; 3],
    ) -> Self {
        Self {
            store,
            chats,
            cache,
            bus,
            realtime,
            clock,
            ttls,
        }
    }

    /// Builds a transcript from the caller's chat session: every message, oldest first,
    /// labelled with its speaker and time (`User (voice)` for spoken messages). `title`
    /// defaults to the chat's. Its source is `voice` when the user spoke in the chat (the
    /// voice pipeline), `chat` otherwise.
    pub async fn create_from_chat(
        &self,
        caller: &AuthContext,
        session: ChatSessionId,
        title: Option<String>,
        tags: Vec<String>,
    ) -> Result<Transcript> {
        let user = caller.user_id;
        let chat = self
            .chats
            .get_chat_session(user, session)
            .await?
            .ok_or(Error::NotFound("session"))?;
        let mut content = String::new();
        let mut chars = 0;
        let mut after = None;
        let mut spoken = false;
        loop {
            let messages = self.chats.list_messages(session, after, MAX_PAGE).await?;
            for m in &messages {
                let speaker = match (m.role, m.source) {
                    (MessageRole::User, MessageSource::Voice) => "User (voice)",
                    (MessageRole::User, MessageSource::Text) => "User",
                    (MessageRole::Assistant, _) => "Assistant",
                };
                spoken |= m.source == MessageSource::Voice;
                let at = m.created_at.format("%Y-%m-%d %H:%M:%S UTC");
                let line = format!("[{at}] {speaker}: {}\n\n", m.content);
                chars += line.chars().count();
                content.push_str(&line);
                if chars > MAX_CONTENT_CHARS {
                    return Err(too_long("sessionId"));
                }
            }
            after = messages.last().map(|m| m.id);
            if messages.len() < MAX_PAGE as usize {
                break;
            }
        }
        if content.trim().is_empty() {
            return Err(Error::invalid(
                "sessionId",
                "the chat has no messages to save",
            ));
        }
        let title = check_title(title.as_deref().unwrap_or(&chat.title))?;
        let transcript = Transcript::new(
            user,
            title,
            content.trim_end(),
            if spoken {
                TranscriptSource::Voice
            } else {
                TranscriptSource::Chat
            },
            self.clock.now(),
        )
        .with_session(session)
        .with_tags(check_tags(tags)?);
        self.insert(transcript).await
    }

    /// Creates a transcript from the caller's own text.
    pub async fn create_manual(
        &self,
        caller: &AuthContext,
        title: &str,
        content: &str,
        tags: Vec<String>,
    ) -> Result<Transcript> {
        let transcript = Transcript::new(
            caller.user_id,
            check_title(title)?,
            check_content(content)?,
            TranscriptSource::Manual,
            self.clock.now(),
        )
        .with_tags(check_tags(tags)?);
        self.insert(transcript).await
    }

    async fn insert(&self, transcript: Transcript) -> Result<Transcript> {
        self.store.insert_transcript(&transcript).await?;
        self.changed(transcript.user_id, transcript.id, "created")
            .await;
        self.realtime
            .notify(
                transcript.user_id,
                kinds::TRANSCRIPT_CREATED,
                payload::transcript(&transcript),
            )
            .await;
        Ok(transcript)
    }

    /// A page of the caller's transcripts, newest first, filtered by tag and creation time;
    /// the unfiltered first page is cached (longer for higher tiers).
    pub async fn list(
        &self,
        caller: &AuthContext,
        mut filter: TranscriptFilter,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<Transcript>> {
        let limit = check_limit(limit)?;
        let user = caller.user_id;
        filter.tag = filter.tag.map(|t| normalize_tag(&t)).transpose()?;
        filter.before = cursor.map(parse_cursor::<TranscriptId>).transpose()?;
        let items = if filter == TranscriptFilter::default() {
            let store = self.store.clone();
            let mut items: Vec<Transcript> = cached_json(
                self.cache.as_ref(),
                &keys::transcripts(user),
                self.ttl(caller.tier),
                move || {
                    let store = store.clone();
                    Box::pin(async move {
                        store
                            .list_transcripts(user, &TranscriptFilter::default(), MAX_PAGE)
                            .await
                    })
                },
            )
            .await?;
            items.truncate(limit as usize);
            items
        } else {
            self.store.list_transcripts(user, &filter, limit).await?
        };
        Ok(page(items, limit, |t| t.id.to_string()))
    }

    /// The user's transcript, or [`Error::NotFound`] (also for another user's).
    pub async fn get(&self, user: UserId, id: TranscriptId) -> Result<Transcript> {
        self.store
            .get_transcript(user, id)
            .await?
            .ok_or(Error::NotFound("transcript"))
    }

    /// Changes the user's transcript's title, content or tags.
    pub async fn update(
        &self,
        user: UserId,
        id: TranscriptId,
        change: TranscriptChange,
    ) -> Result<Transcript> {
        let change = TranscriptChange {
            title: change.title.as_deref().map(check_title).transpose()?,
            content: change.content.as_deref().map(check_content).transpose()?,
            tags: change.tags.map(check_tags).transpose()?,
        };
        let updated = self
            .store
            .update_transcript(user, id, &change, self.clock.now())
            .await?
            .ok_or(Error::NotFound("transcript"))?;
        self.changed(user, id, "updated").await;
        self.realtime
            .notify(
                user,
                kinds::TRANSCRIPT_UPDATED,
                payload::transcript(&updated),
            )
            .await;
        Ok(updated)
    }

    /// Deletes the user's transcript.
    pub async fn delete(&self, user: UserId, id: TranscriptId) -> Result<()> {
        if !self.store.delete_transcript(user, id).await? {
            return Err(Error::NotFound("transcript"));
        }
        self.changed(user, id, "deleted").await;
        let data = serde_json::json!({ "id": id.to_string() });
        self.realtime
            .notify(user, kinds::TRANSCRIPT_DELETED, data)
            .await;
        Ok(())
    }

    /// The user's transcripts matching `q` (see [`SearchQuery`]), best first, with snippets;
    /// `cursor` is the `nextCursor` of the previous page.
    pub async fn search(
        &self,
        user: UserId,
        q: &str,
        tag: Option<&str>,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<SearchHit>> {
        let limit = check_limit(limit)?;
        let query = SearchQuery::parse(q)?;
        let tag = tag.map(normalize_tag).transpose()?;
        let offset = match cursor {
            None => 0,
            Some(c) => c
                .parse::<u32>()
                .ok()
                .filter(|o| *o <= MAX_OFFSET)
                .ok_or_else(|| Error::invalid("cursor", "is not a cursor this API gave"))?,
        };
        let found = self
            .store
            .search_transcripts(user, &query, tag.as_deref(), offset, limit)
            .await?;
        let full = found.len() == limit as usize;
        let items: Vec<SearchHit> = found
            .into_iter()
            .map(|(transcript, score)| SearchHit {
                snippet: Snippet::of(&transcript.content, &query),
                transcript,
                score,
            })
            .collect();
        let next_cursor = full.then(|| (offset + limit).to_string());
        Ok(Page { items, next_cursor })
    }

    /// The user's transcript rendered in `format`: (body, file name, content type).
    pub async fn export(
        &self,
        user: UserId,
        id: TranscriptId,
        format: ExportFormat,
    ) -> Result<(String, String, &'static str)> {
        let transcript = self.get(user, id).await?;
        let body = format.render(&transcript)?;
        Ok((body, format.file_name(&transcript), format.content_type()))
    }

    /// Every transcript of `user`, oldest first (data requests; the CLI's export).
    pub async fn all_of(&self, user: UserId) -> Result<Vec<Transcript>> {
        let mut all = Vec::new();
        let mut filter = TranscriptFilter::default();
        loop {
            let batch = self.store.list_transcripts(user, &filter, MAX_PAGE).await?;
            filter.before = batch.last().map(|t| t.id);
            let last = batch.len() < MAX_PAGE as usize;
            all.extend(batch);
            if last {
                break;
            }
        }
        all.reverse();
        Ok(all)
    }

    fn ttl(&self, tier: Tier) -> Duration {
        match tier {
            Tier::Free => self.ttls[0],
            Tier::Pro => self.ttls[1],
            Tier::Enterprise => self.ttls[2],
        }
    }

    /// After a write: the user's cached list goes (on every instance), and an event tells
    /// the user's other devices (the realtime stream will deliver it).
    async fn changed(&self, user: UserId, id: TranscriptId, kind: &str) {
        forget(self.cache.as_ref(), &[keys::transcripts(user)]).await;
        let event = serde_json::json!({
            "type": format!("transcript.{kind}"),
            "userId": user.to_string(),
            "transcriptId": id.to_string(),
        });
        if let Err(e) = self
            .bus
            .publish(TRANSCRIPTS_TOPIC, event.to_string().into_bytes())
            .await
        {
            tracing::warn!(error = %e.report(), "could not publish a transcript event");
        }
    }
}

fn too_long(field: &'static str) -> Error {
    Error::invalid(
        field,
        format!("the transcript would be longer than {MAX_CONTENT_CHARS} characters"),
    )
}

fn check_title(title: &str) -> Result<String> {
    let title = title.trim();
    if title.is_empty() {
        return Err(Error::invalid("title", "must not be empty"));
    }
    crate::text::check("title", title, MAX_TITLE_CHARS)?;
    Ok(title.to_owned())
}

fn check_content(content: &str) -> Result<String> {
    if content.trim().is_empty() {
        return Err(Error::invalid("content", "must not be empty"));
    }
    crate::text::check("content", content, MAX_CONTENT_CHARS)?;
    Ok(content.to_owned())
}

fn normalize_tag(tag: &str) -> Result<String> {
    let tag = tag.trim().to_lowercase();
    if tag.is_empty() {
        return Err(Error::invalid("tags", "a tag must not be empty"));
    }
    crate::text::check("tags", &tag, MAX_TAG_CHARS)?;
    Ok(tag)
}

/// Lowercased, trimmed, distinct tags (first occurrence kept), at most [`MAX_TAGS`].
fn check_tags(tags: Vec<String>) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for tag in tags {
        let tag = normalize_tag(&tag)?;
        if !out.contains(&tag) {
            out.push(tag);
        }
    }
    if out.len() > MAX_TAGS {
        return Err(Error::invalid("tags", format!("at most {MAX_TAGS} tags")));
    }
    Ok(out)
}

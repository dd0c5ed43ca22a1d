//! `TranscriptStore` on PostgreSQL: rows in `transcripts`, ranked search over the generated
//! `tsvector` (`ts_rank_cd`; title lexemes weigh 1, content 0.1, the owner's lexeme 0),
//! scoped inside the GIN index to the owner's postings.

use super::{PgStore, db_error};
use crate::backend::owner_token;
use crate::error::Result;
use crate::ids::{ChatSessionId, TranscriptId, UserId};
use crate::transcript::{
    RANK_WINDOW, SearchQuery, Transcript, TranscriptChange, TranscriptFilter, TranscriptStore,
    word_count,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::postgres::PgRow;

macro_rules! columns {
    () => {
        "id, user_id, session_id, title, content, tags, source, word_count, created_at, updated_at"
    };
}

fn transcript(row: &PgRow) -> Result<Transcript> {
    let session: Option<uuid::Uuid> = row.try_get("session_id").map_err(db_error)?;
    Ok(Transcript {
        id: TranscriptId::from_uuid(row.try_get("id").map_err(db_error)?),
        user_id: UserId::from_uuid(row.try_get("user_id").map_err(db_error)?),
        session_id: session.map(ChatSessionId::from_uuid),
        title: row.try_get("title").map_err(db_error)?,
        content: row.try_get("content").map_err(db_error)?,
        tags: row.try_get("tags").map_err(db_error)?,
        source: row
            .try_get::<String, _>("source")
            .map_err(db_error)?
            .parse()?,
        word_count: row
            .try_get::<i32, _>("word_count")
            .map_err(db_error)?
            .try_into()
            .unwrap_or(0),
        created_at: row.try_get("created_at").map_err(db_error)?,
        updated_at: row.try_get("updated_at").map_err(db_error)?,
    })
}

#[async_trait]
impl TranscriptStore for PgStore {
    async fn insert_transcript(&self, t: &Transcript) -> Result<()> {
        sqlx::query(concat!(
            "INSERT INTO transcripts (",
            columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ))
        .bind(t.id.as_uuid())
        .bind(t.user_id.as_uuid())
        .bind(t.session_id.map(|s| s.as_uuid()))
        .bind(&t.title)
        .bind(&t.content)
        .bind(&t.tags)
        .bind(t.source.as_str())
        .bind(i32::try_from(t.word_count).unwrap_or(i32::MAX))
        .bind(t.created_at)
        .bind(t.updated_at)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn get_transcript(&self, user: UserId, id: TranscriptId) -> Result<Option<Transcript>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM transcripts WHERE id = $1 AND user_id = $2"
        ))
        .bind(id.as_uuid())
        .bind(user.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        row.as_ref().map(transcript).transpose()
    }

    async fn list_transcripts(
        &self,
        user: UserId,
        filter: &TranscriptFilter,
        limit: u32,
    ) -> Result<Vec<Transcript>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM transcripts WHERE user_id = $1 AND ($2::uuid IS NULL OR id < $2) \
             AND ($3::timestamptz IS NULL OR created_at >= $3) \
             AND ($4::timestamptz IS NULL OR created_at < $4) \
             AND ($5::text IS NULL OR $5 = ANY (tags)) ORDER BY id DESC LIMIT $6"
        ))
        .bind(user.as_uuid())
        .bind(filter.before.map(|b| b.as_uuid()))
        .bind(filter.from)
        .bind(filter.to)
        .bind(filter.tag.as_deref())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.iter().map(transcript).collect()
    }

    async fn update_transcript(
        &self,
        user: UserId,
        id: TranscriptId,
        change: &TranscriptChange,
        now: DateTime<Utc>,
    ) -> Result<Option<Transcript>> {
        let row = sqlx::query(concat!(
            "UPDATE transcripts SET title = COALESCE($1, title), content = COALESCE($2, content), \
             word_count = COALESCE($3, word_count), tags = COALESCE($4, tags), updated_at = $5 \
             WHERE id = $6 AND user_id = $7 RETURNING ",
            columns!()
        ))
        .bind(change.title.as_deref())
        .bind(change.content.as_deref())
        .bind(
            change
                .content
                .as_deref()
                .map(|c| i32::try_from(word_count(c)).unwrap_or(i32::MAX)),
        )
        .bind(change.tags.as_ref())
        .bind(now)
        .bind(id.as_uuid())
        .bind(user.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        row.as_ref().map(transcript).transpose()
    }

    async fn delete_transcript(&self, user: UserId, id: TranscriptId) -> Result<bool> {
        let done = sqlx::query("DELETE FROM transcripts WHERE id = $1 AND user_id = $2")
            .bind(id.as_uuid())
            .bind(user.as_uuid())
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn search_transcripts(
        &self,
        user: UserId,
        query: &SearchQuery,
        tag: Option<&str>,
        offset: u32,
        limit: u32,
    ) -> Result<Vec<(Transcript, f64)>> {
        // The newest RANK_WINDOW of the owner's matches are ranked. The planner picks how to
        // find them: for rare words, the owner's lexeme AND the query in the GIN index; for
        // words in most rows, the owner's transcripts newest first (`transcripts_user_recent`;
        // the primary key gives no owner order, so it cannot walk every user's rows instead). Unnamed statements are planned for each search with
        // its own query text (whose words may be rare or in every row), never a generic plan.
        let rows = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            ", ts_rank_cd('{0, 0, 0.1, 1}', search, to_tsquery('english', $2))::float8 AS score \
             FROM (SELECT * FROM transcripts WHERE user_id = $1 \
             AND search @@ (to_tsquery('simple', $3) && to_tsquery('english', $2)) \
             AND ($5::text IS NULL OR $5 = ANY (tags)) \
             ORDER BY created_at DESC, id DESC LIMIT $4) AS recent \
             ORDER BY score DESC, id DESC LIMIT $6 OFFSET $7"
        ))
        .persistent(false)
        .bind(user.as_uuid())
        .bind(query.to_tsquery())
        .bind(owner_token(user))
        .bind(i64::from(RANK_WINDOW))
        .bind(tag)
        .bind(i64::from(limit))
        .bind(i64::from(offset))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.iter()
            .map(|row| Ok((transcript(row)?, row.try_get("score").map_err(db_error)?)))
            .collect()
    }
}

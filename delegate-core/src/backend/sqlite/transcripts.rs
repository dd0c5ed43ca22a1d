//! `TranscriptStore` on SQLite: rows in `transcripts`, ranked search with FTS5 (BM25, title
//! weighted ten times the content) over 16 index shards, scoped inside the index to the
//! owner's postings.

use super::{SqliteStore, db_error, from_millis, millis, parse_uuid};
use crate::backend::owner_token;
use crate::error::{Error, Result};
use crate::ids::{ChatSessionId, TranscriptId, UserId};
use crate::transcript::{
    RANK_WINDOW, SearchQuery, Transcript, TranscriptChange, TranscriptFilter, TranscriptStore,
    word_count,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

macro_rules! columns {
    () => {
        "t.id, t.user_id, t.session_id, t.title, t.content, t.tags, t.source, t.word_count, \
         t.created_at, t.updated_at"
    };
}

fn transcript(row: &SqliteRow) -> Result<Transcript> {
    let text = |col: &str| row.try_get::<String, _>(col).map_err(db_error);
    let session: Option<String> = row.try_get("session_id").map_err(db_error)?;
    let tags: Vec<String> = serde_json::from_str(&text("tags")?)
        .map_err(|e| Error::internal("stored tags are not a JSON array").with_source(e))?;
    Ok(Transcript {
        id: TranscriptId::from_uuid(parse_uuid(&text("id")?)?),
        user_id: UserId::from_uuid(parse_uuid(&text("user_id")?)?),
        session_id: session
            .map(|s| parse_uuid(&s).map(ChatSessionId::from_uuid))
            .transpose()?,
        title: text("title")?,
        content: text("content")?,
        tags,
        source: text("source")?.parse()?,
        word_count: row
            .try_get::<i64, _>("word_count")
            .map_err(db_error)?
            .try_into()
            .unwrap_or(u32::MAX),
        created_at: from_millis(row.try_get("created_at").map_err(db_error)?)?,
        updated_at: from_millis(row.try_get("updated_at").map_err(db_error)?)?,
    })
}

/// The FTS5 expression for `query` within `user`'s transcripts: the owner's token (`u` and
/// the id's hex digits, in the `owner` column) AND the query over the title and content only.
fn owner_scoped(user: UserId, query: &SearchQuery) -> String {
    format!(
        "owner : {} AND {{title content}} : ({})",
        owner_token(user),
        query.to_fts5()
    )
}

/// The search statement over one shard of the index (`transcripts_fts_<digit>`), for each of
/// the 16 shards: the shard's newest [`RANK_WINDOW`] matches of the owner are ranked (BM25;
/// owner 0, title 10, content 1) and only the page's rows are read, joined back by `seq`.
/// Joined the other way, SQLite would walk the owner's rows and look each up in the index.
/// The owner check on the rows stays (the index only narrows). With a tag, every match is
/// ranked in the index (it cannot see tags) and the window is the newest tagged matches.
macro_rules! shard_search {
    ($($digit:literal)*) => {
        [$(concat!(
            "WITH hits AS (SELECT rowid AS seq, bm25(transcripts_fts_", $digit,
            ", 0.0, 10.0, 1.0) AS rank FROM transcripts_fts_", $digit,
            " WHERE transcripts_fts_", $digit, " MATCH ? ORDER BY rowid DESC LIMIT ?), \
             recent AS (SELECT t.seq, hits.rank FROM hits JOIN transcripts t ON t.seq = hits.seq \
             WHERE t.user_id = ? \
             AND (? IS NULL OR EXISTS (SELECT 1 FROM json_each(t.tags) WHERE value = ?)) \
             ORDER BY t.seq DESC LIMIT ?) SELECT ",
            columns!(),
            ", recent.rank FROM recent JOIN transcripts t ON t.seq = recent.seq \
             ORDER BY recent.rank, t.seq DESC LIMIT ? OFFSET ?"
        )),*]
    };
}

/// [`shard_search`] per shard, indexed by the owner id's last hex digit.
const SHARD_SEARCH: [&str; 16] =
    shard_search!("0" "1" "2" "3" "4" "5" "6" "7" "8" "9" "a" "b" "c" "d" "e" "f");

/// The shard holding `user`'s transcripts: the last hex digit of the id (random bits).
fn shard(user: UserId) -> usize {
    (user.as_uuid().as_u128() & 0xf) as usize
}

fn tags_json(tags: &[String]) -> String {
    serde_json::Value::from(tags.to_vec()).to_string()
}

#[async_trait]
impl TranscriptStore for SqliteStore {
    async fn insert_transcript(&self, t: &Transcript) -> Result<()> {
        sqlx::query(
            "INSERT INTO transcripts (id, user_id, session_id, title, content, tags, source, \
             word_count, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(t.id.to_string())
        .bind(t.user_id.to_string())
        .bind(t.session_id.map(|s| s.to_string()))
        .bind(&t.title)
        .bind(&t.content)
        .bind(tags_json(&t.tags))
        .bind(t.source.as_str())
        .bind(i64::from(t.word_count))
        .bind(millis(t.created_at))
        .bind(millis(t.updated_at))
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn get_transcript(&self, user: UserId, id: TranscriptId) -> Result<Option<Transcript>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM transcripts t WHERE t.id = ? AND t.user_id = ?"
        ))
        .bind(id.to_string())
        .bind(user.to_string())
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
            " FROM transcripts t WHERE t.user_id = ? AND (? IS NULL OR t.id < ?) \
             AND (? IS NULL OR t.created_at >= ?) AND (? IS NULL OR t.created_at < ?) \
             AND (? IS NULL OR EXISTS (SELECT 1 FROM json_each(t.tags) WHERE value = ?)) \
             ORDER BY t.id DESC LIMIT ?"
        ))
        .bind(user.to_string())
        .bind(filter.before.map(|b| b.to_string()))
        .bind(filter.before.map(|b| b.to_string()))
        .bind(filter.from.map(millis))
        .bind(filter.from.map(millis))
        .bind(filter.to.map(millis))
        .bind(filter.to.map(millis))
        .bind(filter.tag.as_deref())
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
        let done = sqlx::query(
            "UPDATE transcripts SET title = COALESCE(?, title), content = COALESCE(?, content), \
             word_count = COALESCE(?, word_count), tags = COALESCE(?, tags), updated_at = ? \
             WHERE id = ? AND user_id = ?",
        )
        .bind(change.title.as_deref())
        .bind(change.content.as_deref())
        .bind(change.content.as_deref().map(|c| i64::from(word_count(c))))
        .bind(change.tags.as_deref().map(tags_json))
        .bind(millis(now))
        .bind(id.to_string())
        .bind(user.to_string())
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        self.get_transcript(user, id).await
    }

    async fn delete_transcript(&self, user: UserId, id: TranscriptId) -> Result<bool> {
        let done = sqlx::query("DELETE FROM transcripts WHERE id = ? AND user_id = ?")
            .bind(id.to_string())
            .bind(user.to_string())
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
        let rows = sqlx::query(sqlx::AssertSqlSafe(SHARD_SEARCH[shard(user)]))
            .bind(owner_scoped(user, query))
            .bind(if tag.is_some() {
                -1
            } else {
                i64::from(RANK_WINDOW)
            })
            .bind(user.to_string())
            .bind(tag)
            .bind(tag)
            .bind(i64::from(RANK_WINDOW))
            .bind(i64::from(limit))
            .bind(i64::from(offset))
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.iter()
            .map(|row| {
                let rank: f64 = row.try_get("rank").map_err(db_error)?;
                // BM25 is lower for better matches; the trait's scores are higher-is-better.
                Ok((transcript(row)?, -rank))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::TranscriptSource;
    use crate::users::{User, UserStore};
    use chrono::TimeZone;

    /// The migration that shards the index builds it from the transcripts stored before it,
    /// and its triggers keep it in step after.
    #[tokio::test]
    async fn the_shard_migration_indexes_transcripts_stored_before_it() {
        const SHARDS: i64 = 20261201000004;
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("old.db").display());
        let store = SqliteStore::open(&url).await.unwrap();
        let mut before = sqlx::migrate!("./migrations/sqlite");
        before.migrations = before
            .migrations
            .iter()
            .filter(|m| m.version < SHARDS)
            .cloned()
            .collect::<Vec<_>>()
            .into();
        before.run(&store.pool).await.unwrap();
        let now = Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap();
        let ada = User::new("ada@example.test", "Ada", now);
        store.insert(&ada, "$argon2id$x").await.unwrap();
        let old = Transcript::new(
            ada.id,
            "Kubernetes notes",
            "the cluster upgrade went well",
            TranscriptSource::Manual,
            now,
        );
        store.insert_transcript(&old).await.unwrap();

        let pending = sqlx::migrate!("./migrations/sqlite")
            .migrations
            .iter()
            .filter(|m| m.version >= SHARDS)
            .count();
        assert_eq!(store.migrate().await.unwrap(), pending);
        let query = SearchQuery::parse("kubernetes ").unwrap();
        let found = |hits: Vec<(Transcript, f64)>| -> Vec<TranscriptId> {
            hits.into_iter().map(|(t, _)| t.id).collect()
        };
        let hits = store
            .search_transcripts(ada.id, &query, None, 0, 10)
            .await
            .unwrap();
        assert_eq!(found(hits), [old.id]);

        let change = TranscriptChange {
            title: Some("Cluster notes".into()),
            ..TranscriptChange::default()
        };
        store
            .update_transcript(ada.id, old.id, &change, now)
            .await
            .unwrap();
        let hits = store
            .search_transcripts(ada.id, &query, None, 0, 10)
            .await
            .unwrap();
        assert!(hits.is_empty(), "the old title left the index");
        let upgrade = SearchQuery::parse("upgrade ").unwrap();
        let hits = store
            .search_transcripts(ada.id, &upgrade, None, 0, 10)
            .await
            .unwrap();
        assert_eq!(found(hits), [old.id], "the content is still indexed");
        store.delete_transcript(ada.id, old.id).await.unwrap();
        let hits = store
            .search_transcripts(ada.id, &upgrade, None, 0, 10)
            .await
            .unwrap();
        assert!(hits.is_empty(), "a deleted transcript left the index");
    }
}

//! `ConversationStore` on PostgreSQL: chat sessions and their messages.

use super::{PgStore, db_error};
use crate::chat::{ChatSession, ConversationStore, Message, MessageStatus, TokenUsage};
use crate::error::{Error, Result};
use crate::ids::{ChatSessionId, MessageId, UserId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::postgres::PgRow;

macro_rules! session_columns {
    () => {
        "id, user_id, title, model, system_prompt, created_at, updated_at"
    };
}

macro_rules! message_columns {
    () => {
        "id, session_id, role, content, status, created_at, prompt_tokens, completion_tokens, \
         source"
    };
}

fn chat_session(row: &PgRow) -> Result<ChatSession> {
    Ok(ChatSession {
        id: ChatSessionId::from_uuid(row.try_get("id").map_err(db_error)?),
        user_id: UserId::from_uuid(row.try_get("user_id").map_err(db_error)?),
        title: row.try_get("title").map_err(db_error)?,
        model: row.try_get("model").map_err(db_error)?,
        system_prompt: row.try_get("system_prompt").map_err(db_error)?,
        created_at: row.try_get("created_at").map_err(db_error)?,
        updated_at: row.try_get("updated_at").map_err(db_error)?,
    })
}

fn message(row: &PgRow) -> Result<Message> {
    let text = |col: &str| row.try_get::<String, _>(col).map_err(db_error);
    let tokens = |col: &str| row.try_get::<Option<i64>, _>(col).map_err(db_error);
    Ok(Message {
        id: MessageId::from_uuid(row.try_get("id").map_err(db_error)?),
        session_id: ChatSessionId::from_uuid(row.try_get("session_id").map_err(db_error)?),
        role: text("role")?.parse()?,
        content: text("content")?,
        status: text("status")?.parse()?,
        created_at: row.try_get("created_at").map_err(db_error)?,
        usage: token_usage(tokens("prompt_tokens")?, tokens("completion_tokens")?)?,
        source: text("source")?.parse()?,
    })
}

/// The usage stored in a message's two nullable token columns.
fn token_usage(prompt: Option<i64>, completion: Option<i64>) -> Result<Option<TokenUsage>> {
    let count =
        |n: i64| u32::try_from(n).map_err(|_| Error::internal("stored token count out of range"));
    match (prompt, completion) {
        (Some(prompt), Some(completion)) => Ok(Some(TokenUsage {
            prompt_tokens: count(prompt)?,
            completion_tokens: count(completion)?,
        })),
        _ => Ok(None),
    }
}

#[async_trait]
impl ConversationStore for PgStore {
    async fn create_chat_session(&self, s: &ChatSession) -> Result<()> {
        sqlx::query(concat!(
            "INSERT INTO chat_sessions (",
            session_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7)"
        ))
        .bind(s.id.as_uuid())
        .bind(s.user_id.as_uuid())
        .bind(&s.title)
        .bind(&s.model)
        .bind(&s.system_prompt)
        .bind(s.created_at)
        .bind(s.updated_at)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn get_chat_session(
        &self,
        user: UserId,
        id: ChatSessionId,
    ) -> Result<Option<ChatSession>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            session_columns!(),
            " FROM chat_sessions WHERE id = $1 AND user_id = $2"
        ))
        .bind(id.as_uuid())
        .bind(user.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        row.as_ref().map(chat_session).transpose()
    }

    async fn list_chat_sessions(
        &self,
        user: UserId,
        before: Option<ChatSessionId>,
        limit: u32,
    ) -> Result<Vec<ChatSession>> {
        // Two statements rather than `$2 IS NULL OR id < $2`, so each keeps an index plan.
        let query = match before {
            Some(before) => sqlx::query(concat!(
                "SELECT ",
                session_columns!(),
                " FROM chat_sessions WHERE user_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3"
            ))
            .bind(user.as_uuid())
            .bind(before.as_uuid()),
            None => sqlx::query(concat!(
                "SELECT ",
                session_columns!(),
                " FROM chat_sessions WHERE user_id = $1 ORDER BY id DESC LIMIT $2"
            ))
            .bind(user.as_uuid()),
        };
        let rows = query
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.iter().map(chat_session).collect()
    }

    async fn rename_chat_session(
        &self,
        user: UserId,
        id: ChatSessionId,
        title: &str,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE chat_sessions SET title = $1, updated_at = $2 WHERE id = $3 AND user_id = $4",
        )
        .bind(title)
        .bind(now)
        .bind(id.as_uuid())
        .bind(user.as_uuid())
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_chat_session(&self, user: UserId, id: ChatSessionId) -> Result<bool> {
        // The messages go with it (ON DELETE CASCADE); the usage ledger stays.
        let done = sqlx::query("DELETE FROM chat_sessions WHERE id = $1 AND user_id = $2")
            .bind(id.as_uuid())
            .bind(user.as_uuid())
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn add_message(&self, m: &Message) -> Result<()> {
        // One statement, so one round trip and atomic: the update finds (and locks) the
        // session, and the insert happens only if it did. A session deleted since the
        // caller checked it inserts nothing.
        let done = sqlx::query(concat!(
            "WITH touched AS (UPDATE chat_sessions SET updated_at = $6 WHERE id = $2 \
             RETURNING id) INSERT INTO chat_messages (",
            message_columns!(),
            ") SELECT $1, touched.id, $3, $4, $5, $6, $7, $8, $9 FROM touched"
        ))
        .bind(m.id.as_uuid())
        .bind(m.session_id.as_uuid())
        .bind(m.role.as_str())
        .bind(&m.content)
        .bind(m.status.as_str())
        .bind(m.created_at)
        .bind(m.usage.map(|u| i64::from(u.prompt_tokens)))
        .bind(m.usage.map(|u| i64::from(u.completion_tokens)))
        .bind(m.source.as_str())
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound("chat session"));
        }
        Ok(())
    }

    async fn finish_message(
        &self,
        id: MessageId,
        content: &str,
        status: MessageStatus,
        usage: Option<TokenUsage>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE chat_messages SET content = $1, status = $2, prompt_tokens = $3, \
             completion_tokens = $4 WHERE id = $5",
        )
        .bind(content)
        .bind(status.as_str())
        .bind(usage.map(|u| i64::from(u.prompt_tokens)))
        .bind(usage.map(|u| i64::from(u.completion_tokens)))
        .bind(id.as_uuid())
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn list_messages(
        &self,
        session: ChatSessionId,
        after: Option<MessageId>,
        limit: u32,
    ) -> Result<Vec<Message>> {
        let query = match after {
            Some(after) => sqlx::query(concat!(
                "SELECT ",
                message_columns!(),
                " FROM chat_messages WHERE session_id = $1 AND id > $2 ORDER BY id LIMIT $3"
            ))
            .bind(session.as_uuid())
            .bind(after.as_uuid()),
            None => sqlx::query(concat!(
                "SELECT ",
                message_columns!(),
                " FROM chat_messages WHERE session_id = $1 ORDER BY id LIMIT $2"
            ))
            .bind(session.as_uuid()),
        };
        let rows = query
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.iter().map(message).collect()
    }

    async fn get_message(&self, session: ChatSessionId, id: MessageId) -> Result<Option<Message>> {
        sqlx::query(concat!(
            "SELECT ",
            message_columns!(),
            " FROM chat_messages WHERE session_id = $1 AND id = $2"
        ))
        .bind(session.as_uuid())
        .bind(id.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .as_ref()
        .map(message)
        .transpose()
    }

    async fn recent_messages(&self, session: ChatSessionId, limit: u32) -> Result<Vec<Message>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            message_columns!(),
            " FROM chat_messages WHERE session_id = $1 ORDER BY id DESC LIMIT $2"
        ))
        .bind(session.as_uuid())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        // Newest first from the index; the caller wants them in conversation order.
        rows.iter().rev().map(message).collect()
    }
}

//! `ConversationStore` on SQLite: chat sessions and their messages.

use super::{SqliteStore, db_error, from_millis, millis, parse_uuid};
use crate::chat::{ChatSession, ConversationStore, Message, MessageStatus, TokenUsage};
use crate::error::{Error, Result};
use crate::ids::{ChatSessionId, MessageId, UserId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

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

fn chat_session(row: &SqliteRow) -> Result<ChatSession> {
    let text = |col: &str| row.try_get::<String, _>(col).map_err(db_error);
    let time = |col: &str| row.try_get::<i64, _>(col).map_err(db_error);
    Ok(ChatSession {
        id: ChatSessionId::from_uuid(parse_uuid(&text("id")?)?),
        user_id: UserId::from_uuid(parse_uuid(&text("user_id")?)?),
        title: text("title")?,
        model: row.try_get("model").map_err(db_error)?,
        system_prompt: row.try_get("system_prompt").map_err(db_error)?,
        created_at: from_millis(time("created_at")?)?,
        updated_at: from_millis(time("updated_at")?)?,
    })
}

fn message(row: &SqliteRow) -> Result<Message> {
    let text = |col: &str| row.try_get::<String, _>(col).map_err(db_error);
    let tokens = |col: &str| row.try_get::<Option<i64>, _>(col).map_err(db_error);
    Ok(Message {
        id: MessageId::from_uuid(parse_uuid(&text("id")?)?),
        session_id: ChatSessionId::from_uuid(parse_uuid(&text("session_id")?)?),
        role: text("role")?.parse()?,
        content: text("content")?,
        status: text("status")?.parse()?,
        created_at: from_millis(row.try_get("created_at").map_err(db_error)?)?,
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
impl ConversationStore for SqliteStore {
    async fn create_chat_session(&self, s: &ChatSession) -> Result<()> {
        sqlx::query(concat!(
            "INSERT INTO chat_sessions (",
            session_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(s.id.to_string())
        .bind(s.user_id.to_string())
        .bind(&s.title)
        .bind(&s.model)
        .bind(&s.system_prompt)
        .bind(millis(s.created_at))
        .bind(millis(s.updated_at))
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
            " FROM chat_sessions WHERE id = ? AND user_id = ?"
        ))
        .bind(id.to_string())
        .bind(user.to_string())
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
        // Two statements rather than `? IS NULL OR id < ?`, so each keeps an index plan.
        let query = match before {
            Some(before) => sqlx::query(concat!(
                "SELECT ",
                session_columns!(),
                " FROM chat_sessions WHERE user_id = ? AND id < ? ORDER BY id DESC LIMIT ?"
            ))
            .bind(user.to_string())
            .bind(before.to_string()),
            None => sqlx::query(concat!(
                "SELECT ",
                session_columns!(),
                " FROM chat_sessions WHERE user_id = ? ORDER BY id DESC LIMIT ?"
            ))
            .bind(user.to_string()),
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
            "UPDATE chat_sessions SET title = ?, updated_at = ? WHERE id = ? AND user_id = ?",
        )
        .bind(title)
        .bind(millis(now))
        .bind(id.to_string())
        .bind(user.to_string())
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_chat_session(&self, user: UserId, id: ChatSessionId) -> Result<bool> {
        // The messages go with it (ON DELETE CASCADE); the usage ledger stays.
        let done = sqlx::query("DELETE FROM chat_sessions WHERE id = ? AND user_id = ?")
            .bind(id.to_string())
            .bind(user.to_string())
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn add_message(&self, m: &Message) -> Result<()> {
        self.add_messages(std::slice::from_ref(m)).await
    }

    async fn add_messages(&self, messages: &[Message]) -> Result<()> {
        if messages.is_empty() {
            return Ok(());
        }
        // One multi-row INSERT: atomic, one commit. A trigger moves the session's
        // `updated_at`; the foreign key refuses a session that is gone.
        let row = "(?, ?, ?, ?, ?, ?, ?, ?, ?)";
        let sql = format!(
            concat!(
                "INSERT INTO chat_messages (",
                message_columns!(),
                ") VALUES {}"
            ),
            vec![row; messages.len()].join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for m in messages {
            query = query
                .bind(m.id.to_string())
                .bind(m.session_id.to_string())
                .bind(m.role.as_str())
                .bind(m.content.clone())
                .bind(m.status.as_str())
                .bind(millis(m.created_at))
                .bind(m.usage.map(|u| i64::from(u.prompt_tokens)))
                .bind(m.usage.map(|u| i64::from(u.completion_tokens)))
                .bind(m.source.as_str());
        }
        match query.execute(&self.pool).await {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => {
                Err(Error::NotFound("chat session"))
            }
            Err(e) => Err(db_error(e)),
        }
    }

    async fn finish_message(
        &self,
        id: MessageId,
        content: &str,
        status: MessageStatus,
        usage: Option<TokenUsage>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE chat_messages SET content = ?, status = ?, prompt_tokens = ?, \
             completion_tokens = ? WHERE id = ?",
        )
        .bind(content)
        .bind(status.as_str())
        .bind(usage.map(|u| i64::from(u.prompt_tokens)))
        .bind(usage.map(|u| i64::from(u.completion_tokens)))
        .bind(id.to_string())
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
                " FROM chat_messages WHERE session_id = ? AND id > ? ORDER BY id LIMIT ?"
            ))
            .bind(session.to_string())
            .bind(after.to_string()),
            None => sqlx::query(concat!(
                "SELECT ",
                message_columns!(),
                " FROM chat_messages WHERE session_id = ? ORDER BY id LIMIT ?"
            ))
            .bind(session.to_string()),
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
            " FROM chat_messages WHERE session_id = ? AND id = ?"
        ))
        .bind(session.to_string())
        .bind(id.to_string())
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
            " FROM chat_messages WHERE session_id = ? ORDER BY id DESC LIMIT ?"
        ))
        .bind(session.to_string())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        // Newest first from the index; the caller wants them in conversation order.
        rows.iter().rev().map(message).collect()
    }
}

//! `AuditStore` on SQLite: the append-only `audit_events` table.

use super::{SqliteStore, db_error, from_millis, millis, parse_uuid};
use crate::admin::{AuditActor, AuditEvent, AuditQuery, AuditStore};
use crate::error::{Error, Result};
use crate::ids::{AuditEventId, UserId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

fn event(row: &SqliteRow) -> Result<AuditEvent> {
    let user = |col: &str| -> Result<Option<UserId>> {
        let text: Option<String> = row.try_get(col).map_err(db_error)?;
        text.map(|t| parse_uuid(&t).map(UserId::from_uuid))
            .transpose()
    };
    let kind: String = row.try_get("actor_kind").map_err(db_error)?;
    let detail: String = row.try_get("detail").map_err(db_error)?;
    Ok(AuditEvent {
        id: AuditEventId::from_uuid(parse_uuid(
            &row.try_get::<String, _>("id").map_err(db_error)?,
        )?),
        at: from_millis(row.try_get("at").map_err(db_error)?)?,
        kind: row
            .try_get::<String, _>("kind")
            .map_err(db_error)?
            .parse()?,
        actor: AuditActor::from_parts(&kind, user("actor_id")?)?,
        target: user("target_id")?,
        ip: row.try_get("ip").map_err(db_error)?,
        detail: serde_json::from_str(&detail)
            .map_err(|e| Error::internal("stored audit detail is not JSON").with_source(e))?,
    })
}

#[async_trait]
impl AuditStore for SqliteStore {
    async fn append(&self, events: &[AuditEvent]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let mut insert = sqlx::QueryBuilder::new(
            "INSERT OR IGNORE INTO audit_events \
             (id, at, kind, actor_kind, actor_id, target_id, ip, detail) ",
        );
        insert.push_values(events, |mut row, e| {
            row.push_bind(e.id.to_string())
                .push_bind(millis(e.at))
                .push_bind(e.kind.as_str())
                .push_bind(e.actor.kind())
                .push_bind(e.actor.user_id().map(|u| u.to_string()))
                .push_bind(e.target.map(|u| u.to_string()))
                .push_bind(e.ip.clone())
                .push_bind(e.detail.to_string());
        });
        insert.build().execute(&self.pool).await.map_err(db_error)?;
        Ok(())
    }

    async fn query(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>> {
        let user = query.user.map(|u| u.to_string());
        let rows = sqlx::query(
            "SELECT id, at, kind, actor_kind, actor_id, target_id, ip, detail FROM audit_events \
             WHERE (? IS NULL OR id < ?) AND (? IS NULL OR actor_id = ? OR target_id = ?) \
             AND (? IS NULL OR kind = ?) AND (? IS NULL OR at >= ?) AND (? IS NULL OR at < ?) \
             ORDER BY id DESC LIMIT ?",
        )
        .bind(query.before.map(|b| b.to_string()))
        .bind(query.before.map(|b| b.to_string()))
        .bind(user.clone())
        .bind(user.clone())
        .bind(user)
        .bind(query.kind.map(|k| k.as_str()))
        .bind(query.kind.map(|k| k.as_str()))
        .bind(query.from.map(millis))
        .bind(query.from.map(millis))
        .bind(query.to.map(millis))
        .bind(query.to.map(millis))
        .bind(i64::from(query.limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.iter().map(event).collect()
    }

    async fn purge_before(&self, before: DateTime<Utc>) -> Result<u64> {
        let done = sqlx::query("DELETE FROM audit_events WHERE at < ?")
            .bind(millis(before))
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(done.rows_affected())
    }
}

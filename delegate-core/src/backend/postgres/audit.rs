//! `AuditStore` on PostgreSQL: the append-only `audit_events` table.

use super::{PgStore, db_error};
use crate::admin::{AuditActor, AuditEvent, AuditQuery, AuditStore};
use crate::error::Result;
use crate::ids::{AuditEventId, UserId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::postgres::PgRow;

fn event(row: &PgRow) -> Result<AuditEvent> {
    let user = |col: &str| -> Result<Option<UserId>> {
        let id: Option<uuid::Uuid> = row.try_get(col).map_err(db_error)?;
        Ok(id.map(UserId::from_uuid))
    };
    let kind: String = row.try_get("actor_kind").map_err(db_error)?;
    Ok(AuditEvent {
        id: AuditEventId::from_uuid(row.try_get("id").map_err(db_error)?),
        at: row.try_get("at").map_err(db_error)?,
        kind: row
            .try_get::<String, _>("kind")
            .map_err(db_error)?
            .parse()?,
        actor: AuditActor::from_parts(&kind, user("actor_id")?)?,
        target: user("target_id")?,
        ip: row.try_get("ip").map_err(db_error)?,
        detail: row.try_get("detail").map_err(db_error)?,
    })
}

#[async_trait]
impl AuditStore for PgStore {
    async fn append(&self, events: &[AuditEvent]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let mut insert = sqlx::QueryBuilder::new(
            "INSERT INTO audit_events (id, at, kind, actor_kind, actor_id, target_id, ip, detail) ",
        );
        insert.push_values(events, |mut row, e| {
            row.push_bind(e.id.as_uuid())
                .push_bind(e.at)
                .push_bind(e.kind.as_str())
                .push_bind(e.actor.kind())
                .push_bind(e.actor.user_id().map(|u| u.as_uuid()))
                .push_bind(e.target.map(|u| u.as_uuid()))
                .push_bind(e.ip.clone())
                .push_bind(e.detail.clone());
        });
        insert.push(" ON CONFLICT (id) DO NOTHING");
        insert.build().execute(&self.pool).await.map_err(db_error)?;
        Ok(())
    }

    async fn query(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>> {
        let rows = sqlx::query(
            "SELECT id, at, kind, actor_kind, actor_id, target_id, ip, detail FROM audit_events \
             WHERE ($1::uuid IS NULL OR id < $1) \
             AND ($2::uuid IS NULL OR actor_id = $2 OR target_id = $2) \
             AND ($3::text IS NULL OR kind = $3) AND ($4::timestamptz IS NULL OR at >= $4) \
             AND ($5::timestamptz IS NULL OR at < $5) ORDER BY id DESC LIMIT $6",
        )
        .bind(query.before.map(|b| b.as_uuid()))
        .bind(query.user.map(|u| u.as_uuid()))
        .bind(query.kind.map(|k| k.as_str()))
        .bind(query.from)
        .bind(query.to)
        .bind(i64::from(query.limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.iter().map(event).collect()
    }

    async fn purge_before(&self, before: DateTime<Utc>) -> Result<u64> {
        let done = sqlx::query("DELETE FROM audit_events WHERE at < $1")
            .bind(before)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(done.rows_affected())
    }
}

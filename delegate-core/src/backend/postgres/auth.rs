//! `LoginSessionStore`, `RefreshTokenStore` and `TokenDenylist` on PostgreSQL.

use super::{PgStore, db_error};
use crate::auth::{
    DeviceInfo, ExpiredDeletion, LoginSession, LoginSessionStore, RefreshTokenCounts,
    RefreshTokenRecord, RefreshTokenStore, Rotation, TokenDenylist,
};
use crate::error::Result;
use crate::ids::{LoginSessionId, UserId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::postgres::PgRow;
use uuid::Uuid;

macro_rules! columns {
    () => {
        "id, user_id, device_name, device_platform, device_fingerprint, user_agent, ip, \
         created_at, last_seen_at, expires_at, revoked_at"
    };
}

fn session(row: &PgRow) -> Result<LoginSession> {
    let text = |col: &str| row.try_get::<Option<String>, _>(col).map_err(db_error);
    let time = |col: &str| row.try_get::<DateTime<Utc>, _>(col).map_err(db_error);
    Ok(LoginSession {
        id: LoginSessionId::from_uuid(row.try_get("id").map_err(db_error)?),
        user_id: UserId::from_uuid(row.try_get("user_id").map_err(db_error)?),
        device: DeviceInfo {
            name: text("device_name")?,
            platform: text("device_platform")?,
            fingerprint: text("device_fingerprint")?,
            user_agent: text("user_agent")?,
            ip: text("ip")?,
        },
        created_at: time("created_at")?,
        last_seen_at: time("last_seen_at")?,
        expires_at: time("expires_at")?,
        revoked_at: row.try_get("revoked_at").map_err(db_error)?,
    })
}

fn session_and_user(row: &PgRow) -> Result<(LoginSessionId, UserId)> {
    let session: Uuid = row.try_get("session_id").map_err(db_error)?;
    let user: Uuid = row.try_get("user_id").map_err(db_error)?;
    Ok((LoginSessionId::from_uuid(session), UserId::from_uuid(user)))
}

#[async_trait]
impl LoginSessionStore for PgStore {
    async fn insert(&self, s: &LoginSession) -> Result<()> {
        sqlx::query(concat!(
            "INSERT INTO login_sessions (",
            columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(s.id.as_uuid())
        .bind(s.user_id.as_uuid())
        .bind(&s.device.name)
        .bind(&s.device.platform)
        .bind(&s.device.fingerprint)
        .bind(&s.device.user_agent)
        .bind(&s.device.ip)
        .bind(s.created_at)
        .bind(s.last_seen_at)
        .bind(s.expires_at)
        .bind(s.revoked_at)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn get(&self, id: LoginSessionId) -> Result<Option<LoginSession>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM login_sessions WHERE id = $1"
        ))
        .bind(id.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        row.as_ref().map(session).transpose()
    }

    async fn list_alive(&self, user: UserId, now: DateTime<Utc>) -> Result<Vec<LoginSession>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM login_sessions WHERE user_id = $1 \
             AND revoked_at IS NULL AND expires_at > $2 ORDER BY created_at DESC, id DESC"
        ))
        .bind(user.as_uuid())
        .bind(now)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.iter().map(session).collect()
    }

    async fn touch(&self, id: LoginSessionId, at: DateTime<Utc>) -> Result<()> {
        sqlx::query(
            "UPDATE login_sessions SET last_seen_at = GREATEST(last_seen_at, $1) WHERE id = $2",
        )
        .bind(at)
        .bind(id.as_uuid())
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn revoke(&self, id: LoginSessionId, at: DateTime<Utc>) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE login_sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(at)
        .bind(id.as_uuid())
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn revoke_all(&self, user: UserId, at: DateTime<Utc>) -> Result<Vec<LoginSessionId>> {
        let ids: Vec<Uuid> = sqlx::query_scalar(
            "UPDATE login_sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL \
             RETURNING id",
        )
        .bind(at)
        .bind(user.as_uuid())
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(ids.into_iter().map(LoginSessionId::from_uuid).collect())
    }
}

#[async_trait]
impl RefreshTokenStore for PgStore {
    async fn insert(&self, r: &RefreshTokenRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO refresh_tokens (hash, session_id, user_id, issued_at, used_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&r.hash)
        .bind(r.session_id.as_uuid())
        .bind(r.user_id.as_uuid())
        .bind(r.issued_at)
        .bind(r.used_at)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn rotate(&self, presented: &str, child: &str, at: DateTime<Utc>) -> Result<Rotation> {
        // Under READ COMMITTED a concurrent UPDATE of the same row waits for the first
        // writer, then re-checks `used_at IS NULL` against the committed row: exactly one
        // rotation sees it unused. The losers' SELECT below (a fresh snapshot) then reads
        // the winner's `used_at`. The level is explicit so that a server whose default is
        // REPEATABLE READ or SERIALIZABLE does not turn the losers into serialization
        // failures.
        let mut tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL READ COMMITTED")
            .await
            .map_err(db_error)?;
        let spent = sqlx::query(
            "UPDATE refresh_tokens SET used_at = $1 WHERE hash = $2 AND used_at IS NULL \
             RETURNING session_id, user_id",
        )
        .bind(at)
        .bind(presented)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?;
        let outcome = match spent {
            Some(row) => {
                let (session_id, user_id) = session_and_user(&row)?;
                sqlx::query(
                    "INSERT INTO refresh_tokens (hash, session_id, user_id, issued_at, \
                     parent_hash) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(child)
                .bind(session_id.as_uuid())
                .bind(user_id.as_uuid())
                .bind(at)
                .bind(presented)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
                Rotation::Rotated {
                    session_id,
                    user_id,
                }
            }
            None => {
                let row = sqlx::query(
                    "SELECT session_id, user_id, used_at, EXISTS (SELECT 1 FROM refresh_tokens \
                     c WHERE c.parent_hash = p.hash AND c.used_at IS NOT NULL) AS child_used \
                     FROM refresh_tokens p WHERE hash = $1",
                )
                .bind(presented)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_error)?;
                let used = match &row {
                    Some(row) => row
                        .try_get::<Option<DateTime<Utc>>, _>("used_at")
                        .map_err(db_error)?,
                    None => None,
                };
                match (row, used) {
                    (Some(row), Some(used_at)) => {
                        let (session_id, user_id) = session_and_user(&row)?;
                        Rotation::Reused {
                            session_id,
                            user_id,
                            used_at,
                            child_used: row.try_get("child_used").map_err(db_error)?,
                        }
                    }
                    // Absent, or stored unused only after the UPDATE above looked (a
                    // concurrent insert of the same hash): it was unknown when presented.
                    _ => Rotation::Unknown,
                }
            }
        };
        tx.commit().await.map_err(db_error)?;
        Ok(outcome)
    }

    async fn delete_families(&self, sessions: &[LoginSessionId]) -> Result<u64> {
        if sessions.is_empty() {
            return Ok(0);
        }
        let ids: Vec<Uuid> = sessions.iter().map(LoginSessionId::as_uuid).collect();
        let done = sqlx::query("DELETE FROM refresh_tokens WHERE session_id = ANY($1)")
            .bind(ids)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(done.rows_affected())
    }
}

#[async_trait]
impl TokenDenylist for PgStore {
    async fn deny(&self, jti: &str, expires_at: DateTime<Utc>) -> Result<()> {
        sqlx::query(
            "INSERT INTO denied_tokens (jti, expires_at) VALUES ($1, $2) \
             ON CONFLICT (jti) DO NOTHING",
        )
        .bind(jti)
        .bind(expires_at)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn active(&self, now: DateTime<Utc>) -> Result<Vec<(String, DateTime<Utc>)>> {
        sqlx::query_as("SELECT jti, expires_at FROM denied_tokens WHERE expires_at >= $1")
            .bind(now)
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)
    }
}

#[async_trait]
impl ExpiredDeletion for PgStore {
    async fn purge_login_sessions(&self, now: DateTime<Utc>) -> Result<u64> {
        let done = sqlx::query(
            "DELETE FROM login_sessions WHERE revoked_at IS NOT NULL OR expires_at <= $1",
        )
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(done.rows_affected())
    }

    async fn purge_refresh_tokens_issued_before(&self, before: DateTime<Utc>) -> Result<u64> {
        let done = sqlx::query("DELETE FROM refresh_tokens WHERE issued_at < $1")
            .bind(before)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(done.rows_affected())
    }

    async fn purge_denials(&self, now: DateTime<Utc>) -> Result<u64> {
        let done = sqlx::query("DELETE FROM denied_tokens WHERE expires_at < $1")
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(done.rows_affected())
    }
}

#[async_trait]
impl RefreshTokenCounts for PgStore {
    async fn count_unused(&self, session: LoginSessionId) -> Result<u64> {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM refresh_tokens WHERE session_id = $1 AND used_at IS NULL",
        )
        .bind(session.as_uuid())
        .fetch_one(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(u64::try_from(count).unwrap_or(0))
    }
}

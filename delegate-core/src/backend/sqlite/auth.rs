//! `LoginSessionStore`, `RefreshTokenStore` and `TokenDenylist` on SQLite.

use super::{SqliteStore, db_error, from_millis, millis, parse_uuid};
use crate::auth::{
    DeviceInfo, ExpiredDeletion, LoginSession, LoginSessionStore, RefreshTokenCounts,
    RefreshTokenRecord, RefreshTokenStore, Rotation, TokenDenylist,
};
use crate::backend::transaction::begin;
use crate::error::Result;
use crate::ids::{LoginSessionId, UserId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

macro_rules! columns {
    () => {
        "id, user_id, device_name, device_platform, device_fingerprint, user_agent, ip, \
         created_at, last_seen_at, expires_at, revoked_at"
    };
}

fn session(row: &SqliteRow) -> Result<LoginSession> {
    let text = |col: &str| row.try_get::<Option<String>, _>(col).map_err(db_error);
    let time = |col: &str| row.try_get::<i64, _>(col).map_err(db_error);
    Ok(LoginSession {
        id: LoginSessionId::from_uuid(parse_uuid(&text("id")?.unwrap_or_default())?),
        user_id: UserId::from_uuid(parse_uuid(&text("user_id")?.unwrap_or_default())?),
        device: DeviceInfo {
            name: text("device_name")?,
            platform: text("device_platform")?,
            fingerprint: text("device_fingerprint")?,
            user_agent: text("user_agent")?,
            ip: text("ip")?,
        },
        created_at: from_millis(time("created_at")?)?,
        last_seen_at: from_millis(time("last_seen_at")?)?,
        expires_at: from_millis(time("expires_at")?)?,
        revoked_at: row
            .try_get::<Option<i64>, _>("revoked_at")
            .map_err(db_error)?
            .map(from_millis)
            .transpose()?,
    })
}

fn session_and_user(row: &SqliteRow) -> Result<(LoginSessionId, UserId)> {
    let session: String = row.try_get("session_id").map_err(db_error)?;
    let user: String = row.try_get("user_id").map_err(db_error)?;
    Ok((
        LoginSessionId::from_uuid(parse_uuid(&session)?),
        UserId::from_uuid(parse_uuid(&user)?),
    ))
}

#[async_trait]
impl LoginSessionStore for SqliteStore {
    async fn insert(&self, s: &LoginSession) -> Result<()> {
        sqlx::query(concat!(
            "INSERT INTO login_sessions (",
            columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(s.id.to_string())
        .bind(s.user_id.to_string())
        .bind(&s.device.name)
        .bind(&s.device.platform)
        .bind(&s.device.fingerprint)
        .bind(&s.device.user_agent)
        .bind(&s.device.ip)
        .bind(millis(s.created_at))
        .bind(millis(s.last_seen_at))
        .bind(millis(s.expires_at))
        .bind(s.revoked_at.map(millis))
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn get(&self, id: LoginSessionId) -> Result<Option<LoginSession>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM login_sessions WHERE id = ?"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        row.as_ref().map(session).transpose()
    }

    async fn list_alive(&self, user: UserId, now: DateTime<Utc>) -> Result<Vec<LoginSession>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM login_sessions WHERE user_id = ? \
             AND revoked_at IS NULL AND expires_at > ? ORDER BY created_at DESC, id DESC"
        ))
        .bind(user.to_string())
        .bind(millis(now))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.iter().map(session).collect()
    }

    async fn alive_past(
        &self,
        user: UserId,
        now: DateTime<Utc>,
        keep: u32,
    ) -> Result<Vec<LoginSessionId>> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM login_sessions WHERE user_id = ? AND revoked_at IS NULL \
             AND expires_at > ? ORDER BY created_at DESC, id DESC LIMIT -1 OFFSET ?",
        )
        .bind(user.to_string())
        .bind(millis(now))
        .bind(i64::from(keep))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        ids.iter()
            .map(|id| parse_uuid(id).map(LoginSessionId::from_uuid))
            .collect()
    }

    async fn touch(&self, id: LoginSessionId, at: DateTime<Utc>) -> Result<()> {
        sqlx::query("UPDATE login_sessions SET last_seen_at = MAX(last_seen_at, ?) WHERE id = ?")
            .bind(millis(at))
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn revoke(&self, id: LoginSessionId, at: DateTime<Utc>) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE login_sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
        )
        .bind(millis(at))
        .bind(id.to_string())
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn revoke_all(&self, user: UserId, at: DateTime<Utc>) -> Result<Vec<LoginSessionId>> {
        let rows = sqlx::query(
            "UPDATE login_sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL \
             RETURNING id",
        )
        .bind(millis(at))
        .bind(user.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.iter()
            .map(|r| {
                let id: String = r.try_get("id").map_err(db_error)?;
                Ok(LoginSessionId::from_uuid(parse_uuid(&id)?))
            })
            .collect()
    }
}

#[async_trait]
impl RefreshTokenStore for SqliteStore {
    async fn insert(&self, r: &RefreshTokenRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO refresh_tokens (hash, session_id, user_id, issued_at, used_at) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&r.hash)
        .bind(r.session_id.to_string())
        .bind(r.user_id.to_string())
        .bind(millis(r.issued_at))
        .bind(r.used_at.map(millis))
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn rotate(&self, presented: &str, child: &str, at: DateTime<Utc>) -> Result<Rotation> {
        let mut tx = begin(&self.pool, None, db_error).await?;
        // The write comes first so the transaction takes SQLite's write lock at once: of
        // concurrent rotations exactly one sees `used_at IS NULL`.
        let spent = sqlx::query(
            "UPDATE refresh_tokens SET used_at = ? WHERE hash = ? AND used_at IS NULL \
             RETURNING session_id, user_id",
        )
        .bind(millis(at))
        .bind(presented)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?;
        let outcome = match spent {
            Some(row) => {
                let (session_id, user_id) = session_and_user(&row)?;
                sqlx::query(
                    "INSERT INTO refresh_tokens (hash, session_id, user_id, issued_at, \
                     parent_hash) VALUES (?, ?, ?, ?, ?)",
                )
                .bind(child)
                .bind(session_id.to_string())
                .bind(user_id.to_string())
                .bind(millis(at))
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
                     FROM refresh_tokens p WHERE hash = ?",
                )
                .bind(presented)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_error)?;
                match row {
                    Some(row) => {
                        let (session_id, user_id) = session_and_user(&row)?;
                        let used: Option<i64> = row.try_get("used_at").map_err(db_error)?;
                        Rotation::Reused {
                            session_id,
                            user_id,
                            used_at: from_millis(used.unwrap_or_default())?,
                            child_used: row.try_get("child_used").map_err(db_error)?,
                        }
                    }
                    None => Rotation::Unknown,
                }
            }
        };
        tx.commit().await.map_err(db_error)?;
        Ok(outcome)
    }

    async fn delete_families(&self, sessions: &[LoginSessionId]) -> Result<u64> {
        let mut removed = 0;
        for id in sessions {
            removed += sqlx::query("DELETE FROM refresh_tokens WHERE session_id = ?")
                .bind(id.to_string())
                .execute(&self.pool)
                .await
                .map_err(db_error)?
                .rows_affected();
        }
        Ok(removed)
    }
}

#[async_trait]
impl TokenDenylist for SqliteStore {
    async fn deny(&self, jti: &str, expires_at: DateTime<Utc>) -> Result<()> {
        sqlx::query("INSERT OR IGNORE INTO denied_tokens (jti, expires_at) VALUES (?, ?)")
            .bind(jti)
            .bind(millis(expires_at))
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn active(&self, now: DateTime<Utc>) -> Result<Vec<(String, DateTime<Utc>)>> {
        let rows = sqlx::query("SELECT jti, expires_at FROM denied_tokens WHERE expires_at >= ?")
            .bind(millis(now))
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.iter()
            .map(|r| {
                let jti: String = r.try_get("jti").map_err(db_error)?;
                let exp: i64 = r.try_get("expires_at").map_err(db_error)?;
                Ok((jti, from_millis(exp)?))
            })
            .collect()
    }
}

#[async_trait]
impl ExpiredDeletion for SqliteStore {
    async fn purge_login_sessions(&self, now: DateTime<Utc>) -> Result<u64> {
        let done = sqlx::query(
            "DELETE FROM login_sessions WHERE revoked_at IS NOT NULL OR expires_at <= ?",
        )
        .bind(millis(now))
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(done.rows_affected())
    }

    async fn purge_refresh_tokens_issued_before(&self, before: DateTime<Utc>) -> Result<u64> {
        let done = sqlx::query("DELETE FROM refresh_tokens WHERE issued_at < ?")
            .bind(millis(before))
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(done.rows_affected())
    }

    async fn purge_denials(&self, now: DateTime<Utc>) -> Result<u64> {
        let done = sqlx::query("DELETE FROM denied_tokens WHERE expires_at < ?")
            .bind(millis(now))
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(done.rows_affected())
    }
}

#[async_trait]
impl RefreshTokenCounts for SqliteStore {
    async fn count_unused(&self, session: LoginSessionId) -> Result<u64> {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM refresh_tokens WHERE session_id = ? AND used_at IS NULL",
        )
        .bind(session.to_string())
        .fetch_one(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(count as u64)
    }
}

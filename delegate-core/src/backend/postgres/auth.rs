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

/// Whether PostgreSQL failed the statement with this SQLSTATE.
fn has_sqlstate(e: &sqlx::Error, sqlstate: &str) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().is_some_and(|code| code == sqlstate))
}

/// Whether `e` is PostgreSQL's serialization failure (SQLSTATE 40001): a concurrent writer
/// won under REPEATABLE READ or SERIALIZABLE.
fn is_serialization_failure(e: &sqlx::Error) -> bool {
    has_sqlstate(e, "40001")
}

/// How many times a statement PostgreSQL aborted to break a deadlock is run again.
const DEADLOCK_RETRIES: u32 = 3;

/// Runs `statement`, again (at most [`DEADLOCK_RETRIES`] times) while PostgreSQL aborts it
/// to break a deadlock (SQLSTATE 40P01). A purge deleting expired sessions cascades to their
/// refresh tokens, locking a session's row before its tokens' rows; a rotation locks a token's
/// row, then (checking the child's foreign key) its session's: the two can deadlock, and the
/// one PostgreSQL aborts only has to run again, after the other.
async fn retrying_deadlocks<T, F, Fut>(mut statement: F) -> std::result::Result<T, sqlx::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, sqlx::Error>>,
{
    let mut retries = 0;
    loop {
        match statement().await {
            Err(e) if has_sqlstate(&e, "40P01") && retries < DEADLOCK_RETRIES => retries += 1,
            other => return other,
        }
    }
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

    async fn alive_past(
        &self,
        user: UserId,
        now: DateTime<Utc>,
        keep: u32,
    ) -> Result<Vec<LoginSessionId>> {
        let ids: Vec<Uuid> = sqlx::query_scalar(
            "SELECT id FROM login_sessions WHERE user_id = $1 AND revoked_at IS NULL \
             AND expires_at > $2 ORDER BY created_at DESC, id DESC OFFSET $3",
        )
        .bind(user.as_uuid())
        .bind(now)
        .bind(i64::from(keep))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(ids.into_iter().map(LoginSessionId::from_uuid).collect())
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
        // One statement, so one round trip and no transaction: the UPDATE spends the token
        // only if it is unused and its session alive, and the INSERT adds the child only for
        // a row it spent. A token of a dead session is left alone (locking nothing, so a
        // purge deleting that session cannot deadlock with it) and reads as unknown below. Under
        // READ COMMITTED a concurrent UPDATE of the same row waits for the first writer,
        // then re-checks `used_at IS NULL` against the committed row, so exactly one
        // rotation spends it; under a stricter default level the loser fails with a
        // serialization error instead. Either loser learns why below.
        let spent = retrying_deadlocks(|| {
            sqlx::query(
                "WITH spent AS (UPDATE refresh_tokens t SET used_at = $1 FROM login_sessions s \
                 WHERE t.hash = $2 AND t.used_at IS NULL AND s.id = t.session_id \
                 AND s.revoked_at IS NULL AND s.expires_at > $1 \
                 RETURNING t.session_id, t.user_id), \
                 child AS (INSERT INTO refresh_tokens (hash, session_id, user_id, issued_at, \
                 parent_hash) SELECT $3, session_id, user_id, $1, $2 FROM spent) \
                 SELECT session_id, user_id FROM spent",
            )
            .bind(at)
            .bind(presented)
            .bind(child)
            .fetch_optional(&self.pool)
        })
        .await;
        match spent {
            Ok(Some(row)) => {
                let (session_id, user_id) = session_and_user(&row)?;
                return Ok(Rotation::Rotated {
                    session_id,
                    user_id,
                });
            }
            Ok(None) => {}
            Err(e) if is_serialization_failure(&e) => {}
            Err(e) => return Err(db_error(e)),
        }
        // Not spent here: unknown, or used before (a replay, or a concurrent duplicate that
        // lost). A fresh statement sees the winner's `used_at`.
        let row = sqlx::query(
            "SELECT session_id, user_id, used_at, EXISTS (SELECT 1 FROM refresh_tokens \
             c WHERE c.parent_hash = p.hash AND c.used_at IS NOT NULL) AS child_used \
             FROM refresh_tokens p WHERE hash = $1",
        )
        .bind(presented)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        let Some(row) = row else {
            return Ok(Rotation::Unknown);
        };
        match row
            .try_get::<Option<DateTime<Utc>>, _>("used_at")
            .map_err(db_error)?
        {
            Some(used_at) => {
                let (session_id, user_id) = session_and_user(&row)?;
                Ok(Rotation::Reused {
                    session_id,
                    user_id,
                    used_at,
                    child_used: row.try_get("child_used").map_err(db_error)?,
                })
            }
            // Stored unused only after the statement above looked (a concurrent insert of
            // the same hash): it was unknown when presented.
            None => Ok(Rotation::Unknown),
        }
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
        let done = retrying_deadlocks(|| {
            sqlx::query(
                "DELETE FROM login_sessions WHERE revoked_at IS NOT NULL OR expires_at <= $1",
            )
            .bind(now)
            .execute(&self.pool)
        })
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

//! `UserStore` on SQLite.

use super::{SqliteStore, db_error, from_millis, millis, parse_uuid};
use crate::backend::like_prefix;
use crate::error::{Error, Result};
use crate::ids::UserId;
use crate::users::{
    ProfileChange, Role, Tier, User, UserCredentials, UserQuery, UserStore, email_taken, last_admin,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

macro_rules! columns {
    () => {
        "id, email, name, password_hash, tier, role, preferences, avatar_url, disabled, created_at, \
         updated_at"
    };
}

fn credentials(row: &SqliteRow) -> Result<UserCredentials> {
    let get_str = |col: &str| row.try_get::<String, _>(col).map_err(db_error);
    let preferences: String = get_str("preferences")?;
    Ok(UserCredentials {
        user: User {
            id: UserId::from_uuid(parse_uuid(&get_str("id")?)?),
            email: get_str("email")?,
            name: get_str("name")?,
            tier: get_str("tier")?.parse()?,
            role: get_str("role")?.parse()?,
            preferences: serde_json::from_str(&preferences)
                .map_err(|e| Error::internal("stored preferences are not JSON").with_source(e))?,
            avatar_url: row.try_get("avatar_url").map_err(db_error)?,
            disabled: row.try_get("disabled").map_err(db_error)?,
            created_at: from_millis(row.try_get("created_at").map_err(db_error)?)?,
            updated_at: from_millis(row.try_get("updated_at").map_err(db_error)?)?,
        },
        password_hash: get_str("password_hash")?,
    })
}

/// True when the row (`users.id`, bound last) is not an enabled admin, or another enabled
/// admin exists.
macro_rules! keeps_an_admin {
    () => {
        "(role <> 'admin' OR disabled OR EXISTS (SELECT 1 FROM users AS other \
         WHERE other.role = 'admin' AND NOT other.disabled AND other.id <> ?))"
    };
}

impl SqliteStore {
    /// `Ok(true)` when a guarded change touched the row; when it did not, `Ok(false)` for an
    /// unknown user and [`last_admin`] for one the guard protected.
    async fn changed_or_last_admin(&self, id: UserId, rows: u64) -> Result<bool> {
        if rows == 1 {
            return Ok(true);
        }
        match self.get(id).await? {
            Some(_) => Err(last_admin()),
            None => Ok(false),
        }
    }

    async fn update_user(
        &self,
        sql: &'static str,
        id: UserId,
        value: &str,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let done = sqlx::query(sql)
            .bind(value)
            .bind(millis(now))
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(done.rows_affected() == 1)
    }
}

#[async_trait]
impl UserStore for SqliteStore {
    async fn insert(&self, user: &User, password_hash: &str) -> Result<()> {
        let result = sqlx::query(
            "INSERT INTO users (id, email, name, password_hash, tier, role, preferences, \
             avatar_url, disabled, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(user.id.to_string())
        .bind(&user.email)
        .bind(&user.name)
        .bind(password_hash)
        .bind(user.tier.as_str())
        .bind(user.role.as_str())
        .bind(user.preferences.to_string())
        .bind(&user.avatar_url)
        .bind(user.disabled)
        .bind(millis(user.created_at))
        .bind(millis(user.updated_at))
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(email_taken()),
            Err(e) => Err(db_error(e)),
        }
    }

    async fn get(&self, id: UserId) -> Result<Option<User>> {
        let row = sqlx::query(concat!("SELECT ", columns!(), " FROM users WHERE id = ?"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.map(|r| credentials(&r).map(|c| c.user)).transpose()
    }

    async fn credentials_by_email(&self, email: &str) -> Result<Option<UserCredentials>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM users WHERE email = ?"
        ))
        .bind(email)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        row.map(|r| credentials(&r)).transpose()
    }

    async fn search(&self, query: &UserQuery) -> Result<Vec<User>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM users WHERE id > ? \
             AND (? IS NULL OR lower(email) LIKE ? ESCAPE '\\' OR lower(name) LIKE ? ESCAPE '\\') \
             AND (? IS NULL OR tier = ?) AND (? IS NULL OR role = ?) \
             AND (? IS NULL OR disabled = ?) ORDER BY id LIMIT ?"
        ))
        .bind(query.after.map(|a| a.to_string()).unwrap_or_default())
        .bind(query.prefix.as_deref())
        .bind(like_prefix(query.prefix.as_deref()))
        .bind(like_prefix(query.prefix.as_deref()))
        .bind(query.tier.map(|t| t.as_str()))
        .bind(query.tier.map(|t| t.as_str()))
        .bind(query.role.map(|r| r.as_str()))
        .bind(query.role.map(|r| r.as_str()))
        .bind(query.disabled)
        .bind(query.disabled)
        .bind(i64::from(query.limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.iter()
            .map(|r| credentials(r).map(|c| c.user))
            .collect()
    }

    async fn set_tier(&self, id: UserId, tier: Tier, now: DateTime<Utc>) -> Result<bool> {
        self.update_user(
            "UPDATE users SET tier = ?, updated_at = ? WHERE id = ?",
            id,
            tier.as_str(),
            now,
        )
        .await
    }

    async fn set_password_hash(&self, id: UserId, hash: &str, now: DateTime<Utc>) -> Result<bool> {
        self.update_user(
            "UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?",
            id,
            hash,
            now,
        )
        .await
    }

    async fn set_role(&self, id: UserId, role: Role, now: DateTime<Utc>) -> Result<bool> {
        // One statement, and SQLite has one writer: the check and the change are atomic.
        let done = sqlx::query(concat!(
            "UPDATE users SET role = ?, updated_at = ? WHERE id = ? AND (? = 'admin' OR ",
            keeps_an_admin!(),
            ")"
        ))
        .bind(role.as_str())
        .bind(millis(now))
        .bind(id.to_string())
        .bind(role.as_str())
        .bind(id.to_string())
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        self.changed_or_last_admin(id, done.rows_affected()).await
    }

    async fn set_disabled(&self, id: UserId, disabled: bool, now: DateTime<Utc>) -> Result<bool> {
        let done = sqlx::query(concat!(
            "UPDATE users SET disabled = ?, updated_at = ? WHERE id = ? AND (NOT ? OR ",
            keeps_an_admin!(),
            ")"
        ))
        .bind(disabled)
        .bind(millis(now))
        .bind(id.to_string())
        .bind(disabled)
        .bind(id.to_string())
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        self.changed_or_last_admin(id, done.rows_affected()).await
    }

    async fn delete(&self, id: UserId) -> Result<bool> {
        // Login sessions, refresh tokens (through their sessions), chats, messages, usage and
        // holds go with the account (ON DELETE CASCADE).
        let done = sqlx::query(concat!(
            "DELETE FROM users WHERE id = ? AND ",
            keeps_an_admin!()
        ))
        .bind(id.to_string())
        .bind(id.to_string())
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        self.changed_or_last_admin(id, done.rows_affected()).await
    }

    async fn update_profile(
        &self,
        id: UserId,
        change: &ProfileChange,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE users SET name = COALESCE(?, name), \
             avatar_url = CASE WHEN ? THEN ? ELSE avatar_url END, \
             preferences = COALESCE(?, preferences), updated_at = ? WHERE id = ?",
        )
        .bind(&change.name)
        .bind(change.avatar_url.is_some())
        .bind(change.avatar_url.clone().flatten())
        .bind(change.preferences.as_ref().map(|p| p.to_string()))
        .bind(millis(now))
        .bind(id.to_string())
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(done.rows_affected() == 1)
    }
}

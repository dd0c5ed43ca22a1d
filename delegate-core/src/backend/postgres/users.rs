//! `UserStore` on PostgreSQL.

use super::{PgStore, db_error};
use crate::error::Result;
use crate::ids::UserId;
use crate::users::{ProfileChange, Role, Tier, User, UserCredentials, UserStore, email_taken};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::postgres::PgRow;

macro_rules! columns {
    () => {
        "id, email, name, password_hash, tier, role, preferences, avatar_url, created_at, updated_at"
    };
}

fn credentials(row: &PgRow) -> Result<UserCredentials> {
    let get_str = |col: &str| row.try_get::<String, _>(col).map_err(db_error);
    Ok(UserCredentials {
        user: User {
            id: UserId::from_uuid(row.try_get("id").map_err(db_error)?),
            email: get_str("email")?,
            name: get_str("name")?,
            tier: get_str("tier")?.parse()?,
            role: get_str("role")?.parse()?,
            preferences: row.try_get("preferences").map_err(db_error)?,
            avatar_url: row.try_get("avatar_url").map_err(db_error)?,
            created_at: row.try_get("created_at").map_err(db_error)?,
            updated_at: row.try_get("updated_at").map_err(db_error)?,
        },
        password_hash: get_str("password_hash")?,
    })
}

impl PgStore {
    async fn update_user(
        &self,
        sql: &'static str,
        id: UserId,
        value: &str,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let done = sqlx::query(sql)
            .bind(value)
            .bind(now)
            .bind(id.as_uuid())
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(done.rows_affected() == 1)
    }
}

#[async_trait]
impl UserStore for PgStore {
    async fn insert(&self, user: &User, password_hash: &str) -> Result<()> {
        let result = sqlx::query(concat!(
            "INSERT INTO users (",
            columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ))
        .bind(user.id.as_uuid())
        .bind(&user.email)
        .bind(&user.name)
        .bind(password_hash)
        .bind(user.tier.as_str())
        .bind(user.role.as_str())
        .bind(&user.preferences)
        .bind(&user.avatar_url)
        .bind(user.created_at)
        .bind(user.updated_at)
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(()),
            // As on SQLite, any unique violation (in practice the email) is the conflict.
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(email_taken()),
            Err(e) => Err(db_error(e)),
        }
    }

    async fn get(&self, id: UserId) -> Result<Option<User>> {
        let row = sqlx::query(concat!("SELECT ", columns!(), " FROM users WHERE id = $1"))
            .bind(id.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.map(|r| credentials(&r).map(|c| c.user)).transpose()
    }

    async fn credentials_by_email(&self, email: &str) -> Result<Option<UserCredentials>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM users WHERE email = $1"
        ))
        .bind(email)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        row.map(|r| credentials(&r)).transpose()
    }

    async fn list(&self, after: Option<UserId>, limit: u32) -> Result<Vec<User>> {
        // Two statements rather than `$1 IS NULL OR id > $1`, so each keeps an index plan.
        let query = match after {
            Some(after) => sqlx::query(concat!(
                "SELECT ",
                columns!(),
                " FROM users WHERE id > $1 ORDER BY id LIMIT $2"
            ))
            .bind(after.as_uuid()),
            None => sqlx::query(concat!(
                "SELECT ",
                columns!(),
                " FROM users ORDER BY id LIMIT $1"
            )),
        };
        let rows = query
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.iter()
            .map(|r| credentials(r).map(|c| c.user))
            .collect()
    }

    async fn set_tier(&self, id: UserId, tier: Tier, now: DateTime<Utc>) -> Result<bool> {
        self.update_user(
            "UPDATE users SET tier = $1, updated_at = $2 WHERE id = $3",
            id,
            tier.as_str(),
            now,
        )
        .await
    }

    async fn set_password_hash(&self, id: UserId, hash: &str, now: DateTime<Utc>) -> Result<bool> {
        self.update_user(
            "UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3",
            id,
            hash,
            now,
        )
        .await
    }

    async fn set_role(&self, id: UserId, role: Role, now: DateTime<Utc>) -> Result<bool> {
        self.update_user(
            "UPDATE users SET role = $1, updated_at = $2 WHERE id = $3",
            id,
            role.as_str(),
            now,
        )
        .await
    }

    async fn update_profile(
        &self,
        id: UserId,
        change: &ProfileChange,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE users SET name = COALESCE($1, name), \
             avatar_url = CASE WHEN $2 THEN $3 ELSE avatar_url END, \
             preferences = COALESCE($4, preferences), updated_at = $5 WHERE id = $6",
        )
        .bind(&change.name)
        .bind(change.avatar_url.is_some())
        .bind(change.avatar_url.clone().flatten())
        .bind(&change.preferences)
        .bind(now)
        .bind(id.as_uuid())
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(done.rows_affected() == 1)
    }
}

//! Importing accounts from the Node backend: one row at a time, with its bcrypt (or argon2)
//! hash kept as is (replaced by argon2id at the user's next login), idempotent by email.

use super::{Actor, AdminService, AuditEvent, AuditKind};
use crate::auth::password::is_supported_hash;
use crate::error::{Error, Result};
use crate::users::service::MAX_NAME_CHARS;
use crate::users::{MAX_PREFERENCES_BYTES, Role, Tier, User, email_taken};
use chrono::{DateTime, Utc};

/// One account to import, as the Node backend's export has it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportedUser {
    /// The email (required).
    pub email: String,
    /// The stored hash (required): bcrypt `$2a$`/`$2b$`/`$2y$`, or argon2 PHC.
    pub password_hash: String,
    /// Display name (default: the email's local part).
    pub name: Option<String>,
    /// `free`, `pro` or `enterprise` (default free).
    pub tier: Option<String>,
    /// `user` or `admin` (default user).
    pub role: Option<String>,
    /// RFC 3339 creation time (default now).
    pub created_at: Option<String>,
    /// A JSON object of preferences (default `{}`).
    pub preferences: Option<serde_json::Value>,
}

/// What importing one row did.
#[derive(Debug, Clone, PartialEq)]
pub enum ImportOutcome {
    /// The account was created.
    Created(User),
    /// An account with this email exists already: left as it is.
    Skipped {
        /// The normalised email.
        email: String,
    },
}

impl AdminService {
    /// Imports one account; an existing email is [`ImportOutcome::Skipped`]. A row that
    /// breaks a rule (no email, an unknown hash format, a bad tier) is an
    /// [`Error::Invalid`] naming the field. Audited (queued; flush the audit log after a
    /// batch).
    pub async fn import_user(&self, actor: &Actor, row: ImportedUser) -> Result<ImportOutcome> {
        Self::authorize(actor)?;
        let email = crate::auth::policy::normalize_email(&row.email)?;
        let hash = row.password_hash.trim();
        if !is_supported_hash(hash) {
            return Err(Error::invalid(
                "passwordHash",
                "must be a bcrypt ($2a$, $2b$, $2y$) or argon2 hash",
            ));
        }
        let name = match row.name.map(|n| n.trim().to_owned()) {
            Some(n) if !n.is_empty() => {
                crate::text::check("name", &n, MAX_NAME_CHARS)?;
                n
            }
            _ => email.split('@').next().unwrap_or_default().to_owned(),
        };
        let tier = non_empty(row.tier).map(|t| t.parse::<Tier>()).transpose()?;
        let role = non_empty(row.role).map(|r| r.parse::<Role>()).transpose()?;
        let created_at = non_empty(row.created_at)
            .map(|t| {
                DateTime::parse_from_rfc3339(&t)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|_| Error::invalid("createdAt", "must be an RFC 3339 time"))
            })
            .transpose()?
            .unwrap_or_else(|| self.now());
        let mut user = User::new(email.clone(), name, created_at)
            .with_tier(tier.unwrap_or_default())
            .with_role(role.unwrap_or_default());
        user.updated_at = self.now();
        if let Some(preferences) = row.preferences.filter(|p| !p.is_null()) {
            if !preferences.is_object() {
                return Err(Error::invalid("preferences", "must be a JSON object"));
            }
            crate::text::check_json("preferences", &preferences)?;
            if preferences.to_string().len() > MAX_PREFERENCES_BYTES {
                return Err(Error::invalid(
                    "preferences",
                    format!("must be at most {MAX_PREFERENCES_BYTES} bytes of JSON"),
                ));
            }
            user.preferences = preferences;
        }
        match self.core.users.insert(&user, hash).await {
            Ok(()) => {}
            Err(e) if e.code() == email_taken().code() => {
                return Ok(ImportOutcome::Skipped { email });
            }
            Err(e) => return Err(e),
        }
        self.core.audit.record(
            AuditEvent::new(AuditKind::UserCreated, actor.audit_actor(), self.now())
                .with_target(user.id)
                .with_detail(serde_json::json!({ "via": "import", "role": user.role.as_str(), "tier": user.tier.as_str() })),
        );
        Ok(ImportOutcome::Created(user))
    }
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

//! Views of accounts, login sessions, migrations and cleanups.

use super::{rfc3339, short_time};
use crate::table::{Table, dash};
use chrono::{DateTime, Utc};
use delegate_core::{CleanupReport, LoginSession, LoginSessionId, User};
use serde::Serialize;
use std::fmt::Write as _;

/// How many migrations `migrate` applied.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MigratedView {
    /// Migrations applied by this run (0 when already up to date).
    pub applied: usize,
}

impl MigratedView {
    pub(super) fn human(&self) -> String {
        match self.applied {
            0 => "database is up to date (0 migrations applied)".to_owned(),
            1 => "applied 1 migration".to_owned(),
            n => format!("applied {n} migrations"),
        }
    }
}

/// An account as the CLI shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    /// User id (UUID).
    pub id: String,
    /// Normalised email.
    pub email: String,
    /// Display name.
    pub name: String,
    /// `free`, `pro` or `enterprise`.
    pub tier: String,
    /// `user` or `admin`.
    pub role: String,
    /// Avatar URL.
    pub avatar_url: Option<String>,
    /// Disabled accounts cannot sign in.
    pub disabled: bool,
    /// Creation time.
    #[serde(serialize_with = "rfc3339")]
    pub created_at: DateTime<Utc>,
    /// Last change.
    #[serde(serialize_with = "rfc3339")]
    pub updated_at: DateTime<Utc>,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        Self {
            id: u.id.to_string(),
            email: u.email,
            name: u.name,
            tier: u.tier.to_string(),
            role: u.role.to_string(),
            avatar_url: u.avatar_url,
            disabled: u.disabled,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

impl UserView {
    pub(super) fn human(&self) -> String {
        let mut out = String::new();
        for (key, value) in [
            ("id", self.id.clone()),
            ("email", self.email.clone()),
            ("name", self.name.clone()),
            ("tier", self.tier.clone()),
            ("role", self.role.clone()),
            ("disabled", self.disabled.to_string()),
            ("created", short_time(self.created_at)),
            ("updated", short_time(self.updated_at)),
        ] {
            let _ = writeln!(out, "{:<8} {value}", format!("{key}:"));
        }
        out.trim_end().to_owned()
    }
}

/// A page of accounts.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserListView {
    /// The accounts, ordered by id.
    pub items: Vec<UserView>,
    /// Pass as `--after` for the next page; `null` when this page was not full.
    pub next_after: Option<String>,
}

impl UserListView {
    /// The page `users` of at most `limit` accounts.
    pub fn new(users: Vec<User>, limit: u32) -> Self {
        let full = users.len() >= limit as usize;
        let next_after = users.last().filter(|_| full).map(|u| u.id.to_string());
        Self {
            items: users.into_iter().map(UserView::from).collect(),
            next_after,
        }
    }

    pub(super) fn human(&self) -> String {
        if self.items.is_empty() {
            return "no users".to_owned();
        }
        let mut table = Table::new(["ID", "EMAIL", "NAME", "TIER", "ROLE", "DISABLED", "CREATED"]);
        for u in &self.items {
            table.row([
                u.id.clone(),
                u.email.clone(),
                u.name.clone(),
                u.tier.clone(),
                u.role.clone(),
                if u.disabled { "yes" } else { "no" }.to_owned(),
                short_time(u.created_at),
            ]);
        }
        let mut out = table.render();
        if let Some(next) = &self.next_after {
            let _ = write!(out, "\nmore: --after {next}");
        }
        out
    }
}

/// A login session as the CLI shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    /// Session id (UUID).
    pub id: String,
    /// Owner's user id.
    pub user_id: String,
    /// The device.
    pub device: DeviceView,
    /// Sign-in time.
    #[serde(serialize_with = "rfc3339")]
    pub created_at: DateTime<Utc>,
    /// Last use.
    #[serde(serialize_with = "rfc3339")]
    pub last_seen_at: DateTime<Utc>,
    /// Absolute end of the session.
    #[serde(serialize_with = "rfc3339")]
    pub expires_at: DateTime<Utc>,
}

/// Device details of a login session.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceView {
    /// Client label.
    pub name: Option<String>,
    /// Platform.
    pub platform: Option<String>,
    /// User-Agent at sign-in.
    pub user_agent: Option<String>,
    /// IP at sign-in.
    pub ip: Option<String>,
}

impl From<LoginSession> for SessionView {
    fn from(s: LoginSession) -> Self {
        Self {
            id: s.id.to_string(),
            user_id: s.user_id.to_string(),
            device: DeviceView {
                name: s.device.name,
                platform: s.device.platform,
                user_agent: s.device.user_agent,
                ip: s.device.ip,
            },
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
            expires_at: s.expires_at,
        }
    }
}

/// A user's alive sessions.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionListView {
    /// Newest first.
    pub items: Vec<SessionView>,
}

impl SessionListView {
    /// The view of `sessions`.
    pub fn new(sessions: Vec<LoginSession>) -> Self {
        Self {
            items: sessions.into_iter().map(SessionView::from).collect(),
        }
    }

    pub(super) fn human(&self) -> String {
        if self.items.is_empty() {
            return "no active sessions".to_owned();
        }
        let mut table = Table::new([
            "ID",
            "DEVICE",
            "PLATFORM",
            "USER AGENT",
            "IP",
            "CREATED",
            "LAST SEEN",
            "EXPIRES",
        ]);
        for s in &self.items {
            table.row([
                s.id.clone(),
                dash(&s.device.name),
                dash(&s.device.platform),
                dash(&s.device.user_agent),
                dash(&s.device.ip),
                short_time(s.created_at),
                short_time(s.last_seen_at),
                short_time(s.expires_at),
            ]);
        }
        table.render()
    }
}

/// A revoked session.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RevokedView {
    /// The session id.
    pub id: String,
    /// Always true: failures are errors.
    pub revoked: bool,
}

impl RevokedView {
    /// The view of revoking `id`.
    pub fn new(id: LoginSessionId) -> Self {
        Self {
            id: id.to_string(),
            revoked: true,
        }
    }

    pub(super) fn human(&self) -> String {
        format!("revoked session {}", self.id)
    }
}

/// What `sessions cleanup` removed.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CleanupView {
    /// Expired or revoked login sessions deleted.
    pub sessions: u64,
    /// Refresh tokens of expired families deleted.
    pub refresh_tokens: u64,
    /// Ended access-token denials deleted.
    pub denials: u64,
    /// Audit events past their retention deleted.
    pub audit_events: u64,
    /// Everything removed.
    pub removed: u64,
}

impl From<CleanupReport> for CleanupView {
    fn from(r: CleanupReport) -> Self {
        Self {
            sessions: r.sessions,
            refresh_tokens: r.refresh_tokens,
            denials: r.denials,
            audit_events: r.audit_events,
            removed: r.total(),
        }
    }
}

impl CleanupView {
    pub(super) fn human(&self) -> String {
        format!(
            "removed {} login sessions, {} refresh tokens, {} token denials, {} audit events",
            self.sessions, self.refresh_tokens, self.denials, self.audit_events
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::views::Output;
    use delegate_core::{DeviceInfo, Tier};

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap()
    }

    #[test]
    fn users_serialise_in_camel_case_with_rfc3339_times() {
        let user = User::new("ada@example.com", "Ada", at(0)).with_tier(Tier::Pro);
        let json = serde_json::to_value(Output::User(user.into())).unwrap();
        assert_eq!(json["tier"], "pro");
        assert_eq!(json["role"], "user");
        assert_eq!(json["createdAt"], "1970-01-01T00:00:00.000Z");
        assert!(json.get("created_at").is_none());
    }

    #[test]
    fn a_full_page_offers_the_next_cursor_and_a_short_one_does_not() {
        let users: Vec<User> = (0..2)
            .map(|i| User::new(format!("u{i}@example.com"), "u", at(i)))
            .collect();
        let last = users[1].id.to_string();
        let full = UserListView::new(users.clone(), 2);
        assert_eq!(full.next_after.as_deref(), Some(last.as_str()));
        assert!(full.human().contains(&format!("--after {last}")));
        let short = UserListView::new(users, 3);
        assert_eq!(short.next_after, None);
        assert_eq!(UserListView::new(Vec::new(), 3).human(), "no users");
    }

    #[test]
    fn sessions_show_missing_device_fields_as_dashes() {
        let device = DeviceInfo {
            name: Some("Laptop".into()),
            ..DeviceInfo::default()
        };
        let session = LoginSession::new(delegate_core::UserId::new(), device, at(0), at(60));
        let view = SessionListView::new(vec![session]);
        let json = serde_json::to_value(&view).unwrap();
        assert_eq!(json["items"][0]["device"]["name"], "Laptop");
        assert_eq!(json["items"][0]["expiresAt"], "1970-01-01T00:01:00.000Z");
        let human = view.human();
        assert!(human.contains("Laptop") && human.contains(" - "), "{human}");
    }
}

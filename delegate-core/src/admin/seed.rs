//! Demo data (the Node backend's `db:seed`): an admin, a user and sample chats, refused in
//! production, idempotent by email.

use super::{Actor, AdminService};
use crate::UserId;
use crate::auth::random;
use crate::chat::{ChatSession, Message, MessageRole, MessageStatus};
use crate::config::Environment;
use crate::error::{Error, Result};
use crate::users::{Role, Tier, User};

/// The demo admin's email.
pub const DEMO_ADMIN_EMAIL: &str = "admin@demo.delegate.dev";
/// The demo user's email.
pub const DEMO_USER_EMAIL: &str = "user@demo.delegate.dev";

/// A demo account and, when this run created it, its password (shown once).
#[derive(Debug, Clone, PartialEq)]
pub struct SeededAccount {
    /// The account.
    pub user: User,
    /// The generated password; `None` when the account existed and was left as it was.
    pub password: Option<String>,
}

/// What `seed_demo` made.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedReport {
    /// The admin, then the user.
    pub accounts: Vec<SeededAccount>,
    /// Sample chats created (none when the user existed).
    pub chats: u64,
}

/// The sample chats: a title and its alternating user/assistant turns.
const CHATS: &[(&str, &[&str])] = &[
    (
        "Planning a trip to Lisbon",
        &[
            "I have three days in Lisbon. What should I not miss?",
            "Day one: Alfama and the castle at sunset. Day two: Belém and a pastel de nata. \
             Day three: a train to Sintra.",
            "Is Sintra worth it in the rain?",
            "Yes: Pena Palace is mostly indoors, and the fog makes the gardens memorable.",
        ],
    ),
    (
        "Explain Rust lifetimes",
        &[
            "What is a lifetime in Rust, in one paragraph?",
            "A lifetime names how long a reference stays valid. The compiler checks that no \
             reference outlives the value it points to, so dangling pointers cannot compile.",
        ],
    ),
];

impl AdminService {
    /// Creates the demo admin and user with fresh passwords and the user's sample chats.
    /// Refused in production; accounts that exist are left as they are.
    pub async fn seed_demo(&self, actor: &Actor, environment: Environment) -> Result<SeedReport> {
        Self::authorize(actor)?;
        if environment == Environment::Production {
            return Err(Error::Forbidden(
                "demo data is never seeded in production (NODE_ENV=production)",
            ));
        }
        let admin = self
            .demo_account(
                actor,
                DEMO_ADMIN_EMAIL,
                "Demo Admin",
                Role::Admin,
                Tier::Enterprise,
            )
            .await?;
        let user = self
            .demo_account(actor, DEMO_USER_EMAIL, "Demo User", Role::User, Tier::Free)
            .await?;
        let chats = match user.password {
            Some(_) => self.demo_chats(user.user.id).await?,
            None => 0,
        };
        Ok(SeedReport {
            accounts: vec![admin, user],
            chats,
        })
    }

    async fn demo_account(
        &self,
        actor: &Actor,
        email: &str,
        name: &str,
        role: Role,
        tier: Tier,
    ) -> Result<SeededAccount> {
        if let Some(found) = self.core.users.credentials_by_email(email).await? {
            return Ok(SeededAccount {
                user: found.user,
                password: None,
            });
        }
        let password = random::token(18);
        let hash = self.core.hasher.hash(&password).await?;
        let user = User::new(email, name, self.now())
            .with_role(role)
            .with_tier(tier);
        self.core.users.insert(&user, &hash).await?;
        self.record_created(actor, &user, "seed").await;
        Ok(SeededAccount {
            user,
            password: Some(password),
        })
    }

    async fn demo_chats(&self, user: UserId) -> Result<u64> {
        let store = self.chat.store();
        for (title, turns) in CHATS {
            let now = self.now();
            let session = ChatSession::new(user, *title, now);
            store.create_chat_session(&session).await?;
            let messages: Vec<Message> = turns
                .iter()
                .enumerate()
                .map(|(i, text)| {
                    let role = if i % 2 == 0 {
                        MessageRole::User
                    } else {
                        MessageRole::Assistant
                    };
                    Message::new(session.id, role, *text, MessageStatus::Complete, now)
                })
                .collect();
            store.add_messages(&messages).await?;
        }
        Ok(CHATS.len() as u64)
    }
}

//! Delegate's core: the [`Delegate`] facade, its services, domain types and backends.
//!
//! ```no_run
//! # async fn run() -> delegate_core::Result<()> {
//! use delegate_core::{Config, Delegate, Registration};
//! let delegate = Delegate::connect(Config::default()).await?;
//! let signed_in = delegate
//!     .auth()
//!     .register(Registration::new("ada@example.com", "a long passphrase"))
//!     .await?;
//! let caller = delegate.auth().authenticate(&signed_in.tokens.access_token).await?;
//! assert_eq!(caller.user_id, signed_in.user.id);
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

pub mod admin;
pub mod ai;
pub mod auth;
pub mod backend;
pub mod bus;
pub mod cache;
pub mod chat;
pub mod clock;
pub mod config;
mod delegate;
pub mod error;
mod hashing;
pub mod health;
pub mod ids;
pub mod paging;
pub mod ratelimit;
pub mod realtime;
#[cfg(feature = "testing")]
pub mod testing;
mod text;
mod text_enum;
pub mod transcript;
pub mod usage;
pub mod users;
pub mod voice;

pub use async_trait::async_trait;
pub use auth::{
    AuthContext, AuthService, CleanupReport, Credentials, DeviceInfo, LoginSession,
    LoginSessionsService, Registration, SignedIn, TokenPair,
};
pub use backend::{Shared, Stores};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{Config, Environment, Secret};
pub use delegate::{Delegate, DelegateBuilder};
pub use error::{Error, ErrorKind, Result};
pub use ids::{AuditEventId, ChatSessionId, LoginSessionId, MessageId, TranscriptId, UserId};
pub use paging::{MAX_PAGE, Page};
pub use users::{Role, Tier, User, UsersService};

//! Authentication: passwords, access tokens, refresh-token rotation and login sessions.

mod backoff;
mod cleanup;
mod core;
mod denylist;
mod events;
mod guard;
mod hash_pool;
mod login_session;
mod login_session_cache;
mod login_sessions;
pub mod password;
pub mod policy;
pub mod random;
mod refresh;
mod service;
pub mod token;
mod types;

pub(crate) use self::core::AuthCore;
pub(crate) use backoff::LoginBackoff;
pub use cleanup::ExpiredDeletion;
pub use denylist::TokenDenylist;
pub use events::{AUTH_TOPIC, AuthEvent};
pub(crate) use guard::SessionGuard;
pub use login_session::{DeviceInfo, LoginSession, LoginSessionStore};
pub(crate) use login_session_cache::{
    CachedLoginSessions, LOGIN_SESSIONS_TOPIC, published_keys as login_session_published_keys,
};
pub use login_sessions::{CleanupReport, LoginSessionsService};
pub use refresh::{RefreshTokenCounts, RefreshTokenRecord, RefreshTokenStore, Rotation};
pub use service::AuthService;
pub use types::{AuthContext, Credentials, Registration, SignedIn, TokenPair};

//! Authentication: passwords, access tokens, refresh-token rotation and login sessions.

mod backoff;
mod denylist;
mod events;
mod guard;
pub mod password;
pub mod policy;
pub mod random;
mod refresh;
mod service;
mod session;
mod sessions_service;
pub mod token;

pub(crate) use backoff::LoginBackoff;
pub use denylist::TokenDenylist;
pub use events::{AUTH_TOPIC, AuthEvent};
pub(crate) use guard::SessionGuard;
pub use refresh::{RefreshTokenRecord, RefreshTokenStore, Rotation};
pub(crate) use service::AuthCore;
pub use service::{AuthContext, AuthService, Credentials, Registration, SignedIn, TokenPair};
pub use session::{DeviceInfo, LoginSession, LoginSessionStore};
pub use sessions_service::{CleanupReport, SessionsService};

//! The auth service: register, login, refresh rotation, request authentication, logout.

use super::denylist::TokenDenylist;
use super::events::{AUTH_TOPIC, AuthEvent};
use super::guard::{Liveness, SessionGuard};
use super::password::PasswordHasher;
use super::policy;
use super::random;
use super::refresh::{RefreshTokenRecord, RefreshTokenStore, Rotation};
use super::session::{DeviceInfo, LoginSession, LoginSessionStore};
use super::token::TokenSigner;
use crate::bus::EventBus;
use crate::clock::Clock;
use crate::config::{AuthConfig, Secret};
use crate::error::{Error, Result};
use crate::ids::{LoginSessionId, UserId};
use crate::users::service::MAX_NAME_CHARS;
use crate::users::{Role, Tier, User, UserStore};
use chrono::{DateTime, TimeDelta, Utc};
use std::sync::Arc;

/// Longest accepted client-supplied device field, in characters.
const MAX_DEVICE_FIELD_CHARS: usize = 200;
/// Longest kept User-Agent, in characters (longer ones are cut).
const MAX_USER_AGENT_CHARS: usize = 512;
/// Bytes of randomness in a refresh token.
const REFRESH_TOKEN_BYTES: usize = 32;

/// A request to create an account.
#[derive(Debug, Clone)]
pub struct Registration {
    email: String,
    password: String,
    name: Option<String>,
    device: DeviceInfo,
}

impl Registration {
    /// Registration with an email and password.
    pub fn new(email: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            email: email.into(),
            password: password.into(),
            name: None,
            device: DeviceInfo::default(),
        }
    }

    /// Sets the display name (default: the email's local part).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the device that signs in.
    pub fn with_device(mut self, device: DeviceInfo) -> Self {
        self.device = device;
        self
    }
}

/// A sign-in attempt.
#[derive(Debug, Clone)]
pub struct Credentials {
    email: String,
    password: String,
    device: DeviceInfo,
}

impl Credentials {
    /// Credentials with an email and password.
    pub fn new(email: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            email: email.into(),
            password: password.into(),
            device: DeviceInfo::default(),
        }
    }

    /// Sets the device that signs in.
    pub fn with_device(mut self, device: DeviceInfo) -> Self {
        self.device = device;
        self
    }
}

/// A fresh access token and refresh token.
#[derive(Debug, Clone)]
pub struct TokenPair {
    /// The bearer token for requests.
    pub access_token: String,
    /// The single-use refresh token.
    pub refresh_token: String,
    /// Access-token lifetime in seconds.
    pub expires_in: u64,
}

/// The result of registering or signing in.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The account.
    pub user: User,
    /// The new login session.
    pub session: LoginSession,
    /// Its tokens.
    pub tokens: TokenPair,
}

/// A verified caller: what a valid access token for a live session says.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthContext {
    /// The user.
    pub user_id: UserId,
    /// The login session.
    pub session_id: LoginSessionId,
    /// The token's id.
    pub jti: String,
    /// Tier at issue time.
    pub tier: Tier,
    /// Role at issue time.
    pub role: Role,
    /// When the token expires.
    pub expires_at: DateTime<Utc>,
}

/// State shared by [`AuthService`] and [`crate::SessionsService`].
pub(crate) struct AuthCore {
    pub(crate) config: AuthConfig,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) users: Arc<dyn UserStore>,
    pub(crate) profiles: crate::users::UsersService,
    pub(crate) sessions: Arc<dyn LoginSessionStore>,
    pub(crate) refresh: Arc<dyn RefreshTokenStore>,
    pub(crate) denylist: Arc<dyn TokenDenylist>,
    pub(crate) bus: Arc<dyn EventBus>,
    pub(crate) guard: SessionGuard,
    pub(crate) backoff: super::LoginBackoff,
    pub(crate) hasher: PasswordHasher,
    pub(crate) signer: TokenSigner,
    pub(crate) refresh_key: Secret,
}

impl AuthCore {
    /// Revokes sessions durably, then in this instance's guard, then on the bus.
    pub(crate) async fn revoke_sessions(&self, ids: &[LoginSessionId]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        self.guard.mark_dead(ids);
        self.refresh.delete_families(ids).await?;
        self.publish(&AuthEvent::SessionsRevoked { ids: ids.to_vec() })
            .await;
        Ok(())
    }

    /// Denies an access token durably, here, and on the bus.
    pub(crate) async fn deny_token(&self, jti: &str, expires_at: DateTime<Utc>) -> Result<()> {
        self.denylist.deny(jti, expires_at).await?;
        self.guard.deny(jti, expires_at, self.clock.now());
        self.publish(&AuthEvent::TokenDenied {
            jti: jti.to_owned(),
            expires_at,
        })
        .await;
        Ok(())
    }

    /// Applies an event from the bus to this instance's guard.
    pub(crate) fn apply(&self, event: AuthEvent) {
        match event {
            AuthEvent::SessionsRevoked { ids } => self.guard.mark_dead(&ids),
            AuthEvent::TokenDenied { jti, expires_at } => {
                self.guard.deny(&jti, expires_at, self.clock.now())
            }
        }
    }

    /// After missed bus events: forgets what the guard knows of sessions (they are re-read
    /// from the store on next use) and reloads the denylist.
    pub(crate) async fn resync(&self) -> Result<()> {
        self.guard.forget_sessions();
        let now = self.clock.now();
        for (jti, expires_at) in self.denylist.active(now).await? {
            self.guard.deny(&jti, expires_at, now);
        }
        Ok(())
    }

    async fn publish(&self, event: &AuthEvent) {
        let payload = serde_json::to_vec(event).expect("auth events serialise");
        // The store already holds the truth; other instances re-read it after the guard TTL.
        if let Err(e) = self.bus.publish(AUTH_TOPIC, payload).await {
            tracing::warn!(error = %e, "could not publish an auth event");
        }
    }

    fn hash_refresh(&self, token: &str) -> String {
        random::keyed_hash(self.refresh_key.expose(), token)
    }
}

/// Accounts and tokens: register, login, refresh, authenticate, logout.
#[derive(Clone)]
pub struct AuthService {
    core: Arc<AuthCore>,
}

impl AuthService {
    pub(crate) fn new(core: Arc<AuthCore>) -> Self {
        Self { core }
    }

    /// Creates an account and signs it in on the given device.
    pub async fn register(&self, registration: Registration) -> Result<SignedIn> {
        let device = check_device(registration.device.clone())?;
        let user = self.create_account(registration).await?;
        self.sign_in(user, device).await
    }

    /// Creates an account without signing it in (operators, imports). The registration's
    /// device is ignored.
    pub async fn create_account(&self, registration: Registration) -> Result<User> {
        let Registration {
            email,
            password,
            name,
            ..
        } = registration;
        let email = policy::normalize_email(&email)?;
        policy::check_new_password(&password)?;
        let name = match name.map(|n| n.trim().to_owned()) {
            Some(n) if n.chars().count() > MAX_NAME_CHARS => {
                return Err(Error::invalid(
                    "name",
                    format!("must be at most {MAX_NAME_CHARS} characters"),
                ));
            }
            Some(n) if !n.is_empty() => n,
            _ => email.split('@').next().unwrap_or_default().to_owned(),
        };
        let hash = self.core.hasher.hash(&password).await?;
        let user = User::new(email, name, self.core.clock.now());
        self.core.users.insert(&user, &hash).await?;
        Ok(user)
    }

    /// Signs in with email and password. Every failure, unknown email included, answers the
    /// same `invalid_credentials` after the same hashing work. After repeated failures the
    /// account's logins are refused for a growing, bounded delay ([`Error::RateLimited`]),
    /// known accounts and unknown emails alike.
    pub async fn login(&self, credentials: Credentials) -> Result<SignedIn> {
        let Credentials {
            email,
            password,
            device,
        } = credentials;
        let account = email.trim().to_lowercase();
        self.core.backoff.check(&account).await?;
        let device = check_device(device)?;
        let result = self.verify_login(&account, &password).await;
        match result {
            Ok(user) => {
                self.core.backoff.succeeded(&account).await?;
                self.sign_in(user, device).await
            }
            Err(e) => {
                if e.code() == "invalid_credentials" {
                    self.core.backoff.failed(&account).await?;
                }
                Err(e)
            }
        }
    }

    async fn verify_login(&self, email: &str, password: &str) -> Result<User> {
        policy::check_presented_password(password)?;
        let found = match policy::normalize_email(email) {
            Ok(email) => self.core.users.credentials_by_email(&email).await?,
            Err(_) => None,
        };
        let verified = match &found {
            Some(creds) => {
                self.core
                    .hasher
                    .verify(password, &creds.password_hash)
                    .await?
            }
            None => self.core.hasher.verify_dummy(password).await?,
        };
        match found {
            Some(creds) if verified => Ok(creds.user),
            _ => Err(Error::unauthenticated(
                "invalid_credentials",
                "invalid email or password",
            )),
        }
    }

    /// Exchanges a refresh token for a new pair. The presented token is spent. A token
    /// presented again after its rotation revokes its whole family and login session, unless
    /// it comes within the grace window (a concurrent duplicate), which answers a conflict.
    pub async fn refresh(&self, presented: &str) -> Result<TokenPair> {
        let invalid = || {
            Error::unauthenticated(
                "invalid_refresh_token",
                "the refresh token is invalid or expired",
            )
        };
        if presented.is_empty() || presented.len() > 256 {
            return Err(invalid());
        }
        let core = &self.core;
        let now = core.clock.now();
        let child = random::token(REFRESH_TOKEN_BYTES);
        let rotation = core
            .refresh
            .rotate(
                &core.hash_refresh(presented),
                &core.hash_refresh(&child),
                now,
            )
            .await?;
        let (session_id, user_id) = match rotation {
            Rotation::Unknown => return Err(invalid()),
            Rotation::Reused {
                session_id,
                used_at,
                ..
            } => {
                let grace = TimeDelta::seconds(core.config.refresh_grace_secs as i64);
                if now - used_at <= grace {
                    return Err(Error::Conflict {
                        code: "refresh_conflict",
                        message: "this refresh token was just rotated by another request; \
                                  use the token that request received"
                            .to_owned(),
                    });
                }
                tracing::warn!(%session_id, "refresh token reuse detected; revoking its family");
                if core.sessions.revoke(session_id, now).await? {
                    core.revoke_sessions(&[session_id]).await?;
                }
                return Err(Error::unauthenticated(
                    "refresh_token_reused",
                    "this refresh token was already used; the session has been revoked",
                ));
            }
            Rotation::Rotated {
                session_id,
                user_id,
            } => (session_id, user_id),
        };
        let session = core.sessions.get(session_id).await?;
        if !session.is_some_and(|s| s.is_alive(now)) {
            return Err(invalid());
        }
        let user = core.users.get(user_id).await?.ok_or_else(invalid)?;
        let (access_token, _) = core
            .signer
            .issue(user.id, session_id, user.tier, user.role, now)?;
        Ok(TokenPair {
            access_token,
            refresh_token: child,
            expires_in: core.signer.ttl_secs() as u64,
        })
    }

    /// Verifies an access token and that its login session is alive. Once the session is in
    /// the in-process guard this does no I/O; `lastSeenAt` is written in the background at
    /// most once per touch interval.
    pub async fn authenticate(&self, access_token: &str) -> Result<AuthContext> {
        let core = &self.core;
        let now = core.clock.now();
        let claims = core.signer.verify(access_token, now)?;
        let revoked = || Error::unauthenticated("token_revoked", "the access token was revoked");
        if core.guard.is_denied(&claims.jti, now) {
            return Err(revoked());
        }
        let liveness = match core.guard.liveness(claims.sid) {
            Some(liveness) => liveness,
            None => {
                let liveness = match core.sessions.get(claims.sid).await? {
                    Some(s) if s.is_alive(now) => Liveness::Alive {
                        user_id: s.user_id,
                        expires_at: s.expires_at,
                        last_seen: s.last_seen_at,
                    },
                    _ => Liveness::Dead,
                };
                core.guard.remember(claims.sid, liveness.clone());
                liveness
            }
        };
        let Liveness::Alive {
            user_id,
            expires_at,
            last_seen,
        } = liveness
        else {
            return Err(revoked());
        };
        if user_id != claims.sub || now >= expires_at {
            return Err(revoked());
        }
        if now - last_seen >= TimeDelta::seconds(core.config.session_touch_interval_secs as i64) {
            core.guard.record_touch(claims.sid, now);
            let (store, sid) = (core.sessions.clone(), claims.sid);
            tokio::spawn(async move {
                if let Err(e) = store.touch(sid, now).await {
                    tracing::warn!(error = %e, "could not record lastSeenAt");
                }
            });
        }
        Ok(AuthContext {
            user_id: claims.sub,
            session_id: claims.sid,
            jti: claims.jti,
            tier: claims.tier,
            role: claims.role,
            expires_at: DateTime::from_timestamp(claims.exp, 0).unwrap_or(now),
        })
    }

    /// The caller's account (from the profile cache) and current login session.
    pub async fn me(&self, caller: &AuthContext) -> Result<(User, LoginSession)> {
        let revoked = || Error::unauthenticated("token_revoked", "the access token was revoked");
        let user = match self.core.profiles.get(caller.user_id).await {
            Err(e) if e.kind() == crate::ErrorKind::NotFound => return Err(revoked()),
            other => other?,
        };
        let session = self.core.sessions.get(caller.session_id).await?;
        Ok((user, session.ok_or_else(revoked)?))
    }

    /// Ends the caller's login session: its refresh family and this access token die at once.
    pub async fn logout(&self, caller: &AuthContext) -> Result<()> {
        let core = &self.core;
        core.sessions
            .revoke(caller.session_id, core.clock.now())
            .await?;
        core.revoke_sessions(&[caller.session_id]).await?;
        core.deny_token(&caller.jti, caller.expires_at).await
    }

    /// Ends every login session of the caller; returns how many were alive.
    pub async fn logout_all(&self, caller: &AuthContext) -> Result<u64> {
        let core = &self.core;
        let ids = core
            .sessions
            .revoke_all(caller.user_id, core.clock.now())
            .await?;
        core.revoke_sessions(&ids).await?;
        core.deny_token(&caller.jti, caller.expires_at).await?;
        Ok(ids.len() as u64)
    }

    async fn sign_in(&self, user: User, device: DeviceInfo) -> Result<SignedIn> {
        let core = &self.core;
        let now = core.clock.now();
        let expires_at =
            now + TimeDelta::from_std(core.config.refresh_ttl()).map_err(Error::internal)?;
        let session = LoginSession::new(user.id, device, now, expires_at);
        core.sessions.insert(&session).await?;
        let refresh_token = random::token(REFRESH_TOKEN_BYTES);
        core.refresh
            .insert(&RefreshTokenRecord {
                hash: core.hash_refresh(&refresh_token),
                session_id: session.id,
                user_id: user.id,
                issued_at: now,
                used_at: None,
            })
            .await?;
        let (access_token, _) = core
            .signer
            .issue(user.id, session.id, user.tier, user.role, now)?;
        Ok(SignedIn {
            tokens: TokenPair {
                access_token,
                refresh_token,
                expires_in: core.signer.ttl_secs() as u64,
            },
            user,
            session,
        })
    }
}

fn check_device(device: DeviceInfo) -> Result<DeviceInfo> {
    for (field, value) in [
        ("device.name", &device.name),
        ("device.platform", &device.platform),
        ("device.fingerprint", &device.fingerprint),
    ] {
        if value
            .as_ref()
            .is_some_and(|v| v.chars().count() > MAX_DEVICE_FIELD_CHARS)
        {
            return Err(Error::invalid(
                field,
                format!("must be at most {MAX_DEVICE_FIELD_CHARS} characters"),
            ));
        }
    }
    Ok(DeviceInfo {
        user_agent: device
            .user_agent
            .map(|ua| ua.chars().take(MAX_USER_AGENT_CHARS).collect()),
        ..device
    })
}

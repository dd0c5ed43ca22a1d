//! The auth service: register, login, refresh rotation, request authentication, logout.

use super::core::AuthCore;
use super::guard::Liveness;
use super::login_session::{DeviceInfo, LoginSession, LoginSessionStore as _};
use super::policy;
use super::random;
use super::refresh::{RefreshTokenRecord, Rotation};
use super::types::{AuthContext, Credentials, Registration, SignedIn, TokenPair};
use crate::admin::{AuditActor, AuditEvent, AuditKind};
use crate::error::{Error, Result};
use crate::users::User;
use crate::users::service::MAX_NAME_CHARS;
use chrono::{DateTime, TimeDelta};
use std::sync::Arc;

/// Longest accepted client-supplied device field, in characters.
const MAX_DEVICE_FIELD_CHARS: usize = 200;
/// Longest kept User-Agent, in characters (longer ones are cut).
const MAX_USER_AGENT_CHARS: usize = 512;
/// Bytes of randomness in a refresh token.
const REFRESH_TOKEN_BYTES: usize = 32;

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
            Some(n) if !n.is_empty() => {
                crate::text::check("name", &n, MAX_NAME_CHARS)?;
                n
            }
            _ => email.split('@').next().unwrap_or_default().to_owned(),
        };
        let hash = self.core.hasher.hash(&password).await?;
        let user = User::new(email, name, self.core.clock.now());
        self.core.users.insert(&user, &hash).await?;
        Ok(user)
    }

    /// Signs in with email and password. Every failure, unknown email included, answers the
    /// same `invalid_credentials` after the same hashing work. After repeated failures from
    /// one client the account's logins from that client are refused for a growing, bounded
    /// delay ([`Error::RateLimited`]); past `max_attempts_per_account` attempts per window
    /// from all clients together, only a client (IP or device fingerprint) the account has a
    /// live login session from gets through. Known accounts and unknown emails alike.
    pub async fn login(&self, credentials: Credentials) -> Result<SignedIn> {
        let Credentials {
            email,
            password,
            device,
        } = credentials;
        let device = check_device(device)?;
        // Keys are built only from a validated (and so length-capped) address; anything else
        // cannot be an account and costs only the dummy verification, under the IP's limit.
        let account = policy::normalize_email(&email).ok();
        let backoff = &self.core.backoff;
        let client = backoff.client_key(device.ip.as_deref());
        if let Some(account) = &account {
            if let Err(e) = backoff.check(account, &client).await {
                count_login("locked");
                return Err(e);
            }
            if let Some(retry_after) = backoff.attempt(account).await?
                && !self.is_known_client(account, &client, &device).await?
            {
                count_login("locked");
                return Err(Error::RateLimited { retry_after });
            }
        }
        let audit = |kind, target: Option<crate::UserId>, detail| {
            let mut event = AuditEvent::new(kind, AuditActor::Anonymous, self.core.clock.now())
                .with_ip(device.ip.clone())
                .with_detail(detail);
            event.target = target;
            self.core.audit.record(event);
        };
        match self.verify_login(account.as_deref(), &password).await? {
            Verified::User(user) => {
                if let Some(account) = &account {
                    backoff.succeeded(account, &client).await?;
                }
                if user.disabled {
                    count_login("disabled");
                    audit(
                        AuditKind::LoginFailed,
                        Some(user.id),
                        serde_json::json!({ "reason": "disabled" }),
                    );
                    return Err(Error::AccountDisabled);
                }
                count_login("success");
                self.sign_in(user, device).await
            }
            Verified::Wrong(target) => {
                count_login("invalid");
                audit(
                    AuditKind::LoginFailed,
                    target,
                    serde_json::json!({ "reason": "invalid_credentials" }),
                );
                if let Some(account) = &account
                    && let Some(delay) = backoff.failed(account, &client).await?
                {
                    audit(
                        AuditKind::LoginLocked,
                        target,
                        serde_json::json!({ "lockedForSecs": delay.as_secs_f64().ceil() as u64 }),
                    );
                }
                Err(policy::invalid_credentials())
            }
        }
    }

    /// Whether the account has a live login session from this client's IP bucket or with
    /// this device fingerprint.
    async fn is_known_client(
        &self,
        account: &str,
        client: &str,
        device: &DeviceInfo,
    ) -> Result<bool> {
        let core = &self.core;
        let Some(found) = core.users.credentials_by_email(account).await? else {
            return Ok(false);
        };
        let sessions = core
            .sessions
            .list_alive(found.user.id, core.clock.now())
            .await?;
        Ok(sessions.iter().any(|s| {
            (client != "-" && core.backoff.client_key(s.device.ip.as_deref()) == client)
                || (device.fingerprint.is_some() && s.device.fingerprint == device.fingerprint)
        }))
    }

    /// Checks the password of the account with this email. A match against an imported
    /// bcrypt hash replaces it with argon2id on the spot.
    async fn verify_login(&self, email: Option<&str>, password: &str) -> Result<Verified> {
        if policy::check_presented_password(password).is_err() {
            return Ok(Verified::Wrong(None));
        }
        let core = &self.core;
        let found = match email {
            Some(email) => core.users.credentials_by_email(email).await?,
            None => None,
        };
        let Some(creds) = found else {
            core.hasher.verify_dummy(password).await?;
            return Ok(Verified::Wrong(None));
        };
        if !core.hasher.verify(password, &creds.password_hash).await? {
            return Ok(Verified::Wrong(Some(creds.user.id)));
        }
        if super::password::is_bcrypt(&creds.password_hash) {
            let hash = core.hasher.hash(password).await?;
            core.users
                .set_password_hash(creds.user.id, &hash, core.clock.now())
                .await?;
            metrics::counter!("delegate_auth_password_upgrades_total", "from" => "bcrypt")
                .increment(1);
            tracing::info!(user_id = %creds.user.id, "replaced an imported bcrypt hash with argon2id");
        }
        Ok(Verified::User(creds.user))
    }

    /// Exchanges a refresh token for a new pair. The presented token is spent. A token
    /// presented again after its rotation revokes its whole family and login session, unless
    /// it is the latest rotation (its replacement still unused) and comes within the grace
    /// window (a concurrent duplicate), which answers a conflict.
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
            Rotation::Unknown => {
                count_refresh("invalid");
                return Err(invalid());
            }
            Rotation::Reused {
                session_id,
                user_id,
                used_at,
                child_used,
            } => {
                // Only the latest rotation, raced by a duplicate, gets the grace: once the
                // family has moved on (the child was used too), any replay is theft.
                let grace = TimeDelta::seconds(core.config.refresh_grace_secs as i64);
                if !child_used && now - used_at <= grace {
                    count_refresh("conflict");
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
                count_refresh("reused");
                core.audit.record(
                    AuditEvent::new(AuditKind::RefreshReused, AuditActor::Anonymous, now)
                        .with_target(user_id)
                        .with_detail(serde_json::json!({ "sessionId": session_id })),
                );
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
        // The session and the account as this instance knows them (the guard, kept by
        // revocations on every instance; the profile cache, dropped on every change), as for
        // an access token. A revoked family has no tokens left to rotate anyway.
        let alive = matches!(
            core.liveness(session_id, now).await?,
            Liveness::Alive { user_id: owner, expires_at, .. } if owner == user_id && now < expires_at
        );
        if !alive {
            count_refresh("invalid");
            return Err(invalid());
        }
        let user = match core.profiles.shared(user_id).await {
            Err(e) if e.kind() == crate::ErrorKind::NotFound => return Err(invalid()),
            other => other?,
        };
        if user.disabled {
            count_refresh("disabled");
            return Err(Error::AccountDisabled);
        }
        count_refresh("rotated");
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
        let Liveness::Alive {
            user_id,
            expires_at,
            last_seen,
            ..
        } = core.liveness(claims.sid, now).await?
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
                    tracing::warn!(error = %e.report(), "could not record lastSeenAt");
                }
            });
        }
        // Tier and role as they are now (the cached profile), not as when the token was
        // issued: a change applies to the next request, on every instance.
        let user = match core.profiles.shared(claims.sub).await {
            Err(e) if e.kind() == crate::ErrorKind::NotFound => return Err(revoked()),
            other => other?,
        };
        if user.disabled {
            return Err(Error::AccountDisabled);
        }
        Ok(AuthContext {
            user_id: claims.sub,
            session_id: claims.sid,
            jti: claims.jti.clone(),
            tier: user.tier,
            role: user.role,
            expires_at: DateTime::from_timestamp(claims.exp, 0).unwrap_or(now),
            profile: user,
        })
    }

    /// The caller's account (as read when the caller was verified) and current login
    /// session (from the cache).
    pub async fn me(&self, caller: &AuthContext) -> Result<(Arc<User>, LoginSession)> {
        let revoked = || Error::unauthenticated("token_revoked", "the access token was revoked");
        let session = self.core.sessions.cached(caller.session_id).await?;
        let session = session.ok_or_else(revoked)?;
        Ok((caller.profile.clone(), Arc::unwrap_or_clone(session)))
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

    /// Changes the caller's password: `current` must be the password now, `new` follows the
    /// policy of a new account. Every other login session of the user is revoked (their
    /// tokens die at once); the caller's stays. Returns how many were revoked.
    pub async fn change_password(
        &self,
        caller: &AuthContext,
        current: &str,
        new: &str,
    ) -> Result<u64> {
        let core = &self.core;
        let wrong = || Error::invalid("currentPassword", "is not the current password");
        if current.is_empty() || current.chars().count() > policy::MAX_PASSWORD_CHARS {
            return Err(wrong());
        }
        policy::check_new_password(new).map_err(|e| match e {
            Error::Invalid { message, .. } => Error::Invalid {
                field: "newPassword",
                message,
            },
            other => other,
        })?;
        let user = core
            .users
            .get(caller.user_id)
            .await?
            .ok_or(Error::NotFound("user"))?;
        let creds = core
            .users
            .credentials_by_email(&user.email)
            .await?
            .ok_or(Error::NotFound("user"))?;
        if !core.hasher.verify(current, &creds.password_hash).await? {
            return Err(wrong());
        }
        let hash = core.hasher.hash(new).await?;
        let now = core.clock.now();
        if !core.users.set_password_hash(user.id, &hash, now).await? {
            return Err(Error::NotFound("user"));
        }
        let others = core.sessions.list_alive(user.id, now).await?;
        let revoked = core
            .end_sessions(
                others
                    .into_iter()
                    .map(|s| s.id)
                    .filter(|id| *id != caller.session_id),
            )
            .await?;
        core.audit.record(
            AuditEvent::new(AuditKind::PasswordChanged, AuditActor::User(user.id), now)
                .with_target(user.id)
                .with_detail(serde_json::json!({ "revokedSessions": revoked })),
        );
        Ok(revoked)
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
        let count = ids.len() as u64;
        core.record_revoked(
            AuditActor::User(caller.user_id),
            caller.user_id,
            count,
            None,
        );
        Ok(count)
    }

    /// Past `max_sessions_per_user` live login sessions, revokes the oldest ones (never
    /// `new`), so one account cannot pile up unbounded state. Only the ids past the cap are
    /// read, so a login costs the same however many sessions the account has.
    async fn enforce_session_cap(&self, user: &User, new: &LoginSession) -> Result<()> {
        let core = &self.core;
        let others_kept = core.config.max_sessions_per_user.max(1) - 1;
        let mut past = core
            .sessions
            .alive_past(user.id, core.clock.now(), others_kept)
            .await?;
        // `past` is everything after the newest `cap − 1`. If `new` is in it (a clock put it
        // behind older sessions), `new` stays and the rest end. Otherwise `new` is one of
        // those newest, so the first of `past`, the cap-th newest, stays as well.
        if !past.is_empty() {
            past.remove(past.iter().position(|id| *id == new.id).unwrap_or(0));
        }
        core.end_sessions(past).await.map(|_| ())
    }

    async fn sign_in(&self, user: User, device: DeviceInfo) -> Result<SignedIn> {
        let core = &self.core;
        let now = core.clock.now();
        let expires_at = now + crate::clock::delta(core.config.refresh_ttl())?;
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
        self.enforce_session_cap(&user, &session).await?;
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

/// What checking a login's password found.
enum Verified {
    /// The password matches this account.
    User(User),
    /// It does not (the account, when the email names one).
    Wrong(Option<crate::UserId>),
}

/// Counts a login attempt by outcome (`success`, `invalid`, `locked`, `disabled`).
fn count_login(outcome: &'static str) {
    metrics::counter!("delegate_auth_logins_total", "outcome" => outcome).increment(1);
}

/// Counts a refresh by outcome (`rotated`, `reused`, `conflict`, `invalid`, `disabled`).
fn count_refresh(outcome: &'static str) {
    metrics::counter!("delegate_auth_refreshes_total", "outcome" => outcome).increment(1);
}

fn check_device(device: DeviceInfo) -> Result<DeviceInfo> {
    for (field, value) in [
        ("device.name", &device.name),
        ("device.platform", &device.platform),
        ("device.fingerprint", &device.fingerprint),
    ] {
        if let Some(value) = value {
            crate::text::check(field, value, MAX_DEVICE_FIELD_CHARS)?;
        }
    }
    Ok(DeviceInfo {
        user_agent: device.user_agent.map(|ua| {
            ua.chars()
                .filter(|c| *c != '\0')
                .take(MAX_USER_AGENT_CHARS)
                .collect()
        }),
        ..device
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_passwords_or_tokens() {
        let registration = Registration::new("ada@example.com", "hunter2-secret-pass");
        let credentials = Credentials::new("ada@example.com", "hunter2-secret-pass");
        let tokens = TokenPair {
            access_token: "eyJ.access.token".into(),
            refresh_token: "refresh-token-value".into(),
            expires_in: 900,
        };
        let printed = format!("{registration:?} {credentials:?} {tokens:?}");
        for secret in ["hunter2", "eyJ.access", "refresh-token-value"] {
            assert!(!printed.contains(secret), "{printed}");
        }
        assert!(printed.contains("ada@example.com") && printed.contains("900"));
    }
}

//! Helpers shared by the relational suites: fixed instants and seeded rows.

use crate::Stores;
use crate::auth::{
    DeviceInfo, ExpiredDeletion, LoginSession, RefreshTokenCounts, RefreshTokenRecord,
};
use crate::ids::UserId;
use crate::users::User;
use chrono::{DateTime, TimeDelta, Utc};

/// A fixed, whole-second instant: stores may keep only milliseconds (or microseconds), so
/// cases build every time from it to compare round trips exactly.
pub(crate) fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).expect("valid instant")
}

/// `t0()` plus `secs` seconds.
pub(crate) fn at(secs: i64) -> DateTime<Utc> {
    t0() + TimeDelta::seconds(secs)
}

/// The backend's cleanup capability, which the purge cases exercise.
pub(crate) fn cleanup(stores: &Stores) -> &dyn ExpiredDeletion {
    stores
        .cleanup
        .as_deref()
        .expect("the purge cases need a backend with ExpiredDeletion (Stores::with_cleanup)")
}

/// The backend's refresh-token counts, which the rotation cases check.
pub(crate) fn counts(stores: &Stores) -> &dyn RefreshTokenCounts {
    stores
        .refresh_counts
        .as_deref()
        .expect("the refresh cases need RefreshTokenCounts (Stores::with_refresh_counts)")
}

/// Inserts a fresh user with a unique email (sessions and tokens reference users).
pub(crate) async fn seed_user(stores: &Stores) -> User {
    let mut user = User::new("", "Seeded", t0());
    user.email = format!("{}@example.test", user.id);
    stores
        .users
        .insert(&user, "$argon2id$seeded")
        .await
        .expect("insert seeded user");
    user
}

/// Inserts a login session of `user` created at `at(created)`, ending at `at(expires)`.
pub(crate) async fn seed_session(
    stores: &Stores,
    user: UserId,
    created: i64,
    expires: i64,
) -> LoginSession {
    let session = LoginSession::new(user, DeviceInfo::default(), at(created), at(expires));
    stores
        .sessions
        .insert(&session)
        .await
        .expect("insert seeded session");
    session
}

/// Inserts an unused refresh token `hash` in `session`'s family, issued at `at(issued)`.
pub(crate) async fn seed_token(
    stores: &Stores,
    session: &LoginSession,
    hash: &str,
    issued: i64,
) -> RefreshTokenRecord {
    let record = RefreshTokenRecord {
        hash: hash.to_owned(),
        session_id: session.id,
        user_id: session.user_id,
        issued_at: at(issued),
        used_at: None,
    };
    stores
        .refresh
        .insert(&record)
        .await
        .expect("insert seeded refresh token");
    record
}

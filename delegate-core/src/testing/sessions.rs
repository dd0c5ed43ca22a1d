//! The `LoginSessionStore` suite: round trips, liveness, touch, revocation and purging.

use super::support::{at, cleanup, seed_session, seed_user};
use crate::Stores;
use crate::auth::{DeviceInfo, LoginSession};
use crate::ids::{LoginSessionId, UserId};

fn sorted(mut ids: Vec<LoginSessionId>) -> Vec<LoginSessionId> {
    ids.sort();
    ids
}

fn ids(sessions: &[LoginSession]) -> Vec<LoginSessionId> {
    sessions.iter().map(|s| s.id).collect()
}

/// An inserted session reads back field for field, with and without device details; an
/// unknown id is `None`.
pub async fn insert_then_get_round_trips(stores: Stores) {
    let user = seed_user(&stores).await;
    let device = DeviceInfo {
        name: Some("Ada's iPhone".to_owned()),
        platform: Some("ios".to_owned()),
        fingerprint: Some("fp-123".to_owned()),
        user_agent: Some("Delegate/1.0 (iPhone)".to_owned()),
        ip: Some("203.0.113.7".to_owned()),
    };
    let mut full = LoginSession::new(user.id, device, at(0), at(3600));
    full.last_seen_at = at(30);
    stores.sessions.insert(&full).await.unwrap();

    let mut bare = LoginSession::new(user.id, DeviceInfo::default(), at(10), at(7200));
    bare.revoked_at = Some(at(20));
    stores.sessions.insert(&bare).await.unwrap();

    assert_eq!(stores.sessions.get(full.id).await.unwrap(), Some(full));
    assert_eq!(stores.sessions.get(bare.id).await.unwrap(), Some(bare));
    assert_eq!(
        stores.sessions.get(LoginSessionId::new()).await.unwrap(),
        None
    );
}

/// `list_alive` returns only the user's sessions that are neither revoked nor expired at
/// `now` (one ending exactly at `now` is expired), newest first.
pub async fn list_alive_excludes_dead_sessions_newest_first(stores: Stores) {
    let ada = seed_user(&stores).await;
    let bob = seed_user(&stores).await;

    // Inserted out of creation order so a store returning insertion order fails.
    let middle = seed_session(&stores, ada.id, 20, 1000).await;
    let oldest = seed_session(&stores, ada.id, 10, 1000).await;
    let newest = seed_session(&stores, ada.id, 30, 1000).await;
    let revoked = seed_session(&stores, ada.id, 40, 1000).await;
    assert!(stores.sessions.revoke(revoked.id, at(50)).await.unwrap());
    let expired = seed_session(&stores, ada.id, 45, 90).await;
    let ends_now = seed_session(&stores, ada.id, 46, 100).await;
    let _bobs = seed_session(&stores, bob.id, 35, 1000).await;

    let alive = stores.sessions.list_alive(ada.id, at(100)).await.unwrap();
    assert_eq!(ids(&alive), vec![newest.id, middle.id, oldest.id]);
    assert_eq!(alive[0], newest);

    // Earlier, the ones that have since expired were alive.
    let alive = stores.sessions.list_alive(ada.id, at(60)).await.unwrap();
    assert_eq!(
        ids(&alive),
        vec![ends_now.id, expired.id, newest.id, middle.id, oldest.id]
    );

    assert_eq!(
        stores
            .sessions
            .list_alive(bob.id, at(100))
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        stores
            .sessions
            .list_alive(ada.id, at(1000))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        stores
            .sessions
            .list_alive(UserId::new(), at(100))
            .await
            .unwrap()
            .is_empty()
    );
}

/// `alive_past` lists the ids of the user's alive sessions past the newest `keep`, in
/// `list_alive`'s order (newest first), and nothing when `keep` covers them all.
pub async fn alive_past_skips_the_newest(stores: Stores) {
    let ada = seed_user(&stores).await;
    let bob = seed_user(&stores).await;
    let second = seed_session(&stores, ada.id, 20, 1000).await;
    let oldest = seed_session(&stores, ada.id, 10, 1000).await;
    let newest = seed_session(&stores, ada.id, 40, 1000).await;
    let third = seed_session(&stores, ada.id, 15, 1000).await;
    let revoked = seed_session(&stores, ada.id, 50, 1000).await;
    assert!(stores.sessions.revoke(revoked.id, at(60)).await.unwrap());
    let _expired = seed_session(&stores, ada.id, 5, 90).await;
    let _bobs = seed_session(&stores, bob.id, 1, 1000).await;

    let past = |keep| stores.sessions.alive_past(ada.id, at(100), keep);
    assert_eq!(
        past(0).await.unwrap(),
        vec![newest.id, second.id, third.id, oldest.id]
    );
    assert_eq!(past(2).await.unwrap(), vec![third.id, oldest.id]);
    assert_eq!(past(3).await.unwrap(), vec![oldest.id]);
    assert!(past(4).await.unwrap().is_empty());
    assert!(past(u32::MAX).await.unwrap().is_empty());
    assert!(
        stores
            .sessions
            .alive_past(UserId::new(), at(100), 0)
            .await
            .unwrap()
            .is_empty()
    );
}

/// `touch` moves `last_seen_at` forward, never backwards, and ignores unknown ids.
pub async fn touch_never_moves_backwards(stores: Stores) {
    let user = seed_user(&stores).await;
    let session = seed_session(&stores, user.id, 0, 3600).await;
    let other = seed_session(&stores, user.id, 0, 3600).await;

    stores.sessions.touch(session.id, at(100)).await.unwrap();
    let got = stores.sessions.get(session.id).await.unwrap().unwrap();
    assert_eq!(got.last_seen_at, at(100));
    assert_eq!(got.created_at, at(0));

    stores.sessions.touch(session.id, at(50)).await.unwrap();
    let got = stores.sessions.get(session.id).await.unwrap().unwrap();
    assert_eq!(
        got.last_seen_at,
        at(100),
        "touch moved last_seen_at backwards"
    );

    stores.sessions.touch(session.id, at(200)).await.unwrap();
    let got = stores.sessions.get(session.id).await.unwrap().unwrap();
    assert_eq!(got.last_seen_at, at(200));

    // Only the touched session changes; an unknown id is not an error.
    assert_eq!(stores.sessions.get(other.id).await.unwrap(), Some(other));
    stores
        .sessions
        .touch(LoginSessionId::new(), at(300))
        .await
        .unwrap();
}

/// `revoke` answers true the first time and false afterwards, keeping the first
/// `revoked_at`; an unknown id is false.
pub async fn revoke_succeeds_once(stores: Stores) {
    let user = seed_user(&stores).await;
    let session = seed_session(&stores, user.id, 0, 3600).await;
    let other = seed_session(&stores, user.id, 0, 3600).await;

    assert!(stores.sessions.revoke(session.id, at(10)).await.unwrap());
    assert!(!stores.sessions.revoke(session.id, at(20)).await.unwrap());
    let got = stores.sessions.get(session.id).await.unwrap().unwrap();
    assert_eq!(got.revoked_at, Some(at(10)));
    assert!(!got.is_alive(at(11)));

    assert_eq!(stores.sessions.get(other.id).await.unwrap(), Some(other));
    assert!(
        !stores
            .sessions
            .revoke(LoginSessionId::new(), at(10))
            .await
            .unwrap()
    );
}

/// `revoke_all` revokes exactly the user's unrevoked sessions and returns their ids; a
/// second call returns none.
pub async fn revoke_all_returns_exactly_the_unrevoked_ids(stores: Stores) {
    let ada = seed_user(&stores).await;
    let bob = seed_user(&stores).await;
    let a1 = seed_session(&stores, ada.id, 0, 3600).await;
    let a2 = seed_session(&stores, ada.id, 10, 3600).await;
    let a3 = seed_session(&stores, ada.id, 20, 3600).await;
    let bobs = seed_session(&stores, bob.id, 0, 3600).await;
    assert!(stores.sessions.revoke(a2.id, at(30)).await.unwrap());

    let revoked = stores.sessions.revoke_all(ada.id, at(40)).await.unwrap();
    assert_eq!(sorted(revoked), sorted(vec![a1.id, a3.id]));

    for (id, when) in [(a1.id, at(40)), (a2.id, at(30)), (a3.id, at(40))] {
        let got = stores.sessions.get(id).await.unwrap().unwrap();
        assert_eq!(got.revoked_at, Some(when));
    }
    assert!(
        stores
            .sessions
            .list_alive(ada.id, at(50))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(stores.sessions.get(bobs.id).await.unwrap(), Some(bobs));

    assert!(
        stores
            .sessions
            .revoke_all(ada.id, at(60))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        stores
            .sessions
            .revoke_all(UserId::new(), at(60))
            .await
            .unwrap()
            .is_empty()
    );
}

/// `purge` deletes the sessions expired or revoked at `now`, counts them, and keeps the
/// alive ones.
pub async fn purge_deletes_dead_sessions_and_counts(stores: Stores) {
    let ada = seed_user(&stores).await;
    let bob = seed_user(&stores).await;
    let alive = seed_session(&stores, ada.id, 0, 1000).await;
    let revoked = seed_session(&stores, ada.id, 0, 1000).await;
    let expired = seed_session(&stores, bob.id, 0, 50).await;
    let ends_now = seed_session(&stores, bob.id, 0, 100).await;
    let later = seed_session(&stores, bob.id, 0, 500).await;
    assert!(stores.sessions.revoke(revoked.id, at(10)).await.unwrap());

    assert_eq!(
        cleanup(&stores)
            .purge_login_sessions(at(100))
            .await
            .unwrap(),
        3
    );
    for gone in [revoked.id, expired.id, ends_now.id] {
        assert_eq!(stores.sessions.get(gone).await.unwrap(), None);
    }
    assert_eq!(stores.sessions.get(alive.id).await.unwrap(), Some(alive));
    assert_eq!(
        stores.sessions.get(later.id).await.unwrap(),
        Some(later.clone())
    );

    assert_eq!(
        cleanup(&stores)
            .purge_login_sessions(at(100))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        cleanup(&stores)
            .purge_login_sessions(at(500))
            .await
            .unwrap(),
        1
    );
    assert_eq!(stores.sessions.get(later.id).await.unwrap(), None);
}

//! The `RefreshTokenStore` suite: rotation outcomes, the single winner of concurrent
//! rotations, family counts, family deletion and purging.

use super::support::{at, cleanup, counts, seed_session, seed_token, seed_user};
use crate::Stores;
use crate::auth::{LoginSession, Rotation};
use crate::ids::LoginSessionId;
use futures::future::join_all;

async fn family(stores: &Stores) -> LoginSession {
    let user = seed_user(stores).await;
    seed_session(stores, user.id, 0, 86_400).await
}

fn rotated(session: &LoginSession) -> Rotation {
    Rotation::Rotated {
        session_id: session.id,
        user_id: session.user_id,
    }
}

/// Rotating an unused token is `Rotated` and leaves its child as the family's one unused
/// token; presenting it again is `Reused` with the first use's time and stores nothing;
/// a never-stored hash is `Unknown`.
pub async fn rotate_then_reuse_then_unknown(stores: Stores) {
    let session = family(&stores).await;
    seed_token(&stores, &session, "hash-0", 0).await;
    assert_eq!(counts(&stores).count_unused(session.id).await.unwrap(), 1);

    let first = stores
        .refresh
        .rotate("hash-0", "hash-1", at(10))
        .await
        .unwrap();
    assert_eq!(first, rotated(&session));
    assert_eq!(counts(&stores).count_unused(session.id).await.unwrap(), 1);

    let replay = stores
        .refresh
        .rotate("hash-0", "hash-x", at(20))
        .await
        .unwrap();
    assert_eq!(
        replay,
        Rotation::Reused {
            session_id: session.id,
            user_id: session.user_id,
            used_at: at(10),
            child_used: false,
        }
    );
    assert_eq!(counts(&stores).count_unused(session.id).await.unwrap(), 1);
    // The replay stored no child.
    assert_eq!(
        stores
            .refresh
            .rotate("hash-x", "hash-y", at(30))
            .await
            .unwrap(),
        Rotation::Unknown
    );

    assert_eq!(
        stores
            .refresh
            .rotate("never-stored", "hash-z", at(30))
            .await
            .unwrap(),
        Rotation::Unknown
    );
    assert_eq!(
        stores
            .refresh
            .rotate("hash-z", "hash-w", at(40))
            .await
            .unwrap(),
        Rotation::Unknown,
        "an Unknown rotation must not store its child"
    );
    assert_eq!(counts(&stores).count_unused(session.id).await.unwrap(), 1);
}

/// The child of a rotation is an ordinary unused token of the same family: it rotates in
/// turn, and the chain keeps exactly one unused token.
pub async fn child_rotates_in_the_same_family(stores: Stores) {
    let session = family(&stores).await;
    seed_token(&stores, &session, "gen-0", 0).await;

    for generation in 1..=4 {
        let presented = format!("gen-{}", generation - 1);
        let child = format!("gen-{generation}");
        let outcome = stores
            .refresh
            .rotate(&presented, &child, at(generation * 10))
            .await
            .unwrap();
        assert_eq!(outcome, rotated(&session), "generation {generation}");
        assert_eq!(counts(&stores).count_unused(session.id).await.unwrap(), 1);
    }

    // Every ancestor is now a replay, reporting when it was used and whether the family
    // has moved on past it (its child used too).
    let replay = stores
        .refresh
        .rotate("gen-2", "gen-x", at(100))
        .await
        .unwrap();
    assert_eq!(
        replay,
        Rotation::Reused {
            session_id: session.id,
            user_id: session.user_id,
            used_at: at(30),
            child_used: true,
        }
    );
    let latest = stores
        .refresh
        .rotate("gen-3", "gen-y", at(100))
        .await
        .unwrap();
    assert_eq!(
        latest,
        Rotation::Reused {
            session_id: session.id,
            user_id: session.user_id,
            used_at: at(40),
            child_used: false,
        }
    );
}

/// Of 20 concurrent rotations of one token exactly one is `Rotated`, the rest are
/// `Reused`, and only the winner's child was stored.
pub async fn concurrent_rotations_have_exactly_one_winner(stores: Stores) {
    let session = family(&stores).await;
    seed_token(&stores, &session, "contested", 0).await;

    let tasks = (0..20).map(|i| {
        let refresh = stores.refresh.clone();
        tokio::spawn(async move {
            let child = format!("contested-child-{i}");
            let outcome = refresh.rotate("contested", &child, at(10)).await;
            (child, outcome)
        })
    });
    let outcomes: Vec<(String, Rotation)> = join_all(tasks)
        .await
        .into_iter()
        .map(|joined| {
            let (child, outcome) = joined.expect("rotation task panicked");
            (child, outcome.expect("rotation failed"))
        })
        .collect();

    let winners: Vec<&String> = outcomes
        .iter()
        .filter(|(_, o)| *o == rotated(&session))
        .map(|(child, _)| child)
        .collect();
    assert_eq!(winners.len(), 1, "outcomes: {outcomes:?}");
    for (_, outcome) in &outcomes {
        match outcome {
            Rotation::Rotated { .. } => {}
            Rotation::Reused {
                session_id,
                user_id,
                used_at,
                child_used,
            } => {
                assert_eq!(*session_id, session.id);
                assert_eq!(*user_id, session.user_id);
                assert_eq!(*used_at, at(10));
                assert!(!child_used, "the winner's child is unused");
            }
            Rotation::Unknown => panic!("a stored token was reported Unknown: {outcomes:?}"),
        }
    }
    assert_eq!(counts(&stores).count_unused(session.id).await.unwrap(), 1);

    // Only the winner's child exists.
    for (child, _) in &outcomes {
        let expected = if child == winners[0] {
            rotated(&session)
        } else {
            Rotation::Unknown
        };
        let next = format!("{child}-next");
        assert_eq!(
            stores.refresh.rotate(child, &next, at(20)).await.unwrap(),
            expected,
            "child {child}"
        );
    }
}

/// `count_unused` counts the unused tokens of one family only.
pub async fn count_unused_is_per_family(stores: Stores) {
    let one = family(&stores).await;
    let two = family(&stores).await;
    seed_token(&stores, &one, "one-a", 0).await;
    seed_token(&stores, &one, "one-b", 0).await;
    seed_token(&stores, &two, "two-a", 0).await;

    assert_eq!(counts(&stores).count_unused(one.id).await.unwrap(), 2);
    assert_eq!(counts(&stores).count_unused(two.id).await.unwrap(), 1);
    assert_eq!(
        counts(&stores)
            .count_unused(LoginSessionId::new())
            .await
            .unwrap(),
        0
    );

    stores
        .refresh
        .rotate("one-a", "one-c", at(10))
        .await
        .unwrap();
    assert_eq!(counts(&stores).count_unused(one.id).await.unwrap(), 2);
    assert_eq!(counts(&stores).count_unused(two.id).await.unwrap(), 1);
}

/// `delete_families` deletes every token (used or not) of the named families only and
/// counts them; the deleted tokens are then `Unknown`.
pub async fn delete_families_counts_tokens(stores: Stores) {
    let one = family(&stores).await;
    let two = family(&stores).await;
    let kept = family(&stores).await;
    seed_token(&stores, &one, "one-0", 0).await;
    stores
        .refresh
        .rotate("one-0", "one-1", at(10))
        .await
        .unwrap();
    stores
        .refresh
        .rotate("one-1", "one-2", at(20))
        .await
        .unwrap();
    seed_token(&stores, &two, "two-0", 0).await;
    seed_token(&stores, &kept, "kept-0", 0).await;

    assert_eq!(stores.refresh.delete_families(&[]).await.unwrap(), 0);
    assert_eq!(
        stores
            .refresh
            .delete_families(&[one.id, two.id, LoginSessionId::new()])
            .await
            .unwrap(),
        4
    );
    assert_eq!(counts(&stores).count_unused(one.id).await.unwrap(), 0);
    assert_eq!(counts(&stores).count_unused(two.id).await.unwrap(), 0);
    assert_eq!(counts(&stores).count_unused(kept.id).await.unwrap(), 1);
    for hash in ["one-0", "one-2", "two-0"] {
        assert_eq!(
            stores.refresh.rotate(hash, "after", at(30)).await.unwrap(),
            Rotation::Unknown,
            "{hash} survived delete_families"
        );
    }
    assert_eq!(
        stores
            .refresh
            .delete_families(&[one.id, two.id])
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        stores
            .refresh
            .rotate("kept-0", "kept-1", at(30))
            .await
            .unwrap(),
        rotated(&kept)
    );
}

/// `purge_issued_before` deletes the tokens issued strictly before the cut-off and counts
/// them.
pub async fn purge_issued_before_counts_tokens(stores: Stores) {
    let one = family(&stores).await;
    let two = family(&stores).await;
    seed_token(&stores, &one, "old-a", 0).await;
    seed_token(&stores, &two, "old-b", 50).await;
    seed_token(&stores, &one, "edge", 100).await;
    seed_token(&stores, &two, "new", 150).await;
    // A rotation issues its child at the rotation time.
    stores
        .refresh
        .rotate("old-a", "child", at(120))
        .await
        .unwrap();

    assert_eq!(
        cleanup(&stores)
            .purge_refresh_tokens_issued_before(at(100))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        cleanup(&stores)
            .purge_refresh_tokens_issued_before(at(100))
            .await
            .unwrap(),
        0
    );
    for hash in ["old-a", "old-b"] {
        assert_eq!(
            stores.refresh.rotate(hash, "after", at(200)).await.unwrap(),
            Rotation::Unknown,
            "{hash} survived the purge"
        );
    }
    // `edge` (issued exactly at the cut-off), `child` and `new` remain.
    assert_eq!(counts(&stores).count_unused(one.id).await.unwrap(), 2);
    assert_eq!(counts(&stores).count_unused(two.id).await.unwrap(), 1);

    assert_eq!(
        cleanup(&stores)
            .purge_refresh_tokens_issued_before(at(1000))
            .await
            .unwrap(),
        3
    );
    assert_eq!(counts(&stores).count_unused(one.id).await.unwrap(), 0);
    assert_eq!(counts(&stores).count_unused(two.id).await.unwrap(), 0);
}

/// Rotations racing a purge that deletes their expired sessions (and with them the sessions'
/// tokens) never fail: each finds its token and spends it, or finds it gone. On PostgreSQL
/// the purge's cascade and a rotation lock the same rows in opposite orders and can deadlock;
/// whichever is aborted runs again.
pub async fn rotations_racing_a_purge_of_their_sessions_never_fail(stores: Stores) {
    let user = seed_user(&stores).await;
    for round in 0..4 {
        let mut presented = Vec::new();
        for i in 0..200 {
            let session = seed_session(&stores, user.id, 0, 10).await;
            let hash = format!("race-{round}-{i}");
            seed_token(&stores, &session, &hash, 0).await;
            presented.push(hash);
        }
        let refresh = &stores.refresh;
        let rotations = join_all(presented.iter().map(|hash| async move {
            refresh.rotate(hash, &format!("{hash}-child"), at(20)).await
        }));
        // The purge first: its statement holds the sessions while the rotations arrive.
        let (purged, rotations) =
            tokio::join!(cleanup(&stores).purge_login_sessions(at(20)), rotations);
        purged.expect("the purge");
        for rotation in rotations {
            let rotation = rotation.expect("a rotation racing the purge");
            assert!(
                matches!(rotation, Rotation::Rotated { .. } | Rotation::Unknown),
                "{rotation:?}"
            );
        }
    }
}

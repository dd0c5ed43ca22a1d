//! The `TokenDenylist` suite: idempotent denials, which denials are in force, purging.

use super::support::at;
use super::support::cleanup;
use crate::Stores;
use chrono::{DateTime, Utc};

async fn active(stores: &Stores, now: i64) -> Vec<(String, DateTime<Utc>)> {
    let mut found = stores.denylist.active(at(now)).await.unwrap();
    found.sort();
    found
}

fn denial(jti: &str, expires: i64) -> (String, DateTime<Utc>) {
    (jti.to_owned(), at(expires))
}

/// Denying the same `jti` twice succeeds and leaves a single denial.
pub async fn deny_twice_is_fine(stores: Stores) {
    assert!(active(&stores, 0).await.is_empty());
    stores.denylist.deny("jti-1", at(600)).await.unwrap();
    stores.denylist.deny("jti-1", at(600)).await.unwrap();
    assert_eq!(active(&stores, 0).await, vec![denial("jti-1", 600)]);
    assert_eq!(cleanup(&stores).purge_denials(at(601)).await.unwrap(), 1);
    assert!(active(&stores, 0).await.is_empty());
}

/// `active` lists the denials still in force at `now` with their end, and not the ones
/// that ended before.
pub async fn active_excludes_ended_denials(stores: Stores) {
    stores.denylist.deny("ended", at(50)).await.unwrap();
    stores.denylist.deny("soon", at(160)).await.unwrap();
    stores.denylist.deny("later", at(3600)).await.unwrap();

    assert_eq!(
        active(&stores, 40).await,
        vec![
            denial("ended", 50),
            denial("later", 3600),
            denial("soon", 160)
        ]
    );
    assert_eq!(
        active(&stores, 100).await,
        vec![denial("later", 3600), denial("soon", 160)]
    );
    assert_eq!(active(&stores, 200).await, vec![denial("later", 3600)]);
    assert!(active(&stores, 4000).await.is_empty());
}

/// `purge` deletes the denials that ended before `now`, counts them, and keeps the rest.
pub async fn purge_deletes_ended_denials_and_counts(stores: Stores) {
    stores.denylist.deny("a", at(50)).await.unwrap();
    stores.denylist.deny("b", at(60)).await.unwrap();
    stores.denylist.deny("c", at(160)).await.unwrap();
    stores.denylist.deny("d", at(3600)).await.unwrap();

    assert_eq!(cleanup(&stores).purge_denials(at(100)).await.unwrap(), 2);
    // Purging removed them for good: even an earlier `now` no longer sees them.
    assert_eq!(
        active(&stores, 0).await,
        vec![denial("c", 160), denial("d", 3600)]
    );
    assert_eq!(cleanup(&stores).purge_denials(at(100)).await.unwrap(), 0);
    assert_eq!(cleanup(&stores).purge_denials(at(1000)).await.unwrap(), 1);
    assert_eq!(active(&stores, 0).await, vec![denial("d", 3600)]);
}

//! The `AuditStore` suite: append and read back newest first, filters, idempotent appends,
//! retention.

use super::support::at;
use crate::Stores;
use crate::admin::{AuditActor, AuditEvent, AuditKind, AuditQuery};
use crate::ids::UserId;

fn event(kind: AuditKind, actor: AuditActor, secs: i64) -> AuditEvent {
    AuditEvent::new(kind, actor, at(secs))
}

/// Events read back field for field, newest (highest id) first, `limit` at a time, paged
/// with `before`.
pub async fn append_then_query_newest_first(stores: Stores) {
    assert!(
        stores
            .audit
            .query(&AuditQuery::newest(10))
            .await
            .unwrap()
            .is_empty()
    );
    let admin = UserId::new();
    let target = UserId::new();
    let first = event(AuditKind::RoleChanged, AuditActor::User(admin), 10)
        .with_target(target)
        .with_ip(Some("203.0.113.9".to_owned()))
        .with_detail(serde_json::json!({"before": "user", "after": "admin"}));
    let second = event(AuditKind::LoginFailed, AuditActor::Anonymous, 20);
    let third = event(AuditKind::SessionsCleaned, AuditActor::Operator, 30);
    let fourth = event(AuditKind::SessionsCleaned, AuditActor::System, 40);
    stores
        .audit
        .append(&[first.clone(), second.clone()])
        .await
        .unwrap();
    stores
        .audit
        .append(&[third.clone(), fourth.clone()])
        .await
        .unwrap();
    stores.audit.append(&[]).await.unwrap();

    let all = stores.audit.query(&AuditQuery::newest(10)).await.unwrap();
    assert_eq!(
        all,
        vec![fourth.clone(), third.clone(), second.clone(), first.clone()]
    );
    let page = stores.audit.query(&AuditQuery::newest(2)).await.unwrap();
    assert_eq!(page, vec![fourth, third.clone()]);
    let next = AuditQuery {
        before: Some(third.id),
        ..AuditQuery::newest(2)
    };
    assert_eq!(
        stores.audit.query(&next).await.unwrap(),
        vec![second, first]
    );
}

/// `user` matches the actor or the target; `kind`, `from` (inclusive) and `to` (exclusive)
/// narrow further.
pub async fn query_filters_by_user_kind_and_time(stores: Stores) {
    let ada = UserId::new();
    let bob = UserId::new();
    let by_ada = event(AuditKind::TierChanged, AuditActor::User(ada), 10).with_target(bob);
    let about_ada = event(AuditKind::LoginFailed, AuditActor::Anonymous, 20).with_target(ada);
    let other = event(AuditKind::LoginFailed, AuditActor::Anonymous, 30).with_target(bob);
    let events = [by_ada.clone(), about_ada.clone(), other.clone()];
    stores.audit.append(&events).await.unwrap();
    let ids = |found: Vec<AuditEvent>| found.into_iter().map(|e| e.id).collect::<Vec<_>>();
    let query = |q: AuditQuery| {
        let stores = stores.clone();
        async move { ids(stores.audit.query(&q).await.unwrap()) }
    };
    let base = AuditQuery::newest(10);
    let for_ada = AuditQuery {
        user: Some(ada),
        ..base.clone()
    };
    assert_eq!(query(for_ada.clone()).await, [about_ada.id, by_ada.id]);
    let ada_logins = AuditQuery {
        kind: Some(AuditKind::LoginFailed),
        ..for_ada
    };
    assert_eq!(query(ada_logins).await, [about_ada.id]);
    let window = AuditQuery {
        from: Some(at(20)),
        to: Some(at(30)),
        ..base.clone()
    };
    assert_eq!(query(window).await, [about_ada.id]);
    let nobody = AuditQuery {
        user: Some(UserId::new()),
        ..base
    };
    assert!(query(nobody).await.is_empty());
    for e in &events {
        assert!(AuditQuery::newest(1).matches(e));
    }
}

/// Appending an event whose id is stored already (a retried batch) keeps one copy.
pub async fn append_is_idempotent_by_id(stores: Stores) {
    let e = event(AuditKind::UserDeleted, AuditActor::Operator, 5).with_target(UserId::new());
    let f = event(AuditKind::CacheCleared, AuditActor::Operator, 6);
    stores.audit.append(std::slice::from_ref(&e)).await.unwrap();
    stores.audit.append(&[e.clone(), f.clone()]).await.unwrap();
    let all = stores.audit.query(&AuditQuery::newest(10)).await.unwrap();
    assert_eq!(all, vec![f, e]);
}

/// `purge_before` deletes events older than the bound and counts them.
pub async fn purge_before_deletes_old_events(stores: Stores) {
    let old = event(AuditKind::LoginFailed, AuditActor::Anonymous, 10);
    let new = event(AuditKind::LoginFailed, AuditActor::Anonymous, 100);
    stores.audit.append(&[old, new.clone()]).await.unwrap();
    assert_eq!(stores.audit.purge_before(at(50)).await.unwrap(), 1);
    assert_eq!(stores.audit.purge_before(at(50)).await.unwrap(), 0);
    assert_eq!(
        stores.audit.query(&AuditQuery::newest(10)).await.unwrap(),
        vec![new]
    );
}

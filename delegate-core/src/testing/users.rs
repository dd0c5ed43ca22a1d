//! The `UserStore` suite: inserts, lookups, the taken-email conflict, paging and search,
//! tier, role, disabled and profile changes, deletion, and the last-admin guard.

use super::support::{at, t0};
use crate::Stores;
use crate::error::ErrorKind;
use crate::ids::UserId;
use crate::users::{ProfileChange, Role, Tier, User, UserQuery};

fn user(email: &str) -> User {
    User::new(email, "Test User", t0())
}

/// An inserted user reads back field for field by id; an unknown id is `None`.
pub async fn insert_then_get_round_trips(stores: Stores) {
    let mut ada = User::new("ada@example.test", "Ada Lovelace", at(10))
        .with_tier(Tier::Pro)
        .with_role(Role::Admin);
    ada.preferences = serde_json::json!({"theme": "dark", "voice": {"speed": 1.5}});
    ada.avatar_url = Some("https://example.test/ada.png".to_owned());
    ada.updated_at = at(20);
    stores.users.insert(&ada, "$argon2id$ada").await.unwrap();

    let plain = user("plain@example.test");
    stores
        .users
        .insert(&plain, "$argon2id$plain")
        .await
        .unwrap();

    assert_eq!(stores.users.get(ada.id).await.unwrap(), Some(ada));
    assert_eq!(stores.users.get(plain.id).await.unwrap(), Some(plain));
    assert_eq!(stores.users.get(UserId::new()).await.unwrap(), None);
}

/// A second account with a taken email is a `Conflict` with code `email_taken`, and the
/// first account is left as it was.
pub async fn duplicate_email_is_conflict(stores: Stores) {
    let first = user("taken@example.test");
    stores
        .users
        .insert(&first, "$argon2id$first")
        .await
        .unwrap();

    let second = User::new("taken@example.test", "Impostor", at(5));
    let err = stores
        .users
        .insert(&second, "$argon2id$second")
        .await
        .expect_err("a taken email must be refused");
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert_eq!(err.code(), "email_taken");

    assert_eq!(stores.users.get(second.id).await.unwrap(), None);
    let creds = stores
        .users
        .credentials_by_email("taken@example.test")
        .await
        .unwrap()
        .expect("the first account is still there");
    assert_eq!(creds.user, first);
    assert_eq!(creds.password_hash, "$argon2id$first");

    // Another email is fine.
    stores
        .users
        .insert(&user("free@example.test"), "$argon2id$free")
        .await
        .unwrap();
}

/// Lookup by email returns the account with its password hash; an unknown email is `None`.
pub async fn credentials_by_email_returns_the_hash(stores: Stores) {
    let ada = user("ada@example.test");
    let bob = user("bob@example.test");
    stores.users.insert(&ada, "$argon2id$ada").await.unwrap();
    stores.users.insert(&bob, "$argon2id$bob").await.unwrap();

    let creds = stores
        .users
        .credentials_by_email("bob@example.test")
        .await
        .unwrap()
        .expect("bob exists");
    assert_eq!(creds.user, bob);
    assert_eq!(creds.password_hash, "$argon2id$bob");

    let creds = stores
        .users
        .credentials_by_email("ada@example.test")
        .await
        .unwrap()
        .expect("ada exists");
    assert_eq!(creds.user, ada);
    assert_eq!(creds.password_hash, "$argon2id$ada");

    let missing = stores
        .users
        .credentials_by_email("nobody@example.test")
        .await
        .unwrap();
    assert!(missing.is_none());
}

/// Every account after `after`, `limit` at a time, through `search`.
async fn list(stores: &Stores, after: Option<UserId>, limit: u32) -> crate::Result<Vec<User>> {
    stores
        .users
        .search(&UserQuery {
            after,
            ..UserQuery::all(limit)
        })
        .await
}

/// An unfiltered `search` returns accounts in id order, at most `limit`, strictly after `after`.
pub async fn list_pages_in_id_order(stores: Stores) {
    assert!(list(&stores, None, 10).await.unwrap().is_empty());

    let mut users: Vec<User> = (0..5)
        .map(|i| user(&format!("user{i}@example.test")))
        .collect();
    // Insert out of id order so a store returning insertion order fails.
    for i in [3, 0, 4, 1, 2] {
        stores.users.insert(&users[i], "$argon2id$x").await.unwrap();
    }
    users.sort_by_key(|u| u.id);
    let ids = |page: &[User]| page.iter().map(|u| u.id).collect::<Vec<_>>();
    let all = ids(&users);

    assert_eq!(ids(&list(&stores, None, 10).await.unwrap()), all);
    assert_eq!(list(&stores, None, 10).await.unwrap(), users);
    assert_eq!(ids(&list(&stores, None, 2).await.unwrap()), all[..2]);
    assert_eq!(
        ids(&list(&stores, Some(all[1]), 2).await.unwrap()),
        all[2..4]
    );
    assert_eq!(
        ids(&list(&stores, Some(all[3]), 2).await.unwrap()),
        all[4..]
    );
    assert!(list(&stores, Some(all[4]), 10).await.unwrap().is_empty());
    assert!(list(&stores, None, 0).await.unwrap().is_empty());

    // `after` need not be a stored id: it is a position in id order.
    let before_all = UserId::from_uuid(uuid::Uuid::nil());
    assert_eq!(
        ids(&list(&stores, Some(before_all), 10).await.unwrap()),
        all
    );
    let after_all = UserId::from_uuid(uuid::Uuid::from_u128(u128::MAX));
    assert!(list(&stores, Some(after_all), 10).await.unwrap().is_empty());
}

/// `set_password_hash` replaces only the named account's hash (and moves its
/// `updated_at`); it answers false for an unknown id.
pub async fn set_password_hash_replaces_only_that_hash(stores: Stores) {
    let ada = user("ada@example.test");
    let bob = user("bob@example.test");
    stores.users.insert(&ada, "$argon2id$ada").await.unwrap();
    stores.users.insert(&bob, "$argon2id$bob").await.unwrap();
    assert!(
        stores
            .users
            .set_password_hash(ada.id, "$argon2id$new", at(60))
            .await
            .unwrap()
    );
    let creds = |email: &'static str| {
        let users = stores.users.clone();
        async move { users.credentials_by_email(email).await.unwrap().unwrap() }
    };
    let ada_now = creds("ada@example.test").await;
    assert_eq!(ada_now.password_hash, "$argon2id$new");
    assert_eq!(ada_now.user.updated_at, at(60));
    assert_eq!(
        creds("bob@example.test").await.password_hash,
        "$argon2id$bob"
    );
    assert!(
        !stores
            .users
            .set_password_hash(UserId::new(), "$argon2id$x", at(60))
            .await
            .unwrap()
    );
}

/// `set_tier` and `set_role` change only the named account (and its `updated_at`); they
/// answer false for an unknown id.
pub async fn set_tier_and_role_update_only_known_users(stores: Stores) {
    let ada = user("ada@example.test");
    let bob = user("bob@example.test");
    stores.users.insert(&ada, "$argon2id$ada").await.unwrap();
    stores.users.insert(&bob, "$argon2id$bob").await.unwrap();

    assert!(
        stores
            .users
            .set_tier(ada.id, Tier::Enterprise, at(60))
            .await
            .unwrap()
    );
    let got = stores.users.get(ada.id).await.unwrap().unwrap();
    assert_eq!(got.tier, Tier::Enterprise);
    assert_eq!(got.role, Role::User);
    assert_eq!(got.updated_at, at(60));
    assert_eq!(got.created_at, ada.created_at);

    assert!(
        stores
            .users
            .set_role(ada.id, Role::Admin, at(120))
            .await
            .unwrap()
    );
    let got = stores.users.get(ada.id).await.unwrap().unwrap();
    assert_eq!(got.tier, Tier::Enterprise);
    assert_eq!(got.role, Role::Admin);
    assert_eq!(got.updated_at, at(120));
    let creds = stores
        .users
        .credentials_by_email("ada@example.test")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(creds.user, got);
    assert_eq!(creds.password_hash, "$argon2id$ada");

    assert_eq!(stores.users.get(bob.id).await.unwrap(), Some(bob));

    let ghost = UserId::new();
    assert!(
        !stores
            .users
            .set_tier(ghost, Tier::Pro, at(60))
            .await
            .unwrap()
    );
    assert!(
        !stores
            .users
            .set_role(ghost, Role::Admin, at(60))
            .await
            .unwrap()
    );
    assert_eq!(stores.users.get(ghost).await.unwrap(), None);
    assert_eq!(list(&stores, None, 10).await.unwrap().len(), 2);
}

/// `update_profile` changes only the fields it names, can clear the avatar, replaces the
/// preferences object whole, and answers false for an unknown id.
pub async fn update_profile_changes_only_named_fields(stores: Stores) {
    let ada = user("ada@example.test");
    let bob = user("bob@example.test");
    stores.users.insert(&ada, "$argon2id$ada").await.unwrap();
    stores.users.insert(&bob, "$argon2id$bob").await.unwrap();
    let change = ProfileChange {
        name: Some("Ada L.".to_owned()),
        avatar_url: Some(Some("https://example.test/a.png".to_owned())),
        preferences: Some(serde_json::json!({"theme": "dark", "voice": {"speed": 1.5}})),
    };
    assert!(
        stores
            .users
            .update_profile(ada.id, &change, at(60))
            .await
            .unwrap()
    );
    let got = stores.users.get(ada.id).await.unwrap().unwrap();
    assert_eq!(got.name, "Ada L.");
    assert_eq!(
        got.avatar_url.as_deref(),
        Some("https://example.test/a.png")
    );
    assert_eq!(
        got.preferences,
        serde_json::json!({"theme": "dark", "voice": {"speed": 1.5}})
    );
    assert_eq!(got.updated_at, at(60));

    let only_avatar = ProfileChange {
        avatar_url: Some(None),
        ..ProfileChange::default()
    };
    assert!(
        stores
            .users
            .update_profile(ada.id, &only_avatar, at(120))
            .await
            .unwrap()
    );
    let got = stores.users.get(ada.id).await.unwrap().unwrap();
    assert_eq!(got.name, "Ada L.", "untouched");
    assert_eq!(got.avatar_url, None, "cleared");
    assert_eq!(got.preferences["theme"], "dark", "untouched");

    assert_eq!(stores.users.get(bob.id).await.unwrap(), Some(bob));
    assert!(
        !stores
            .users
            .update_profile(UserId::new(), &change, at(180))
            .await
            .unwrap()
    );
}

/// `search` filters by email or name prefix (ASCII case-insensitive, `%` and `_` literal),
/// tier, role and disabled, together, in id order.
pub async fn search_filters_by_prefix_tier_role_and_disabled(stores: Stores) {
    let ada = User::new("ada@example.test", "Ada Lovelace", t0()).with_tier(Tier::Pro);
    let adam = User::new("adam@example.test", "Adam Smith", t0()).with_role(Role::Admin);
    let bob = User::new("bob@example.test", "Bobby Ada", t0());
    let pct = User::new("p%ct@example.test", "Percent", t0());
    for u in [&ada, &adam, &bob, &pct] {
        stores.users.insert(u, "$argon2id$x").await.unwrap();
    }
    assert!(
        stores
            .users
            .set_disabled(bob.id, true, at(5))
            .await
            .unwrap()
    );
    let find = |query: UserQuery| {
        let stores = stores.clone();
        async move {
            let mut emails: Vec<String> = stores
                .users
                .search(&query)
                .await
                .unwrap()
                .into_iter()
                .map(|u| u.email)
                .collect();
            emails.sort();
            emails
        }
    };
    let prefix = |p: &str| UserQuery {
        prefix: Some(p.to_owned()),
        ..UserQuery::all(10)
    };
    assert_eq!(
        find(prefix("ADA")).await,
        ["ada@example.test", "adam@example.test"]
    );
    assert_eq!(find(prefix("bobby")).await, ["bob@example.test"], "by name");
    assert_eq!(find(prefix("p%")).await, ["p%ct@example.test"]);
    assert!(find(prefix("%")).await.is_empty(), "% is literal");
    assert!(find(prefix("_")).await.is_empty(), "_ is literal");
    assert!(
        find(prefix("lovelace")).await.is_empty(),
        "a prefix, not a substring"
    );
    let tier = UserQuery {
        tier: Some(Tier::Pro),
        ..UserQuery::all(10)
    };
    assert_eq!(find(tier).await, ["ada@example.test"]);
    let admins = UserQuery {
        role: Some(Role::Admin),
        ..prefix("ad")
    };
    assert_eq!(find(admins).await, ["adam@example.test"]);
    let disabled = UserQuery {
        disabled: Some(true),
        ..UserQuery::all(10)
    };
    assert_eq!(find(disabled).await, ["bob@example.test"]);
    let enabled = UserQuery {
        disabled: Some(false),
        ..UserQuery::all(10)
    };
    assert_eq!(find(enabled).await.len(), 3);
    let got = stores.users.get(bob.id).await.unwrap().unwrap();
    assert!(got.disabled && got.updated_at == at(5));
}

/// The last enabled admin cannot be demoted, disabled or deleted; once another admin exists
/// it can; disabled admins do not count.
pub async fn the_last_enabled_admin_is_kept(stores: Stores) {
    let root = User::new("root@example.test", "Root", t0()).with_role(Role::Admin);
    let other = user("other@example.test");
    stores.users.insert(&root, "$argon2id$r").await.unwrap();
    stores.users.insert(&other, "$argon2id$o").await.unwrap();
    let last = |e: crate::Error| {
        assert_eq!(e.kind(), ErrorKind::Conflict);
        assert_eq!(e.code(), "last_admin");
    };
    last(
        stores
            .users
            .set_role(root.id, Role::User, at(1))
            .await
            .unwrap_err(),
    );
    last(
        stores
            .users
            .set_disabled(root.id, true, at(1))
            .await
            .unwrap_err(),
    );
    last(stores.users.delete(root.id).await.unwrap_err());
    assert_eq!(stores.users.get(root.id).await.unwrap(), Some(root.clone()));
    // Promoting and re-enabling are always allowed; a non-admin is never guarded.
    assert!(
        stores
            .users
            .set_role(root.id, Role::Admin, at(2))
            .await
            .unwrap()
    );
    assert!(
        stores
            .users
            .set_disabled(other.id, true, at(2))
            .await
            .unwrap()
    );
    assert!(
        stores
            .users
            .set_disabled(other.id, false, at(3))
            .await
            .unwrap()
    );
    // A second, disabled admin does not count.
    assert!(
        stores
            .users
            .set_role(other.id, Role::Admin, at(4))
            .await
            .unwrap()
    );
    assert!(
        stores
            .users
            .set_disabled(other.id, true, at(5))
            .await
            .unwrap()
    );
    last(
        stores
            .users
            .set_role(root.id, Role::User, at(6))
            .await
            .unwrap_err(),
    );
    // Enabled, it does: now either may go, but not both.
    assert!(
        stores
            .users
            .set_disabled(other.id, false, at(7))
            .await
            .unwrap()
    );
    assert!(
        stores
            .users
            .set_role(root.id, Role::User, at(8))
            .await
            .unwrap()
    );
    last(stores.users.delete(other.id).await.unwrap_err());
    assert!(
        !stores
            .users
            .set_disabled(UserId::new(), true, at(9))
            .await
            .unwrap()
    );
    assert!(!stores.users.delete(UserId::new()).await.unwrap());
}

/// Two admins demoting each other at once: exactly one succeeds.
pub async fn concurrent_demotions_leave_an_admin(stores: Stores) {
    let a = User::new("a@example.test", "A", t0()).with_role(Role::Admin);
    let b = User::new("b@example.test", "B", t0()).with_role(Role::Admin);
    stores.users.insert(&a, "$argon2id$a").await.unwrap();
    stores.users.insert(&b, "$argon2id$b").await.unwrap();
    let (ra, rb) = tokio::join!(
        stores.users.set_role(a.id, Role::User, at(1)),
        stores.users.set_disabled(b.id, true, at(1)),
    );
    assert_eq!(
        u8::from(ra.is_ok()) + u8::from(rb.is_ok()),
        1,
        "{ra:?} {rb:?}"
    );
    let admins = UserQuery {
        role: Some(Role::Admin),
        disabled: Some(false),
        ..UserQuery::all(10)
    };
    assert_eq!(stores.users.search(&admins).await.unwrap().len(), 1);
}

/// `delete` removes the account and everything it owns, and nothing of anyone else's.
pub async fn delete_removes_the_account_and_what_it_owns(stores: Stores) {
    use crate::auth::{DeviceInfo, LoginSession};
    use crate::chat::ChatSession;
    let ada = user("ada@example.test");
    let bob = user("bob@example.test");
    stores.users.insert(&ada, "$argon2id$ada").await.unwrap();
    stores.users.insert(&bob, "$argon2id$bob").await.unwrap();
    let mut sessions = Vec::new();
    let mut chats = Vec::new();
    for owner in [&ada, &bob] {
        let session = LoginSession::new(owner.id, DeviceInfo::default(), t0(), at(3600));
        stores.sessions.insert(&session).await.unwrap();
        sessions.push(session.id);
        let chat = ChatSession::new(owner.id, "chat", t0());
        stores
            .conversations
            .create_chat_session(&chat)
            .await
            .unwrap();
        chats.push(chat.id);
    }
    assert!(stores.users.delete(ada.id).await.unwrap());
    assert_eq!(stores.users.get(ada.id).await.unwrap(), None);
    assert!(
        stores
            .users
            .credentials_by_email("ada@example.test")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(stores.sessions.get(sessions[0]).await.unwrap(), None);
    assert!(stores.sessions.get(sessions[1]).await.unwrap().is_some());
    assert!(
        stores
            .conversations
            .get_chat_session(ada.id, chats[0])
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        stores
            .conversations
            .get_chat_session(bob.id, chats[1])
            .await
            .unwrap()
            .is_some()
    );
    // The email is free again.
    let again = user("ada@example.test");
    stores.users.insert(&again, "$argon2id$new").await.unwrap();
    assert!(!stores.users.delete(ada.id).await.unwrap());
}

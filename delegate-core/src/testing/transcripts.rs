//! The `TranscriptStore` suite: owner-scoped reads and writes, listing with filters, and
//! search by the query language (words, phrases, prefixes, exclusions, OR) that never crosses
//! owners. Ranking has its own suite (`transcript_ranking`).

use super::support::{at, t0};
use crate::Stores;
use crate::ids::{TranscriptId, UserId};
use crate::transcript::{
    SearchQuery, Transcript, TranscriptChange, TranscriptFilter, TranscriptSource,
};
use crate::users::User;

pub(super) async fn owner(stores: &Stores, email: &str) -> UserId {
    let user = User::new(email, "Owner", t0());
    stores.users.insert(&user, "$argon2id$x").await.unwrap();
    user.id
}

pub(super) fn manual(user: UserId, title: &str, content: &str, secs: i64) -> Transcript {
    Transcript::new(user, title, content, TranscriptSource::Manual, at(secs))
}

/// The ids of `user`'s transcripts matching `q`, best first.
pub(super) async fn search(stores: &Stores, user: UserId, q: &str) -> Vec<TranscriptId> {
    let hits = ranked(stores, user, q, 0, 50).await;
    hits.into_iter().map(|(id, _)| id).collect()
}

/// The ids and scores of `user`'s search for `q`, best first; checks the scores never rise.
pub(super) async fn ranked(
    stores: &Stores,
    user: UserId,
    q: &str,
    offset: u32,
    limit: u32,
) -> Vec<(TranscriptId, f64)> {
    let query = SearchQuery::parse(q).unwrap();
    let hits = stores
        .transcripts
        .search_transcripts(user, &query, None, offset, limit)
        .await
        .unwrap();
    let scores: Vec<f64> = hits.iter().map(|(_, score)| *score).collect();
    assert!(
        scores.windows(2).all(|w| w[0] >= w[1]),
        "{q:?}: scores rise in {scores:?}"
    );
    hits.into_iter().map(|(t, score)| (t.id, score)).collect()
}

/// A transcript reads back field for field by its owner, and is missing for anyone else.
pub async fn insert_then_get_is_owner_scoped(stores: Stores) {
    let ada = owner(&stores, "ada@example.test").await;
    let bob = owner(&stores, "bob@example.test").await;
    let t = manual(ada, "Notes", "Hello world, twice: hello.", 10)
        .with_tags(vec!["work".into(), "ideas".into()]);
    stores.transcripts.insert_transcript(&t).await.unwrap();
    assert_eq!(
        stores.transcripts.get_transcript(ada, t.id).await.unwrap(),
        Some(t.clone())
    );
    assert_eq!(t.word_count, 4);
    assert_eq!(
        stores.transcripts.get_transcript(bob, t.id).await.unwrap(),
        None
    );
    assert_eq!(
        stores
            .transcripts
            .get_transcript(ada, TranscriptId::new())
            .await
            .unwrap(),
        None
    );
}

/// Lists are newest first, paged with `before`, filtered by tag and creation time.
pub async fn list_pages_newest_first_with_filters(stores: Stores) {
    let ada = owner(&stores, "ada@example.test").await;
    let bob = owner(&stores, "bob@example.test").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let tags = if i % 2 == 0 {
            vec!["even".to_owned()]
        } else {
            vec![]
        };
        let t = manual(ada, &format!("t{i}"), "text", 100 * i64::from(i)).with_tags(tags);
        stores.transcripts.insert_transcript(&t).await.unwrap();
        ids.push(t.id);
    }
    stores
        .transcripts
        .insert_transcript(&manual(bob, "bob's", "text", 50))
        .await
        .unwrap();
    let list = |filter: TranscriptFilter, limit| {
        let stores = stores.clone();
        async move {
            stores
                .transcripts
                .list_transcripts(ada, &filter, limit)
                .await
                .unwrap()
                .into_iter()
                .map(|t| t.id)
                .collect::<Vec<_>>()
        }
    };
    let newest_first: Vec<_> = ids.iter().rev().copied().collect();
    assert_eq!(list(TranscriptFilter::default(), 10).await, newest_first);
    let page = TranscriptFilter {
        before: Some(ids[3]),
        ..TranscriptFilter::default()
    };
    assert_eq!(list(page, 2).await, [ids[2], ids[1]]);
    let even = TranscriptFilter {
        tag: Some("even".into()),
        ..TranscriptFilter::default()
    };
    assert_eq!(list(even, 10).await, [ids[4], ids[2], ids[0]]);
    let window = TranscriptFilter {
        from: Some(at(100)),
        to: Some(at(300)),
        ..TranscriptFilter::default()
    };
    assert_eq!(list(window, 10).await, [ids[2], ids[1]]);
}

/// Updates change only the named fields (and the word count with the content), only for the
/// owner; deletes likewise.
pub async fn update_and_delete_only_the_owners(stores: Stores) {
    let ada = owner(&stores, "ada@example.test").await;
    let bob = owner(&stores, "bob@example.test").await;
    let t = manual(ada, "Old title", "one two", 10).with_tags(vec!["a".into()]);
    stores.transcripts.insert_transcript(&t).await.unwrap();
    let change = TranscriptChange {
        content: Some("one two three four".into()),
        ..TranscriptChange::default()
    };
    assert!(
        stores
            .transcripts
            .update_transcript(bob, t.id, &change, at(20))
            .await
            .unwrap()
            .is_none()
    );
    let updated = stores
        .transcripts
        .update_transcript(ada, t.id, &change, at(20))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.title, "Old title");
    assert_eq!(updated.tags, ["a"]);
    assert_eq!(updated.word_count, 4);
    assert_eq!(updated.updated_at, at(20));
    let retag = TranscriptChange {
        title: Some("New".into()),
        tags: Some(vec![]),
        ..TranscriptChange::default()
    };
    let retagged = stores
        .transcripts
        .update_transcript(ada, t.id, &retag, at(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((retagged.title.as_str(), retagged.tags.len()), ("New", 0));
    // The index follows the update: the new content is found, the old title is not.
    assert_eq!(search(&stores, ada, "three ").await, [t.id]);
    assert!(search(&stores, ada, "old ").await.is_empty());
    assert!(
        !stores
            .transcripts
            .delete_transcript(bob, t.id)
            .await
            .unwrap()
    );
    assert!(
        stores
            .transcripts
            .delete_transcript(ada, t.id)
            .await
            .unwrap()
    );
    assert!(
        !stores
            .transcripts
            .delete_transcript(ada, t.id)
            .await
            .unwrap()
    );
    assert!(search(&stores, ada, "three ").await.is_empty());
}

/// Words (all), phrases, prefixes, exclusions and OR select the right transcripts, and only
/// the caller's.
pub async fn search_understands_the_query_language(stores: Stores) {
    let ada = owner(&stores, "ada@example.test").await;
    let bob = owner(&stores, "bob@example.test").await;
    let deploy = manual(
        ada,
        "Deploy plan",
        "We ship the delegate server on friday.",
        10,
    );
    let garden = manual(ada, "Garden", "Plant tomatoes and basil in spring.", 20);
    let mixed = manual(
        ada,
        "Mixed",
        "Server maintenance and tomatoes for lunch.",
        30,
    );
    let bobs = manual(bob, "Bob's server", "delegate server tomatoes", 40);
    for t in [&deploy, &garden, &mixed, &bobs] {
        stores.transcripts.insert_transcript(t).await.unwrap();
    }
    let mut found = search(&stores, ada, "server ").await;
    found.sort();
    let mut expected = vec![deploy.id, mixed.id];
    expected.sort();
    assert_eq!(found, expected, "every word, only the caller's");
    assert_eq!(search(&stores, ada, "server tomatoes ").await, [mixed.id]);
    assert_eq!(
        search(&stores, ada, "\"delegate server\"").await,
        [deploy.id]
    );
    assert!(
        search(&stores, ada, "\"server delegate\"").await.is_empty(),
        "phrase order"
    );
    assert_eq!(search(&stores, ada, "deleg*").await, [deploy.id]);
    assert_eq!(search(&stores, ada, "tomatoes -server").await, [garden.id]);
    let mut either = search(&stores, ada, "basil OR friday ").await;
    either.sort();
    let mut expected = vec![deploy.id, garden.id];
    expected.sort();
    assert_eq!(either, expected);
    assert!(search(&stores, ada, "nothingmatches ").await.is_empty());
    assert_eq!(search(&stores, bob, "tomatoes ").await, [bobs.id]);
    // A tag narrows the search.
    let query = SearchQuery::parse("server ").unwrap();
    let tagged = stores
        .transcripts
        .search_transcripts(ada, &query, Some("none"), 0, 10)
        .await
        .unwrap();
    assert!(tagged.is_empty());
}

/// Case and Latin accents fold on both sides: "cafe" finds "Café" and "CAFÉ" finds "cafe".
pub async fn search_folds_case_and_accents(stores: Stores) {
    let ada = owner(&stores, "ada@example.test").await;
    let accented = manual(ada, "Café crème", "Notes from the Zürich office", 10);
    let plain = manual(ada, "Cafe menu", "Prices at the zurich branch", 20);
    for t in [&accented, &plain] {
        stores.transcripts.insert_transcript(t).await.unwrap();
    }
    let both = [plain.id, accented.id];
    for q in ["cafe ", "CAFÉ ", "café ", "Zurich ", "zürich "] {
        let mut found = search(&stores, ada, q).await;
        found.sort_by(|a, b| b.cmp(a));
        assert_eq!(found, both, "{q:?}");
    }
    assert_eq!(search(&stores, ada, "creme ").await, [accented.id]);
}

//! The `TranscriptStore` suite: owner-scoped reads and writes, listing with filters, and
//! ranked search (words, phrases, prefixes, exclusions, OR; title above content; ties newest
//! first; one order on a realistic corpus whatever the ranking function) that never crosses
//! owners.

use super::support::{at, t0};
use crate::Stores;
use crate::ids::{TranscriptId, UserId};
use crate::transcript::{
    SearchQuery, Transcript, TranscriptChange, TranscriptFilter, TranscriptSource,
};
use crate::users::User;

async fn owner(stores: &Stores, email: &str) -> UserId {
    let user = User::new(email, "Owner", t0());
    stores.users.insert(&user, "$argon2id$x").await.unwrap();
    user.id
}

fn manual(user: UserId, title: &str, content: &str, secs: i64) -> Transcript {
    Transcript::new(user, title, content, TranscriptSource::Manual, at(secs))
}

/// The ids of `user`'s transcripts matching `q`, best first.
async fn search(stores: &Stores, user: UserId, q: &str) -> Vec<TranscriptId> {
    let hits = ranked(stores, user, q, 0, 50).await;
    hits.into_iter().map(|(id, _)| id).collect()
}

/// The ids and scores of `user`'s search for `q`, best first; checks the scores never rise.
async fn ranked(
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

/// A title match ranks above content matches, more occurrences above fewer, ties newest
/// first; scores fall in that order; offset and limit page the ranking.
pub async fn search_ranks_title_then_frequency_then_newest(stores: Stores) {
    let ada = owner(&stores, "ada@example.test").await;
    let filler = "the weekly meeting covered budgets hiring and the roadmap for next quarter";
    let once = manual(
        ada,
        "Weekly sync",
        &format!("{filler} kubernetes {filler}"),
        10,
    );
    let twice = manual(
        ada,
        "Infra review",
        &format!("{filler} kubernetes {filler} kubernetes"),
        20,
    );
    let titled = manual(ada, "Kubernetes upgrade", filler, 30);
    let older_tie = manual(ada, "Copy", &format!("{filler} kubernetes {filler}"), 40);
    let newer_tie = manual(ada, "Copy", &format!("{filler} kubernetes {filler}"), 50);
    for t in [&once, &twice, &titled, &older_tie, &newer_tie] {
        stores.transcripts.insert_transcript(t).await.unwrap();
    }
    let query = SearchQuery::parse("kubernetes ").unwrap();
    let hits = stores
        .transcripts
        .search_transcripts(ada, &query, None, 0, 10)
        .await
        .unwrap();
    let order: Vec<_> = hits.iter().map(|(t, _)| t.id).collect();
    assert_eq!(order[0], titled.id, "title first");
    assert_eq!(order[1], twice.id, "then more occurrences");
    let ties: Vec<_> = order[2..].to_vec();
    assert_eq!(ties.len(), 3);
    let newer = ties.iter().position(|id| *id == newer_tie.id).unwrap();
    let older = ties.iter().position(|id| *id == older_tie.id).unwrap();
    assert!(newer < older, "equal scores: newest first");
    assert!(
        hits.windows(2).all(|w| w[0].1 >= w[1].1),
        "scores never rise"
    );
    let second_page = stores
        .transcripts
        .search_transcripts(ada, &query, None, 1, 2)
        .await
        .unwrap();
    let paged: Vec<_> = second_page.iter().map(|(t, _)| t.id).collect();
    assert_eq!(paged, order[1..3]);
}

/// Ordinary sentences for background transcripts. None mentions a planted word (kubernetes,
/// release, notes) or a form of one that a stemmer would fold into it.
const SENTENCES: &[&str] = &[
    "We moved the weekly meeting to Thursday afternoon so everyone can attend.",
    "The budget for the next quarter still needs approval from finance.",
    "Maria suggested we split the onboarding document into smaller sections.",
    "I tried a new recipe for lentil soup with cumin and smoked paprika.",
    "The tomatoes in the back garden finally turned red this week.",
    "Our flight to Lisbon leaves early on Saturday morning.",
    "The code review took longer than expected because of the large diff.",
    "Remember to water the basil and the mint before leaving for the trip.",
    "The hiring committee will interview three candidates on Monday.",
    "We agreed to pay down technical debt before adding new features.",
    "The bakery around the corner sells excellent sourdough bread.",
    "Sam asked for more tests around the payment retry logic.",
    "The hotel near the station was quiet and reasonably priced.",
    "Pruning the apple tree in late winter helps it fruit in summer.",
    "The dashboard shows a spike in latency every night at two.",
    "Dinner tonight is roasted vegetables with rice and a green salad.",
    "The train was delayed by forty minutes because of signal problems.",
    "Please send the slides to the whole team before the workshop.",
    "The compost pile needs turning at least once a fortnight.",
    "We should rename the confusing variables in the billing module.",
    "The museum was closed on Monday, so we walked along the river instead.",
    "Our retrospective raised concerns about unclear ownership of the backlog.",
    "The bread dough needs to rest overnight in the fridge.",
    "A new intern joins the design team next month.",
    "The pull request adds caching to the search endpoint.",
    "Packing light made the trip through the mountains much easier.",
    "The roses along the fence need support before the wind picks up.",
    "Customer support reported fewer tickets after the last update.",
    "I booked a table for six at the Italian place on Friday.",
    "The quarterly goals focus on reliability and faster onboarding.",
    "Our landlord will fix the leaking kitchen tap on Wednesday.",
    "The reviewer asked for clearer error messages in the parser.",
    "We spent the afternoon planting garlic and onions in raised beds.",
    "The conference in Berlin had great talks on distributed systems.",
    "Breakfast was scrambled eggs, toast and strong coffee.",
    "The product manager wants a demo ready by the end of the sprint.",
    "Our neighbours lent us a ladder to clean the gutters.",
    "The migration script should run during the maintenance window.",
    "We hiked to the lake and had a picnic by the water.",
    "The standup ran long because nobody had prepared an agenda.",
];

/// Words for background titles, under the same rule as [`SENTENCES`].
const TITLE_WORDS: &str = "weekly sync garden plan trip recipe budget review ideas kitchen \
    travel design team hiring retro checklist morning summary dinner roadmap";

/// xorshift64: a small deterministic generator, so every backend indexes the same corpus.
struct Xorshift(u64);

impl Xorshift {
    /// A number in `0..n`.
    fn below(&mut self, n: usize) -> usize {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        (x % n as u64) as usize
    }

    /// `min..=max` entries of `bank`, picked with repetition, joined by spaces.
    fn pick(&mut self, bank: &[&str], min: usize, max: usize) -> String {
        let count = min + self.below(max - min + 1);
        let picked: Vec<&str> = (0..count).map(|_| bank[self.below(bank.len())]).collect();
        picked.join(" ")
    }
}

/// Inserts `count` background transcripts of `user` (titles of 2–4 words, 3–12 sentences),
/// one second apart from `at(start)`.
async fn background(stores: &Stores, rng: &mut Xorshift, user: UserId, count: i64, start: i64) {
    let title_words: Vec<&str> = TITLE_WORDS.split_whitespace().collect();
    for secs in start..start + count {
        let title = rng.pick(&title_words, 2, 4);
        let content = rng.pick(SENTENCES, 3, 12);
        let t = manual(user, &title, &content, secs);
        stores.transcripts.insert_transcript(&t).await.unwrap();
    }
}

/// A planted transcript's content: four bank sentences, each followed by `slot` (the first
/// `times`) or by `filler` (the rest). With `slot` and `filler` of equal word counts, every
/// content built from them has the same length, so BM25's length normalisation cannot
/// reorder them: only where and how often the query's term occurs decides.
fn planted(slot: &str, filler: &str, times: usize) -> String {
    let sentences: Vec<String> = SENTENCES[..4]
        .iter()
        .enumerate()
        .map(|(i, sentence)| format!("{sentence} {}", if i < times { slot } else { filler }))
        .collect();
    sentences.join(" ")
}

/// Among a few hundred ordinary transcripts, BM25 (memory over the owner's transcripts,
/// SQLite FTS5 over the owner's index shard) and cover density (PostgreSQL `ts_rank_cd`, title 1.0,
/// content 0.1) agree where relevance clearly differs: title hits first, then more content
/// hits, then fewer; phrases only as written; identical transcripts newest first; and never
/// another user's transcript, however well it matches.
pub async fn search_ranking_agrees_on_a_realistic_corpus(stores: Stores) {
    let bank = format!("{} {TITLE_WORDS}", SENTENCES.join(" ")).to_lowercase();
    for stem in ["kubernet", "releas", "note"] {
        assert!(!bank.contains(stem), "the background mentions {stem:?}");
    }
    let ada = owner(&stores, "ada@example.test").await;
    let bob = owner(&stores, "bob@example.test").await;
    let mut rng = Xorshift(0x2545_F491_4F6C_DD1D);
    background(&stores, &mut rng, ada, 300, 0).await;
    background(&stores, &mut rng, bob, 50, 300).await;

    // Every planted title has 3 words, and each slot has as many words as its filler. With
    // equal lengths, BM25 rises with the weighted hits f (title 10, content 1 each); in
    // brackets ts_rank_cd's sum (title 1.0, content 0.1 each). Both give the same order.
    let kubernetes = |title: &str, times, secs| {
        let content = planted("Kubernetes came up again.", "Nothing else came up.", times);
        manual(ada, title, &content, secs)
    };
    let release_notes = |title: &str, times, secs| {
        let content = planted(
            "The release notes were discussed.",
            "The agenda was discussed too.",
            times,
        );
        manual(ada, title, &content, secs)
    };
    let title_and_three = kubernetes("Kubernetes cluster upgrade", 3, 400); // f 13 [1.3]
    let title_and_one = kubernetes("Kubernetes cost review", 1, 401); // f 11 [1.1]
    let content_four = kubernetes("Platform team sync", 4, 402); // f 4 [0.4]
    let older_tie = kubernetes("Cluster capacity planning", 2, 403); // f 2 [0.2]
    let newer_tie = kubernetes("Cluster capacity planning", 2, 404); // the same, newer
    let content_one = kubernetes("Infrastructure weekly sync", 1, 405); // f 1 [0.1]
    let phrase_title = release_notes("Release notes draft", 0, 406); // f 10 [1.0]
    let phrase_twice = release_notes("Launch checklist draft", 2, 407); // f 2 [0.2]
    let phrase_once = release_notes("Launch checklist review", 1, 408); // f 1 [0.1]
    // Both words, never adjacent: no phrase match anywhere.
    let decoy = manual(
        ada,
        "Planning call summary",
        "Notes from the planning call. We talked about the budget, then the release date.",
        409,
    );
    // Stronger on both queries than anything of ada's (f 15 [1.5]), but bob's.
    let bobs_content = "Kubernetes release notes were discussed. ".repeat(5);
    let bobs = manual(bob, "Kubernetes release notes", &bobs_content, 410);
    // Ids grow in creation order; insert in that order too (SQLite breaks ties by rowid).
    let planted_in_order = [
        &title_and_three,
        &title_and_one,
        &content_four,
        &older_tie,
        &newer_tie,
        &content_one,
        &phrase_title,
        &phrase_twice,
        &phrase_once,
        &decoy,
        &bobs,
    ];
    for t in planted_in_order {
        stores.transcripts.insert_transcript(t).await.unwrap();
    }

    let hits = ranked(&stores, ada, "kubernetes ", 0, 50).await;
    let order: Vec<TranscriptId> = hits.iter().map(|(id, _)| *id).collect();
    let expected = [
        title_and_three.id,
        title_and_one.id,
        content_four.id,
        newer_tie.id,
        older_tie.id,
        content_one.id,
    ];
    assert_eq!(order, expected, "title, more hits, fewer hits; ties newest");
    assert_eq!(hits[3].1.to_bits(), hits[4].1.to_bits(), "the copies tie");
    let page = ranked(&stores, ada, "kubernetes ", 1, 2).await;
    let paged: Vec<TranscriptId> = page.iter().map(|(id, _)| *id).collect();
    assert_eq!(paged, order[1..3], "a page is a slice of the ranking");

    let hits = ranked(&stores, ada, "\"release notes\"", 0, 50).await;
    let order: Vec<TranscriptId> = hits.iter().map(|(id, _)| *id).collect();
    assert!(!order.contains(&decoy.id), "the words apart are no phrase");
    assert_eq!(order, [phrase_title.id, phrase_twice.id, phrase_once.id]);

    // Bob's transcript matches both queries, for bob alone.
    for q in ["kubernetes ", "\"release notes\""] {
        assert_eq!(search(&stores, bob, q).await, [bobs.id], "{q}");
    }
}

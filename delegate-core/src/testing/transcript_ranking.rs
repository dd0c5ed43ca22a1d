//! The `TranscriptStore` ranking suite: title above content, more occurrences above fewer,
//! ties newest first, one order on a realistic corpus whatever the backend's ranking function,
//! and the ranking window (only the newest matches are ranked; a tag reaches older ones).

use super::transcripts::{manual, owner, ranked, search};
use crate::Stores;
use crate::ids::{TranscriptId, UserId};
use crate::transcript::{RANK_WINDOW, SearchQuery};

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

/// Only the newest [`RANK_WINDOW`] matches are ranked: an older, better match is left out,
/// and a narrower query or a tag (the window then holds the newest tagged matches) reaches it.
pub async fn search_ranks_only_the_newest_window_of_matches(stores: Stores) {
    let ada = owner(&stores, "ada@example.test").await;
    // The oldest transcript is the best match (the word in its title) and the only one tagged.
    let best = manual(ada, "Kubernetes", "kubernetes upgrade", 0).with_tags(vec!["infra".into()]);
    stores.transcripts.insert_transcript(&best).await.unwrap();
    for i in 0..RANK_WINDOW {
        let t = manual(ada, "Notes", "a note on kubernetes", 1 + i64::from(i));
        stores.transcripts.insert_transcript(&t).await.unwrap();
    }
    let top = search(&stores, ada, "kubernetes ").await;
    assert_eq!(top.len(), 50);
    assert!(
        !top.contains(&best.id),
        "the oldest match is outside the window"
    );
    let tail = ranked(&stores, ada, "kubernetes ", RANK_WINDOW - 10, 100).await;
    assert_eq!(tail.len(), 10, "exactly RANK_WINDOW matches are ranked");
    assert_eq!(search(&stores, ada, "upgrade ").await, [best.id]);
    let query = SearchQuery::parse("kubernetes ").unwrap();
    let tagged = stores
        .transcripts
        .search_transcripts(ada, &query, Some("infra"), 0, 10)
        .await
        .unwrap();
    let tagged: Vec<TranscriptId> = tagged.into_iter().map(|(t, _)| t.id).collect();
    assert_eq!(tagged, [best.id]);
}

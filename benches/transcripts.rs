//! Transcript search on SQLite: a seeded corpus (Zipf-distributed synthetic vocabulary,
//! 200–2,000 words each, many users with 100 transcripts and one user with a fifth of all),
//! the insert rate with the index on, and p50/p99 latency per query shape for a small and the
//! big user: Delegate's owner-scoped FTS5 search (ranked, top 20, with snippets) against, in
//! the same run, the unscoped FTS5 form (the index walks every user's postings) and a
//! `LIKE '%word%'` scan.
//!
//! Run with `cargo bench -p delegate-benches --bench transcripts` (TRANSCRIPT_BENCH_DOCS sets
//! the corpus size; default 20,000).

use chrono::{TimeZone, Utc};
use delegate_benches::TempSqlite;
use delegate_core::transcript::{
    SearchQuery, Snippet, Transcript, TranscriptSource, TranscriptStore,
};
use delegate_core::users::UserStore;
use delegate_core::{User, UserId};
use sqlx::Row;
use std::time::{Duration, Instant};

/// Transcripts of each small user.
const PER_SMALL_USER: usize = 100;
/// Searches timed per shape and user.
const RUNS: usize = 15;
/// Words in the vocabulary.
const VOCABULARY: usize = 20_000;

/// A deterministic xorshift generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Pronounceable synthetic words, distinct, rank order = frequency order.
fn vocabulary() -> Vec<String> {
    const CONSONANTS: &[u8] = b"bcdfgklmnprstvz";
    const VOWELS: &[u8] = b"aeiou";
    let mut words = Vec::with_capacity(VOCABULARY);
    let mut i = 0usize;
    while words.len() < VOCABULARY {
        let mut n = i;
        let mut word = String::new();
        loop {
            word.push(CONSONANTS[n % CONSONANTS.len()] as char);
            n /= CONSONANTS.len();
            word.push(VOWELS[n % VOWELS.len()] as char);
            n /= VOWELS.len();
            if n == 0 {
                break;
            }
        }
        word.push('x');
        words.push(word);
        i += 1;
    }
    words
}

/// Zipf sampling by inverse CDF over precomputed cumulative weights.
struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    fn new(n: usize) -> Self {
        let mut total = 0.0;
        let cumulative = (1..=n)
            .map(|rank| {
                total += 1.0 / rank as f64;
                total
            })
            .collect();
        Self { cumulative }
    }

    fn sample(&self, rng: &mut Rng) -> usize {
        let total = *self.cumulative.last().expect("a vocabulary");
        let x = (rng.next() as f64 / u64::MAX as f64) * total;
        self.cumulative.partition_point(|c| *c < x)
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    rt.block_on(run());
}

async fn run() {
    let docs: usize = std::env::var("TRANSCRIPT_BENCH_DOCS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let big_share = docs / 5;
    let small_users = (docs - big_share) / PER_SMALL_USER;
    let db = TempSqlite::create().await.expect("sqlite");
    let store = db.store();
    let words = vocabulary();
    let zipf = Zipf::new(words.len());
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let now = Utc
        .with_ymd_and_hms(2026, 11, 30, 0, 0, 0)
        .single()
        .expect("a time");

    let mut owners = Vec::new();
    for i in 0..=small_users {
        let user = User::new(format!("u{i}@bench.test"), "Bench", now);
        store.insert(&user, "$argon2id$bench").await.expect("user");
        owners.push(user.id);
    }
    let big = owners[0];
    let small = owners[1];
    let phrase_of = |user: UserId, text: &str| -> Option<String> {
        (user == small).then(|| {
            text.split(' ')
                .skip(3)
                .take(2)
                .collect::<Vec<_>>()
                .join(" ")
        })
    };
    let mut small_phrase = None;
    let started = Instant::now();
    for i in 0..docs {
        let owner = if i < big_share {
            big
        } else {
            owners[1 + (i - big_share) / PER_SMALL_USER]
        };
        let len = 200 + rng.below(1801);
        let text: Vec<&str> = (0..len)
            .map(|_| words[zipf.sample(&mut rng)].as_str())
            .collect();
        let content = text.join(" ");
        if small_phrase.is_none() {
            small_phrase = phrase_of(owner, &content);
        }
        let title: Vec<&str> = (0..4)
            .map(|_| words[zipf.sample(&mut rng)].as_str())
            .collect();
        let t = Transcript::new(
            owner,
            title.join(" "),
            content,
            TranscriptSource::Manual,
            now,
        );
        store.insert_transcript(&t).await.expect("insert");
    }
    let seeding = started.elapsed();
    println!(
        "seeded {docs} transcripts ({} users; the big user has {big_share}) in {:.1} s: {:.0} inserts/s with the index on",
        owners.len(),
        seeding.as_secs_f64(),
        docs as f64 / seeding.as_secs_f64()
    );

    let raw = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.path().display()))
        .await
        .expect("a second pool");
    let phrase = small_phrase.expect("a phrase of the small user");
    let shapes: Vec<(&str, String)> = vec![
        ("common word", format!("{} ", words[0])),
        ("rare word", format!("{} ", words[3000])),
        ("phrase", format!("\"{phrase}\"")),
        ("prefix", format!("{}*", &words[40][..3])),
        (
            "three words",
            format!("{} {} {} ", words[5], words[50], words[500]),
        ),
    ];
    println!(
        "shape        user   | scoped p50 / p99   | unscoped p50 / p99 | LIKE p50 | scoped vs LIKE | scoped vs unscoped"
    );
    for (name, q) in &shapes {
        let query = SearchQuery::parse(q).expect("a query");
        for (who, user) in [("small", small), ("big", big)] {
            let mut scoped = Vec::with_capacity(RUNS);
            let mut unscoped = Vec::with_capacity(RUNS);
            let mut like = Vec::with_capacity(RUNS);
            for _ in 0..RUNS {
                let t = Instant::now();
                let hits = store
                    .search_transcripts(user, &query, None, 0, 20)
                    .await
                    .expect("search");
                for (transcript, _) in &hits {
                    std::hint::black_box(Snippet::of(&transcript.content, &query));
                }
                scoped.push(t.elapsed());

                let t = Instant::now();
                let rows = sqlx::query(
                    "SELECT t.id, bm25(transcripts_fts, 0.0, 10.0, 1.0) AS rank FROM transcripts_fts \
                     JOIN transcripts t ON t.seq = transcripts_fts.rowid \
                     WHERE transcripts_fts MATCH ? AND t.user_id = ? ORDER BY rank, t.id DESC LIMIT 20",
                )
                .bind(format!("{{title content}} : ({})", query.to_fts5()))
                .bind(user.to_string())
                .fetch_all(&raw)
                .await
                .expect("unscoped");
                std::hint::black_box(rows.len());
                unscoped.push(t.elapsed());

                let word = query.positive_words()[0].0.clone();
                let t = Instant::now();
                let rows = sqlx::query(
                    "SELECT id FROM transcripts WHERE user_id = ? AND (title LIKE ? OR content LIKE ?) \
                     ORDER BY id DESC LIMIT 20",
                )
                .bind(user.to_string())
                .bind(format!("%{word}%"))
                .bind(format!("%{word}%"))
                .fetch_all(&raw)
                .await
                .expect("like");
                std::hint::black_box(
                    rows.iter()
                        .map(|r| r.get::<String, _>(0))
                        .collect::<Vec<_>>(),
                );
                like.push(t.elapsed());
            }
            for v in [&mut scoped, &mut unscoped, &mut like] {
                v.sort();
            }
            let ms = |d: Duration| d.as_secs_f64() * 1000.0;
            let (s50, s99) = (percentile(&scoped, 0.5), percentile(&scoped, 0.99));
            let (u50, u99) = (percentile(&unscoped, 0.5), percentile(&unscoped, 0.99));
            let l50 = percentile(&like, 0.5);
            println!(
                "{name:<12} {who:<6} | {:>7.2} / {:>7.2} ms | {:>7.2} / {:>7.2} ms | {:>7.2} ms | {:>6.2}× | {:>6.2}×",
                ms(s50),
                ms(s99),
                ms(u50),
                ms(u99),
                ms(l50),
                ms(l50) / ms(s50),
                ms(u50) / ms(s50),
            );
        }
    }
}

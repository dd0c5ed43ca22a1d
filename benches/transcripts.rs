//! Transcript search on SQLite and PostgreSQL: a seeded corpus (a Zipf-distributed synthetic
//! vocabulary, 200–2,000 words a transcript, many users with 100 transcripts and one big
//! user), the insert rate with the indexes on, and p50/p99 latency per query shape for a small
//! and the big user. Delegate's search (ranked, top 20, snippets included) is timed against,
//! in the same run, the plain SQL a newcomer would write (the full match set ranked) and a
//! `LIKE '%word%'` scan; each line also says whether Delegate's top 20 equals the plain
//! query's, so any bounding of the ranking work shows.
//!
//! Run with `cargo bench -p delegate-benches --bench transcripts`. Environment:
//! `TRANSCRIPT_BENCH_SMALL_USERS` (default 1,000 users of 100 transcripts each),
//! `TRANSCRIPT_BENCH_BIG` (default 20,000 transcripts for the big user),
//! `TRANSCRIPT_BENCH_BACKENDS` (default `sqlite,postgres`; PostgreSQL reads
//! `DELEGATE_TEST_DATABASE_URL`), `TRANSCRIPT_BENCH_KEEP=1` keeps the seeded databases and
//! prints where they are, and `TRANSCRIPT_BENCH_PG_SCHEMA=<kept schema>` reuses (and migrates) a
//! kept PostgreSQL corpus instead of seeding a new one.

use chrono::{DateTime, TimeZone, Utc};
use delegate_benches::TempSqlite;
use delegate_core::backend::postgres::PgStore;
use delegate_core::transcript::{
    SearchQuery, Snippet, Transcript, TranscriptSource, TranscriptStore,
};
use delegate_core::users::UserStore;
use delegate_core::{User, UserId};
use sqlx::Row;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Transcripts of each small user.
const PER_SMALL_USER: usize = 100;
/// Transcripts inserted one by one through the store to time the insert rate.
const TIMED_INSERTS: usize = 2_000;
/// Transcripts per bulk-seeding transaction after that.
const BATCH: usize = 500;
/// Searches timed per shape and user.
const RUNS: usize = 15;
/// Words in the vocabulary.
const VOCABULARY: usize = 20_000;
/// Hits a search returns.
const TOP: u32 = 20;

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
    (0..VOCABULARY)
        .map(|i| {
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
            word
        })
        .collect()
}

/// The seeded documents, the same sequence on every backend.
struct Corpus {
    words: Vec<String>,
    cumulative: Vec<f64>,
    rng: Rng,
}

impl Corpus {
    fn new() -> Self {
        let mut total = 0.0;
        let cumulative = (1..=VOCABULARY)
            .map(|rank| {
                total += 1.0 / rank as f64;
                total
            })
            .collect();
        Self {
            words: vocabulary(),
            cumulative,
            rng: Rng(0x5eed_1234_abcd_0001),
        }
    }

    /// A Zipf-distributed word (by inverse CDF).
    fn word(&mut self) -> &str {
        let total = *self.cumulative.last().expect("a vocabulary");
        let x = (self.rng.next() as f64 / u64::MAX as f64) * total;
        let rank = self.cumulative.partition_point(|c| *c < x);
        &self.words[rank.min(VOCABULARY - 1)]
    }

    fn text(&mut self, len: usize) -> String {
        let mut out = String::with_capacity(len * 7);
        for i in 0..len {
            if i > 0 {
                out.push(' ');
            }
            let word = self.word().to_owned();
            out.push_str(&word);
        }
        out
    }

    /// The next transcript of `owner`, created at `at`.
    fn transcript(&mut self, owner: UserId, at: DateTime<Utc>) -> Transcript {
        let len = 200 + self.rng.below(1801);
        let content = self.text(len);
        let title = self.text(4);
        Transcript::new(owner, title, content, TranscriptSource::Manual, at)
    }
}

/// A backend under test, with the baseline queries written plainly against its tables.
enum Db {
    Sqlite {
        temp: TempSqlite,
        raw: sqlx::SqlitePool,
    },
    Postgres {
        store: PgStore,
        raw: sqlx::PgPool,
        schema: String,
        reused: bool,
    },
}

impl Db {
    fn name(&self) -> &'static str {
        match self {
            Db::Sqlite { .. } => "SQLite",
            Db::Postgres { .. } => "PostgreSQL",
        }
    }

    fn transcripts(&self) -> Arc<dyn TranscriptStore> {
        match self {
            Db::Sqlite { temp, .. } => Arc::new(temp.store()),
            Db::Postgres { store, .. } => Arc::new(store.clone()),
        }
    }

    fn users(&self) -> Arc<dyn UserStore> {
        match self {
            Db::Sqlite { temp, .. } => Arc::new(temp.store()),
            Db::Postgres { store, .. } => Arc::new(store.clone()),
        }
    }

    /// Stores `batch` in one transaction (seeding only; the timed inserts use the store).
    async fn bulk_insert(&self, batch: &[Transcript]) {
        match self {
            Db::Sqlite { raw, .. } => {
                let mut tx = raw.begin().await.expect("a transaction");
                for t in batch {
                    sqlx::query(
                        "INSERT INTO transcripts (id, user_id, session_id, title, content, tags, \
                         source, word_count, created_at, updated_at) \
                         VALUES (?, ?, NULL, ?, ?, '[]', 'manual', ?, ?, ?)",
                    )
                    .bind(t.id.to_string())
                    .bind(t.user_id.to_string())
                    .bind(&t.title)
                    .bind(&t.content)
                    .bind(i64::from(t.word_count))
                    .bind(t.created_at.timestamp_millis())
                    .bind(t.updated_at.timestamp_millis())
                    .execute(&mut *tx)
                    .await
                    .expect("a seeded row");
                }
                tx.commit().await.expect("a commit");
            }
            Db::Postgres { raw, .. } => {
                let ids: Vec<_> = batch.iter().map(|t| t.id.as_uuid()).collect();
                let users: Vec<_> = batch.iter().map(|t| t.user_id.as_uuid()).collect();
                let titles: Vec<_> = batch.iter().map(|t| t.title.as_str()).collect();
                let contents: Vec<_> = batch.iter().map(|t| t.content.as_str()).collect();
                let counts: Vec<_> = batch.iter().map(|t| t.word_count as i32).collect();
                let times: Vec<_> = batch.iter().map(|t| t.created_at).collect();
                sqlx::query(
                    "INSERT INTO transcripts (id, user_id, title, content, source, word_count, \
                     created_at, updated_at) SELECT id, u, ti, c, 'manual', w, at, at FROM \
                     UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::int4[], \
                     $6::timestamptz[]) AS x (id, u, ti, c, w, at)",
                )
                .bind(ids)
                .bind(users)
                .bind(titles)
                .bind(contents)
                .bind(counts)
                .bind(times)
                .execute(raw)
                .await
                .expect("seeded rows");
            }
        }
    }

    /// The plain ranked query: every match of the user ranked, top 20 ids, no snippets.
    async fn plain(&self, user: UserId, query: &SearchQuery) -> Vec<String> {
        match self {
            Db::Sqlite { raw, .. } => sqlx::query(
                "SELECT t.id FROM plain_fts JOIN transcripts t ON t.seq = plain_fts.rowid \
                 WHERE plain_fts MATCH ? AND t.user_id = ? \
                 ORDER BY bm25(plain_fts, 10.0, 1.0), t.seq DESC LIMIT 20",
            )
            .bind(query.to_fts5())
            .bind(user.to_string())
            .fetch_all(raw)
            .await
            .expect("the plain query")
            .iter()
            .map(|row| row.get::<String, _>(0))
            .collect(),
            Db::Postgres { raw, .. } => sqlx::query(
                "SELECT id::text FROM transcripts, to_tsquery('english', $2) AS q \
                 WHERE user_id = $1 AND search @@ q \
                 ORDER BY ts_rank_cd('{0, 0, 0.1, 1}', search, q) DESC, id DESC \
                 LIMIT 20",
            )
            .bind(user.as_uuid())
            .bind(query.to_tsquery())
            .fetch_all(raw)
            .await
            .expect("the plain query")
            .iter()
            .map(|row| row.get::<String, _>(0))
            .collect(),
        }
    }

    /// An unranked `LIKE '%word%'` scan of the user's rows, newest 20.
    async fn like(&self, user: UserId, word: &str) -> usize {
        let pattern = format!("%{word}%");
        match self {
            Db::Sqlite { raw, .. } => sqlx::query(
                "SELECT id FROM transcripts WHERE user_id = ? AND (title LIKE ? OR content LIKE ?) \
                 ORDER BY id DESC LIMIT 20",
            )
            .bind(user.to_string())
            .bind(&pattern)
            .bind(&pattern)
            .fetch_all(raw)
            .await
            .expect("the LIKE scan")
            .len(),
            Db::Postgres { raw, .. } => sqlx::query(
                "SELECT id FROM transcripts WHERE user_id = $1 AND (title LIKE $2 OR content LIKE $2) \
                 ORDER BY id DESC LIMIT 20",
            )
            .bind(user.as_uuid())
            .bind(&pattern)
            .fetch_all(raw)
            .await
            .expect("the LIKE scan")
            .len(),
        }
    }

    /// With `TRANSCRIPT_BENCH_PG_SCHEMA` naming a schema an earlier run kept, its corpus (now
    /// migrated): the users with the most and the fewest transcripts, and a phrase of the
    /// latter's oldest transcript. Seeding 120,000 transcripts into PostgreSQL takes minutes.
    async fn reused(&self) -> Option<Seeded> {
        let Db::Postgres {
            raw, reused: true, ..
        } = self
        else {
            return None;
        };
        let by_count = |order: &'static str| {
            sqlx::query_scalar::<_, uuid::Uuid>(sqlx::AssertSqlSafe(format!(
                "SELECT user_id FROM transcripts GROUP BY user_id ORDER BY count(*) {order}, user_id LIMIT 1"
            )))
            .fetch_one(raw)
        };
        let big = UserId::from_uuid(by_count("DESC").await.expect("the big user"));
        let small = UserId::from_uuid(by_count("ASC").await.expect("a small user"));
        let content: String = sqlx::query_scalar(
            "SELECT content FROM transcripts WHERE user_id = $1 ORDER BY id LIMIT 1",
        )
        .bind(small.as_uuid())
        .fetch_one(raw)
        .await
        .expect("the small user's first transcript");
        let phrase = content
            .split(' ')
            .skip(3)
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");
        println!("\nPostgreSQL: reusing the corpus in the kept schema");
        Some(Seeded { big, small, phrase })
    }

    /// Refreshes the planner's statistics after seeding.
    async fn analyze(&self) {
        match self {
            Db::Sqlite { raw, .. } => {
                // The plain query's index: one external-content FTS5 table over every row.
                for sql in [
                    "CREATE VIRTUAL TABLE plain_fts USING fts5(title, content, \
                     content = 'transcripts', content_rowid = 'seq', \
                     tokenize = 'porter unicode61 remove_diacritics 2')",
                    "INSERT INTO plain_fts (plain_fts) VALUES ('rebuild')",
                    "ANALYZE",
                ] {
                    sqlx::query(sql)
                        .execute(raw)
                        .await
                        .expect("the plain index");
                }
            }
            Db::Postgres { raw, .. } => {
                sqlx::query("VACUUM ANALYZE transcripts")
                    .execute(raw)
                    .await
                    .expect("VACUUM ANALYZE");
            }
        }
    }

    /// Removes the database unless `keep`, in which case says where it is.
    async fn finish(self, keep: bool) {
        match self {
            Db::Sqlite { temp, raw } => {
                raw.close().await;
                if keep {
                    let dir = temp.dir().to_path_buf();
                    std::mem::forget(temp);
                    println!("kept the SQLite database in {}", dir.display());
                }
            }
            Db::Postgres {
                raw,
                schema,
                reused,
                ..
            } => {
                if keep || reused {
                    println!("kept the PostgreSQL schema {schema}");
                } else {
                    // The name is ours: a fixed prefix and the process id.
                    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                        .execute(&raw)
                        .await
                        .expect("dropping the bench schema");
                }
            }
        }
    }
}

async fn open(backend: &str) -> Db {
    match backend {
        "sqlite" => {
            let temp = TempSqlite::create().await.expect("sqlite");
            let raw = sqlx::SqlitePool::connect(&format!("sqlite://{}", temp.path().display()))
                .await
                .expect("a second pool");
            Db::Sqlite { temp, raw }
        }
        "postgres" => {
            let url = std::env::var("DELEGATE_TEST_DATABASE_URL")
                .expect("DELEGATE_TEST_DATABASE_URL for the PostgreSQL run");
            let kept = std::env::var("TRANSCRIPT_BENCH_PG_SCHEMA").ok();
            let reused = kept.is_some();
            let schema =
                kept.unwrap_or_else(|| format!("bench_transcripts_{}", std::process::id()));
            let store = PgStore::connect_in_schema(&url, &schema)
                .await
                .expect("postgres");
            let raw = sqlx::postgres::PgPoolOptions::new()
                .max_connections(2)
                .after_connect({
                    let schema = schema.clone();
                    move |conn, _| {
                        let schema = schema.clone();
                        Box::pin(async move {
                            sqlx::query("SELECT set_config('search_path', $1, false)")
                                .bind(schema)
                                .execute(conn)
                                .await
                                .map(|_| ())
                        })
                    }
                })
                .connect(&url)
                .await
                .expect("a second pool");
            Db::Postgres {
                store,
                raw,
                schema,
                reused,
            }
        }
        other => panic!("unknown backend {other}: sqlite or postgres"),
    }
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    rt.block_on(async {
        let backends =
            std::env::var("TRANSCRIPT_BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
        let keep = std::env::var("TRANSCRIPT_BENCH_KEEP").is_ok_and(|v| v == "1");
        for backend in backends.split(',').map(str::trim) {
            let db = open(backend).await;
            run(&db).await;
            db.finish(keep).await;
        }
    });
}

/// Who the timed searches run as, and a phrase of the small user's.
struct Seeded {
    big: UserId,
    small: UserId,
    phrase: String,
}

async fn run(db: &Db) {
    let seeded = match db.reused().await {
        Some(seeded) => {
            db.analyze().await;
            seeded
        }
        None => seed(db).await,
    };
    measure(db, &seeded).await;
}

/// Seeds the corpus and reports the insert rate.
async fn seed(db: &Db) -> Seeded {
    let small_users = env_usize("TRANSCRIPT_BENCH_SMALL_USERS", 1_000);
    let big_docs = env_usize("TRANSCRIPT_BENCH_BIG", 20_000);
    let docs = small_users * PER_SMALL_USER + big_docs;
    let store = db.transcripts();
    let users = db.users();
    let start = Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("a time");
    let mut owners = Vec::new();
    for i in 0..=small_users {
        let user = User::new(format!("u{i}@bench.test"), "Bench", start);
        users.insert(&user, "$argon2id$bench").await.expect("user");
        owners.push(user.id);
    }
    let (big, small) = (owners[0], owners[1]);
    // The big user's transcripts and the small users' interleave in time, a minute apart:
    // every `stride`-th transcript is the big user's, the rest go round the small users.
    let stride = (docs / big_docs.max(1)).max(1);
    let mut smalls = 0usize;
    let mut owner_of = |i: usize| {
        if i.is_multiple_of(stride) && i / stride < big_docs {
            big
        } else {
            smalls += 1;
            owners[1 + (smalls - 1) % small_users.max(1)]
        }
    };
    let mut held = std::collections::HashMap::<UserId, usize>::new();
    let mut corpus = Corpus::new();
    let mut small_phrase = None;
    let mut batch = Vec::with_capacity(BATCH);
    let timed = Instant::now();
    let mut timed_elapsed = Duration::ZERO;
    for i in 0..docs {
        let owner = owner_of(i);
        *held.entry(owner).or_default() += 1;
        let t = corpus.transcript(owner, start + chrono::Duration::minutes(i as i64));
        if owner == small && small_phrase.is_none() {
            let words: Vec<&str> = t.content.split(' ').skip(3).take(2).collect();
            small_phrase = Some(words.join(" "));
        }
        if i < TIMED_INSERTS {
            store.insert_transcript(&t).await.expect("insert");
            if i + 1 == TIMED_INSERTS {
                timed_elapsed = timed.elapsed();
            }
        } else {
            batch.push(t);
            if batch.len() == BATCH {
                db.bulk_insert(&batch).await;
                batch.clear();
            }
        }
    }
    if !batch.is_empty() {
        db.bulk_insert(&batch).await;
    }
    db.analyze().await;
    let count = |user: UserId| held.get(&user).copied().unwrap_or(0);
    println!(
        "\n{}: {docs} transcripts ({} users; the big user has {}, the small one {}); {:.0} inserts/s one by one through the store with the index on",
        db.name(),
        owners.len(),
        count(big),
        count(small),
        TIMED_INSERTS.min(docs) as f64 / timed_elapsed.as_secs_f64().max(1e-9),
    );
    Seeded {
        big,
        small,
        phrase: small_phrase.expect("a phrase of the small user"),
    }
}

/// Times each query shape for the small and the big user.
async fn measure(db: &Db, seeded: &Seeded) {
    let Seeded { big, small, phrase } = seeded;
    let (big, small) = (*big, *small);
    let store = db.transcripts();
    let words = vocabulary();
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
        "shape        user  | Delegate p50 / p99   | plain p50 / p99      | LIKE p50  | plain/Delegate | LIKE/Delegate | top 20 = plain's"
    );
    for (name, q) in &shapes {
        let query = SearchQuery::parse(q).expect("a query");
        let word = query.positive_words()[0].0.clone();
        for (who, user) in [("small", small), ("big", big)] {
            let (mut ours, mut plain, mut like) = (Vec::new(), Vec::new(), Vec::new());
            let mut same = true;
            for _ in 0..RUNS {
                let t = Instant::now();
                let hits = store
                    .search_transcripts(user, &query, None, 0, TOP)
                    .await
                    .expect("search");
                for (transcript, _) in &hits {
                    std::hint::black_box(Snippet::of(&transcript.content, &query));
                }
                ours.push(t.elapsed());

                let t = Instant::now();
                let reference = db.plain(user, &query).await;
                plain.push(t.elapsed());
                let got: Vec<String> = hits.iter().map(|(t, _)| t.id.to_string()).collect();
                same &= got == reference;

                let t = Instant::now();
                std::hint::black_box(db.like(user, &word).await);
                like.push(t.elapsed());
            }
            for v in [&mut ours, &mut plain, &mut like] {
                v.sort();
            }
            let (o50, o99) = (percentile(&ours, 0.5), percentile(&ours, 0.99));
            let (p50, p99) = (percentile(&plain, 0.5), percentile(&plain, 0.99));
            let l50 = percentile(&like, 0.5);
            println!(
                "{name:<12} {who:<5} | {:>8.2} / {:>8.2} ms | {:>8.2} / {:>8.2} ms | {:>7.2} ms | {:>13.1}× | {:>12.2}× | {}",
                ms(o50),
                ms(o99),
                ms(p50),
                ms(p99),
                ms(l50),
                ms(p50) / ms(o50),
                ms(l50) / ms(o50),
                if same { "yes" } else { "NO" },
            );
        }
    }
}

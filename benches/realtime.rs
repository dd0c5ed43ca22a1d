//! Realtime load bench (a load program, not criterion): Delegate servers run as child
//! processes (this binary re-executed), so their memory and CPU are their own. Each figure
//! is printed beside a baseline measured in the same run:
//! - idle memory: 10,000 authenticated WebSockets (100 users × 100) on one embedded
//!   instance, resident memory per connection against the server with none;
//! - fan-out: 1,000 sockets of one user over two instances (PostgreSQL + Redis), application
//!   events published on one at 50/s: delivery latency p50/p99 against a bare Redis
//!   PUBLISH→SUBSCRIBE round trip, server CPU per delivery, and deliveries/s at saturation
//!   against bare Redis messages/s;
//! - a reply streamed to two subscribed devices against one: per-delta latency p50.
//!
//! Needs PostgreSQL and Redis (`DELEGATE_TEST_DATABASE_URL`, `DELEGATE_TEST_REDIS_URL`;
//! defaults: the local database `test` and Redis on 6379). Run with
//! `cargo bench -p delegate-benches --bench realtime`.

use delegate_benches::{JWT_SECRET, PASSWORD, REFRESH_SECRET, TempSqlite, bench_config};
use delegate_core::backend::postgres::TestSchema;
use delegate_core::testing::upstream::{Reply, Upstream};
use delegate_core::{Config, Delegate, Registration, Role};
use futures::{SinkExt, StreamExt};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::io::AsyncReadExt;
use tokio_tungstenite::tungstenite::Message;

/// Set in a child's environment: serve instead of benching.
const SERVE: &str = "DELEGATE_BENCH_REALTIME_SERVE";
/// Idle connections: users × sockets each.
const IDLE_USERS: usize = 100;
const IDLE_PER_USER: usize = 100;
/// Fan-out: sockets of the one user, split over the two instances.
const FAN_OUT_SOCKETS: usize = 1_000;
/// Fan-out: events per second, and for how long.
const RATE: u64 = 50;
const RATE_SECS: u64 = 10;
/// Saturation: how long events are published as fast as they are accepted, and how many
/// publishes are in flight.
const SATURATION_SECS: u64 = 5;
const IN_FLIGHT: usize = 16;
/// Two devices: replies, deltas per reply, and the pause between deltas.
const REPLIES: usize = 20;
const DELTAS: usize = 40;
const DELTA_PAUSE: Duration = Duration::from_millis(5);

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn main() {
    if std::env::var_os(SERVE).is_some() {
        serve();
        return;
    }
    raise_fd_limit();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    // `cargo bench --bench realtime -- fan` runs the phases whose names contain `fan`.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wanted =
        |phase: &str| filters.is_empty() || filters.iter().any(|f| phase.contains(f.as_str()));
    rt.block_on(async {
        if wanted("idle") {
            idle_memory().await;
        }
        if wanted("fan-out") {
            fan_out().await;
        }
        if wanted("devices") {
            two_devices().await;
        }
    });
}

/// The child: a Delegate server configured by its environment, on a free loopback port
/// printed on stdout; it exits when its stdin closes (the bench ended or died).
fn serve() {
    let rt = tokio::runtime::Runtime::new().expect("a Tokio runtime");
    rt.block_on(async {
        let config = Config::load(None).expect("the child's config");
        let delegate = Delegate::connect(config).await.expect("Delegate starts");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("{}", listener.local_addr().unwrap());
        let parent_gone = async {
            let _ = tokio::io::stdin().read_to_end(&mut Vec::new()).await;
        };
        delegate_http::serve(delegate, listener, parent_gone)
            .await
            .expect("serving");
    });
}

/// Raises this process's open-file limit as far as allowed (children inherit it).
fn raise_fd_limit() {
    let limit = rlimit::increase_nofile_limit(u64::MAX).expect("the open-file limit");
    assert!(
        limit >= (IDLE_USERS * IDLE_PER_USER + 1_000) as u64,
        "the open-file limit ({limit}) is below the connections this bench opens"
    );
}

/// A child server process, killed on drop.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    /// Starts a server with `env` over the bench's fixed settings.
    fn start(env: &[(&str, String)]) -> Self {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .env(SERVE, "1")
            .env("NODE_ENV", "test")
            .env("JWT_SECRET", JWT_SECRET)
            .env("JWT_REFRESH_SECRET", REFRESH_SECRET)
            .env("RATE_LIMIT_MAX_REQUESTS", "1000000000")
            .env("RATE_LIMIT_AUTH_MAX_REQUESTS", "1000000000")
            .env("DELEGATE_RATE_LIMIT__GLOBAL_MAX_REQUESTS", "1000000000")
            .env("DELEGATE_REALTIME__MAX_CONNECTIONS_PER_USER", "100000")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the server starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("the server's address");
        let addr = line.trim().parse().expect("an address");
        Self { child, addr }
    }

    fn field(&self, file: &str) -> String {
        std::fs::read_to_string(format!("/proc/{}/{file}", self.child.id())).unwrap()
    }

    /// Resident memory, KiB.
    fn rss_kib(&self) -> u64 {
        let status = self.field("status");
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    /// CPU used so far by all its threads (`/proc/<pid>/task/*/schedstat`, nanoseconds).
    fn cpu(&self) -> Duration {
        let tasks = std::fs::read_dir(format!("/proc/{}/task", self.child.id())).unwrap();
        let nanos: u64 = tasks
            .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok())
            .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
            .sum();
        Duration::from_nanos(nanos)
    }
}

impl Server {
    /// Clock ticks spent in user space and in the kernel (`/proc/<pid>/stat`).
    fn ticks(&self) -> (u64, u64) {
        let stat = self.field("stat");
        // After the command name (in parentheses), utime is the 12th field and stime the 13th.
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let mut fields = rest
            .split_whitespace()
            .skip(11)
            .map(|f| f.parse::<u64>().unwrap());
        (fields.next().unwrap(), fields.next().unwrap())
    }
}

/// The kernel's share of the CPU two servers used between `before` and now, in percent.
fn kernel_share(servers: [&Server; 2], before: [(u64, u64); 2]) -> f64 {
    let (mut user, mut kernel) = (0, 0);
    for (server, (u, k)) in servers.iter().zip(before) {
        let (u2, k2) = server.ticks();
        user += u2 - u;
        kernel += k2 - k;
    }
    kernel as f64 * 100.0 / (user + kernel).max(1) as f64
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Opens `/api/v1/ws` on `addr` with `token` and waits for `ready`.
async fn connect(addr: SocketAddr, token: &str) -> Socket {
    let url = format!("ws://{addr}/api/v1/ws?token={token}");
    let (mut socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("a WebSocket");
    let ready = next_text(&mut socket).await.expect("ready");
    assert!(ready.contains("\"ready\""), "{ready}");
    socket
}

/// The next text frame, `None` when the socket ended.
async fn next_text(socket: &mut Socket) -> Option<String> {
    while let Some(message) = socket.next().await {
        match message.ok()? {
            Message::Text(text) => return Some(text.to_string()),
            Message::Close(_) => return None,
            _ => {}
        }
    }
    None
}

/// Microseconds since the epoch (comparable between the bench's tasks).
fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// The `p`th percentile of `sorted`, in milliseconds.
fn percentile_ms(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

/// 10,000 idle authenticated WebSockets on one embedded instance.
async fn idle_memory() {
    let db = TempSqlite::create().await.expect("sqlite");
    let url = format!("sqlite://{}", db.path().display());
    let server = Server::start(&[
        ("DATABASE_URL", url.clone()),
        ("DELEGATE_AI_PROVIDER", "echo".into()),
    ]);
    let mut config = bench_config();
    config.database_url = url;
    let delegate = Delegate::connect(config).await.expect("Delegate");
    let mut tokens = Vec::new();
    for u in 0..IDLE_USERS {
        let email = format!("idle{u}@bench.example");
        let signed = delegate
            .auth()
            .register(Registration::new(&email, PASSWORD))
            .await
            .expect("registered");
        tokens.push(signed.tokens.access_token);
    }
    // Warm the paths once, then the baseline.
    drop(connect(server.addr, &tokens[0]).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = server.rss_kib();
    let started = Instant::now();
    let mut sockets = Vec::with_capacity(IDLE_USERS * IDLE_PER_USER);
    for token in &tokens {
        let batch =
            futures::future::join_all((0..IDLE_PER_USER).map(|_| connect(server.addr, token)));
        sockets.extend(batch.await);
    }
    let opened = started.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = server.rss_kib();
    let n = sockets.len() as u64;
    println!("== idle WebSockets (embedded, one instance)");
    println!(
        "{n} connections opened in {:.1} s; server RSS {} MiB with none, {} MiB with them: {:.2} KiB per connection (target <= 8)",
        opened.as_secs_f64(),
        before / 1024,
        after / 1024,
        (after.saturating_sub(before)) as f64 / n as f64
    );
    drop(sockets);
}

/// The scale-out backing shared by the fan-out phases: a fresh PostgreSQL schema and a
/// Redis key prefix.
struct Backing {
    database: String,
    redis: String,
    prefix: String,
    _schema: TestSchema,
}

impl Backing {
    async fn create() -> Self {
        let database = env_or(
            "DELEGATE_TEST_DATABASE_URL",
            "postgres://postgres@127.0.0.1:5432/test",
        );
        let redis = env_or("DELEGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379");
        let (_, schema) = TestSchema::create(&database, "benchrt")
            .await
            .expect("schema");
        let database = format!(
            "{database}{}options=-c%20search_path%3D{}",
            if database.contains('?') { '&' } else { '?' },
            schema.name()
        );
        let prefix = format!("benchrt:{}:", now_micros());
        Self {
            database,
            redis,
            prefix,
            _schema: schema,
        }
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("DATABASE_URL", self.database.clone()),
            ("REDIS_URL", self.redis.clone()),
            ("DELEGATE_REDIS_PREFIX", self.prefix.clone()),
            ("DELEGATE_AI_PROVIDER", "echo".into()),
        ]
    }

    async fn delegate(&self) -> Delegate {
        let mut config = bench_config();
        config.database_url = self.database.clone();
        config.redis_url = self.redis.clone();
        config.redis_prefix = self.prefix.clone();
        Delegate::connect(config).await.expect("Delegate")
    }
}

/// Bare Redis: PUBLISH→SUBSCRIBE latency at [`RATE`]/s and messages/s back to back.
async fn bus_baseline(redis: &str) -> (Vec<u64>, f64) {
    let client = redis::Client::open(redis).expect("redis URL");
    let mut subscriber = client.get_async_pubsub().await.expect("pubsub");
    let channel = format!("benchrt-bus-{}", now_micros());
    subscriber.subscribe(&channel).await.unwrap();
    let mut messages = subscriber.into_on_message();
    let mut publisher = client.get_multiplexed_async_connection().await.unwrap();
    let mut latencies = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(1000 / RATE));
    for _ in 0..RATE * 4 {
        tick.tick().await;
        let sent = now_micros();
        let _: () = redis::cmd("PUBLISH")
            .arg(&channel)
            .arg(sent.to_string())
            .query_async(&mut publisher)
            .await
            .unwrap();
        let message = messages.next().await.unwrap();
        let at: u64 = message.get_payload::<String>().unwrap().parse().unwrap();
        latencies.push(now_micros() - at);
    }
    latencies.sort_unstable();
    let count = 20_000;
    let started = Instant::now();
    let sending = {
        let channel = channel.clone();
        let mut publisher = publisher.clone();
        tokio::spawn(async move {
            for _ in 0..count {
                let _: () = redis::cmd("PUBLISH")
                    .arg(&channel)
                    .arg("x")
                    .query_async(&mut publisher)
                    .await
                    .unwrap();
            }
        })
    };
    for _ in 0..count {
        messages.next().await.unwrap();
    }
    sending.await.unwrap();
    (latencies, count as f64 / started.elapsed().as_secs_f64())
}

/// 1,000 sockets of one user over two instances; events published on the first.
async fn fan_out() {
    let backing = Backing::create().await;
    let (bus_latencies, bus_rate) = bus_baseline(&backing.redis).await;
    let one = Server::start(&backing.env());
    let two = Server::start(&backing.env());
    let delegate = backing.delegate().await;
    let user = delegate
        .auth()
        .register(Registration::new("fan@bench.example", PASSWORD))
        .await
        .expect("user");
    let admin = delegate
        .auth()
        .register(Registration::new("admin@bench.example", PASSWORD))
        .await
        .expect("admin");
    delegate
        .users()
        .set_role(admin.user.id, Role::Admin)
        .await
        .expect("promoted");
    let http = reqwest::Client::new();
    let login: serde_json::Value = http
        .post(format!("http://{}/api/v1/auth/login", one.addr))
        .json(&serde_json::json!({"email": "admin@bench.example", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let admin_token = login["accessToken"]
        .as_str()
        .or_else(|| login["tokens"]["accessToken"].as_str())
        .unwrap_or_else(|| panic!("no token in {login}"))
        .to_owned();

    let token = user.tokens.access_token.clone();
    let mut sockets = Vec::new();
    for i in 0..FAN_OUT_SOCKETS {
        let addr = if i % 2 == 0 { one.addr } else { two.addr };
        sockets.push(connect(addr, &token).await);
    }
    let received = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(std::sync::Mutex::new(Vec::<u64>::new()));
    let readers: Vec<_> = sockets
        .into_iter()
        .map(|mut socket| {
            let (received, latencies) = (received.clone(), latencies.clone());
            tokio::spawn(async move {
                let mut mine = Vec::new();
                while let Some(text) = next_text(&mut socket).await {
                    let at = now_micros();
                    if let Some(sent) = sent_at(&text) {
                        if sent > 0 {
                            mine.push(at.saturating_sub(sent));
                        }
                        received.fetch_add(1, Ordering::Relaxed);
                    }
                    // An unstamped event flushes what this reader measured.
                    if sent_at(&text) == Some(0) || mine.len() >= 1_000 {
                        latencies.lock().unwrap().append(&mut mine);
                    }
                }
                latencies.lock().unwrap().append(&mut mine);
            })
        })
        .collect();
    let notifier = Notifier {
        http: http.clone(),
        url: format!("http://{}/api/v1/admin/notify", one.addr),
        token: admin_token,
        user: user.user.id.to_string(),
    };
    // Warm-up, not measured.
    for _ in 0..RATE {
        notifier.send(false).await;
    }
    wait_for(&received, RATE * FAN_OUT_SOCKETS as u64).await;
    latencies.lock().unwrap().clear();

    // At 50 events a second.
    let start_count = received.load(Ordering::Relaxed);
    let cpu = one.cpu() + two.cpu();
    let ticks = [one.ticks(), two.ticks()];
    let mut tick = tokio::time::interval(Duration::from_millis(1000 / RATE));
    let events = RATE * RATE_SECS;
    for _ in 0..events {
        tick.tick().await;
        let notifier = notifier.clone();
        tokio::spawn(async move { notifier.send(true).await });
    }
    let expected = start_count + events * FAN_OUT_SOCKETS as u64;
    let complete = wait_for(&received, expected).await;
    let cpu_used = one.cpu() + two.cpu() - cpu;
    let kernel = kernel_share([&one, &two], ticks);
    let deliveries = received.load(Ordering::Relaxed) - start_count;
    notifier.send(false).await;
    wait_for(&received, expected + FAN_OUT_SOCKETS as u64).await;
    let mut measured = std::mem::take(&mut *latencies.lock().unwrap());
    measured.sort_unstable();

    // Saturation: as fast as the first instance accepts publishes.
    let start_count = received.load(Ordering::Relaxed);
    let cpu = one.cpu() + two.cpu();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(SATURATION_SECS);
    let publishers: Vec<_> = (0..IN_FLIGHT)
        .map(|_| {
            let notifier = notifier.clone();
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    notifier.send(false).await;
                }
            })
        })
        .collect();
    futures::future::join_all(publishers).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let elapsed = started.elapsed();
    let saturated = received.load(Ordering::Relaxed) - start_count;
    let saturated_cpu = one.cpu() + two.cpu() - cpu;
    for reader in &readers {
        reader.abort();
    }

    println!(
        "== fan-out: {FAN_OUT_SOCKETS} sockets of one user over two instances (PostgreSQL + Redis)"
    );
    println!(
        "bare Redis PUBLISH->SUBSCRIBE: p50 {:.2} ms, p99 {:.2} ms; {:.0} messages/s back to back",
        percentile_ms(&bus_latencies, 0.5),
        percentile_ms(&bus_latencies, 0.99),
        bus_rate
    );
    println!(
        "{events} events at {RATE}/s: {deliveries} deliveries{}; latency p50 {:.2} ms, p99 {:.2} ms (target p99 <= 20); server CPU {:.2} s = {:.2} us per delivery (target <= 3), {:.0}% of it in the kernel",
        if complete { "" } else { " (INCOMPLETE)" },
        percentile_ms(&measured, 0.5),
        percentile_ms(&measured, 0.99),
        cpu_used.as_secs_f64(),
        cpu_used.as_secs_f64() * 1e6 / deliveries.max(1) as f64,
        kernel
    );
    println!(
        "saturation ({IN_FLIGHT} publishes in flight for {SATURATION_SECS} s): {:.0} deliveries/s, server CPU {:.2} us per delivery",
        saturated as f64 / elapsed.as_secs_f64(),
        saturated_cpu.as_secs_f64() * 1e6 / saturated.max(1) as f64
    );
}

/// Publishes application events to one user through POST /api/v1/admin/notify.
#[derive(Clone)]
struct Notifier {
    http: reqwest::Client,
    url: String,
    token: String,
    user: String,
}

impl Notifier {
    /// One `app.tick`, stamped with the time it is sent (or 0).
    async fn send(&self, stamped: bool) {
        let t = if stamped { now_micros() } else { 0 };
        let res = self
            .http
            .post(&self.url)
            .bearer_auth(&self.token)
            .json(&serde_json::json!({"userId": self.user, "type": "app.tick", "data": {"t": t}}))
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "notify: {}", res.status());
    }
}

/// The `t` an application event was stamped with, when `text` is one.
fn sent_at(text: &str) -> Option<u64> {
    let start = text.find("\"t\":")? + 4;
    let digits: String = text[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// Waits until `counter` reaches `target` or stops moving for 5 s; whether it reached it.
async fn wait_for(counter: &AtomicU64, target: u64) -> bool {
    let mut last = (counter.load(Ordering::Relaxed), Instant::now());
    loop {
        let now = counter.load(Ordering::Relaxed);
        if now >= target {
            return true;
        }
        if now != last.0 {
            last = (now, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(5) {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A reply streamed to one subscribed device, then to two: per-delta latency (arrival
/// after the send, less the upstream's pauses before that delta).
async fn two_devices() {
    let upstream = Upstream::start().await;
    let db = TempSqlite::create().await.expect("sqlite");
    let url = format!("sqlite://{}", db.path().display());
    let server = Server::start(&[
        ("DATABASE_URL", url.clone()),
        ("OPENAI_BASE_URL", upstream.base_url()),
        ("OPENAI_API_KEY", "sk-bench".into()),
        ("DELEGATE_QUOTA__FREE__MESSAGES_PER_DAY", "0".into()),
        ("DELEGATE_QUOTA__FREE__TOKENS_PER_MONTH", "0".into()),
    ]);
    let mut config = bench_config();
    config.database_url = url;
    let delegate = Delegate::connect(config).await.expect("Delegate");
    let user = delegate
        .auth()
        .register(Registration::new("devices@bench.example", PASSWORD))
        .await
        .expect("user");
    let token = user.tokens.access_token;
    let http = reqwest::Client::new();
    let chat: serde_json::Value = http
        .post(format!("http://{}/api/v1/sessions", server.addr))
        .bearer_auth(&token)
        .json(&serde_json::json!({"title": "bench"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let chat = chat["id"].as_str().unwrap().to_owned();
    let text: String = (0..DELTAS).map(|i| format!("w{i:03} ")).collect();

    let mut results = Vec::new();
    for devices in [1usize, 2, 1, 2] {
        let mut sockets = Vec::new();
        for _ in 0..devices {
            let mut socket = connect(server.addr, &token).await;
            let subscribe = serde_json::json!({"type": "subscribe", "data": {"sessionId": chat}});
            socket
                .send(Message::Text(subscribe.to_string().into()))
                .await
                .unwrap();
            while !next_text(&mut socket)
                .await
                .unwrap()
                .contains("\"subscribed\"")
            {}
            sockets.push(socket);
        }
        let mut latencies = Vec::new();
        for _ in 0..REPLIES {
            upstream.script(
                Reply::new(text.clone())
                    .in_chunks(DELTAS)
                    .delay_between(DELTA_PAUSE),
            );
            let sent = Instant::now();
            let response = http
                .post(format!(
                    "http://{}/api/v1/sessions/{chat}/messages",
                    server.addr
                ))
                .bearer_auth(&token)
                .json(&serde_json::json!({"content": "go", "stream": true}))
                .send()
                .await
                .unwrap();
            let readers = sockets.iter_mut().map(|socket| async move {
                let mut arrivals = Vec::new();
                while let Some(frame) = next_text(socket).await {
                    if frame.contains("\"chat.reply.delta\"") {
                        arrivals.push(sent.elapsed());
                    } else if frame.contains("\"chat.reply.done\"") {
                        break;
                    }
                }
                arrivals
            });
            let (arrivals, _) = tokio::join!(futures::future::join_all(readers), response.text());
            for device in arrivals {
                for (i, at) in device.iter().enumerate() {
                    let pauses = DELTA_PAUSE * i as u32;
                    latencies.push(at.saturating_sub(pauses).as_micros() as u64);
                }
            }
        }
        latencies.sort_unstable();
        results.push((
            devices,
            percentile_ms(&latencies, 0.5),
            percentile_ms(&latencies, 0.99),
        ));
    }
    println!(
        "== a reply streamed to subscribed devices ({REPLIES} replies x {DELTAS} deltas, {} ms apart, per round)",
        DELTA_PAUSE.as_millis()
    );
    for (devices, p50, p99) in &results {
        println!(
            "{devices} device(s): per-delta latency after the send p50 {p50:.2} ms, p99 {p99:.2} ms"
        );
    }
    let mean = |n: usize| {
        let v: Vec<f64> = results.iter().filter(|r| r.0 == n).map(|r| r.1).collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    println!(
        "two devices add {:.2} ms p50 per delta over one (target <= 1)",
        mean(2) - mean(1)
    );
}

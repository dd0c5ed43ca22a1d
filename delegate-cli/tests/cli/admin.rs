//! The admin commands end to end, with and without `--json`: accounts (search, show,
//! disable, enable, delete, logout-all), cache, audit, usage, doctor, completions, demo seed
//! data, and the import of Node-era users whose bcrypt hashes are upgraded at login.

use super::{Env, find, text};
use delegate_core::{Config, Credentials, Delegate};
use serde_json::Value;

/// Runs without `--json`; expects success and returns stdout (stderr must stay empty: no
/// progress bar when not on a terminal).
fn human(env: &Env, args: &[&str]) -> String {
    let out = env.run(args);
    assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    assert!(
        out.stderr.is_empty(),
        "{args:?} wrote to stderr: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

#[test]
fn account_commands_search_show_disable_enable_logout_and_delete() {
    let env = Env::new();
    env.create_user("root@example.com", &["--role", "admin"]);
    env.create_user("ada@example.com", &["--name", "Ada Lovelace"]);
    env.create_user("adam@example.com", &["--tier", "pro"]);

    let found = env.ok(&["users", "search", "ada"]);
    assert_eq!(found["items"].as_array().unwrap().len(), 2, "{found}");
    let pro = env.ok(&["users", "list", "--tier", "pro"]);
    assert_eq!(pro["items"][0]["email"], "adam@example.com");
    assert!(human(&env, &["users", "search", "lovelace"]).contains("no users"));
    assert!(
        human(&env, &["users", "search", "ADA", "--role", "user"]).contains("adam@example.com")
    );

    let shown = env.ok(&["users", "show", "ada@example.com"]);
    assert_eq!(shown["email"], "ada@example.com");
    assert_eq!(shown["liveSessions"], 0);
    assert_eq!(shown["usage"]["messagesToday"], 0);
    assert!(human(&env, &["users", "show", "ada@example.com"]).contains("sessions: 0 live"));

    let disabled = env.ok(&["users", "disable", "ada@example.com"]);
    assert_eq!(disabled["disabled"], true);
    let listed = env.ok(&["users", "list", "--disabled", "true"]);
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert!(human(&env, &["users", "enable", "ada@example.com"]).contains("disabled: false"));
    assert_eq!(
        env.ok(&["users", "logout-all", "ada@example.com"])["revoked"],
        0
    );
    assert!(human(&env, &["users", "logout-all", "ada@example.com"]).contains("revoked 0"));

    // The last admin is kept; a delete needs --yes.
    let last = env.fails(&["users", "set-role", "root@example.com", "user"]);
    assert_eq!(last["code"], "last_admin");
    assert_eq!(
        env.fails(&["users", "disable", "root@example.com"])["code"],
        "last_admin"
    );
    assert_eq!(
        env.fails(&["users", "delete", "ada@example.com"])["field"],
        "yes"
    );
    let deleted = env.ok(&["users", "delete", "ada@example.com", "--yes"]);
    assert_eq!(deleted["deleted"], true);
    assert_eq!(
        env.fails(&["users", "show", "ada@example.com"])["code"],
        "not_found"
    );
    assert!(
        human(&env, &["users", "delete", "adam@example.com", "--yes"]).contains("deleted user")
    );

    // Each action is in the audit trail, newest first, by the operator.
    let audit = env.ok(&["audit", "--limit", "100"]);
    let kinds: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for kind in [
        "user.created",
        "user.disabled",
        "user.enabled",
        "sessions.revoked",
        "user.deleted",
    ] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    assert!(find(&audit["items"], "kind", "user.deleted").unwrap()["actorType"] == "operator");
    let deletions = env.ok(&["audit", "--kind", "user.deleted"]);
    assert_eq!(deletions["items"].as_array().unwrap().len(), 2);
    assert!(human(&env, &["audit", "--kind", "user.disabled"]).contains("user.disabled"));
    assert_eq!(env.fails(&["audit", "--kind", "nope"])["field"], "kind");
    assert_eq!(
        env.fails(&["audit", "--from", "yesterday"])["field"],
        "from"
    );
}

#[test]
fn cache_usage_doctor_and_completions() {
    let env = Env::new();
    env.create_user("root@example.com", &[]);
    let stats = env.ok(&["cache", "stats"]);
    assert!(stats["namespaces"].is_array(), "{stats}");
    assert!(human(&env, &["cache", "stats"]).contains("cache"));
    assert_eq!(env.ok(&["cache", "clear", "user:*"])["removed"], 0);
    assert!(human(&env, &["cache", "clear", "*"]).contains("removed 0 cache entries"));
    assert_eq!(
        env.fails(&["cache", "clear", "user:[x]"])["field"],
        "pattern"
    );

    let report = env.ok(&["usage", "report", "--from", "2026-01-01"]);
    assert_eq!(report["totals"]["users"], 1);
    assert_eq!(report["items"][0]["email"], "root@example.com");
    assert_eq!(report["from"], "2026-01-01T00:00:00.000Z");
    assert!(human(&env, &["usage", "report"]).contains("total: 1 users"));
    assert_eq!(
        env.fails(&["usage", "report", "--from", "soon"])["field"],
        "from"
    );

    let doctor = env.ok(&["doctor"]);
    assert_eq!(doctor["status"], "degraded", "no AI provider: {doctor}");
    let database = find(&doctor["checks"], "name", "database").unwrap();
    assert_eq!(
        (database["status"].as_str(), database["kind"].as_str()),
        (Some("ok"), Some("sqlite"))
    );
    assert!(database["latencyMs"].as_f64().is_some());
    assert!(human(&env, &["doctor"]).contains("overall: degraded"));
    // An unreachable store is reported, with exit code 1.
    let out = env
        .command(&["doctor", "--json"])
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let down: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(down["status"], "down");
    assert_eq!(down["checks"][0]["name"], "connect");

    for shell in ["bash", "zsh", "fish"] {
        let script = human(&env, &["completions", shell]);
        assert!(
            script.contains("delegate") && script.contains("logout-all"),
            "{shell}"
        );
    }
    assert_eq!(env.fails(&["completions", "tcsh"])["code"], "usage");
}

#[test]
fn demo_seed_data_is_created_once_and_refused_in_production() {
    let env = Env::new();
    let seeded = env.ok(&["seed", "--demo"]);
    assert_eq!(seeded["chats"], 2);
    let admin = find(&seeded["accounts"], "role", "admin").unwrap();
    let password = admin["password"].as_str().unwrap().to_owned();
    let again = env.ok(&["seed", "--demo"]);
    assert_eq!(again["chats"], 0);
    assert!(again["accounts"][0]["password"].is_null());
    assert!(human(&env, &["seed", "--demo"]).contains("existed, unchanged"));
    assert_eq!(env.fails(&["seed"])["field"], "demo");
    // The admin's password works.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let delegate = delegate(&env).await;
        let email = admin["email"].as_str().unwrap();
        delegate
            .auth()
            .login(Credentials::new(email, &password))
            .await
            .expect("login");
    });
    let out = env
        .command(&["seed", "--demo", "--json"])
        .env("NODE_ENV", "production")
        .env("JWT_SECRET", "cli-test-jwt-secret-0123456789abcdefghij")
        .env(
            "JWT_REFRESH_SECRET",
            "cli-test-refresh-secret-0123456789abcdef",
        )
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(err["error"]["code"], "forbidden");
}

async fn delegate(env: &Env) -> Delegate {
    let config = Config {
        database_url: env.database_url.clone(),
        ..Config::default()
    };
    Delegate::connect(config).await.expect("connects")
}

#[test]
fn node_users_import_from_jsonl_and_csv_idempotently_and_bcrypt_logins_upgrade_the_hash() {
    let env = Env::new();
    let old = "their old node password";
    let bcrypt = bcrypt::hash(old, 4).unwrap().replacen("$2b$", "$2a$", 1);
    let jsonl = env.dir.path().join("users.jsonl");
    std::fs::write(
        &jsonl,
        format!(
            "{{\"email\":\"Node@Example.com\",\"passwordHash\":\"{bcrypt}\",\"name\":\"Node\",\"tier\":\"pro\",\"createdAt\":\"2024-05-01T10:00:00Z\",\"preferences\":{{\"theme\":\"dark\"}}}}\n\
             \n\
             {{\"email\":\"nohash@example.com\"}}\n\
             {{\"email\":\"badtier@example.com\",\"passwordHash\":\"{bcrypt}\",\"tier\":\"gold\"}}\n\
             not json at all\n\
             {{\"email\":\"plain@example.com\",\"passwordHash\":\"plaintext-password\"}}\n"
        ),
    )
    .unwrap();
    let out = env.run(&["import", "users", jsonl.to_str().unwrap(), "--json"]);
    assert!(!out.status.success(), "bad rows set the exit code");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["created"], 1, "{report}");
    let lines: Vec<u64> = report["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [3, 4, 5, 6], "{report}");
    let tier_error = &report["failed"][1];
    assert!(
        tier_error["message"].as_str().unwrap().contains("tier"),
        "{tier_error}"
    );

    // Re-running skips the existing email and reports it.
    let again = env.run(&["import", "users", jsonl.to_str().unwrap(), "--json"]);
    let again: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(again["created"], 0);
    assert_eq!(
        again["skipped"][0],
        serde_json::json!({"line": 1, "email": "node@example.com"})
    );

    let csv = env.dir.path().join("users.csv");
    let bcrypt_y = bcrypt.replacen("$2a$", "$2y$", 1);
    std::fs::write(
        &csv,
        format!(
            "email,passwordHash,name,role,preferences\n\
             csv@example.com,{bcrypt_y},Csv User,user,\"{{\"\"lang\"\":\"\"fr\"\"}}\"\n\
             node@example.com,{bcrypt},Dup,,\n\
             ,{bcrypt},No Email,,\n"
        ),
    )
    .unwrap();
    let out = env.run(&["import", "users", csv.to_str().unwrap()]);
    let summary = text(&out.stdout);
    assert!(
        summary.contains("created 1 users, skipped 1 existing, 1 failed"),
        "{summary}"
    );
    assert!(summary.contains("line 4:"), "{summary}");
    assert!(
        out.stderr.is_empty(),
        "no progress bar when piped: {}",
        text(&out.stderr)
    );

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let delegate = delegate(&env).await;
        let imported = delegate.users().by_email("node@example.com").await.unwrap();
        assert_eq!(imported.tier, delegate_core::Tier::Pro);
        assert_eq!(imported.preferences["theme"], "dark");
        assert_eq!(
            imported.created_at.to_rfc3339(),
            "2024-05-01T10:00:00+00:00"
        );
        let csv_user = delegate.users().by_email("csv@example.com").await.unwrap();
        assert_eq!(csv_user.preferences["lang"], "fr");
        // A wrong password fails; the old one signs in and the hash becomes argon2id.
        let wrong = delegate
            .auth()
            .login(Credentials::new("node@example.com", "not it at all"))
            .await;
        assert!(wrong.is_err());
        assert!(
            stored_hash(&env, "node@example.com")
                .await
                .starts_with("$2a$")
        );
        delegate
            .auth()
            .login(Credentials::new("node@example.com", old))
            .await
            .expect("old password");
        assert!(
            stored_hash(&env, "node@example.com")
                .await
                .starts_with("$argon2id$")
        );
        delegate
            .auth()
            .login(Credentials::new("node@example.com", old))
            .await
            .expect("again, by argon2id");
        delegate
            .auth()
            .login(Credentials::new("csv@example.com", old))
            .await
            .expect("$2y$ too");
    });
    let missing = env.fails(&["import", "users", "nope.jsonl"]);
    assert_eq!(missing["field"], "file");
}

/// The stored password hash, read straight from the SQLite file.
async fn stored_hash(env: &Env, email: &str) -> String {
    use delegate_core::users::UserStore;
    let store = delegate_core::backend::sqlite::SqliteStore::open(&env.database_url)
        .await
        .unwrap();
    store
        .credentials_by_email(email)
        .await
        .unwrap()
        .expect("the account")
        .password_hash
}

#[tokio::test]
async fn the_remaining_commands_print_for_humans_too() {
    let env = Env::new();
    let created = human(
        &env,
        &[
            "users",
            "create",
            "--email",
            "eve@example.com",
            "--password",
            super::PASSWORD,
        ],
    );
    assert!(created.contains("email:   eve@example.com"), "{created}");
    assert!(human(&env, &["users", "set-tier", "eve@example.com", "pro"]).contains("tier:    pro"));
    assert!(
        human(&env, &["users", "set-role", "eve@example.com", "admin"]).contains("role:    admin")
    );
    let delegate = delegate(&env).await;
    let signed_in = delegate
        .auth()
        .login(Credentials::new("eve@example.com", super::PASSWORD))
        .await
        .unwrap();
    let listed = human(&env, &["sessions", "list", "eve@example.com"]);
    assert!(
        listed.contains(&signed_in.session.id.to_string()),
        "{listed}"
    );
    let id = signed_in.session.id.to_string();
    assert!(human(&env, &["sessions", "revoke", &id]).contains("revoked session"));
    assert!(human(&env, &["sessions", "cleanup"]).contains("removed"));
    assert!(human(&env, &["sessions", "list", "eve@example.com"]).contains("no active sessions"));
    // The revocation and the cleanup are in the trail, by the operator.
    let audit = env.ok(&["audit", "--user", "eve@example.com"]);
    let revoked = find(&audit["items"], "kind", "sessions.revoked").expect("audited");
    assert_eq!(revoked["actorType"], "operator");
    let cleanups = env.ok(&["audit", "--kind", "sessions.cleanup"]);
    assert_eq!(cleanups["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_users_transcripts_are_exported_for_a_data_request() {
    let env = Env::new();
    env.create_user("ada@example.com", &[]);
    let delegate = delegate(&env).await;
    let signed_in = delegate
        .auth()
        .login(Credentials::new("ada@example.com", super::PASSWORD))
        .await
        .unwrap();
    let caller = delegate
        .auth()
        .authenticate(&signed_in.tokens.access_token)
        .await
        .unwrap();
    for (title, content) in [("First", "alpha text"), ("Second", "beta text")] {
        delegate
            .transcripts()
            .create_manual(&caller, title, content, vec![])
            .await
            .unwrap();
    }
    let json = env.ok(&["transcripts", "export", "--user", "ada@example.com"]);
    let titles: Vec<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["First", "Second"], "oldest first");
    let markdown = human(
        &env,
        &["transcripts", "export", "--user", "ada@example.com"],
    );
    assert!(
        markdown.contains("# First") && markdown.contains("# Second"),
        "{markdown}"
    );
    let text = human(
        &env,
        &[
            "transcripts",
            "export",
            "--user",
            "ada@example.com",
            "--format",
            "text",
        ],
    );
    assert!(text.contains("beta text"));
    assert_eq!(
        env.fails(&[
            "transcripts",
            "export",
            "--user",
            "ada@example.com",
            "--format",
            "pdf"
        ])["field"],
        "format"
    );
}

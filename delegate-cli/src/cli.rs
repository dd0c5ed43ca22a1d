//! The command line: clap types for `delegate` and its subcommands.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Delegate's admin CLI: run the server, migrate the database, manage users, sessions and the
/// cache, read the audit trail and usage, check the setup, import users, seed demo data.
#[derive(Debug, Parser)]
#[command(name = "delegate", version, about, propagate_version = true)]
pub struct Cli {
    /// A TOML configuration file (default: `DELEGATE_CONFIG`, then environment variables
    /// such as `DATABASE_URL`).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Print machine-readable JSON on stdout (and errors as JSON on stderr).
    #[arg(long, global = true)]
    pub json: bool,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The top-level subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (the same server as `delegate-server`).
    Serve,
    /// Apply pending database migrations.
    Migrate,
    /// Manage user accounts.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Manage login sessions (signed-in devices).
    #[command(subcommand)]
    Sessions(SessionsCommand),
    /// Inspect and clear the cache (Redis when configured).
    #[command(subcommand)]
    Cache(CacheCommand),
    /// The audit trail (admin actions and security events), newest first.
    Audit(AuditArgs),
    /// Usage reports.
    #[command(subcommand)]
    Usage(UsageCommand),
    /// Check the configuration, the store, Redis and the AI provider, with latencies.
    Doctor,
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Import data from the Node.js backend.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Create demo data: an admin, a user and sample chats (refused in production).
    Seed(SeedArgs),
    /// Transcripts (for data requests).
    #[command(subcommand)]
    Transcripts(TranscriptsCommand),
}

/// `delegate transcripts …`
#[derive(Debug, Subcommand)]
pub enum TranscriptsCommand {
    /// Print every transcript of a user, oldest first (JSON: an array; Markdown or text: one
    /// document after another).
    Export {
        /// The user's id (UUID) or email.
        #[arg(long)]
        user: String,
        /// `json` (default with `--json`), `markdown` (default) or `text`.
        #[arg(long)]
        format: Option<String>,
    },
}

/// `delegate users …`
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create an account (without signing it in).
    Create(CreateUser),
    /// List accounts, ordered by id, optionally filtered.
    List(ListUsers),
    /// Find accounts whose email or name starts with QUERY.
    Search {
        /// An email or name prefix (ASCII case-insensitive).
        query: String,
        /// Filters and paging.
        #[command(flatten)]
        filters: ListUsers,
    },
    /// Show an account with its usage and live login sessions.
    Show {
        /// User id (UUID) or email.
        user: String,
    },
    /// Set a user's tier (free, pro, enterprise).
    SetTier {
        /// User id (UUID) or email.
        user: String,
        /// The new tier: free, pro or enterprise.
        tier: String,
    },
    /// Set a user's role (user, admin); the last enabled admin cannot be demoted.
    SetRole {
        /// User id (UUID) or email.
        user: String,
        /// The new role: user or admin.
        role: String,
    },
    /// Disable an account: it cannot sign in or refresh, and its sessions end at once.
    Disable {
        /// User id (UUID) or email.
        user: String,
    },
    /// Enable a disabled account.
    Enable {
        /// User id (UUID) or email.
        user: String,
    },
    /// Delete an account and everything it owns (sessions, chats, messages, usage).
    Delete {
        /// User id (UUID) or email.
        user: String,
        /// Confirm the deletion (required).
        #[arg(long)]
        yes: bool,
    },
    /// End every login session of an account, at once on every running server.
    LogoutAll {
        /// User id (UUID) or email.
        user: String,
    },
}

/// Arguments of `delegate users create`.
#[derive(Debug, Args)]
#[command(group(
    clap::ArgGroup::new("secret").required(true).args(["password", "password_stdin"])
))]
pub struct CreateUser {
    /// Email address.
    #[arg(long)]
    pub email: String,
    /// Password (visible in shell history and process lists; prefer --password-stdin).
    #[arg(long)]
    pub password: Option<String>,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    pub password_stdin: bool,
    /// Display name (default: the email's local part).
    #[arg(long)]
    pub name: Option<String>,
    /// Tier: free, pro or enterprise (default: free).
    #[arg(long)]
    pub tier: Option<String>,
    /// Role: user or admin (default: user).
    #[arg(long)]
    pub role: Option<String>,
}

/// Arguments of `delegate users list` (and the filters of `users search`).
#[derive(Debug, Args)]
pub struct ListUsers {
    /// Most accounts to show (1–1000).
    #[arg(long, default_value_t = 100)]
    pub limit: u32,
    /// Show accounts after this user id (the `nextAfter` of the previous page).
    #[arg(long, value_name = "ID")]
    pub after: Option<String>,
    /// Only this tier: free, pro or enterprise.
    #[arg(long)]
    pub tier: Option<String>,
    /// Only this role: user or admin.
    #[arg(long)]
    pub role: Option<String>,
    /// Only disabled (true) or enabled (false) accounts.
    #[arg(long)]
    pub disabled: Option<bool>,
}

/// `delegate cache …`
#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Entries, bytes, hits and misses per layer and namespace (hits and misses count this
    /// process only, so they are zero here: read them from a server's /api/v1/admin/cache/stats).
    Stats,
    /// Remove the entries whose keys match PATTERN (`*` matches anything, e.g. `user:*`), on
    /// every running server too.
    Clear {
        /// The key pattern.
        pattern: String,
    },
}

/// Arguments of `delegate audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Events by or about this user (id or email).
    #[arg(long)]
    pub user: Option<String>,
    /// Only this kind (login.failed, user.disabled, …).
    #[arg(long)]
    pub kind: Option<String>,
    /// At or after this time (RFC 3339).
    #[arg(long)]
    pub from: Option<String>,
    /// Before this time (RFC 3339).
    #[arg(long)]
    pub to: Option<String>,
    /// Most events to show (1–100).
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    /// Events older than this one (the `nextCursor` of the previous page).
    #[arg(long)]
    pub cursor: Option<String>,
}

/// `delegate usage …`
#[derive(Debug, Subcommand)]
pub enum UsageCommand {
    /// Messages and tokens per user over a period, and the totals.
    Report {
        /// Start of the period (RFC 3339 or YYYY-MM-DD; default: the start of this month).
        #[arg(long)]
        from: Option<String>,
        /// End of the period (RFC 3339 or YYYY-MM-DD; default: now).
        #[arg(long)]
        until: Option<String>,
    },
}

/// `delegate import …`
#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import accounts from a JSON Lines or CSV export (`email` and `passwordHash` required;
    /// `name`, `tier`, `role`, `createdAt`, `preferences` optional). Existing emails are
    /// skipped; bad rows are reported by line number.
    Users {
        /// The export file.
        file: PathBuf,
        /// The file's format (default: by extension, `.csv` is CSV, anything else JSON Lines).
        #[arg(long, value_enum)]
        format: Option<ImportFormat>,
    },
}

/// The format of an import file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ImportFormat {
    /// One JSON object per line.
    Jsonl,
    /// Comma-separated with a header row.
    Csv,
}

/// Arguments of `delegate seed`.
#[derive(Debug, Args)]
pub struct SeedArgs {
    /// Create the demo data (required, so a typo never seeds a real database).
    #[arg(long)]
    pub demo: bool,
}

/// `delegate sessions …`
#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// List a user's alive login sessions, newest first.
    List {
        /// User id (UUID) or email.
        user: String,
    },
    /// Revoke a login session (any user's): its tokens stop working at once.
    Revoke {
        /// The login session id (UUID).
        session_id: String,
    },
    /// Delete expired and revoked login sessions, expired refresh-token families and ended
    /// access-token denials.
    Cleanup,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn json_and_config_are_accepted_after_the_subcommand() {
        let cli = Cli::try_parse_from([
            "delegate", "users", "list", "--json", "--config", "d.toml", "--limit", "5",
        ])
        .unwrap();
        assert!(cli.json);
        assert_eq!(cli.config.as_deref(), Some(std::path::Path::new("d.toml")));
        assert!(matches!(
            cli.command,
            Command::Users(UsersCommand::List(ListUsers { limit: 5, .. }))
        ));
    }

    #[test]
    fn create_needs_exactly_one_password_source() {
        let base = ["delegate", "users", "create", "--email", "a@example.com"];
        assert!(Cli::try_parse_from(base).is_err());
        let both = [&base[..], &["--password", "x", "--password-stdin"]].concat();
        assert!(Cli::try_parse_from(both).is_err());
        let stdin = [&base[..], &["--password-stdin"]].concat();
        assert!(Cli::try_parse_from(stdin).is_ok());
    }
}

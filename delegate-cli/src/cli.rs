//! The command line: clap types for `delegate` and its subcommands.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Delegate's admin CLI: run the server, migrate the database, manage users and sessions.
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
}

/// `delegate users …`
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create an account (without signing it in).
    Create(CreateUser),
    /// List accounts, ordered by id.
    List(ListUsers),
    /// Set a user's tier (free, pro, enterprise).
    SetTier {
        /// User id (UUID) or email.
        user: String,
        /// The new tier: free, pro or enterprise.
        tier: String,
    },
    /// Set a user's role (user, admin).
    SetRole {
        /// User id (UUID) or email.
        user: String,
        /// The new role: user or admin.
        role: String,
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

/// Arguments of `delegate users list`.
#[derive(Debug, Args)]
pub struct ListUsers {
    /// Most accounts to show (1–1000).
    #[arg(long, default_value_t = 100)]
    pub limit: u32,
    /// Show accounts after this user id (the `nextAfter` of the previous page).
    #[arg(long, value_name = "ID")]
    pub after: Option<String>,
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

//! Running a parsed command: load the config, build what the command needs, call core.

mod admin;
mod database;
mod doctor;
mod import;
mod seed;
mod sessions;
mod transcripts;
mod users;

use crate::cli::{Cli, Command};
use crate::views::Output;
use delegate_core::{Config, Delegate, Result, User, UserId};
use std::path::Path;

/// Runs `command` with the configuration from `config_file` (or the environment); `json`
/// hides progress bars. Returns what to print; `None` for commands that print nothing on
/// success (`serve`).
pub async fn run(
    command: Command,
    config_file: Option<&Path>,
    json: bool,
) -> Result<Option<Output>> {
    if let Command::Completions { shell } = command {
        return Ok(Some(completions(shell)));
    }
    let config = Config::load(config_file)?;
    let output = match command {
        Command::Serve => return database::serve(config).await.map(|()| None),
        Command::Migrate => database::migrate(&config).await?,
        Command::Users(command) => users::run(command, config).await?,
        Command::Sessions(command) => sessions::run(command, config).await?,
        Command::Cache(command) => admin::cache(command, config).await?,
        Command::Audit(args) => admin::audit(args, config).await?,
        Command::Usage(command) => admin::usage(command, config, json).await?,
        Command::Doctor => doctor::run(config).await?,
        Command::Import(command) => import::run(command, config, json).await?,
        Command::Seed(args) => seed::run(args, config).await?,
        Command::Transcripts(command) => transcripts::run(command, config, json).await?,
        Command::Completions { .. } => unreachable!("answered above"),
    };
    Ok(Some(output))
}

/// The completion script for `shell`.
fn completions(shell: clap_complete::Shell) -> Output {
    use clap::CommandFactory;
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "delegate", &mut script);
    Output::Raw(String::from_utf8_lossy(&script).into_owned())
}

/// Builds the Delegate (applying migrations). Missing JWT secrets are generated in
/// development, which is harmless for admin commands: they issue no tokens.
async fn connect(config: Config) -> Result<Delegate> {
    Delegate::connect(config).await
}

/// Finds a user named on the command line by email (anything with an `@`) or by id.
async fn find_user(delegate: &Delegate, user: &str) -> Result<User> {
    let users = delegate.users();
    if user.contains('@') {
        users.by_email(user).await
    } else {
        users.get(UserId::parse(user.trim())?).await
    }
}

//! Running a parsed command: load the config, build what the command needs, call core.

mod database;
mod sessions;
mod users;

use crate::cli::Command;
use crate::views::Output;
use delegate_core::{Config, Delegate, Result, User, UserId};
use std::path::Path;

/// Runs `command` with the configuration from `config_file` (or the environment). Returns
/// what to print; `None` for commands that print nothing on success (`serve`).
pub async fn run(command: Command, config_file: Option<&Path>) -> Result<Option<Output>> {
    let config = Config::load(config_file)?;
    match command {
        Command::Serve => database::serve(config).await.map(|()| None),
        Command::Migrate => database::migrate(&config).await.map(Some),
        Command::Users(command) => users::run(command, config).await.map(Some),
        Command::Sessions(command) => sessions::run(command, config).await.map(Some),
    }
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

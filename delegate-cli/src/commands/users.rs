//! `delegate users …`: create, list, set-tier, set-role.

use crate::cli::{CreateUser, ListUsers, UsersCommand};
use crate::views::{Output, UserListView};
use delegate_core::{Config, Error, Registration, Result, Role, Tier, UserId};
use tokio::io::{AsyncBufReadExt, BufReader};

/// Runs a `users` subcommand. Arguments are checked before the database is opened.
pub async fn run(command: UsersCommand, config: Config) -> Result<Output> {
    match command {
        UsersCommand::Create(args) => create(args, config).await,
        UsersCommand::List(args) => list(args, config).await,
        UsersCommand::SetTier { user, tier } => {
            let tier: Tier = tier.parse()?;
            let delegate = super::connect(config).await?;
            let user = super::find_user(&delegate, &user).await?;
            Ok(Output::User(
                delegate.users().set_tier(user.id, tier).await?.into(),
            ))
        }
        UsersCommand::SetRole { user, role } => {
            let role: Role = role.parse()?;
            let delegate = super::connect(config).await?;
            let user = super::find_user(&delegate, &user).await?;
            Ok(Output::User(
                delegate.users().set_role(user.id, role).await?.into(),
            ))
        }
    }
}

async fn create(args: CreateUser, config: Config) -> Result<Output> {
    let tier = args.tier.as_deref().map(str::parse::<Tier>).transpose()?;
    let role = args.role.as_deref().map(str::parse::<Role>).transpose()?;
    let password = match args.password {
        Some(password) => password,
        None => read_password_line().await?,
    };
    let mut registration = Registration::new(args.email, password);
    if let Some(name) = args.name {
        registration = registration.with_name(name);
    }
    let delegate = super::connect(config).await?;
    let users = delegate.users();
    let mut user = delegate.auth().create_account(registration).await?;
    if let Some(tier) = tier {
        user = users.set_tier(user.id, tier).await?;
    }
    if let Some(role) = role {
        user = users.set_role(user.id, role).await?;
    }
    Ok(Output::User(user.into()))
}

async fn list(args: ListUsers, config: Config) -> Result<Output> {
    let after = args.after.as_deref().map(UserId::parse).transpose()?;
    let delegate = super::connect(config).await?;
    let users = delegate.users().list(after, args.limit).await?;
    Ok(Output::Users(UserListView::new(users, args.limit)))
}

/// The first line of standard input, without its line ending.
async fn read_password_line() -> Result<String> {
    let mut line = String::new();
    BufReader::new(tokio::io::stdin())
        .read_line(&mut line)
        .await
        .map_err(|e| Error::invalid("password", format!("could not read standard input: {e}")))?;
    let trimmed = line.strip_suffix('\n').unwrap_or(&line);
    Ok(trimmed.strip_suffix('\r').unwrap_or(trimmed).to_owned())
}

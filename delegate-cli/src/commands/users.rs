//! `delegate users …`: create, list, search, show, set-tier, set-role, disable, enable,
//! delete, logout-all — the admin API's account actions, as the operator.

use crate::cli::{CreateUser, ListUsers, UsersCommand};
use crate::views::{DeletedView, LoggedOutView, Output, UserListView};
use delegate_core::admin::{AccountChange, Actor};
use delegate_core::users::UserQuery;
use delegate_core::{Config, Error, Registration, Result, Role, Tier, UserId};
use tokio::io::{AsyncBufReadExt, BufReader};

/// Runs a `users` subcommand. Arguments are checked before the database is opened.
pub async fn run(command: UsersCommand, config: Config) -> Result<Output> {
    match command {
        UsersCommand::Create(args) => create(args, config).await,
        UsersCommand::List(args) => list(None, args, config).await,
        UsersCommand::Search { query, filters } => list(Some(query), filters, config).await,
        UsersCommand::Show { user } => {
            let delegate = super::connect(config).await?;
            let user = super::find_user(&delegate, &user).await?;
            let detail = delegate.admin().user(&Actor::Operator, user.id).await?;
            Ok(Output::UserDetail(detail.into()))
        }
        UsersCommand::SetTier { user, tier } => {
            let change = AccountChange {
                tier: Some(tier.parse()?),
                ..AccountChange::default()
            };
            change_user(&user, change, config).await
        }
        UsersCommand::SetRole { user, role } => {
            let change = AccountChange {
                role: Some(role.parse()?),
                ..AccountChange::default()
            };
            change_user(&user, change, config).await
        }
        UsersCommand::Disable { user } => {
            let change = AccountChange {
                disabled: Some(true),
                ..AccountChange::default()
            };
            change_user(&user, change, config).await
        }
        UsersCommand::Enable { user } => {
            let change = AccountChange {
                disabled: Some(false),
                ..AccountChange::default()
            };
            change_user(&user, change, config).await
        }
        UsersCommand::Delete { user, yes } => {
            if !yes {
                return Err(Error::invalid(
                    "yes",
                    "deleting a user erases the account and everything it owns; add --yes to confirm",
                ));
            }
            let delegate = super::connect(config).await?;
            let user = super::find_user(&delegate, &user).await?;
            delegate
                .admin()
                .delete_user(&Actor::Operator, user.id)
                .await?;
            Ok(Output::Deleted(DeletedView {
                id: user.id.to_string(),
                deleted: true,
            }))
        }
        UsersCommand::LogoutAll { user } => {
            let delegate = super::connect(config).await?;
            let user = super::find_user(&delegate, &user).await?;
            let revoked = delegate
                .admin()
                .logout_user(&Actor::Operator, user.id)
                .await?;
            Ok(Output::LoggedOut(LoggedOutView { revoked }))
        }
    }
}

/// Applies `change` to the user named on the command line, as the admin API does.
async fn change_user(user: &str, change: AccountChange, config: Config) -> Result<Output> {
    let delegate = super::connect(config).await?;
    let user = super::find_user(&delegate, user).await?;
    let user = delegate
        .admin()
        .change_user(&Actor::Operator, user.id, change)
        .await?;
    Ok(Output::User(user.into()))
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
    let admin = delegate.admin();
    let mut user = delegate.auth().create_account(registration).await?;
    if tier.is_some() || role.is_some() {
        let change = AccountChange {
            tier,
            role,
            disabled: None,
        };
        user = admin.change_user(&Actor::Operator, user.id, change).await?;
    }
    admin.record_created(&Actor::Operator, &user, "cli").await;
    Ok(Output::User(user.into()))
}

async fn list(prefix: Option<String>, args: ListUsers, config: Config) -> Result<Output> {
    let query = UserQuery {
        prefix: prefix.filter(|p| !p.is_empty()),
        tier: args.tier.as_deref().map(str::parse).transpose()?,
        role: args.role.as_deref().map(str::parse).transpose()?,
        disabled: args.disabled,
        after: args.after.as_deref().map(UserId::parse).transpose()?,
        limit: args.limit,
    };
    let delegate = super::connect(config).await?;
    let users = delegate.users().search(query).await?;
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

//! `delegate seed --demo`: an admin, a user and sample chats (refused in production).

use crate::cli::SeedArgs;
use crate::views::{Output, SeedAccountView, SeedView};
use delegate_core::admin::Actor;
use delegate_core::{Config, Error, Result};

/// Runs `seed`.
pub async fn run(args: SeedArgs, config: Config) -> Result<Output> {
    if !args.demo {
        return Err(Error::invalid(
            "demo",
            "only demo data can be seeded: run `delegate seed --demo`",
        ));
    }
    let environment = config.environment;
    let delegate = super::connect(config).await?;
    let report = delegate
        .admin()
        .seed_demo(&Actor::Operator, environment)
        .await?;
    Ok(Output::Seeded(SeedView {
        accounts: report
            .accounts
            .into_iter()
            .map(|a| SeedAccountView {
                email: a.user.email,
                role: a.user.role.to_string(),
                password: a.password,
            })
            .collect(),
        chats: report.chats,
    }))
}

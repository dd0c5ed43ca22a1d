//! `delegate sessions …`: list a user's devices, revoke one, clean up dead ones.

use crate::cli::SessionsCommand;
use crate::views::{Output, RevokedView, SessionListView};
use delegate_core::admin::Actor;
use delegate_core::{Config, LoginSessionId, Result};

/// Runs a `sessions` subcommand.
pub async fn run(command: SessionsCommand, config: Config) -> Result<Output> {
    match command {
        SessionsCommand::List { user } => {
            let delegate = super::connect(config).await?;
            let user = super::find_user(&delegate, &user).await?;
            let sessions = delegate.login_sessions().list(user.id).await?;
            Ok(Output::Sessions(SessionListView::new(sessions)))
        }
        SessionsCommand::Revoke { session_id } => {
            let id = LoginSessionId::parse(session_id.trim())?;
            let delegate = super::connect(config).await?;
            delegate.login_sessions().revoke_any(id).await?;
            Ok(Output::Revoked(RevokedView::new(id)))
        }
        SessionsCommand::Cleanup => {
            let delegate = super::connect(config).await?;
            let report = delegate
                .admin()
                .cleanup_login_sessions(&Actor::Operator)
                .await?;
            Ok(Output::Cleanup(report.into()))
        }
    }
}

//! `delegate transcripts export --user …`: every transcript of a user, for data requests.

use crate::cli::TranscriptsCommand;
use crate::views::Output;
use delegate_core::transcript::ExportFormat;
use delegate_core::{Config, Error, Result};

/// Runs a `transcripts` subcommand.
pub async fn run(command: TranscriptsCommand, config: Config, json: bool) -> Result<Output> {
    let TranscriptsCommand::Export { user, format } = command;
    let default = if json { "json" } else { "markdown" };
    let format: ExportFormat = format.as_deref().unwrap_or(default).parse()?;
    let delegate = super::connect(config).await?;
    let user = super::find_user(&delegate, &user).await?;
    let all = delegate.transcripts().all_of(user.id).await?;
    let text = match format {
        ExportFormat::Json => {
            let documents = all
                .iter()
                .map(|t| {
                    let rendered = format.render(t)?;
                    serde_json::from_str::<serde_json::Value>(&rendered).map_err(|e| {
                        Error::internal("re-reading an exported transcript").with_source(e)
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            serde_json::to_string_pretty(&documents)
                .map_err(|e| Error::internal("printing transcripts").with_source(e))?
                + "\n"
        }
        _ => all
            .iter()
            .map(|t| format.render(t))
            .collect::<Result<Vec<_>>>()?
            .join("\n---\n\n"),
    };
    Ok(Output::Raw(text))
}

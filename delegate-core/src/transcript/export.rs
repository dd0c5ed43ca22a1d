//! Exporting a transcript as Markdown, plain text or JSON.

use super::Transcript;
use crate::error::{Error, Result};
use chrono::SecondsFormat;

/// An export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// Markdown: the title as a heading, tags and dates, then the content.
    Markdown,
    /// Plain text.
    Text,
    /// The transcript as a JSON object.
    Json,
}

crate::text_enum::text_enum!(
    ExportFormat,
    "format",
    Markdown = "markdown",
    Text = "text",
    Json = "json"
);

impl ExportFormat {
    /// The media type of the export.
    pub fn content_type(&self) -> &'static str {
        match self {
            ExportFormat::Markdown => "text/markdown; charset=utf-8",
            ExportFormat::Text => "text/plain; charset=utf-8",
            ExportFormat::Json => "application/json",
        }
    }

    /// The file extension of the export.
    pub fn extension(&self) -> &'static str {
        match self {
            ExportFormat::Markdown => "md",
            ExportFormat::Text => "txt",
            ExportFormat::Json => "json",
        }
    }

    /// `transcript` in this format.
    pub fn render(&self, t: &Transcript) -> Result<String> {
        let created = t.created_at.to_rfc3339_opts(SecondsFormat::Secs, true);
        let updated = t.updated_at.to_rfc3339_opts(SecondsFormat::Secs, true);
        Ok(match self {
            ExportFormat::Markdown => {
                let tags = if t.tags.is_empty() {
                    String::new()
                } else {
                    format!("Tags: {}  \n", t.tags.join(", "))
                };
                format!(
                    "# {}\n\n{tags}Created: {created}  \nUpdated: {updated}  \nSource: {}\n\n{}\n",
                    t.title.replace('\n', " "),
                    t.source.as_str(),
                    t.content
                )
            }
            ExportFormat::Text => format!(
                "{}\n{}\nCreated: {created}\n\n{}\n",
                t.title,
                "=".repeat(t.title.chars().count().clamp(3, 80)),
                t.content
            ),
            ExportFormat::Json => serde_json::to_string_pretty(&serde_json::json!({
                "id": t.id.to_string(),
                "sessionId": t.session_id.map(|s| s.to_string()),
                "title": t.title,
                "content": t.content,
                "tags": t.tags,
                "source": t.source.as_str(),
                "wordCount": t.word_count,
                "createdAt": t.created_at.to_rfc3339_opts(SecondsFormat::Millis, true),
                "updatedAt": t.updated_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            }))
            .map_err(|e| Error::internal("rendering a transcript as JSON").with_source(e))?,
        })
    }

    /// A safe download file name for `t` in this format (letters, digits and `-` only).
    pub fn file_name(&self, t: &Transcript) -> String {
        let mut stem: String = t
            .title
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        stem = stem
            .split('-')
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join("-");
        stem.truncate(60);
        if stem.is_empty() {
            stem = "transcript".to_owned();
        }
        format!("{stem}.{}", self.extension())
    }
}

//! Request and response bodies (camelCase JSON), converted by hand from core types; one file
//! per route group, as in `routes/`.

mod admin;
mod auth;
mod chat;
mod health;
mod transcripts;
mod users;
mod voice;

pub use admin::*;
pub use auth::*;
pub use chat::*;
pub use health::*;
pub use transcripts::*;
pub use users::*;
pub use voice::*;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;

/// RFC 3339 UTC with milliseconds, the wire form of every timestamp.
fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Query of list routes: `?limit=` (default 20, max 100) and `?cursor=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Page size, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// The `nextCursor` of the previous page.
    #[param(format = Uuid)]
    pub cursor: Option<String>,
}

//! Bodies of the health routes.

use serde::Serialize;
use utoipa::ToSchema;

/// GET /health
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthBody {
    /// `ok` when the server answers.
    #[schema(example = "ok")]
    pub status: &'static str,
}

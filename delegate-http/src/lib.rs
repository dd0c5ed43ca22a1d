//! Delegate's REST server: [`router`] for hosts that mount Delegate in their own axum app,
//! [`serve`] and [`run`] for the bundled server, and the [`AuthUser`] extractor.

mod cors;
mod edge;
mod error;
mod extract;
mod openapi;
mod ratelimit;
mod routes;
mod server;
mod wire;

pub use error::ApiError;
pub use extract::{ApiJson, ApiPath, ApiQuery, AuthUser};
pub use routes::router;
pub use server::{init_tracing, run, serve};

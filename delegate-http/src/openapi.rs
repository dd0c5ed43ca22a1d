//! The OpenAPI document (/openapi.json) and Swagger UI (/docs), served from the binary.

use crate::error::{ErrorBody, ErrorDetail};
use crate::routes::{auth, chat, health, users};
use crate::wire;
use axum::Router;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

/// Delegate's API description.
#[derive(OpenApi)]
#[openapi(
    info(title = "Delegate API", description = "Backend kernel for AI-assistant products."),
    paths(
        health::health,
        auth::register,
        auth::login,
        auth::refresh,
        auth::logout,
        auth::logout_all,
        auth::me,
        auth::list_sessions,
        auth::revoke_session,
        auth::change_password,
        users::profile,
        users::update_profile,
        users::update_preferences,
        users::usage,
        chat::list_sessions,
        chat::create_session,
        chat::get_session,
        chat::rename_session,
        chat::delete_session,
        chat::list_messages,
        chat::send_message,
    ),
    components(schemas(
        ErrorBody, ErrorDetail, wire::RegisterRequest, wire::LoginRequest, wire::ChangePasswordRequest, wire::RefreshRequest,
        wire::DeviceInput, wire::UserBody, wire::DeviceBody, wire::LoginSessionBody,
        wire::TokenBody, wire::AuthResultBody, wire::MeBody, wire::SessionListBody,
        wire::RevokedBody, wire::HealthBody, wire::ProfileUpdateRequest,
        wire::CreateSessionRequest, wire::RenameSessionRequest, wire::SendMessageRequest,
        wire::ChatSessionBody, wire::MessageBody, wire::TokenUsageBody, wire::ChatSessionPage,
        wire::MessagePage, wire::SentBody, wire::UsageBody, wire::MeteredBody,
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Accounts, tokens and login sessions"),
        (name = "users", description = "The caller's profile, preferences and usage"),
        (name = "chat", description = "Chat sessions and messages with streamed AI replies"),
        (name = "operations", description = "Health and documentation"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// `/openapi.json` and the vendored Swagger UI at `/docs`.
pub(crate) fn routes() -> Router {
    SwaggerUi::new("/docs")
        .url("/openapi.json", ApiDoc::openapi())
        .into()
}

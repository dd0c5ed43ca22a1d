//! The OpenAPI document (/openapi.json) and Swagger UI (/docs), served from the binary.

use crate::error::{ErrorBody, ErrorDetail};
use crate::routes::{admin, auth, chat, health, realtime, transcripts, users, voice};
use crate::wire;
use axum::Router;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

/// Delegate's API description.
#[derive(OpenApi)]
#[openapi(
    info(title = "Delegate API", description = "Backend kernel for AI-assistant products."),
    paths(
        health::health,
        health::ready,
        health::detailed,
        crate::metrics::render,
        auth::register,
        auth::login,
        auth::refresh,
        auth::logout,
        auth::logout_all,
        auth::me,
        auth::list_login_sessions,
        auth::revoke_login_session,
        auth::change_password,
        users::profile,
        users::update_profile,
        users::update_preferences,
        users::usage,
        chat::list_chat_sessions,
        chat::create_chat_session,
        chat::get_chat_session,
        chat::rename_chat_session,
        chat::delete_chat_session,
        chat::list_messages,
        chat::send_message,
        chat::resume_reply,
        transcripts::list_transcripts,
        transcripts::create_transcript,
        transcripts::search_transcripts,
        transcripts::get_transcript,
        transcripts::update_transcript,
        transcripts::delete_transcript,
        transcripts::export_transcript,
        voice::transcribe,
        voice::synthesize,
        voice::process,
        voice::voices,
        voice::usage,
        realtime::connect,
        admin::cleanup_login_sessions,
        admin::list_users,
        admin::show_user,
        admin::change_user,
        admin::logout_user,
        admin::delete_user,
        admin::audit,
        admin::cache_stats,
        admin::clear_cache,
        admin::notify,
    ),
    components(schemas(
        ErrorBody, ErrorDetail, wire::RegisterRequest, wire::LoginRequest, wire::ChangePasswordRequest, wire::RefreshRequest,
        wire::DeviceInput, wire::UserBody, wire::DeviceBody, wire::LoginSessionBody,
        wire::TokenBody, wire::AuthResultBody, wire::MeBody, wire::LoginSessionPage,
        wire::RevokedBody, wire::HealthBody, wire::HealthDetailBody, wire::HealthCheckBody, wire::ProfileUpdateRequest,
        wire::CreateChatSessionRequest, wire::RenameChatSessionRequest, wire::SendMessageRequest,
        wire::ChatSessionBody, wire::MessageBody, wire::TokenUsageBody, wire::ChatSessionPage,
        wire::MessagePage, wire::SentBody, wire::UsageBody, wire::MeteredBody, wire::CleanupBody,
        wire::AdminUserBody, wire::AdminUserPage, wire::AdminUserDetailBody,
        wire::AccountChangeRequest, wire::AuditActorBody, wire::AuditEventBody, wire::AuditPage,
        wire::CacheNamespaceBody, wire::CacheLayerBody, wire::CacheStatsBody,
        wire::CacheClearRequest, wire::CacheClearBody, wire::NotifyRequest, wire::NotifiedBody,
        wire::TagName, wire::CreateTranscriptRequest, wire::UpdateTranscriptRequest,
        wire::TranscriptBody, wire::TranscriptSummaryBody, wire::TranscriptPage,
        wire::SearchHitBody, wire::SearchPage,
        wire::SynthesizeRequest, wire::SpeechFormatName, wire::TranscribeForm, wire::ProcessForm, wire::TranscriptionBody,
        wire::AudioBody, wire::ProcessBody, wire::VoiceBody, wire::VoiceList, wire::VoiceUsageBody,
    )),
    modifiers(&BearerAuth, &EdgeResponses),
    tags(
        (name = "auth", description = "Accounts, tokens and login sessions"),
        (name = "users", description = "The caller's profile, preferences and usage"),
        (name = "chat", description = "Chat sessions and messages with streamed AI replies"),
        (name = "transcripts", description = "Saved transcripts with ranked full-text search"),
        (name = "realtime", description = "The caller's events over a WebSocket"),
        (name = "voice", description = "Speech to text, text to speech and voice turns, metered in seconds of audio"),
        (name = "operations", description = "Health and documentation"),
        (name = "admin", description = "Operator actions (role admin)"),
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

/// The answers the edge can give on any route, added where a route does not list them: 503
/// (shed or timed out) everywhere; 429 on the API; 400 and 401 where a token is read; 400,
/// 413, 415 and 422 where a body is; 400 where a query string is.
struct EdgeResponses;

impl EdgeResponses {
    fn add(operation: &mut Operation, status: &str, description: &str) {
        if operation.responses.responses.contains_key(status) {
            return;
        }
        let error = Ref::from_schema_name("ErrorBody");
        let response = ResponseBuilder::new()
            .description(description)
            .content("application/json", Content::new(Some(error)))
            .build();
        operation
            .responses
            .responses
            .insert(status.to_owned(), response.into());
    }
}

impl Modify for EdgeResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let api = path.starts_with("/api/");
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ];
            for operation in operations.into_iter().flatten() {
                Self::add(
                    operation,
                    "503",
                    "Shed (`overloaded`) or timed out (`request_timeout`); see Retry-After",
                );
                if api {
                    Self::add(
                        operation,
                        "429",
                        "Rate limited (`rate_limited`); see Retry-After",
                    );
                }
                if operation.security.is_some() {
                    Self::add(operation, "401", "Missing, invalid or revoked token");
                    Self::add(
                        operation,
                        "400",
                        "Credentials given twice (`ambiguous_credentials`)",
                    );
                }
                if operation.request_body.is_some() {
                    Self::add(operation, "400", "Malformed JSON or a missing body");
                    Self::add(operation, "413", "Body larger than the limit");
                    Self::add(operation, "415", "Body not declared as JSON");
                    Self::add(
                        operation,
                        "422",
                        "A field of the wrong type or value (`field` names it)",
                    );
                }
                let has_query = operation.parameters.iter().flatten().any(|p| {
                    matches!(p, utoipa::openapi::RefOr::T(p)
                        if p.parameter_in == utoipa::openapi::path::ParameterIn::Query)
                });
                if has_query {
                    Self::add(
                        operation,
                        "400",
                        "A query parameter that does not parse (`invalid_query`)",
                    );
                    Self::add(
                        operation,
                        "422",
                        "A limit out of range or a cursor this API did not give",
                    );
                }
            }
        }
    }
}

/// `/openapi.json` and the vendored Swagger UI at `/docs`. The document names the chat
/// models this server's tiers may use, and the voices and speech formats it offers.
pub(crate) fn routes(models: &[String], voices: &[String], formats: &[String]) -> Router {
    let mut doc = ApiDoc::openapi();
    restrict(&mut doc, "CreateChatSessionRequest", "model", models);
    restrict(&mut doc, "SynthesizeRequest", "voice", voices);
    restrict(&mut doc, "ProcessForm", "voice", voices);
    if let Some(utoipa::openapi::RefOr::T(utoipa::openapi::Schema::Object(names))) = doc
        .components
        .as_mut()
        .and_then(|c| c.schemas.get_mut("SpeechFormatName"))
        && !formats.is_empty()
    {
        names.enum_values = Some(formats.iter().map(|f| f.as_str().into()).collect());
    }
    SwaggerUi::new("/docs").url("/openapi.json", doc).into()
}

/// Lists `values` (or null) as the `enum` of the optional string `property` of `schema`.
fn restrict(doc: &mut utoipa::openapi::OpenApi, schema: &str, property: &str, values: &[String]) {
    use utoipa::openapi::{RefOr, Schema};
    let schemas = doc.components.as_mut().map(|c| &mut c.schemas);
    let Some(RefOr::T(Schema::Object(request))) = schemas.and_then(|s| s.get_mut(schema)) else {
        return;
    };
    if let Some(RefOr::T(Schema::Object(field))) = request.properties.get_mut(property) {
        let mut values: Vec<serde_json::Value> = values.iter().map(|m| m.as_str().into()).collect();
        values.push(serde_json::Value::Null);
        field.enum_values = Some(values);
        field.pattern = None;
    }
}

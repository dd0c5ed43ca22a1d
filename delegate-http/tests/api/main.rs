//! HTTP API tests: each test spawns the real server on a random loopback port.

mod admin;
mod admin_users;
mod auth_flow;
mod bodies;
mod chat;
mod chat_limits;
mod docs;
mod edge;
mod health;
mod helpers;
mod limits;
mod metrics;
mod outage;
mod passwords;
mod postgres_server;
mod realtime;
mod redis_server;
mod scaleout;
mod server;
mod sessions;
mod socketio;
mod tokens;
mod transcripts;
mod users;
mod voice;

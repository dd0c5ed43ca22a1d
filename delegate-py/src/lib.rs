//! `delegate._native`, the Rust half of `import delegate`: [`open`] a Delegate (embedded, or
//! on PostgreSQL + Redis, configured as the server is), then its services as awaitables.
//! Thin adapters over delegate-core: each method is one core call.

mod admin;
mod auth;
mod bridge;
mod chat;
mod error;
mod realtime;
mod transcripts;
mod types;
mod users;
mod voice;

use delegate_core::Config;
use pyo3::prelude::*;
use std::path::PathBuf;
use std::sync::RwLock;

/// An open Delegate: `d.auth`, `d.chat`; `async with d:` closes it at the end.
#[pyclass(frozen, module = "delegate", name = "Delegate")]
struct Handle {
    core: RwLock<Option<delegate_core::Delegate>>,
}

impl Handle {
    fn core(&self) -> PyResult<delegate_core::Delegate> {
        self.core
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or_else(bridge::closed)
    }
}

#[pymethods]
impl Handle {
    /// Accounts and login sessions.
    #[getter]
    fn auth(&self) -> PyResult<auth::Auth> {
        Ok(auth::Auth { core: self.core()? })
    }

    /// Profiles, preferences and usage.
    #[getter]
    fn users(&self) -> PyResult<users::Users> {
        Ok(users::Users { core: self.core()? })
    }

    /// Transcripts: saved, listed, searched, exported.
    #[getter]
    fn transcripts(&self) -> PyResult<transcripts::Transcripts> {
        Ok(transcripts::Transcripts { core: self.core()? })
    }

    /// Operator actions (users, tiers, roles, cache, cleanup, audit), taken by an admin
    /// caller or `delegate.OPERATOR`.
    #[getter]
    fn admin(&self) -> PyResult<admin::Admin> {
        Ok(admin::Admin { core: self.core()? })
    }

    /// Speech to text and text to speech.
    #[getter]
    fn voice(&self) -> PyResult<voice::Voice> {
        Ok(voice::Voice { core: self.core()? })
    }

    /// Application events to users' live connections.
    #[getter]
    fn realtime(&self) -> PyResult<realtime::Realtime> {
        Ok(realtime::Realtime { core: self.core()? })
    }

    /// Chat sessions, messages and streamed replies.
    #[getter]
    fn chat(&self) -> PyResult<chat::Chat> {
        Ok(chat::Chat { core: self.core()? })
    }

    /// Closes it: later calls raise `RuntimeError` (an awaitable, for symmetry with open).
    fn close<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let core = self.core.write().unwrap_or_else(|e| e.into_inner()).take();
        bridge::spawn(py, async move {
            drop(core);
            Ok(())
        })
    }

    fn __aenter__<'py>(slf: Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let me = slf.unbind();
        bridge::spawn(py, async move { Ok(me) })
    }

    #[pyo3(signature = (*_exc))]
    fn __aexit__<'py>(
        &self,
        py: Python<'py>,
        _exc: &Bound<'py, pyo3::types::PyTuple>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.close(py)
    }
}

/// Opens a Delegate configured as the server is (environment variables, an optional TOML
/// file), with `database_url` and `redis_url` overriding theirs: embedded (SQLite or memory,
/// no Redis) by default.
#[pyfunction]
#[pyo3(signature = (database_url = None, redis_url = None, config_file = None))]
fn open(
    py: Python<'_>,
    database_url: Option<String>,
    redis_url: Option<String>,
    config_file: Option<PathBuf>,
) -> PyResult<Bound<'_, PyAny>> {
    bridge::spawn(py, async move {
        let mut config = Config::load(config_file.as_deref()).map_err(error::to_py)?;
        if let Some(url) = database_url {
            config.database_url = url;
        }
        if let Some(url) = redis_url {
            config.redis_url = url;
        }
        let core = delegate_core::Delegate::connect(config)
            .await
            .map_err(error::to_py)?;
        Ok(Handle {
            core: RwLock::new(Some(core)),
        })
    })
}

/// The module.
#[pymodule(name = "_native")]
fn native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(open, m)?)?;
    m.add_function(wrap_pyfunction!(bridge::shutdown, m)?)?;
    m.add_class::<Handle>()?;
    m.add_class::<auth::Auth>()?;
    m.add_class::<chat::Chat>()?;
    m.add_class::<chat::ReplyStream>()?;
    m.add_class::<types::Caller>()?;
    m.add_class::<types::User>()?;
    m.add_class::<types::SignedIn>()?;
    m.add_class::<types::Tokens>()?;
    m.add_class::<types::ChatSession>()?;
    m.add_class::<types::Message>()?;
    m.add_class::<types::ReplyEvent>()?;
    m.add_class::<types::Exchange>()?;
    m.add_class::<types::MessagePage>()?;
    m.add_class::<types::LoginSession>()?;
    m.add_class::<types::Usage>()?;
    m.add_class::<users::Users>()?;
    m.add_class::<transcripts::Transcripts>()?;
    m.add_class::<realtime::Realtime>()?;
    m.add_class::<admin::Admin>()?;
    m.add_class::<voice::Voice>()?;
    m.add_class::<types::Heard>()?;
    m.add_class::<types::Spoken>()?;
    m.add_class::<types::VoiceUsage>()?;
    m.add_class::<admin::Operator>()?;
    m.add("OPERATOR", admin::Operator)?;
    m.add_class::<types::UserPage>()?;
    m.add_class::<types::UserDetail>()?;
    m.add_class::<types::Cleanup>()?;
    m.add_class::<types::AuditEvent>()?;
    m.add_class::<types::AuditPage>()?;
    m.add_class::<types::CacheLayer>()?;
    m.add_class::<types::CacheNamespace>()?;
    m.add_class::<types::ChatSessionPage>()?;
    m.add_class::<types::Transcript>()?;
    m.add_class::<types::TranscriptPage>()?;
    m.add_class::<types::SearchHit>()?;
    m.add_class::<types::SearchPage>()?;
    m.add_class::<types::Export>()?;
    Ok(())
}

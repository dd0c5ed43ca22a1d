//! `d.transcripts`: the caller's transcripts (from a chat or their own text), pages filtered
//! by tag and time, changes, ranked full-text search and exports.

use crate::bridge::spawn;
use crate::error::to_py;
use crate::types::{Caller, Export, SearchHit, SearchPage, Transcript, TranscriptPage};
use chrono::{DateTime, Utc};
use delegate_core::transcript::{ExportFormat, TranscriptChange, TranscriptFilter};
use delegate_core::{ChatSessionId, Delegate, Error, TranscriptId};
use pyo3::prelude::*;

/// Transcripts.
#[pyclass(frozen, module = "delegate")]
pub(crate) struct Transcripts {
    pub(crate) core: Delegate,
}

/// A transcript id from Python: a malformed one is the same `NotFound` as an unknown one.
fn transcript_id(id: &str) -> PyResult<TranscriptId> {
    TranscriptId::parse(id).map_err(|_| to_py(Error::NotFound("transcript")))
}

#[pymethods]
impl Transcripts {
    /// Saves a transcript of the caller's own text.
    #[pyo3(signature = (caller, *, title, content, tags = Vec::new()))]
    fn create<'py>(
        &self,
        py: Python<'py>,
        caller: PyRef<'_, Caller>,
        title: String,
        content: String,
        tags: Vec<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (service, context) = (self.core.transcripts(), caller.context.clone());
        spawn(py, async move {
            let t = service
                .create_manual(&context, &title, &content, tags)
                .await
                .map_err(to_py)?;
            Ok(Transcript::from(&t))
        })
    }

    /// Saves a transcript of one of the caller's chats: every message, speaker-labelled.
    #[pyo3(signature = (caller, session_id, *, title = None, tags = Vec::new()))]
    fn create_from_chat<'py>(
        &self,
        py: Python<'py>,
        caller: PyRef<'_, Caller>,
        session_id: &str,
        title: Option<String>,
        tags: Vec<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (service, context) = (self.core.transcripts(), caller.context.clone());
        let session =
            ChatSessionId::parse(session_id).map_err(|_| to_py(Error::NotFound("chat session")))?;
        spawn(py, async move {
            let t = service
                .create_from_chat(&context, session, title, tags)
                .await
                .map_err(to_py)?;
            Ok(Transcript::from(&t))
        })
    }

    /// A page of the caller's transcripts, newest first, optionally of one tag and made in
    /// `[since, until]`.
    #[pyo3(signature = (caller, *, tag = None, since = None, until = None, cursor = None, limit = 20))]
    #[allow(clippy::too_many_arguments)]
    fn list<'py>(
        &self,
        py: Python<'py>,
        caller: PyRef<'_, Caller>,
        tag: Option<String>,
        since: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
        cursor: Option<String>,
        limit: u32,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (service, context) = (self.core.transcripts(), caller.context.clone());
        spawn(py, async move {
            let filter = TranscriptFilter {
                tag,
                from: since,
                to: until,
                ..TranscriptFilter::default()
            };
            let page = service
                .list(&context, filter, cursor.as_deref(), limit)
                .await
                .map_err(to_py)?;
            Ok(TranscriptPage {
                items: page.items.iter().map(Transcript::from).collect(),
                next_cursor: page.next_cursor,
            })
        })
    }

    /// One of the caller's transcripts (`NotFound` for anyone else's).
    fn get<'py>(
        &self,
        py: Python<'py>,
        caller: PyRef<'_, Caller>,
        id: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (service, user, id) = (
            self.core.transcripts(),
            caller.context.user_id,
            transcript_id(id)?,
        );
        spawn(py, async move {
            let t = service.get(user, id).await.map_err(to_py)?;
            Ok(Transcript::from(&t))
        })
    }

    /// Changes a transcript's title, content or tags (what is given).
    #[pyo3(signature = (caller, id, *, title = None, content = None, tags = None))]
    fn update<'py>(
        &self,
        py: Python<'py>,
        caller: PyRef<'_, Caller>,
        id: &str,
        title: Option<String>,
        content: Option<String>,
        tags: Option<Vec<String>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (service, user, id) = (
            self.core.transcripts(),
            caller.context.user_id,
            transcript_id(id)?,
        );
        spawn(py, async move {
            let change = TranscriptChange {
                title,
                content,
                tags,
            };
            let t = service.update(user, id, change).await.map_err(to_py)?;
            Ok(Transcript::from(&t))
        })
    }

    /// Deletes one of the caller's transcripts.
    fn delete<'py>(
        &self,
        py: Python<'py>,
        caller: PyRef<'_, Caller>,
        id: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (service, user, id) = (
            self.core.transcripts(),
            caller.context.user_id,
            transcript_id(id)?,
        );
        spawn(
            py,
            async move { service.delete(user, id).await.map_err(to_py) },
        )
    }

    /// Ranked full-text search over the caller's transcripts (the query language of the HTTP
    /// API: words, "phrases", -exclusions, OR, prefix*).
    #[pyo3(signature = (caller, q, *, tag = None, cursor = None, limit = 20))]
    fn search<'py>(
        &self,
        py: Python<'py>,
        caller: PyRef<'_, Caller>,
        q: String,
        tag: Option<String>,
        cursor: Option<String>,
        limit: u32,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (service, user) = (self.core.transcripts(), caller.context.user_id);
        spawn(py, async move {
            let page = service
                .search(user, &q, tag.as_deref(), cursor.as_deref(), limit)
                .await
                .map_err(to_py)?;
            Ok(SearchPage {
                items: page.items.iter().map(SearchHit::from).collect(),
                next_cursor: page.next_cursor,
            })
        })
    }

    /// A transcript rendered as `markdown`, `text` or `json`: its body, file name and
    /// content type.
    #[pyo3(signature = (caller, id, format = "markdown"))]
    fn export<'py>(
        &self,
        py: Python<'py>,
        caller: PyRef<'_, Caller>,
        id: &str,
        format: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (service, user, id) = (
            self.core.transcripts(),
            caller.context.user_id,
            transcript_id(id)?,
        );
        let format: ExportFormat = format.parse().map_err(to_py)?;
        spawn(py, async move {
            let (body, file_name, content_type) =
                service.export(user, id, format).await.map_err(to_py)?;
            Ok(Export {
                body,
                file_name,
                content_type,
            })
        })
    }
}

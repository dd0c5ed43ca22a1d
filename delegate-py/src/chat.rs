//! `d.chat`: chat sessions and messages, `send` (the stored exchange) and `stream` (an async
//! iterator of the reply's events; leaving the loop early cancels the reply as a client that
//! disconnects does).

use crate::bridge::{runtime, spawn};
use crate::error::to_py;
use crate::types::{
    Caller, ChatSession, ChatSessionPage, Exchange, Message, MessagePage, ReplyEvent,
};
use delegate_core::chat::{NewChatSession, Reply, ReplyEvent as CoreEvent};
use delegate_core::{AuthContext, ChatSessionId, Delegate};
use futures::StreamExt;
use pyo3::exceptions::PyStopAsyncIteration;
use pyo3::prelude::*;
use std::sync::Arc;
use tokio::sync::Mutex;

/// Chat sessions and messages.
#[pyclass(frozen, module = "delegate")]
pub(crate) struct Chat {
    pub(crate) core: Delegate,
}

/// A chat session id from Python: any malformed one is the same `NotFound` as an unknown one.
fn session_id(id: &str) -> PyResult<ChatSessionId> {
    ChatSessionId::parse(id).map_err(|_| to_py(delegate_core::Error::NotFound("chat session")))
}

#[pymethods]
impl Chat {
    /// Creates a chat session for the caller.
    #[pyo3(signature = (caller, *, title = None, model = None, system_prompt = None))]
    fn create_session<'py>(
        &self,
        py: Python<'py>,
        caller: PyRef<'_, Caller>,
        title: Option<String>,
        model: Option<String>,
        system_prompt: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (chat, context) = (self.core.chat(), caller.context.clone());
        spawn(py, async move {
            let new = NewChatSession {
                title,
                model,
                system_prompt,
            };
            let session = chat
                .create_chat_session(&context, new)
                .await
                .map_err(to_py)?;
            Ok(ChatSession::from(session))
        })
    }

    /// A page of the caller's chat sessions, newest first: a `ChatSessionPage`.
    #[pyo3(signature = (caller, *, cursor = None, limit = 20))]
    fn sessions<'py>(
        &self,
        py: Python<'py>,
        caller: PyRef<'_, Caller>,
        cursor: Option<String>,
        limit: u32,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (chat, user) = (self.core.chat(), caller.context.user_id);
        spawn(py, async move {
            let page = chat
                .list_chat_sessions(user, cursor.as_deref(), limit)
                .await
                .map_err(to_py)?;
            Ok(ChatSessionPage {
                items: page.items.into_iter().map(ChatSession::from).collect(),
                next_cursor: page.next_cursor,
            })
        })
    }

    /// One of the caller's chat sessions (`NotFound` for anyone else's).
    fn get_session<'py>(
        &self,
        py: Python<'py>,
        caller: PyRef<'_, Caller>,
        session_id: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (chat, user, id) = (
            self.core.chat(),
            caller.context.user_id,
            self::session_id(session_id)?,
        );
        spawn(py, async move {
            let session = chat.get_chat_session(user, id).await.map_err(to_py)?;
            Ok(ChatSession::from(session))
        })
    }

    /// Renames one of the caller's chat sessions.
    #[pyo3(signature = (caller, session_id, *, title))]
    fn rename_session<'py>(
        &self,
        py: Python<'py>,
        caller: PyRef<'_, Caller>,
        session_id: &str,
        title: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (chat, user, id) = (
            self.core.chat(),
            caller.context.user_id,
            self::session_id(session_id)?,
        );
        spawn(py, async move {
            let session = chat
                .rename_chat_session(user, id, &title)
                .await
                .map_err(to_py)?;
            Ok(ChatSession::from(session))
        })
    }

    /// Deletes one of the caller's chat sessions and its messages.
    fn delete_session<'py>(
        &self,
        py: Python<'py>,
        caller: PyRef<'_, Caller>,
        session_id: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (chat, user, id) = (
            self.core.chat(),
            caller.context.user_id,
            self::session_id(session_id)?,
        );
        spawn(py, async move {
            chat.delete_chat_session(user, id).await.map_err(to_py)
        })
    }

    /// A page of the session's messages, oldest first: a `MessagePage` (`items`,
    /// `next_cursor` to pass as `cursor` for the next page, `None` on the last).
    #[pyo3(signature = (caller, session_id, *, cursor = None, limit = 20))]
    fn messages<'py>(
        &self,
        py: Python<'py>,
        caller: PyRef<'_, Caller>,
        session_id: &str,
        cursor: Option<String>,
        limit: u32,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (chat, user, id) = (
            self.core.chat(),
            caller.context.user_id,
            self::session_id(session_id)?,
        );
        spawn(py, async move {
            let page = chat
                .list_messages(user, id, cursor.as_deref(), limit)
                .await
                .map_err(to_py)?;
            Ok(MessagePage {
                items: page.items.iter().map(Message::from).collect(),
                next_cursor: page.next_cursor,
            })
        })
    }

    /// Sends `content` and waits for the whole reply: an `Exchange` of the two stored
    /// messages (a reply that failed raises, after both were stored).
    fn send<'py>(
        &self,
        py: Python<'py>,
        caller: PyRef<'_, Caller>,
        session_id: &str,
        content: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (chat, context, id) = (
            self.core.chat(),
            caller.context.clone(),
            self::session_id(session_id)?,
        );
        spawn(py, async move {
            let sent = chat
                .send_message(&context, id, &content)
                .await
                .map_err(to_py)?;
            let reply = sent.reply.collect().await.map_err(|(_, e)| to_py(e))?;
            Ok(Exchange {
                user_message: Message::from(&sent.user_message),
                assistant_message: Message::from(&reply),
            })
        })
    }

    /// Sends `content` and streams the reply: `async for event in d.chat.stream(...)` yields
    /// `delta` events, then `done` or `error`. The message is sent on the first iteration.
    fn stream(
        &self,
        caller: PyRef<'_, Caller>,
        session_id: &str,
        content: String,
    ) -> PyResult<ReplyStream> {
        let state = State::Unsent {
            core: self.core.clone(),
            caller: caller.context.clone(),
            session: self::session_id(session_id)?,
            content,
        };
        Ok(ReplyStream {
            state: Arc::new(Mutex::new(state)),
        })
    }
}

/// Where a streamed reply stands.
enum State {
    /// Not sent yet.
    Unsent {
        core: Delegate,
        caller: AuthContext,
        session: ChatSessionId,
        content: String,
    },
    /// Streaming (boxed: a reply is large beside the other states).
    Streaming(Box<Reply>),
    /// Ended (or closed).
    Ended,
}

/// The events of a reply, as an async iterator.
#[pyclass(module = "delegate")]
pub(crate) struct ReplyStream {
    state: Arc<Mutex<State>>,
}

#[pymethods]
impl ReplyStream {
    fn __aiter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __anext__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let state = self.state.clone();
        spawn(py, async move {
            let mut state = state.lock().await;
            if let State::Unsent { .. } = &*state {
                let State::Unsent {
                    core,
                    caller,
                    session,
                    content,
                } = std::mem::replace(&mut *state, State::Ended)
                else {
                    unreachable!("matched above")
                };
                let sent = core
                    .chat()
                    .send_message(&caller, session, &content)
                    .await
                    .map_err(to_py)?;
                *state = State::Streaming(Box::new(sent.reply));
            }
            let State::Streaming(reply) = &mut *state else {
                return Err(PyStopAsyncIteration::new_err(()));
            };
            let event = reply.next().await;
            match event {
                Some(CoreEvent::Delta(text)) => Ok(ReplyEvent {
                    r#type: "delta",
                    text,
                    message: None,
                    code: None,
                }),
                Some(CoreEvent::Done(message)) => Ok(ReplyEvent {
                    r#type: "done",
                    text: message.content.clone(),
                    message: Some(Message::from(&message)),
                    code: None,
                }),
                Some(CoreEvent::Failed(message, error)) => Ok(ReplyEvent {
                    r#type: "error",
                    text: message.content.clone(),
                    message: Some(Message::from(&message)),
                    code: Some(error.code()),
                }),
                None => Err(PyStopAsyncIteration::new_err(())),
            }
        })
    }

    /// Ends the reply now if it is still streaming (stored as `cancelled`), as leaving the
    /// loop does.
    fn aclose<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let state = self.state.clone();
        spawn(py, async move {
            *state.lock().await = State::Ended;
            Ok(())
        })
    }
}

impl Drop for ReplyStream {
    fn drop(&mut self) {
        // Dropping a reply mid-stream stores it as cancelled, from a task: give it the runtime.
        let _runtime = runtime().enter();
        if let Ok(mut state) = self.state.try_lock() {
            *state = State::Ended;
        }
    }
}

//! `d.auth`: accounts and login sessions (register, login, refresh, verify, logout), each an
//! awaitable over the core's `AuthService`.

use crate::bridge::spawn;
use crate::error::to_py;
use crate::types::{Caller, LoginSession, SignedIn, Tokens};
use delegate_core::{Credentials, Delegate, Error, LoginSessionId, Registration};
use pyo3::prelude::*;

/// Accounts and login sessions.
#[pyclass(frozen, module = "delegate")]
pub(crate) struct Auth {
    pub(crate) core: Delegate,
}

#[pymethods]
impl Auth {
    /// Creates an account and logs it in: a `SignedIn`.
    #[pyo3(signature = (*, email, password, name = None))]
    fn register<'py>(
        &self,
        py: Python<'py>,
        email: String,
        password: String,
        name: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let auth = self.core.auth();
        spawn(py, async move {
            let mut registration = Registration::new(email, password);
            if let Some(name) = name {
                registration = registration.with_name(name);
            }
            let signed = auth.register(registration).await.map_err(to_py)?;
            Ok(SignedIn::from(signed))
        })
    }

    /// Logs in with an email and password: a `SignedIn` (a new login session).
    #[pyo3(signature = (*, email, password))]
    fn login<'py>(
        &self,
        py: Python<'py>,
        email: String,
        password: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let auth = self.core.auth();
        spawn(py, async move {
            let signed = auth
                .login(Credentials::new(email, password))
                .await
                .map_err(to_py)?;
            Ok(SignedIn::from(signed))
        })
    }

    /// Spends a refresh token for a new pair (`Tokens`); presenting a spent one again ends
    /// the whole login session.
    fn refresh<'py>(&self, py: Python<'py>, refresh_token: String) -> PyResult<Bound<'py, PyAny>> {
        let auth = self.core.auth();
        spawn(py, async move {
            let pair = auth.refresh(&refresh_token).await.map_err(to_py)?;
            Ok(Tokens::from(pair))
        })
    }

    /// The caller an access token speaks for (checked strictly: signature, expiry, a live
    /// login session); no I/O once the session is known.
    fn verify<'py>(&self, py: Python<'py>, access_token: String) -> PyResult<Bound<'py, PyAny>> {
        let auth = self.core.auth();
        spawn(py, async move {
            let context = auth.authenticate(&access_token).await.map_err(to_py)?;
            Ok(Caller { context })
        })
    }

    /// Ends the caller's login session (its tokens stop working at once).
    fn logout<'py>(
        &self,
        py: Python<'py>,
        caller: PyRef<'_, Caller>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (auth, context) = (self.core.auth(), caller.context.clone());
        spawn(
            py,
            async move { auth.logout(&context).await.map_err(to_py) },
        )
    }

    /// Ends every login session of the caller's account; how many were live.
    fn logout_all<'py>(
        &self,
        py: Python<'py>,
        caller: PyRef<'_, Caller>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (auth, context) = (self.core.auth(), caller.context.clone());
        spawn(
            py,
            async move { auth.logout_all(&context).await.map_err(to_py) },
        )
    }

    /// The caller's live login sessions (devices), newest first, the caller's own flagged
    /// `current`.
    fn sessions<'py>(
        &self,
        py: Python<'py>,
        caller: PyRef<'_, Caller>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (sessions, context) = (self.core.login_sessions(), caller.context.clone());
        spawn(py, async move {
            let live = sessions.list(context.user_id).await.map_err(to_py)?;
            Ok(live
                .iter()
                .map(|s| LoginSession::of(s, context.session_id))
                .collect::<Vec<_>>())
        })
    }

    /// Ends one of the caller's login sessions (another device's, or their own);
    /// `NotFound` for anyone else's.
    fn revoke_session<'py>(
        &self,
        py: Python<'py>,
        caller: PyRef<'_, Caller>,
        session_id: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (sessions, user) = (self.core.login_sessions(), caller.context.user_id);
        let id =
            LoginSessionId::parse(session_id).map_err(|_| to_py(Error::NotFound("session")))?;
        spawn(
            py,
            async move { sessions.revoke(user, id).await.map_err(to_py) },
        )
    }

    /// Changes the caller's password (`current` must be it); every other login session ends.
    /// How many ended.
    #[pyo3(signature = (caller, *, current, new))]
    fn change_password<'py>(
        &self,
        py: Python<'py>,
        caller: PyRef<'_, Caller>,
        current: String,
        new: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (auth, context) = (self.core.auth(), caller.context.clone());
        spawn(py, async move {
            auth.change_password(&context, &current, &new)
                .await
                .map_err(to_py)
        })
    }
}

//! `d.users`: the caller's profile, preferences and usage.

use crate::bridge::spawn;
use crate::error::to_py;
use crate::types::{Caller, Usage, User};
use delegate_core::{Delegate, Error};
use pyo3::prelude::*;

/// Profiles, preferences and usage.
#[pyclass(frozen, module = "delegate")]
pub(crate) struct Users {
    pub(crate) core: Delegate,
}

#[pymethods]
impl Users {
    /// The caller's profile (served from the cache).
    fn profile<'py>(
        &self,
        py: Python<'py>,
        caller: PyRef<'_, Caller>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (users, id) = (self.core.users(), caller.context.user_id);
        spawn(py, async move {
            let user = users.get(id).await.map_err(to_py)?;
            Ok(User::from(&user))
        })
    }

    /// Changes the caller's name and avatar URL (`avatar_url=""` clears it); the profile.
    #[pyo3(signature = (caller, *, name = None, avatar_url = None))]
    fn update_profile<'py>(
        &self,
        py: Python<'py>,
        caller: PyRef<'_, Caller>,
        name: Option<String>,
        avatar_url: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (users, id) = (self.core.users(), caller.context.user_id);
        let avatar = avatar_url.map(|url| (!url.is_empty()).then_some(url));
        spawn(py, async move {
            let user = users
                .update_profile(id, name, avatar)
                .await
                .map_err(to_py)?;
            Ok(User::from(&user))
        })
    }

    /// Merges `patch` (a dict, JSON-serializable) into the caller's preferences; the profile.
    fn merge_preferences<'py>(
        &self,
        py: Python<'py>,
        caller: PyRef<'_, Caller>,
        patch: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (users, id) = (self.core.users(), caller.context.user_id);
        let text: String = py
            .import("json")?
            .call_method1("dumps", (patch,))?
            .extract()?;
        let patch = serde_json::from_str(&text)
            .map_err(|_| to_py(Error::invalid("preferences", "must be a JSON object")))?;
        spawn(py, async move {
            let user = users.merge_preferences(id, patch).await.map_err(to_py)?;
            Ok(User::from(&user))
        })
    }

    /// The caller's usage this period against their tier's quota.
    fn usage<'py>(
        &self,
        py: Python<'py>,
        caller: PyRef<'_, Caller>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (usage, context) = (self.core.usage(), caller.context.clone());
        spawn(py, async move {
            let report = usage.report(&context).await.map_err(to_py)?;
            Ok(Usage::from(report))
        })
    }
}

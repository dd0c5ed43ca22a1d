//! `d.realtime`: application events pushed to a user's live connections (WebSocket and
//! Socket.IO, on every instance), numbered in the user's stream so a reconnecting client
//! replays them.

use crate::bridge::spawn;
use crate::error::to_py;
use delegate_core::{Delegate, Error, UserId};
use pyo3::prelude::*;

/// The realtime stream.
#[pyclass(frozen, module = "delegate")]
pub(crate) struct Realtime {
    pub(crate) core: Delegate,
}

#[pymethods]
impl Realtime {
    /// Publishes `app.<name>` with `data` (a JSON-serializable dict, at most 16 KiB) to
    /// every live connection of `user_id`; its number in the user's stream.
    #[pyo3(signature = (user_id, r#type, data = None))]
    fn publish<'py>(
        &self,
        py: Python<'py>,
        user_id: &str,
        r#type: String,
        data: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let user = UserId::parse(user_id).map_err(|_| to_py(Error::NotFound("user")))?;
        let data = match data {
            Some(data) => {
                let text: String = py
                    .import("json")?
                    .call_method1("dumps", (data,))?
                    .extract()?;
                serde_json::from_str(&text)
                    .map_err(|_| to_py(Error::invalid("data", "must be JSON")))?
            }
            None => serde_json::Value::Object(Default::default()),
        };
        let (realtime, users) = (self.core.realtime(), self.core.users());
        spawn(py, async move {
            users.get(user).await.map_err(to_py)?;
            realtime
                .publish_app(user, &r#type, data)
                .await
                .map_err(to_py)
        })
    }
}

//! Rust futures as asyncio awaitables. One tokio runtime per process runs them; each result
//! is handed to the caller's event loop with `call_soon_threadsafe` (so several loops in
//! several threads work), a cancelled awaitable aborts its task, and [`shutdown`] (run at
//! interpreter exit) closes a gate so no runtime thread touches Python while it finalizes.

use pyo3::IntoPyObjectExt;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use std::future::Future;
use std::sync::{OnceLock, RwLock};
use std::task::{Context, Poll, Waker};
use tokio::runtime::Runtime;
use tokio::task::AbortHandle;

/// Closed (true) once the interpreter is exiting: results are dropped, not delivered.
static GATE: RwLock<bool> = RwLock::new(false);

/// The process's runtime, started on first use.
pub(crate) fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("delegate")
            .build()
            .expect("the tokio runtime starts")
    })
}

/// Runs `work` and returns an asyncio future of its result, bound to the running event loop
/// (a `RuntimeError` outside one). `work` is polled once at once, on the caller's thread:
/// what needs no I/O (verifying a token of a known session, a delta already received) is
/// answered without a trip through the runtime's threads; the rest runs on the runtime.
pub(crate) fn spawn<'py, F, T>(py: Python<'py>, work: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = PyResult<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    let event_loop = py.import("asyncio")?.call_method0("get_running_loop")?;
    let future = event_loop.call_method0("create_future")?;
    let mut work = Box::pin(work);
    let first = {
        let _runtime = runtime().enter();
        work.as_mut().poll(&mut Context::from_waker(Waker::noop()))
    };
    if let Poll::Ready(result) = first {
        match result {
            Ok(value) => future.call_method1("set_result", (value,))?,
            Err(e) => future.call_method1("set_exception", (e.into_value(py),))?,
        };
        return Ok(future);
    }
    let (target, waiter) = (event_loop.unbind(), future.clone().unbind());
    let task = runtime().spawn(async move {
        // Polled again here first, which registers the runtime's waker.
        let result = work.await;
        deliver(target, waiter, result);
    });
    future.call_method1("add_done_callback", (Abort(task.abort_handle()),))?;
    Ok(future)
}

/// Hands `result` to `waiter` on its loop, unless the interpreter is exiting or the loop
/// is closed (then nobody waits for it).
fn deliver<T>(target: Py<PyAny>, waiter: Py<PyAny>, result: PyResult<T>)
where
    T: for<'a> IntoPyObject<'a>,
{
    let gate = GATE.read().unwrap_or_else(|e| e.into_inner());
    if *gate {
        return;
    }
    Python::attach(|py| {
        let settle = || -> PyResult<()> {
            let settle = py.import("delegate._bridge")?.getattr("settle")?;
            let (value, failed) = match result {
                Ok(value) => (value.into_bound_py_any(py)?, false),
                Err(e) => (e.into_value(py).into_bound(py).into_any(), true),
            };
            target.bind(py).call_method1(
                "call_soon_threadsafe",
                (settle, waiter.bind(py), value, failed),
            )?;
            Ok(())
        };
        // A loop closed meanwhile refuses the call: nobody is waiting any more.
        let _ = settle();
    });
    drop(gate);
}

/// The done-callback of an awaitable: a cancelled one aborts its task.
#[pyclass(frozen)]
struct Abort(AbortHandle);

#[pymethods]
impl Abort {
    fn __call__(&self, future: &Bound<'_, PyAny>) -> PyResult<()> {
        if future.call_method0("cancelled")?.is_truthy()? {
            self.0.abort();
        }
        Ok(())
    }
}

/// Closes the gate (registered with `atexit`): waits, without holding the interpreter, for
/// deliveries under way, after which no runtime thread enters Python again.
#[pyfunction]
pub(crate) fn shutdown(py: Python<'_>) {
    py.detach(|| {
        *GATE.write().unwrap_or_else(|e| e.into_inner()) = true;
    });
}

/// A `RuntimeError` saying the Delegate was closed.
pub(crate) fn closed() -> PyErr {
    PyRuntimeError::new_err("this Delegate is closed")
}

//! Core errors as Python exceptions: the one place they are mapped. The classes are defined
//! in `delegate._errors` (pure Python, so each carries `code`, `field` and `retry_after`);
//! an exception is built lazily, so a runtime thread can make one without the interpreter.

use delegate_core::{Error, ErrorKind};
use pyo3::PyErr;

pyo3::import_exception!(delegate._errors, DelegateError);
pyo3::import_exception!(delegate._errors, Unauthenticated);
pyo3::import_exception!(delegate._errors, Forbidden);
pyo3::import_exception!(delegate._errors, NotFound);
pyo3::import_exception!(delegate._errors, Conflict);
pyo3::import_exception!(delegate._errors, Invalid);
pyo3::import_exception!(delegate._errors, RateLimited);
pyo3::import_exception!(delegate._errors, QuotaExceeded);
pyo3::import_exception!(delegate._errors, Unavailable);
pyo3::import_exception!(delegate._errors, Upstream);

/// `e` as the exception of its kind: `(message, code, field, retry_after)`, the code and
/// message those of the HTTP error envelope.
pub(crate) fn to_py(e: Error) -> PyErr {
    let field = match &e {
        Error::Invalid { field, .. } => Some((*field).to_owned()),
        _ => None,
    };
    let args = (
        e.public_message(),
        e.code(),
        field,
        e.retry_after().map(|d| d.as_secs_f64()),
    );
    match e.kind() {
        ErrorKind::Unauthenticated => PyErr::new::<Unauthenticated, _>(args),
        ErrorKind::Forbidden => PyErr::new::<Forbidden, _>(args),
        ErrorKind::NotFound => PyErr::new::<NotFound, _>(args),
        ErrorKind::Conflict => PyErr::new::<Conflict, _>(args),
        ErrorKind::Invalid | ErrorKind::UnsupportedMedia => PyErr::new::<Invalid, _>(args),
        ErrorKind::RateLimited => PyErr::new::<RateLimited, _>(args),
        ErrorKind::QuotaExceeded => PyErr::new::<QuotaExceeded, _>(args),
        ErrorKind::Unavailable => PyErr::new::<Unavailable, _>(args),
        ErrorKind::Upstream => PyErr::new::<Upstream, _>(args),
        _ => PyErr::new::<DelegateError, _>(args),
    }
}

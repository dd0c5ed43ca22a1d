//! Starting a transaction that a cancelled caller cannot leave half begun.
//!
//! sqlx 0.9 counts a transaction as open only once the server has answered `BEGIN`. A future
//! dropped while `BEGIN` is on the wire (a request whose client went away) therefore hands
//! its connection back to the pool *inside* a transaction that sqlx does not know about, and
//! every statement later run on that connection is silently never committed (seen in the
//! load bench: logins on such a connection lost their login session, then failed on the
//! refresh token's foreign key). Running `BEGIN` on a task of its own finishes it either way:
//! a caller that is gone drops the begun transaction there, which rolls it back.

use crate::error::{Error, Result};
use sqlx::{Database, Pool, Transaction};

/// Begins a transaction on a connection of `pool` (with `statement`, e.g. `BEGIN
/// IMMEDIATE`, when given), to the end even if the caller's future is dropped meanwhile;
/// `db_error` maps the driver's errors.
pub(crate) async fn begin<DB: Database>(
    pool: &Pool<DB>,
    statement: Option<&'static str>,
    db_error: fn(sqlx::Error) -> Error,
) -> Result<Transaction<'static, DB>> {
    let pool = pool.clone();
    let begun = tokio::spawn(async move {
        match statement {
            Some(statement) => pool.begin_with(statement).await,
            None => pool.begin().await,
        }
    });
    begun
        .await
        .map_err(|e| Error::internal("beginning a transaction").with_source(e))?
        .map_err(db_error)
}

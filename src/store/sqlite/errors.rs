//! SQLite errors by result code: a busy or locked database is `Unavailable`
//! (retryable), everything else `Internal`.

use crate::store::error::StoreError;

/// `SQLITE_BUSY` and `SQLITE_LOCKED` (with their extended codes) are retryable.
pub(super) fn classify(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(error.to_string()),
        sqlx::Error::Database(database_error) => {
            let primary_code = database_error
                .code()
                .and_then(|code| code.parse::<i32>().ok())
                .map(|code| code & 0xff);
            match primary_code {
                Some(5 | 6) => StoreError::Unavailable(error.to_string()),
                _ => StoreError::Internal(error.to_string()),
            }
        }
        _ => StoreError::Internal(error.to_string()),
    }
}

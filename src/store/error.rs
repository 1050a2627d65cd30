//! The store's one error type. Backends classify their database errors into
//! it (by SQLSTATE or SQLite result code), so that callers deal in meanings
//! and no sqlx type crosses the store traits.

use crate::domain::Error;

/// What went wrong in the store, in meanings rather than database codes.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// The row exists but is not in the status the operation needs.
    #[error("conflict with the current status")]
    Conflict,
    /// The decision function refused the update; carries its error.
    #[error("rejected: {0}")]
    Rejected(Error),
    /// The database cannot be reached or is shutting down; retryable.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Internal(String),
}

//! Postgres errors by SQLSTATE: a database outage is `Unavailable`
//! (retryable), everything else `Internal`.

use crate::store::error::StoreError;

/// Maps a sqlx error by SQLSTATE: connection loss, shutdown, too many
/// connections and serialisation failures are retryable.
pub(super) fn classify(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(error.to_string()),
        sqlx::Error::Database(database_error) => match database_error.code().as_deref() {
            Some(code) if is_retryable_sqlstate(code) => StoreError::Unavailable(error.to_string()),
            _ => StoreError::Internal(error.to_string()),
        },
        _ => StoreError::Internal(error.to_string()),
    }
}

fn is_retryable_sqlstate(code: &str) -> bool {
    // 08: connection exception; 57P01-03: admin/crash shutdown, cannot connect
    // now; 53300: too many connections; 40001/40P01: serialisation, deadlock.
    code.starts_with("08")
        || matches!(
            code,
            "57P01" | "57P02" | "57P03" | "53300" | "40001" | "40P01"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_are_classified() {
        for retryable in [
            "08006", "08001", "57P01", "57P03", "53300", "40001", "40P01",
        ] {
            assert!(is_retryable_sqlstate(retryable), "{retryable}");
        }
        for permanent in ["23505", "42P01", "22001", "XX000"] {
            assert!(!is_retryable_sqlstate(permanent), "{permanent}");
        }
    }

    #[test]
    fn transport_failures_are_unavailable() {
        assert!(matches!(
            classify(sqlx::Error::PoolTimedOut),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            classify(sqlx::Error::PoolClosed),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            classify(sqlx::Error::RowNotFound),
            StoreError::Internal(_)
        ));
    }
}

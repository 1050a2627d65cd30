//! The facade's log lines. Every request is logged once: a routed request
//! by [`log_outcome`], inside its operation span (which carries the request
//! id); a request refused before it named an operation by
//! [`log_rejection`], with the request id as a field. They, and the
//! middleware's lines, are logged under [`LOG_TARGET`], the facade's name,
//! whichever module writes them.

use crate::domain::ApiFamily;
use crate::http::render::FacadeError;
use crate::http::request_id::RequestId;

/// The target of the facade's log lines.
pub const LOG_TARGET: &str = "statusgate::http";

/// The one log line of a routed request, inside its operation span (which
/// carries the request id): `debug` for a success, `info` for a client
/// error, `warn` for a server error. Server-side failures were logged with
/// their cause by the service; this line says what the caller got.
pub fn log_outcome<Output>(outcome: &Result<Output, FacadeError>, family: ApiFamily) {
    let span = tracing::Span::current();
    let error = match outcome {
        Ok(_) => {
            span.record("http.response.status_code", 200);
            // Debug, not info: formatting a line per successful call cost
            // about 6% of a status read's instructions (see
            // docs/performance.md); `RUST_LOG=info,statusgate=debug` shows it.
            tracing::debug!(target: LOG_TARGET, status = 200, "request served");
            return;
        }
        Err(error) => error,
    };
    let (error_type, status) = error.summary(family);
    span.record("http.response.status_code", status.as_u16());
    if status.is_server_error() {
        crate::telemetry::record_server_error(&span);
    }
    if status.is_server_error() {
        tracing::warn!(target: LOG_TARGET, status = status.as_u16(), error_type, "request failed");
    } else {
        tracing::info!(target: LOG_TARGET, status = status.as_u16(), error_type, "request failed");
    }
}

/// The one log line of a request refused before it named an operation.
pub fn log_rejection(request_id: &RequestId, error: &FacadeError) {
    // Rejections and admission errors are named alike in every family.
    let (error_type, status) = error.summary(ApiFamily::CloudControl);
    tracing::info!(
        target: LOG_TARGET,
        request_id = %request_id,
        status = status.as_u16(),
        error_type,
        "request rejected"
    );
}

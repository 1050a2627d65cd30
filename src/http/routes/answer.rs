//! How a route ends, whichever protocol it speaks: the request is logged
//! once, the outcome is rendered in the route's [`ErrorForm`], and the
//! response is marked with its operation for the metrics layer.

use axum::response::Response;

use crate::domain::ApiFamily;
use crate::http::log::{log_outcome, log_rejection};
use crate::http::protocol::{AwsService, Operation, Rejection};
use crate::http::render::FacadeError;
use crate::http::request_id::RequestId;

/// The form a route writes its errors in.
#[derive(Debug, Clone, Copy)]
pub enum ErrorForm<'request> {
    /// An awsJson error body, in the dialect of the service (`None`: the
    /// request was refused before it named one).
    AwsJson(Option<AwsService>),
    /// The query protocol's XML `ErrorResponse`; that form serves Cloud
    /// Control only.
    QueryXml(&'request RequestId),
}

impl ErrorForm<'_> {
    /// Whose error names the caller gets.
    fn family(self) -> ApiFamily {
        match self {
            Self::AwsJson(service) => service.map_or(ApiFamily::CloudControl, AwsService::family),
            Self::QueryXml(_) => ApiFamily::CloudControl,
        }
    }

    fn render(self, error: &FacadeError) -> Response {
        match self {
            Self::AwsJson(service) => error.json_response(service),
            Self::QueryXml(request_id) => error.xml_response(request_id),
        }
    }
}

/// The answer to a request refused before it named an operation.
pub fn answer_rejection(request_id: &RequestId, rejection: Rejection, form: ErrorForm) -> Response {
    let error = FacadeError::from(rejection);
    log_rejection(request_id, &error);
    form.render(&error)
}

/// The answer to a routed request, given inside its operation span:
/// `success` renders the output, `form` the error.
pub fn answer_outcome<Output>(
    operation: Operation,
    outcome: Result<Output, FacadeError>,
    form: ErrorForm,
    success: impl FnOnce(Output) -> Response,
) -> Response {
    log_outcome(&outcome, form.family());
    let mut response = match outcome {
        Ok(output) => success(output),
        Err(error) => form.render(&error),
    };
    // For the metrics layer.
    response.extensions_mut().insert(operation);
    response
}

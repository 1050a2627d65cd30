//! The query-style form the Cloud Control reference page shows:
//! `?Action=GetResourceRequestStatus&RequestToken=...&Version=2021-09-30` as a
//! `GET /` or as a form-encoded `POST /`, answered with the XML document of
//! that page (`text/xml`, ISO-8601 timestamps with milliseconds) and errors as
//! an XML `ErrorResponse`. It calls the same handler as the JSON form.

use axum::extract::Request;
use axum::http::HeaderMap;
use axum::response::Response;
use tracing::Instrument;

use super::answer::{ErrorForm, answer_outcome, answer_rejection};
use crate::http::handlers::get_resource_request_status;
use crate::http::protocol::{
    AwsService, Operation, QueryParameters, Rejection, check_action, read_body,
};
use crate::http::render::{FacadeError, xml_success};
use crate::http::request_id::RequestId;
use crate::service::Services;

/// `GET /?Action=...`: the parameters are the query string.
pub async fn handle_get(services: &Services, request_id: &RequestId, request: Request) -> Response {
    let parameters = QueryParameters::from_query_string(request.uri().query());
    answer(services, request_id, request.headers(), parameters).await
}

/// A form-encoded `POST /`: the parameters are the body.
pub async fn handle_form(
    services: &Services,
    request_id: &RequestId,
    request: Request,
) -> Response {
    let headers = request.headers().clone();
    let parameters = read_body(request)
        .await
        .and_then(|body| QueryParameters::from_form_body(&body));
    answer(services, request_id, &headers, parameters).await
}

async fn answer(
    services: &Services,
    request_id: &RequestId,
    headers: &HeaderMap,
    parameters: Result<QueryParameters, Rejection>,
) -> Response {
    let form = ErrorForm::QueryXml(request_id);
    let parameters = match parameters.and_then(check_action) {
        Ok(parameters) => parameters,
        Err(rejection) => return answer_rejection(request_id, rejection, form),
    };
    let caller = parameters.caller(headers);
    let operation = Operation::GetResourceRequestStatus;
    let span = operation.span(AwsService::CloudControl, request_id, headers);
    async move {
        let outcome = get_resource_request_status(
            &services.resource_requests,
            &caller,
            parameters.into_input(),
        )
        .await
        .map_err(FacadeError::from);
        answer_outcome(operation, outcome, form, |output| {
            xml_success(&output, request_id)
        })
    }
    .instrument(span)
    .await
}

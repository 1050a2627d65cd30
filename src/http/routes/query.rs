//! The query-style form the Cloud Control reference page shows:
//! `?Action=GetResourceRequestStatus&RequestToken=...&Version=2021-09-30` as a
//! `GET /` or as a form-encoded `POST /`, answered with the XML document of
//! that page (`text/xml`, ISO-8601 timestamps with milliseconds) and errors as
//! an XML `ErrorResponse`. It calls the same handler as the JSON form, once
//! the [`Authenticator`](super::Authenticator) has let the caller in: this
//! is the form that arrives presigned (`X-Amz-Signature` in the query).

use axum::body::Bytes;
use axum::extract::Request;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use tracing::Instrument;

use super::Facade;
use super::answer::{ErrorForm, answer_outcome, answer_rejection};
use crate::http::handlers::get_resource_request_status;
use crate::http::protocol::sigv4_verify::SignedRequest;
use crate::http::protocol::{
    AwsService, Operation, QueryParameters, Rejection, check_action, read_body,
};
use crate::http::render::{FacadeError, xml_success};
use crate::http::request_id::RequestId;

/// What the signature of a query-form request covers.
struct Received {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
}

impl Received {
    fn signed(&self) -> SignedRequest<'_> {
        SignedRequest {
            method: self.method.as_str(),
            path: self.uri.path(),
            query: self.uri.query(),
            authority: self.uri.authority().map(|authority| authority.as_str()),
            headers: &self.headers,
            body: &self.body,
        }
    }
}

/// `GET /?Action=...`: the parameters are the query string.
pub async fn handle_get(facade: &Facade, request_id: &RequestId, request: Request) -> Response {
    let parameters = QueryParameters::from_query_string(request.uri().query());
    let received = Received {
        method: request.method().clone(),
        uri: request.uri().clone(),
        headers: request.headers().clone(),
        body: Bytes::new(),
    };
    answer(facade, request_id, received, parameters).await
}

/// A form-encoded `POST /`: the parameters are the body.
pub async fn handle_form(facade: &Facade, request_id: &RequestId, request: Request) -> Response {
    let method = request.method().clone();
    let uri = request.uri().clone();
    let headers = request.headers().clone();
    let body = match read_body(request).await {
        Ok(body) => body,
        Err(rejection) => {
            return answer_rejection(request_id, rejection, ErrorForm::QueryXml(request_id));
        }
    };
    let parameters = QueryParameters::from_form_body(&body);
    let received = Received {
        method,
        uri,
        headers,
        body,
    };
    answer(facade, request_id, received, parameters).await
}

async fn answer(
    facade: &Facade,
    request_id: &RequestId,
    received: Received,
    parameters: Result<QueryParameters, Rejection>,
) -> Response {
    let form = ErrorForm::QueryXml(request_id);
    let parameters = match parameters.and_then(check_action) {
        Ok(parameters) => parameters,
        Err(rejection) => return answer_rejection(request_id, rejection, form),
    };
    let unverified = parameters.caller(&received.headers);
    let operation = Operation::GetResourceRequestStatus;
    let service = AwsService::CloudControl;
    let span = operation.span(service, request_id, &received.headers);
    async move {
        let outcome = async {
            let caller = facade
                .authenticator
                .caller(&received.signed(), service, operation, unverified)
                .await?;
            get_resource_request_status(
                &facade.services.resource_requests,
                &caller,
                parameters.into_input(),
            )
            .await
            .map_err(FacadeError::from)
        }
        .await;
        answer_outcome(operation, outcome, form, |output| {
            xml_success(&output, request_id)
        })
    }
    .instrument(span)
    .await
}

//! From a routed awsJson operation to its handler: decodes the body into the
//! operation's input shape, calls the handler and encodes its output.

use serde_json::{Map, Value};

use super::{cloudcontrol, waf};
use crate::http::protocol::{Caller, Operation, Rejection, Target, decode_input};
use crate::http::render::{FacadeError, encode_json};
use crate::service::Services;

/// Calls the handler of `target` with `body` decoded into its input (a
/// member of the wrong type is a rejection, and no handler is called); the
/// answer is the output's JSON.
pub async fn dispatch(
    services: &Services,
    caller: &Caller,
    target: Target,
    body: Map<String, Value>,
) -> Result<Vec<u8>, FacadeError> {
    let change_tokens = &services.change_tokens;
    let requests = &services.resource_requests;
    match (target.service.waf_endpoint(), target.operation) {
        (Some(endpoint), Operation::GetChangeToken) => {
            let output =
                waf::get_change_token(change_tokens, caller, endpoint, decode_input(body)?);
            encode_json(&output.await?)
        }
        (Some(endpoint), Operation::GetChangeTokenStatus) => {
            let output =
                waf::get_change_token_status(change_tokens, caller, endpoint, decode_input(body)?);
            encode_json(&output.await?)
        }
        (None, Operation::GetResourceRequestStatus) => {
            let output =
                cloudcontrol::get_resource_request_status(requests, caller, decode_input(body)?);
            encode_json(&output.await?)
        }
        (None, Operation::ListResourceRequests) => {
            let output =
                cloudcontrol::list_resource_requests(requests, caller, decode_input(body)?);
            encode_json(&output.await?)
        }
        (None, Operation::CancelResourceRequest) => {
            let output =
                cloudcontrol::cancel_resource_request(requests, caller, decode_input(body)?);
            encode_json(&output.await?)
        }
        (None, Operation::CreateResource) => {
            let output = cloudcontrol::create_resource(requests, caller, decode_input(body)?);
            encode_json(&output.await?)
        }
        (None, Operation::UpdateResource) => {
            let output = cloudcontrol::update_resource(requests, caller, decode_input(body)?);
            encode_json(&output.await?)
        }
        (None, Operation::DeleteResource) => {
            let output = cloudcontrol::delete_resource(requests, caller, decode_input(body)?);
            encode_json(&output.await?)
        }
        (None, Operation::GetResource) => {
            let output = cloudcontrol::get_resource(
                requests,
                &services.resources,
                caller,
                decode_input(body)?,
            );
            encode_json(&output.await?)
        }
        (None, Operation::ListResources) => {
            let output = cloudcontrol::list_resources(
                requests,
                &services.resources,
                caller,
                decode_input(body)?,
            );
            encode_json(&output.await?)
        }
        // `Target::parse` pairs operations with their service; any other
        // pairing is an operation that service does not have.
        (_, operation) => Err(Rejection::UnknownOperation {
            target: format!("{}.{operation}", target.service.signing_name()),
        }
        .into()),
    }
}

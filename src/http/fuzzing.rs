//! The facade's parsers, opened to the fuzz targets under `fuzz/` (see
//! `fuzz/README.md`). Not an API: each function runs the same code a
//! request runs, from raw text to the answer's status and body, without a
//! server or a database, so that a fuzzer can reach every parser at
//! millions of executions a second.
//!
//! - [`aws_json`]: an `X-Amz-Target` and an awsJson body, routed, parsed
//!   into the operation's input shape and its members checked by the domain
//!   values the handlers build; a refusal rendered as the awsJson error.
//! - [`query_form`]: the query form's parameters (query string or
//!   form-encoded body), the action check, the unverified caller and the
//!   request token; a refusal rendered as the XML `ErrorResponse`.
//! - [`sigv4_header`], [`sigv4_query`]: a SigV4 signature read off an
//!   `Authorization` header or presigned parameters, its scope and time
//!   checked; a refusal rendered as the awsJson error.
//! - [`sigv4_verify`]: [`SignedRequest`] through all three verification
//!   steps with a given secret.
//!
//! What they answer ([`Answer`]) is what the fuzz targets check: every
//! refusal is a 4xx with a well-formed body naming an AWS error.

use std::time::SystemTime;

use axum::http::{HeaderMap, HeaderValue, header::AUTHORIZATION};
use axum::response::Response;

use super::handlers::{operation_statuses, operations};
use super::protocol::sigv4::{self, AmzDate, SignatureClaim};
use super::protocol::sigv4_verify::{self, check_scope_and_time, read_claim};
use super::protocol::{
    AuthFailure, AwsService, Caller, Operation, QueryParameters, Rejection, Target, check_action,
    decode_input, parse_object,
};
use super::render::FacadeError;
use super::request_id::RequestId;
use super::shapes::{
    CreateResourceInput, DeleteResourceInput, GetChangeTokenInput, GetChangeTokenStatusInput,
    GetResourceInput, ListResourceRequestsInput, ListResourcesInput, RequestTokenInput,
    UpdateResourceInput,
};
use crate::domain::values::{
    ChangeToken, ClientToken, Identifier, JsonDocument, MaxResults, NextToken, Region,
    RequestToken, RoleArn, TypeName, TypeVersionId,
};
use crate::domain::{AccountId, Error, FieldViolation};

pub use super::protocol::sigv4_verify::SignedRequest;

/// What the facade would answer, as far as the parsers decide it.
#[derive(Debug)]
pub enum Answer {
    /// Every parser accepted the request: a handler would call a service.
    Accepted,
    /// Refused: the response's status, `Content-Type` and body.
    Refused {
        status: u16,
        content_type: String,
        /// `x-amzn-ErrorType`, when the response carries one.
        error_type: Option<String>,
        body: Vec<u8>,
    },
}

fn refused(response: Response) -> Answer {
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
    };
    let content_type = header("content-type").unwrap_or_default();
    let error_type = header("x-amzn-errortype");
    // The error bodies are in-memory buffers: reading them never waits.
    let body = futures::executor::block_on(axum::body::to_bytes(response.into_body(), usize::MAX))
        .map(|bytes| bytes.to_vec())
        .unwrap_or_default();
    Answer::Refused {
        status,
        content_type,
        error_type,
        body,
    }
}

fn json_refusal(error: FacadeError, service: Option<AwsService>) -> Answer {
    refused(error.json_response(service))
}

fn check<T>(result: Result<T, FieldViolation>) -> Result<T, Error> {
    result.map_err(Error::invalid_input)
}

fn required<T>(
    member: &'static str,
    value: Option<String>,
    parse: impl FnOnce(String) -> Result<T, FieldViolation>,
) -> Result<T, Error> {
    check(
        value
            .ok_or_else(|| FieldViolation::missing(member))
            .and_then(parse),
    )
}

fn optional<T>(
    value: Option<String>,
    parse: impl FnOnce(String) -> Result<T, FieldViolation>,
) -> Result<Option<T>, Error> {
    check(value.map(parse).transpose())
}

/// The members every resource operation shares, as the handlers check them.
fn resource_target(
    type_name: Option<String>,
    type_version_id: Option<String>,
    role_arn: Option<String>,
    client_token: Option<String>,
) -> Result<(), Error> {
    required(TypeName::MEMBER, type_name, TypeName::parse)?;
    optional(type_version_id, TypeVersionId::parse)?;
    optional(role_arn, RoleArn::parse)?;
    optional(client_token, ClientToken::parse)?;
    Ok(())
}

fn json_document(member: &'static str, value: Option<String>) -> Result<(), Error> {
    required(member, value, |value| JsonDocument::parse(member, value)).map(drop)
}

/// The input shape of `target`'s operation, decoded from `body` and its
/// members checked as the operation's handler checks them.
fn decode_and_check(target: Target, body: &[u8]) -> Result<(), FacadeError> {
    let object = parse_object(body)?;
    match target.operation {
        Operation::GetChangeToken => {
            let _: GetChangeTokenInput = decode_input(object)?;
        }
        Operation::GetChangeTokenStatus => {
            let input: GetChangeTokenStatusInput = decode_input(object)?;
            required(ChangeToken::MEMBER, input.change_token, ChangeToken::parse)?;
        }
        Operation::GetResourceRequestStatus | Operation::CancelResourceRequest => {
            let input: RequestTokenInput = decode_input(object)?;
            required(
                RequestToken::MEMBER,
                input.request_token,
                RequestToken::parse,
            )?;
        }
        Operation::ListResourceRequests => {
            let input: ListResourceRequestsInput = decode_input(object)?;
            let filter = input.resource_request_status_filter.unwrap_or_default();
            operations(filter.operations.unwrap_or_default())?;
            operation_statuses(filter.operation_statuses.unwrap_or_default())?;
            check(MaxResults::parse(input.max_results))?;
            optional(input.next_token, NextToken::parse)?;
        }
        Operation::CreateResource => {
            let input: CreateResourceInput = decode_input(object)?;
            resource_target(
                input.type_name,
                input.type_version_id,
                input.role_arn,
                input.client_token,
            )?;
            json_document("DesiredState", input.desired_state)?;
        }
        Operation::UpdateResource => {
            let input: UpdateResourceInput = decode_input(object)?;
            resource_target(
                input.type_name,
                input.type_version_id,
                input.role_arn,
                input.client_token,
            )?;
            required(Identifier::MEMBER, input.identifier, Identifier::parse)?;
            json_document("PatchDocument", input.patch_document)?;
        }
        Operation::GetResource => {
            let input: GetResourceInput = decode_input(object)?;
            resource_target(input.type_name, input.type_version_id, input.role_arn, None)?;
            required(Identifier::MEMBER, input.identifier, Identifier::parse)?;
        }
        Operation::ListResources => {
            let input: ListResourcesInput = decode_input(object)?;
            resource_target(input.type_name, input.type_version_id, input.role_arn, None)?;
            optional(input.resource_model, |value| {
                JsonDocument::parse("ResourceModel", value)
            })?;
            check(MaxResults::parse(input.max_results))?;
            optional(input.next_token, NextToken::parse)?;
        }
        Operation::DeleteResource => {
            let input: DeleteResourceInput = decode_input(object)?;
            resource_target(
                input.type_name,
                input.type_version_id,
                input.role_arn,
                input.client_token,
            )?;
            required(Identifier::MEMBER, input.identifier, Identifier::parse)?;
        }
    }
    Ok(())
}

/// An awsJson request: `X-Amz-Target` routed, the body decoded into the
/// operation's input and its members checked; a refusal is the awsJson
/// error the facade sends.
pub fn aws_json(target: &str, body: &[u8]) -> Answer {
    let target = match Target::parse(target) {
        Ok(target) => target,
        Err(rejection) => return json_refusal(rejection.into(), None),
    };
    match decode_and_check(target, body) {
        Ok(()) => Answer::Accepted,
        Err(error) => json_refusal(error, Some(target.service)),
    }
}

/// A query-form request: the parameters of `query` (a `GET /`) or of
/// `form_body` (a form-encoded `POST /`, when `query` is `None`), the
/// action checked, the unverified caller read (its `Authorization` header,
/// or else the `X-Amz-Credential` parameter) and the request token
/// checked; a refusal is the XML `ErrorResponse` the facade sends.
pub fn query_form(query: Option<&str>, form_body: &[u8], authorization: Option<&[u8]>) -> Answer {
    let request_id = RequestId::new();
    let parameters = match query {
        Some(query) => QueryParameters::from_query_string(Some(query)),
        None => QueryParameters::from_form_body(form_body),
    };
    let parameters = match parameters.and_then(check_action) {
        Ok(parameters) => parameters,
        Err(rejection) => return refused(FacadeError::from(rejection).xml_response(&request_id)),
    };
    let mut headers = HeaderMap::new();
    if let Some(value) = authorization.and_then(|bytes| HeaderValue::from_bytes(bytes).ok()) {
        headers.insert(AUTHORIZATION, value);
    }
    let caller = parameters.caller(&headers);
    let outcome = unverified_caller_scope(&caller).and_then(|()| {
        required(
            RequestToken::MEMBER,
            parameters.into_input().request_token,
            RequestToken::parse,
        )
        .map(drop)
    });
    match outcome {
        Ok(()) => Answer::Accepted,
        Err(error) => refused(FacadeError::from(error).xml_response(&request_id)),
    }
}

/// What a handler reads off an unverified caller: its account (a 12-digit
/// key id, or the default) and, where it names one, its region.
fn unverified_caller_scope(caller: &Caller) -> Result<(), Error> {
    let default_account = AccountId::parse("000000000000").map_err(Error::invalid_input)?;
    let account = caller.account(&default_account);
    assert_eq!(
        account.as_str().len(),
        12,
        "an account id is always 12 digits"
    );
    if let Some(region) = caller.region() {
        check(Region::parse(region))?;
    }
    Ok(())
}

/// Checks what a readable claim promises, then its scope and time against
/// `now`; a refusal is the awsJson error.
fn scope_and_time(claim: &SignatureClaim, service: AwsService, now: SystemTime) -> Answer {
    // The date is kept only in the form the signer writes back identically.
    assert_eq!(
        AmzDate::parse(&claim.date.to_string()),
        Some(claim.date),
        "an X-Amz-Date that parsed prints back the same"
    );
    match check_scope_and_time(claim, service.signing_name(), now) {
        Ok(()) => Answer::Accepted,
        Err(failure) => auth_refusal(failure, service),
    }
}

fn auth_refusal(failure: AuthFailure, service: AwsService) -> Answer {
    json_refusal(Rejection::Auth(failure).into(), Some(service))
}

/// The services a signature can be scoped to, for the fuzz targets to
/// pick one from a byte.
pub const SERVICES: [AwsService; 3] = [
    AwsService::Waf,
    AwsService::WafRegional,
    AwsService::CloudControl,
];

/// An `Authorization` header (with the request's `X-Amz-Date`, if any)
/// read as the verifier reads it, and as `--auth none` reads the caller;
/// then its scope and signing time checked against `now` for `service`.
pub fn sigv4_header(
    authorization: &str,
    amz_date: Option<&str>,
    service: AwsService,
    now: SystemTime,
) -> Answer {
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(authorization) {
        headers.insert(AUTHORIZATION, value);
        if let Err(error) = unverified_caller_scope(&Caller::from_headers(&headers)) {
            return json_refusal(error.into(), Some(service));
        }
    }
    match sigv4::claim_from_header(authorization, amz_date) {
        Ok(claim) => scope_and_time(&claim, service, now),
        Err(failure) => auth_refusal(failure, service),
    }
}

/// A presigned query string read as the verifier reads it (decoded
/// parameters, in order), then its scope and time checked against `now`.
pub fn sigv4_query(query: &str, service: AwsService, now: SystemTime) -> Answer {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    if !sigv4::is_presigned(&pairs) {
        return Answer::Accepted;
    }
    match sigv4::claim_from_query(&pairs) {
        Ok(claim) => scope_and_time(&claim, service, now),
        Err(failure) => auth_refusal(failure, service),
    }
}

/// Whether a signed request verifies with `secret_access_key`, through
/// the same three steps the facade runs: the claim read, its scope and
/// time checked for `service` at `now`, the signature compared.
pub fn sigv4_verify(
    request: &SignedRequest<'_>,
    service: AwsService,
    now: SystemTime,
    secret_access_key: &str,
) -> Result<(), AuthFailure> {
    let Some(claim) = read_claim(request)? else {
        return Err(AuthFailure::MissingAuthenticationToken);
    };
    check_scope_and_time(&claim, service.signing_name(), now)?;
    sigv4_verify::verify_signature(request, &claim, secret_access_key)
}

/// The awsJson error a verification failure is answered with.
pub fn auth_failure_answer(failure: AuthFailure, service: AwsService) -> Answer {
    auth_refusal(failure, service)
}

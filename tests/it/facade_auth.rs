//! The AWS facade with `--auth sigv4`: the real AWS SDKs with the right
//! secret work unchanged, and every other signature gets AWS's error.

use std::time::{Duration, SystemTime};

use aws_sdk_cloudcontrol::error::ProvideErrorMetadata;
use aws_sdk_cloudcontrol::types::{Operation, ResourceRequestStatusFilter};
use statusgate::domain::credential::Role;

use crate::backend_tests;
use crate::common::auth::{Key, issue, spawn_sigv4};
use crate::common::facade::{CLOUD_CONTROL, JSON_1_0, JSON_1_1, WAF, WAF_REGIONAL};
use crate::common::signing::{Signer, aws_json_request, send};
use crate::common::{ACCOUNT, Backend, OTHER_ACCOUNT, TYPE_NAME, TestApp};

const REGION: &str = "eu-west-1";

/// The AWS error a failed SDK call reports: (code, message).
fn sdk_error<E: ProvideErrorMetadata>(error: &E) -> (String, String) {
    (
        error.code().unwrap_or_default().to_owned(),
        error.message().unwrap_or_default().to_owned(),
    )
}

async fn sdk_calls_with_the_right_secret_work_unchanged(backend: Backend) {
    let app = spawn_sigv4(backend).await;
    let key = issue(&app, Some(ACCOUNT), Role::Client).await;
    let sdk = app.sdk_signing(&key.access_key_id, &key.secret_access_key, REGION);

    let token = sdk.waf().get_change_token().send().await.unwrap();
    let status = sdk
        .waf()
        .get_change_token_status()
        .change_token(token.change_token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        status.change_token_status().unwrap().as_str(),
        "PROVISIONED"
    );
    let regional = sdk.waf_regional().get_change_token().send().await.unwrap();
    assert!(regional.change_token().is_some());

    let cloudcontrol = sdk.cloudcontrol();
    let created = cloudcontrol
        .create_resource()
        .type_name(TYPE_NAME)
        .desired_state(r#"{"LogGroupName":"signed"}"#)
        .send()
        .await
        .unwrap();
    let request_token = created.progress_event().unwrap().request_token().unwrap();
    cloudcontrol
        .get_resource_request_status()
        .request_token(request_token)
        .send()
        .await
        .unwrap();
    let listed = cloudcontrol
        .list_resource_requests()
        .resource_request_status_filter(
            ResourceRequestStatusFilter::builder()
                .operations(Operation::Create)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(listed.resource_request_status_summaries().len(), 1);
    // A NextToken with `+`, `/` and `=` travels in the signed body: the
    // signature verifies, and the token itself is judged by the service.
    let paged = cloudcontrol
        .list_resource_requests()
        .next_token("a+b/c=")
        .send()
        .await;
    if let Err(error) = &paged {
        let (code, _) = sdk_error(error.as_service_error().expect("a service error"));
        assert!(
            !code.contains("Signature") && !code.contains("Unrecognized"),
            "the signature verifies: {code}"
        );
    }
    cloudcontrol
        .cancel_resource_request()
        .request_token(request_token)
        .send()
        .await
        .unwrap();

    // The account is the credential's: another account's key sees nothing.
    let other = issue(&app, Some(OTHER_ACCOUNT), Role::Client).await;
    let foreign = app
        .sdk_signing(&other.access_key_id, &other.secret_access_key, REGION)
        .cloudcontrol()
        .get_resource_request_status()
        .request_token(request_token)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        sdk_error(foreign.as_service_error().unwrap()).0,
        "RequestTokenNotFoundException"
    );
}

/// Sends `request` signed by `signer` (or not at all) and answers
/// (status, `__type`, message).
async fn call(request: http::Request<Vec<u8>>) -> (u16, String, String) {
    let (status, body) = send(request).await;
    let json: serde_json::Value =
        serde_json::from_str(&body).unwrap_or_else(|error| panic!("not JSON ({error}): {body}"));
    (
        status,
        json["__type"].as_str().unwrap_or_default().to_owned(),
        json["message"]
            .as_str()
            .or(json["Message"].as_str())
            .unwrap_or_default()
            .to_owned(),
    )
}

fn get_change_token(app: &TestApp) -> http::Request<Vec<u8>> {
    aws_json_request(
        &app.http_endpoint(),
        &format!("{WAF}.GetChangeToken"),
        JSON_1_1,
        "{}",
    )
}

fn signer(key: &Key, service: &str) -> Signer {
    Signer::new(&key.access_key_id, &key.secret_access_key, REGION, service)
}

#[track_caller]
fn assert_refused(outcome: (u16, String, String), status: u16, name: &str, message: &str) {
    let (actual_status, actual_name, actual_message) = outcome;
    assert_eq!(
        (actual_status, actual_name.as_str()),
        (status, name),
        "{actual_message}"
    );
    assert!(
        actual_message.contains(message),
        "{message:?} not in {actual_message:?}"
    );
}

async fn every_wrong_signature_gets_its_aws_error(backend: Backend) {
    let app = spawn_sigv4(backend).await;
    let key = issue(&app, Some(ACCOUNT), Role::Client).await;

    let mut signed = get_change_token(&app);
    signer(&key, "waf").sign(&mut signed);
    let (status, _, message) = call(signed).await;
    assert_eq!(status, 200, "a right signature passes: {message}");

    assert_refused(
        call(get_change_token(&app)).await,
        403,
        "MissingAuthenticationTokenException",
        "Request is missing Authentication Token",
    );

    let mut garbage = get_change_token(&app);
    signer(&key, "waf").sign(&mut garbage);
    let authorization = garbage.headers()["authorization"]
        .to_str()
        .unwrap()
        .to_owned();
    let (prefix, _) = authorization.split_once("Signature=").unwrap();
    garbage.headers_mut().insert(
        "authorization",
        format!("{prefix}Signature={}", "0".repeat(64))
            .parse()
            .unwrap(),
    );
    assert_refused(
        call(garbage).await,
        400,
        "InvalidSignatureException",
        "The request signature we calculated does not match the signature you provided",
    );

    let mut ancient = get_change_token(&app);
    signer(&key, "waf")
        .at(SystemTime::UNIX_EPOCH + Duration::from_secs(978_307_200))
        .sign(&mut ancient);
    assert_refused(
        call(ancient).await,
        400,
        "InvalidSignatureException",
        "Signature expired: 20010101T000000Z is now earlier than",
    );

    for (offset, message) in [
        (-16 * 60, "Signature expired:"),
        (16 * 60, "Signature not yet current:"),
    ] {
        let mut skewed = get_change_token(&app);
        signer(&key, "waf").at_offset(offset).sign(&mut skewed);
        assert_refused(
            call(skewed).await,
            400,
            "InvalidSignatureException",
            message,
        );
    }
    for offset in [-14 * 60, 14 * 60] {
        let mut within = get_change_token(&app);
        signer(&key, "waf").at_offset(offset).sign(&mut within);
        assert_eq!(call(within).await.0, 200, "14 minutes of skew is allowed");
    }

    let mut wrong_service = get_change_token(&app);
    signer(&key, "cloudcontrolapi").sign(&mut wrong_service);
    assert_refused(
        call(wrong_service).await,
        400,
        "InvalidSignatureException",
        "Credential should be scoped to correct service: 'waf'",
    );

    let mut wrong_secret = get_change_token(&app);
    Signer::new(&key.access_key_id, "not-the-secret", REGION, "waf").sign(&mut wrong_secret);
    assert_refused(
        call(wrong_secret).await,
        400,
        "InvalidSignatureException",
        "does not match",
    );

    for access_key_id in ["111111111111", "SGAKAAAAAAAAAAAAAAAA"] {
        let mut unknown = get_change_token(&app);
        Signer::new(access_key_id, "anything", REGION, "waf").sign(&mut unknown);
        assert_refused(
            call(unknown).await,
            400,
            "UnrecognizedClientException",
            "The security token included in the request is invalid",
        );
    }

    // Headers that do not even parse as a signature.
    let table = [
        ("Bearer abc", "Unsupported authorization type 'Bearer'"),
        (
            &*format!(
                "AWS4-HMAC-SHA256 Credential={}/20261123/{REGION}/waf/aws4_request, Signature=abc",
                key.access_key_id
            ),
            "Authorization header requires 'SignedHeaders' parameter",
        ),
        ("AWS4-HMAC-SHA256 Credential", "not a valid key=value pair"),
    ];
    for (authorization, message) in table {
        let mut broken = get_change_token(&app);
        broken
            .headers_mut()
            .insert("authorization", authorization.parse().unwrap());
        broken
            .headers_mut()
            .insert("x-amz-date", "20261123T000000Z".parse().unwrap());
        assert_refused(
            call(broken).await,
            400,
            "IncompleteSignatureException",
            message,
        );
    }
    let mut not_ascii = get_change_token(&app);
    not_ascii.headers_mut().insert(
        "authorization",
        http::HeaderValue::from_bytes("AWS4-HMAC-SHA256 Credential=\u{e9}".as_bytes()).unwrap(),
    );
    assert_refused(
        call(not_ascii).await,
        400,
        "IncompleteSignatureException",
        "not ASCII",
    );

    // A body changed after signing, and a content hash that is not the body's.
    let mut tampered = aws_json_request(
        &app.http_endpoint(),
        &format!("{CLOUD_CONTROL}.ListResourceRequests"),
        JSON_1_0,
        r#"{"MaxResults":5}"#,
    );
    signer(&key, "cloudcontrolapi").sign(&mut tampered);
    *tampered.body_mut() = br#"{"MaxResults":6}"#.to_vec();
    assert_refused(
        call(tampered).await,
        400,
        "InvalidSignatureException",
        "does not match",
    );
    let mut hashed = get_change_token(&app);
    hashed
        .headers_mut()
        .insert("x-amz-content-sha256", "0".repeat(64).parse().unwrap());
    signer(&key, "waf").sign(&mut hashed);
    assert_refused(
        call(hashed).await,
        400,
        "InvalidSignatureException",
        "x-amz-content-sha256",
    );

    // Session tokens, through the real SDK.
    let session = app
        .sdk_with_session_token(
            &key.access_key_id,
            &key.secret_access_key,
            "FwoGZXIvYXdzEXAMPLE",
            REGION,
        )
        .waf();
    let refused = session.get_change_token().send().await.unwrap_err();
    let (code, message) = sdk_error(refused.as_service_error().unwrap());
    assert_eq!(code, "UnrecognizedClientException");
    assert!(message.contains("session tokens"), "{message}");

    // A wrong secret through the real SDK.
    let wrong = app
        .sdk_signing(
            &key.access_key_id,
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            REGION,
        )
        .cloudcontrol()
        .list_resource_requests()
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        sdk_error(wrong.as_service_error().unwrap()).0,
        "InvalidSignatureException"
    );
}

/// `GET /?Action=GetResourceRequestStatus&...`, presigned.
fn query_request(app: &TestApp, request_token: &str) -> http::Request<Vec<u8>> {
    let encoded: String = url::form_urlencoded::byte_serialize(request_token.as_bytes()).collect();
    http::Request::get(format!(
        "{}/?Action=GetResourceRequestStatus&RequestToken={encoded}&Version=2021-09-30",
        app.http_endpoint()
    ))
    .body(Vec::new())
    .unwrap()
}

async fn presigned_query_requests_verify_and_expire(backend: Backend) {
    let app = spawn_sigv4(backend).await;
    let key = issue(&app, Some(ACCOUNT), Role::Client).await;
    let created = app
        .sdk_signing(&key.access_key_id, &key.secret_access_key, REGION)
        .cloudcontrol()
        .create_resource()
        .type_name(TYPE_NAME)
        .desired_state(r#"{"LogGroupName":"presigned"}"#)
        .send()
        .await
        .unwrap();
    let request_token = created
        .progress_event()
        .unwrap()
        .request_token()
        .unwrap()
        .to_owned();

    let mut valid = query_request(&app, &request_token);
    signer(&key, "cloudcontrolapi").presign(&mut valid, Duration::from_secs(300));
    let (status, body) = send(valid).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("<OperationStatus>PENDING</OperationStatus>"),
        "{body}"
    );

    // `+`, `/` and `=` in a signed query parameter: the signature verifies,
    // the token is simply unknown.
    let mut odd = query_request(&app, "a+b/c=");
    signer(&key, "cloudcontrolapi").presign(&mut odd, Duration::from_secs(300));
    let (status, body) = send(odd).await;
    assert_eq!(status, 400);
    assert!(
        body.contains("<Code>RequestTokenNotFoundException</Code>"),
        "{body}"
    );

    let mut tampered = query_request(&app, &request_token);
    signer(&key, "cloudcontrolapi").presign(&mut tampered, Duration::from_secs(300));
    let uri = tampered
        .uri()
        .to_string()
        .replace("Version=2021-09-30", "Version=2021-09-30&Extra=1");
    *tampered.uri_mut() = uri.parse().unwrap();
    let (status, body) = send(tampered).await;
    assert_eq!(status, 400);
    assert!(
        body.contains("<Code>InvalidSignatureException</Code>"),
        "{body}"
    );

    let mut expired = query_request(&app, &request_token);
    signer(&key, "cloudcontrolapi")
        .at_offset(-120)
        .presign(&mut expired, Duration::from_secs(60));
    let (status, body) = send(expired).await;
    assert_eq!(status, 400);
    assert!(
        body.contains("<Code>InvalidSignatureException</Code>"),
        "{body}"
    );
    assert!(body.contains("Signature expired"), "{body}");

    let (status, body) = send(query_request(&app, &request_token)).await;
    assert_eq!(status, 403, "unsigned: {body}");
    assert!(
        body.contains("<Code>MissingAuthenticationTokenException</Code>"),
        "{body}"
    );
}

async fn every_role_may_call_every_facade_operation(backend: Backend) {
    // Every facade operation is a client action (the table in
    // domain/permission.rs), so every role may call each of them; what
    // the roles add is on gRPC.
    let app = spawn_sigv4(backend).await;
    let operations = [
        (format!("{WAF}.GetChangeToken"), JSON_1_1, "waf", "{}"),
        (
            format!("{WAF}.GetChangeTokenStatus"),
            JSON_1_1,
            "waf",
            r#"{"ChangeToken":"none"}"#,
        ),
        (
            format!("{WAF_REGIONAL}.GetChangeToken"),
            JSON_1_1,
            "waf-regional",
            "{}",
        ),
        (
            format!("{CLOUD_CONTROL}.GetResourceRequestStatus"),
            JSON_1_0,
            "cloudcontrolapi",
            r#"{"RequestToken":"none"}"#,
        ),
        (
            format!("{CLOUD_CONTROL}.ListResourceRequests"),
            JSON_1_0,
            "cloudcontrolapi",
            "{}",
        ),
        (
            format!("{CLOUD_CONTROL}.CancelResourceRequest"),
            JSON_1_0,
            "cloudcontrolapi",
            r#"{"RequestToken":"none"}"#,
        ),
        (
            format!("{CLOUD_CONTROL}.CreateResource"),
            JSON_1_0,
            "cloudcontrolapi",
            r#"{"TypeName":"AWS::Logs::LogGroup","DesiredState":"{}"}"#,
        ),
        (
            format!("{CLOUD_CONTROL}.UpdateResource"),
            JSON_1_0,
            "cloudcontrolapi",
            r#"{"TypeName":"AWS::Logs::LogGroup","Identifier":"g","PatchDocument":"[]"}"#,
        ),
        (
            format!("{CLOUD_CONTROL}.DeleteResource"),
            JSON_1_0,
            "cloudcontrolapi",
            r#"{"TypeName":"AWS::Logs::LogGroup","Identifier":"g"}"#,
        ),
    ];
    for role in Role::ALL {
        let key = issue(&app, Some(ACCOUNT), role).await;
        for (target, content_type, service, body) in &operations {
            let mut request = aws_json_request(&app.http_endpoint(), target, content_type, body);
            signer(&key, service).sign(&mut request);
            let (status, name, message) = call(request).await;
            assert!(
                !name.contains("AccessDenied") && !name.contains("Signature") && status < 500,
                "{role:?} {target}: {status} {name} {message}"
            );
        }
    }
}

fn get_change_token_request() -> statusgate::grpc::proto::GetChangeTokenRequest {
    statusgate::grpc::proto::GetChangeTokenRequest {
        scope: crate::common::change_tokens::global(""),
    }
}

async fn revoked_keys_stop_working_on_every_replica_within_five_seconds(backend: Backend) {
    let first = spawn_sigv4(backend).await;
    let second = crate::common::auth::spawn_sigv4_on(first.database.clone()).await;
    let key = issue(&first, Some(ACCOUNT), Role::Client).await;
    let on_second = second.sdk_signing(&key.access_key_id, &key.secret_access_key, REGION);
    on_second
        .waf()
        .get_change_token()
        .send()
        .await
        .expect("the key works on the other replica");
    let mut grpc = crate::common::auth::change_tokens_as(&second, key.bearer()).await;
    grpc.get_change_token(get_change_token_request())
        .await
        .unwrap();

    first
        .application()
        .services()
        .credentials
        .revoke(&key.access_key_id)
        .await
        .unwrap();
    crate::common::wait_until(
        Duration::from_secs(5),
        "the revocation on the other replica",
        async || match on_second.waf().get_change_token().send().await {
            Err(error) => {
                let code = error
                    .as_service_error()
                    .and_then(|error| error.meta().code())
                    .unwrap_or_default()
                    .to_owned();
                if code == "UnrecognizedClientException" {
                    Ok(())
                } else {
                    Err(code)
                }
            }
            Ok(_) => Err("still accepted".to_owned()),
        },
    )
    .await;
    let refused = grpc
        .get_change_token(get_change_token_request())
        .await
        .unwrap_err();
    crate::common::grpc_errors::assert_error(
        &refused,
        tonic::Code::Unauthenticated,
        "UnrecognizedClientException",
    );
}

backend_tests!(
    sdk_calls_with_the_right_secret_work_unchanged,
    every_wrong_signature_gets_its_aws_error,
    presigned_query_requests_verify_and_expire,
    every_role_may_call_every_facade_operation,
    revoked_keys_stop_working_on_every_replica_within_five_seconds,
);

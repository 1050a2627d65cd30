//! Text the database cannot store (a NUL character) is refused where it
//! enters, naming the member, on both transports and both backends: a
//! client's mistake is a 400 / INVALID_ARGUMENT, never a server error (on
//! the old code Postgres failed the statement and the caller got a 500, and
//! SQLite stored it). A JSON `\u0000` escape is six characters of text and is
//! stored and returned as sent.

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde_json::{Value, json};
use statusgate::grpc::proto::{
    ConsumeChangeTokenRequest, CreateResourceRequestRequest, GetChangeTokenStatusRequest,
    Operation, OperationStatus,
};

use crate::backend_tests;
use crate::common::change_tokens::{get_token, global, regional};
use crate::common::facade::{
    CLOUD_CONTROL, JSON_1_0, JSON_1_1, WAF, WAF_REGIONAL, authorization, aws_json,
};
use crate::common::grpc_errors::assert_invalid_field;
use crate::common::resource_requests::{create, create_request, record, report};
use crate::common::{ACCOUNT, Backend, TYPE_NAME, TestApp};

const WITH_NUL: &str = "app\0logs";

async fn grpc_string_members_with_nul_are_invalid_arguments(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut requests = app.resource_requests().await;
    let delete = |identifier: &str| CreateResourceRequestRequest {
        account_id: ACCOUNT.into(),
        operation: Operation::Delete as i32,
        type_name: TYPE_NAME.into(),
        identifier: Some(identifier.into()),
        ..CreateResourceRequestRequest::default()
    };
    let refused = requests
        .create_resource_request(delete(WITH_NUL))
        .await
        .unwrap_err();
    assert_invalid_field(&refused, "ValidationException", "identifier");
    assert!(refused.message().contains("NUL"), "{}", refused.message());
    assert!(!refused.message().contains('\0'), "the echo is escaped");

    let mut with_role = delete("app-logs");
    with_role.role_arn = Some(format!("arn:aws:iam::123456789012:role/{WITH_NUL}"));
    let refused = requests
        .create_resource_request(with_role)
        .await
        .unwrap_err();
    assert_invalid_field(&refused, "ValidationException", "role_arn");

    let mut with_document = create_request(None);
    with_document.desired_state = Some("{\"LogGroupName\":\"\0\"}".into());
    let refused = requests
        .create_resource_request(with_document)
        .await
        .unwrap_err();
    assert_invalid_field(&refused, "ValidationException", "desired_state");

    let event = create(&mut requests, create_request(None)).await;
    let mut noted = report(&event.request_token, OperationStatus::InProgress);
    noted.status_message = Some(WITH_NUL.into());
    let refused = record(&mut requests, noted).await.unwrap_err();
    assert_invalid_field(&refused, "ValidationException", "status_message");
    let mut modelled = report(&event.request_token, OperationStatus::InProgress);
    modelled.resource_model = Some("{\"a\":\"\0\"}".into());
    let refused = record(&mut requests, modelled).await.unwrap_err();
    assert_invalid_field(&refused, "ValidationException", "resource_model");

    // The JSON escape is text: stored and returned as sent, on both backends.
    let escaped_model = r#"{"LogGroupName":"a\u0000b"}"#;
    let mut escaped = report(&event.request_token, OperationStatus::InProgress);
    escaped.resource_model = Some(escaped_model.into());
    escaped.status_message = Some("note \u{10FFFF} \u{1F600}".into());
    let recorded = record(&mut requests, escaped)
        .await
        .expect("an escape is storable");
    assert_eq!(recorded.resource_model.as_deref(), Some(escaped_model));
    let read =
        crate::common::resource_requests::status_of(&mut requests, ACCOUNT, &event.request_token)
            .await
            .unwrap();
    assert_eq!(read.resource_model.as_deref(), Some(escaped_model));
    assert_eq!(
        read.status_message.as_deref(),
        Some("note \u{10FFFF} \u{1F600}")
    );

    let mut tokens = app.change_tokens().await;
    let refused = tokens
        .get_change_token_status(GetChangeTokenStatusRequest {
            scope: global(ACCOUNT),
            change_token: WITH_NUL.into(),
        })
        .await
        .unwrap_err();
    assert_invalid_field(&refused, "WAFInvalidParameterException", "change_token");
    let token = get_token(&mut tokens, regional(ACCOUNT, "eu-west-1")).await;
    let refused = tokens
        .consume_change_token(ConsumeChangeTokenRequest {
            scope: regional(ACCOUNT, "eu-west-1"),
            change_token: token,
            change_description: format!("UpdateIPSet {WITH_NUL}"),
        })
        .await
        .unwrap_err();
    assert_invalid_field(
        &refused,
        "WAFInvalidParameterException",
        "change_description",
    );
}

/// An awsJson call as [`ACCOUNT`] with the body as raw JSON text.
async fn facade(app: &TestApp, target: &str, content_type: &str, body: &str) -> (u16, Value) {
    let response = aws_json(&app.http_endpoint(), target)
        .header(CONTENT_TYPE, content_type)
        .header(
            AUTHORIZATION,
            authorization(ACCOUNT, "eu-west-1", "cloudcontrolapi"),
        )
        .body(body.to_owned())
        .send()
        .await
        .expect("the facade answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON body"))
}

async fn facade_members_with_nul_are_validation_errors(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // `\u0000` in the request's JSON decodes to a NUL in the member.
    let (status, body) = facade(
        &app,
        &format!("{CLOUD_CONTROL}.DeleteResource"),
        JSON_1_0,
        &json!({"TypeName": TYPE_NAME, "Identifier": WITH_NUL}).to_string(),
    )
    .await;
    assert_eq!(
        (status, body["__type"].as_str()),
        (400, Some("com.amazonaws.cloudcontrol#ValidationException")),
        "{body}"
    );
    let message = body["Message"]
        .as_str()
        .or(body["message"].as_str())
        .unwrap_or_default();
    assert!(
        message.contains("at 'identifier'") && message.contains("NUL"),
        "{body}"
    );

    let (status, body) = facade(
        &app,
        &format!("{CLOUD_CONTROL}.CreateResource"),
        JSON_1_0,
        &json!({
            "TypeName": TYPE_NAME,
            "DesiredState": "{\"LogGroupName\":\"g\"}",
            "RoleArn": format!("arn:aws:iam::123456789012:role/{WITH_NUL}"),
        })
        .to_string(),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("at 'roleArn'"), "{body}");

    for target in [WAF, WAF_REGIONAL] {
        let (status, body) = facade(
            &app,
            &format!("{target}.GetChangeTokenStatus"),
            JSON_1_1,
            &json!({"ChangeToken": WITH_NUL}).to_string(),
        )
        .await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["__type"], "WAFInvalidParameterException", "{body}");
        assert_eq!(body["parameter"], "ChangeToken", "{body}");
    }

    // A document carrying the escape is accepted.
    let (status, body) = facade(
        &app,
        &format!("{CLOUD_CONTROL}.CreateResource"),
        JSON_1_0,
        &json!({"TypeName": TYPE_NAME, "DesiredState": r#"{"LogGroupName":"a\u0000b"}"#})
            .to_string(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

backend_tests!(
    grpc_string_members_with_nul_are_invalid_arguments,
    facade_members_with_nul_are_validation_errors,
);

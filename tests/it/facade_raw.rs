//! The AWS facade driven by raw HTTP, for everything an SDK never sends:
//! missing or unknown targets, bodies that are not JSON objects, members of
//! the wrong type, oversized and deeply nested bodies, the query/XML form,
//! and the headers of every answer. These test the protocol layer, so they
//! run on SQLite only (but for the database outage, which needs Postgres);
//! the SDK tests cover both backends.

use std::time::{Duration, SystemTime};

use regex::Regex;
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, DATE, HeaderMap};
use serde_json::{Value, json};

use crate::common::facade::{
    CLOUD_CONTROL, JSON_1_0, JSON_1_1, WAF, WAF_REGIONAL, authorization, aws_json,
};
use crate::common::{ACCOUNT, Backend, TYPE_NAME, TestApp, administer};

/// A raw awsJson call as [`ACCOUNT`]: `target` is `None` to leave the header out.
async fn post(
    app: &TestApp,
    target: Option<&str>,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    let request = match target {
        Some(target) => aws_json(&app.http_endpoint(), target),
        None => reqwest::Client::new().post(app.http_endpoint()),
    };
    request
        .header(CONTENT_TYPE, content_type)
        .header(
            AUTHORIZATION,
            authorization(ACCOUNT, "eu-west-1", "cloudcontrolapi"),
        )
        .body(body)
        .send()
        .await
        .expect("the server answers")
}

/// Asserts the headers every answer carries and returns the request id.
#[track_caller]
fn assert_common_headers(headers: &HeaderMap, content_type: &str) -> String {
    let request_id = headers
        .get("x-amzn-RequestId")
        .expect("x-amzn-RequestId")
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        uuid::Uuid::parse_str(&request_id).is_ok(),
        "request id {request_id}"
    );
    let date = headers.get(DATE).expect("Date").to_str().unwrap();
    let sent = httpdate::parse_http_date(date).expect("an HTTP date");
    let skew = SystemTime::now()
        .duration_since(sent)
        .unwrap_or_else(|early| early.duration());
    assert!(skew < Duration::from_secs(60), "Date {date} is off");
    assert_eq!(headers[CONTENT_TYPE], content_type);
    request_id
}

/// Asserts an awsJson error and returns the request id.
async fn assert_json_error(
    response: reqwest::Response,
    status: u16,
    content_type: &str,
    expected_body: Value,
) -> String {
    assert_eq!(response.status().as_u16(), status, "{expected_body}");
    let request_id = assert_common_headers(response.headers(), content_type);
    let error_type = expected_body["__type"].as_str().unwrap().to_owned();
    assert_eq!(response.headers()["x-amzn-ErrorType"], error_type.as_str());
    let body: Value = response.json().await.expect("a JSON body");
    assert_eq!(body, expected_body);
    request_id
}

async fn get_change_token(app: &TestApp) -> String {
    let response = post(app, Some(&format!("{WAF}.GetChangeToken")), JSON_1_1, "{}").await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["ChangeToken"]
        .as_str()
        .expect("a change token")
        .to_owned()
}

/// `GetChangeTokenStatus` of `token` on the WAF facade, as a client sends it.
async fn get_change_token_status(app: &TestApp, token: &str) -> reqwest::Response {
    post(
        app,
        Some(&format!("{WAF}.GetChangeTokenStatus")),
        JSON_1_1,
        json!({"ChangeToken": token}).to_string(),
    )
    .await
}

async fn create_resource(app: &TestApp) -> Value {
    let response = post(
        app,
        Some(&format!("{CLOUD_CONTROL}.CreateResource")),
        JSON_1_0,
        json!({"TypeName": TYPE_NAME, "DesiredState": "{\"LogGroupName\":\"raw\"}"}).to_string(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["ProgressEvent"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_rejections_are_aws_json_client_errors_and_the_server_keeps_serving() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let status_target = format!("{WAF}.GetChangeTokenStatus");
    let list_target = format!("{CLOUD_CONTROL}.ListResourceRequests");
    let deep = format!(
        "{{\"ChangeToken\":{}{}}}",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    // (target, content type, body, status, expected JSON body)
    let table: Vec<(Option<&str>, &str, String, u16, Value)> = vec![
        (
            None,
            JSON_1_1,
            "{}".into(),
            400,
            json!({"__type": "UnknownOperationException", "message": "missing X-Amz-Target header"}),
        ),
        (
            Some("AWSWAF_20150824.DeleteWebACL"),
            JSON_1_1,
            "{}".into(),
            400,
            json!({"__type": "UnknownOperationException", "message": "unknown operation \"AWSWAF_20150824.DeleteWebACL\""}),
        ),
        (
            Some("CloudApiService.GetChangeToken"),
            JSON_1_0,
            "{}".into(),
            400,
            json!({"__type": "UnknownOperationException", "message": "unknown operation \"CloudApiService.GetChangeToken\""}),
        ),
        (
            Some(&status_target),
            JSON_1_1,
            "ChangeToken=abc".into(),
            400,
            json!({"__type": "SerializationException", "message": "request body is not valid JSON: expected value at line 1 column 1"}),
        ),
        (
            Some(&status_target),
            JSON_1_1,
            "{\"ChangeToken\": \"abc\"".into(),
            400,
            json!({"__type": "SerializationException", "message": "request body is not valid JSON: EOF while parsing an object at line 1 column 21"}),
        ),
        (
            Some(&status_target),
            JSON_1_1,
            "[{\"ChangeToken\": \"abc\"}]".into(),
            400,
            json!({"__type": "SerializationException", "message": "request body must be a JSON object"}),
        ),
        (
            Some(&status_target),
            JSON_1_1,
            "{\"ChangeToken\": 5}".into(),
            400,
            json!({"__type": "SerializationException", "message": "member ChangeToken has the wrong type: invalid type: integer `5`, expected a string"}),
        ),
        (
            Some(&list_target),
            JSON_1_0,
            "{\"MaxResults\": \"10\"}".into(),
            400,
            json!({"__type": "SerializationException", "message": "member MaxResults has the wrong type: invalid type: string \"10\", expected i64"}),
        ),
        (
            Some(&list_target),
            JSON_1_0,
            "{\"ResourceRequestStatusFilter\": {\"Operations\": \"CREATE\"}}".into(),
            400,
            json!({"__type": "SerializationException", "message": "member ResourceRequestStatusFilter.Operations has the wrong type: invalid type: string \"CREATE\", expected a sequence"}),
        ),
        (
            Some(&status_target),
            JSON_1_1,
            deep,
            400,
            json!({"__type": "SerializationException", "message": "request body is not valid JSON: recursion limit exceeded at line 1 column 142"}),
        ),
        (
            Some(&status_target),
            JSON_1_1,
            format!(
                "{{\"ChangeToken\": \"{}\"}}",
                "a".repeat(1024 * 1024 + 1024)
            ),
            413,
            json!({"__type": "SerializationException", "message": "request body is larger than 1048576 bytes"}),
        ),
    ];
    for (target, content_type, body, status, expected_body) in table {
        let response = post(&app, target, content_type, body).await;
        // A routed operation answers in its service's dialect; a request
        // refused before routing has none and gets awsJson 1.1.
        let answered_type = if target == Some(list_target.as_str()) {
            JSON_1_0
        } else {
            JSON_1_1
        };
        assert_json_error(response, status, answered_type, expected_body).await;
    }

    // Neither a path nor a method other than POST / and GET / is served.
    for request in [
        reqwest::Client::new().post(format!("{}/2015-08-24/", app.http_endpoint())),
        reqwest::Client::new().put(app.http_endpoint()),
    ] {
        let response = request
            .header("X-Amz-Target", format!("{WAF}.GetChangeToken"))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_json_error(
            response,
            400,
            JSON_1_1,
            json!({"__type": "UnknownOperationException", "message": "operations are served by POST / (AWS JSON) or GET / (query form)"}),
        )
        .await;
    }

    // None of it hurt the server.
    let token = get_change_token(&app).await;
    let response = post(
        &app,
        Some(&status_target),
        JSON_1_1,
        json!({"ChangeToken": token}).to_string(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"ChangeTokenStatus": "PROVISIONED"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lenient_input_is_accepted() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    // An empty body is `{}`, and a charset on the content type is fine.
    let response = post(
        &app,
        Some(&format!("{WAF}.GetChangeToken")),
        "application/x-amz-json-1.1; charset=UTF-8",
        "",
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_common_headers(response.headers(), JSON_1_1);
    let token = response.json::<Value>().await.unwrap()["ChangeToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(get_change_token(&app).await, token);

    // Unknown members are ignored.
    let response = post(
        &app,
        Some(&format!("{WAF}.GetChangeTokenStatus")),
        "application/x-amz-json-1.1;charset=utf-8",
        json!({"ChangeToken": token, "Extra": {"nested": [1, 2, {"x": null}]}}).to_string(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"ChangeTokenStatus": "PROVISIONED"})
    );

    // `null` is absent: here a missing required member.
    let response = post(
        &app,
        Some(&format!("{WAF}.GetChangeTokenStatus")),
        JSON_1_1,
        "{\"ChangeToken\": null}",
    )
    .await;
    assert_json_error(
        response,
        400,
        JSON_1_1,
        json!({
            "__type": "WAFInvalidParameterException",
            "message": "1 validation error detected: Value null at 'changeToken' failed to satisfy constraint: Member must not be null",
            "field": "CHANGE_TOKEN",
            "parameter": "ChangeToken",
            "reason": "ILLEGAL_ARGUMENT",
        }),
    )
    .await;
    let response = post(
        &app,
        Some(&format!("{CLOUD_CONTROL}.ListResourceRequests")),
        JSON_1_0,
        "{\"MaxResults\": null, \"NextToken\": null, \"ResourceRequestStatusFilter\": {\"Operations\": null}}",
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"ResourceRequestStatusSummaries": []}),
        "no NextToken member when there is no next page"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_carry_aws_headers_numeric_timestamps_and_no_nulls() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let response = post(&app, Some(&format!("{WAF}.GetChangeToken")), JSON_1_1, "{}").await;
    let first_id = assert_common_headers(response.headers(), JSON_1_1);
    let response = post(
        &app,
        Some(&format!("{WAF_REGIONAL}.GetChangeToken")),
        JSON_1_1,
        "{}",
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let second_id = assert_common_headers(response.headers(), JSON_1_1);
    assert_ne!(first_id, second_id, "a fresh request id per request");

    let response = post(
        &app,
        Some(&format!("{CLOUD_CONTROL}.CreateResource")),
        JSON_1_0,
        json!({"TypeName": TYPE_NAME, "DesiredState": "{}"}).to_string(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_common_headers(response.headers(), JSON_1_0);
    let text = response.text().await.unwrap();
    assert!(!text.contains("null"), "absent members are omitted: {text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    let event = body["ProgressEvent"].as_object().unwrap();
    let mut members: Vec<&str> = event.keys().map(String::as_str).collect();
    members.sort_unstable();
    assert_eq!(
        members,
        [
            "EventTime",
            "Operation",
            "OperationStatus",
            "RequestToken",
            "TypeName"
        ]
    );
    let event_time = &event["EventTime"];
    assert!(event_time.is_number(), "EventTime {event_time}");
    let decimals = event_time
        .to_string()
        .split_once('.')
        .map_or(0, |(_, fraction)| fraction.len());
    assert!(decimals <= 3, "EventTime {event_time}");
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!((now - event_time.as_f64().unwrap()).abs() < 60.0);

    // Cloud Control errors: namespaced `__type`, `Message`.
    let response = post(
        &app,
        Some(&format!("{CLOUD_CONTROL}.GetResourceRequestStatus")),
        JSON_1_0,
        json!({"RequestToken": "missing-token"}).to_string(),
    )
    .await;
    assert_json_error(
        response,
        400,
        JSON_1_0,
        json!({
            "__type": "com.amazonaws.cloudcontrol#RequestTokenNotFoundException",
            "Message": "Request with token missing-token was not found",
        }),
    )
    .await;
    let response = post(
        &app,
        Some(&format!("{CLOUD_CONTROL}.ListResourceRequests")),
        JSON_1_0,
        json!({"ResourceRequestStatusFilter": {"OperationStatuses": ["DONE"]}}).to_string(),
    )
    .await;
    assert_json_error(
        response,
        400,
        JSON_1_0,
        json!({
            "__type": "com.amazonaws.cloudcontrol#ValidationException",
            "message": "1 validation error detected: Value 'DONE' at 'operationStatuses' failed to satisfy constraint: Member must satisfy enum value set: [PENDING, IN_PROGRESS, SUCCESS, FAILED, CANCEL_IN_PROGRESS, CANCEL_COMPLETE]",
        }),
    )
    .await;
    // WAF errors: bare `__type`, `message`.
    let response = post(
        &app,
        Some(&format!("{WAF_REGIONAL}.GetChangeTokenStatus")),
        JSON_1_1,
        json!({"ChangeToken": "abcd12f2-46da-4fdb-b8d5-fbd4c466928f"}).to_string(),
    )
    .await;
    assert_json_error(
        response,
        400,
        JSON_1_1,
        json!({
            "__type": "WAFNonexistentItemException",
            "message": "The referenced item abcd12f2-46da-4fdb-b8d5-fbd4c466928f does not exist",
        }),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waf_regional_without_a_signed_region_uses_us_east_1() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let get_change_token = || {
        aws_json(
            &app.http_endpoint(),
            &format!("{WAF_REGIONAL}.GetChangeToken"),
        )
        .header(CONTENT_TYPE, JSON_1_1)
        .body("{}")
    };
    let unsigned = get_change_token().send().await.unwrap();
    assert_eq!(unsigned.status(), StatusCode::OK);
    let unsigned_token = unsigned.json::<Value>().await.unwrap()["ChangeToken"].clone();
    let signed = get_change_token()
        .header(
            AUTHORIZATION,
            authorization("000000000000", "us-east-1", "waf-regional"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        signed.json::<Value>().await.unwrap()["ChangeToken"],
        unsigned_token
    );
}

/// The XML a successful query-form call answers with, as a pattern.
fn status_document_pattern(request_token: &str, request_id: &str) -> Regex {
    Regex::new(&format!(
        "^<GetResourceRequestStatusResponse xmlns=\"http://cloudcontrolapi.amazonaws.com/doc/2021-09-30/\">\
         <GetResourceRequestStatusResult><ProgressEvent>\
         <TypeName>AWS::Logs::LogGroup</TypeName>\
         <RequestToken>{request_token}</RequestToken>\
         <Operation>CREATE</Operation><OperationStatus>PENDING</OperationStatus>\
         <EventTime>\\d{{4}}-\\d{{2}}-\\d{{2}}T\\d{{2}}:\\d{{2}}:\\d{{2}}\\.\\d{{3}}Z</EventTime>\
         </ProgressEvent></GetResourceRequestStatusResult>\
         <ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>\
         </GetResourceRequestStatusResponse>$"
    ))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_query_form_answers_in_xml() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let event = create_resource(&app).await;
    let request_token = event["RequestToken"].as_str().unwrap().to_owned();
    let client = reqwest::Client::new();
    let query = [
        ("Action", "GetResourceRequestStatus"),
        ("RequestToken", request_token.as_str()),
        ("Version", "2021-09-30"),
    ];

    // GET signed with the account's key in the header...
    let response = client
        .get(app.http_endpoint())
        .query(&query)
        .header(
            AUTHORIZATION,
            authorization(ACCOUNT, "eu-west-1", "cloudcontrolapi"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let request_id = assert_common_headers(response.headers(), "text/xml");
    let document = response.text().await.unwrap();
    assert!(
        status_document_pattern(&request_token, &request_id).is_match(&document),
        "{document}"
    );

    // ...or presigned-style with the credential as a parameter, as on the reference page.
    let credential = format!("{ACCOUNT}/20160316/eu-west-1/cloudcontrolapi/aws4_request");
    let response = client
        .get(app.http_endpoint())
        .query(&query)
        .query(&[
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            ("X-Amz-Credential", credential.as_str()),
            ("X-Amz-Date", "20160316T233349Z"),
            ("X-Amz-SignedHeaders", "content-type;host"),
            ("X-Amz-Signature", "0000"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let request_id = assert_common_headers(response.headers(), "text/xml");
    let document = response.text().await.unwrap();
    assert!(
        status_document_pattern(&request_token, &request_id).is_match(&document),
        "{document}"
    );

    // The same as a form-encoded POST.
    let form = serde_urlencoded::to_string(query).unwrap();
    let response = client
        .post(app.http_endpoint())
        .header(
            CONTENT_TYPE,
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .header(
            AUTHORIZATION,
            authorization(ACCOUNT, "eu-west-1", "cloudcontrolapi"),
        )
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let request_id = assert_common_headers(response.headers(), "text/xml");
    let document = response.text().await.unwrap();
    assert!(
        status_document_pattern(&request_token, &request_id).is_match(&document),
        "{document}"
    );

    // Errors are an XML ErrorResponse; unsigned callers are the default account.
    let assert_xml_error = |response: reqwest::Response, code: &'static str, message: String| async move {
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let request_id = assert_common_headers(response.headers(), "text/xml");
        assert_eq!(
            response.text().await.unwrap(),
            format!(
                "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>\
                 <RequestId>{request_id}</RequestId></ErrorResponse>"
            )
        );
    };
    let response = client
        .get(app.http_endpoint())
        .query(&query)
        .send()
        .await
        .unwrap();
    assert_xml_error(
        response,
        "RequestTokenNotFoundException",
        format!("Request with token {request_token} was not found"),
    )
    .await;
    let response = client
        .post(app.http_endpoint())
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body("Action=GetResourceRequestStatus&RequestToken=b4a1cc5a-a2ae-4dec-9e1e-150123456789&Version=2021-09-30")
        .send()
        .await
        .unwrap();
    assert_xml_error(
        response,
        "RequestTokenNotFoundException",
        "Request with token b4a1cc5a-a2ae-4dec-9e1e-150123456789 was not found".to_owned(),
    )
    .await;
    let response = client.get(app.http_endpoint()).send().await.unwrap();
    assert_xml_error(
        response,
        "MissingAction",
        "the request must contain the parameter Action".to_owned(),
    )
    .await;
    let response = client
        .get(format!(
            "{}/?Action=GetResourceRequestStatus",
            app.http_endpoint()
        ))
        .send()
        .await
        .unwrap();
    assert_xml_error(
        response,
        "ValidationException",
        "1 validation error detected: Value null at &apos;requestToken&apos; failed to satisfy constraint: Member must not be null".to_owned(),
    )
    .await;
    let response = client
        .get(format!("{}/?Action=DeleteResource", app.http_endpoint()))
        .send()
        .await
        .unwrap();
    assert_xml_error(
        response,
        "InvalidAction",
        "the action &quot;DeleteResource&quot; is not served in the query form".to_owned(),
    )
    .await;
}

/// The status reads keep connections of their own out of the pool
/// (`store/postgres/read_connections.rs`): when the database closes them,
/// reads fail at most with the retryable database error for a moment, and
/// then answer on new connections.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_reads_answer_on_new_connections_after_the_database_closed_theirs() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let token = get_change_token(&app).await;
    let database = app.database.postgres_name().expect("a Postgres database");
    let read_status = || async {
        let response = get_change_token_status(&app, &token).await;
        let status = response.status();
        let body: Value = response.json().await.expect("a JSON body");
        (status, body)
    };
    let (status, body) = read_status().await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["ChangeTokenStatus"], "PROVISIONED");

    let mut admin = crate::common::admin_connection().await;
    let server_connections: Vec<i32> =
        sqlx::query_scalar("SELECT pid FROM pg_stat_activity WHERE datname = $1")
            .bind(database)
            .fetch_all(&mut admin)
            .await
            .expect("the server's connections");
    assert!(
        !server_connections.is_empty(),
        "the server held no connections to close"
    );
    sqlx::query("SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid")
        .bind(&server_connections)
        .execute(&mut admin)
        .await
        .expect("pg_terminate_backend");
    // Longer than the idleness after which a kept connection is pinged.
    tokio::time::sleep(Duration::from_millis(1_200)).await;

    // Until every closed connection has been found and dropped (and the
    // health watcher has seen the database again), a read may fail with the
    // retryable database error; within a few seconds reads answer again.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let mut answered = 0;
    while answered < 3 {
        let (status, body) = read_status().await;
        if status == StatusCode::OK {
            assert_eq!(body["ChangeTokenStatus"], "PROVISIONED");
            answered += 1;
            continue;
        }
        answered = 0;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|message| message.contains("unable to reach its database")),
            "{body}"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "reads still fail 15 s after closing {} connections: {body}",
            server_connections.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_is_an_aws_json_500_and_service_resumes() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let token = get_change_token(&app).await;
    let database = app.database.postgres_name().expect("a Postgres database");

    // Take the database away from the running server: no new connections,
    // and the open ones are closed.
    administer(&format!(
        "ALTER DATABASE \"{database}\" ALLOW_CONNECTIONS false"
    ))
    .await;
    administer(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}'"
    ))
    .await;
    let response = get_change_token_status(&app, &token).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_common_headers(response.headers(), JSON_1_1);
    assert_eq!(
        response.headers()["x-amzn-ErrorType"],
        "WAFInternalErrorException"
    );
    let body: Value = response.json().await.expect("a JSON body");
    assert_eq!(body["__type"], "WAFInternalErrorException");
    assert!(body["message"].is_string(), "{body}");
    let response = post(
        &app,
        Some(&format!("{CLOUD_CONTROL}.ListResourceRequests")),
        JSON_1_0,
        "{}",
    )
    .await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_common_headers(response.headers(), JSON_1_0);
    let body: Value = response.json().await.expect("a JSON body");
    assert_eq!(
        body["__type"],
        "com.amazonaws.cloudcontrol#ServiceInternalErrorException"
    );
    assert!(body["Message"].is_string(), "{body}");

    // Back again: the same token, served as before.
    administer(&format!(
        "ALTER DATABASE \"{database}\" ALLOW_CONNECTIONS true"
    ))
    .await;
    assert_eq!(get_change_token(&app).await, token);
}

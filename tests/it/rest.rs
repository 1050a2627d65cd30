//! The REST gateway over real HTTP: the proto3 JSON mapping both ways,
//! errors as `google.rpc.Status` with the gRPC code's HTTP status, SSE
//! watches that resume, the OpenAPI document, and with `--auth sigv4` the
//! same roles as gRPC on every route.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use statusgate::domain::credential::Role;

use crate::backend_tests;
use crate::common::auth::{issue, spawn_sigv4};
use crate::common::{ACCOUNT, Backend, OTHER_ACCOUNT, TYPE_NAME, TestApp, TestDatabase};

backend_tests!(
    requests_round_trip_in_the_proto3_json_mapping,
    errors_are_rpc_statuses_with_the_codes_http_status,
    watches_stream_server_sent_events_and_resume,
    change_tokens_issue_list_and_watch,
    every_route_admits_exactly_the_roles_of_its_rpc,
    a_key_reads_its_own_account_only,
);

async fn simulated_app(backend: Backend) -> TestApp {
    let database = std::sync::Arc::new(TestDatabase::new(backend).await);
    TestApp::spawn_with(
        database,
        std::sync::Arc::new(statusgate::domain::SystemClock),
        |config| config.simulate_provisioning = Some(Duration::from_millis(200)),
    )
    .await
}

/// Sends `request` and reads its JSON answer (see [`json_of`]).
async fn send(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    json_of(request.send().await.unwrap()).await
}

async fn json_of(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|value| value.to_str().unwrap().to_owned());
    let text = response.text().await.unwrap();
    assert_eq!(
        content_type.as_deref(),
        Some("application/json"),
        "{status} {text}"
    );
    (status, serde_json::from_str(&text).unwrap())
}

fn create_body(name: &str) -> Value {
    json!({
        "accountId": ACCOUNT,
        "operation": "OPERATION_CREATE",
        "typeName": TYPE_NAME,
        "desiredState": json!({ "LogGroupName": name }).to_string(),
        "clientToken": format!("token-{name}"),
    })
}

async fn requests_round_trip_in_the_proto3_json_mapping(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let http = reqwest::Client::new();
    let base = app.http_endpoint();

    let (status, created) = send(
        http.post(format!("{base}/v1/resource-requests"))
            .json(&create_body("group-a")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let event = &created["progressEvent"];
    assert_eq!(event["operation"], "OPERATION_CREATE");
    assert_eq!(event["operationStatus"], "OPERATION_STATUS_PENDING");
    assert_eq!(event["typeName"], TYPE_NAME);
    let token = event["requestToken"].as_str().unwrap().to_owned();
    let event_time = event["eventTime"].as_str().unwrap();
    assert!(
        time::OffsetDateTime::parse(event_time, &time::format_description::well_known::Rfc3339)
            .is_ok(),
        "{event_time} is RFC 3339"
    );
    assert!(
        event.get("statusMessage").is_none(),
        "unset fields are omitted"
    );

    // The same request as gRPC sees it, through the path and the query.
    let (status, read) = send(http.get(format!(
        "{base}/v1/resource-requests/{token}?accountId={ACCOUNT}"
    )))
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read["progressEvent"], *event);
    let mut client = app.resource_requests().await;
    let over_grpc = client
        .get_resource_request_status(statusgate::grpc::proto::GetResourceRequestStatusRequest {
            account_id: ACCOUNT.into(),
            request_token: token.clone(),
            region: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        over_grpc.progress_event.unwrap().request_token,
        token,
        "one store behind both transports"
    );

    // Repeated query parameters fill a repeated enum field, by proto name
    // or JSON name.
    http.post(format!("{base}/v1/resource-requests/{token}:cancel"))
        .json(&json!({ "accountId": ACCOUNT }))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
    send(
        http.post(format!("{base}/v1/resource-requests"))
            .json(&create_body("group-b")),
    )
    .await;
    let list = |query: &str| {
        let http = http.clone();
        let url = format!("{base}/v1/resource-requests?account_id={ACCOUNT}&{query}");
        async move { send(http.get(url)).await }
    };
    let (_, pending) =
        list("resourceRequestStatusFilter.operationStatuses=OPERATION_STATUS_PENDING").await;
    let names: Vec<&str> = pending["resourceRequestStatusSummaries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["operationStatus"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["OPERATION_STATUS_PENDING"]);
    let (_, both) = list(
        "resource_request_status_filter.operation_statuses=OPERATION_STATUS_PENDING\
         &resource_request_status_filter.operation_statuses=OPERATION_STATUS_CANCEL_COMPLETE",
    )
    .await;
    assert_eq!(
        both["resourceRequestStatusSummaries"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let (_, first_page) = list("maxResults=1").await;
    let next = first_page["nextToken"].as_str().expect("a second page");
    let (_, second_page) = list(&format!(
        "maxResults=1&nextToken={}",
        url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
    ))
    .await;
    assert_ne!(
        first_page["resourceRequestStatusSummaries"][0]["requestToken"],
        second_page["resourceRequestStatusSummaries"][0]["requestToken"]
    );

    // Every call counted once, as REST.
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            r#"statusgate_requests_total{transport="rest",operation="CreateResourceRequest",outcome="ok"} 2"#
        ),
        "{metrics}"
    );
}

async fn errors_are_rpc_statuses_with_the_codes_http_status(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let http = reqwest::Client::new();
    let base = app.http_endpoint();
    let reason = |body: &Value| {
        body["details"]
            .as_array()
            .unwrap()
            .iter()
            .find(|detail| detail["@type"] == "type.googleapis.com/google.rpc.ErrorInfo")
            .map(|detail| detail["reason"].as_str().unwrap().to_owned())
            .unwrap_or_else(|| panic!("no ErrorInfo in {body}"))
    };

    let (status, body) = send(http.get(format!("{base}/v1/resource-requests/no-such-token"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], 5);
    assert_eq!(reason(&body), "RequestTokenNotFoundException");

    // Invalid input: 400 with the member named in BadRequest, as on gRPC.
    let (status, body) = send(http.get(format!("{base}/v1/resource-requests?maxResults=0"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], 3);
    assert_eq!(reason(&body), "ValidationException");
    let violations = body["details"]
        .as_array()
        .unwrap()
        .iter()
        .find(|detail| detail["@type"] == "type.googleapis.com/google.rpc.BadRequest")
        .unwrap_or_else(|| panic!("no BadRequest in {body}"));
    assert_eq!(violations["fieldViolations"][0]["field"], "max_results");

    // What the gateway itself refuses.
    for (request, expected_status, expected_reason) in [
        (
            http.get(format!("{base}/v1/resource-requests?noSuchField=1")),
            StatusCode::BAD_REQUEST,
            "SerializationException",
        ),
        (
            http.get(format!("{base}/v1/resource-requests?maxResults=many")),
            StatusCode::BAD_REQUEST,
            "SerializationException",
        ),
        (
            http.post(format!("{base}/v1/resource-requests"))
                .body("[1, 2]"),
            StatusCode::BAD_REQUEST,
            "SerializationException",
        ),
        (
            http.post(format!("{base}/v1/resource-requests"))
                .body("{\"operation\": 1.5"),
            StatusCode::BAD_REQUEST,
            "SerializationException",
        ),
        (
            http.post(format!("{base}/v1/resource-requests"))
                .json(&json!({ "typeName": TYPE_NAME, "unknownMember": true })),
            StatusCode::BAD_REQUEST,
            "SerializationException",
        ),
        (
            http.delete(format!("{base}/v1/resource-requests")),
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
        ),
        (
            http.get(format!("{base}/v1/no-such-collection")),
            StatusCode::NOT_FOUND,
            "UnknownOperationException",
        ),
        (
            http.get(format!("{base}/v1/resource-requests/a%00b")),
            StatusCode::BAD_REQUEST,
            "ValidationException",
        ),
    ] {
        let (status, body) = send(request).await;
        assert_eq!(status, expected_status, "{body}");
        assert_eq!(reason(&body), expected_reason, "{body}");
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|text| !text.is_empty())
        );
    }
}

/// Reads a whole SSE stream (it ends after the terminal event) into
/// (id, data) pairs.
async fn read_events(response: reqwest::Response) -> Vec<(Option<String>, Value)> {
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let text = tokio::time::timeout(Duration::from_secs(30), response.text())
        .await
        .expect("the stream ends after the terminal event")
        .unwrap();
    text.split("\n\n")
        .filter(|block| block.lines().any(|line| line.starts_with("data:")))
        .map(|block| {
            let field = |name: &str| {
                block
                    .lines()
                    .find_map(|line| line.strip_prefix(name))
                    .map(|value| value.trim_start().to_owned())
            };
            let data = field("data:").unwrap();
            (field("id:"), serde_json::from_str(&data).unwrap())
        })
        .collect()
}

async fn watches_stream_server_sent_events_and_resume(backend: Backend) {
    let app = simulated_app(backend).await;
    let http = reqwest::Client::new();
    let base = app.http_endpoint();
    let (_, created) = send(
        http.post(format!("{base}/v1/resource-requests"))
            .json(&create_body("watched")),
    )
    .await;
    let token = created["progressEvent"]["requestToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let watch = format!("{base}/v1/resource-requests/{token}:watch?accountId={ACCOUNT}");

    let events = read_events(http.get(&watch).send().await.unwrap()).await;
    let statuses: Vec<&str> = events
        .iter()
        .map(|(_, data)| data["progressEvent"]["operationStatus"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "OPERATION_STATUS_PENDING",
            "OPERATION_STATUS_IN_PROGRESS",
            "OPERATION_STATUS_SUCCESS"
        ]
    );
    for (id, data) in &events {
        assert_eq!(
            id.as_deref(),
            data["eventNumber"].as_str(),
            "the id is the event number"
        );
    }

    // A reconnecting client gets only what it has not seen.
    let resumed = read_events(
        http.get(&watch)
            .header("Last-Event-ID", "2")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(resumed.len(), 1);
    assert_eq!(resumed[0].0.as_deref(), Some("3"));

    let (status, body) = send(http.get(&watch).header("Last-Event-ID", "not-a-number")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) =
        send(http.get(format!("{base}/v1/resource-requests/no-such-token:watch"))).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "an unknown request is an error, not a stream"
    );
}

async fn change_tokens_issue_list_and_watch(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let http = reqwest::Client::new();
    let base = app.http_endpoint();
    let issue = || {
        http.post(format!("{base}/v1/accounts/{ACCOUNT}/change-tokens"))
            .json(
                &json!({ "scope": { "endpoint": "WAF_ENDPOINT_REGIONAL", "region": "eu-west-1" } }),
            )
            .send()
    };
    let (status, first) = json_of(issue().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let (_, again) = json_of(issue().await.unwrap()).await;
    assert_eq!(first, again, "an unused token is issued once");
    let token = first["changeToken"].as_str().unwrap();

    let scope = format!(
        "scope.accountId={ACCOUNT}&scope.endpoint=WAF_ENDPOINT_REGIONAL&scope.region=eu-west-1"
    );
    let (_, listed) = send(http.get(format!("{base}/v1/change-tokens?{scope}"))).await;
    assert_eq!(listed["changeTokens"][0]["changeToken"], token);
    assert_eq!(
        listed["changeTokens"][0]["changeTokenStatus"],
        "CHANGE_TOKEN_STATUS_PROVISIONED"
    );

    // A worker uses it and marks it in sync; a watcher that joins after
    // PENDING resumes past it.
    let worker = |verb: &str| {
        http.post(format!("{base}/v1/change-tokens/{token}:{verb}"))
            .json(&json!({
                "scope": { "accountId": ACCOUNT, "endpoint": "WAF_ENDPOINT_REGIONAL", "region": "eu-west-1" },
                "changeDescription": "UpdateIPSet ipset-1",
            }))
            .send()
    };
    let consumed = worker("consume").await.unwrap();
    assert_eq!(consumed.status(), StatusCode::OK);
    let watch = http
        .get(format!("{base}/v1/change-tokens/{token}:watch?{scope}"))
        .header("Last-Event-ID", "2")
        .send()
        .await
        .unwrap();
    // The stream is open (its head arrived); now the change propagates.
    let marked = http
        .post(format!("{base}/v1/change-tokens/{token}:markInSync"))
        .json(&json!({ "scope": { "accountId": ACCOUNT, "endpoint": "WAF_ENDPOINT_REGIONAL", "region": "eu-west-1" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(marked.status(), StatusCode::OK);
    let events = read_events(watch).await;
    assert_eq!(events.len(), 1, "PENDING was seen already: {events:?}");
    assert_eq!(
        events[0].1["changeTokenStatus"],
        "CHANGE_TOKEN_STATUS_INSYNC"
    );

    let reused = worker("consume").await.unwrap();
    let (status, body) = json_of(reused).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["details"][0]["reason"], "WAFStaleDataException");
}

/// A minimal call of the route with `operation_id` from the OpenAPI
/// document: its path variables filled, an empty JSON body for a POST.
fn route_call(
    http: &reqwest::Client,
    base: &str,
    document: &Value,
    operation_id: &str,
) -> reqwest::RequestBuilder {
    let (path, verb) = document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .find_map(|(path, operations)| {
            operations
                .as_object()
                .unwrap()
                .iter()
                .find_map(|(verb, operation)| {
                    (operation["operationId"] == operation_id).then(|| (path.clone(), verb.clone()))
                })
        })
        .unwrap_or_else(|| panic!("{operation_id} is not in /openapi.json"));
    let path = path
        .replace("{scope_account_id}", ACCOUNT)
        .replace("{type_name}", TYPE_NAME)
        .split('{')
        .enumerate()
        .map(|(index, part)| {
            if index == 0 {
                part.to_owned()
            } else {
                // Every other variable: a value no store holds.
                let (_, rest) = part.split_once('}').unwrap();
                format!("no-such-thing{rest}")
            }
        })
        .collect::<String>();
    let url = format!("{base}{path}");
    match verb.as_str() {
        "get" => http.get(url),
        "post" => http.post(url).json(&json!({})),
        "put" => http.put(url).json(&json!({})),
        other => panic!("unexpected verb {other}"),
    }
}

/// The RPCs' least roles, spelled out here (as in grpc_auth) rather than
/// read from the table under test.
const ROUTES: [(&str, Role); 24] = [
    ("GetChangeToken", Role::Client),
    ("GetChangeTokenStatus", Role::Client),
    ("ListChangeTokens", Role::Client),
    ("WatchChangeToken", Role::Client),
    ("ConsumeChangeToken", Role::Worker),
    ("MarkChangeTokenInSync", Role::Worker),
    ("CreateResourceRequest", Role::Client),
    ("GetResourceRequestStatus", Role::Client),
    ("ListResourceRequests", Role::Client),
    ("CancelResourceRequest", Role::Client),
    ("ListProgressEvents", Role::Client),
    ("WaitResourceRequest", Role::Client),
    ("WatchResourceRequest", Role::Client),
    ("RecordProgressEvent", Role::Worker),
    ("RecordHookProgressEvent", Role::Worker),
    ("ClaimResourceRequests", Role::Worker),
    ("RenewLease", Role::Worker),
    ("GetResource", Role::Client),
    ("ListResources", Role::Client),
    ("CreateCredential", Role::Admin),
    ("ListCredentials", Role::Admin),
    ("RevokeCredential", Role::Admin),
    ("SetSimulationRules", Role::Admin),
    ("GetSimulationRules", Role::Admin),
];

fn rank(role: Role) -> u8 {
    match role {
        Role::Client => 0,
        Role::Worker => 1,
        Role::Admin => 2,
    }
}

async fn every_route_admits_exactly_the_roles_of_its_rpc(backend: Backend) {
    let app = spawn_sigv4(backend).await;
    let http = reqwest::Client::new();
    let base = app.http_endpoint();
    let document: Value = http
        .get(format!("{base}/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let documented = document["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|operations| operations.as_object().unwrap().values())
        .count();
    assert_eq!(documented, ROUTES.len(), "every route is in this table");

    let mut keys = Vec::new();
    for role in [Role::Client, Role::Worker, Role::Admin] {
        // Admins manage every account; the others are bound to one.
        let account = (role != Role::Admin).then_some(ACCOUNT);
        keys.push((role, issue(&app, account, role).await));
    }
    for (operation_id, least) in ROUTES {
        let (status, body) = send(route_call(&http, &base, &document, operation_id)).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{operation_id} without a key: {body}"
        );
        assert_eq!(body["code"], 16);
        let (status, _) = send(
            route_call(&http, &base, &document, operation_id)
                .bearer_auth("AKIDNOSUCHKEY0000000:wrong"),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{operation_id} with an unknown key"
        );

        for (role, key) in &keys {
            let response = route_call(&http, &base, &document, operation_id)
                .bearer_auth(format!("{}:{}", key.access_key_id, key.secret_access_key))
                .send()
                .await
                .unwrap();
            let status = response.status();
            let body = response.text().await.unwrap();
            if rank(*role) < rank(least) {
                assert_eq!(
                    status,
                    StatusCode::FORBIDDEN,
                    "{operation_id} as {role:?}: {body}"
                );
                assert!(body.contains("AccessDeniedException"), "{body}");
            } else {
                assert!(
                    status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                    "{operation_id} as {role:?} is admitted: {status} {body}"
                );
                assert!(!status.is_server_error(), "{operation_id}: {status} {body}");
            }
        }
    }
}

async fn a_key_reads_its_own_account_only(backend: Backend) {
    let app = spawn_sigv4(backend).await;
    let http = reqwest::Client::new();
    let base = app.http_endpoint();
    let mine = issue(&app, Some(ACCOUNT), Role::Client).await;
    let theirs = issue(&app, Some(OTHER_ACCOUNT), Role::Client).await;
    let bearer = |key: &crate::common::auth::Key| {
        format!("Bearer {}:{}", key.access_key_id, key.secret_access_key)
    };
    let mut body = create_body("mine");
    body.as_object_mut().unwrap().remove("accountId");
    let (status, created) = send(
        http.post(format!("{base}/v1/resource-requests"))
            .header("Authorization", bearer(&mine))
            .json(&body),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let token = created["progressEvent"]["requestToken"].as_str().unwrap();

    let (status, _) = send(
        http.get(format!("{base}/v1/resource-requests/{token}"))
            .header("Authorization", bearer(&theirs)),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "another account's request does not exist for it"
    );
    let (status, _) = send(
        http.get(format!(
            "{base}/v1/resource-requests/{token}?accountId={ACCOUNT}"
        ))
        .header("Authorization", bearer(&theirs)),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "naming another account is refused"
    );
    let (_, listed) = send(
        http.get(format!("{base}/v1/resource-requests"))
            .header("Authorization", bearer(&theirs)),
    )
    .await;
    assert!(
        listed.get("resourceRequestStatusSummaries").is_none(),
        "{listed}"
    );
    let (status, read) = send(
        http.get(format!("{base}/v1/resource-requests/{token}"))
            .header("Authorization", bearer(&mine)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read["progressEvent"]["requestToken"], token);
}

//! `NextToken` reveals nothing about other tenants: it names the caller's own
//! last listed request, pages only within the caller's account, refuses a
//! cursor of another account or an unknown one (`ValidationException` naming
//! `NextToken`), ends the listing when its request has expired, and refuses
//! the old global-sequence cursors with a clear message. On the old code a
//! cursor was a global sequence number, and any account could page with any
//! number.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use statusgate::grpc::proto::ListResourceRequestsRequest;

use crate::backend_tests;
use crate::common::grpc_errors::assert_invalid_field;
use crate::common::resource_requests::{Client, create, create_request};
use crate::common::{ACCOUNT, Backend, OTHER_ACCOUNT, TestApp};

async fn page(
    client: &mut Client,
    account: &str,
    next_token: Option<String>,
) -> Result<(Vec<String>, Option<String>), tonic::Status> {
    let response = client
        .list_resource_requests(ListResourceRequestsRequest {
            account_id: account.into(),
            max_results: Some(2),
            next_token,
            resource_request_status_filter: None,
            region: String::new(),
        })
        .await?
        .into_inner();
    let tokens = response
        .resource_request_status_summaries
        .into_iter()
        .map(|event| event.request_token)
        .collect();
    Ok((tokens, response.next_token))
}

async fn create_as(client: &mut Client, account: &str) -> String {
    let mut request = create_request(None);
    request.account_id = account.into();
    create(client, request).await.request_token
}

async fn cursors_name_the_callers_own_requests_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut client = app.resource_requests().await;
    let mut own = Vec::new();
    for _ in 0..5 {
        own.push(create_as(&mut client, ACCOUNT).await);
        create_as(&mut client, OTHER_ACCOUNT).await;
    }
    let (first, next_token) = page(&mut client, ACCOUNT, None).await.unwrap();
    assert_eq!(first, [own[4].clone(), own[3].clone()]);
    let next_token = next_token.expect("a second page");
    let decoded = String::from_utf8(BASE64.decode(&next_token).unwrap()).unwrap();
    assert!(decoded.starts_with("v2:"), "{decoded}");
    assert!(
        decoded.ends_with(&format!(":{}", own[3])),
        "the cursor names the page's last request of the account: {decoded}"
    );

    // Pages continue within the account, skipping the other account's requests.
    let (second, next_token) = page(&mut client, ACCOUNT, Some(next_token.clone()))
        .await
        .unwrap();
    assert_eq!(second, [own[2].clone(), own[1].clone()]);
    let (third, end) = page(&mut client, ACCOUNT, next_token).await.unwrap();
    assert_eq!((third, end), (vec![own[0].clone()], None));

    // Another account's cursor, a made-up one and a retired one are refused.
    let (_, foreign) = page(&mut client, ACCOUNT, None).await.unwrap();
    let refused = page(&mut client, OTHER_ACCOUNT, foreign).await.unwrap_err();
    assert_invalid_field(&refused, "ValidationException", "next_token");
    let now_micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros();
    let made_up = BASE64.encode(format!("v2:{now_micros}:{}", uuid::Uuid::new_v4()));
    let refused = page(&mut client, ACCOUNT, Some(made_up)).await.unwrap_err();
    assert_invalid_field(&refused, "ValidationException", "next_token");
    let retired = BASE64.encode("v1:3");
    let refused = page(&mut client, ACCOUNT, Some(retired)).await.unwrap_err();
    assert_invalid_field(&refused, "ValidationException", "next_token");
    assert!(
        refused.message().contains("list again without NextToken"),
        "{}",
        refused.message()
    );
}

async fn the_sdk_pages_with_cursors_and_another_account_cannot(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut client = app.resource_requests().await;
    for _ in 0..3 {
        create_as(&mut client, ACCOUNT).await;
        create_as(&mut client, OTHER_ACCOUNT).await;
    }
    // The requests were created over gRPC in the default region.
    let own = app.sdk(ACCOUNT, "us-east-1").cloudcontrol();
    let first = own
        .list_resource_requests()
        .max_results(2)
        .send()
        .await
        .expect("a first page");
    let next_token = first.next_token().expect("a second page").to_owned();
    let second = own
        .list_resource_requests()
        .max_results(2)
        .next_token(&next_token)
        .send()
        .await
        .expect("the second page");
    assert_eq!(second.resource_request_status_summaries().len(), 1);
    let other = app.sdk(OTHER_ACCOUNT, "us-east-1").cloudcontrol();
    let error = other
        .list_resource_requests()
        .next_token(&next_token)
        .send()
        .await
        .expect_err("another account's cursor");
    let error = error.into_service_error();
    assert_eq!(
        aws_sdk_cloudcontrol::error::ProvideErrorMetadata::code(&error),
        Some("ValidationException")
    );
    let message =
        aws_sdk_cloudcontrol::error::ProvideErrorMetadata::message(&error).unwrap_or_default();
    assert!(message.contains("at 'nextToken'"), "{message}");
}

async fn a_cursor_whose_request_expired_ends_the_listing(backend: Backend) {
    let (app, clock) = TestApp::spawn_on_manual_clock(backend, |config| {
        config.request_retention = Duration::from_secs(3600);
    })
    .await;
    let mut client = app.resource_requests().await;
    for _ in 0..3 {
        create_as(&mut client, ACCOUNT).await;
    }
    let (_, next_token) = page(&mut client, ACCOUNT, None).await.unwrap();
    assert!(next_token.is_some());
    clock.advance(Duration::from_secs(2 * 3600));
    // Purged or not, the cursor's request is gone from the listing: it ends.
    app.application()
        .services()
        .resource_requests
        .purge_expired(100)
        .await
        .unwrap();
    let (listed, end) = page(&mut client, ACCOUNT, next_token).await.unwrap();
    assert!(listed.is_empty() && end.is_none(), "{listed:?} {end:?}");
}

backend_tests!(
    cursors_name_the_callers_own_requests_only,
    the_sdk_pages_with_cursors_and_another_account_cannot,
    a_cursor_whose_request_expired_ends_the_listing,
);

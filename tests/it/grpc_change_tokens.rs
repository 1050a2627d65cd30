//! `ChangeTokenService` over a real gRPC socket.

use statusgate::grpc::proto::{
    ChangeTokenScope, ChangeTokenStatus, ConsumeChangeTokenRequest, GetChangeTokenRequest,
};
use tonic::Code;

use crate::backend_tests;
use crate::common::change_tokens::{consume, get_token, global, mark_in_sync, regional, status_of};
use crate::common::grpc_errors::{assert_error, assert_invalid_field};
use crate::common::{Backend, TestApp};

async fn token_lifecycle(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut client = app.change_tokens().await;
    let scope = global("123456789012");

    let first = get_token(&mut client, scope.clone()).await;
    assert!(
        uuid::Uuid::parse_str(&first).is_ok(),
        "tokens are UUIDs: {first}"
    );
    assert_eq!(
        get_token(&mut client, scope.clone()).await,
        first,
        "unused token is handed out again"
    );
    assert_eq!(
        status_of(&mut client, scope.clone(), &first).await.unwrap(),
        ChangeTokenStatus::Provisioned
    );

    assert_eq!(
        consume(&mut client, scope.clone(), &first).await.unwrap(),
        ChangeTokenStatus::Pending
    );
    assert_eq!(
        status_of(&mut client, scope.clone(), &first).await.unwrap(),
        ChangeTokenStatus::Pending
    );
    let second = get_token(&mut client, scope.clone()).await;
    assert_ne!(second, first, "a used token is not handed out again");

    assert_eq!(
        mark_in_sync(&mut client, scope.clone(), &first)
            .await
            .unwrap(),
        ChangeTokenStatus::Insync
    );
    assert_eq!(
        mark_in_sync(&mut client, scope.clone(), &first)
            .await
            .unwrap(),
        ChangeTokenStatus::Insync
    );
    assert_eq!(
        status_of(&mut client, scope.clone(), &first).await.unwrap(),
        ChangeTokenStatus::Insync
    );
}

async fn reusing_a_token_is_stale(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut client = app.change_tokens().await;
    let scope = global("");
    let token = get_token(&mut client, scope.clone()).await;
    consume(&mut client, scope.clone(), &token).await.unwrap();
    let stale = consume(&mut client, scope.clone(), &token)
        .await
        .unwrap_err();
    assert_error(&stale, Code::FailedPrecondition, "WAFStaleDataException");
    assert_eq!(
        stale.message(),
        format!("The change token {token} has already been used")
    );
    mark_in_sync(&mut client, scope.clone(), &token)
        .await
        .unwrap();
    let still_stale = consume(&mut client, scope, &token).await.unwrap_err();
    assert_error(
        &still_stale,
        Code::FailedPrecondition,
        "WAFStaleDataException",
    );
}

async fn in_sync_needs_a_used_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut client = app.change_tokens().await;
    let scope = global("");
    let token = get_token(&mut client, scope.clone()).await;
    let refused = mark_in_sync(&mut client, scope.clone(), &token)
        .await
        .unwrap_err();
    assert_error(
        &refused,
        Code::FailedPrecondition,
        "WAFInvalidOperationException",
    );
    assert_eq!(
        status_of(&mut client, scope, &token).await.unwrap(),
        ChangeTokenStatus::Provisioned
    );
}

async fn scopes_are_isolated(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut client = app.change_tokens().await;

    let global_token = get_token(&mut client, global("111111111111")).await;
    let ireland = get_token(&mut client, regional("111111111111", "eu-west-1")).await;
    let virginia = get_token(&mut client, regional("111111111111", "us-east-1")).await;
    let other_account = get_token(&mut client, global("222222222222")).await;
    let default_account = get_token(&mut client, global("")).await;
    let explicit_default = get_token(&mut client, global("000000000000")).await;
    let distinct: std::collections::HashSet<_> = [
        &global_token,
        &ireland,
        &virginia,
        &other_account,
        &default_account,
    ]
    .into_iter()
    .collect();
    assert_eq!(distinct.len(), 5, "each scope has its own token");
    assert_eq!(
        explicit_default, default_account,
        "an empty account is the default account"
    );

    // WAF global ignores the region.
    let global_with_region = Some(ChangeTokenScope {
        region: "ap-south-1".into(),
        ..global("111111111111").unwrap()
    });
    assert_eq!(
        get_token(&mut client, global_with_region).await,
        global_token
    );

    for (scope, foreign_token) in [
        (global("111111111111"), &ireland),
        (regional("111111111111", "eu-west-1"), &virginia),
        (regional("111111111111", "eu-west-1"), &global_token),
        (global("222222222222"), &global_token),
    ] {
        let missing = status_of(&mut client, scope.clone(), foreign_token)
            .await
            .unwrap_err();
        assert_error(&missing, Code::NotFound, "WAFNonexistentItemException");
        let not_consumed = consume(&mut client, scope, foreign_token)
            .await
            .unwrap_err();
        assert_error(&not_consumed, Code::NotFound, "WAFNonexistentItemException");
    }
    let unknown = status_of(
        &mut client,
        global(""),
        "abcd12f2-46da-4fdb-b8d5-fbd4c466928f",
    )
    .await
    .unwrap_err();
    assert_error(&unknown, Code::NotFound, "WAFNonexistentItemException");
    assert_eq!(
        unknown.message(),
        "The referenced item abcd12f2-46da-4fdb-b8d5-fbd4c466928f does not exist"
    );
}

async fn invalid_input_names_the_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut client = app.change_tokens().await;
    let reason = "WAFInvalidParameterException";

    let no_scope = client
        .get_change_token(GetChangeTokenRequest { scope: None })
        .await
        .unwrap_err();
    assert_invalid_field(&no_scope, reason, "scope");
    let no_endpoint = client
        .get_change_token(GetChangeTokenRequest {
            scope: Some(ChangeTokenScope::default()),
        })
        .await
        .unwrap_err();
    assert_invalid_field(&no_endpoint, reason, "endpoint");
    let unknown_endpoint = client
        .get_change_token(GetChangeTokenRequest {
            scope: Some(ChangeTokenScope {
                endpoint: 7,
                ..ChangeTokenScope::default()
            }),
        })
        .await
        .unwrap_err();
    assert_invalid_field(&unknown_endpoint, reason, "endpoint");
    let no_region = client
        .get_change_token(GetChangeTokenRequest {
            scope: regional("", ""),
        })
        .await
        .unwrap_err();
    assert_invalid_field(&no_region, reason, "region");
    let bad_region = client
        .get_change_token(GetChangeTokenRequest {
            scope: regional("", "EU WEST"),
        })
        .await
        .unwrap_err();
    assert_invalid_field(&bad_region, reason, "region");
    let bad_account = client
        .get_change_token(GetChangeTokenRequest {
            scope: global("12345"),
        })
        .await
        .unwrap_err();
    assert_invalid_field(&bad_account, reason, "account_id");

    let empty = status_of(&mut client, global(""), "").await.unwrap_err();
    assert_invalid_field(&empty, reason, "change_token");
    assert_eq!(
        empty.message(),
        "1 validation error detected: Value null at 'changeToken' failed to satisfy constraint: Member must not be null"
    );
    let blank = status_of(&mut client, global(""), "   ").await.unwrap_err();
    assert_invalid_field(&blank, reason, "change_token");
    let too_long = consume(&mut client, global(""), &"a".repeat(129))
        .await
        .unwrap_err();
    assert_invalid_field(&too_long, reason, "change_token");
    let long_description = client
        .consume_change_token(ConsumeChangeTokenRequest {
            scope: global(""),
            change_token: "t".into(),
            change_description: "d".repeat(4097),
        })
        .await
        .unwrap_err();
    assert_invalid_field(&long_description, reason, "change_description");
}

backend_tests!(
    token_lifecycle,
    reusing_a_token_is_stale,
    in_sync_needs_a_used_token,
    scopes_are_isolated,
    invalid_input_names_the_field,
);

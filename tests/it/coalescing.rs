//! Status reads are coalesced under load (and terminal statuses cached);
//! neither may change an answer: no row crosses accounts or scopes, and a read
//! that starts after a write was acknowledged sees that write.

use std::sync::Arc;

use statusgate::grpc::proto::{GetChangeTokenStatusRequest, OperationStatus};
use tonic::Code;

use crate::backend_tests;
use crate::common::change_tokens::{consume, get_token, global, regional};
use crate::common::grpc_errors::assert_error;
use crate::common::resource_requests::{
    Client, create, create_request, record, report, report_with_message, status_of,
};
use crate::common::{ACCOUNT, Backend, OTHER_ACCOUNT, TestApp};

/// Keeps `readers` tasks reading `token` until they are aborted,
/// so that the reads under test are coalesced with others.
fn background_reads(
    client: Client,
    token: String,
    readers: usize,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..readers)
        .map(|_| {
            let mut client = client.clone();
            let token = token.clone();
            tokio::spawn(async move {
                // Stops at the first error (the server is gone once the test
                // ends) and yields between calls, so it can never spin.
                while status_of(&mut client, ACCOUNT, &token).await.is_ok() {
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect()
}

async fn coalesced_reads_never_cross_accounts(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.resource_requests().await;
    let mut tokens = Vec::new();
    for _ in 0..5 {
        tokens.push(
            create(&mut client.clone(), create_request(None))
                .await
                .request_token,
        );
    }
    let tokens = Arc::new(tokens);
    let mut readers = Vec::new();
    for reader in 0..200usize {
        let mut client = client.clone();
        let tokens = tokens.clone();
        readers.push(tokio::spawn(async move {
            let token = &tokens[reader % tokens.len()];
            let (account, owner) = if reader % 2 == 0 {
                (ACCOUNT, true)
            } else {
                (OTHER_ACCOUNT, false)
            };
            (
                owner,
                token.clone(),
                status_of(&mut client, account, token).await,
            )
        }));
    }
    for reader in readers {
        let (owner, token, answer) = reader.await.unwrap();
        match (owner, answer) {
            (true, Ok(event)) => assert_eq!(event.request_token, token),
            (false, Err(status)) => {
                assert_error(&status, Code::NotFound, "RequestTokenNotFoundException")
            }
            (owner, answer) => panic!("owner={owner} got {answer:?}"),
        }
    }
}

async fn a_read_after_an_acknowledged_write_sees_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut client = app.resource_requests().await;
    let token = create(&mut client, create_request(None))
        .await
        .request_token;
    let noise = background_reads(client.clone(), token.clone(), 16);
    for step in 0..30 {
        let message = format!("step-{step}");
        record(
            &mut client,
            report_with_message(&token, OperationStatus::InProgress, &message),
        )
        .await
        .unwrap();
        let seen = status_of(&mut client, ACCOUNT, &token).await.unwrap();
        assert_eq!(
            seen.status_message.as_deref(),
            Some(message.as_str()),
            "a stale status was served"
        );
    }
    record(&mut client, report(&token, OperationStatus::Success))
        .await
        .unwrap();
    let finished = status_of(&mut client, ACCOUNT, &token).await.unwrap();
    assert_eq!(finished.operation_status(), OperationStatus::Success);
    for reader in noise {
        reader.abort();
    }
}

async fn coalesced_token_reads_respect_scope_and_freshness(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.change_tokens().await;
    let token = get_token(&mut client.clone(), global("123456789012")).await;
    let mut readers = Vec::new();
    for reader in 0..120usize {
        let mut client = client.clone();
        let token = token.clone();
        readers.push(tokio::spawn(async move {
            let scope = match reader % 3 {
                0 => global("123456789012"),
                1 => global("210987654321"),
                _ => regional("123456789012", "eu-west-1"),
            };
            let answer = client
                .get_change_token_status(GetChangeTokenStatusRequest {
                    scope,
                    change_token: token,
                })
                .await;
            (reader % 3 == 0, answer)
        }));
    }
    consume(&mut client.clone(), global("123456789012"), &token)
        .await
        .unwrap();
    let after = client
        .clone()
        .get_change_token_status(GetChangeTokenStatusRequest {
            scope: global("123456789012"),
            change_token: token.clone(),
        })
        .await
        .unwrap();
    assert_eq!(
        after.into_inner().change_token_status(),
        statusgate::grpc::proto::ChangeTokenStatus::Pending,
        "a read after the acknowledged consume sees PENDING"
    );
    for reader in readers {
        let (owner, answer) = reader.await.unwrap();
        match (owner, answer) {
            (true, Ok(_)) => {}
            (false, Err(status)) => {
                assert_error(&status, Code::NotFound, "WAFNonexistentItemException")
            }
            (owner, answer) => panic!("owner={owner} got {answer:?}"),
        }
    }
}

async fn cached_terminal_statuses_expire_with_their_request(backend: Backend) {
    use std::time::Duration;
    let (app, clock) = TestApp::spawn_on_manual_clock(backend, |config| {
        config.request_retention = Duration::from_secs(3600);
    })
    .await;
    let mut client = app.resource_requests().await;
    let token = create(&mut client, create_request(None))
        .await
        .request_token;
    record(&mut client, report(&token, OperationStatus::Success))
        .await
        .unwrap();
    for _ in 0..3 {
        // The first read caches the terminal status, the others are served from it.
        assert_eq!(
            status_of(&mut client, ACCOUNT, &token)
                .await
                .unwrap()
                .operation_status(),
            OperationStatus::Success
        );
    }
    let foreign = status_of(&mut client, OTHER_ACCOUNT, &token)
        .await
        .unwrap_err();
    assert_error(&foreign, Code::NotFound, "RequestTokenNotFoundException");
    clock.advance(Duration::from_secs(3601));
    let expired = status_of(&mut client, ACCOUNT, &token).await.unwrap_err();
    assert_error(&expired, Code::NotFound, "RequestTokenNotFoundException");
}

backend_tests!(
    cached_terminal_statuses_expire_with_their_request,
    coalesced_reads_never_cross_accounts,
    a_read_after_an_acknowledged_write_sees_it,
    coalesced_token_reads_respect_scope_and_freshness,
);

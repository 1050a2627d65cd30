//! Races settled by the database: on Postgres between two server processes
//! sharing one database, on SQLite within one server.

use std::collections::HashSet;
use std::sync::Arc;

use futures::future::join_all;
use statusgate::grpc::proto::{OperationStatus, ProgressEvent};
use tonic::Code;

use crate::backend_tests;
use crate::common::change_tokens::{consume, get_token, global, regional};
use crate::common::grpc_errors::assert_error;
use crate::common::resource_requests::{
    cancel, create, create_request, history, record, report, report_with_message, status_of,
};
use crate::common::{ACCOUNT, Backend, TestApp, TestDatabase};

/// Two servers on one Postgres database; SQLite is embedded, so one server.
async fn replicas(backend: Backend) -> Vec<TestApp> {
    let database = Arc::new(TestDatabase::new(backend).await);
    let first = TestApp::spawn_on(database.clone()).await;
    match backend {
        Backend::Postgres => vec![first, TestApp::spawn_on(database).await],
        Backend::Sqlite => vec![first],
    }
}

async fn concurrent_get_change_token_yields_one_token(backend: Backend) {
    let servers = replicas(backend).await;
    let clients = join_all(servers.iter().map(TestApp::change_tokens)).await;
    let mut calls = Vec::new();
    for call in 0..200 {
        let mut client = clients[call % clients.len()].clone();
        calls.push(tokio::spawn(async move {
            let scope = if call % 2 == 0 {
                global("123456789012")
            } else {
                regional("123456789012", "eu-west-1")
            };
            (call % 2, get_token(&mut client, scope).await)
        }));
    }
    let mut tokens_by_scope: [HashSet<String>; 2] = Default::default();
    for call in calls {
        let (scope, token) = call.await.unwrap();
        tokens_by_scope[scope].insert(token);
    }
    assert_eq!(
        tokens_by_scope[0].len(),
        1,
        "global scope: {:?}",
        tokens_by_scope[0]
    );
    assert_eq!(
        tokens_by_scope[1].len(),
        1,
        "regional scope: {:?}",
        tokens_by_scope[1]
    );
    assert_ne!(tokens_by_scope[0], tokens_by_scope[1]);
}

async fn concurrent_consumers_have_one_winner(backend: Backend) {
    let servers = replicas(backend).await;
    let clients = join_all(servers.iter().map(TestApp::change_tokens)).await;
    let token = get_token(&mut clients[0].clone(), global("")).await;
    let mut consumers = Vec::new();
    for consumer in 0..64 {
        let mut client = clients[consumer % clients.len()].clone();
        let token = token.clone();
        consumers.push(tokio::spawn(async move {
            consume(&mut client, global(""), &token).await
        }));
    }
    let mut winners = 0;
    for consumer in consumers {
        match consumer.await.unwrap() {
            Ok(_) => winners += 1,
            Err(status) => assert_error(&status, Code::FailedPrecondition, "WAFStaleDataException"),
        }
    }
    assert_eq!(winners, 1);
}

/// Whether `to` may follow `from` in a request's history (written out here
/// independently of the domain module, as the contract callers rely on).
fn may_follow(from: OperationStatus, to: OperationStatus) -> bool {
    use OperationStatus::*;
    match from {
        Pending => matches!(
            to,
            Pending | InProgress | Success | Failed | CancelInProgress | CancelComplete
        ),
        InProgress => matches!(to, InProgress | Success | Failed | CancelInProgress),
        CancelInProgress => matches!(to, CancelInProgress | CancelComplete | Success | Failed),
        Success | Failed | CancelComplete | Unspecified => false,
    }
}

async fn concurrent_writers_keep_a_valid_history(backend: Backend) {
    let servers = replicas(backend).await;
    let clients = join_all(servers.iter().map(TestApp::resource_requests)).await;
    for round in 0..3 {
        let token = create(&mut clients[0].clone(), create_request(None))
            .await
            .request_token;
        let mut writers = Vec::new();
        for writer in 0..48usize {
            let mut client = clients[writer % clients.len()].clone();
            let token = token.clone();
            writers.push(tokio::spawn(async move {
                let message = format!("writer-{round}-{writer}");
                let outcome = match writer % 6 {
                    0 => cancel(&mut client, &token).await,
                    1 if writer > 24 => {
                        record(
                            &mut client,
                            report_with_message(&token, OperationStatus::Success, &message),
                        )
                        .await
                    }
                    2 if writer > 30 => {
                        record(
                            &mut client,
                            report_with_message(&token, OperationStatus::CancelComplete, &message),
                        )
                        .await
                    }
                    _ => {
                        record(
                            &mut client,
                            report_with_message(&token, OperationStatus::InProgress, &message),
                        )
                        .await
                    }
                };
                (message, outcome)
            }));
        }
        let mut accepted_messages = Vec::new();
        for writer in writers {
            let (message, outcome) = writer.await.unwrap();
            match outcome {
                Ok(event) if event.status_message.as_deref() == Some(message.as_str()) => {
                    accepted_messages.push(message)
                }
                Ok(_) => {} // a cancel answered with the current state
                Err(status) => assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}"),
            }
        }

        let events: Vec<ProgressEvent> = history(&mut clients[0].clone(), &token).await;
        assert_eq!(events[0].operation_status(), OperationStatus::Pending);
        for pair in events.windows(2) {
            assert!(
                may_follow(pair[0].operation_status(), pair[1].operation_status()),
                "invalid transition {:?} -> {:?} in {:?}",
                pair[0].operation_status(),
                pair[1].operation_status(),
                events
                    .iter()
                    .map(ProgressEvent::operation_status)
                    .collect::<Vec<_>>()
            );
        }
        for message in &accepted_messages {
            let kept = events
                .iter()
                .filter(|event| event.status_message.as_deref() == Some(message.as_str()))
                .count();
            assert_eq!(kept, 1, "accepted event {message} kept exactly once");
        }
        let current = status_of(&mut clients[0].clone(), ACCOUNT, &token)
            .await
            .unwrap();
        assert_eq!(
            &current,
            events.last().unwrap(),
            "the current state is the last event"
        );
    }
}

async fn concurrent_creates_with_one_client_token_make_one_request(backend: Backend) {
    let servers = replicas(backend).await;
    let clients = join_all(servers.iter().map(TestApp::resource_requests)).await;
    let mut creates = Vec::new();
    for call in 0..60usize {
        let mut client = clients[call % clients.len()].clone();
        creates.push(tokio::spawn(async move {
            // Every third call has its own client token; the rest share one,
            // half of those with a different desired state.
            let (client_token, conflicting) = match call % 3 {
                0 => (format!("own-{call}"), false),
                1 => ("shared".to_owned(), false),
                _ => ("shared".to_owned(), true),
            };
            let mut request = create_request(Some(&client_token));
            if conflicting {
                request.desired_state = Some(r#"{"LogGroupName":"other"}"#.into());
            }
            let answer = client.create_resource_request(request).await;
            (client_token, conflicting, answer)
        }));
    }
    let mut shared_tokens = HashSet::new();
    let mut own_tokens = HashSet::new();
    let mut shared_input_of_winner = None;
    let mut conflicts = 0;
    for create in creates {
        let (client_token, conflicting, answer) = create.await.unwrap();
        match answer {
            Ok(response) => {
                let event = response.into_inner().progress_event.unwrap();
                if client_token == "shared" {
                    shared_tokens.insert(event.request_token);
                    assert!(
                        shared_input_of_winner.is_none_or(|winner| winner == conflicting),
                        "both inputs won"
                    );
                    shared_input_of_winner = Some(conflicting);
                } else {
                    own_tokens.insert(event.request_token);
                }
            }
            Err(status) => {
                assert_eq!(client_token, "shared", "{status:?}");
                assert_error(&status, Code::AlreadyExists, "ClientTokenConflictException");
                conflicts += 1;
            }
        }
    }
    assert_eq!(
        shared_tokens.len(),
        1,
        "one request per client token: {shared_tokens:?}"
    );
    assert_eq!(
        own_tokens.len(),
        20,
        "every distinct client token made its request"
    );
    assert_eq!(conflicts, 20, "every call with the other input conflicted");
}

async fn writes_cut_off_by_their_callers_leave_the_store_usable(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.resource_requests().await;
    let token = create(&mut client.clone(), create_request(None))
        .await
        .request_token;
    let mut cut = Vec::new();
    for call in 0..600u64 {
        let mut client = client.clone();
        let token = token.clone();
        cut.push(tokio::spawn(async move {
            // Deadlines of 0..3 ms: many calls are abandoned mid-write.
            let deadline = std::time::Duration::from_micros(call % 3000);
            if call % 2 == 0 {
                let mut request = tonic::Request::new(create_request(None));
                request.set_timeout(deadline);
                let _ = client.create_resource_request(request).await;
            } else {
                let mut request = tonic::Request::new(report(&token, OperationStatus::InProgress));
                request.set_timeout(deadline);
                let _ = client.record_progress_event(request).await;
            }
        }));
    }
    for call in cut {
        call.await.unwrap();
    }
    // A fresh connection: the server may have closed the one that reset so
    // many streams (HTTP/2 rapid-reset protection).
    let mut client = app.resource_requests().await;
    for _ in 0..20 {
        let created = client.create_resource_request(create_request(None)).await;
        assert!(
            created.is_ok(),
            "a write after abandoned ones failed: {created:?}"
        );
        let recorded = record(&mut client, report(&token, OperationStatus::InProgress)).await;
        assert!(
            recorded.is_ok(),
            "a write after abandoned ones failed: {recorded:?}"
        );
    }
}

backend_tests!(
    writes_cut_off_by_their_callers_leave_the_store_usable,
    concurrent_creates_with_one_client_token_make_one_request,
    concurrent_get_change_token_yields_one_token,
    concurrent_consumers_have_one_winner,
    concurrent_writers_keep_a_valid_history,
);

//! One caller's failing statement never fails another caller coalesced into
//! the same group (Postgres group commit). The edge refuses what the
//! database cannot store, so the flood of bad creates here goes through the
//! store API with a request token that already exists: a primary-key
//! violation, one of the failures no edge check can rule out. On the old code
//! every good create grouped with a bad one failed with it.

use std::sync::Arc;

use statusgate::domain::resource_request::{NewResourceRequest, Operation, ResourceRequestInput};
use statusgate::domain::values::{JsonDocument, RequestToken, TypeName};
use statusgate::domain::{AccountId, Clock, SystemClock};
use statusgate::store::{CreateOutcome, Store};
use tokio::task::JoinSet;

use crate::common::{ACCOUNT, Backend, OTHER_ACCOUNT, TYPE_NAME, open_test_store, scope_of};

/// Bad and good creates per round; rounds repeat the race.
const PER_SIDE: usize = 150;
const ROUNDS: usize = 3;

fn new_request(account: &str, request_token: RequestToken) -> NewResourceRequest {
    NewResourceRequest {
        scope: scope_of(&AccountId::parse(account).unwrap()),
        request_token,
        client_token: None,
        input: ResourceRequestInput {
            operation: Operation::Create,
            type_name: TypeName::parse(TYPE_NAME).unwrap(),
            identifier: None,
            desired_state: Some(
                JsonDocument::parse("DesiredState", r#"{"LogGroupName":"g"}"#).unwrap(),
            ),
            patch_document: None,
            role_arn: None,
            type_version_id: None,
        },
        created_at: SystemClock.now(),
    }
}

fn fresh_token() -> RequestToken {
    RequestToken::parse(uuid::Uuid::new_v4().to_string()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_failing_creates_fails_no_other_account() {
    let (store, _database) = open_test_store(Backend::Postgres).await;
    let taken = fresh_token();
    let first = store
        .create_resource_request(&new_request(ACCOUNT, taken.clone()))
        .await;
    assert!(matches!(first, Ok(CreateOutcome::Created(_))));

    for round in 0..ROUNDS {
        let mut calls: JoinSet<(bool, Result<(), String>)> = JoinSet::new();
        for index in 0..PER_SIDE * 2 {
            let store: Arc<dyn Store> = store.clone();
            let good = index % 2 == 0;
            let request = if good {
                new_request(OTHER_ACCOUNT, fresh_token())
            } else {
                new_request(ACCOUNT, taken.clone())
            };
            calls.spawn(async move {
                let outcome = store.create_resource_request(&request).await;
                let outcome = match outcome {
                    Ok(CreateOutcome::Created(_)) => Ok(()),
                    Ok(CreateOutcome::ClientTokenTaken(_)) => Err("client token taken".to_owned()),
                    Ok(CreateOutcome::ResourceBusy) => Err("resource busy".to_owned()),
                    Err(error) => Err(error.to_string()),
                };
                (good, outcome)
            });
        }
        let (mut good_failures, mut bad_successes) = (Vec::new(), 0);
        while let Some(joined) = calls.join_next().await {
            match joined.unwrap() {
                (true, Err(error)) => good_failures.push(error),
                (false, Ok(())) => bad_successes += 1,
                _ => {}
            }
        }
        assert!(
            good_failures.is_empty(),
            "round {round}: {} good creates failed with another caller's error, e.g. {:?}",
            good_failures.len(),
            good_failures.first()
        );
        assert_eq!(
            bad_successes, 0,
            "round {round}: a duplicate request token was stored"
        );
    }
}

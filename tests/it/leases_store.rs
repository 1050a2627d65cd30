//! The claiming and notification contracts of the store
//! (`ResourceRequestLeases`, `Notifications`), checked against SQLite and
//! Postgres alike, without a server: what a claim hands out and writes,
//! which writes release a lease, and that every write a watcher waits for
//! wakes its subscription.

use std::sync::Arc;
use std::time::Duration;

use statusgate::domain::change_token::ChangeTokenScope;
use statusgate::domain::lease::{Lease, decide_claim, decide_renew};
use statusgate::domain::resource_request::{
    Decision, NewResourceRequest, Operation, OperationStatus, ProgressEvent, ResourceRequestInput,
    StoredResourceRequest,
};
use statusgate::domain::values::{
    ChangeDescription, JsonDocument, LeaseToken, RequestToken, TypeName, TypeNamePrefix, WorkerId,
};
use statusgate::domain::{AccountId, Error, Timestamp};
use statusgate::store::{ClaimQuery, CreateOutcome, Store, Subscription, Topic};

use crate::backend_tests;
use crate::common::change_tokens::named_token;
use crate::common::{ACCOUNT, Backend, OTHER_ACCOUNT, open_test_store, scope_of};

const EPOCH: Timestamp = Timestamp::from_micros(1_700_000_000_000_000);
const LEASE: Duration = Duration::from_secs(30);

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_micros(EPOCH.as_micros() + seconds * 1_000_000)
}

fn account(id: &str) -> AccountId {
    AccountId::parse(id).unwrap()
}

async fn create_at(
    store: &dyn Store,
    owner: &str,
    type_name: &str,
    created_at: Timestamp,
) -> RequestToken {
    let request = NewResourceRequest {
        scope: scope_of(&account(owner)),
        request_token: RequestToken::parse(uuid::Uuid::new_v4().to_string()).unwrap(),
        client_token: None,
        input: ResourceRequestInput {
            operation: Operation::Create,
            type_name: TypeName::parse(type_name).unwrap(),
            identifier: None,
            desired_state: Some(JsonDocument::parse("DesiredState", "{}").unwrap()),
            patch_document: None,
            role_arn: None,
            type_version_id: None,
        },
        created_at,
    };
    match store.create_resource_request(&request).await.unwrap() {
        CreateOutcome::Created(stored) => {
            RequestToken::parse(stored.current.request_token).unwrap()
        }
        CreateOutcome::ClientTokenTaken(_) | CreateOutcome::ResourceBusy => {
            panic!("expected a new request")
        }
    }
}

/// Everything claimable at `now`, of any account and type, at most `limit`.
fn query(now: Timestamp, limit: u32) -> ClaimQuery {
    ClaimQuery {
        account: None,
        region: None,
        type_name_prefix: None,
        now,
        last_event_at_or_before: now,
        visible_since: at(-100),
        limit,
    }
}

/// Claims with a fresh lease for `worker` from `now`.
async fn claim(store: &dyn Store, query: &ClaimQuery, worker: &str) -> Vec<StoredResourceRequest> {
    let now = query.now;
    let decide = |request: &StoredResourceRequest| {
        let token = LeaseToken::parse(uuid::Uuid::new_v4().to_string()).unwrap();
        decide_claim(
            request,
            Lease::new(token, WorkerId::parse(worker).unwrap(), now, LEASE),
            now,
        )
    };
    store.claim_resource_requests(query, &decide).await.unwrap()
}

fn tokens(claimed: &[StoredResourceRequest]) -> Vec<String> {
    claimed
        .iter()
        .map(|request| request.current.request_token.clone())
        .collect()
}

/// Appends an event in `status` at `now`, whatever the state machine says.
async fn force_status(
    store: &dyn Store,
    token: &RequestToken,
    status: OperationStatus,
    now: Timestamp,
) -> ProgressEvent {
    let decide = |request: &StoredResourceRequest| {
        Ok::<_, Error>(Decision::Append(ProgressEvent {
            operation_status: status,
            event_time: now,
            ..request.current.clone()
        }))
    };
    store
        .update_resource_request(&scope_of(&account(ACCOUNT)), token, at(-100), &decide)
        .await
        .unwrap()
}

async fn stored(store: &dyn Store, token: &RequestToken) -> StoredResourceRequest {
    store
        .get_resource_request(&scope_of(&account(ACCOUNT)), token, at(-100))
        .await
        .unwrap()
}

async fn claims_hand_out_the_oldest_claimable_requests_once(backend: Backend) {
    let (store, _database) = open_test_store(backend).await;
    let store = store.as_ref();
    let first = create_at(store, ACCOUNT, "AWS::Logs::LogGroup", at(0)).await;
    let second = create_at(store, ACCOUNT, "AWS::Logs::LogGroup", at(1)).await;
    let unleased_in_progress = create_at(store, ACCOUNT, "AWS::Logs::LogGroup", at(2)).await;
    force_status(
        store,
        &unleased_in_progress,
        OperationStatus::InProgress,
        at(2),
    )
    .await;
    let finished = create_at(store, ACCOUNT, "AWS::Logs::LogGroup", at(3)).await;
    force_status(store, &finished, OperationStatus::Success, at(3)).await;
    let cancelling = create_at(store, ACCOUNT, "AWS::Logs::LogGroup", at(4)).await;
    force_status(store, &cancelling, OperationStatus::InProgress, at(4)).await;
    force_status(store, &cancelling, OperationStatus::CancelInProgress, at(4)).await;
    let expired = create_at(store, ACCOUNT, "AWS::Logs::LogGroup", at(-200)).await;

    let claimed = claim(store, &query(at(10), 2), "a").await;
    assert_eq!(tokens(&claimed), [first.to_string(), second.to_string()]);
    for request in &claimed {
        assert_eq!(
            request.current.operation_status,
            OperationStatus::InProgress
        );
        assert_eq!(request.current.event_time, at(10));
        assert_eq!(request.event_count, 2);
        let lease = request.lease.as_ref().expect("a lease");
        assert_eq!(lease.expires_at, at(40));
        assert_eq!(lease.worker_id.as_str(), "a");
    }
    let history = store
        .list_progress_events(&scope_of(&account(ACCOUNT)), &first, at(-100))
        .await
        .unwrap();
    assert_eq!(
        history.len(),
        2,
        "claiming a PENDING request recorded IN_PROGRESS"
    );
    assert_eq!(stored(store, &first).await.lease, claimed[0].lease);

    // The rest: the cancellation only (no lease-less IN_PROGRESS, nothing
    // finished, nothing expired, nothing leased).
    let rest = claim(store, &query(at(10), 10), "b").await;
    assert_eq!(tokens(&rest), [cancelling.to_string()]);
    assert_eq!(
        rest[0].current.operation_status,
        OperationStatus::CancelInProgress
    );
    assert_eq!(
        rest[0].event_count, 3,
        "no event for taking over a cancellation"
    );
    assert!(claim(store, &query(at(39), 10), "c").await.is_empty());
    let _ = expired;

    // Once the leases expire (at 40), their IN_PROGRESS requests go again,
    // oldest first, with no new event.
    let again = claim(store, &query(at(40), 10), "c").await;
    assert_eq!(
        tokens(&again),
        [
            first.to_string(),
            second.to_string(),
            cancelling.to_string()
        ]
    );
    assert_eq!(again[0].event_count, 2);
    assert_ne!(again[0].lease, claimed[0].lease);
}

async fn claims_filter_by_account_type_and_event_age(backend: Backend) {
    let (store, _database) = open_test_store(backend).await;
    let store = store.as_ref();
    let logs = create_at(store, ACCOUNT, "AWS::Logs::LogGroup", at(0)).await;
    let bucket = create_at(store, ACCOUNT, "AWS::S3::Bucket", at(1)).await;
    let others = create_at(store, OTHER_ACCOUNT, "AWS::Logs::LogGroup", at(2)).await;
    let young = create_at(store, ACCOUNT, "AWS::Logs::LogGroup", at(9)).await;
    let filtered = |account_id: Option<&str>, prefix: Option<&str>, age_cutoff| ClaimQuery {
        account: account_id.map(account),
        type_name_prefix: prefix.map(|prefix| TypeNamePrefix::parse(prefix).unwrap()),
        last_event_at_or_before: age_cutoff,
        ..query(at(10), 10)
    };
    let s3 = claim(store, &filtered(None, Some("AWS::S3::"), at(10)), "w").await;
    assert_eq!(tokens(&s3), [bucket.to_string()]);
    let old_logs_of_account = claim(
        store,
        &filtered(Some(ACCOUNT), Some("AWS::Logs::"), at(5)),
        "w",
    )
    .await;
    assert_eq!(tokens(&old_logs_of_account), [logs.to_string()]);
    let rest = claim(store, &filtered(None, None, at(10)), "w").await;
    assert_eq!(tokens(&rest), [others.to_string(), young.to_string()]);
}

async fn renewals_extend_and_terminal_events_release_the_lease(backend: Backend) {
    let (store, _database) = open_test_store(backend).await;
    let store = store.as_ref();
    let token = create_at(store, ACCOUNT, "AWS::Logs::LogGroup", at(0)).await;
    let claimed = claim(store, &query(at(1), 1), "w").await;
    let lease = claimed[0].lease.clone().unwrap();
    let renew = |request: &StoredResourceRequest| decide_renew(request, &lease.token, None, at(20));
    let current = store
        .update_resource_request(&scope_of(&account(ACCOUNT)), &token, at(-100), &renew)
        .await
        .unwrap();
    assert_eq!(current.operation_status, OperationStatus::InProgress);
    let renewed = stored(store, &token).await;
    assert_eq!(renewed.lease.as_ref().unwrap().expires_at, at(50));
    assert_eq!(renewed.event_count, 2, "a renewal appends no event");

    force_status(store, &token, OperationStatus::CancelInProgress, at(21)).await;
    assert!(
        stored(store, &token).await.lease.is_some(),
        "a cancel keeps the lease"
    );
    force_status(store, &token, OperationStatus::CancelComplete, at(22)).await;
    assert_eq!(
        stored(store, &token).await.lease,
        None,
        "a terminal event releases it"
    );
}

async fn woken(subscription: &mut Subscription) -> bool {
    tokio::time::timeout(Duration::from_secs(5), subscription.changed())
        .await
        .is_ok()
}

async fn writes_wake_their_subscribers_and_no_one_else(backend: Backend) {
    let (store, _database) = open_test_store(backend).await;
    let token = create_at(store.as_ref(), ACCOUNT, "AWS::Logs::LogGroup", at(0)).await;
    let other = create_at(store.as_ref(), ACCOUNT, "AWS::Logs::LogGroup", at(0)).await;
    let mut watching = store.subscribe(Topic::RequestEvents(token.to_string()));
    let mut bystander = store.subscribe(Topic::RequestEvents(other.to_string()));
    if backend == Backend::Postgres {
        // The listener connects with the first subscription and then wakes
        // every subscriber once ("look again"): take that wake first.
        assert!(woken(&mut watching).await, "the listener's first wake");
        assert!(woken(&mut bystander).await, "the listener's first wake");
    }

    let claimed = claim(
        store.as_ref(),
        &ClaimQuery {
            limit: 1,
            ..query(at(1), 1)
        },
        "w",
    )
    .await;
    assert_eq!(tokens(&claimed), [token.to_string()]);
    assert!(woken(&mut watching).await, "a claim's event is notified");
    force_status(store.as_ref(), &token, OperationStatus::Success, at(2)).await;
    assert!(woken(&mut watching).await, "an update's event is notified");
    assert!(
        tokio::time::timeout(Duration::from_millis(200), bystander.changed())
            .await
            .is_err(),
        "another request's watcher was not woken"
    );
    let after = store
        .list_progress_events_after(&scope_of(&account(ACCOUNT)), &token, at(-100), 1)
        .await
        .unwrap();
    let numbers: Vec<i64> = after.iter().map(|event| event.number).collect();
    assert_eq!(numbers, [2, 3]);
    assert!(
        store
            .list_progress_events_after(&scope_of(&account(ACCOUNT)), &token, at(-100), 3)
            .await
            .unwrap()
            .is_empty()
    );

    let scope = ChangeTokenScope::global(account(ACCOUNT));
    let change_token = store
        .provision_change_token(&scope, &named_token("t-1"), at(0))
        .await
        .unwrap();
    let mut token_watch = store.subscribe(Topic::ChangeTokenStatus(change_token.to_string()));
    let description = ChangeDescription::parse("UpdateIPSet").unwrap();
    store
        .consume_change_token(&scope, &change_token, &description, at(1), at(-100))
        .await
        .unwrap();
    assert!(woken(&mut token_watch).await, "consuming is notified");
    store
        .mark_change_tokens_in_sync_consumed_before(at(1), at(2), 10)
        .await
        .unwrap();
    assert!(woken(&mut token_watch).await, "propagation is notified");
}

backend_tests!(
    claims_hand_out_the_oldest_claimable_requests_once,
    claims_filter_by_account_type_and_event_age,
    renewals_extend_and_terminal_events_release_the_lease,
    writes_wake_their_subscribers_and_no_one_else,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claims_on_two_stores_never_share_a_request() {
    let (first, database) = open_test_store(Backend::Postgres).await;
    let second =
        statusgate::app::open_store(&statusgate::config::Config::for_database(database.url()))
            .await
            .unwrap();
    for second_offset in 0..60 {
        create_at(
            first.as_ref(),
            ACCOUNT,
            "AWS::Logs::LogGroup",
            at(second_offset),
        )
        .await;
    }
    let stores: [Arc<dyn Store>; 2] = [first, second];
    let claimers = (0..6).map(|index| {
        let store = stores[index % 2].clone();
        tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let claimed = claim(store.as_ref(), &query(at(100), 3), "w").await;
                if claimed.is_empty() {
                    return mine;
                }
                mine.extend(tokens(&claimed));
            }
        })
    });
    let mut all = Vec::new();
    for claimer in claimers {
        all.extend(claimer.await.unwrap());
    }
    let distinct: std::collections::HashSet<&String> = all.iter().collect();
    assert_eq!(all.len(), 60);
    assert_eq!(distinct.len(), 60);
}

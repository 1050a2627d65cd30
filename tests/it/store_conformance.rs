//! The `Store` contract, checked against SQLite and Postgres alike.

use std::sync::Arc;
use std::time::Duration;

use statusgate::app::open_store;
use statusgate::config::Config;
use statusgate::domain::change_token::{ChangeTokenScope, ChangeTokenStatus, WafEndpoint};
use statusgate::domain::resource::AccountRegion;
use statusgate::domain::resource_request::{
    Decision, NewResourceRequest, Operation, OperationStatus, ResourceRequestInput,
};
use statusgate::domain::resource_request::{ProgressEvent, StoredResourceRequest};
use statusgate::domain::values::{
    ChangeDescription, ChangeToken, ClientToken, Identifier, JsonDocument, Region, RequestToken,
    TypeName,
};
use statusgate::domain::{AccountId, Error, FieldViolation, Timestamp};
use statusgate::store::{
    ChangeTokenListQuery, ChangeTokenPosition, CreateOutcome, ListQuery, ResourceListQuery, Store,
    StoreError,
};

use crate::backend_tests;
use crate::common::change_tokens::{named_token, token_name};
use crate::common::{Backend, TestDatabase, scope_of};

const EPOCH: Timestamp = Timestamp::from_micros(1_700_000_000_000_000);

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_micros(EPOCH.as_micros() + seconds * 1_000_000)
}

fn account(id: &str) -> AccountId {
    AccountId::parse(id).unwrap()
}

fn token(name: &str) -> ChangeToken {
    named_token(name)
}

async fn open(backend: Backend) -> (Arc<dyn Store>, TestDatabase) {
    let database = TestDatabase::new(backend).await;
    let store = open_store(&Config::for_database(database.url()))
        .await
        .expect("open the store");
    (store, database)
}

fn create_input() -> ResourceRequestInput {
    ResourceRequestInput {
        operation: Operation::Create,
        type_name: TypeName::parse("AWS::Logs::LogGroup").unwrap(),
        identifier: None,
        desired_state: Some(
            JsonDocument::parse("DesiredState", r#"{"LogGroupName":"g"}"#).unwrap(),
        ),
        patch_document: None,
        role_arn: None,
        type_version_id: None,
    }
}

fn new_request(
    owner: &AccountId,
    client_token: Option<&str>,
    created_at: Timestamp,
) -> NewResourceRequest {
    NewResourceRequest {
        scope: scope_of(owner),
        request_token: RequestToken::parse(uuid::Uuid::new_v4().to_string()).unwrap(),
        client_token: client_token.map(|value| ClientToken::parse(value).unwrap()),
        input: create_input(),
        created_at,
    }
}

async fn created(store: &dyn Store, request: &NewResourceRequest) -> RequestToken {
    match store.create_resource_request(request).await.unwrap() {
        CreateOutcome::Created(stored) => {
            RequestToken::parse(stored.current.request_token).unwrap()
        }
        CreateOutcome::ClientTokenTaken(_) | CreateOutcome::ResourceBusy => {
            panic!("expected a new request")
        }
    }
}

async fn provisioning_is_idempotent_per_scope(backend: Backend) {
    let (store, _database) = open(backend).await;
    let global = ChangeTokenScope::global(account("111111111111"));
    let first = store
        .provision_change_token(&global, &token("candidate-1"), at(0))
        .await
        .unwrap();
    assert_eq!(first, token("candidate-1"));
    let again = store
        .provision_change_token(&global, &token("candidate-2"), at(1))
        .await
        .unwrap();
    assert_eq!(
        again, first,
        "the outstanding token is returned, the candidate discarded"
    );

    let regional =
        ChangeTokenScope::regional(account("111111111111"), Region::parse("eu-west-1").unwrap());
    let other_scope = store
        .provision_change_token(&regional, &token("candidate-3"), at(2))
        .await
        .unwrap();
    assert_eq!(other_scope, token("candidate-3"));
    assert_eq!(
        store
            .change_token_status(&regional, &first, at(0))
            .await
            .unwrap_err()
            .to_string(),
        StoreError::NotFound.to_string()
    );
}

async fn consuming_moves_to_pending_once(backend: Backend) {
    let (store, _database) = open(backend).await;
    let scope = ChangeTokenScope::global(account("111111111111"));
    let issued = store
        .provision_change_token(&scope, &token("t-1"), at(0))
        .await
        .unwrap();
    let description = ChangeDescription::parse("UpdateIPSet").unwrap();
    store
        .consume_change_token(&scope, &issued, &description, at(1), at(0))
        .await
        .unwrap();
    assert!(matches!(
        store
            .consume_change_token(&scope, &issued, &description, at(2), at(0))
            .await,
        Err(StoreError::Conflict)
    ));
    assert!(matches!(
        store
            .consume_change_token(&scope, &token("unknown"), &description, at(2), at(0))
            .await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store
            .change_token_status(&scope, &issued, at(0))
            .await
            .unwrap(),
        ChangeTokenStatus::Pending
    );
    let next = store
        .provision_change_token(&scope, &token("t-2"), at(3))
        .await
        .unwrap();
    assert_eq!(next, token("t-2"), "a used token is no longer outstanding");
}

async fn in_sync_is_idempotent_and_expires(backend: Backend) {
    let (store, _database) = open(backend).await;
    let scope = ChangeTokenScope::global(account("111111111111"));
    let issued = store
        .provision_change_token(&scope, &token("t-1"), at(0))
        .await
        .unwrap();
    assert!(matches!(
        store
            .mark_change_token_in_sync(&scope, &issued, at(1), at(0))
            .await,
        Err(StoreError::Conflict)
    ));
    let description = ChangeDescription::parse("").unwrap();
    store
        .consume_change_token(&scope, &issued, &description, at(1), at(0))
        .await
        .unwrap();
    store
        .mark_change_token_in_sync(&scope, &issued, at(10), at(0))
        .await
        .unwrap();
    store
        .mark_change_token_in_sync(&scope, &issued, at(11), at(0))
        .await
        .unwrap();
    assert_eq!(
        store
            .change_token_status(&scope, &issued, at(10))
            .await
            .unwrap(),
        ChangeTokenStatus::InSync
    );
    // Visible while it went INSYNC at or after the window start, gone after.
    assert!(matches!(
        store.change_token_status(&scope, &issued, at(11)).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store.purge_change_tokens(at(10), 10).await.unwrap(),
        0,
        "not older than the cutoff"
    );
    assert_eq!(store.purge_change_tokens(at(11), 10).await.unwrap(), 1);
    assert_eq!(store.purge_change_tokens(at(11), 10).await.unwrap(), 0);
}

async fn change_tokens_list_newest_first_past_ties_and_purged_cursors(backend: Backend) {
    let (store, _database) = open(backend).await;
    let owner = account("111111111111");
    let global = ChangeTokenScope::global(owner.clone());
    let ireland = ChangeTokenScope::regional(owner.clone(), Region::parse("eu-west-1").unwrap());
    let virginia = ChangeTokenScope::regional(owner.clone(), Region::parse("us-east-1").unwrap());
    let description = ChangeDescription::parse("UpdateIPSet ipset-1").unwrap();
    // t-0 and t-1 are used (t-1 goes INSYNC at 2), t-2 is outstanding, and
    // the regional t-3 and t-b were issued in the same microsecond.
    for (scope, name, second) in [
        (&global, "t-0", -1),
        (&global, "t-1", 0),
        (&global, "t-2", 3),
        (&ireland, "t-3", 4),
        (&virginia, "t-b", 4),
    ] {
        store
            .provision_change_token(scope, &token(name), at(second))
            .await
            .unwrap();
        if second < 3 {
            store
                .consume_change_token(scope, &token(name), &description, at(1), at(-10))
                .await
                .unwrap();
        }
    }
    store
        .mark_change_token_in_sync(&global, &token("t-1"), at(2), at(-10))
        .await
        .unwrap();
    store
        .provision_change_token(
            &ChangeTokenScope::global(account("222222222222")),
            &token("t-x"),
            at(5),
        )
        .await
        .unwrap();
    let query = |after: Option<(i64, &str)>, limit, visible_since| ChangeTokenListQuery {
        account: owner.clone(),
        endpoint: None,
        region: None,
        statuses: Vec::new(),
        after: after.map(|(second, name)| ChangeTokenPosition {
            created_at: at(second),
            token: token(name),
        }),
        limit,
        in_sync_visible_since: visible_since,
    };
    let names = |listed: Vec<statusgate::domain::change_token::ChangeTokenSummary>| {
        listed
            .into_iter()
            .map(|summary| token_name(&summary.token))
            .collect::<Vec<_>>()
    };

    let all = store
        .list_change_tokens(&query(None, 10, at(0)))
        .await
        .unwrap();
    let in_sync = &all[3];
    assert_eq!(
        (in_sync.status, in_sync.consumed_at, in_sync.insync_at),
        (ChangeTokenStatus::InSync, Some(at(1)), Some(at(2)))
    );
    assert_eq!(
        in_sync.change_description.as_deref(),
        Some("UpdateIPSet ipset-1")
    );
    assert_eq!(
        (all[0].scope.endpoint(), all[0].scope.region_key()),
        (WafEndpoint::Regional, "us-east-1")
    );
    assert_eq!(
        names(all),
        ["t-b", "t-3", "t-2", "t-1", "t-0"],
        "ties by token, descending"
    );
    let after_tie = store
        .list_change_tokens(&query(Some((4, "t-b")), 1, at(0)))
        .await
        .unwrap();
    assert_eq!(names(after_tie), ["t-3"]);
    let regional_in_ireland = ChangeTokenListQuery {
        endpoint: Some(WafEndpoint::Regional),
        region: Some(Region::parse("eu-west-1").unwrap()),
        ..query(None, 10, at(0))
    };
    assert_eq!(
        names(
            store
                .list_change_tokens(&regional_in_ireland)
                .await
                .unwrap()
        ),
        ["t-3"]
    );
    let pending = ChangeTokenListQuery {
        statuses: vec![ChangeTokenStatus::Pending],
        ..query(None, 10, at(0))
    };
    assert_eq!(
        names(store.list_change_tokens(&pending).await.unwrap()),
        ["t-0"]
    );

    // A position must name a token of the account, created at that time.
    for unknown in [(4, "t-9"), (5, "t-x"), (3, "t-3")] {
        assert!(
            matches!(
                store
                    .list_change_tokens(&query(Some(unknown), 10, at(0)))
                    .await,
                Err(StoreError::NotFound)
            ),
            "{unknown:?}"
        );
    }

    // Once t-1 is purged, a cursor naming it still goes on to older tokens.
    assert_eq!(store.purge_change_tokens(at(3), 10).await.unwrap(), 1);
    let past_purged = store
        .list_change_tokens(&query(Some((0, "t-1")), 10, at(3)))
        .await
        .unwrap();
    assert_eq!(names(past_purged), ["t-0"]);
    assert_eq!(
        names(
            store
                .list_change_tokens(&query(None, 10, at(3)))
                .await
                .unwrap()
        ),
        ["t-b", "t-3", "t-2", "t-0"]
    );
}

async fn client_tokens_are_per_account(backend: Backend) {
    let (store, _database) = open(backend).await;
    let first_account = account("111111111111");
    let original = new_request(&first_account, Some("client-1"), at(0));
    let original_token = created(store.as_ref(), &original).await;

    let retry = new_request(&first_account, Some("client-1"), at(1));
    match store.create_resource_request(&retry).await.unwrap() {
        CreateOutcome::ClientTokenTaken(existing) => {
            assert_eq!(existing.current.request_token, original_token.as_str());
            assert_eq!(existing.input, original.input);
            assert_eq!(existing.event_count, 1);
        }
        CreateOutcome::Created(_) | CreateOutcome::ResourceBusy => {
            panic!("the client token was taken")
        }
    }
    let other_account = new_request(&account("222222222222"), Some("client-1"), at(1));
    created(store.as_ref(), &other_account).await;
    let without_token = new_request(&first_account, None, at(2));
    created(store.as_ref(), &without_token).await;
    let second_without_token = new_request(&first_account, None, at(3));
    created(store.as_ref(), &second_without_token).await;
}

async fn updates_append_events_under_the_decision(backend: Backend) {
    let (store, _database) = open(backend).await;
    let owner = account("111111111111");
    let request = new_request(&owner, None, at(0));
    let request_token = created(store.as_ref(), &request).await;

    let to_in_progress = |stored: &statusgate::domain::resource_request::StoredResourceRequest| {
        assert_eq!(stored.current.operation_status, OperationStatus::Pending);
        Ok(Decision::Append(
            statusgate::domain::resource_request::ProgressEvent {
                operation_status: OperationStatus::InProgress,
                identifier: Some("group-1".into()),
                event_time: at(5),
                ..stored.current.clone()
            },
        ))
    };
    let event = store
        .update_resource_request(&scope_of(&owner), &request_token, at(0), &to_in_progress)
        .await
        .unwrap();
    assert_eq!(event.operation_status, OperationStatus::InProgress);

    let unchanged = |_: &_| Ok(Decision::Unchanged);
    let current = store
        .update_resource_request(&scope_of(&owner), &request_token, at(0), &unchanged)
        .await
        .unwrap();
    assert_eq!(
        current, event,
        "an unchanged decision answers with the current state"
    );

    let refuse = |_: &_| Err(Error::invalid_input(FieldViolation::missing("X")));
    assert!(matches!(
        store
            .update_resource_request(&scope_of(&owner), &request_token, at(0), &refuse)
            .await,
        Err(StoreError::Rejected(_))
    ));
    assert!(matches!(
        store
            .update_resource_request(
                &scope_of(&account("222222222222")),
                &request_token,
                at(0),
                &unchanged
            )
            .await,
        Err(StoreError::NotFound)
    ));

    let stored = store
        .get_resource_request(&scope_of(&owner), &request_token, at(0))
        .await
        .unwrap();
    assert_eq!(stored.event_count, 2);
    assert_eq!(stored.current, event);
    let history = store
        .list_progress_events(&scope_of(&owner), &request_token, at(0))
        .await
        .unwrap();
    let statuses: Vec<_> = history.iter().map(|event| event.operation_status).collect();
    assert_eq!(
        statuses,
        [OperationStatus::Pending, OperationStatus::InProgress]
    );
    assert_eq!(history[0].event_time, at(0));
    assert_eq!(history[1].identifier.as_deref(), Some("group-1"));
}

async fn lists_are_newest_first_with_cursors_and_filters(backend: Backend) {
    let (store, _database) = open(backend).await;
    let owner = account("111111111111");
    let mut tokens = Vec::new();
    for second in 0..7 {
        tokens.push(created(store.as_ref(), &new_request(&owner, None, at(second))).await);
    }
    created(
        store.as_ref(),
        &new_request(&account("222222222222"), None, at(8)),
    )
    .await;
    let query = |after, limit, statuses: Vec<OperationStatus>| ListQuery {
        scope: scope_of(&owner),
        operations: Vec::new(),
        statuses,
        after,
        limit,
        visible_since: at(0),
    };
    let first_page = store
        .list_resource_requests(&query(None, 3, vec![]))
        .await
        .unwrap();
    let second_page = store
        .list_resource_requests(&query(
            Some(RequestToken::parse(first_page[2].event.request_token.as_str()).unwrap()),
            10,
            vec![],
        ))
        .await
        .unwrap();
    let listed: Vec<String> = first_page
        .iter()
        .chain(&second_page)
        .map(|listed| listed.event.request_token.clone())
        .collect();
    let expected: Vec<String> = tokens
        .iter()
        .rev()
        .map(|token| token.as_str().to_owned())
        .collect();
    assert_eq!(
        listed, expected,
        "newest first, every request once, other accounts excluded"
    );

    let finish = |stored: &statusgate::domain::resource_request::StoredResourceRequest| {
        Ok(Decision::Append(
            statusgate::domain::resource_request::ProgressEvent {
                operation_status: OperationStatus::Success,
                ..stored.current.clone()
            },
        ))
    };
    store
        .update_resource_request(&scope_of(&owner), &tokens[2], at(0), &finish)
        .await
        .unwrap();
    let succeeded = store
        .list_resource_requests(&query(None, 10, vec![OperationStatus::Success]))
        .await
        .unwrap();
    assert_eq!(succeeded.len(), 1);
    assert_eq!(succeeded[0].event.request_token, tokens[2].as_str());
    let mut by_operation = query(None, 10, vec![]);
    by_operation.operations = vec![Operation::Delete];
    assert!(
        store
            .list_resource_requests(&by_operation)
            .await
            .unwrap()
            .is_empty()
    );

    // A cursor names a request of the account: another account's request,
    // or one that does not exist, is not found.
    let foreign = created(
        store.as_ref(),
        &new_request(&account("333333333333"), None, at(9)),
    )
    .await;
    for cursor in [foreign, RequestToken::parse("no-such-request").unwrap()] {
        let answer = store
            .list_resource_requests(&query(Some(cursor.clone()), 10, vec![]))
            .await;
        assert!(
            matches!(answer, Err(StoreError::NotFound)),
            "{cursor}: {answer:?}"
        );
    }
    // The last request of the listing as a cursor: an empty page.
    let last = tokens[0].clone();
    assert!(
        store
            .list_resource_requests(&query(Some(last), 10, vec![]))
            .await
            .unwrap()
            .is_empty()
    );

    let mut recent_only = query(None, 10, vec![]);
    recent_only.visible_since = at(5);
    assert_eq!(
        store
            .list_resource_requests(&recent_only)
            .await
            .unwrap()
            .len(),
        2
    );
}

async fn purging_requests_respects_the_batch_and_cutoff(backend: Backend) {
    let (store, _database) = open(backend).await;
    let owner = account("111111111111");
    let mut tokens = Vec::new();
    for second in 0..5 {
        tokens.push(created(store.as_ref(), &new_request(&owner, None, at(second))).await);
    }
    assert_eq!(store.purge_resource_requests(at(3), 2).await.unwrap(), 2);
    assert_eq!(store.purge_resource_requests(at(3), 2).await.unwrap(), 1);
    assert_eq!(store.purge_resource_requests(at(3), 2).await.unwrap(), 0);
    assert!(matches!(
        store
            .get_resource_request(&scope_of(&owner), &tokens[0], at(-10))
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store
            .list_progress_events(&scope_of(&owner), &tokens[0], at(-10))
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(
        store
            .get_resource_request(&scope_of(&owner), &tokens[3], at(-10))
            .await
            .is_ok()
    );
    store.close().await;
}

async fn reopening_keeps_data_and_migrations_are_idempotent(backend: Backend) {
    let database = TestDatabase::new(backend).await;
    let config = Config::for_database(database.url());
    let store = open_store(&config).await.unwrap();
    let owner = account("111111111111");
    let request_token = created(store.as_ref(), &new_request(&owner, None, at(0))).await;
    store.close().await;
    let reopened = open_store(&config).await.unwrap();
    let stored = reopened
        .get_resource_request(&scope_of(&owner), &request_token, at(0))
        .await
        .unwrap();
    assert_eq!(stored.current.operation_status, OperationStatus::Pending);
    reopened.ping(Duration::from_secs(5)).await.unwrap();
    reopened.close().await;
}

/// A request of `operation` on resource `identifier` of the log group type.
fn change_request(
    scope: &AccountRegion,
    operation: Operation,
    identifier: &str,
) -> NewResourceRequest {
    NewResourceRequest {
        scope: scope.clone(),
        request_token: RequestToken::parse(uuid::Uuid::new_v4().to_string()).unwrap(),
        client_token: None,
        input: ResourceRequestInput {
            operation,
            identifier: Some(Identifier::parse(identifier).unwrap()),
            desired_state: None,
            patch_document: (operation == Operation::Update)
                .then(|| JsonDocument::parse("PatchDocument", "[]").unwrap()),
            ..create_input()
        },
        created_at: at(0),
    }
}

/// Appends a terminal (or any) event with `identifier` and `model`.
async fn finish(
    store: &dyn Store,
    scope: &AccountRegion,
    request_token: &RequestToken,
    status: OperationStatus,
    identifier: &str,
    model: Option<&str>,
) -> ProgressEvent {
    let decide = |stored: &StoredResourceRequest| {
        Ok(Decision::Append(ProgressEvent {
            operation_status: status,
            identifier: Some(identifier.to_owned()),
            resource_model: model.map(str::to_owned),
            event_time: at(10),
            ..stored.current.clone()
        }))
    };
    store
        .update_resource_request(scope, request_token, at(0), &decide)
        .await
        .unwrap()
}

async fn resources_follow_the_success_of_their_requests(backend: Backend) {
    let (store, _database) = open(backend).await;
    let store = store.as_ref();
    let scope = scope_of(&account("111111111111"));
    let elsewhere =
        AccountRegion::new(account("111111111111"), Region::parse("eu-west-1").unwrap());
    let type_name = TypeName::parse("AWS::Logs::LogGroup").unwrap();
    let group = Identifier::parse("g").unwrap();

    let create = created(store, &new_request(&account("111111111111"), None, at(0))).await;
    finish(
        store,
        &scope,
        &create,
        OperationStatus::InProgress,
        "g",
        None,
    )
    .await;
    assert!(matches!(
        store.get_resource(&scope, &type_name, &group).await,
        Err(StoreError::NotFound)
    ));
    finish(
        store,
        &scope,
        &create,
        OperationStatus::Success,
        "g",
        Some(r#"{"LogGroupName":"g"}"#),
    )
    .await;
    let resource = store
        .get_resource(&scope, &type_name, &group)
        .await
        .unwrap();
    assert_eq!(resource.identifier, "g");
    assert_eq!(resource.properties, r#"{"LogGroupName":"g"}"#);
    assert!(matches!(
        store.get_resource(&elsewhere, &type_name, &group).await,
        Err(StoreError::NotFound)
    ));

    // One unfinished UPDATE or DELETE per resource, per scope.
    let update = created(store, &change_request(&scope, Operation::Update, "g")).await;
    for operation in [Operation::Update, Operation::Delete] {
        let outcome = store
            .create_resource_request(&change_request(&scope, operation, "g"))
            .await
            .unwrap();
        assert!(
            matches!(outcome, CreateOutcome::ResourceBusy),
            "{operation:?}"
        );
    }
    created(store, &change_request(&scope, Operation::Update, "other")).await;
    created(store, &change_request(&elsewhere, Operation::Update, "g")).await;
    finish(
        store,
        &scope,
        &update,
        OperationStatus::Success,
        "g",
        Some(r#"{"LogGroupName":"g","RetentionInDays":7}"#),
    )
    .await;
    let resource = store
        .get_resource(&scope, &type_name, &group)
        .await
        .unwrap();
    assert_eq!(
        resource.properties,
        r#"{"LogGroupName":"g","RetentionInDays":7}"#
    );

    // A failed delete leaves the resource; a successful one removes it.
    let failed = created(store, &change_request(&scope, Operation::Delete, "g")).await;
    finish(store, &scope, &failed, OperationStatus::Failed, "g", None).await;
    assert!(store.get_resource(&scope, &type_name, &group).await.is_ok());
    let delete = created(store, &change_request(&scope, Operation::Delete, "g")).await;
    finish(store, &scope, &delete, OperationStatus::Success, "g", None).await;
    assert!(matches!(
        store.get_resource(&scope, &type_name, &group).await,
        Err(StoreError::NotFound)
    ));
}

async fn resources_list_by_identifier_after_a_cursor(backend: Backend) {
    let (store, _database) = open(backend).await;
    let store = store.as_ref();
    let scope = scope_of(&account("111111111111"));
    let other = scope_of(&account("222222222222"));
    // Bytewise order: upper case before lower case, "b|2" after "b".
    let identifiers = ["B", "a", "b", "b|2", "c"];
    for identifier in identifiers.iter().rev() {
        for owner in [&scope, &other] {
            let create = created(
                store,
                &NewResourceRequest {
                    scope: owner.clone(),
                    ..new_request(&owner.account, None, at(0))
                },
            )
            .await;
            let model = format!(r#"{{"LogGroupName":"{identifier}"}}"#);
            finish(
                store,
                owner,
                &create,
                OperationStatus::Success,
                identifier,
                Some(&model),
            )
            .await;
        }
    }
    let page = |after: Option<&str>, limit: u32| ResourceListQuery {
        scope: scope.clone(),
        type_name: TypeName::parse("AWS::Logs::LogGroup").unwrap(),
        after: after.map(str::to_owned),
        limit,
    };
    let names = |listed: Vec<statusgate::domain::resource::StoredResource>| -> Vec<String> {
        listed
            .into_iter()
            .map(|resource| resource.identifier)
            .collect()
    };
    assert_eq!(
        names(store.list_resources(&page(None, 10)).await.unwrap()),
        identifiers
    );
    assert_eq!(
        names(store.list_resources(&page(None, 2)).await.unwrap()),
        ["B", "a"]
    );
    assert_eq!(
        names(store.list_resources(&page(Some("a"), 2)).await.unwrap()),
        ["b", "b|2"]
    );
    assert_eq!(
        names(store.list_resources(&page(Some("b|2"), 2)).await.unwrap()),
        ["c"]
    );
    assert!(
        store
            .list_resources(&page(Some("c"), 2))
            .await
            .unwrap()
            .is_empty()
    );
    let other_type = ResourceListQuery {
        type_name: TypeName::parse("AWS::SQS::Queue").unwrap(),
        ..page(None, 10)
    };
    assert!(store.list_resources(&other_type).await.unwrap().is_empty());
}

async fn simulation_rules_are_one_replaced_document(backend: Backend) {
    let (store, _database) = open(backend).await;
    assert_eq!(store.simulation_rules().await.unwrap(), None);
    store
        .set_simulation_rules(r#"{"Rules": []}"#, at(0))
        .await
        .unwrap();
    assert_eq!(
        store.simulation_rules().await.unwrap().as_deref(),
        Some(r#"{"Rules": []}"#)
    );
    let rules = r#"{"Rules": [{"TypeName": "AWS::S3::Bucket", "ExtraDelay": "1s"}]}"#;
    store.set_simulation_rules(rules, at(1)).await.unwrap();
    assert_eq!(
        store.simulation_rules().await.unwrap().as_deref(),
        Some(rules)
    );
}

backend_tests!(
    provisioning_is_idempotent_per_scope,
    consuming_moves_to_pending_once,
    in_sync_is_idempotent_and_expires,
    change_tokens_list_newest_first_past_ties_and_purged_cursors,
    client_tokens_are_per_account,
    updates_append_events_under_the_decision,
    lists_are_newest_first_with_cursors_and_filters,
    purging_requests_respects_the_batch_and_cutoff,
    reopening_keeps_data_and_migrations_are_idempotent,
    resources_follow_the_success_of_their_requests,
    resources_list_by_identifier_after_a_cursor,
    simulation_rules_are_one_replaced_document,
);

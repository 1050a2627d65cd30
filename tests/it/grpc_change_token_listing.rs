//! `ListChangeTokens` over a real gRPC socket: newest first, filtered by
//! endpoint, region and status, paged with cursors that name the caller's
//! own tokens only, and the account a key is bound to is the only one it
//! lists.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use statusgate::domain::credential::Role;
use statusgate::grpc::proto::{
    ChangeTokenScope, ChangeTokenStatus, ChangeTokenSummary, ListChangeTokensRequest,
    ListChangeTokensResponse, WafEndpoint,
};
use tonic::Code;

use crate::backend_tests;
use crate::common::auth::{change_tokens_as, issue, spawn_sigv4};
use crate::common::change_tokens::{Client, consume, get_token, global, mark_in_sync, regional};
use crate::common::clock::ManualClock;
use crate::common::grpc_errors::{assert_error, assert_invalid_field};
use crate::common::{ACCOUNT, Backend, OTHER_ACCOUNT, TestApp};

const REASON: &str = "WAFInvalidParameterException";

/// The scope of a listing: `endpoint` and `region` as the request names them.
fn listing(account: &str, endpoint: WafEndpoint, region: &str) -> Option<ChangeTokenScope> {
    Some(ChangeTokenScope {
        account_id: account.into(),
        endpoint: endpoint as i32,
        region: region.into(),
    })
}

fn list_request(scope: Option<ChangeTokenScope>) -> ListChangeTokensRequest {
    ListChangeTokensRequest {
        scope,
        statuses: Vec::new(),
        max_results: None,
        next_token: None,
    }
}

async fn list(
    client: &mut Client,
    request: ListChangeTokensRequest,
) -> Result<ListChangeTokensResponse, tonic::Status> {
    Ok(client.list_change_tokens(request).await?.into_inner())
}

fn tokens_of(summaries: &[ChangeTokenSummary]) -> Vec<String> {
    summaries
        .iter()
        .map(|summary| summary.change_token.clone())
        .collect()
}

/// The tokens one page lists, which must be the whole listing.
async fn listed(client: &mut Client, request: ListChangeTokensRequest) -> Vec<String> {
    let response = list(client, request).await.expect("ListChangeTokens");
    assert_eq!(response.next_token, None, "one page holds them all");
    tokens_of(&response.change_tokens)
}

/// Issues the scope's token a second after the previous one, so that the
/// listing's order is the order of the calls.
async fn issue_later(
    client: &mut Client,
    clock: &ManualClock,
    scope: Option<ChangeTokenScope>,
) -> String {
    clock.advance(Duration::from_secs(1));
    get_token(client, scope).await
}

async fn lists_newest_first_filtered_by_endpoint_region_and_status(backend: Backend) {
    let (app, clock) = TestApp::spawn_on_manual_clock(backend, |_| {}).await;
    let mut client = app.change_tokens().await;
    let in_sync = issue_later(&mut client, &clock, global(ACCOUNT)).await;
    clock.advance(Duration::from_secs(1));
    consume(&mut client, global(ACCOUNT), &in_sync)
        .await
        .unwrap();
    clock.advance(Duration::from_secs(1));
    mark_in_sync(&mut client, global(ACCOUNT), &in_sync)
        .await
        .unwrap();
    let provisioned_global = issue_later(&mut client, &clock, global(ACCOUNT)).await;
    let pending_ireland = issue_later(&mut client, &clock, regional(ACCOUNT, "eu-west-1")).await;
    consume(
        &mut client,
        regional(ACCOUNT, "eu-west-1"),
        &pending_ireland,
    )
    .await
    .unwrap();
    let provisioned_virginia =
        issue_later(&mut client, &clock, regional(ACCOUNT, "us-east-1")).await;
    let other_account = issue_later(&mut client, &clock, global(OTHER_ACCOUNT)).await;
    let default_account = issue_later(&mut client, &clock, global("")).await;

    let everything = list(
        &mut client,
        list_request(listing(ACCOUNT, WafEndpoint::Unspecified, "")),
    )
    .await
    .unwrap();
    assert_eq!(
        tokens_of(&everything.change_tokens),
        [
            provisioned_virginia.clone(),
            pending_ireland.clone(),
            provisioned_global.clone(),
            in_sync.clone()
        ],
        "the account's tokens, newest first"
    );
    assert_eq!(everything.next_token, None);

    // Each summary carries its scope, status, description and times.
    let summaries = &everything.change_tokens;
    let scope_of = |summary: &ChangeTokenSummary| {
        let scope = summary.scope.clone().unwrap();
        (scope.account_id.clone(), scope.endpoint(), scope.region)
    };
    assert_eq!(
        scope_of(&summaries[0]),
        (ACCOUNT.into(), WafEndpoint::Regional, "us-east-1".into())
    );
    assert_eq!(
        scope_of(&summaries[3]),
        (ACCOUNT.into(), WafEndpoint::Global, String::new())
    );
    let statuses: Vec<_> = summaries
        .iter()
        .map(|summary| summary.change_token_status())
        .collect();
    assert_eq!(
        statuses,
        [
            ChangeTokenStatus::Provisioned,
            ChangeTokenStatus::Pending,
            ChangeTokenStatus::Provisioned,
            ChangeTokenStatus::Insync
        ]
    );
    let provisioned = &summaries[0];
    assert_eq!(provisioned.change_description, None);
    assert!(provisioned.consumed_at.is_none() && provisioned.insync_at.is_none());
    let pending = &summaries[1];
    assert_eq!(
        pending.change_description.as_deref(),
        Some("UpdateIPSet ipset-1")
    );
    assert!(pending.consumed_at.is_some() && pending.insync_at.is_none());
    let done = &summaries[3];
    let seconds = |timestamp: &Option<prost_types::Timestamp>| timestamp.unwrap().seconds;
    assert_eq!(seconds(&done.consumed_at) - seconds(&done.created_at), 1);
    assert_eq!(seconds(&done.insync_at) - seconds(&done.created_at), 2);
    assert!(
        seconds(&summaries[0].created_at) > seconds(&summaries[1].created_at),
        "newest first"
    );

    // Endpoint and region: the region narrows WAF Regional tokens only.
    let by_scope = [
        (WafEndpoint::Global, "", vec![&provisioned_global, &in_sync]),
        (
            WafEndpoint::Regional,
            "",
            vec![&provisioned_virginia, &pending_ireland],
        ),
        (WafEndpoint::Regional, "eu-west-1", vec![&pending_ireland]),
        (WafEndpoint::Regional, "ap-south-1", vec![]),
        (
            WafEndpoint::Unspecified,
            "eu-west-1",
            vec![&pending_ireland, &provisioned_global, &in_sync],
        ),
        (
            WafEndpoint::Global,
            "eu-west-1",
            vec![&provisioned_global, &in_sync],
        ),
    ];
    for (endpoint, region, expected) in by_scope {
        assert_eq!(
            listed(
                &mut client,
                list_request(listing(ACCOUNT, endpoint, region))
            )
            .await,
            expected.into_iter().cloned().collect::<Vec<_>>(),
            "{endpoint:?} {region:?}"
        );
    }

    // Statuses: any of those named.
    let by_status = [
        (vec![ChangeTokenStatus::Pending], vec![&pending_ireland]),
        (
            vec![ChangeTokenStatus::Provisioned, ChangeTokenStatus::Insync],
            vec![&provisioned_virginia, &provisioned_global, &in_sync],
        ),
    ];
    for (statuses, expected) in by_status {
        let request = ListChangeTokensRequest {
            statuses: statuses.iter().map(|status| *status as i32).collect(),
            ..list_request(listing(ACCOUNT, WafEndpoint::Unspecified, ""))
        };
        assert_eq!(
            listed(&mut client, request).await,
            expected.into_iter().cloned().collect::<Vec<_>>(),
            "{statuses:?}"
        );
    }
    let regional_provisioned = ListChangeTokensRequest {
        statuses: vec![ChangeTokenStatus::Provisioned as i32],
        ..list_request(listing(ACCOUNT, WafEndpoint::Regional, "us-east-1"))
    };
    assert_eq!(
        listed(&mut client, regional_provisioned).await,
        [provisioned_virginia]
    );

    // Other accounts list their own; no scope is the default account.
    assert_eq!(
        listed(&mut client, list_request(global(OTHER_ACCOUNT))).await,
        [other_account]
    );
    assert_eq!(
        listed(&mut client, list_request(None)).await,
        [default_account]
    );

    // A token that went INSYNC longer ago than the retention is gone.
    clock.advance(Duration::from_secs(7 * 24 * 3600));
    assert_eq!(
        listed(&mut client, list_request(global(ACCOUNT))).await,
        [provisioned_global]
    );
}

async fn pages_follow_a_cursor_to_the_end(backend: Backend) {
    let (app, clock) = TestApp::spawn_on_manual_clock(backend, |_| {}).await;
    let mut client = app.change_tokens().await;
    // Five used tokens and an outstanding one, newest last.
    let mut issued = Vec::new();
    for _ in 0..6 {
        let token = issue_later(&mut client, &clock, global(ACCOUNT)).await;
        issued.push(token.clone());
        if issued.len() < 6 {
            consume(&mut client, global(ACCOUNT), &token).await.unwrap();
        }
    }
    // Another account's tokens in between change nothing.
    issue_later(&mut client, &clock, global(OTHER_ACCOUNT)).await;
    let newest_first: Vec<String> = issued.iter().rev().cloned().collect();

    let page = |next_token: Option<String>| ListChangeTokensRequest {
        max_results: Some(2),
        next_token,
        ..list_request(global(ACCOUNT))
    };
    let first = list(&mut client, page(None)).await.unwrap();
    assert_eq!(tokens_of(&first.change_tokens), newest_first[0..2]);
    let cursor = first.next_token.expect("a second page");
    let decoded = String::from_utf8(BASE64.decode(&cursor).unwrap()).unwrap();
    assert!(
        decoded.ends_with(&format!(":{}", newest_first[1])),
        "the cursor names the page's last token, of the caller's account: {decoded}"
    );

    // A token issued meanwhile is newer than the cursor: pages do not shift.
    consume(&mut client, global(ACCOUNT), &issued[5])
        .await
        .unwrap();
    let newer = issue_later(&mut client, &clock, global(ACCOUNT)).await;
    let second = list(&mut client, page(Some(cursor.clone()))).await.unwrap();
    assert_eq!(tokens_of(&second.change_tokens), newest_first[2..4]);
    let third = list(&mut client, page(second.next_token)).await.unwrap();
    assert_eq!(tokens_of(&third.change_tokens), newest_first[4..6]);
    assert_eq!(
        third.next_token, None,
        "a full last page with nothing after it ends the listing"
    );

    // The same cursor goes on under a filter too.
    let pending_only = ListChangeTokensRequest {
        statuses: vec![ChangeTokenStatus::Pending as i32],
        max_results: Some(10),
        next_token: Some(cursor),
        ..list_request(listing(ACCOUNT, WafEndpoint::Unspecified, ""))
    };
    let rest = list(&mut client, pending_only).await.unwrap();
    assert_eq!(tokens_of(&rest.change_tokens), newest_first[2..]);
    assert_eq!(rest.next_token, None);

    // Without max_results a page holds up to 100.
    let all = listed(&mut client, list_request(global(ACCOUNT))).await;
    assert_eq!(all.len(), 7);
    assert_eq!(all[0], newer);
}

async fn bad_max_results_next_token_and_statuses_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut client = app.change_tokens().await;
    let token = get_token(&mut client, global(ACCOUNT)).await;

    for (max_results, constraint) in [
        (0, "greater than or equal to 1"),
        (-3, "greater than or equal to 1"),
        (101, "less than or equal to 100"),
    ] {
        let request = ListChangeTokensRequest {
            max_results: Some(max_results),
            ..list_request(global(ACCOUNT))
        };
        let refused = list(&mut client, request).await.unwrap_err();
        assert_invalid_field(&refused, REASON, "max_results");
        assert_eq!(
            refused.message(),
            format!(
                "1 validation error detected: Value '{max_results}' at 'maxResults' failed to satisfy constraint: Member must have value {constraint}"
            )
        );
    }
    for (max_results, expected) in [(1, 1), (100, 1)] {
        let request = ListChangeTokensRequest {
            max_results: Some(max_results),
            ..list_request(global(ACCOUNT))
        };
        let answered = list(&mut client, request).await.unwrap();
        assert_eq!(answered.change_tokens.len(), expected, "{max_results}");
    }

    let now_micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros();
    let made_up = BASE64.encode(format!("ct1:{now_micros}:{}", uuid::Uuid::new_v4()));
    // A real token at a time it was not created at names no position.
    let wrong_time = BASE64.encode(format!("ct1:{now_micros}:{token}"));
    let of_requests = BASE64.encode(format!("v2:{now_micros}:{}", uuid::Uuid::new_v4()));
    let not_returned = "Member must be a NextToken returned by ListChangeTokens";
    for (next_token, constraint) in [
        ("not base64!".to_owned(), "regular expression pattern"),
        (String::new(), "length greater than or equal to 1"),
        ("abc".to_owned(), not_returned),
        (BASE64.encode("ct1:soon:x"), not_returned),
        (of_requests, not_returned),
        (made_up, "returned by ListChangeTokens to this account"),
        (wrong_time, "returned by ListChangeTokens to this account"),
    ] {
        let request = ListChangeTokensRequest {
            next_token: Some(next_token.clone()),
            ..list_request(global(ACCOUNT))
        };
        let refused = list(&mut client, request).await.unwrap_err();
        assert_invalid_field(&refused, REASON, "next_token");
        assert!(
            refused.message().contains(constraint),
            "{next_token:?}: {}",
            refused.message()
        );
    }

    for status in [0, 9] {
        let request = ListChangeTokensRequest {
            statuses: vec![ChangeTokenStatus::Pending as i32, status],
            ..list_request(global(ACCOUNT))
        };
        let refused = list(&mut client, request).await.unwrap_err();
        assert_invalid_field(&refused, REASON, "statuses");
    }
    for (scope, field) in [
        (listing("12345", WafEndpoint::Unspecified, ""), "account_id"),
        (listing(ACCOUNT, WafEndpoint::Regional, "EU WEST"), "region"),
        (
            Some(ChangeTokenScope {
                endpoint: 7,
                ..ChangeTokenScope::default()
            }),
            "endpoint",
        ),
    ] {
        let refused = list(&mut client, list_request(scope)).await.unwrap_err();
        assert_invalid_field(&refused, REASON, field);
    }
}

async fn a_key_lists_its_own_accounts_tokens_only(backend: Backend) {
    let app = spawn_sigv4(backend).await;
    let own_key = issue(&app, Some(ACCOUNT), Role::Client).await;
    let other_key = issue(&app, Some(OTHER_ACCOUNT), Role::Client).await;
    let control_plane = issue(&app, None, Role::Worker).await;
    let mut own = change_tokens_as(&app, own_key.bearer()).await;
    let mut other = change_tokens_as(&app, other_key.bearer()).await;

    let mut own_tokens = Vec::new();
    let mut other_tokens = Vec::new();
    for region in ["eu-west-1", "us-east-1", "ap-south-1"] {
        for (client, tokens) in [(&mut own, &mut own_tokens), (&mut other, &mut other_tokens)] {
            let response = client
                .get_change_token(statusgate::grpc::proto::GetChangeTokenRequest {
                    scope: regional("", region),
                })
                .await
                .unwrap();
            tokens.push(response.into_inner().change_token);
        }
    }
    for (client, tokens) in [(&mut own, &mut own_tokens), (&mut other, &mut other_tokens)] {
        let response = client
            .get_change_token(statusgate::grpc::proto::GetChangeTokenRequest { scope: global("") })
            .await
            .unwrap();
        tokens.push(response.into_inner().change_token);
    }

    // Every page the key lists holds its own account's tokens only.
    let mut seen = Vec::new();
    let mut next_token = None;
    loop {
        let request = ListChangeTokensRequest {
            max_results: Some(1),
            next_token,
            ..list_request(None)
        };
        let page = own.list_change_tokens(request).await.unwrap().into_inner();
        for summary in &page.change_tokens {
            assert_eq!(summary.scope.as_ref().unwrap().account_id, ACCOUNT);
        }
        seen.extend(tokens_of(&page.change_tokens));
        next_token = page.next_token;
        if next_token.is_none() {
            break;
        }
    }
    seen.sort();
    own_tokens.sort();
    assert_eq!(seen, own_tokens);

    // Naming the other account is refused, not answered with its tokens.
    let foreign = own
        .list_change_tokens(list_request(listing(
            OTHER_ACCOUNT,
            WafEndpoint::Unspecified,
            "",
        )))
        .await
        .unwrap_err();
    assert_error(&foreign, Code::PermissionDenied, "AccessDeniedException");

    // A cursor of one account names nothing in the other.
    let first_page = own
        .list_change_tokens(ListChangeTokensRequest {
            max_results: Some(1),
            ..list_request(None)
        })
        .await
        .unwrap()
        .into_inner();
    let foreign_cursor = ListChangeTokensRequest {
        next_token: first_page.next_token,
        ..list_request(None)
    };
    let refused = other.list_change_tokens(foreign_cursor).await.unwrap_err();
    assert_invalid_field(&refused, REASON, "next_token");
    assert!(
        refused.message().contains("to this account"),
        "{}",
        refused.message()
    );

    // A key of every account lists the account it names, and only that one.
    let mut everywhere = change_tokens_as(&app, control_plane.bearer()).await;
    let named = everywhere
        .list_change_tokens(list_request(listing(
            OTHER_ACCOUNT,
            WafEndpoint::Unspecified,
            "",
        )))
        .await
        .unwrap()
        .into_inner();
    let mut listed_for_other = tokens_of(&named.change_tokens);
    listed_for_other.sort();
    other_tokens.sort();
    assert_eq!(listed_for_other, other_tokens);
}

backend_tests!(
    lists_newest_first_filtered_by_endpoint_region_and_status,
    pages_follow_a_cursor_to_the_end,
    bad_max_results_next_token_and_statuses_are_refused,
    a_key_lists_its_own_accounts_tokens_only,
);

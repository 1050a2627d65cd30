//! gRPC with `--auth sigv4`: every call but health and reflection needs a
//! `Bearer` key, each role may call exactly what the role table says, and a
//! key acts on its own account only (unless bound to every account).

use statusgate::domain::credential::Role;
use statusgate::grpc::proto;
use tonic::Code;

use crate::backend_tests;
use crate::common::auth::{
    Bearer, change_tokens_as, credentials_as, issue, resource_requests_as, resources_as,
    simulation_as, spawn_sigv4,
};
use crate::common::change_tokens::global;
use crate::common::grpc_errors::assert_error;
use crate::common::{ACCOUNT, Backend, OTHER_ACCOUNT, TYPE_NAME, TestApp};

/// Every RPC statusgate serves, with the least role that may call it,
/// spelled out here rather than read from the table under test.
const RPCS: [(&str, Role); 19] = [
    ("GetChangeToken", Role::Client),
    ("GetChangeTokenStatus", Role::Client),
    ("ListChangeTokens", Role::Client),
    ("ConsumeChangeToken", Role::Worker),
    ("MarkChangeTokenInSync", Role::Worker),
    ("CreateResourceRequest", Role::Client),
    ("GetResourceRequestStatus", Role::Client),
    ("ListResourceRequests", Role::Client),
    ("CancelResourceRequest", Role::Client),
    ("RecordProgressEvent", Role::Worker),
    ("ListProgressEvents", Role::Client),
    ("CreateCredential", Role::Admin),
    ("ListCredentials", Role::Admin),
    ("RevokeCredential", Role::Admin),
    ("GetResource", Role::Client),
    ("ListResources", Role::Client),
    ("RecordHookProgressEvent", Role::Worker),
    ("SetSimulationRules", Role::Admin),
    ("GetSimulationRules", Role::Admin),
];

/// Calls `rpc` with a minimal request; only whether the call got past
/// authentication and authorisation matters to the caller.
async fn call(app: &TestApp, bearer: Bearer, rpc: &str) -> Result<(), tonic::Status> {
    let token = || "no-such-token".to_owned();
    match rpc {
        "GetChangeToken" => {
            let mut client = change_tokens_as(app, bearer).await;
            client
                .get_change_token(proto::GetChangeTokenRequest { scope: global("") })
                .await
                .map(drop)
        }
        "GetChangeTokenStatus" => {
            let mut client = change_tokens_as(app, bearer).await;
            client
                .get_change_token_status(proto::GetChangeTokenStatusRequest {
                    scope: global(""),
                    change_token: token(),
                })
                .await
                .map(drop)
        }
        "ListChangeTokens" => {
            let mut client = change_tokens_as(app, bearer).await;
            client
                .list_change_tokens(proto::ListChangeTokensRequest::default())
                .await
                .map(drop)
        }
        "ConsumeChangeToken" => {
            let mut client = change_tokens_as(app, bearer).await;
            client
                .consume_change_token(proto::ConsumeChangeTokenRequest {
                    scope: global(""),
                    change_token: token(),
                    change_description: "UpdateIPSet".into(),
                })
                .await
                .map(drop)
        }
        "MarkChangeTokenInSync" => {
            let mut client = change_tokens_as(app, bearer).await;
            client
                .mark_change_token_in_sync(proto::MarkChangeTokenInSyncRequest {
                    scope: global(""),
                    change_token: token(),
                })
                .await
                .map(drop)
        }
        "CreateResourceRequest" => {
            let mut client = resource_requests_as(app, bearer).await;
            client
                .create_resource_request(proto::CreateResourceRequestRequest {
                    operation: proto::Operation::Create as i32,
                    type_name: TYPE_NAME.into(),
                    desired_state: Some(r#"{"LogGroupName":"roles"}"#.into()),
                    ..Default::default()
                })
                .await
                .map(drop)
        }
        "GetResourceRequestStatus" => {
            let mut client = resource_requests_as(app, bearer).await;
            client
                .get_resource_request_status(proto::GetResourceRequestStatusRequest {
                    request_token: token(),
                    ..Default::default()
                })
                .await
                .map(drop)
        }
        "ListResourceRequests" => {
            let mut client = resource_requests_as(app, bearer).await;
            client
                .list_resource_requests(proto::ListResourceRequestsRequest::default())
                .await
                .map(drop)
        }
        "CancelResourceRequest" => {
            let mut client = resource_requests_as(app, bearer).await;
            client
                .cancel_resource_request(proto::CancelResourceRequestRequest {
                    request_token: token(),
                    ..Default::default()
                })
                .await
                .map(drop)
        }
        "RecordProgressEvent" => {
            let mut client = resource_requests_as(app, bearer).await;
            client
                .record_progress_event(proto::RecordProgressEventRequest {
                    request_token: token(),
                    operation_status: proto::OperationStatus::InProgress as i32,
                    ..Default::default()
                })
                .await
                .map(drop)
        }
        "ListProgressEvents" => {
            let mut client = resource_requests_as(app, bearer).await;
            client
                .list_progress_events(proto::ListProgressEventsRequest {
                    request_token: token(),
                    ..Default::default()
                })
                .await
                .map(drop)
        }
        "CreateCredential" => {
            let mut client = credentials_as(app, bearer).await;
            client
                .create_credential(proto::CreateCredentialRequest {
                    role: proto::Role::Client as i32,
                    ..Default::default()
                })
                .await
                .map(drop)
        }
        "ListCredentials" => {
            let mut client = credentials_as(app, bearer).await;
            client
                .list_credentials(proto::ListCredentialsRequest {})
                .await
                .map(drop)
        }
        "RevokeCredential" => {
            let mut client = credentials_as(app, bearer).await;
            client
                .revoke_credential(proto::RevokeCredentialRequest {
                    access_key_id: "SGAKAAAAAAAAAAAAAAAA".into(),
                })
                .await
                .map(drop)
        }
        "GetResource" => {
            let mut client = resources_as(app, bearer).await;
            client
                .get_resource(proto::GetResourceRequest {
                    type_name: TYPE_NAME.into(),
                    identifier: "no-such-resource".into(),
                    ..Default::default()
                })
                .await
                .map(drop)
        }
        "ListResources" => {
            let mut client = resources_as(app, bearer).await;
            client
                .list_resources(proto::ListResourcesRequest {
                    type_name: TYPE_NAME.into(),
                    ..Default::default()
                })
                .await
                .map(drop)
        }
        "RecordHookProgressEvent" => {
            let mut client = resource_requests_as(app, bearer).await;
            client
                .record_hook_progress_event(proto::RecordHookProgressEventRequest {
                    request_token: token(),
                    hook_type_name: "Private::Guard::Hook".into(),
                    invocation_point: "PRE_PROVISION".into(),
                    hook_status: "HOOK_IN_PROGRESS".into(),
                    ..Default::default()
                })
                .await
                .map(drop)
        }
        "SetSimulationRules" => {
            let mut client = simulation_as(app, bearer).await;
            client
                .set_simulation_rules(proto::SetSimulationRulesRequest {
                    rules: r#"{"Rules": []}"#.into(),
                })
                .await
                .map(drop)
        }
        "GetSimulationRules" => {
            let mut client = simulation_as(app, bearer).await;
            client
                .get_simulation_rules(proto::GetSimulationRulesRequest {})
                .await
                .map(drop)
        }
        other => panic!("no such RPC in the table: {other}"),
    }
}

async fn each_role_may_call_exactly_what_it_may(backend: Backend) {
    let app = spawn_sigv4(backend).await;
    for role in Role::ALL {
        let bound = issue(&app, Some(ACCOUNT), role).await;
        // The simulation's rules apply to every account: they take a key
        // bound to all accounts (clients have none), see
        // `simulation_rules_need_a_key_of_all_accounts`.
        let all_accounts = match role {
            Role::Client => None,
            Role::Worker | Role::Admin => Some(issue(&app, None, role).await),
        };
        for (rpc, least) in RPCS {
            let key = match (&all_accounts, rpc.ends_with("SimulationRules")) {
                (Some(all_accounts), true) => all_accounts,
                (Some(_), false) | (None, _) => &bound,
            };
            let outcome = call(&app, key.bearer(), rpc).await;
            if role >= least {
                if let Err(status) = &outcome {
                    assert!(
                        !matches!(
                            status.code(),
                            Code::PermissionDenied | Code::Unauthenticated
                        ),
                        "{role:?} may call {rpc}: {status:?}"
                    );
                }
            } else {
                let status = outcome.expect_err(rpc);
                assert_error(&status, Code::PermissionDenied, "AccessDeniedException");
                assert!(status.message().contains(rpc), "{status:?}");
            }
        }
    }
}

async fn simulation_rules_need_a_key_of_all_accounts(backend: Backend) {
    let app = spawn_sigv4(backend).await;
    let bound_admin = issue(&app, Some(ACCOUNT), Role::Admin).await;
    for rpc in ["SetSimulationRules", "GetSimulationRules"] {
        let status = call(&app, bound_admin.bearer(), rpc).await.expect_err(rpc);
        assert_error(&status, Code::PermissionDenied, "AccessDeniedException");
        assert!(
            status.message().contains("bound to all accounts"),
            "{status:?}"
        );
    }
    let admin = issue(&app, None, Role::Admin).await;
    call(&app, admin.bearer(), "SetSimulationRules")
        .await
        .expect("an admin of all accounts sets the rules");
    let worker = issue(&app, None, Role::Worker).await;
    let status = call(&app, worker.bearer(), "SetSimulationRules")
        .await
        .expect_err("workers do not manage the rules");
    assert_error(&status, Code::PermissionDenied, "AccessDeniedException");
}

async fn calls_without_or_with_wrong_credentials_are_refused(backend: Backend) {
    let app = spawn_sigv4(backend).await;
    // Of all accounts, so that it may call every RPC (the simulation's rules too).
    let key = issue(&app, None, Role::Admin).await;
    let revoked = issue(&app, Some(ACCOUNT), Role::Admin).await;
    app.application()
        .services()
        .credentials
        .revoke(&revoked.access_key_id)
        .await
        .unwrap();
    let refusals = [
        Bearer::none(),
        Bearer::raw("Bearer"),
        Bearer::raw(&format!("Bearer {}", key.access_key_id)),
        Bearer::raw(&format!(
            "Basic {}:{}",
            key.access_key_id, key.secret_access_key
        )),
        Bearer::of(&key.access_key_id, "not-the-secret"),
        Bearer::of(&key.access_key_id, &key.secret_access_key[..39]),
        Bearer::of("SGAKAAAAAAAAAAAAAAAA", &key.secret_access_key),
        Bearer::of("123456789012", "anything"),
        revoked.bearer(),
    ];
    for bearer in refusals {
        for (rpc, _) in RPCS {
            let status = call(&app, bearer.clone(), rpc).await.expect_err(rpc);
            assert_error(
                &status,
                Code::Unauthenticated,
                "UnrecognizedClientException",
            );
        }
    }
    for (rpc, _) in RPCS {
        let outcome = call(&app, key.bearer(), rpc).await;
        if let Err(status) = outcome {
            assert!(
                !matches!(
                    status.code(),
                    Code::PermissionDenied | Code::Unauthenticated
                ),
                "{rpc}: {status:?}"
            );
        }
    }

    // Health answers without credentials.
    let mut health = tonic_health::pb::health_client::HealthClient::new(app.channel().await);
    let serving = health
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .expect("health needs no credentials");
    assert_eq!(serving.into_inner().status, 1);

    // A method the role table does not list is denied, even to an admin.
    let mut grpc = tonic::client::Grpc::new(app.channel().await);
    grpc.ready().await.unwrap();
    let mut request = tonic::Request::new(proto::GetChangeTokenRequest { scope: global("") });
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {}:{}", key.access_key_id, key.secret_access_key)
            .parse()
            .unwrap(),
    );
    let unknown = grpc
        .unary::<_, proto::GetChangeTokenResponse, _>(
            request,
            "/statusgate.v1.ChangeTokenService/DeleteEverything"
                .parse()
                .unwrap(),
            tonic_prost::ProstCodec::default(),
        )
        .await
        .unwrap_err();
    assert_error(&unknown, Code::PermissionDenied, "AccessDeniedException");
}

async fn a_key_acts_on_its_own_account_only(backend: Backend) {
    let app = spawn_sigv4(backend).await;
    let bound = issue(&app, Some(ACCOUNT), Role::Worker).await;
    let everywhere = issue(&app, None, Role::Worker).await;

    let mut tokens = change_tokens_as(&app, bound.bearer()).await;
    let own = tokens
        .get_change_token(proto::GetChangeTokenRequest { scope: global("") })
        .await
        .unwrap()
        .into_inner()
        .change_token;
    let named = tokens
        .get_change_token(proto::GetChangeTokenRequest {
            scope: global(ACCOUNT),
        })
        .await
        .unwrap()
        .into_inner()
        .change_token;
    assert_eq!(own, named, "an empty account id is the key's account");
    let foreign = tokens
        .get_change_token(proto::GetChangeTokenRequest {
            scope: global(OTHER_ACCOUNT),
        })
        .await
        .unwrap_err();
    assert_error(&foreign, Code::PermissionDenied, "AccessDeniedException");
    let mut requests = resource_requests_as(&app, bound.bearer()).await;
    let foreign = requests
        .list_resource_requests(proto::ListResourceRequestsRequest {
            account_id: OTHER_ACCOUNT.into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_error(&foreign, Code::PermissionDenied, "AccessDeniedException");

    // A key of every account names the account it acts on.
    let mut control_plane = change_tokens_as(&app, everywhere.bearer()).await;
    let status = control_plane
        .get_change_token_status(proto::GetChangeTokenStatusRequest {
            scope: global(ACCOUNT),
            change_token: own.clone(),
        })
        .await
        .unwrap();
    assert_eq!(
        status.into_inner().change_token_status(),
        proto::ChangeTokenStatus::Provisioned
    );
    let elsewhere = control_plane
        .get_change_token_status(proto::GetChangeTokenStatusRequest {
            scope: global(OTHER_ACCOUNT),
            change_token: own,
        })
        .await
        .unwrap_err();
    assert_error(&elsewhere, Code::NotFound, "WAFNonexistentItemException");

    // The facade's caller of that account sees what the worker recorded.
    let client = issue(&app, Some(ACCOUNT), Role::Client).await;
    let created = app
        .sdk_signing(
            &client.access_key_id,
            &client.secret_access_key,
            "eu-west-1",
        )
        .cloudcontrol()
        .create_resource()
        .type_name(TYPE_NAME)
        .desired_state(r#"{"LogGroupName":"worked"}"#)
        .send()
        .await
        .unwrap();
    let request_token = created.progress_event().unwrap().request_token().unwrap();
    let mut worker = resource_requests_as(&app, everywhere.bearer()).await;
    worker
        .record_progress_event(proto::RecordProgressEventRequest {
            account_id: ACCOUNT.into(),
            region: "eu-west-1".into(),
            request_token: request_token.into(),
            operation_status: proto::OperationStatus::InProgress as i32,
            ..Default::default()
        })
        .await
        .unwrap();
}

async fn admins_of_one_account_manage_that_account_only(backend: Backend) {
    let app = spawn_sigv4(backend).await;
    let admin = issue(&app, Some(ACCOUNT), Role::Admin).await;
    let other = issue(&app, Some(OTHER_ACCOUNT), Role::Client).await;
    let mut credentials = credentials_as(&app, admin.bearer()).await;

    let created = credentials
        .create_credential(proto::CreateCredentialRequest {
            role: proto::Role::Worker as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let credential = created.credential.unwrap();
    assert_eq!(credential.account_id, ACCOUNT);
    assert_eq!(created.secret_access_key.len(), 40);
    for request in [
        proto::CreateCredentialRequest {
            all_accounts: true,
            role: proto::Role::Worker as i32,
            ..Default::default()
        },
        proto::CreateCredentialRequest {
            account_id: OTHER_ACCOUNT.into(),
            role: proto::Role::Client as i32,
            ..Default::default()
        },
    ] {
        let denied = credentials.create_credential(request).await.unwrap_err();
        assert_error(&denied, Code::PermissionDenied, "AccessDeniedException");
    }
    let listed = credentials
        .list_credentials(proto::ListCredentialsRequest {})
        .await
        .unwrap()
        .into_inner()
        .credentials;
    assert!(
        listed.iter().all(|listed| listed.account_id == ACCOUNT),
        "{listed:?}"
    );
    assert!(
        listed
            .iter()
            .any(|listed| listed.access_key_id == credential.access_key_id)
    );
    let hidden = credentials
        .revoke_credential(proto::RevokeCredentialRequest {
            access_key_id: other.access_key_id.clone(),
        })
        .await
        .unwrap_err();
    assert_error(&hidden, Code::NotFound, "ResourceNotFoundException");
    credentials
        .revoke_credential(proto::RevokeCredentialRequest {
            access_key_id: credential.access_key_id.clone(),
        })
        .await
        .unwrap();
    let revoked = call(
        &app,
        Bearer::of(&credential.access_key_id, &created.secret_access_key),
        "GetChangeToken",
    )
    .await
    .unwrap_err();
    assert_error(
        &revoked,
        Code::Unauthenticated,
        "UnrecognizedClientException",
    );
}

backend_tests!(
    each_role_may_call_exactly_what_it_may,
    simulation_rules_need_a_key_of_all_accounts,
    calls_without_or_with_wrong_credentials_are_refused,
    a_key_acts_on_its_own_account_only,
    admins_of_one_account_manage_that_account_only,
);

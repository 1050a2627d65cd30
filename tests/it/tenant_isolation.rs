//! No tenant ever sees or changes another tenant's data, under a random
//! interleaving of everything tenants do: creates (gRPC and the three
//! Cloud Control operations through the AWS SDK, some with client tokens
//! that other tenants also use), reads, lists paged with cursors (and a
//! cursor of another tenant), cancels, and worker events (claims, progress
//! recorded under the lease, lease renewals), each through gRPC with
//! `Bearer` keys or through the AWS SDK for Rust signing with SigV4, with
//! `--auth sigv4` so that the credential alone decides the account.
//!
//! A model keeps, for every request, its tenant and the status of its
//! last accepted change. Every answer is checked against it: a request
//! returned to, listed for or claimed by a tenant is that tenant's; a call
//! on another tenant's request is refused as not found (or, when it names
//! the other account, as access denied); and since every accepted change
//! updates the model, an owner's later read showing another status would
//! reveal a change made by someone else.
//!
//! The steps come from a seeded RNG: the seed is printed, and
//! `TENANT_ISOLATION_SEED=<seed> cargo test tenant_isolation` replays a run.
//!
//! Tenants are (account, region) pairs: three accounts in two regions. The
//! SDK callers sign for the tenant's region and the gRPC calls name it, so
//! the same account in another region is another tenant, whose requests
//! are not found and whose cursors are refused.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;

use aws_sdk_cloudcontrol::error::ProvideErrorMetadata;
use aws_sdk_cloudcontrol::types::ResourceRequestStatusFilter as SdkFilter;
use statusgate::domain::credential::Role;
use statusgate::grpc::proto::{
    CancelResourceRequestRequest, ClaimResourceRequestsRequest, CreateResourceRequestRequest,
    GetResourceRequestStatusRequest, ListProgressEventsRequest, ListResourceRequestsRequest,
    Operation, OperationStatus, ProgressEvent, RecordProgressEventRequest, RenewLeaseRequest,
    ResourceRequestStatusFilter,
};
use tonic::Code;

use crate::backend_tests;
use crate::common::TYPE_NAME;
use crate::common::auth::{Authed, issue, resource_requests_as, spawn_sigv4};
use crate::common::grpc_errors::assert_error;
use crate::common::workers::duration;
use crate::common::{Backend, TestApp};

const ACCOUNTS: [&str; 3] = ["111111111111", "222222222222", "333333333333"];
/// The regions tenants sign for and name: the server's default region and
/// another.
const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];

/// Tenant `index` is the account `index / REGIONS.len()` in the region
/// `index % REGIONS.len()` (the order the run makes them in).
fn account_of(tenant: usize) -> &'static str {
    ACCOUNTS[tenant / REGIONS.len()]
}

fn region_of(tenant: usize) -> &'static str {
    REGIONS[tenant % REGIONS.len()]
}
/// Client tokens every tenant draws from, so that tenants reuse each other's.
const CLIENT_TOKENS: [&str; 4] = [
    "4f1c2b3a-0000-4000-8000-000000000001",
    "4f1c2b3a-0000-4000-8000-000000000002",
    "4f1c2b3a-0000-4000-8000-000000000003",
    "4f1c2b3a-0000-4000-8000-000000000004",
];
const STEPS: usize = 160;

/// SplitMix64: a small, seedable, reproducible RNG.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

fn seed() -> u64 {
    match std::env::var("TENANT_ISOLATION_SEED") {
        Ok(text) => text.parse().expect("TENANT_ISOLATION_SEED is a u64"),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64,
    }
}

/// One tenant: its account and region, and its clients on both transports.
struct Tenant {
    account: &'static str,
    region: &'static str,
    client: statusgate::grpc::proto::resource_request_service_client::ResourceRequestServiceClient<
        Authed,
    >,
    worker: statusgate::grpc::proto::resource_request_service_client::ResourceRequestServiceClient<
        Authed,
    >,
    sdk: aws_sdk_cloudcontrol::Client,
}

/// What the model knows of one request.
#[derive(Debug, Clone)]
struct Known {
    tenant: usize,
    /// The AWS name of the status of its last accepted change.
    status: String,
    operation: &'static str,
    /// What it was created with (its desired state names its tenant).
    desired_state: Option<String>,
    lease_token: Option<String>,
}

#[derive(Default)]
struct Model {
    /// Request token -> what is known of it.
    requests: BTreeMap<String, Known>,
    /// Each tenant's request tokens, oldest first.
    created: Vec<Vec<String>>,
    /// (tenant, client token) -> the request it created.
    client_tokens: BTreeMap<(usize, &'static str), String>,
    /// A cursor some tenant was handed, for another to try.
    last_cursor: Option<(usize, String)>,
}

impl Model {
    fn tokens_of(&self, tenant: usize) -> &[String] {
        &self.created[tenant]
    }

    fn foreign_token(&self, tenant: usize, rng: &mut Rng) -> Option<String> {
        let others: Vec<&String> = self
            .requests
            .iter()
            .filter(|(_, known)| known.tenant != tenant)
            .map(|(token, _)| token)
            .collect();
        (!others.is_empty()).then(|| rng.pick(&others).to_string())
    }

    fn own_token(&self, tenant: usize, rng: &mut Rng) -> Option<String> {
        let own = self.tokens_of(tenant);
        (!own.is_empty()).then(|| rng.pick(own).clone())
    }
}

fn grpc_status(event: &ProgressEvent) -> String {
    event
        .operation_status()
        .as_str_name()
        .trim_start_matches("OPERATION_STATUS_")
        .to_owned()
}

fn status_from_aws(name: &str) -> OperationStatus {
    OperationStatus::from_str_name(&format!("OPERATION_STATUS_{name}")).expect("a status")
}

/// The desired state of a tenant's `n`-th create: it names the tenant.
fn desired_state(account: &str, n: usize) -> String {
    format!(r#"{{"LogGroupName":"tenant-{account}-{n}"}}"#)
}

/// Asserts that `token`, returned to `tenant`, is that tenant's request
/// and, if the model holds a status for it, that it has that status.
#[track_caller]
fn assert_own(model: &Model, tenant: usize, token: &str, status: Option<&str>, context: &str) {
    let known = model
        .requests
        .get(token)
        .unwrap_or_else(|| panic!("{context}: tenant {tenant} was given unknown request {token}"));
    assert_eq!(
        known.tenant, tenant,
        "{context}: tenant {tenant} was given tenant {}'s request {token}",
        known.tenant
    );
    if let Some(status) = status {
        assert_eq!(
            status, known.status,
            "{context}: request {token} of tenant {tenant} changed without its tenant"
        );
    }
}

#[track_caller]
fn assert_grpc_not_found(status: &tonic::Status, context: &str) {
    assert_eq!(
        status.code(),
        Code::NotFound,
        "{context}: another tenant's request must not be found: {status:?}"
    );
}

/// An owner's call may be refused by the state machine or a lease, but
/// never because its own request is not found or not its to call.
#[track_caller]
fn assert_owner_refusal(status: &tonic::Status, context: &str) {
    assert!(
        !matches!(
            status.code(),
            Code::NotFound | Code::PermissionDenied | Code::Unauthenticated | Code::Internal
        ),
        "{context}: {status:?}"
    );
}

#[track_caller]
fn assert_sdk_code<E: ProvideErrorMetadata + Debug, R: Debug>(
    error: &aws_sdk_cloudcontrol::error::SdkError<E, R>,
    code: &str,
    context: &str,
) {
    let service_error = error
        .as_service_error()
        .unwrap_or_else(|| panic!("{context}: not a service error: {error:?}"));
    assert_eq!(service_error.code(), Some(code), "{context}: {error:?}");
}

struct Run {
    rng: Rng,
    model: Model,
    tenants: Vec<Tenant>,
    /// A worker bound to every account (a control plane serving all tenants).
    any_worker:
        statusgate::grpc::proto::resource_request_service_client::ResourceRequestServiceClient<
            Authed,
        >,
    creates: usize,
}

impl Run {
    async fn create(&mut self, tenant: usize) {
        let account = self.tenants[tenant].account;
        let client_token = if self.rng.chance(40) {
            Some(*self.rng.pick(&CLIENT_TOKENS))
        } else {
            None
        };
        let earlier = client_token.and_then(|ct| self.model.client_tokens.get(&(tenant, ct)));
        let (operation, desired) = match earlier {
            // The same input again: the same request.
            Some(token) => {
                let known = &self.model.requests[token];
                (known.operation, known.desired_state.clone())
            }
            None => {
                self.creates += 1;
                let operation = *self.rng.pick(&["CREATE", "UPDATE", "DELETE"]);
                let desired = (operation == "CREATE").then(|| desired_state(account, self.creates));
                (operation, desired)
            }
        };
        // One resource per request (a second update of a resource whose
        // first one is unfinished is refused as a concurrent operation); a
        // client token names its resource, so that a repeat is the same input.
        let identifier = (operation != "CREATE").then(|| match client_token {
            Some(client_token) => format!("tenant-{account}-resource-{client_token}"),
            None => format!("tenant-{account}-resource-{}", self.creates),
        });
        let context = format!("create {operation} by tenant {tenant}");
        let event_token_status = if self.rng.chance(50) {
            let request = CreateResourceRequestRequest {
                account_id: String::new(),
                operation: Operation::from_str_name(&format!("OPERATION_{operation}"))
                    .expect("an operation") as i32,
                type_name: TYPE_NAME.into(),
                identifier: identifier.clone(),
                desired_state: desired.clone(),
                patch_document: (operation == "UPDATE")
                    .then(|| r#"[{"op":"replace","path":"/RetentionInDays","value":7}]"#.into()),
                client_token: client_token.map(str::to_owned),
                region: region_of(tenant).into(),
                ..CreateResourceRequestRequest::default()
            };
            let event = self.tenants[tenant]
                .client
                .create_resource_request(request)
                .await
                .unwrap_or_else(|status| panic!("{context}: {status:?}"))
                .into_inner()
                .progress_event
                .expect("event");
            (event.request_token.clone(), grpc_status(&event))
        } else {
            let sdk = &self.tenants[tenant].sdk;
            let event = match operation {
                "CREATE" => sdk
                    .create_resource()
                    .type_name(TYPE_NAME)
                    .desired_state(desired.clone().unwrap())
                    .set_client_token(client_token.map(str::to_owned))
                    .send()
                    .await
                    .unwrap_or_else(|error| panic!("{context}: {error:?}"))
                    .progress_event
                    .expect("event"),
                "UPDATE" => sdk
                    .update_resource()
                    .type_name(TYPE_NAME)
                    .identifier(identifier.clone().unwrap())
                    .patch_document(r#"[{"op":"replace","path":"/RetentionInDays","value":7}]"#)
                    .set_client_token(client_token.map(str::to_owned))
                    .send()
                    .await
                    .unwrap_or_else(|error| panic!("{context}: {error:?}"))
                    .progress_event
                    .expect("event"),
                _ => sdk
                    .delete_resource()
                    .type_name(TYPE_NAME)
                    .identifier(identifier.clone().unwrap())
                    .set_client_token(client_token.map(str::to_owned))
                    .send()
                    .await
                    .unwrap_or_else(|error| panic!("{context}: {error:?}"))
                    .progress_event
                    .expect("event"),
            };
            (
                event.request_token.expect("a request token"),
                event
                    .operation_status
                    .expect("a status")
                    .as_str()
                    .to_owned(),
            )
        };
        let (token, status) = event_token_status;
        match client_token.and_then(|ct| self.model.client_tokens.get(&(tenant, ct))) {
            Some(original) => {
                assert_eq!(&token, original, "{context}: a repeated client token");
                assert_own(&self.model, tenant, &token, Some(&status), &context);
            }
            None => {
                assert!(
                    !self.model.requests.contains_key(&token),
                    "{context}: was handed an existing request {token} (another tenant's client token?)"
                );
                self.model.requests.insert(
                    token.clone(),
                    Known {
                        tenant,
                        status,
                        operation,
                        desired_state: desired,
                        lease_token: None,
                    },
                );
                self.model.created[tenant].push(token.clone());
                if let Some(ct) = client_token {
                    self.model.client_tokens.insert((tenant, ct), token);
                }
            }
        }
    }

    async fn read(&mut self, tenant: usize) {
        let foreign = self.rng.chance(50);
        let token = if foreign {
            self.model.foreign_token(tenant, &mut self.rng)
        } else {
            self.model.own_token(tenant, &mut self.rng)
        };
        let Some(token) = token else { return };
        let context = format!("read of {token} by tenant {tenant}");
        let over_grpc = self.rng.chance(50);
        let the_tenant = &mut self.tenants[tenant];
        if over_grpc {
            let outcome = the_tenant
                .client
                .get_resource_request_status(GetResourceRequestStatusRequest {
                    region: region_of(tenant).into(),
                    account_id: String::new(),
                    request_token: token.clone(),
                })
                .await;
            match (foreign, outcome) {
                (true, Err(status)) => assert_grpc_not_found(&status, &context),
                (false, Ok(response)) => {
                    let event = response.into_inner().progress_event.expect("event");
                    assert_eq!(event.request_token, token, "{context}");
                    assert_own(
                        &self.model,
                        tenant,
                        &token,
                        Some(&grpc_status(&event)),
                        &context,
                    );
                }
                (_, outcome) => panic!("{context}: {outcome:?}"),
            }
        } else {
            let outcome = the_tenant
                .sdk
                .get_resource_request_status()
                .request_token(&token)
                .send()
                .await;
            match (foreign, outcome) {
                (true, Err(error)) => {
                    assert_sdk_code(&error, "RequestTokenNotFoundException", &context)
                }
                (false, Ok(output)) => {
                    let event = output.progress_event.expect("event");
                    assert_eq!(event.request_token.as_deref(), Some(token.as_str()));
                    let status = event.operation_status.expect("a status");
                    assert_own(&self.model, tenant, &token, Some(status.as_str()), &context);
                }
                (_, outcome) => panic!("{context}: {outcome:?}"),
            }
        }
        // Naming the other tenant's account outright is refused before any
        // lookup; naming one's own account, in one's own region, finds
        // nothing of the same account's other region.
        if foreign && self.rng.chance(30) {
            let owner = self.model.requests[&token].tenant;
            let status = self.tenants[tenant]
                .client
                .get_resource_request_status(GetResourceRequestStatusRequest {
                    region: region_of(tenant).into(),
                    account_id: account_of(owner).into(),
                    request_token: token.clone(),
                })
                .await
                .expect_err(&context);
            if account_of(owner) == account_of(tenant) {
                assert_grpc_not_found(&status, &context);
            } else {
                assert_error(&status, Code::PermissionDenied, "AccessDeniedException");
            }
        }
    }

    /// Lists every page of the tenant's requests, optionally filtered by
    /// status: exactly its own, newest first, each with its known status.
    async fn list(&mut self, tenant: usize) {
        let filter: Vec<&'static str> = if self.rng.chance(40) {
            vec![*self.rng.pick(&[
                "PENDING",
                "IN_PROGRESS",
                "SUCCESS",
                "FAILED",
                "CANCEL_IN_PROGRESS",
                "CANCEL_COMPLETE",
            ])]
        } else {
            Vec::new()
        };
        let page_size = 1 + self.rng.below(4) as i32;
        let over_grpc = self.rng.chance(50);
        let context = format!(
            "list by tenant {tenant} ({}, {filter:?}, pages of {page_size})",
            if over_grpc { "gRPC" } else { "SDK" }
        );
        let mut listed: Vec<(String, String)> = Vec::new();
        let mut next_token: Option<String> = None;
        for _ in 0..200 {
            let (page, next) = if over_grpc {
                let response = self.tenants[tenant]
                    .client
                    .list_resource_requests(ListResourceRequestsRequest {
                        region: region_of(tenant).into(),
                        account_id: String::new(),
                        max_results: Some(page_size),
                        next_token: next_token.clone(),
                        resource_request_status_filter: Some(ResourceRequestStatusFilter {
                            operations: Vec::new(),
                            operation_statuses: filter
                                .iter()
                                .map(|name| status_from_aws(name) as i32)
                                .collect(),
                        }),
                    })
                    .await
                    .unwrap_or_else(|status| panic!("{context}: {status:?}"))
                    .into_inner();
                let page = response
                    .resource_request_status_summaries
                    .iter()
                    .map(|event| (event.request_token.clone(), grpc_status(event)))
                    .collect::<Vec<_>>();
                (page, response.next_token)
            } else {
                let mut sdk_filter = SdkFilter::builder();
                for name in &filter {
                    sdk_filter = sdk_filter.operation_statuses((*name).into());
                }
                let output = self.tenants[tenant]
                    .sdk
                    .list_resource_requests()
                    .max_results(page_size)
                    .set_next_token(next_token.clone())
                    .resource_request_status_filter(sdk_filter.build())
                    .send()
                    .await
                    .unwrap_or_else(|error| panic!("{context}: {error:?}"));
                let page = output
                    .resource_request_status_summaries()
                    .iter()
                    .map(|event| {
                        (
                            event.request_token().expect("a token").to_owned(),
                            event
                                .operation_status()
                                .expect("a status")
                                .as_str()
                                .to_owned(),
                        )
                    })
                    .collect::<Vec<_>>();
                (page, output.next_token)
            };
            for (token, status) in &page {
                assert_own(&self.model, tenant, token, Some(status), &context);
            }
            listed.extend(page);
            match next {
                Some(cursor) => {
                    self.model.last_cursor = Some((tenant, cursor.clone()));
                    next_token = Some(cursor);
                }
                None => break,
            }
        }
        let expected: Vec<String> = self
            .model
            .tokens_of(tenant)
            .iter()
            .rev()
            .filter(|token| {
                filter.is_empty() || filter.contains(&self.model.requests[*token].status.as_str())
            })
            .cloned()
            .collect();
        let tokens: Vec<String> = listed.into_iter().map(|(token, _)| token).collect();
        assert_eq!(tokens, expected, "{context}: exactly its own, newest first");
    }

    /// Another tenant's cursor is refused: it pages nobody's requests.
    async fn foreign_cursor(&mut self, tenant: usize) {
        let Some((owner, cursor)) = self.model.last_cursor.clone() else {
            return;
        };
        if owner == tenant {
            return;
        }
        let context = format!("tenant {tenant} paging with tenant {owner}'s cursor");
        if self.rng.chance(50) {
            let status = self.tenants[tenant]
                .client
                .list_resource_requests(ListResourceRequestsRequest {
                    region: region_of(tenant).into(),
                    account_id: String::new(),
                    max_results: Some(5),
                    next_token: Some(cursor),
                    resource_request_status_filter: None,
                })
                .await
                .expect_err(&context);
            assert_eq!(
                status.code(),
                Code::InvalidArgument,
                "{context}: {status:?}"
            );
        } else {
            let error = self.tenants[tenant]
                .sdk
                .list_resource_requests()
                .next_token(cursor)
                .send()
                .await
                .expect_err(&context);
            assert_sdk_code(&error, "ValidationException", &context);
        }
    }

    async fn cancel(&mut self, tenant: usize) {
        let foreign = self.rng.chance(40);
        let token = if foreign {
            self.model.foreign_token(tenant, &mut self.rng)
        } else {
            self.model.own_token(tenant, &mut self.rng)
        };
        let Some(token) = token else { return };
        let context = format!("cancel of {token} by tenant {tenant}");
        if self.rng.chance(50) {
            let outcome = self.tenants[tenant]
                .client
                .cancel_resource_request(CancelResourceRequestRequest {
                    region: region_of(tenant).into(),
                    account_id: String::new(),
                    request_token: token.clone(),
                })
                .await;
            match (foreign, outcome) {
                (true, Err(status)) => assert_grpc_not_found(&status, &context),
                (true, Ok(response)) => panic!("{context}: cancelled: {response:?}"),
                (false, Err(status)) => assert_owner_refusal(&status, &context),
                (false, Ok(response)) => {
                    let event = response.into_inner().progress_event.expect("event");
                    assert_own(&self.model, tenant, &event.request_token, None, &context);
                    self.settle(&token, grpc_status(&event));
                }
            }
        } else {
            let outcome = self.tenants[tenant]
                .sdk
                .cancel_resource_request()
                .request_token(&token)
                .send()
                .await;
            match (foreign, outcome) {
                (true, Err(error)) => {
                    assert_sdk_code(&error, "RequestTokenNotFoundException", &context)
                }
                (true, Ok(output)) => panic!("{context}: cancelled: {output:?}"),
                (false, Err(error)) => {
                    // A finished request cannot be cancelled.
                    assert_sdk_code(&error, "ValidationException", &context)
                }
                (false, Ok(output)) => {
                    let event = output.progress_event.expect("event");
                    let status = event
                        .operation_status
                        .expect("a status")
                        .as_str()
                        .to_owned();
                    self.settle(&token, status);
                }
            }
        }
    }

    /// Records the status of an accepted change; a finished request's
    /// lease is gone.
    fn settle(&mut self, token: &str, status: String) {
        let known = self.model.requests.get_mut(token).expect("known");
        if matches!(status.as_str(), "SUCCESS" | "FAILED" | "CANCEL_COMPLETE") {
            known.lease_token = None;
        }
        known.status = status;
    }

    /// A worker claims: a bound worker only its tenant's requests, the
    /// all-accounts worker anyone's, each claim naming its true account
    /// and carrying its own input.
    async fn claim(&mut self, tenant: usize) {
        let bound = self.rng.chance(70);
        let context = format!(
            "claim by {}",
            if bound {
                format!("tenant {tenant}'s worker")
            } else {
                "the all-accounts worker".to_owned()
            }
        );
        let request = ClaimResourceRequestsRequest {
            worker_id: format!("worker-{tenant}"),
            max_requests: Some(1 + self.rng.below(3) as i32),
            lease_duration: Some(duration(std::time::Duration::from_secs(600))),
            // A tenant's worker serves its region; the all-accounts one every
            // region.
            region: bound.then(|| region_of(tenant).to_owned()),
            ..ClaimResourceRequestsRequest::default()
        };
        let worker = if bound {
            &mut self.tenants[tenant].worker
        } else {
            &mut self.any_worker
        };
        let claims = worker
            .claim_resource_requests(request)
            .await
            .unwrap_or_else(|status| panic!("{context}: {status:?}"))
            .into_inner()
            .claims;
        for claim in claims {
            let event = claim.progress_event.expect("event");
            let owner = self
                .model
                .requests
                .get(&event.request_token)
                .unwrap_or_else(|| panic!("{context}: unknown request {}", event.request_token))
                .tenant;
            if bound {
                assert_eq!(owner, tenant, "{context}: claimed another tenant's request");
            }
            assert_eq!(
                claim.account_id,
                account_of(owner),
                "{context}: its account"
            );
            assert_eq!(claim.region, region_of(owner), "{context}: its region");
            let input = claim.input.expect("the input");
            assert_eq!(
                input.desired_state, self.model.requests[&event.request_token].desired_state,
                "{context}: the request's own input"
            );
            let known = self.model.requests.get_mut(&event.request_token).unwrap();
            known.lease_token = Some(claim.lease_token);
            known.status = grpc_status(&event);
        }
    }

    /// A worker records progress on a request: its own tenant's (with
    /// the lease, if it holds one) is accepted or refused by the state
    /// machine; another tenant's is not found.
    async fn record(&mut self, tenant: usize) {
        let foreign = self.rng.chance(40);
        let token = if foreign {
            self.model.foreign_token(tenant, &mut self.rng)
        } else {
            self.model.own_token(tenant, &mut self.rng)
        };
        let Some(token) = token else { return };
        let known = self.model.requests[&token].clone();
        let next = match known.status.as_str() {
            "PENDING" => "IN_PROGRESS",
            "IN_PROGRESS" => *self.rng.pick(&["IN_PROGRESS", "SUCCESS", "FAILED"]),
            "CANCEL_IN_PROGRESS" => "CANCEL_COMPLETE",
            _ => *self.rng.pick(&["IN_PROGRESS", "SUCCESS"]),
        };
        let context = format!("{next} recorded on {token} by tenant {tenant}'s worker");
        let renew = self.rng.chance(25) && known.lease_token.is_some();
        let worker = &mut self.tenants[tenant].worker;
        if renew {
            let outcome = worker
                .renew_lease(RenewLeaseRequest {
                    region: region_of(tenant).into(),
                    account_id: String::new(),
                    request_token: token.clone(),
                    lease_token: known.lease_token.clone().unwrap(),
                    lease_duration: None,
                })
                .await;
            match (foreign, outcome) {
                (true, Err(status)) => assert_grpc_not_found(&status, &context),
                (true, Ok(response)) => panic!("{context}: renewed: {response:?}"),
                (false, Err(status)) => assert_owner_refusal(&status, &context),
                (false, Ok(_)) => {}
            }
            return;
        }
        let outcome = worker
            .record_progress_event(RecordProgressEventRequest {
                region: region_of(tenant).into(),
                account_id: String::new(),
                request_token: token.clone(),
                operation_status: status_from_aws(next) as i32,
                status_message: Some(format!("tenant {tenant}")),
                error_code: if next == "FAILED" {
                    statusgate::grpc::proto::HandlerErrorCode::NotFound as i32
                } else {
                    0
                },
                lease_token: known.lease_token.clone(),
                ..RecordProgressEventRequest::default()
            })
            .await;
        match (foreign, outcome) {
            (true, Err(status)) => assert_grpc_not_found(&status, &context),
            (true, Ok(response)) => panic!("{context}: recorded: {response:?}"),
            (false, Err(status)) => assert_owner_refusal(&status, &context),
            (false, Ok(response)) => {
                let event = response.into_inner().progress_event.expect("event");
                assert_eq!(
                    event.status_message.as_deref(),
                    Some(&*format!("tenant {tenant}"))
                );
                self.settle(&token, grpc_status(&event));
            }
        }
    }

    /// Every request's history, read by its tenant, has only its tenant's
    /// events and ends in the status the model holds; others find nothing.
    async fn audit(&mut self) {
        let requests: Vec<(String, Known)> = self
            .model
            .requests
            .iter()
            .map(|(token, known)| (token.clone(), known.clone()))
            .collect();
        for (token, known) in requests {
            for tenant in 0..self.tenants.len() {
                let outcome = self.tenants[tenant]
                    .client
                    .list_progress_events(ListProgressEventsRequest {
                        region: region_of(tenant).into(),
                        account_id: String::new(),
                        request_token: token.clone(),
                    })
                    .await;
                let context = format!("history of {token} read by tenant {tenant}");
                if tenant != known.tenant {
                    assert_grpc_not_found(&outcome.expect_err(&context), &context);
                    continue;
                }
                let events = outcome
                    .unwrap_or_else(|status| panic!("{context}: {status:?}"))
                    .into_inner()
                    .progress_events;
                let last = events.last().expect("at least the creation");
                assert_eq!(grpc_status(last), known.status, "{context}");
                for event in &events {
                    assert_eq!(event.request_token, token, "{context}");
                    if let Some(message) = &event.status_message {
                        // Workers sign their reports with their tenant.
                        if message.starts_with("tenant ") {
                            assert_eq!(message, &format!("tenant {tenant}"), "{context}");
                        }
                    }
                }
            }
        }
    }
}

async fn no_call_returns_or_changes_another_tenants_data(backend: Backend) {
    let seed = seed();
    println!("tenant_isolation seed: {seed} (TENANT_ISOLATION_SEED={seed} replays this run)");
    let app: TestApp = spawn_sigv4(backend).await;
    let mut tenants = Vec::new();
    for account in ACCOUNTS {
        for region in REGIONS {
            let client_key = issue(&app, Some(account), Role::Client).await;
            let worker_key = issue(&app, Some(account), Role::Worker).await;
            tenants.push(Tenant {
                account,
                region,
                client: resource_requests_as(&app, client_key.bearer()).await,
                worker: resource_requests_as(&app, worker_key.bearer()).await,
                sdk: app
                    .sdk_signing(
                        &client_key.access_key_id,
                        &client_key.secret_access_key,
                        region,
                    )
                    .cloudcontrol(),
            });
        }
    }
    for (index, tenant) in tenants.iter().enumerate() {
        assert_eq!(
            (tenant.account, tenant.region),
            (account_of(index), region_of(index))
        );
    }
    let any_worker_key = issue(&app, None, Role::Worker).await;
    let mut run = Run {
        rng: Rng(seed),
        model: Model {
            created: vec![Vec::new(); tenants.len()],
            ..Model::default()
        },
        any_worker: resource_requests_as(&app, any_worker_key.bearer()).await,
        tenants,
        creates: 0,
    };
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for step in 0..STEPS {
        let tenant = run.rng.below(run.tenants.len());
        // Creates first, so that there is something to read and claim.
        let action = if step < 6 {
            "create"
        } else {
            *run.rng.pick(&[
                "create",
                "create",
                "read",
                "read",
                "list",
                "foreign_cursor",
                "cancel",
                "claim",
                "record",
                "record",
            ])
        };
        *counts.entry(action).or_default() += 1;
        match action {
            "create" => run.create(tenant).await,
            "read" => run.read(tenant).await,
            "list" => run.list(tenant).await,
            "foreign_cursor" => run.foreign_cursor(tenant).await,
            "cancel" => run.cancel(tenant).await,
            "claim" => run.claim(tenant).await,
            _ => run.record(tenant).await,
        }
    }
    for tenant in 0..run.tenants.len() {
        run.list(tenant).await;
    }
    run.audit().await;
    let statuses: BTreeSet<&str> = run
        .model
        .requests
        .values()
        .map(|known| known.status.as_str())
        .collect();
    println!(
        "tenant_isolation: {} requests, steps {counts:?}, statuses reached {statuses:?}",
        run.model.requests.len()
    );
}

backend_tests!(no_call_returns_or_changes_another_tenants_data);

//! Integration tests: the real application on a real SQLite file and a real
//! Postgres database, driven over real sockets.
//!
//! ## Layout
//! - `common/` holds everything tests share (`common/mod.rs` lists it): no
//!   test module defines a helper another module uses.
//! - One module per subject: `grpc_change_tokens`,
//!   `grpc_change_token_listing` (`ListChangeTokens`) and
//!   `grpc_resource_requests` (the gRPC API), `facade_sdk` (the AWS facade
//!   through the real AWS SDKs) and `facade_raw` (what an SDK never sends),
//!   `simulation`, `coalescing`, `races`, `store_conformance` (the `Store`
//!   trait alone), `leases_store` (claims and notifications, the store
//!   alone), `workers` (claims and leases over gRPC), `watch` (wait and
//!   watch), `longrunning` (google.longrunning and reflection), `operations`
//!   (tracing, health, overload, shutdown), `resources` (GetResource and
//!   ListResources, regions, one change per resource, the type table, the
//!   simulation's rules, patches, hooks) and `cli` (the binary).
//!   Authentication (`--auth sigv4`): `facade_auth` (SigV4 through the SDKs
//!   and raw signed HTTP), `grpc_auth` (Bearer keys, the role table, account
//!   binding), `credential_store` (the `CredentialStore` trait),
//!   `workers_auth` (claims, waits, watches and google.longrunning under
//!   roles and account bindings).
//! - Abuse, each a case that once hurt other callers: `metrics_labels`,
//!   `storable_input` (NUL), `token_forms` (tokens keyed as UUIDs, answered
//!   in their string forms), `group_isolation` (coalesced failures),
//!   `cursors`, `worker_times`, `malformed_grpc`, `malformed_http`,
//!   `slow_clients` (timeouts, the connection cap), `descriptors` (the
//!   open-files limit) and `tls`.
//! - Isolation: `tenant_isolation`, a seeded random interleaving of every
//!   tenant's calls on both transports, checked against a model.
//!
//! ## Writing a test
//! - Both backends: write `async fn name(backend: Backend)` and list it in
//!   the module's `backend_tests!(...)`, which makes `sqlite::name` and
//!   `postgres::name`. One backend: a plain `#[tokio::test]`.
//! - A database: `TestDatabase::new(backend)` (dropped with the value), or
//!   `open_test_store(backend)` for a migrated store without a server.
//! - An app: `TestApp::spawn(backend)` on a fresh database;
//!   `TestApp::spawn_on(database)` for a replica on the same one;
//!   `TestApp::spawn_on_manual_clock(backend, |config| ...)` to move time by
//!   hand; `TestApp::spawn_with(database, clock, |config| ...)` for the rest.
//! - A gRPC client: `app.change_tokens().await` or
//!   `app.resource_requests().await`, called through
//!   `common::change_tokens` and `common::resource_requests`, with errors
//!   checked by `common::grpc_errors::{assert_error, assert_invalid_field}`.
//! - Authentication: `common::auth::spawn_sigv4(backend)` for a server that
//!   checks every call, `issue(&app, Some(account), role)` for a key,
//!   `change_tokens_as(&app, key.bearer())` (and siblings) for gRPC,
//!   `app.sdk_signing(access_key_id, secret, region)` for the SDKs,
//!   `common::signing::Signer` for raw signed HTTP.
//! - AWS SDK clients: `app.sdk(access_key_id, region).waf()` (or
//!   `.waf_regional()`, `.cloudcontrol()`); raw HTTP:
//!   `common::facade::aws_json(&app.http_endpoint(), target)` with
//!   `authorization(..)` to call as an account.
//! - Time: `common::wait_until(timeout, "what", async || ...)` polls until
//!   something has happened; never sleep for it. Sleep only to let time pass
//!   on purpose (showing that nothing happens during a hold) and say so.

mod cli;
mod coalescing;
mod common;
mod credential_store;
mod cursors;
mod descriptors;
mod facade_auth;
mod facade_raw;
mod facade_sdk;
mod group_isolation;
mod grpc_auth;
mod grpc_change_token_listing;
mod grpc_change_tokens;
mod grpc_resource_requests;
mod leases_store;
mod longrunning;
mod malformed_grpc;
mod malformed_http;
mod metrics_labels;
mod operations;
mod races;
mod resources;
mod rest;
mod simulation;
mod slow_clients;
mod storable_input;
mod store_conformance;
mod tenant_isolation;
mod tls;
mod token_forms;
mod watch;
mod worker_times;
mod workers;
mod workers_auth;

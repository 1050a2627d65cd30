//! statusgate tracks control-plane changes the way AWS does: WAF Classic
//! change tokens and Cloud Control resource-operation requests, served over
//! gRPC and over an AWS-compatible JSON facade, stored in Postgres or in an
//! embedded SQLite file.
//!
//! # Layout
//! ```text
//! grpc/   http/        transports: decode, call a service, encode
//!     \   /
//!    service/          use cases: scoping, idempotency, cancellation
//!       |
//!    domain/           values, state machines, the error vocabulary (no I/O)
//!       |
//!    store/            one trait per concern; Postgres and SQLite behind them
//! ```
//!
//! | module | owns | entry points |
//! | --- | --- | --- |
//! | `src/main.rs` | the binary: parse, then serve, migrate or manage credentials | `main` |
//! | [`cli`] | `statusgate credentials create/list/revoke` | [`cli::credentials`] |
//! | [`config`] | flags and environment | [`config::Cli`], [`config::Config`] |
//! | [`app`] | wiring: the store named by the URL, the services, both listeners, the jobs | [`app::Application::start`], [`app::open_store`] |
//! | [`net`] | listeners: accept loop, connection cap, TLS and its reload, timeouts | [`net::serve_http`], [`net::incoming`] |
//! | [`grpc`] | `statusgate.v1` and `google.longrunning` over tonic (its own layout in `grpc/mod.rs`) | [`grpc::routes`], [`grpc::layer`], [`grpc::AuthLayer`] (who may call what), `grpc/status.rs` (errors) |
//! | [`http`] | the AWS facade over axum (its own layout in `http/mod.rs`) | [`http::router`] |
//! | [`service`] | one method per operation, shared by both transports | [`service::Services`] |
//! | [`domain`] | validated values, state machines, [`domain::ErrorCode`], credentials and the role table | `domain/resource_request.rs`, `domain/change_token.rs`, `domain/credential.rs`, `domain/permission.rs` |
//! | [`store`] | persistence traits and backends (its own layout in `store/mod.rs`) | [`store::Store`] |
//! | [`jobs`] | background work: purge, simulation (an in-process worker) | [`jobs::purge`], [`jobs::simulation`] |
//! | [`health`], [`metrics`], [`telemetry`] | readiness, Prometheus, logs and traces | [`health::Health`], [`metrics::Metrics`], [`telemetry::init`] |
//!
//! One operation end to end, `GetResourceRequestStatus`: over gRPC
//! `grpc/resource_requests.rs` (`ResourceRequestApi`), over the facade
//! `http/handlers/cloudcontrol.rs` (reached from `http/routes/aws_json.rs`);
//! both call `service::ResourceRequestService::get_status`, which reads
//! `store::ResourceRequestStore::get_resource_request_status`, implemented in
//! `store/postgres/resource_requests.rs` and `store/sqlite/resource_requests.rs`.
//! Errors travel as [`domain::Error`] and are rendered once per transport.
//!
//! Authentication (`--auth sigv4`): on the facade `http/routes/authenticate.rs`
//! verifies SigV4 (`http/protocol/sigv4*.rs`) before any handler runs; on
//! gRPC `grpc/auth.rs` checks `Bearer` keys in a layer. Both look keys up
//! through `service::CredentialService` (cached, secrets sealed by
//! `service/secret_box.rs`) and ask `domain::permission::Action` which
//! role an operation needs.

pub mod app;
pub mod cli;
pub mod config;
pub mod domain;
pub mod grpc;
pub mod health;
pub mod http;
pub mod jobs;
pub mod metrics;
pub mod net;
pub mod rest;
pub mod service;
pub mod store;
pub mod telemetry;

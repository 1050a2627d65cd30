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
//!    store/            the Store trait; Postgres and SQLite behind it
//! ```
//! `app` wires them together from a [`config::Config`]; it is the only
//! module that names a concrete store.

pub mod app;
pub mod config;
pub mod domain;
pub mod grpc;
pub mod health;
pub mod http;
pub mod jobs;
pub mod metrics;
pub mod service;
pub mod store;
pub mod telemetry;

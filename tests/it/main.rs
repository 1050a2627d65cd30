//! Integration tests: the real application on a real SQLite file and a real
//! Postgres database, driven over real sockets.

mod cli;
mod coalescing;
mod common;
mod facade_raw;
mod facade_sdk;
mod grpc_change_tokens;
mod grpc_resource_requests;
mod grpc_support;
mod operations;
mod races;
mod simulation;
mod store_conformance;

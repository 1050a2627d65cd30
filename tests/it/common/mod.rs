//! What the integration tests share (the crate's `//!` doc in `main.rs` says
//! how a test uses it), one module per job:
//! - `database`: [`Backend`], [`TestDatabase`] (a fresh database per test),
//!   [`administer`] (statements on the Postgres server), [`open_test_store`];
//! - `app`: [`TestApp`], the application in-process on ephemeral ports, and
//!   its gRPC and SDK clients;
//! - [`change_tokens`], [`resource_requests`], [`workers`] (claims, leases,
//!   waits and watches): one function per gRPC call;
//!   [`grpc_errors`]: assertions on gRPC errors and their details;
//! - `sdk`: the AWS SDK clients of [`TestApp::sdk`]; [`facade`]: raw HTTP;
//! - `wait`: [`wait_until`]; [`clock`]: a clock tests move by hand;
//! - [`auth`]: `--auth sigv4` servers, credentials, gRPC clients sending
//!   `Bearer` keys; [`signing`]: raw SigV4-signed HTTP;
//! - [`binary`]: the `statusgate` process; [`proxy`]: a TCP proxy that takes
//!   the database away; [`certificates`]: a CA and the certificates it signs
//!   (TLS tests); [`raw_grpc`]: hand-made gRPC frames over HTTP/2;
//! - [`backend_tests!`](crate::backend_tests): one test body on both
//!   backends.

mod app;
pub mod auth;
pub mod binary;
pub mod certificates;
pub mod change_tokens;
pub mod clock;
mod database;
pub mod facade;
pub mod grpc_errors;
pub mod proxy;
pub mod raw_grpc;
pub mod resource_requests;
mod sdk;
pub mod signing;
mod wait;
pub mod workers;

pub use app::TestApp;
pub use database::{Backend, TestDatabase, admin_connection, administer, open_test_store};
pub use wait::wait_until;

/// The account most tests call as.
pub const ACCOUNT: &str = "123456789012";
/// An account that must not see [`ACCOUNT`]'s tokens and requests.
pub const OTHER_ACCOUNT: &str = "210987654321";
/// The resource type the tests' requests are for.
pub const TYPE_NAME: &str = "AWS::Logs::LogGroup";

/// Writes `mod sqlite` and `mod postgres`, each with one `#[tokio::test]` per
/// listed `async fn name(backend: Backend)` of the calling module.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::Postgres).await
                }
            )*
        }
    };
}

/// `account` in the default region (`us-east-1`), where requests and
/// resources of callers that name no region live.
pub fn scope_of(
    account: &statusgate::domain::AccountId,
) -> statusgate::domain::resource::AccountRegion {
    statusgate::domain::resource::AccountRegion::new(
        account.clone(),
        statusgate::domain::values::Region::parse("us-east-1").unwrap(),
    )
}

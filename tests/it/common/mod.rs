//! What the integration tests share. A test gets
//! - a database: [`TestDatabase::new`] (or [`open_test_store`] for the store
//!   alone), on SQLite or Postgres as [`Backend`] says;
//! - an app: [`TestApp::spawn`] on a fresh database, or [`TestApp::spawn_on`]
//!   (replicas), [`TestApp::spawn_on_manual_clock`] and
//!   [`TestApp::spawn_with`] for another clock or configuration;
//! - clients: gRPC from [`TestApp::change_tokens`] and
//!   [`TestApp::resource_requests`], driven with [`change_tokens`] and
//!   [`resource_requests`] and checked with [`grpc_errors`]; AWS SDK clients
//!   from [`TestApp::sdk`]; raw HTTP with [`facade`];
//! - time: [`wait_until`] to poll for what must happen, a
//!   [`clock::ManualClock`] for what must not happen before its time;
//! - the binary as a process ([`binary`]) and a TCP proxy that takes the
//!   database away ([`proxy`]).
//!
//! [`backend_tests!`](crate::backend_tests) runs one test body on both
//! backends.

mod app;
pub mod binary;
pub mod change_tokens;
pub mod clock;
mod database;
pub mod facade;
pub mod grpc_errors;
pub mod proxy;
pub mod resource_requests;
mod sdk;
mod wait;

pub use app::TestApp;
pub use database::{Backend, TestDatabase, administer, open_test_store};
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

//! The statusgate domain: validated values, the change-token and
//! resource-request state machines, worker leases, and the one error
//! vocabulary that both transports map; Cloud Control resources, hooks and
//! the regions they live in. Nothing here does I/O or knows about gRPC, HTTP or SQL.

pub mod change_token;
pub mod credential;
pub mod error;
pub mod hooks;
pub mod lease;
pub mod permission;
pub mod resource;
pub mod resource_request;
pub mod resource_types;
pub mod simulation;
pub mod time;
pub mod values;

pub use error::{ApiFamily, Error, ErrorCode, FieldViolation};
pub use time::{Clock, SystemClock, Timestamp};
pub use values::AccountId;

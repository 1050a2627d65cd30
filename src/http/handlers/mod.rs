//! The handlers: one function per operation, named after it, each
//! wire shape -> domain values -> service call -> wire shape. They return
//! domain errors only: everything wrong with the request itself was
//! rejected by `protocol` before a handler is called. Both the awsJson
//! endpoint (through [`dispatch()`]) and the query form call these same
//! functions, and the gRPC transport calls the same service methods.
//!
//! - `waf`: WAF Classic and WAF Regional (`GetChangeToken`, ...).
//! - `cloudcontrol`: Cloud Control (`GetResourceRequestStatus`, ...).
//! - `dispatch`: a routed awsJson operation -> its handler, with the body
//!   decoded into its input and the output encoded.

mod cloudcontrol;
mod dispatch;
mod waf;

pub use cloudcontrol::{get_resource_request_status, operation_statuses, operations};
pub use dispatch::dispatch;

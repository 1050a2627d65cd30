//! Background jobs, started by `app` and stopped with its cancellation token:
//! the purge of expired records (`purge`), and the simulation mode that
//! stands in for WAF propagation and for a Cloud Control worker
//! (`simulation`, its outcomes in `simulated_outcome`). Each job works through the services, like a caller or a
//! worker would, and is safe to run on several replicas at once.

pub mod purge;
mod simulated_outcome;
pub mod simulation;

//! Background jobs, started by `app` and stopped with its cancellation token:
//! the purge of expired records (`purge`), and the simulation mode that
//! stands in for WAF propagation and for a Cloud Control worker
//! (`simulation`). Each job works through the services, like a caller or a
//! worker would, and is safe to run on several replicas at once.

pub mod purge;
pub mod simulation;

//! Use cases, shared by both transports: each public method is one operation,
//! taking validated domain values and returning domain values or a domain
//! [`Error`]. Scoping (accounts, visibility windows), idempotency and
//! cancellation live here; the state machines live in `domain`, and races are
//! settled by the store.
//!
//! | module | what it serves |
//! | --- | --- |
//! | `change_tokens.rs` | WAF Classic change tokens, and their listing |
//! | `resource_requests.rs` | Cloud Control requests as callers see them |
//! | `workers.rs` | what workers call: claims, leases, progress, hooks |
//! | `watch.rs` | waiting for and watching requests and change tokens |
//! | `resources.rs` | Cloud Control resources: `GetResource`, `ListResources` |
//! | `simulation.rs` | the simulated worker's rules |
//! | `cursor.rs` | the listings' `NextToken`s |

mod change_tokens;
mod credentials;
mod cursor;
mod resource_requests;
mod resources;
mod secret_box;
mod simulation;
mod watch;
mod workers;

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

pub use change_tokens::{ChangeTokenListRequest, ChangeTokenPage, ChangeTokenService};
pub use credentials::{CredentialError, CredentialService, LOOKUP_TTL};
pub use resource_requests::{CloudControlSettings, ListPage, ListRequest, ResourceRequestService};
pub use resources::{ResourceDescription, ResourceListPage, ResourceListRequest, ResourceService};
pub use secret_box::{CredentialsKey, KeyError};
pub use simulation::SimulationService;
pub use watch::{WatchService, max_wait_within};
pub use workers::{ClaimRequest, ClaimedRequest, Recorded, WorkerService};

use crate::domain::{Clock, Error};
use crate::store::{Store, StoreError};

/// Translates a store failure the operation did not expect into the caller's
/// error, logging the cause once.
fn unexpected(operation: &'static str, error: StoreError) -> Error {
    match error {
        StoreError::Rejected(error) => error,
        StoreError::Unavailable(cause) => {
            tracing::warn!(operation, %cause, "database unavailable");
            Error::unavailable()
        }
        StoreError::NotFound | StoreError::Conflict | StoreError::Internal(_) => {
            tracing::error!(operation, cause = %error, "store failure");
            Error::internal()
        }
    }
}

/// Runs a store write to completion on its own task. A caller that goes
/// away (a client disconnecting drops its request future) must not abandon a
/// transaction half-way on a pooled connection, and its retry should find the
/// write either done or not started.
async fn run_to_completion<T, Write>(write: Write) -> Result<T, StoreError>
where
    T: Send + 'static,
    Write: std::future::Future<Output = Result<T, StoreError>> + Send + 'static,
{
    match tokio::spawn(write).await {
        Ok(outcome) => outcome,
        Err(join_error) if join_error.is_panic() => {
            std::panic::resume_unwind(join_error.into_panic())
        }
        Err(_) => Err(StoreError::Unavailable(
            "the server is shutting down".into(),
        )),
    }
}

/// Everything the transports need, cheap to clone.
#[derive(Clone)]
pub struct Services {
    pub change_tokens: ChangeTokenService,
    pub resource_requests: ResourceRequestService,
    pub credentials: CredentialService,
    pub workers: WorkerService,
    pub watches: WatchService,
    pub resources: ResourceService,
    pub simulation: SimulationService,
}

impl Services {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        default_account: crate::domain::AccountId,
        cloud_control: CloudControlSettings,
        retention: Duration,
        credentials_key: Option<CredentialsKey>,
    ) -> Self {
        let change_tokens = ChangeTokenService::new(
            store.clone(),
            clock.clone(),
            default_account.clone(),
            cloud_control.default_region.clone(),
            retention,
        );
        let resource_requests = ResourceRequestService::new(
            store.clone(),
            clock.clone(),
            default_account,
            cloud_control.clone(),
            retention,
        );
        Self {
            credentials: CredentialService::new(store.clone(), clock.clone(), credentials_key),
            workers: WorkerService::new(
                store.clone(),
                clock.clone(),
                resource_requests.clone(),
                retention,
            ),
            resources: ResourceService::new(store.clone(), cloud_control.known_types_only),
            simulation: SimulationService::new(store.clone(), clock.clone()),
            watches: WatchService::new(
                resource_requests.clone(),
                change_tokens.clone(),
                store,
                clock,
                retention,
            ),
            change_tokens,
            resource_requests,
        }
    }

    /// The same services with the server's limits on waiting and watching:
    /// no wait lasts longer than `max_wait`, and once `shutdown` is
    /// cancelled streams end and waits answer at once.
    pub fn with_watch_limits(self, max_wait: Duration, shutdown: CancellationToken) -> Self {
        Self {
            watches: self.watches.with_limits(max_wait, shutdown),
            ..self
        }
    }
}

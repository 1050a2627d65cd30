//! Storage: the traits the services depend on, one per concern, and their
//! Postgres and SQLite implementations.
//!
//! # Layout
//! ```text
//! change_tokens.rs      ChangeTokenStore: the WAF Classic token contract
//! credentials.rs        CredentialStore: access keys, sealed secrets, roles, revocation
//! resource_requests.rs  ResourceRequestStore: the Cloud Control request contract
//! leases.rs             ResourceRequestLeases: workers claiming requests under leases
//! resources.rs          ResourceStore: resources as their successful requests left them
//! hooks.rs              HookProgressStore: hook invocations recorded on requests
//! simulation_rules.rs   SimulationRuleStore: the simulated worker's rules
//! notifications.rs      Notifications: subscribe to a request's events or a token's status
//! maintenance.rs        StoreMaintenance (ping, pool metrics, close) and the availability gate
//! error.rs              StoreError, the one error every method returns
//! rows.rs               rows by column name, and their conversion to domain values
//! token_key.rs          request and change tokens as 16-byte keys, their string form at the edge
//! coalesce.rs           coalescing of concurrent keyed calls (used by Postgres)
//! postgres/, sqlite/    one `impl` per trait and backend, in files named like the traits'
//! ```
//! [`Store`] is all these traits together, which is what the services hold
//! (`Arc<dyn Store>`). The backends write their SQL out in plain `impl`
//! blocks, and the conformance suite in `tests/` checks that they behave
//! alike; where they differ it is on purpose (coalescing and group commit on
//! Postgres, one writer connection on SQLite; notifications across processes
//! through `LISTEN`/`NOTIFY` on Postgres, within the process on SQLite).
//!
//! Races are settled by the database: a partial unique index keeps one
//! outstanding change token per scope, `UPDATE ... WHERE status = ...` lets one
//! consumer win, resource-request updates run under a row lock
//! (`SELECT ... FOR UPDATE` on Postgres, `BEGIN IMMEDIATE` on SQLite), and a
//! claim skips the rows another claim holds (`FOR UPDATE SKIP LOCKED`), and a
//! partial unique index keeps one unfinished `UPDATE` or `DELETE` per
//! resource. No
//! sqlx type crosses these traits.

mod change_tokens;
mod coalesce;
mod credentials;
mod error;
mod hooks;
mod leases;
mod maintenance;
mod notifications;
mod postgres;
mod resource_requests;
mod resources;
mod rows;
mod simulation_rules;
mod sqlite;
mod token_key;

pub use change_tokens::{ChangeTokenListQuery, ChangeTokenPosition, ChangeTokenStore};
pub use credentials::{CredentialStore, StoredCredential};
pub use error::StoreError;
pub use hooks::{DecideHook, HookProgressStore};
pub use leases::{ClaimQuery, DecideClaim, ResourceRequestLeases};
pub use maintenance::{PoolConnections, StoreMaintenance};
pub use notifications::{FanOut, Notifications, Subscription, Topic};
pub use postgres::PostgresStore;
pub use resource_requests::{
    CreateOutcome, Decide, ListQuery, ListedRequest, RequestStatus, ResourceRequestStore,
};
pub use resources::{ResourceListQuery, ResourceStore};
pub use simulation_rules::SimulationRuleStore;
pub use sqlite::SqliteStore;

/// Everything a backend provides; implemented for every type that
/// implements all the concerns.
pub trait Store:
    ChangeTokenStore
    + CredentialStore
    + ResourceRequestStore
    + ResourceRequestLeases
    + ResourceStore
    + HookProgressStore
    + SimulationRuleStore
    + Notifications
    + StoreMaintenance
    + 'static
{
}

impl<Backend> Store for Backend where
    Backend: ChangeTokenStore
        + CredentialStore
        + ResourceRequestStore
        + ResourceRequestLeases
        + ResourceStore
        + HookProgressStore
        + SimulationRuleStore
        + Notifications
        + StoreMaintenance
        + 'static
{
}

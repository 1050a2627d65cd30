//! The simulation's rules ([`SimulationRuleStore`]): one JSON document,
//! kept in the database so that every replica's simulated worker follows
//! the same rules, and a restart keeps what `SetSimulationRules` set. The
//! document is the domain's to parse (`domain::simulation`); the store keeps
//! it as text. Each backend implements it in its own `simulation_rules.rs`.

use async_trait::async_trait;

use super::error::StoreError;
use crate::domain::Timestamp;

#[async_trait]
pub trait SimulationRuleStore: Send + Sync {
    /// Replaces the rules with `rules` (one statement: every reader sees
    /// the old set or the new one).
    async fn set_simulation_rules(&self, rules: &str, now: Timestamp) -> Result<(), StoreError>;

    /// The rules last set; `None` when none ever were.
    async fn simulation_rules(&self) -> Result<Option<String>, StoreError>;
}

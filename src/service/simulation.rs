//! The simulated worker's rules (`SetSimulationRules`, `GetSimulationRules`
//! and `--simulation-rules`): validated by the domain
//! (`domain::simulation`), stored as one document in the database so every
//! replica follows the same rules. Setting replaces the whole set (an empty
//! `Rules` list clears it); the simulated worker reads the rules each time it
//! claims requests, so a change applies to requests claimed after it.

use std::sync::Arc;

use super::unexpected;
use crate::domain::simulation::SimulationRules;
use crate::domain::{Clock, Error};
use crate::store::Store;

#[derive(Clone)]
pub struct SimulationService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
}

/// The document of an empty rule set (what `GetSimulationRules` answers
/// before any were set).
pub const NO_RULES: &str = r#"{"Rules": []}"#;

impl SimulationService {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    /// Replaces every rule with those of `document`; an invalid document is
    /// refused (naming `Rules`) and changes nothing. Returns how many rules
    /// are now in force.
    pub async fn set_rules(&self, document: &str) -> Result<usize, Error> {
        let rules = SimulationRules::parse(document).map_err(Error::invalid_input)?;
        self.store
            .set_simulation_rules(document, self.clock.now())
            .await
            .map_err(|error| unexpected("SetSimulationRules", error))?;
        Ok(rules.len())
    }

    /// The document last set ([`NO_RULES`] when none was).
    pub async fn rules_document(&self) -> Result<String, Error> {
        let stored = self
            .store
            .simulation_rules()
            .await
            .map_err(|error| unexpected("GetSimulationRules", error))?;
        Ok(stored.unwrap_or_else(|| NO_RULES.to_owned()))
    }

    /// The rules in force. A stored document that no longer parses (written
    /// by another version) counts as no rules, and says so in the log.
    pub async fn rules(&self) -> Result<SimulationRules, Error> {
        let document = self.rules_document().await?;
        Ok(SimulationRules::parse(&document).unwrap_or_else(|violation| {
            tracing::warn!(reason = %violation.constraint, "stored simulation rules do not parse; none apply");
            SimulationRules::default()
        }))
    }
}

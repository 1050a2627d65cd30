//! [`SimulationRuleStore`] on Postgres: one row, replaced by an upsert.

use async_trait::async_trait;

use super::PostgresStore;
use super::errors::classify;
use crate::domain::Timestamp;
use crate::store::error::StoreError;
use crate::store::simulation_rules::SimulationRuleStore;

const SET_RULES: &str = "\
    INSERT INTO simulation_rules (id, rules, updated_at) VALUES (1, $1, $2) \
    ON CONFLICT (id) DO UPDATE SET rules = excluded.rules, updated_at = excluded.updated_at";

const SELECT_RULES: &str = "SELECT rules FROM simulation_rules WHERE id = 1";

#[async_trait]
impl SimulationRuleStore for PostgresStore {
    async fn set_simulation_rules(&self, rules: &str, now: Timestamp) -> Result<(), StoreError> {
        self.availability.check()?;
        self.write(sqlx::query(SET_RULES).bind(rules).bind(now.as_micros()))
            .await
            .map(|_| ())
    }

    async fn simulation_rules(&self) -> Result<Option<String>, StoreError> {
        self.availability.check()?;
        sqlx::query_scalar(SELECT_RULES)
            .fetch_optional(&self.pool)
            .await
            .map_err(classify)
    }
}

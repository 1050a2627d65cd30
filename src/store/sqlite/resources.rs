//! [`ResourceStore`] on Sqlite: point reads and keyset pages on the
//! primary key of `resources` (account, region, type, identifier).

use async_trait::async_trait;

use super::SqliteStore;
use super::errors::classify;
use crate::domain::resource::{AccountRegion, StoredResource};
use crate::domain::values::{Identifier, TypeName};
use crate::store::error::StoreError;
use crate::store::resources::{ResourceListQuery, ResourceStore};
use crate::store::rows::ResourceRow;

const SELECT_RESOURCE: &str = "\
    SELECT type_name, identifier, properties FROM resources \
    WHERE account_id = $1 AND region = $2 AND type_name = $3 AND identifier = $4";

/// A page after identifier `$4` (`NULL`: the first page), at most `$5`.
const LIST_RESOURCES: &str = "\
    SELECT type_name, identifier, properties FROM resources \
    WHERE account_id = $1 AND region = $2 AND type_name = $3 \
      AND ($4 IS NULL OR identifier > $4) \
    ORDER BY identifier LIMIT $5";

#[async_trait]
impl ResourceStore for SqliteStore {
    #[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "sqlite"))]
    async fn get_resource(
        &self,
        scope: &AccountRegion,
        type_name: &TypeName,
        identifier: &Identifier,
    ) -> Result<StoredResource, StoreError> {
        self.availability.check()?;
        let row: Option<ResourceRow> = sqlx::query_as(SELECT_RESOURCE)
            .bind(scope.account.as_str())
            .bind(scope.region.as_str())
            .bind(type_name.as_str())
            .bind(identifier.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(classify)?;
        row.map(ResourceRow::into_resource)
            .ok_or(StoreError::NotFound)
    }

    #[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "sqlite"))]
    async fn list_resources(
        &self,
        query: &ResourceListQuery,
    ) -> Result<Vec<StoredResource>, StoreError> {
        self.availability.check()?;
        let rows: Vec<ResourceRow> = sqlx::query_as(LIST_RESOURCES)
            .bind(query.scope.account.as_str())
            .bind(query.scope.region.as_str())
            .bind(query.type_name.as_str())
            .bind(query.after.as_deref())
            .bind(i64::from(query.limit))
            .fetch_all(&self.pool)
            .await
            .map_err(classify)?;
        Ok(rows.into_iter().map(ResourceRow::into_resource).collect())
    }
}

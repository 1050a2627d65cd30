//! [`CredentialStore`] on SQLite: one statement per call. A duplicate
//! access key id inserts nothing (`ON CONFLICT DO NOTHING`) and is answered
//! as `Conflict`; revocation is one `UPDATE` that keeps the first revocation
//! time. Writes go to the writer
//! connection, reads to the reader pool.

use async_trait::async_trait;

use super::SqliteStore;
use super::errors::classify;
use crate::domain::Timestamp;
use crate::domain::credential::AccessKeyId;
use crate::store::credentials::{
    CREDENTIAL_COLUMNS, CredentialRow, CredentialStore, StoredCredential,
};
use crate::store::error::StoreError;

const INSERT_CREDENTIAL: &str = "\
    INSERT INTO credentials (access_key_id, sealed_secret, account_id, role, created_at) \
    VALUES ($1, $2, $3, $4, $5) ON CONFLICT (access_key_id) DO NOTHING";

const REVOKE_CREDENTIAL: &str = "\
    UPDATE credentials SET revoked_at = COALESCE(revoked_at, $2) WHERE access_key_id = $1";

#[async_trait]
impl CredentialStore for SqliteStore {
    #[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "sqlite"))]
    async fn insert_credential(&self, credential: &StoredCredential) -> Result<(), StoreError> {
        self.availability.check()?;
        let inserted = self
            .write(
                sqlx::query(INSERT_CREDENTIAL)
                    .bind(credential.access_key_id.as_str())
                    .bind(credential.sealed_secret.as_slice())
                    .bind(credential.binding.account().map(|account| account.as_str()))
                    .bind(credential.role.as_str())
                    .bind(credential.created_at.as_micros()),
            )
            .await?;
        if inserted == 0 {
            return Err(StoreError::Conflict);
        }
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "sqlite"))]
    async fn credential(
        &self,
        access_key_id: &AccessKeyId,
    ) -> Result<Option<StoredCredential>, StoreError> {
        self.availability.check()?;
        let query =
            format!("SELECT {CREDENTIAL_COLUMNS} FROM credentials WHERE access_key_id = $1");
        let row: Option<CredentialRow> = sqlx::query_as(&query)
            .bind(access_key_id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(classify)?;
        row.map(CredentialRow::into_stored).transpose()
    }

    #[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "sqlite"))]
    async fn list_credentials(&self) -> Result<Vec<StoredCredential>, StoreError> {
        self.availability.check()?;
        let query = format!(
            "SELECT {CREDENTIAL_COLUMNS} FROM credentials ORDER BY created_at, access_key_id"
        );
        let rows: Vec<CredentialRow> = sqlx::query_as(&query)
            .fetch_all(&self.pool)
            .await
            .map_err(classify)?;
        rows.into_iter().map(CredentialRow::into_stored).collect()
    }

    #[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "sqlite"))]
    async fn revoke_credential(
        &self,
        access_key_id: &AccessKeyId,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.availability.check()?;
        let updated = self
            .write(
                sqlx::query(REVOKE_CREDENTIAL)
                    .bind(access_key_id.as_str())
                    .bind(now.as_micros()),
            )
            .await?;
        if updated == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}

//! The credential contract ([`CredentialStore`]): access keys, their sealed
//! secrets, accounts, roles, and when they were created and revoked. The
//! store never sees a secret in the clear: it keeps the bytes
//! `service/secret_box.rs` sealed, and hands them back as they were. Each
//! backend implements it in its own `credentials.rs`, with the row below.

use async_trait::async_trait;

use super::error::StoreError;
use crate::domain::credential::{AccessKeyId, AccountBinding, Role};
use crate::domain::{AccountId, Timestamp};

/// A credential as stored: the secret sealed (nonce and ciphertext).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCredential {
    pub access_key_id: AccessKeyId,
    pub sealed_secret: Vec<u8>,
    pub binding: AccountBinding,
    pub role: Role,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

#[async_trait]
pub trait CredentialStore: Send + Sync {
    /// Stores a new credential. `Conflict` when the access key id exists
    /// (the caller generates another).
    async fn insert_credential(&self, credential: &StoredCredential) -> Result<(), StoreError>;

    /// The credential of an access key id, revoked or not; `None` when there
    /// is none.
    async fn credential(
        &self,
        access_key_id: &AccessKeyId,
    ) -> Result<Option<StoredCredential>, StoreError>;

    /// Every credential, oldest first.
    async fn list_credentials(&self) -> Result<Vec<StoredCredential>, StoreError>;

    /// Marks a credential revoked as of `now`; revoking a revoked credential
    /// keeps its first revocation time. `NotFound` when there is none.
    async fn revoke_credential(
        &self,
        access_key_id: &AccessKeyId,
        now: Timestamp,
    ) -> Result<(), StoreError>;
}

/// A `credentials` row by column name, as both backends return it.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct CredentialRow {
    pub access_key_id: String,
    pub sealed_secret: Vec<u8>,
    pub account_id: Option<String>,
    pub role: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// The columns of [`CredentialRow`], in `SELECT` order.
pub(crate) const CREDENTIAL_COLUMNS: &str =
    "access_key_id, sealed_secret, account_id, role, created_at, revoked_at";

impl CredentialRow {
    /// The stored credential; a value statusgate would not have written is
    /// `Internal`.
    pub(crate) fn into_stored(self) -> Result<StoredCredential, StoreError> {
        let corrupt = |what: &str, value: &str| {
            StoreError::Internal(format!("stored credential {what} {value:?} is not valid"))
        };
        let access_key_id = AccessKeyId::parse(&self.access_key_id)
            .map_err(|_| corrupt("access key id", &self.access_key_id))?;
        let role = Role::parse(&self.role).map_err(|_| corrupt("role", &self.role))?;
        let binding = match self.account_id {
            Some(account) => AccountBinding::Account(
                AccountId::parse(account.clone()).map_err(|_| corrupt("account", &account))?,
            ),
            None => AccountBinding::AllAccounts,
        };
        Ok(StoredCredential {
            access_key_id,
            sealed_secret: self.sealed_secret,
            binding,
            role,
            created_at: Timestamp::from_micros(self.created_at),
            revoked_at: self.revoked_at.map(Timestamp::from_micros),
        })
    }
}

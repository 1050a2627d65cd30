//! Credentials: issuing, listing and revoking them (the `statusgate
//! credentials` commands and the admin RPCs), and looking one up for every
//! authenticated call ([`CredentialService::authenticate`]).
//!
//! Lookups are cached in-process for [`LOOKUP_TTL`], absent and revoked
//! keys too (negative entries), in a cache of bounded size: a revocation
//! reaches every replica within that time without a notification channel,
//! and a flood of made-up key ids costs at most one database read per id
//! and TTL and a bounded amount of memory. Ids that are not of the shape
//! statusgate issues are refused without a lookup.

use std::sync::Arc;
use std::time::{Duration, Instant};

use quick_cache::sync::Cache;

use super::secret_box::{CredentialsKey, generate_access_key_id, generate_secret_access_key};
use super::{run_to_completion, unexpected};
use crate::domain::credential::{
    AccessKeyId, AccountBinding, Credential, CredentialSummary, CredentialValueError, Role,
    check_binding,
};
use crate::domain::{Clock, Error};
use crate::store::{Store, StoreError, StoredCredential};

/// How long a lookup (found, absent or revoked) is reused: a revocation
/// takes effect on every replica within this time.
pub const LOOKUP_TTL: Duration = Duration::from_secs(1);

/// How many lookups are cached at most.
const LOOKUP_CACHE_ENTRIES: usize = 10_000;

/// How often a freshly generated access key id may collide before giving up
/// (80 random bits: never, in practice).
const MAX_ID_ATTEMPTS: usize = 4;

/// Why a credential operation failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CredentialError {
    #[error(
        "no credentials key is configured: set --credentials-key-file or STATUSGATE_CREDENTIALS_KEY (32 random bytes, base64)"
    )]
    KeyMissing,
    #[error("{0}")]
    InvalidValue(#[from] CredentialValueError),
    #[error("no credential has the access key id {0}")]
    NotFound(String),
    #[error("{}", .0.message)]
    Failed(Error),
}

#[derive(Clone)]
struct CachedLookup {
    fetched: Instant,
    /// `None`: no such key, or revoked.
    credential: Option<Arc<Credential>>,
}

struct Inner {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    key: Option<CredentialsKey>,
    lookups: Cache<AccessKeyId, CachedLookup>,
}

/// The credential use cases, cheap to clone.
#[derive(Clone)]
pub struct CredentialService {
    inner: Arc<Inner>,
}

impl CredentialService {
    /// `key` is needed to issue credentials and to authenticate; listing and
    /// revoking work without it.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, key: Option<CredentialsKey>) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                clock,
                key,
                lookups: Cache::new(LOOKUP_CACHE_ENTRIES),
            }),
        }
    }

    fn key(&self) -> Result<&CredentialsKey, CredentialError> {
        self.inner.key.as_ref().ok_or(CredentialError::KeyMissing)
    }

    /// Issues a credential: a fresh access key id and secret, sealed and
    /// stored. The secret is in the answer and nowhere else in the clear.
    pub async fn create(
        &self,
        binding: AccountBinding,
        role: Role,
    ) -> Result<Credential, CredentialError> {
        check_binding(role, &binding)?;
        let key = self.key()?;
        let secret_access_key = generate_secret_access_key();
        let created_at = self.inner.clock.now();
        for _ in 0..MAX_ID_ATTEMPTS {
            let access_key_id = generate_access_key_id();
            let stored = StoredCredential {
                sealed_secret: key.seal(&access_key_id, &secret_access_key),
                access_key_id: access_key_id.clone(),
                binding: binding.clone(),
                role,
                created_at,
                revoked_at: None,
            };
            let store = self.inner.store.clone();
            match run_to_completion(async move { store.insert_credential(&stored).await }).await {
                Ok(()) => {
                    tracing::info!(access_key_id = %access_key_id, role = role.as_str(), "credential created");
                    return Ok(Credential {
                        access_key_id,
                        secret_access_key,
                        binding,
                        role,
                        created_at,
                        revoked_at: None,
                    });
                }
                Err(StoreError::Conflict) => continue,
                Err(error) => {
                    return Err(CredentialError::Failed(unexpected(
                        "CreateCredential",
                        error,
                    )));
                }
            }
        }
        Err(CredentialError::Failed(Error::internal()))
    }

    /// Every credential, without secrets, oldest first.
    pub async fn list(&self) -> Result<Vec<CredentialSummary>, CredentialError> {
        let stored = self
            .inner
            .store
            .list_credentials()
            .await
            .map_err(|error| CredentialError::Failed(unexpected("ListCredentials", error)))?;
        Ok(stored
            .into_iter()
            .map(|credential| CredentialSummary {
                access_key_id: credential.access_key_id,
                binding: credential.binding,
                role: credential.role,
                created_at: credential.created_at,
                revoked_at: credential.revoked_at,
            })
            .collect())
    }

    /// Revokes a credential; this replica stops accepting it at once, every
    /// other within [`LOOKUP_TTL`].
    pub async fn revoke(&self, access_key_id: &str) -> Result<(), CredentialError> {
        let access_key_id = AccessKeyId::parse(access_key_id)
            .map_err(|_| CredentialError::NotFound(access_key_id.to_owned()))?;
        let store = self.inner.store.clone();
        let now = self.inner.clock.now();
        let id = access_key_id.clone();
        match run_to_completion(async move { store.revoke_credential(&id, now).await }).await {
            Ok(()) => {
                self.inner.lookups.remove(&access_key_id);
                tracing::info!(access_key_id = %access_key_id, "credential revoked");
                Ok(())
            }
            Err(StoreError::NotFound) => Err(CredentialError::NotFound(access_key_id.to_string())),
            Err(error) => Err(CredentialError::Failed(unexpected(
                "RevokeCredential",
                error,
            ))),
        }
    }

    /// The active credential of `access_key_id`, or `None` when there is no
    /// such key or it was revoked. Errors are the server's (the database is
    /// away, the credentials key does not open the secret), never the
    /// caller's.
    pub async fn authenticate(
        &self,
        access_key_id: &str,
    ) -> Result<Option<Arc<Credential>>, Error> {
        let Ok(access_key_id) = AccessKeyId::parse(access_key_id) else {
            return Ok(None);
        };
        if let Some(cached) = self.inner.lookups.get(&access_key_id)
            && cached.fetched.elapsed() < LOOKUP_TTL
        {
            return Ok(cached.credential);
        }
        let fetched = Instant::now();
        let stored = self
            .inner
            .store
            .credential(&access_key_id)
            .await
            .map_err(|error| unexpected("Authenticate", error))?;
        let credential = match stored {
            Some(stored) if stored.revoked_at.is_none() => Some(Arc::new(self.open(stored)?)),
            Some(_) | None => None,
        };
        self.inner.lookups.insert(
            access_key_id,
            CachedLookup {
                fetched,
                credential: credential.clone(),
            },
        );
        Ok(credential)
    }

    fn open(&self, stored: StoredCredential) -> Result<Credential, Error> {
        let Some(key) = self.inner.key.as_ref() else {
            tracing::error!("a credential was looked up, but no credentials key is configured");
            return Err(Error::internal());
        };
        let secret_access_key = key
            .open(&stored.access_key_id, &stored.sealed_secret)
            .map_err(|error| {
                tracing::error!(%error, "cannot open a stored secret");
                Error::internal()
            })?;
        Ok(Credential {
            access_key_id: stored.access_key_id,
            secret_access_key,
            binding: stored.binding,
            role: stored.role,
            created_at: stored.created_at,
            revoked_at: stored.revoked_at,
        })
    }
}

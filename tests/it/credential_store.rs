//! The `CredentialStore` contract, checked against SQLite and Postgres
//! alike: what is inserted comes back as it was, ids are unique, listing is
//! oldest first, revocation keeps its first time.

use statusgate::domain::credential::{AccessKeyId, AccountBinding, Role};
use statusgate::domain::{AccountId, Timestamp};
use statusgate::store::{StoreError, StoredCredential};

use crate::backend_tests;
use crate::common::{ACCOUNT, Backend, open_test_store};

fn stored(
    access_key_id: &str,
    binding: AccountBinding,
    role: Role,
    created_at: i64,
) -> StoredCredential {
    StoredCredential {
        access_key_id: AccessKeyId::parse(access_key_id).unwrap(),
        sealed_secret: vec![0, 1, 2, 255, 254],
        binding,
        role,
        created_at: Timestamp::from_micros(created_at),
        revoked_at: None,
    }
}

async fn credentials_round_trip_and_ids_are_unique(backend: Backend) {
    let (store, _database) = open_test_store(backend).await;
    let account = AccountBinding::Account(AccountId::parse(ACCOUNT).unwrap());
    let client = stored("SGAKAAAAAAAAAAAAAAAB", account.clone(), Role::Client, 2_000);
    let worker = stored(
        "SGAKAAAAAAAAAAAAAAAA",
        AccountBinding::AllAccounts,
        Role::Worker,
        1_000,
    );
    store.insert_credential(&client).await.unwrap();
    store.insert_credential(&worker).await.unwrap();
    assert_eq!(
        store.credential(&client.access_key_id).await.unwrap(),
        Some(client.clone())
    );
    assert_eq!(
        store.credential(&worker.access_key_id).await.unwrap(),
        Some(worker.clone())
    );
    let absent = AccessKeyId::parse("SGAKAAAAAAAAAAAAAAAC").unwrap();
    assert_eq!(store.credential(&absent).await.unwrap(), None);
    let again = stored(
        "SGAKAAAAAAAAAAAAAAAB",
        AccountBinding::AllAccounts,
        Role::Admin,
        3_000,
    );
    assert!(matches!(
        store.insert_credential(&again).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(
        store.credential(&client.access_key_id).await.unwrap(),
        Some(client.clone()),
        "a conflicting insert changes nothing"
    );
    assert_eq!(
        store.list_credentials().await.unwrap(),
        vec![worker, client],
        "oldest first"
    );
}

async fn revocation_keeps_its_first_time(backend: Backend) {
    let (store, _database) = open_test_store(backend).await;
    let credential = stored(
        "SGAKAAAAAAAAAAAAAAAA",
        AccountBinding::AllAccounts,
        Role::Admin,
        1_000,
    );
    store.insert_credential(&credential).await.unwrap();
    let id = &credential.access_key_id;
    store
        .revoke_credential(id, Timestamp::from_micros(5_000))
        .await
        .unwrap();
    store
        .revoke_credential(id, Timestamp::from_micros(9_000))
        .await
        .unwrap();
    assert_eq!(
        store.credential(id).await.unwrap().unwrap().revoked_at,
        Some(Timestamp::from_micros(5_000))
    );
    let absent = AccessKeyId::parse("SGAKAAAAAAAAAAAAAAAC").unwrap();
    assert!(matches!(
        store
            .revoke_credential(&absent, Timestamp::from_micros(1))
            .await,
        Err(StoreError::NotFound)
    ));
}

backend_tests!(
    credentials_round_trip_and_ids_are_unique,
    revocation_keeps_its_first_time,
);

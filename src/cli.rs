//! The `statusgate credentials` commands: issue, list and revoke the
//! credentials callers sign with. They work on the database directly
//! (migrating it first, like the server), so they need no running server;
//! every replica on the database sees the change within seconds.
//!
//! Output is JSON on stdout: `create` prints the new credential with its
//! secret, once (`"Account": "*"` for an all-accounts credential); `list`
//! prints one object per line, without secrets.

use std::sync::Arc;

use serde_json::json;

use crate::app::{StartupError, open_store};
use crate::config::{Config, CredentialsCommand};
use crate::domain::credential::{AccountBinding, Role};
use crate::domain::{SystemClock, Timestamp};
use crate::service::{CredentialError, CredentialService};

/// The account column of the output.
fn account_text(binding: &AccountBinding) -> String {
    match binding {
        AccountBinding::Account(account) => account.to_string(),
        AccountBinding::AllAccounts => "*".to_owned(),
    }
}

/// RFC 3339, as `aws` prints times.
fn time_text(at: Timestamp) -> String {
    let nanos = i128::from(at.as_micros()) * 1_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|at| {
            at.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| at.as_micros().to_string())
}

fn failed(error: CredentialError) -> StartupError {
    StartupError::Config(error.to_string())
}

/// Runs one `statusgate credentials` command.
pub async fn credentials(config: &Config, command: CredentialsCommand) -> Result<(), StartupError> {
    let key = config.credentials_key().map_err(StartupError::Config)?;
    let store = open_store(config).await?;
    let service = CredentialService::new(store.clone(), Arc::new(SystemClock), key);
    let outcome = run(&service, command).await;
    store.close().await;
    outcome
}

async fn run(service: &CredentialService, command: CredentialsCommand) -> Result<(), StartupError> {
    match command {
        CredentialsCommand::Create {
            account,
            all_accounts,
            role,
        } => {
            let role =
                Role::parse(&role).map_err(|error| StartupError::Config(error.to_string()))?;
            let binding = match (account, all_accounts) {
                (_, true) => AccountBinding::AllAccounts,
                (Some(account), false) => AccountBinding::Account(account),
                (None, false) => {
                    return Err(StartupError::Config(
                        "give --account ACCOUNT or --all-accounts".into(),
                    ));
                }
            };
            let credential = service.create(binding, role).await.map_err(failed)?;
            let output = json!({
                "AccessKeyId": credential.access_key_id.as_str(),
                "SecretAccessKey": credential.secret_access_key.expose(),
                "Account": account_text(&credential.binding),
                "Role": credential.role.as_str(),
            });
            println!("{output}");
        }
        CredentialsCommand::List => {
            for summary in service.list().await.map_err(failed)? {
                let output = json!({
                    "AccessKeyId": summary.access_key_id.as_str(),
                    "Account": account_text(&summary.binding),
                    "Role": summary.role.as_str(),
                    "CreatedAt": time_text(summary.created_at),
                    "RevokedAt": summary.revoked_at.map(time_text),
                });
                println!("{output}");
            }
        }
        CredentialsCommand::Revoke { access_key_id } => {
            service.revoke(&access_key_id).await.map_err(failed)?;
        }
    }
    Ok(())
}

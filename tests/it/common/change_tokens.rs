//! Calling `ChangeTokenService` from tests: scopes, and one function per RPC
//! that answers with the status (or the gRPC error, for the test to check).

use statusgate::grpc::proto::change_token_service_client::ChangeTokenServiceClient;
use statusgate::grpc::proto::{
    ChangeTokenScope, ChangeTokenStatus, ConsumeChangeTokenRequest, GetChangeTokenRequest,
    GetChangeTokenStatusRequest, MarkChangeTokenInSyncRequest, WafEndpoint,
};
use tonic::transport::Channel;

pub type Client = ChangeTokenServiceClient<Channel>;

/// WAF Classic global, for `account` (empty: the default account).
pub fn global(account: &str) -> Option<ChangeTokenScope> {
    Some(ChangeTokenScope {
        account_id: account.into(),
        endpoint: WafEndpoint::Global as i32,
        region: String::new(),
    })
}

/// WAF Regional in `region`, for `account` (empty: the default account).
pub fn regional(account: &str, region: &str) -> Option<ChangeTokenScope> {
    Some(ChangeTokenScope {
        account_id: account.into(),
        endpoint: WafEndpoint::Regional as i32,
        region: region.into(),
    })
}

/// GetChangeToken, which must succeed.
pub async fn get_token(client: &mut Client, scope: Option<ChangeTokenScope>) -> String {
    client
        .get_change_token(GetChangeTokenRequest { scope })
        .await
        .expect("GetChangeToken")
        .into_inner()
        .change_token
}

pub async fn status_of(
    client: &mut Client,
    scope: Option<ChangeTokenScope>,
    change_token: &str,
) -> Result<ChangeTokenStatus, tonic::Status> {
    let response = client
        .get_change_token_status(GetChangeTokenStatusRequest {
            scope,
            change_token: change_token.into(),
        })
        .await?;
    Ok(response.into_inner().change_token_status())
}

/// ConsumeChangeToken for a change described as `UpdateIPSet ipset-1`.
pub async fn consume(
    client: &mut Client,
    scope: Option<ChangeTokenScope>,
    change_token: &str,
) -> Result<ChangeTokenStatus, tonic::Status> {
    let response = client
        .consume_change_token(ConsumeChangeTokenRequest {
            scope,
            change_token: change_token.into(),
            change_description: "UpdateIPSet ipset-1".into(),
        })
        .await?;
    Ok(response.into_inner().change_token_status())
}

pub async fn mark_in_sync(
    client: &mut Client,
    scope: Option<ChangeTokenScope>,
    change_token: &str,
) -> Result<ChangeTokenStatus, tonic::Status> {
    let response = client
        .mark_change_token_in_sync(MarkChangeTokenInSyncRequest {
            scope,
            change_token: change_token.into(),
        })
        .await?;
    Ok(response.into_inner().change_token_status())
}

/// A change token as the store keeps them (a lowercase UUID), told apart by
/// a short `name` (at most 16 bytes) that it spells, so that a test can
/// write `named_token("t-1")` and compare tokens by name.
pub fn named_token(name: &str) -> statusgate::domain::values::ChangeToken {
    let mut bytes = [0u8; 16];
    assert!(
        name.len() <= bytes.len(),
        "a token name of at most 16 bytes"
    );
    bytes[..name.len()].copy_from_slice(name.as_bytes());
    statusgate::domain::values::ChangeToken::parse(uuid::Uuid::from_bytes(bytes).to_string())
        .unwrap()
}

/// The name a [`named_token`] spells.
pub fn token_name(token: &statusgate::domain::values::ChangeToken) -> String {
    let bytes = *uuid::Uuid::parse_str(token.as_str())
        .expect("a named token")
        .as_bytes();
    let length = bytes.iter().position(|&byte| byte == 0).unwrap_or(16);
    String::from_utf8(bytes[..length].to_vec()).expect("a named token")
}

//! WAF Classic and WAF Regional (`AWSWAF_20150824.*`,
//! `AWSWAF_Regional_20161128.*`): wire shapes to domain values, the change
//! token service, and back. The endpoint comes from the target, the account
//! from the access key, the WAF Regional region from the credential scope.

use crate::domain::change_token::{ChangeTokenScope, WafEndpoint};
use crate::domain::values::{ChangeToken, Region};
use crate::domain::{Error, FieldViolation};
use crate::http::protocol::Caller;
use crate::http::shapes::{
    GetChangeTokenInput, GetChangeTokenOutput, GetChangeTokenStatusInput,
    GetChangeTokenStatusOutput,
};
use crate::service::ChangeTokenService;

/// Whose tokens a request sees: WAF global tokens ignore the region (boto3
/// signs them with the client's region), WAF Regional tokens are per region.
fn scope(
    service: &ChangeTokenService,
    caller: &Caller,
    endpoint: WafEndpoint,
) -> Result<ChangeTokenScope, Error> {
    let account = caller.account(service.default_account());
    crate::telemetry::record_account(&account);
    match endpoint {
        WafEndpoint::Global => Ok(ChangeTokenScope::global(account)),
        WafEndpoint::Regional => {
            // A request whose signature names no region (an unsigned one, a
            // credential without a scope) is in `--default-region`, as
            // Cloud Control's are: such callers share one set of tokens
            // rather than being refused.
            let region = match caller.region() {
                Some(region) => Region::parse(region).map_err(Error::invalid_input)?,
                None => service.default_region().clone(),
            };
            Ok(ChangeTokenScope::regional(account, region))
        }
    }
}

pub async fn get_change_token(
    service: &ChangeTokenService,
    caller: &Caller,
    endpoint: WafEndpoint,
    _input: GetChangeTokenInput,
) -> Result<GetChangeTokenOutput, Error> {
    let scope = scope(service, caller, endpoint)?;
    let token = service.get_change_token(&scope).await?;
    Ok(GetChangeTokenOutput {
        change_token: token.into_string(),
    })
}

pub async fn get_change_token_status(
    service: &ChangeTokenService,
    caller: &Caller,
    endpoint: WafEndpoint,
    input: GetChangeTokenStatusInput,
) -> Result<GetChangeTokenStatusOutput, Error> {
    let scope = scope(service, caller, endpoint)?;
    let token = input
        .change_token
        .ok_or_else(|| FieldViolation::missing(ChangeToken::MEMBER))
        .and_then(ChangeToken::parse)
        .map_err(Error::invalid_input)?;
    let status = service.get_change_token_status(&scope, &token).await?;
    Ok(GetChangeTokenStatusOutput {
        change_token_status: status.as_str(),
    })
}

//! Raw HTTP on the AWS facade, for what an SDK never sends (and for calls
//! whose headers a test wants to choose): the AWS JSON target prefixes and
//! content types, and a signed-looking `Authorization` header.

/// `X-Amz-Target` prefixes: `{WAF}.GetChangeToken`.
pub const WAF: &str = "AWSWAF_20150824";
pub const WAF_REGIONAL: &str = "AWSWAF_Regional_20161128";
pub const CLOUD_CONTROL: &str = "CloudApiService";
/// Cloud Control speaks awsJson 1.0, WAF and WAF Regional awsJson 1.1.
pub const JSON_1_0: &str = "application/x-amz-json-1.0";
pub const JSON_1_1: &str = "application/x-amz-json-1.1";

/// `POST /` of the AWS JSON operation `target`, unsigned and without a
/// content type: add what the test needs (a content type, an `Authorization`
/// of [`authorization`]), a body, and send.
pub fn aws_json(endpoint: &str, target: &str) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .post(endpoint)
        .header("X-Amz-Target", target)
}

/// The value of an `Authorization` header of the SigV4 shape. Signatures are
/// not checked: the credential scope alone says who calls (the access key: 12
/// digits are that account, anything else the default one) and from which
/// region.
pub fn authorization(access_key_id: &str, region: &str, service: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential={access_key_id}/20261123/{region}/{service}/aws4_request, SignedHeaders=host;x-amz-date, Signature=0000"
    )
}

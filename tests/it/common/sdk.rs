//! AWS SDK for Rust clients pointed at a test app. One place decides what
//! every client shares: the endpoint URL, the caller's credentials, the
//! region, a plain-HTTP client and the behaviour version. The three SDK crates
//! generate the same builder methods on types of their own (there is no
//! common trait), so each client is one short builder chain over those
//! shared values.

use aws_sdk_waf::config::{BehaviorVersion, Credentials, Region, SharedHttpClient};
use aws_smithy_http_client::Builder as HttpClientBuilder;

/// Signatures are not checked; the secret is anything.
const SECRET_ACCESS_KEY: &str = "not-checked";

/// One caller (access key and region) of one app, for any of the SDKs.
#[derive(Clone)]
pub struct SdkCaller {
    endpoint_url: String,
    region: Region,
    credentials: Credentials,
    http_client: SharedHttpClient,
}

impl SdkCaller {
    pub fn new(endpoint_url: String, access_key_id: &str, region: &str) -> Self {
        Self {
            endpoint_url,
            region: Region::new(region.to_owned()),
            credentials: Credentials::new(access_key_id, SECRET_ACCESS_KEY, None, None, "tests"),
            http_client: HttpClientBuilder::new().build_http(),
        }
    }

    /// WAF Classic (global).
    pub fn waf(&self) -> aws_sdk_waf::Client {
        let config = aws_sdk_waf::Config::builder()
            .endpoint_url(&self.endpoint_url)
            .region(self.region.clone())
            .credentials_provider(self.credentials.clone())
            .http_client(self.http_client.clone())
            .behavior_version(BehaviorVersion::latest())
            .build();
        aws_sdk_waf::Client::from_conf(config)
    }

    pub fn waf_regional(&self) -> aws_sdk_wafregional::Client {
        let config = aws_sdk_wafregional::Config::builder()
            .endpoint_url(&self.endpoint_url)
            .region(self.region.clone())
            .credentials_provider(self.credentials.clone())
            .http_client(self.http_client.clone())
            .behavior_version(BehaviorVersion::latest())
            .build();
        aws_sdk_wafregional::Client::from_conf(config)
    }

    pub fn cloudcontrol(&self) -> aws_sdk_cloudcontrol::Client {
        let config = aws_sdk_cloudcontrol::Config::builder()
            .endpoint_url(&self.endpoint_url)
            .region(self.region.clone())
            .credentials_provider(self.credentials.clone())
            .http_client(self.http_client.clone())
            .behavior_version(BehaviorVersion::latest())
            .build();
        aws_sdk_cloudcontrol::Client::from_conf(config)
    }
}

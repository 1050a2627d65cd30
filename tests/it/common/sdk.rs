//! AWS SDK for Rust clients pointed at a test app. One [`SdkConfig`] decides
//! what every client shares: the endpoint URL, the caller's credentials, the
//! region, a plain-HTTP client and the behaviour version; each SDK's client
//! is made from it.

use aws_sdk_waf::config::{BehaviorVersion, Credentials, Region, SharedCredentialsProvider};
use aws_smithy_http_client::Builder as HttpClientBuilder;
use aws_types::SdkConfig;

/// Signatures are not checked; the secret is anything.
const SECRET_ACCESS_KEY: &str = "not-checked";

/// One caller (access key and region) of one app, for any of the SDKs.
#[derive(Clone)]
pub struct SdkCaller {
    config: SdkConfig,
}

impl SdkCaller {
    pub fn new(endpoint_url: String, access_key_id: &str, region: &str) -> Self {
        let credentials = Credentials::new(access_key_id, SECRET_ACCESS_KEY, None, None, "tests");
        let config = SdkConfig::builder()
            .endpoint_url(endpoint_url)
            .region(Region::new(region.to_owned()))
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .http_client(HttpClientBuilder::new().build_http())
            .behavior_version(BehaviorVersion::latest())
            .build();
        Self { config }
    }

    /// WAF Classic (global).
    pub fn waf(&self) -> aws_sdk_waf::Client {
        aws_sdk_waf::Client::new(&self.config)
    }

    pub fn waf_regional(&self) -> aws_sdk_wafregional::Client {
        aws_sdk_wafregional::Client::new(&self.config)
    }

    pub fn cloudcontrol(&self) -> aws_sdk_cloudcontrol::Client {
        aws_sdk_cloudcontrol::Client::new(&self.config)
    }
}

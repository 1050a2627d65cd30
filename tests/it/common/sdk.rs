//! AWS SDK for Rust clients pointed at a test app. One [`SdkConfig`] decides
//! what every client shares: the endpoint URL, the caller's credentials, the
//! region, a plain-HTTP client and the behaviour version; each SDK's client
//! is made from it. The SDK signs every call (SigV4) with the secret given;
//! [`SdkCaller::new`] uses one that a server in `--auth none` mode ignores.

use aws_sdk_waf::config::{BehaviorVersion, Credentials, Region, SharedCredentialsProvider};
use aws_smithy_http_client::Builder as HttpClientBuilder;
use aws_types::SdkConfig;

/// The secret of callers of a server that checks no signature.
const UNCHECKED_SECRET_ACCESS_KEY: &str = "not-checked";

/// One caller (access key and region) of one app, for any of the SDKs.
#[derive(Clone)]
pub struct SdkCaller {
    config: SdkConfig,
}

impl SdkCaller {
    pub fn new(endpoint_url: String, access_key_id: &str, region: &str) -> Self {
        Self::signing(
            endpoint_url,
            access_key_id,
            UNCHECKED_SECRET_ACCESS_KEY,
            None,
            region,
        )
    }

    /// A caller signing with `secret_access_key` (and, if given, a session
    /// token, which statusgate refuses).
    pub fn signing(
        endpoint_url: String,
        access_key_id: &str,
        secret_access_key: &str,
        session_token: Option<&str>,
        region: &str,
    ) -> Self {
        let credentials = Credentials::new(
            access_key_id,
            secret_access_key,
            session_token.map(str::to_owned),
            None,
            "tests",
        );
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

//! Raw SigV4-signed HTTP, for the requests an SDK would never make (a
//! skewed clock, the wrong service in the scope, presigned URLs, a body
//! changed after signing). Signing is `aws-sigv4`'s, as in the SDKs.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_smithy_runtime_api::client::identity::Identity;

/// Who signs, for what, and when.
#[derive(Debug, Clone)]
pub struct Signer {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub region: String,
    pub service: String,
    pub time: SystemTime,
}

impl Signer {
    pub fn new(access_key_id: &str, secret_access_key: &str, region: &str, service: &str) -> Self {
        Self {
            access_key_id: access_key_id.to_owned(),
            secret_access_key: secret_access_key.to_owned(),
            region: region.to_owned(),
            service: service.to_owned(),
            time: SystemTime::now(),
        }
    }

    /// Signed `seconds` from now (negative: in the past).
    pub fn at_offset(mut self, seconds: i64) -> Self {
        let magnitude = Duration::from_secs(seconds.unsigned_abs());
        self.time = if seconds >= 0 {
            SystemTime::now() + magnitude
        } else {
            SystemTime::now() - magnitude
        };
        self
    }

    pub fn at(mut self, time: SystemTime) -> Self {
        self.time = time;
        self
    }

    fn sign_into(&self, request: &mut http::Request<Vec<u8>>, settings: SigningSettings) {
        let identity: Identity = Credentials::new(
            &self.access_key_id,
            &self.secret_access_key,
            None,
            None,
            "tests",
        )
        .into();
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(&self.service)
            .time(self.time)
            .settings(settings)
            .build()
            .unwrap()
            .into();
        let headers: Vec<(String, String)> = request
            .headers()
            .iter()
            .map(|(name, value)| (name.as_str().to_owned(), value.to_str().unwrap().to_owned()))
            .collect();
        let signable = SignableRequest::new(
            request.method().as_str(),
            request.uri().to_string(),
            headers
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_str())),
            SignableBody::Bytes(request.body()),
        )
        .unwrap();
        let (instructions, _) = sign(signable, &params).unwrap().into_parts();
        instructions.apply_to_request_http1x(request);
    }

    /// Adds `Authorization` and `X-Amz-Date`.
    pub fn sign(&self, request: &mut http::Request<Vec<u8>>) {
        self.sign_into(request, SigningSettings::default());
    }

    /// Adds the presigned query parameters, valid for `expires`.
    pub fn presign(&self, request: &mut http::Request<Vec<u8>>, expires: Duration) {
        let mut settings = SigningSettings::default();
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(expires);
        self.sign_into(request, settings);
    }
}

/// `POST /` of an awsJson operation on `endpoint` (`http://127.0.0.1:PORT`).
pub fn aws_json_request(
    endpoint: &str,
    target: &str,
    content_type: &str,
    body: &str,
) -> http::Request<Vec<u8>> {
    http::Request::post(format!("{endpoint}/"))
        .header("content-type", content_type)
        .header("x-amz-target", target)
        .body(body.as_bytes().to_vec())
        .unwrap()
}

/// Sends a request as built (and signed); answers the status and body.
pub async fn send(request: http::Request<Vec<u8>>) -> (u16, String) {
    let (parts, body) = request.into_parts();
    let mut builder = reqwest::Client::new().request(parts.method, parts.uri.to_string());
    for (name, value) in &parts.headers {
        builder = builder.header(name, value);
    }
    let response = builder.body(body).send().await.expect("the facade answers");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

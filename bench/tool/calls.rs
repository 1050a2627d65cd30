//! Every request the benchmark sends, built from statusgate's own types:
//! gRPC requests are the generated `statusgate::grpc::proto` messages, sent
//! by the generated tonic clients; facade bodies are the facade's serde
//! shapes (`statusgate::http::shapes`), serialized with serde_json. Nothing
//! is encoded by hand, so a renumbered proto field or a renamed member
//! changes the benchmark's requests together with the server.
//!
//! The load generators send what a real client sent: [`Grpc::check`] makes
//! one call through tonic over a channel that records the path, headers and
//! framed body it carried, and h2load replays exactly those bytes to exactly
//! that path. Each check also requires the answer the load run relies on
//! (grpc-status 0 and, for example, a PENDING status), before and after
//! every run.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_smithy_runtime_api::client::identity::Identity;

use http::header::{AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use serde_json::Value;
use tokio::runtime::Handle;
use tonic::transport::{Channel, Endpoint};

use statusgate::grpc::proto::change_token_service_client::ChangeTokenServiceClient;
use statusgate::grpc::proto::resource_request_service_client::ResourceRequestServiceClient;
use statusgate::grpc::proto::resource_service_client::ResourceServiceClient;
use statusgate::grpc::proto::{
    ChangeTokenScope, ChangeTokenStatus, ConsumeChangeTokenRequest, CreateResourceRequestRequest,
    GetChangeTokenRequest, GetChangeTokenStatusRequest, GetResourceRequest,
    GetResourceRequestStatusRequest, ListResourceRequestsRequest, ListResourcesRequest, Operation,
    OperationStatus, RecordProgressEventRequest, WafEndpoint,
};
use statusgate::http::shapes::{
    CreateResourceInput, GetChangeTokenInput, GetChangeTokenStatusInput, GetResourceInput,
    ListResourcesInput, RequestTokenInput,
};

/// The benchmark's account: it owns the hot keys and every seeded request.
pub const ACCOUNT: &str = "123456789012";
/// The first account of the GetChangeToken scopes (WAF global).
pub const SCOPE_ACCOUNT: u64 = 200_000_000_000;
pub const TYPE_NAME: &str = "AWS::Logs::LogGroup";
/// The page size of the ListResourceRequests and ListResources runs.
pub const LIST_PAGE: i32 = 20;
/// How many resources the GetResource and ListResources runs read: one
/// full page.
pub const RESOURCES: usize = LIST_PAGE as usize;

/// The identifier (log group name) of resource number `k`.
pub fn resource_identifier(k: usize) -> String {
    format!("bench-resource-{k:03}")
}

/// The server's default region, where every request of the benchmark lives;
/// signed requests name it in their credential scope.
pub const REGION: &str = "us-east-1";

/// How long one check may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// The request token of seeded request number `i`: the first group is a
/// multiplicative hash of `i` (keys land all over the index, like random
/// UUIDs), the last group is `i`. `bench/sql/seed_requests.sql` writes the
/// same tokens and `bench/facade.lua` computes them for random reads.
pub fn seeded_request_token(i: u64) -> String {
    format!(
        "{:08x}-0000-4000-8000-{i:012x}",
        (i * 1_000_003) % (1 << 32)
    )
}

/// Where `bench/facade.lua` puts a random seeded request token in a body.
pub const SEEDED_TOKEN_PLACEHOLDER: &str = "@SEEDED_REQUEST_TOKEN@";

// ---- gRPC -----------------------------------------------------------------

/// One call an h2load run repeats.
#[derive(Debug, Clone)]
pub enum GrpcCall {
    GetResourceRequestStatus(GetResourceRequestStatusRequest),
    GetChangeTokenStatus(GetChangeTokenStatusRequest),
    ListResourceRequests(ListResourceRequestsRequest),
    GetChangeToken(GetChangeTokenRequest),
    CreateResourceRequest(CreateResourceRequestRequest),
    GetResource(GetResourceRequest),
    ListResources(ListResourcesRequest),
}

fn hot_scope() -> ChangeTokenScope {
    ChangeTokenScope {
        account_id: ACCOUNT.to_owned(),
        endpoint: WafEndpoint::Global.into(),
        region: String::new(),
    }
}

fn create_request(log_group: &str) -> CreateResourceRequestRequest {
    CreateResourceRequestRequest {
        account_id: ACCOUNT.to_owned(),
        operation: Operation::Create.into(),
        type_name: TYPE_NAME.to_owned(),
        desired_state: Some(format!(r#"{{"LogGroupName":"{log_group}"}}"#)),
        ..Default::default()
    }
}

impl GrpcCall {
    pub fn resource_request_status(request_token: &str) -> Self {
        Self::GetResourceRequestStatus(GetResourceRequestStatusRequest {
            account_id: ACCOUNT.to_owned(),
            request_token: request_token.to_owned(),
            region: String::new(),
        })
    }

    pub fn change_token_status(change_token: &str) -> Self {
        Self::GetChangeTokenStatus(GetChangeTokenStatusRequest {
            scope: Some(hot_scope()),
            change_token: change_token.to_owned(),
        })
    }

    pub fn first_page() -> Self {
        Self::ListResourceRequests(ListResourceRequestsRequest {
            account_id: ACCOUNT.to_owned(),
            max_results: Some(LIST_PAGE),
            ..Default::default()
        })
    }

    /// GetChangeToken of scope number `k` (WAF global, account SCOPE_ACCOUNT + k).
    pub fn change_token(k: u64) -> Self {
        Self::GetChangeToken(GetChangeTokenRequest {
            scope: Some(ChangeTokenScope {
                account_id: (SCOPE_ACCOUNT + k).to_string(),
                endpoint: WafEndpoint::Global.into(),
                region: String::new(),
            }),
        })
    }

    pub fn create() -> Self {
        Self::CreateResourceRequest(create_request("bench"))
    }

    pub fn resource(identifier: &str) -> Self {
        Self::GetResource(GetResourceRequest {
            account_id: ACCOUNT.to_owned(),
            type_name: TYPE_NAME.to_owned(),
            identifier: identifier.to_owned(),
            ..Default::default()
        })
    }

    pub fn resources_first_page() -> Self {
        Self::ListResources(ListResourcesRequest {
            account_id: ACCOUNT.to_owned(),
            type_name: TYPE_NAME.to_owned(),
            max_results: Some(LIST_PAGE),
            ..Default::default()
        })
    }
}

/// What the tonic client put on the wire for one call.
#[derive(Debug, Clone)]
pub struct SentCall {
    /// `/statusgate.v1.<Service>/<Method>`
    pub path: String,
    /// Every header but `user-agent` (content-type, te).
    pub headers: Vec<(String, String)>,
    /// The length-prefixed message.
    pub body: Bytes,
}

impl SentCall {
    /// The method, as statusgate's metrics name the operation.
    pub fn method(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or_default()
    }
}

/// A channel that keeps the last request it carried.
#[derive(Clone)]
struct Recorder {
    channel: Channel,
    last: Arc<Mutex<Option<SentCall>>>,
    /// `Bearer <AccessKeyId>:<SecretAccessKey>`, put on every call once set
    /// (a server with `--auth sigv4` verifies it).
    bearer: Arc<Mutex<Option<http::HeaderValue>>>,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl tower::Service<http::Request<tonic::body::Body>> for Recorder {
    type Response = http::Response<tonic::body::Body>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.channel.poll_ready(context).map_err(Into::into)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        // The channel polled ready serves this call; a clone waits for the next.
        let fresh = self.channel.clone();
        let mut channel = std::mem::replace(&mut self.channel, fresh);
        let last = Arc::clone(&self.last);
        let bearer = self.bearer.lock().expect("recorder lock").clone();
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            if let Some(bearer) = bearer {
                parts.headers.insert(AUTHORIZATION, bearer);
            }
            let body = body.collect().await?.to_bytes();
            let headers = parts
                .headers
                .iter()
                .filter(|(name, _)| *name != USER_AGENT)
                .map(|(name, value)| {
                    let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                    (name.as_str().to_owned(), value)
                })
                .collect();
            let sent = SentCall {
                path: parts.uri.path().to_owned(),
                headers,
                body: body.clone(),
            };
            *last.lock().expect("recorder lock") = Some(sent);
            let request = http::Request::from_parts(parts, tonic::body::Body::new(Full::new(body)));
            Ok(channel.call(request).await?)
        })
    }
}

/// statusgate's gRPC services through the generated clients.
pub struct Grpc {
    runtime: Handle,
    last: Arc<Mutex<Option<SentCall>>>,
    bearer: Arc<Mutex<Option<http::HeaderValue>>>,
    change_tokens: ChangeTokenServiceClient<Recorder>,
    resource_requests: ResourceRequestServiceClient<Recorder>,
    resources: ResourceServiceClient<Recorder>,
}

fn status_text(status: &tonic::Status) -> String {
    format!(
        "grpc-status {} ({:?}): {}",
        status.code() as i32,
        status.code(),
        status.message()
    )
}

fn require(condition: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if condition { Ok(()) } else { Err(what()) }
}

impl Grpc {
    pub fn connect(runtime: Handle, port: u16) -> Result<Self, String> {
        let endpoint = Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
            .map_err(|error| error.to_string())?
            .connect_timeout(Duration::from_secs(5))
            .timeout(CALL_TIMEOUT);
        let channel = runtime
            .block_on(endpoint.connect())
            .map_err(|error| format!("cannot connect to gRPC port {port}: {error}"))?;
        let last = Arc::new(Mutex::new(None));
        let bearer = Arc::new(Mutex::new(None));
        let recorder = Recorder {
            channel,
            last: Arc::clone(&last),
            bearer: Arc::clone(&bearer),
        };
        Ok(Self {
            runtime,
            last,
            bearer,
            change_tokens: ChangeTokenServiceClient::new(recorder.clone()),
            resource_requests: ResourceRequestServiceClient::new(recorder.clone()),
            resources: ResourceServiceClient::new(recorder),
        })
    }

    /// From now on every call carries `credential` as its Bearer key, as
    /// gRPC callers of a `--auth sigv4` server send it.
    pub fn authenticate(&self, credential: &Credential) -> Result<(), String> {
        let value = format!(
            "Bearer {}:{}",
            credential.access_key_id, credential.secret_access_key
        );
        let value = http::HeaderValue::from_str(&value).map_err(|error| error.to_string())?;
        *self.bearer.lock().expect("recorder lock") = Some(value);
        Ok(())
    }

    /// Makes `call` once and requires the answer a load run of it relies on;
    /// returns what was sent, for h2load to repeat.
    pub fn check(&self, call: &GrpcCall) -> Result<SentCall, String> {
        self.last.lock().expect("recorder lock").take();
        let mut resource_requests = self.resource_requests.clone();
        let mut change_tokens = self.change_tokens.clone();
        let mut resources = self.resources.clone();
        self.runtime.block_on(async move {
            match call {
                GrpcCall::GetResourceRequestStatus(request) => {
                    let answer = resource_requests
                        .get_resource_request_status(request.clone())
                        .await
                        .map_err(|status| status_text(&status))?
                        .into_inner();
                    let event = answer.progress_event.unwrap_or_default();
                    require(
                        event.request_token == request.request_token
                            && event.operation_status() == OperationStatus::Pending,
                        || format!("{event:?}, not request {} PENDING", request.request_token),
                    )
                }
                GrpcCall::GetChangeTokenStatus(request) => {
                    let answer = change_tokens
                        .get_change_token_status(request.clone())
                        .await
                        .map_err(|status| status_text(&status))?
                        .into_inner();
                    require(
                        answer.change_token_status() == ChangeTokenStatus::Pending,
                        || format!("{answer:?}, not PENDING"),
                    )
                }
                GrpcCall::ListResourceRequests(request) => {
                    let answer = resource_requests
                        .list_resource_requests(request.clone())
                        .await
                        .map_err(|status| status_text(&status))?
                        .into_inner();
                    let wanted = request.max_results.unwrap_or(LIST_PAGE);
                    let got = answer.resource_request_status_summaries.len();
                    require(usize::try_from(wanted) == Ok(got), || {
                        format!("a page of {got} requests, not {wanted}")
                    })
                }
                GrpcCall::GetChangeToken(request) => {
                    let answer = change_tokens
                        .get_change_token(request.clone())
                        .await
                        .map_err(|status| status_text(&status))?
                        .into_inner();
                    require(!answer.change_token.is_empty(), || {
                        "an empty change token".to_owned()
                    })
                }
                GrpcCall::CreateResourceRequest(request) => {
                    let answer = resource_requests
                        .create_resource_request(request.clone())
                        .await
                        .map_err(|status| status_text(&status))?
                        .into_inner();
                    let event = answer.progress_event.unwrap_or_default();
                    require(
                        !event.request_token.is_empty()
                            && event.operation_status() == OperationStatus::Pending,
                        || format!("{event:?}, not a new PENDING request"),
                    )
                }
                GrpcCall::GetResource(request) => {
                    let answer = resources
                        .get_resource(request.clone())
                        .await
                        .map_err(|status| status_text(&status))?
                        .into_inner();
                    let description = answer.resource_description.unwrap_or_default();
                    require(description.identifier == request.identifier, || {
                        format!("{description:?}, not resource {}", request.identifier)
                    })
                }
                GrpcCall::ListResources(request) => {
                    let answer = resources
                        .list_resources(request.clone())
                        .await
                        .map_err(|status| status_text(&status))?
                        .into_inner();
                    let wanted = request.max_results.unwrap_or(LIST_PAGE);
                    let got = answer.resource_descriptions.len();
                    require(usize::try_from(wanted) == Ok(got), || {
                        format!("a page of {got} resources, not {wanted}")
                    })
                }
            }
        })?;
        self.last
            .lock()
            .expect("recorder lock")
            .take()
            .ok_or_else(|| "the client sent nothing".to_owned())
    }

    /// A new PENDING request of the benchmark's account; its token.
    pub fn create_pending_request(&self) -> Result<String, String> {
        let mut client = self.resource_requests.clone();
        let answer = self
            .runtime
            .block_on(client.create_resource_request(create_request("hot")))
            .map_err(|status| format!("CreateResourceRequest: {}", status_text(&status)))?
            .into_inner();
        let event = answer.progress_event.unwrap_or_default();
        require(!event.request_token.is_empty(), || {
            format!("CreateResourceRequest answered {event:?}")
        })?;
        Ok(event.request_token)
    }

    /// A log group `identifier` of the benchmark's account that exists: a
    /// CreateResourceRequest, then IN_PROGRESS and SUCCESS recorded as a
    /// worker would (the SUCCESS writes the resource).
    pub fn provision_resource(&self, identifier: &str) -> Result<(), String> {
        let mut client = self.resource_requests.clone();
        self.runtime.block_on(async move {
            let answer = client
                .create_resource_request(create_request(identifier))
                .await
                .map_err(|status| format!("CreateResourceRequest: {}", status_text(&status)))?
                .into_inner();
            let request_token = answer.progress_event.unwrap_or_default().request_token;
            for status in [OperationStatus::InProgress, OperationStatus::Success] {
                client
                    .record_progress_event(RecordProgressEventRequest {
                        account_id: ACCOUNT.to_owned(),
                        request_token: request_token.clone(),
                        operation_status: status.into(),
                        identifier: Some(identifier.to_owned()),
                        resource_model: Some(format!(r#"{{"LogGroupName":"{identifier}"}}"#)),
                        ..Default::default()
                    })
                    .await
                    .map_err(|status| format!("RecordProgressEvent: {}", status_text(&status)))?;
            }
            Ok(())
        })
    }

    /// A new PENDING change token of the benchmark's scope (GetChangeToken,
    /// then ConsumeChangeToken); its token.
    pub fn pending_change_token(&self, description: &str) -> Result<String, String> {
        let mut client = self.change_tokens.clone();
        self.runtime.block_on(async move {
            let token = client
                .get_change_token(GetChangeTokenRequest {
                    scope: Some(hot_scope()),
                })
                .await
                .map_err(|status| format!("GetChangeToken: {}", status_text(&status)))?
                .into_inner()
                .change_token;
            let consumed = client
                .consume_change_token(ConsumeChangeTokenRequest {
                    scope: Some(hot_scope()),
                    change_token: token.clone(),
                    change_description: description.to_owned(),
                })
                .await
                .map_err(|status| format!("ConsumeChangeToken: {}", status_text(&status)))?
                .into_inner();
            require(
                consumed.change_token_status() == ChangeTokenStatus::Pending,
                || format!("change token {token} is {consumed:?} after ConsumeChangeToken"),
            )?;
            Ok(token)
        })
    }
}

// ---- the AWS JSON facade --------------------------------------------------

/// A credential issued by `statusgate credentials create`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Credential {
    pub access_key_id: String,
    pub secret_access_key: String,
}

/// An operation a wrk run repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FacadeOperation {
    GetResourceRequestStatus,
    GetChangeTokenStatus,
    GetChangeToken,
    CreateResource,
    GetResource,
    ListResources,
}

impl FacadeOperation {
    pub fn target(self) -> &'static str {
        match self {
            Self::GetResourceRequestStatus => "CloudApiService.GetResourceRequestStatus",
            Self::GetChangeTokenStatus => "AWSWAF_20150824.GetChangeTokenStatus",
            Self::GetChangeToken => "AWSWAF_20150824.GetChangeToken",
            Self::CreateResource => "CloudApiService.CreateResource",
            Self::GetResource => "CloudApiService.GetResource",
            Self::ListResources => "CloudApiService.ListResources",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::GetResourceRequestStatus
            | Self::CreateResource
            | Self::GetResource
            | Self::ListResources => "application/x-amz-json-1.0",
            Self::GetChangeTokenStatus | Self::GetChangeToken => "application/x-amz-json-1.1",
        }
    }

    /// The table's transport column.
    pub fn protocol(self) -> &'static str {
        match self {
            Self::GetResourceRequestStatus
            | Self::CreateResource
            | Self::GetResource
            | Self::ListResources => "awsJson 1.0",
            Self::GetChangeTokenStatus | Self::GetChangeToken => "awsJson 1.1",
        }
    }

    /// The service a SigV4 credential scope names for this operation.
    pub fn signing_service(self) -> &'static str {
        match self {
            Self::GetResourceRequestStatus
            | Self::CreateResource
            | Self::GetResource
            | Self::ListResources => "cloudcontrolapi",
            Self::GetChangeTokenStatus | Self::GetChangeToken => "waf",
        }
    }

    /// The operation, as statusgate's metrics name it.
    pub fn name(self) -> &'static str {
        let target = self.target();
        &target[target.find('.').map_or(0, |dot| dot + 1)..]
    }
}

/// One facade request: the access key it is signed with (the account) and
/// its JSON body.
#[derive(Debug, Clone)]
pub struct FacadeRequest {
    pub operation: FacadeOperation,
    pub access_key: String,
    pub body: String,
    /// `Host`, `X-Amz-Date` and `Authorization` of a real SigV4 signature
    /// ([`FacadeRequest::signed`]); empty: an unverified SigV4-shaped header.
    pub signature_headers: Vec<(String, String)>,
}

/// A shape as SDKs send it: absent members omitted, not `null`.
fn json_body(shape: &impl Serialize) -> String {
    let mut value = serde_json::to_value(shape).expect("a facade shape serializes");
    if let Value::Object(members) = &mut value {
        members.retain(|_, member| !member.is_null());
    }
    value.to_string()
}

impl FacadeRequest {
    pub fn resource_request_status(request_token: &str) -> Self {
        Self {
            operation: FacadeOperation::GetResourceRequestStatus,
            access_key: ACCOUNT.to_owned(),
            body: json_body(&RequestTokenInput {
                request_token: Some(request_token.to_owned()),
            }),
            signature_headers: Vec::new(),
        }
    }

    /// GetResourceRequestStatus of a seeded request that `bench/facade.lua`
    /// picks at random per request.
    pub fn random_seeded_request_status() -> Self {
        Self::resource_request_status(SEEDED_TOKEN_PLACEHOLDER)
    }

    /// This request with the placeholder replaced by seeded request `i`.
    pub fn with_seeded_request(&self, i: u64) -> Self {
        Self {
            body: self
                .body
                .replace(SEEDED_TOKEN_PLACEHOLDER, &seeded_request_token(i)),
            ..self.clone()
        }
    }

    pub fn change_token_status(change_token: &str) -> Self {
        Self {
            operation: FacadeOperation::GetChangeTokenStatus,
            access_key: ACCOUNT.to_owned(),
            body: json_body(&GetChangeTokenStatusInput {
                change_token: Some(change_token.to_owned()),
            }),
            signature_headers: Vec::new(),
        }
    }

    /// GetChangeToken of scope number `k`: signed as account SCOPE_ACCOUNT + k.
    pub fn change_token(k: u64) -> Self {
        Self {
            operation: FacadeOperation::GetChangeToken,
            access_key: format!("{:012}", SCOPE_ACCOUNT + k),
            body: json_body(&GetChangeTokenInput {}),
            signature_headers: Vec::new(),
        }
    }

    pub fn create() -> Self {
        Self {
            operation: FacadeOperation::CreateResource,
            access_key: ACCOUNT.to_owned(),
            body: json_body(&CreateResourceInput {
                type_name: Some(TYPE_NAME.to_owned()),
                desired_state: Some(r#"{"LogGroupName":"bench"}"#.to_owned()),
                ..Default::default()
            }),
            signature_headers: Vec::new(),
        }
    }

    pub fn resource(identifier: &str) -> Self {
        Self {
            operation: FacadeOperation::GetResource,
            access_key: ACCOUNT.to_owned(),
            body: json_body(&GetResourceInput {
                type_name: Some(TYPE_NAME.to_owned()),
                identifier: Some(identifier.to_owned()),
                ..Default::default()
            }),
            signature_headers: Vec::new(),
        }
    }

    pub fn resources_first_page() -> Self {
        Self {
            operation: FacadeOperation::ListResources,
            access_key: ACCOUNT.to_owned(),
            body: json_body(&ListResourcesInput {
                type_name: Some(TYPE_NAME.to_owned()),
                max_results: Some(i64::from(LIST_PAGE)),
                ..Default::default()
            }),
            signature_headers: Vec::new(),
        }
    }

    /// This request signed with SigV4 now, for `host` (`127.0.0.1:PORT`),
    /// as an SDK signs it (`aws-sigv4`, the AWS SDK for Rust's signer): host,
    /// content-type, x-amz-date and x-amz-target signed. The signature holds
    /// for the server's 15 minutes of allowed skew.
    pub fn signed(&self, credential: &Credential, host: &str) -> Result<Self, String> {
        let identity: Identity = Credentials::new(
            &credential.access_key_id,
            &credential.secret_access_key,
            None,
            None,
            "bench",
        )
        .into();
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(REGION)
            .name(self.operation.signing_service())
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|error| error.to_string())?
            .into();
        let headers = [
            ("host", host),
            ("content-type", self.operation.content_type()),
            ("x-amz-target", self.operation.target()),
        ];
        let signable = SignableRequest::new(
            "POST",
            format!("http://{host}/"),
            headers.into_iter(),
            SignableBody::Bytes(self.body.as_bytes()),
        )
        .map_err(|error| error.to_string())?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|error| error.to_string())?
            .into_parts();
        let mut signature_headers = vec![("Host".to_owned(), host.to_owned())];
        signature_headers.extend(
            instructions
                .headers()
                .map(|(name, value)| (name.to_owned(), value.to_owned())),
        );
        Ok(Self {
            access_key: credential.access_key_id.clone(),
            signature_headers,
            ..self.clone()
        })
    }

    /// The headers that authenticate this request: its signature, or else
    /// the unverified SigV4-shaped `Authorization`.
    pub fn auth_headers(&self) -> Vec<(String, String)> {
        if self.signature_headers.is_empty() {
            vec![("Authorization".to_owned(), self.authorization())]
        } else {
            self.signature_headers.clone()
        }
    }

    /// A SigV4-shaped Authorization header: statusgate reads the account
    /// from the access key and does not verify the signature.
    fn authorization(&self) -> String {
        format!(
            "AWS4-HMAC-SHA256 Credential={}/20260101/us-east-1/bench/aws4_request, \
             SignedHeaders=host;x-amz-date, Signature=00",
            self.access_key
        )
    }

    /// Requires the answer a load run of this request relies on.
    fn expect_answer(&self, answer: &Value) -> Result<(), String> {
        let event = &answer["ProgressEvent"];
        let found = match self.operation {
            FacadeOperation::GetResourceRequestStatus => {
                let input: RequestTokenInput =
                    serde_json::from_str(&self.body).map_err(|error| error.to_string())?;
                event["RequestToken"].as_str() == input.request_token.as_deref()
                    && event["OperationStatus"] == "PENDING"
            }
            FacadeOperation::GetChangeTokenStatus => answer["ChangeTokenStatus"] == "PENDING",
            FacadeOperation::GetChangeToken => answer["ChangeToken"]
                .as_str()
                .is_some_and(|token| !token.is_empty()),
            FacadeOperation::CreateResource => {
                event["RequestToken"]
                    .as_str()
                    .is_some_and(|token| !token.is_empty())
                    && event["OperationStatus"] == "PENDING"
            }
            FacadeOperation::GetResource => {
                let input: GetResourceInput =
                    serde_json::from_str(&self.body).map_err(|error| error.to_string())?;
                answer["ResourceDescription"]["Identifier"].as_str() == input.identifier.as_deref()
            }
            FacadeOperation::ListResources => answer["ResourceDescriptions"]
                .as_array()
                .is_some_and(|page| page.len() == RESOURCES),
        };
        require(found, || format!("HTTP 200 but {answer}"))
    }
}

/// statusgate's HTTP listener through hyper's client: the facade, `/readyz`
/// and `/metrics`.
pub struct Facade {
    runtime: Handle,
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
}

impl Facade {
    pub fn new(runtime: Handle, port: u16) -> Self {
        Self {
            runtime,
            client: Client::builder(TokioExecutor::new()).build_http(),
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn send(
        &self,
        request: http::Request<Full<Bytes>>,
    ) -> Result<(http::StatusCode, String), String> {
        let client = self.client.clone();
        self.runtime.block_on(async move {
            let exchange = async {
                let response = client
                    .request(request)
                    .await
                    .map_err(|error| error.to_string())?;
                let status = response.status();
                let body = response
                    .into_body()
                    .collect()
                    .await
                    .map_err(|error| error.to_string())?
                    .to_bytes();
                Ok((status, String::from_utf8_lossy(&body).into_owned()))
            };
            tokio::time::timeout(CALL_TIMEOUT, exchange)
                .await
                .map_err(|_| "no answer within 10s".to_owned())?
        })
    }

    pub fn get(&self, path: &str) -> Result<(http::StatusCode, String), String> {
        let request = http::Request::get(format!("{}{path}", self.base))
            .body(Full::default())
            .map_err(|error| error.to_string())?;
        self.send(request)
    }

    /// Sends `request` once and requires HTTP 200 with the answer a load run
    /// of it relies on.
    pub fn check(&self, request: &FacadeRequest) -> Result<(), String> {
        let operation = request.operation;
        let mut builder = http::Request::post(format!("{}/", self.base))
            .header(CONTENT_TYPE, operation.content_type())
            .header("x-amz-target", operation.target());
        for (name, value) in request.auth_headers() {
            builder = builder.header(name, value);
        }
        let http_request = builder
            .body(Full::new(Bytes::from(request.body.clone())))
            .map_err(|error| error.to_string())?;
        let (status, body) = self.send(http_request)?;
        require(status == http::StatusCode::OK, || {
            format!("HTTP {status}: {body}")
        })?;
        let answer: Value =
            serde_json::from_str(&body).map_err(|error| format!("HTTP 200 but {error}: {body}"))?;
        request.expect_answer(&answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_tokens_match_the_seed_sql() {
        // lpad(to_hex((i * 1000003) % 4294967296), 8, '0') || '-0000-4000-8000-' || lpad(to_hex(i), 12, '0')
        assert_eq!(
            seeded_request_token(1),
            "000f4243-0000-4000-8000-000000000001"
        );
        assert_eq!(
            seeded_request_token(10_000_000),
            "503c6380-0000-4000-8000-000000989680"
        );
    }

    #[test]
    fn facade_bodies_omit_absent_members() {
        assert_eq!(FacadeRequest::change_token(0).body, "{}");
        assert_eq!(FacadeRequest::change_token(3).access_key, "200000000003");
        let create: Value = serde_json::from_str(&FacadeRequest::create().body).unwrap();
        assert_eq!(
            create,
            serde_json::json!({
                "TypeName": "AWS::Logs::LogGroup",
                "DesiredState": "{\"LogGroupName\":\"bench\"}",
            })
        );
        let seeded = FacadeRequest::random_seeded_request_status().with_seeded_request(1);
        assert_eq!(
            seeded.body,
            r#"{"RequestToken":"000f4243-0000-4000-8000-000000000001"}"#
        );
    }

    #[test]
    fn signed_requests_carry_a_sigv4_signature_of_their_host_and_target() {
        let credential = Credential {
            access_key_id: "SGAKAAAAAAAAAAAAAAAA".to_owned(),
            secret_access_key: "secret".to_owned(),
        };
        let unsigned = FacadeRequest::resource_request_status("token");
        assert_eq!(unsigned.auth_headers()[0].0, "Authorization");
        let signed = unsigned.signed(&credential, "127.0.0.1:8080").unwrap();
        let headers = signed.auth_headers();
        let header = |name: &str| {
            headers
                .iter()
                .find(|(header, _)| header.eq_ignore_ascii_case(name))
                .map(|(_, value)| value.clone())
                .unwrap_or_default()
        };
        assert_eq!(header("host"), "127.0.0.1:8080");
        assert!(!header("x-amz-date").is_empty());
        let authorization = header("authorization");
        assert!(authorization.starts_with("AWS4-HMAC-SHA256 Credential=SGAKAAAAAAAAAAAAAAAA/"));
        assert!(authorization.contains("/us-east-1/cloudcontrolapi/aws4_request"));
        assert!(authorization.contains("SignedHeaders=content-type;host;x-amz-date;x-amz-target"));
        assert_eq!(signed.body, unsigned.body);
    }

    #[test]
    fn operations_are_named_as_the_metrics_name_them() {
        assert_eq!(FacadeOperation::GetChangeToken.name(), "GetChangeToken");
        assert_eq!(FacadeOperation::GetResource.name(), "GetResource");
        assert_eq!(FacadeOperation::ListResources.name(), "ListResources");
        assert_eq!(
            FacadeOperation::GetResourceRequestStatus.name(),
            "GetResourceRequestStatus"
        );
    }
}

//! Servers that check who calls (`--auth sigv4`), the credentials tests
//! call them with, and gRPC clients that send those credentials as
//! `authorization: Bearer <AccessKeyId>:<SecretAccessKey>` metadata.

use std::sync::Arc;

use statusgate::config::{AuthMode, Config, KeyText};
use statusgate::domain::AccountId;
use statusgate::domain::SystemClock;
use statusgate::domain::credential::{AccountBinding, Role};
use statusgate::grpc::proto::change_token_service_client::ChangeTokenServiceClient;
use statusgate::grpc::proto::credential_service_client::CredentialServiceClient;
use statusgate::grpc::proto::resource_request_service_client::ResourceRequestServiceClient;
use statusgate::grpc::proto::resource_service_client::ResourceServiceClient;
use statusgate::grpc::proto::simulation_service_client::SimulationServiceClient;
use tonic::metadata::{AsciiMetadataValue, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use super::app::TestApp;
use super::database::{Backend, TestDatabase};

/// The credentials key of every test server (32 bytes, base64).
pub const CREDENTIALS_KEY: &str = "c3RhdHVzZ2F0ZSB0ZXN0IGNyZWRlbnRpYWxzIGtleSE=";

/// Makes a configuration verify every call.
pub fn sigv4(config: &mut Config) {
    config.auth = Some(AuthMode::Sigv4);
    config.credentials_key = Some(KeyText(CREDENTIALS_KEY.to_owned()));
}

/// A `--auth sigv4` server on a fresh database.
pub async fn spawn_sigv4(backend: Backend) -> TestApp {
    let database = Arc::new(TestDatabase::new(backend).await);
    spawn_sigv4_on(database).await
}

/// Another `--auth sigv4` server on the same database (replicas).
pub async fn spawn_sigv4_on(database: Arc<TestDatabase>) -> TestApp {
    TestApp::spawn_with(database, Arc::new(SystemClock), sigv4).await
}

/// A credential a test calls with.
#[derive(Debug, Clone)]
pub struct Key {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl Key {
    /// The gRPC metadata that carries this key.
    pub fn bearer(&self) -> Bearer {
        Bearer::of(&self.access_key_id, &self.secret_access_key)
    }
}

/// Issues a credential through the app's own service: bound to `account`,
/// or to every account when `None`.
pub async fn issue(app: &TestApp, account: Option<&str>, role: Role) -> Key {
    let binding = match account {
        Some(account) => AccountBinding::Account(AccountId::parse(account).unwrap()),
        None => AccountBinding::AllAccounts,
    };
    let credential = app
        .application()
        .services()
        .credentials
        .create(binding, role)
        .await
        .expect("issue a credential");
    Key {
        access_key_id: credential.access_key_id.to_string(),
        secret_access_key: credential.secret_access_key.expose().to_owned(),
    }
}

/// Sends `authorization: <value>` with every call (`None`: nothing).
#[derive(Clone)]
pub struct Bearer(Option<AsciiMetadataValue>);

impl Bearer {
    pub fn of(access_key_id: &str, secret_access_key: &str) -> Self {
        Self::raw(&format!("Bearer {access_key_id}:{secret_access_key}"))
    }

    /// Any metadata value, for malformed ones.
    pub fn raw(value: &str) -> Self {
        Self(Some(
            MetadataValue::try_from(value).expect("ASCII metadata"),
        ))
    }

    pub fn none() -> Self {
        Self(None)
    }
}

impl Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

pub type Authed = InterceptedService<Channel, Bearer>;

pub async fn change_tokens_as(app: &TestApp, bearer: Bearer) -> ChangeTokenServiceClient<Authed> {
    ChangeTokenServiceClient::with_interceptor(app.channel().await, bearer)
}

pub async fn resource_requests_as(
    app: &TestApp,
    bearer: Bearer,
) -> ResourceRequestServiceClient<Authed> {
    ResourceRequestServiceClient::with_interceptor(app.channel().await, bearer)
}

pub async fn credentials_as(app: &TestApp, bearer: Bearer) -> CredentialServiceClient<Authed> {
    CredentialServiceClient::with_interceptor(app.channel().await, bearer)
}

pub async fn resources_as(app: &TestApp, bearer: Bearer) -> ResourceServiceClient<Authed> {
    ResourceServiceClient::with_interceptor(app.channel().await, bearer)
}

pub async fn simulation_as(app: &TestApp, bearer: Bearer) -> SimulationServiceClient<Authed> {
    SimulationServiceClient::with_interceptor(app.channel().await, bearer)
}

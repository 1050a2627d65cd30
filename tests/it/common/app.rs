//! The real application, started in-process on ephemeral ports, and the
//! clients that reach it: gRPC over a fresh channel, AWS SDK clients and raw
//! HTTP on its facade.

use std::net::SocketAddr;
use std::sync::Arc;

use statusgate::app::Application;
use statusgate::config::Config;
use statusgate::domain::{Clock, SystemClock};
use statusgate::grpc::proto::change_token_service_client::ChangeTokenServiceClient;
use statusgate::grpc::proto::resource_request_service_client::ResourceRequestServiceClient;
use tonic::transport::Channel;

use super::clock::ManualClock;
use super::database::{Backend, TestDatabase};
use super::sdk::SdkCaller;

/// A running application on its own fresh database.
pub struct TestApp {
    /// `None` once a test has taken it to shut it down itself.
    pub app: Option<Application>,
    pub database: Arc<TestDatabase>,
    grpc_address: SocketAddr,
    http_address: SocketAddr,
}

impl TestApp {
    /// The default configuration on a fresh database, on the system clock.
    pub async fn spawn(backend: Backend) -> Self {
        let database = Arc::new(TestDatabase::new(backend).await);
        Self::spawn_on(database).await
    }

    /// Another server on the same database (replicas).
    pub async fn spawn_on(database: Arc<TestDatabase>) -> Self {
        Self::spawn_with(database, Arc::new(SystemClock), |_| {}).await
    }

    /// A fresh database and a clock the test moves by hand, with `adjust`
    /// applied to the configuration.
    pub async fn spawn_on_manual_clock(
        backend: Backend,
        adjust: impl FnOnce(&mut Config),
    ) -> (Self, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new());
        let database = Arc::new(TestDatabase::new(backend).await);
        let app = Self::spawn_with(database, clock.clone(), adjust).await;
        (app, clock)
    }

    /// Everything chosen by the caller: the database, the clock and
    /// `adjust`, applied to [`Config::for_database`].
    pub async fn spawn_with(
        database: Arc<TestDatabase>,
        clock: Arc<dyn Clock>,
        adjust: impl FnOnce(&mut Config),
    ) -> Self {
        let mut config = Config::for_database(database.url());
        adjust(&mut config);
        let app = Application::start_with_clock(config, clock)
            .await
            .expect("the application starts");
        Self {
            grpc_address: app.grpc_address(),
            http_address: app.http_address(),
            app: Some(app),
            database,
        }
    }

    /// `http://127.0.0.1:PORT`, for AWS SDK `endpoint_url` and raw HTTP.
    pub fn http_endpoint(&self) -> String {
        format!("http://{}", self.http_address)
    }

    /// A new connection to the gRPC listener.
    pub async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.grpc_address))
            .expect("endpoint")
            .connect()
            .await
            .expect("connect to the gRPC listener")
    }

    pub async fn change_tokens(&self) -> ChangeTokenServiceClient<Channel> {
        ChangeTokenServiceClient::new(self.channel().await)
    }

    pub async fn resources(
        &self,
    ) -> statusgate::grpc::proto::resource_service_client::ResourceServiceClient<Channel> {
        statusgate::grpc::proto::resource_service_client::ResourceServiceClient::new(
            self.channel().await,
        )
    }

    pub async fn simulation(
        &self,
    ) -> statusgate::grpc::proto::simulation_service_client::SimulationServiceClient<Channel> {
        statusgate::grpc::proto::simulation_service_client::SimulationServiceClient::new(
            self.channel().await,
        )
    }

    pub async fn resource_requests(&self) -> ResourceRequestServiceClient<Channel> {
        ResourceRequestServiceClient::new(self.channel().await)
    }

    /// AWS SDK clients calling as `access_key_id` (12 digits: that account;
    /// anything else: the default account) from `region`.
    pub fn sdk(&self, access_key_id: &str, region: &str) -> SdkCaller {
        SdkCaller::new(self.http_endpoint(), access_key_id, region)
    }

    /// AWS SDK clients signing as `access_key_id` with `secret_access_key`.
    pub fn sdk_signing(
        &self,
        access_key_id: &str,
        secret_access_key: &str,
        region: &str,
    ) -> SdkCaller {
        SdkCaller::signing(
            self.http_endpoint(),
            access_key_id,
            secret_access_key,
            None,
            region,
        )
    }

    /// AWS SDK clients signing with temporary credentials (a session token).
    pub fn sdk_with_session_token(
        &self,
        access_key_id: &str,
        secret_access_key: &str,
        session_token: &str,
        region: &str,
    ) -> SdkCaller {
        SdkCaller::signing(
            self.http_endpoint(),
            access_key_id,
            secret_access_key,
            Some(session_token),
            region,
        )
    }

    pub fn application(&self) -> &Application {
        self.app.as_ref().expect("running")
    }
}

//! The gRPC transport (`statusgate.v1`): thin handlers that convert protobuf
//! messages to domain values (`convert`), call the shared services, and map
//! domain errors to `tonic::Status` with `google.rpc` details (`status`).
//! `auth` is the layer that authenticates and authorises every call (and
//! the one function handlers resolve accounts through); `credentials` is
//! the admins' credential management.

mod auth;
mod change_tokens;
mod convert;
mod credentials;
mod observe;
mod resource_requests;
mod status;

pub use auth::{AuthLayer, action_of};
pub use change_tokens::ChangeTokenApi;
pub use credentials::CredentialApi;
pub use observe::layer;
pub use resource_requests::ResourceRequestApi;
pub use status::status_from_error;

/// Code generated from `proto/statusgate/v1`.
pub mod proto {
    #![allow(clippy::all, clippy::pedantic)]
    tonic::include_proto!("statusgate.v1");

    /// The encoded descriptors of every statusgate proto file (for reflection).
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        include_bytes!(concat!(env!("OUT_DIR"), "/statusgate_descriptor.bin"));
}

use crate::service::Services;
use proto::change_token_service_server::ChangeTokenServiceServer;
use proto::credential_service_server::CredentialServiceServer;
use proto::resource_request_service_server::ResourceRequestServiceServer;

/// Every statusgate gRPC service, ready to be served.
pub fn routes(
    services: &Services,
    default_account: &crate::domain::AccountId,
) -> tonic::service::Routes {
    tonic::service::Routes::new(ChangeTokenServiceServer::new(ChangeTokenApi::new(
        services.change_tokens.clone(),
    )))
    .add_service(ResourceRequestServiceServer::new(ResourceRequestApi::new(
        services.resource_requests.clone(),
    )))
    .add_service(CredentialServiceServer::new(CredentialApi::new(
        services.credentials.clone(),
        default_account.clone(),
    )))
}

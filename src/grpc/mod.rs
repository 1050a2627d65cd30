//! The gRPC transport (`statusgate.v1`): thin handlers that convert protobuf
//! messages to domain values (`convert`), call the shared services, and map
//! domain errors to `tonic::Status` with `google.rpc` details (`status`).

mod change_tokens;
pub(crate) mod codec;
mod convert;
mod first_message;
mod methods;
mod observe;
mod resource_requests;
mod status;

pub use change_tokens::ChangeTokenApi;
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
use proto::resource_request_service_server::ResourceRequestServiceServer;

/// Every statusgate gRPC service, ready to be served.
pub fn routes(services: &Services) -> tonic::service::Routes {
    tonic::service::Routes::new(ChangeTokenServiceServer::new(ChangeTokenApi::new(
        services.change_tokens.clone(),
    )))
    .add_service(ResourceRequestServiceServer::new(ResourceRequestApi::new(
        services.resource_requests.clone(),
    )))
}

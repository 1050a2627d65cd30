//! The framework's own ceiling: a bare tonic server with default settings
//! that answers `GetChangeTokenStatus` with `PENDING` and does nothing else
//! (no store, no layers, no logging). h2load sends it the bytes of
//! statusgate's status reads with the same flags, so a statusgate row's
//! ratio to it is the share of tonic's capacity statusgate keeps.
//!
//! It runs as a child process (`bench --serve-echo-grpc PORT
//! --serve-echo-http PORT`) so that its CPU is counted apart from the tool's,
//! and it answers what the tool asks of any server it loads: `/readyz`, and
//! `statusgate_requests_total` on `/metrics` with the calls it answered, by
//! which every gRPC run is verified. The service is statusgate's generated
//! `ChangeTokenService` (prost messages, statusgate's codec, which is
//! prost's except on a decode failure), so the bytes on the wire match.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::Stream;
use statusgate::grpc::proto::change_token_service_server::{
    ChangeTokenService, ChangeTokenServiceServer,
};
use statusgate::grpc::proto::{
    ChangeTokenStatus, ConsumeChangeTokenRequest, ConsumeChangeTokenResponse,
    GetChangeTokenRequest, GetChangeTokenResponse, GetChangeTokenStatusRequest,
    GetChangeTokenStatusResponse, ListChangeTokensRequest, ListChangeTokensResponse,
    MarkChangeTokenInSyncRequest, MarkChangeTokenInSyncResponse, WatchChangeTokenRequest,
};
use tonic::{Request, Response, Status};

/// The one method it serves, as the metric's operation label.
const OPERATION: &str = "GetChangeTokenStatus";

/// The answer to every other method.
const UNSERVED: &str = "the echo serves GetChangeTokenStatus only";

#[derive(Default)]
struct Echo {
    answered: Arc<AtomicU64>,
}

#[tonic::async_trait]
impl ChangeTokenService for Echo {
    async fn get_change_token_status(
        &self,
        _request: Request<GetChangeTokenStatusRequest>,
    ) -> Result<Response<GetChangeTokenStatusResponse>, Status> {
        self.answered.fetch_add(1, Ordering::Relaxed);
        Ok(Response::new(GetChangeTokenStatusResponse {
            change_token_status: ChangeTokenStatus::Pending.into(),
        }))
    }

    async fn get_change_token(
        &self,
        _request: Request<GetChangeTokenRequest>,
    ) -> Result<Response<GetChangeTokenResponse>, Status> {
        Err(Status::unimplemented(UNSERVED))
    }

    async fn consume_change_token(
        &self,
        _request: Request<ConsumeChangeTokenRequest>,
    ) -> Result<Response<ConsumeChangeTokenResponse>, Status> {
        Err(Status::unimplemented(UNSERVED))
    }

    async fn mark_change_token_in_sync(
        &self,
        _request: Request<MarkChangeTokenInSyncRequest>,
    ) -> Result<Response<MarkChangeTokenInSyncResponse>, Status> {
        Err(Status::unimplemented(UNSERVED))
    }

    async fn list_change_tokens(
        &self,
        _request: Request<ListChangeTokensRequest>,
    ) -> Result<Response<ListChangeTokensResponse>, Status> {
        Err(Status::unimplemented(UNSERVED))
    }

    type WatchChangeTokenStream =
        Pin<Box<dyn Stream<Item = Result<GetChangeTokenStatusResponse, Status>> + Send>>;

    async fn watch_change_token(
        &self,
        _request: Request<WatchChangeTokenRequest>,
    ) -> Result<Response<Self::WatchChangeTokenStream>, Status> {
        Err(Status::unimplemented(UNSERVED))
    }
}

/// The counter line the tool's verification reads (`server::RequestCounts`).
fn metrics_text(answered: u64) -> String {
    format!(
        "statusgate_requests_total{{transport=\"grpc\",operation=\"{OPERATION}\",outcome=\"ok\"}} {answered}\n"
    )
}

/// Serves until killed: gRPC on `grpc_port`, `/readyz` and `/metrics` on
/// `http_port`, both on 127.0.0.1.
pub async fn serve(grpc_port: u16, http_port: u16) -> Result<(), String> {
    let echo = Echo::default();
    let answered = Arc::clone(&echo.answered);
    let http = axum::Router::new()
        .route("/readyz", axum::routing::get(|| async { "ready" }))
        .route(
            "/metrics",
            axum::routing::get(move || {
                let answered = answered.load(Ordering::Relaxed);
                async move { metrics_text(answered) }
            }),
        );
    let http_listener = tokio::net::TcpListener::bind(("127.0.0.1", http_port))
        .await
        .map_err(|error| format!("echo: cannot bind HTTP port {http_port}: {error}"))?;
    tokio::spawn(async move { axum::serve(http_listener, http).await });
    let grpc_address = SocketAddr::from(([127, 0, 0, 1], grpc_port));
    tonic::transport::Server::builder()
        .add_service(ChangeTokenServiceServer::new(echo))
        .serve(grpc_address)
        .await
        .map_err(|error| format!("echo: gRPC server failed: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::RequestCounts;

    #[test]
    fn the_metrics_line_is_what_the_verification_reads() {
        let before = RequestCounts::parse(&metrics_text(3));
        let after = RequestCounts::parse(&metrics_text(10));
        assert_eq!(before.delta(&after, "grpc", OPERATION), (7, 0));
    }
}

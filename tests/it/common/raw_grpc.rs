//! gRPC calls made by hand over HTTP/2 (the h2 crate), for what a generated
//! client never sends: malformed messages, broken framing, streams that
//! never send their message. The status comes back as a `tonic::Status`
//! (from the trailers, or from the headers of a trailers-only answer).

use std::net::SocketAddr;

use bytes::Bytes;
use h2::SendStream;
use h2::client::{ResponseFuture, SendRequest};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

/// `message` in the gRPC length prefix: uncompressed, big-endian length.
pub fn framed(message: &[u8]) -> Vec<u8> {
    let mut frame = vec![0];
    frame.extend_from_slice(&(message.len() as u32).to_be_bytes());
    frame.extend_from_slice(message);
    frame
}

/// One HTTP/2 connection to a gRPC listener.
pub struct RawConnection {
    sender: SendRequest<Bytes>,
    /// Ends when the server closes the connection.
    pub driver: JoinHandle<Result<(), h2::Error>>,
}

impl RawConnection {
    pub async fn connect(address: SocketAddr) -> Self {
        let tcp = TcpStream::connect(address).await.expect("connect to gRPC");
        let (sender, connection) = h2::client::handshake(tcp)
            .await
            .expect("an HTTP/2 handshake");
        Self {
            sender,
            driver: tokio::spawn(connection),
        }
    }

    /// Sends a call's headers and nothing else yet.
    pub async fn start(&mut self, path: &str) -> (ResponseFuture, SendStream<Bytes>) {
        let request = http::Request::post(format!("http://statusgate{path}"))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(())
            .unwrap();
        let sender = self
            .sender
            .clone()
            .ready()
            .await
            .expect("a stream to send on");
        let mut sender = sender;
        sender
            .send_request(request, false)
            .expect("send the headers")
    }

    /// A whole call whose body is `body` exactly (frames included).
    pub async fn call(&mut self, path: &str, body: Vec<u8>) -> tonic::Status {
        let (response, mut stream) = self.start(path).await;
        stream
            .send_data(Bytes::from(body), true)
            .expect("send the body");
        status_of(response).await
    }
}

/// The gRPC status of an answer (`Code::Ok` included).
pub async fn status_of(response: ResponseFuture) -> tonic::Status {
    let response = response.await.expect("an HTTP/2 response");
    let (parts, mut body) = response.into_parts();
    if let Some(status) = tonic::Status::from_header_map(&parts.headers) {
        return status;
    }
    while let Some(chunk) = body.data().await {
        let chunk = chunk.expect("the response body");
        let _ = body.flow_control().release_capacity(chunk.len());
    }
    let trailers = body
        .trailers()
        .await
        .expect("the trailers")
        .expect("trailers with a grpc-status");
    tonic::Status::from_header_map(&trailers).expect("a grpc-status in the trailers")
}

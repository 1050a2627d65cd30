//! Malformed protobuf and broken gRPC framing, sent by hand over a real
//! HTTP/2 connection, are the caller's mistake: `INVALID_ARGUMENT` with the
//! decoder's message and `ErrorInfo` reason `SerializationException`. On the
//! old code they were `INTERNAL` (invalid varints, wrong wire types, invalid
//! UTF-8, truncated messages), `OUT_OF_RANGE` (oversize) and carried no
//! `ErrorInfo`.

use std::time::{Duration, Instant};

use tonic::Code;

use crate::common::grpc_errors::assert_error;
use crate::common::raw_grpc::{RawConnection, framed};
use crate::common::{Backend, TestApp};

const TOKEN_STATUS: &str = "/statusgate.v1.ChangeTokenService/GetChangeTokenStatus";
const CREATE: &str = "/statusgate.v1.ResourceRequestService/CreateResourceRequest";
const REQUEST_STATUS: &str = "/statusgate.v1.ResourceRequestService/GetResourceRequestStatus";
const GET_OPERATION: &str = "/google.longrunning.Operations/GetOperation";

/// (what, method, the whole request body, a word the message must contain)
fn cases() -> Vec<(&'static str, &'static str, Vec<u8>, &'static str)> {
    let oversize_prefix = {
        let mut prefix = vec![0];
        prefix.extend_from_slice(&(5u32 * 1024 * 1024).to_be_bytes());
        prefix
    };
    vec![
        // Protobuf the decoder refuses.
        (
            "a tag varint that never ends",
            TOKEN_STATUS,
            framed(&[0xFF; 11]),
            "varint",
        ),
        (
            "a length varint that never ends",
            TOKEN_STATUS,
            framed(&[
                0x12, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
            ]),
            "varint",
        ),
        (
            "a truncated varint",
            TOKEN_STATUS,
            framed(&[0x0A, 0x02, 0x10, 0x80]),
            "",
        ),
        (
            "a string field sent as a varint",
            TOKEN_STATUS,
            framed(&[0x10, 0x01]),
            "wire type",
        ),
        (
            "google.longrunning: a string field sent as a varint",
            GET_OPERATION,
            framed(&[0x08, 0x01]),
            "wire type",
        ),
        (
            "a message field sent as fixed32",
            TOKEN_STATUS,
            framed(&[0x0D, 1, 2, 3, 4]),
            "wire type",
        ),
        (
            "a string field sent as fixed64",
            REQUEST_STATUS,
            framed(&[0x11, 1, 2, 3, 4, 5, 6, 7, 8]),
            "wire type",
        ),
        (
            "wire type 6",
            TOKEN_STATUS,
            framed(&[0x16, 0x00]),
            "wire type",
        ),
        (
            "wire type 7",
            TOKEN_STATUS,
            framed(&[0x17, 0x00]),
            "wire type",
        ),
        ("field number 0", TOKEN_STATUS, framed(&[0x00, 0x00]), "tag"),
        (
            "invalid UTF-8 in a string",
            TOKEN_STATUS,
            framed(&[0x12, 0x02, 0xC3, 0x28]),
            "UTF-8",
        ),
        (
            "invalid UTF-8 in a nested string",
            TOKEN_STATUS,
            framed(&[0x0A, 0x04, 0x0A, 0x02, 0xFF, 0xFE]),
            "UTF-8",
        ),
        (
            "invalid UTF-8 in a type name",
            CREATE,
            framed(&[0x1A, 0x03, 0xE2, 0x82, 0x28]),
            "UTF-8",
        ),
        (
            "invalid UTF-8 in a request token",
            REQUEST_STATUS,
            framed(&[0x12, 0x01, 0x80]),
            "UTF-8",
        ),
        (
            "a string longer than the message",
            TOKEN_STATUS,
            framed(&[0x12, 0x10, b'a', b'b']),
            "underflow",
        ),
        (
            "a nested message longer than the message",
            TOKEN_STATUS,
            framed(&[0x0A, 0x05, 0x08]),
            "",
        ),
        (
            "a nested field longer than its message",
            TOKEN_STATUS,
            framed(&[0x0A, 0x02, 0x0A, 0x05, b'x', b'y']),
            "",
        ),
        ("a group that never ends", TOKEN_STATUS, framed(&[0x0B]), ""),
        (
            "a group end without a start",
            TOKEN_STATUS,
            framed(&[0x0C]),
            "",
        ),
        (
            "an unknown field cut short",
            CREATE,
            framed(&[0xA2, 0x06, 0x05, b'x']),
            "",
        ),
        // gRPC framing.
        (
            "a length prefix cut short",
            TOKEN_STATUS,
            vec![0, 0, 0],
            "ended inside a message",
        ),
        (
            "a frame shorter than its length",
            TOKEN_STATUS,
            vec![0, 0, 0, 0, 10, 0x12, 0x01],
            "ended inside a message",
        ),
        (
            "the compressed flag without compression",
            TOKEN_STATUS,
            vec![1, 0, 0, 0, 0],
            "compress",
        ),
        (
            "an invalid compressed flag",
            CREATE,
            vec![7, 0, 0, 0, 0],
            "compress",
        ),
        (
            "a message over the limit",
            TOKEN_STATUS,
            oversize_prefix,
            "larger than the limit",
        ),
        (
            "no message at all",
            TOKEN_STATUS,
            Vec::new(),
            "no request message",
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_messages_and_frames_are_invalid_arguments_with_error_info() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let mut connection = RawConnection::connect(app.application().grpc_address()).await;
    for (what, method, body, word) in cases() {
        let started = Instant::now();
        let status = connection.call(method, body).await;
        assert_error(&status, Code::InvalidArgument, "SerializationException");
        assert!(
            status.message().contains(word),
            "{what}: {:?} does not mention {word:?}",
            status.message()
        );
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{what}: answered at once, not after a timeout"
        );
    }
    // A well-formed call on the same connection still works.
    let scope = [0x0A, 0x02, 0x10, 0x01]; // scope { endpoint: GLOBAL }
    let mut message = scope.to_vec();
    message.extend_from_slice(&[0x12, 0x03, b'a', b'b', b'c']);
    let status = connection.call(TOKEN_STATUS, framed(&message)).await;
    assert_error(&status, Code::NotFound, "WAFNonexistentItemException");

    let metrics = reqwest::get(format!("{}/metrics", app.http_endpoint()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !metrics.contains(r#"outcome="server_error""#),
        "no malformed call counts as a server error: {metrics}"
    );
}

//! Slow and idle clients cannot starve others. A body dribbled after its
//! headers is cut at the body timeout (408 `RequestTimeoutException`) and a
//! gRPC stream that sends no message is answered `DEADLINE_EXCEEDED`, both
//! without holding an in-flight slot meanwhile, so fast callers are served
//! throughout. Connections that never finish (or never start) their headers,
//! idle ones and HTTP/2 peers that stop answering pings are closed; beyond
//! the connection cap new connections wait until one closes.
//!
//! On the old code slow bodies held their slots for the 30 s request timeout
//! (every other caller was shed), unfinished headers and idle connections
//! were never closed, and there was no cap. The timeouts here are shortened
//! to a second or less so that the tests wait only that long.

use std::sync::Arc;
use std::time::{Duration, Instant};

use statusgate::config::Config;
use statusgate::domain::SystemClock;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tonic::Code;

use crate::common::change_tokens::{get_token, global};
use crate::common::grpc_errors::assert_error;
use crate::common::raw_grpc::{RawConnection, status_of};
use crate::common::{ACCOUNT, Backend, TestApp, TestDatabase};

async fn spawn(adjust: impl FnOnce(&mut Config)) -> TestApp {
    let database = Arc::new(TestDatabase::new(Backend::Sqlite).await);
    TestApp::spawn_with(database, Arc::new(SystemClock), adjust).await
}

fn address_of(endpoint: &str) -> String {
    endpoint.trim_start_matches("http://").to_owned()
}

/// Reads until the peer closes the connection, at most `within`; `None` if
/// it is still open then. Returns what was read.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
    let mut received = Vec::new();
    let reading = async {
        let mut buffer = [0u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(read) => received.extend_from_slice(&buffer[..read]),
            }
        }
    };
    tokio::time::timeout(within, reading).await.ok()?;
    Some(received)
}

const SLOW_BODY_HEAD: &str = "POST / HTTP/1.1\r\nHost: statusgate\r\n\
    X-Amz-Target: AWSWAF_20150824.GetChangeToken\r\n\
    Content-Type: application/x-amz-json-1.1\r\nContent-Length: 100\r\n\r\n{";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dribbled_bodies_are_cut_at_the_body_timeout_without_holding_slots() {
    let app = spawn(|config| {
        config.max_in_flight = 4;
        config.http_body_timeout = Duration::from_secs(1);
    })
    .await;
    let address = address_of(&app.http_endpoint());
    let started = Instant::now();
    let mut slow = Vec::new();
    for _ in 0..8 {
        let mut stream = TcpStream::connect(&address).await.unwrap();
        stream.write_all(SLOW_BODY_HEAD.as_bytes()).await.unwrap();
        slow.push(stream);
    }
    // Let the slow requests reach the server; nothing observable says when.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let fast = app.sdk(ACCOUNT, "us-east-1").waf();
    for _ in 0..10 {
        fast.get_change_token()
            .send()
            .await
            .expect("a fast caller is served while slow bodies dribble");
    }
    for mut stream in slow {
        let answer = read_until_closed(&mut stream, Duration::from_secs(10))
            .await
            .expect("the slow request is answered and its connection closed");
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("RequestTimeoutException"), "{answer}");
        assert!(
            answer.to_ascii_lowercase().contains("x-amzn-requestid"),
            "{answer}"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "cut at the body timeout, not the 30 s request timeout: {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_streams_without_a_message_are_answered_without_holding_slots() {
    let app = spawn(|config| {
        config.max_in_flight = 2;
        config.http_body_timeout = Duration::from_millis(500);
    })
    .await;
    let mut connection = RawConnection::connect(app.application().grpc_address()).await;
    let started = Instant::now();
    let mut silent = Vec::new();
    for _ in 0..4 {
        silent.push(
            connection
                .start("/statusgate.v1.ChangeTokenService/GetChangeToken")
                .await,
        );
    }
    let mut client = app.change_tokens().await;
    for _ in 0..5 {
        get_token(&mut client, global(ACCOUNT)).await;
    }
    for (response, _stream) in silent {
        let status = status_of(response).await;
        assert_error(&status, Code::DeadlineExceeded, "RequestTimeoutException");
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfinished_headers_and_silent_connections_are_closed() {
    let app = spawn(|config| {
        config.http_header_timeout = Duration::from_secs(1);
    })
    .await;
    let http = address_of(&app.http_endpoint());
    let mut unfinished = TcpStream::connect(&http).await.unwrap();
    unfinished
        .write_all(b"POST / HTTP/1.1\r\nHost: statusgate\r\nX-Amz-Tar")
        .await
        .unwrap();
    let mut silent_http = TcpStream::connect(&http).await.unwrap();
    let mut silent_grpc = TcpStream::connect(app.application().grpc_address())
        .await
        .unwrap();
    // A keep-alive connection idle after its request (hyper closes HTTP/1
    // connections idle for the header timeout).
    let mut kept_alive = TcpStream::connect(&http).await.unwrap();
    kept_alive
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: statusgate\r\n\r\n")
        .await
        .unwrap();
    for (what, stream) in [
        ("unfinished headers", &mut unfinished),
        ("a silent HTTP connection", &mut silent_http),
        ("a silent gRPC connection", &mut silent_grpc),
        ("an idle keep-alive connection", &mut kept_alive),
    ] {
        let closed = read_until_closed(stream, Duration::from_secs(10)).await;
        assert!(closed.is_some(), "{what} was not closed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_grpc_connections_and_unanswered_pings_are_closed() {
    let app = spawn(|config| {
        config.http_idle_timeout = Duration::from_secs(1);
        config.http2_keepalive_interval = Duration::from_millis(300);
        config.http2_keepalive_timeout = Duration::from_millis(300);
    })
    .await;
    let grpc = app.application().grpc_address();
    // An HTTP/2 client that made one call and then sits idle.
    let mut idle = RawConnection::connect(grpc).await;
    let scope = [0x0A, 0x02, 0x10, 0x01];
    let status = idle
        .call(
            "/statusgate.v1.ChangeTokenService/GetChangeToken",
            crate::common::raw_grpc::framed(&scope),
        )
        .await;
    assert_eq!(status.code(), Code::Ok, "{status:?}");
    let closed = tokio::time::timeout(Duration::from_secs(10), idle.driver).await;
    assert!(closed.is_ok(), "the idle connection was not closed");

    // A peer that sent its preface and then stopped reading: no ping is
    // answered, and the connection is closed long before the idle timeout
    // would matter (a request is never started, so the first-request
    // deadline would close it at the header timeout, 10 s).
    let mut deaf = TcpStream::connect(grpc).await.unwrap();
    deaf.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .await
        .unwrap();
    let started = Instant::now();
    let closed = read_until_closed(&mut deaf, Duration::from_secs(8)).await;
    assert!(
        closed.is_some(),
        "a peer that answers no ping was not closed"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_the_connection_cap_new_connections_wait_for_a_free_slot() {
    let app = spawn(|config| {
        config.max_connections = 3;
    })
    .await;
    let http = address_of(&app.http_endpoint());
    let mut holders = Vec::new();
    for _ in 0..3 {
        let mut holder = TcpStream::connect(&http).await.unwrap();
        holder
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: statusgate\r\n\r\n")
            .await
            .unwrap();
        let mut buffer = [0u8; 1024];
        let read = holder.read(&mut buffer).await.unwrap();
        assert!(buffer[..read].starts_with(b"HTTP/1.1 200"));
        holders.push(holder);
    }
    let mut waiting = TcpStream::connect(&http)
        .await
        .expect("the kernel queues it");
    waiting
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: statusgate\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    // A hold on purpose: nothing is served beyond the cap.
    let mut buffer = [0u8; 1024];
    let early = tokio::time::timeout(Duration::from_millis(500), waiting.read(&mut buffer)).await;
    assert!(early.is_err(), "a connection beyond the cap was served");
    drop(holders.pop());
    let answer = read_until_closed(&mut waiting, Duration::from_secs(10))
        .await
        .expect("served once a slot is free");
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
}

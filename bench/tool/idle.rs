//! Memory with idle connections, the figure the RSS goal is about: a fresh
//! statusgate on a fresh database of the cluster, BENCH_RSS_CONNS gRPC
//! connections opened and held, then as many HTTP/1.1 connections opened and
//! held beside them. Every connection first makes one status read (a gRPC
//! `GetResourceRequestStatus`, a keep-alive facade `GetResourceRequestStatus`
//! of a PENDING request), so it holds what a caller that polls now and then
//! leaves on the server, then stays open and silent. VmRSS is read when the
//! server is fresh and after each kind, VmHWM at the end; the steps give the
//! marginal memory of one connection of each kind.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tonic::transport::{Channel, Endpoint};

use statusgate::grpc::proto::resource_request_service_client::ResourceRequestServiceClient;

use crate::calls::{FacadeRequest, GrpcCall};
use crate::process::{Stop, fail, sleep};
use crate::server::memory_kib;
use crate::{Bench, log};

/// Time for the server's allocator and tasks to settle before a reading.
const SETTLE: Duration = Duration::from_secs(2);

impl Bench {
    /// The idle-connection section; leaves no server running.
    pub fn idle(&mut self) -> Result<(), Stop> {
        self.stop_server();
        self.psql(
            "postgres",
            &["-c", "CREATE DATABASE idle"],
            "CREATE DATABASE idle",
        )?;
        let url = self.cluster()?.url("idle");
        self.start_server("idle", &url)?;
        let result = self
            .running_server()?
            .grpc
            .create_pending_request()
            .map_err(fail)
            .and_then(|token| self.idle_runs(&token));
        self.stop_server();
        result
    }

    fn idle_runs(&mut self, token: &str) -> Result<(), Stop> {
        let server = self.running_server()?;
        let (pid, grpc_port, http_port) = (server.pid(), server.grpc_port(), server.http_port());
        let connections = self.knobs.rss_conns as usize;
        // VmRSS, and its anonymous part (heap, stacks; the file-backed rest
        // is mostly the binary's own code).
        let rss = || {
            let field = |name| {
                memory_kib(pid, name).ok_or_else(|| fail("statusgate exited during the idle run"))
            };
            Ok::<_, Stop>((field("VmRSS")?, field("RssAnon")?))
        };
        sleep(SETTLE)?;
        let (fresh, fresh_anon) = rss()?;
        log(&format!("idle: {connections} gRPC connections"));
        let GrpcCall::GetResourceRequestStatus(read) = GrpcCall::resource_request_status(token)
        else {
            unreachable!("resource_request_status makes a GetResourceRequestStatus call");
        };
        let grpc = self
            .runtime
            .block_on(async {
                let mut held = Vec::with_capacity(connections);
                for _ in 0..connections {
                    let channel = Endpoint::from_shared(format!("http://127.0.0.1:{grpc_port}"))
                        .map_err(|error| error.to_string())?
                        .connect()
                        .await
                        .map_err(|error| format!("gRPC connect: {error}"))?;
                    ResourceRequestServiceClient::new(channel.clone())
                        .get_resource_request_status(read.clone())
                        .await
                        .map_err(|status| format!("gRPC status read: {status}"))?;
                    held.push(channel);
                }
                Ok::<Vec<Channel>, String>(held)
            })
            .map_err(fail)?;
        sleep(SETTLE)?;
        let (with_grpc, with_grpc_anon) = rss()?;
        log(&format!("idle: {connections} HTTP/1.1 connections"));
        let request = http_request(&FacadeRequest::resource_request_status(token), http_port);
        let http = self
            .runtime
            .block_on(async {
                let mut held = Vec::with_capacity(connections);
                for _ in 0..connections {
                    held.push(keep_alive_exchange(http_port, &request).await?);
                }
                Ok::<Vec<TcpStream>, String>(held)
            })
            .map_err(fail)?;
        sleep(SETTLE)?;
        let (with_both, with_both_anon) = rss()?;
        let peak = memory_kib(pid, "VmHWM").unwrap_or(0);
        drop((grpc, http));

        let mib = |kib: u64| kib as f64 / 1024.0;
        let per_connection = |after: u64, before: u64| {
            after.saturating_sub(before) as f64 / connections.max(1) as f64
        };
        let verdict = if mib(peak) <= 64.0 { "met" } else { "MISSED" };
        self.report.sections.extend([
            String::new(),
            "## Peak RSS, idle connections".to_owned(),
            String::new(),
            format!(
                "A fresh statusgate; {connections} gRPC connections, then {connections} HTTP/1.1 connections, all held open together, each after one status read."
            ),
            String::new(),
            "| measure | VmRSS MiB | of it RssAnon MiB | KiB per connection | goal | verdict |".to_owned(),
            "|---|---:|---:|---:|---|---|".to_owned(),
            format!(
                "| fresh | {:.1} | {:.1} | | | |",
                mib(fresh),
                mib(fresh_anon)
            ),
            format!(
                "| with {connections} idle gRPC connections | {:.1} | {:.1} | {:.1} | | |",
                mib(with_grpc),
                mib(with_grpc_anon),
                per_connection(with_grpc, fresh)
            ),
            format!(
                "| with those and {connections} idle HTTP/1.1 connections | {:.1} | {:.1} | {:.1} | | |",
                mib(with_both),
                mib(with_both_anon),
                per_connection(with_both, with_grpc)
            ),
            format!(
                "| VmHWM (peak since start) | {:.1} | | | <= 64 MiB | {verdict} |",
                mib(peak)
            ),
        ]);
        Ok(())
    }
}

/// `request` as the bytes of one keep-alive HTTP/1.1 request.
fn http_request(request: &FacadeRequest, port: u16) -> Vec<u8> {
    let operation = request.operation;
    let mut head = format!(
        "POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: {}\r\nX-Amz-Target: {}\r\nContent-Length: {}\r\n",
        operation.content_type(),
        operation.target(),
        request.body.len()
    );
    for (name, value) in request.auth_headers() {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(request.body.as_bytes());
    bytes
}

/// A new connection that has sent `request` and read its whole answer
/// (an HTTP 200 with a `Content-Length` body), still open.
async fn keep_alive_exchange(port: u16, request: &[u8]) -> Result<TcpStream, String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|error| format!("HTTP connect: {error}"))?;
    stream
        .write_all(request)
        .await
        .map_err(|error| format!("HTTP write: {error}"))?;
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
            .await
            .map_err(|_| "no HTTP answer within 10s".to_owned())?
            .map_err(|error| format!("HTTP read: {error}"))?;
        if read == 0 {
            return Err("the server closed a keep-alive connection".to_owned());
        }
        answer.extend_from_slice(&chunk[..read]);
        if let Some(length) = complete_answer(&answer)?
            && answer.len() >= length
        {
            return Ok(stream);
        }
    }
}

/// The full length of an answer once its head is in, if it is a 200.
fn complete_answer(answer: &[u8]) -> Result<Option<usize>, String> {
    let Some(end) = answer.windows(4).position(|window| window == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = String::from_utf8_lossy(&answer[..end]);
    if !head.starts_with("HTTP/1.1 200") {
        return Err(format!("HTTP answer {head:?}"));
    }
    let length = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .ok_or_else(|| format!("HTTP answer without Content-Length: {head:?}"))?;
    Ok(Some(end + 4 + length))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_complete_when_its_body_is_in() {
        let head = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n";
        assert_eq!(complete_answer(&head[..10]), Ok(None));
        assert_eq!(complete_answer(head), Ok(Some(head.len() + 2)));
        assert!(complete_answer(b"HTTP/1.1 400 Bad Request\r\n\r\n").is_err());
    }
}

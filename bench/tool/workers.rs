//! The workers phase, on the throwaway cluster: how fast 8 workers drain
//! claimable requests (each one `ClaimResourceRequests` of one request,
//! then `RecordProgressEvent` SUCCESS with its lease token), against the
//! pgbench insert anchor; and what 10,000 concurrent `WatchResourceRequest`
//! streams on one server cost: how long an event takes to reach its
//! watchers (from sending its `RecordProgressEvent` to each watcher's
//! receiving it, p50 / p99) and the server's RSS.
//!
//! Both loads are tonic clients in this process, not h2load: a worker's
//! claim decides what its record says, and a watch is a stream. Every call
//! is checked by its own answer (tonic sees the grpc-status), so an error
//! under load is counted, never taken for a success.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use statusgate::grpc::proto::resource_request_service_client::ResourceRequestServiceClient;
use statusgate::grpc::proto::{
    ClaimResourceRequestsRequest, OperationStatus, RecordProgressEventRequest,
    WatchResourceRequestRequest,
};
use tonic::transport::{Channel, Endpoint};

use crate::calls::{ACCOUNT, seeded_request_token};
use crate::cpu::Window;
use crate::process::{Stop, fail};
use crate::report::Row;
use crate::{Bench, log};

/// The claiming workers, each on its own connection.
const WORKERS: usize = 8;
/// Claimable requests seeded for the claim run (more than it can drain).
const CLAIM_SEED: u64 = 200_000;
/// Concurrent watch streams, and how they spread.
const WATCHERS: usize = 10_000;
const WATCHED_REQUESTS: usize = 1_000;
const WATCH_CONNECTIONS: usize = 100;
/// Events recorded to each watched request (the last one SUCCESS).
const WATCH_ROUNDS: usize = 3;
/// Watches being opened at once: a ramp, as clients reconnecting would be
/// (10,000 at once would be shed by the server's --max-in-flight, 1024).
const OPENING_AT_ONCE: usize = 256;
const DATABASE: &str = "statusgate_workers";

type Client = ResourceRequestServiceClient<Channel>;

async fn connect(base: &str) -> Result<Client, String> {
    let channel = Endpoint::from_shared(base.to_owned())
        .map_err(|error| error.to_string())?
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .map_err(|error| format!("cannot connect to {base}: {error}"))?;
    Ok(ResourceRequestServiceClient::new(channel))
}

/// Milliseconds at the `fraction` (0..=1) point of sorted `samples`.
fn quantile_ms(sorted: &[Duration], fraction: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let index = ((sorted.len() as f64 * fraction).ceil() as usize).clamp(1, sorted.len()) - 1;
    Some(sorted[index].as_secs_f64() * 1000.0)
}

fn now_micros() -> u128 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros()
}

/// What one load run measured.
struct Measured {
    completed: u64,
    errors: u64,
    seconds: f64,
    latencies: Vec<Duration>,
    notes: Vec<String>,
}

/// 8 workers claim `batch` requests at a time and finish each, for `warmup`
/// then `duration`; only the second part is measured.
async fn claim_run(
    base: String,
    batch: i32,
    warmup: Duration,
    duration: Duration,
) -> Result<Measured, String> {
    let measured_from = Instant::now() + warmup;
    let until = measured_from + duration;
    let drained = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for worker in 0..WORKERS {
        let mut client = connect(&base).await?;
        let (drained, errors) = (Arc::clone(&drained), Arc::clone(&errors));
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < until {
                let started = Instant::now();
                let claimed = client
                    .claim_resource_requests(ClaimResourceRequestsRequest {
                        worker_id: format!("bench-worker-{worker}"),
                        max_requests: Some(batch),
                        ..ClaimResourceRequestsRequest::default()
                    })
                    .await;
                let claims = match claimed {
                    Ok(answer) => answer.into_inner().claims,
                    Err(_) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                };
                if claims.is_empty() {
                    drained.store(true, Ordering::Relaxed);
                    break;
                }
                for claim in claims {
                    let request_token = claim.progress_event.unwrap_or_default().request_token;
                    let recorded = client
                        .record_progress_event(RecordProgressEventRequest {
                            account_id: claim.account_id,
                            region: claim.region,
                            request_token,
                            operation_status: OperationStatus::Success as i32,
                            lease_token: Some(claim.lease_token),
                            ..RecordProgressEventRequest::default()
                        })
                        .await;
                    match recorded {
                        // Each finished request counts once, with the time
                        // from its claim being sent.
                        Ok(answer) if answer.get_ref().lease_expires_at.is_none() => {
                            if started >= measured_from {
                                latencies.push(started.elapsed());
                            }
                        }
                        _ => {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.map_err(|error| error.to_string())?);
    }
    latencies.sort();
    let mut notes = vec![
        format!(
            "ClaimResourceRequests (max {batch}), then RecordProgressEvent SUCCESS with the lease token for each claimed request; p50/p99 from a request's claim being sent to its SUCCESS being answered"
        ),
        "load generator in this process: its CPU is in 'other'".to_owned(),
    ];
    if drained.load(Ordering::Relaxed) {
        notes.push("the seeded requests ran out before the end: rate understated".to_owned());
    }
    Ok(Measured {
        completed: latencies.len() as u64,
        errors: errors.load(Ordering::Relaxed),
        seconds: duration.as_secs_f64(),
        latencies,
        notes,
    })
}

/// When each (watched request, event number) was sent.
type Sent = Arc<Mutex<HashMap<(usize, i64), Instant>>>;

/// 10,000 watchers on 1,000 requests over 100 connections; then every
/// request gets `WATCH_ROUNDS` events, recorded one at a time.
async fn watch_run(
    base: String,
    tokens: Vec<String>,
    memory: impl Fn() -> (u64, u64) + Send + 'static,
) -> Result<(Measured, [u64; 2]), String> {
    let mut connections = Vec::with_capacity(WATCH_CONNECTIONS);
    for _ in 0..WATCH_CONNECTIONS {
        connections.push(connect(&base).await?);
    }
    let sent: Sent = Arc::default();
    let errors = Arc::new(AtomicU64::new(0));
    let opening = Arc::new(tokio::sync::Semaphore::new(OPENING_AT_ONCE));
    let (ready_sender, mut ready) = tokio::sync::mpsc::channel::<()>(WATCHERS);
    let mut watchers = Vec::with_capacity(WATCHERS);
    for index in 0..WATCHERS {
        let mut client = connections[index % WATCH_CONNECTIONS].clone();
        let request = index % WATCHED_REQUESTS;
        let token = tokens[request].clone();
        let (sent, errors, ready) = (Arc::clone(&sent), Arc::clone(&errors), ready_sender.clone());
        let opening = Arc::clone(&opening);
        watchers.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(WATCH_ROUNDS);
            let permit = opening.acquire_owned().await;
            let stream = client
                .watch_resource_request(WatchResourceRequestRequest {
                    account_id: ACCOUNT.into(),
                    request_token: token,
                    start_after_event_number: None,
                    region: String::new(),
                })
                .await;
            let mut stream = match stream {
                Ok(stream) => stream.into_inner(),
                Err(status) => {
                    errors.fetch_add(1, Ordering::Relaxed);
                    log(&format!("a watch was refused: {status}"));
                    let _ = ready.send(()).await;
                    return latencies;
                }
            };
            // The current event first.
            if !matches!(stream.message().await, Ok(Some(_))) {
                errors.fetch_add(1, Ordering::Relaxed);
            }
            drop(permit);
            let _ = ready.send(()).await;
            loop {
                match stream.message().await {
                    Ok(Some(event)) => {
                        let key = (request, event.event_number);
                        let sent_at = sent.lock().expect("sent lock").get(&key).copied();
                        match sent_at {
                            Some(at) => latencies.push(at.elapsed()),
                            None => {
                                errors.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                    Ok(None) => return latencies,
                    Err(status) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        log(&format!("a watch failed: {status}"));
                        return latencies;
                    }
                }
            }
        }));
    }
    drop(ready_sender);
    for _ in 0..WATCHERS {
        ready.recv().await;
    }
    let (rss_watching, _) = memory();
    log(&format!(
        "{WATCHERS} watchers on {WATCHED_REQUESTS} requests over {WATCH_CONNECTIONS} connections"
    ));
    let mut writer = connect(&base).await?;
    let started = Instant::now();
    for round in 0..WATCH_ROUNDS {
        let status = if round + 1 == WATCH_ROUNDS {
            OperationStatus::Success
        } else {
            OperationStatus::InProgress
        };
        for (request, token) in tokens.iter().enumerate() {
            // Event 1 is the seeded PENDING; round r records event r + 2.
            let number = round as i64 + 2;
            sent.lock()
                .expect("sent lock")
                .insert((request, number), Instant::now());
            let recorded = writer
                .record_progress_event(RecordProgressEventRequest {
                    account_id: ACCOUNT.into(),
                    request_token: token.clone(),
                    operation_status: status as i32,
                    ..RecordProgressEventRequest::default()
                })
                .await;
            if recorded.is_err() {
                errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    let mut latencies = Vec::with_capacity(WATCHERS * WATCH_ROUNDS);
    for watcher in watchers {
        latencies.extend(watcher.await.map_err(|error| error.to_string())?);
    }
    let seconds = started.elapsed().as_secs_f64();
    let (_, peak) = memory();
    latencies.sort();
    let expected = (WATCHERS * WATCH_ROUNDS) as u64;
    let missing = expected.saturating_sub(latencies.len() as u64);
    let notes = vec![
        format!(
            "{WATCHERS} watchers, {} per request, {WATCH_CONNECTIONS} connections; {WATCH_ROUNDS} events per request recorded one at a time; latency from sending the record to a watcher receiving the event",
            WATCHERS / WATCHED_REQUESTS
        ),
        format!(
            "{missing} of {expected} deliveries missing; watches opened {OPENING_AT_ONCE} at a time"
        ),
    ];
    Ok((
        Measured {
            completed: latencies.len() as u64,
            errors: errors.load(Ordering::Relaxed) + missing,
            seconds,
            latencies,
            notes,
        },
        [rss_watching, peak],
    ))
}

impl Bench {
    fn workers_row(
        &self,
        id: &str,
        operation: String,
        concurrency: String,
        measured: Measured,
        cpu: String,
    ) -> Row {
        Row {
            id: id.to_owned(),
            operation,
            transport: "gRPC".to_owned(),
            backend: "postgres".to_owned(),
            concurrency,
            rps: Some(measured.completed as f64 / measured.seconds.max(1e-9)),
            p50: quantile_ms(&measured.latencies, 0.50),
            p99: quantile_ms(&measured.latencies, 0.99),
            cpu,
            errors: measured.errors,
            verified: true,
            notes: measured.notes,
        }
    }

    /// Seeds PENDING requests `first..=last` into the phase's database.
    fn seed_workers_database(&self, first: u64, last: u64) -> Result<(), Stop> {
        let path = self
            .bench_dir
            .join("sql/seed_requests.sql")
            .display()
            .to_string();
        let mut command = self
            .cluster
            .as_ref()
            .ok_or_else(|| fail("no cluster"))?
            .psql(DATABASE);
        command.args([
            "-v",
            &format!("first={first}"),
            "-v",
            &format!("last={last}"),
            "-v",
            &format!("account={ACCOUNT}"),
            "-v",
            &format!("now_us={}", now_micros()),
            "-f",
            &path,
            "-c",
            "VACUUM ANALYZE",
        ]);
        crate::process::run_logged(
            &mut command,
            &self.work.path.join("psql.log"),
            "seeding claimable requests",
        )
    }

    /// One claim run of 8 workers claiming `batch` at a time, as row `id`.
    fn claim_row(&mut self, id: &str, batch: i32) -> Result<(), Stop> {
        let cluster = self.cluster.as_ref().ok_or_else(|| fail("no cluster"))?;
        let server = self
            .server
            .as_ref()
            .ok_or_else(|| fail("statusgate is not running"))?;
        let base = server.grpc_base();
        let window = Window::begin(Some(server.cpu_ticks()), cluster.cpu_ticks());
        let warmup = Duration::from_secs(self.knobs.warmup);
        let duration = Duration::from_secs(self.knobs.duration);
        let claimed = self
            .runtime
            .block_on(claim_run(base, batch, warmup, duration))
            .map_err(fail)?;
        let cpu = window.end(
            Some(server.cpu_ticks()),
            cluster.cpu_ticks(),
            self.ticks_per_second,
        );
        let mut row = self.workers_row(
            id,
            format!("ClaimResourceRequests (max {batch}) + RecordProgressEvent per request (claim throughput)"),
            format!("{WORKERS} workers"),
            claimed,
            cpu.to_string(),
        );
        let anchor = self
            .report
            .rows
            .iter()
            .find(|anchor| anchor.id == "pg_insert")
            .and_then(|anchor| anchor.rps);
        if let (Some(rate), Some(anchor)) = (row.rps, anchor) {
            row.notes.push(format!(
                "{:.2}x the pgbench insert anchor ({anchor:.0}/s)",
                rate / anchor
            ));
        }
        self.record(row);
        Ok(())
    }

    /// The claim runs and the watch fan-out, each on a fresh server.
    pub fn workers(&mut self) -> Result<(), Stop> {
        let cluster = self.cluster.as_ref().ok_or_else(|| fail("no cluster"))?;
        let mut create = cluster.psql("postgres");
        create.args(["-c", &format!("CREATE DATABASE {DATABASE}")]);
        crate::process::run_logged(
            &mut create,
            &self.work.path.join("psql.log"),
            "CREATE DATABASE",
        )?;
        let url = cluster.url(DATABASE);
        self.start_server("workers", &url)?;
        log(&format!("seeding {CLAIM_SEED} claimable requests"));
        self.seed_workers_database(1, CLAIM_SEED)?;

        for (id, batch) in [("grpc_claim", 1), ("grpc_claim_batch", 10)] {
            self.claim_row(id, batch)?;
        }

        // Requests of their own for the watchers (the claim run is over, so
        // nobody claims them), and a fresh server, so its RSS is theirs.
        let first_watched = CLAIM_SEED + 1;
        let last_watched = CLAIM_SEED + WATCHED_REQUESTS as u64;
        self.stop_server();
        self.seed_workers_database(first_watched, last_watched)?;
        self.start_server("watchers", &url)?;
        let server = self
            .server
            .as_ref()
            .ok_or_else(|| fail("statusgate is not running"))?;
        let pid = server.pid();
        let rss_before = server.memory_kib("VmRSS").unwrap_or(0);
        let base = server.grpc_base();
        let tokens: Vec<String> = (first_watched..=last_watched)
            .map(seeded_request_token)
            .collect();
        let memory = move || {
            (
                crate::server::memory_kib(pid, "VmRSS").unwrap_or(0),
                crate::server::memory_kib(pid, "VmHWM").unwrap_or(0),
            )
        };
        let cluster = self.cluster.as_ref().ok_or_else(|| fail("no cluster"))?;
        let window = Window::begin(Some(server.cpu_ticks()), cluster.cpu_ticks());
        let (watched, [rss_watching, peak]) = self
            .runtime
            .block_on(watch_run(base, tokens, memory))
            .map_err(fail)?;
        let server = self
            .server
            .as_ref()
            .ok_or_else(|| fail("statusgate is not running"))?;
        let cpu = window.end(
            Some(server.cpu_ticks()),
            cluster.cpu_ticks(),
            self.ticks_per_second,
        );
        let mib = |kib: u64| kib as f64 / 1024.0;
        let mut row = self.workers_row(
            "grpc_watch",
            "WatchResourceRequest fan-out (event delivery)".to_owned(),
            format!("{WATCHERS} streams"),
            watched,
            cpu.to_string(),
        );
        row.notes.push(format!(
            "RSS {:.1} MiB before the watchers, {:.1} MiB with them, peak {:.1} MiB",
            mib(rss_before),
            mib(rss_watching),
            mib(peak)
        ));
        self.report.sections.extend([
            String::new(),
            "## Workers and watchers".to_owned(),
            String::new(),
            "| measure | value |".to_owned(),
            "|---|---:|".to_owned(),
            format!(
                "| statusgate VmRSS before {WATCHERS} watch streams / with them / VmHWM after their events (MiB) | {:.1} / {:.1} / {:.1} |",
                mib(rss_before),
                mib(rss_watching),
                mib(peak)
            ),
            format!(
                "| event delivery to {WATCHERS} watchers, p50 / p99 (ms) | {} / {} |",
                row.p50.map_or("-".to_owned(), |value| format!("{value:.2}")),
                row.p99.map_or("-".to_owned(), |value| format!("{value:.2}"))
            ),
        ]);
        self.record(row);
        self.stop_server();
        Ok(())
    }
}

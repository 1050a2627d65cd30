//! One load run each: h2load for gRPC, wrk for the facade, pgbench for the
//! anchors. Every run is `BENCH_WARMUP` of warm-up then `BENCH_DURATION`
//! measured, and gives one table row.
//!
//! # Errors
//! A gRPC error is an HTTP 200 whose `grpc-status` trailer is not 0, which
//! h2load counts as a success. So a run counts as errors:
//! - before it starts: every body is sent once through tonic and must get
//!   the expected answer, or the benchmark stops ([`crate::calls`]);
//! - h2load's failed, errored and timed-out streams and non-2xx answers;
//!   wrk's socket errors, timeouts and non-2xx answers; pgbench's failed
//!   transactions;
//! - any non-OK outcome in statusgate's own `statusgate_requests_total`
//!   for the run's operation, read before the run, one second before its
//!   end and after it. The one tolerance: when h2load stops, it cuts the
//!   streams still in flight, which it logs with status -1 and statusgate
//!   counts as errors; up to one per in-flight stream, in the last second
//!   only, is shown in the note and not counted;
//! - a counter that did not see the run at all (the row is `unverified`);
//! - after it: every body is sent once more and must get the same answer.
//!
//! A row with errors is still printed, loudly (see `report`), and the
//! benchmark exits 1 at its end unless `BENCH_ALLOW_ERRORS=1`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::LazyLock;
use std::time::Duration;

use regex::Regex;

use crate::Knobs;
use crate::calls::{FacadeRequest, GrpcCall};
use crate::cluster::Cluster;
use crate::cpu::{CpuSplit, Window};
use crate::process::{Running, Stop, fail, log_to, sleep, tail};
use crate::report::Row;
use crate::server::Server;

/// What a run needs: the knobs, the processes it measures, where its files go.
pub struct Runner<'a> {
    pub knobs: &'a Knobs,
    pub ticks_per_second: f64,
    pub runs_dir: &'a Path,
    pub bench_dir: &'a Path,
    pub server: Option<&'a Server>,
    pub cluster: Option<&'a Cluster>,
}

pub struct H2loadRun<'a> {
    pub id: &'a str,
    pub operation: String,
    pub backend: &'a str,
    pub connections: u32,
    pub streams: u32,
    /// One h2load process per call, the connections split among them.
    pub calls: &'a [GrpcCall],
}

pub struct WrkRun<'a> {
    pub id: &'a str,
    pub operation: String,
    pub backend: &'a str,
    pub connections: u32,
    /// Picked at random per request; all of one operation.
    pub requests: &'a [FacadeRequest],
    /// With a seeded-request placeholder in the body: the range of seeded
    /// request numbers to pick from.
    pub seeded: Option<(u64, u64)>,
}

pub struct PgbenchRun<'a> {
    pub id: &'a str,
    pub operation: String,
    pub clients: u32,
    pub args: Vec<String>,
}

/// The totals of one or more h2load outputs.
#[derive(Debug, Default, PartialEq)]
struct H2loadSummary {
    rps: f64,
    succeeded: u64,
    failed: u64,
    errored: u64,
    timeout: u64,
    non_2xx: u64,
}

fn parse_h2load(text: &str) -> Option<H2loadSummary> {
    static FINISHED: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"finished in [\d.]+\w*, ([\d.]+) req/s").expect("a valid regex")
    });
    static REQUESTS: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout",
        )
        .expect("a valid regex")
    });
    static CODES: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"status codes: \d+ 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx")
            .expect("a valid regex")
    });
    let number = |captures: &regex::Captures<'_>, index: usize| -> Option<u64> {
        captures.get(index)?.as_str().parse().ok()
    };
    let finished = FINISHED.captures(text)?;
    let requests = REQUESTS.captures(text)?;
    let codes = CODES.captures(text)?;
    Some(H2loadSummary {
        rps: finished.get(1)?.as_str().parse().ok()?,
        succeeded: number(&requests, 1)?,
        failed: number(&requests, 2)?,
        errored: number(&requests, 3)?,
        timeout: number(&requests, 4)?,
        non_2xx: number(&codes, 1)? + number(&codes, 2)? + number(&codes, 3)?,
    })
}

/// The nearest-rank percentile of sorted latencies, in ms.
fn percentile_ms(sorted_us: &[u64], fraction: f64) -> Option<f64> {
    if sorted_us.is_empty() {
        return None;
    }
    let rank = (fraction * sorted_us.len() as f64).ceil() as usize;
    let index = rank.clamp(1, sorted_us.len()) - 1;
    Some(sorted_us[index] as f64 / 1000.0)
}

/// Latencies (µs) of the answered requests in h2load `--log-file` lines
/// (start, status, µs) or pgbench `-l` lines (client, transaction, µs or
/// "failed"/"skipped", ...), and the number of the others.
fn latencies(files: &[PathBuf], h2load: bool) -> (Vec<u64>, u64) {
    let mut answered = Vec::new();
    let mut other = 0;
    for file in files {
        let text = fs::read_to_string(file).unwrap_or_default();
        for line in text.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 3 {
                continue;
            }
            let good = if h2load { fields[1] == "200" } else { true };
            match fields[2].parse::<u64>() {
                Ok(micros) if good => answered.push(micros),
                _ => other += 1,
            }
        }
    }
    answered.sort_unstable();
    (answered, other)
}

fn files_starting(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|entry| entry.file_name().to_string_lossy().starts_with(prefix))
                .map(|entry| entry.path())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

fn write(path: &Path, contents: impl AsRef<[u8]>) -> Result<(), Stop> {
    fs::write(path, contents)
        .map_err(|error| fail(format!("cannot write {}: {error}", path.display())))
}

impl Runner<'_> {
    fn server(&self, id: &str) -> Result<&Server, Stop> {
        self.server
            .ok_or_else(|| fail(format!("{id}: no statusgate is running")))
    }

    fn run_dir(&self, id: &str) -> Result<PathBuf, Stop> {
        let dir = self.runs_dir.join(id);
        fs::create_dir_all(&dir)
            .map_err(|error| fail(format!("cannot create {}: {error}", dir.display())))?;
        Ok(dir)
    }

    fn begin(&self) -> Window {
        Window::begin(
            self.server.map(Server::cpu_ticks),
            self.cluster.map_or(0, Cluster::cpu_ticks),
        )
    }

    fn end(&self, window: Window) -> CpuSplit {
        window.end(
            self.server.map(Server::cpu_ticks),
            self.cluster.map_or(0, Cluster::cpu_ticks),
            self.ticks_per_second,
        )
    }

    pub fn h2load(&self, run: H2loadRun<'_>) -> Result<Row, Stop> {
        let id = run.id;
        let server = self.server(id)?;
        let dir = self.run_dir(id)?;
        let knobs = self.knobs;
        let processes = u32::try_from(run.calls.len()).unwrap_or(u32::MAX).max(1);
        let per_process = (run.connections / processes).max(1);
        let in_flight = u64::from(per_process * processes * run.streams);
        let mut sent = Vec::new();
        for call in run.calls {
            let call = server.grpc.check(call).map_err(|error| {
                fail(format!("{id}: before the run, {call:?} answered {error}"))
            })?;
            sent.push(call);
        }
        let method = sent[0].method().to_owned();
        crate::log(&format!(
            "{id}: h2load {processes} x {per_process}c x {}s for {}s (+{}s warm-up)",
            run.streams, knobs.duration, knobs.warmup
        ));
        let mut bodies = Vec::new();
        for (k, call) in sent.iter().enumerate() {
            let body = dir.join(format!("body.{k}"));
            write(&body, &call.body)?;
            bodies.push(body);
        }
        let log_mark = server.log_mark();
        let before = server.request_counts();
        let window = self.begin();
        let mut generators = Vec::new();
        for (k, (call, body)) in sent.iter().zip(&bodies).enumerate() {
            let mut command = Command::new("h2load");
            command
                .arg("-c")
                .arg(per_process.to_string())
                .arg("-m")
                .arg(run.streams.to_string())
                .arg("-t")
                .arg(knobs.loadgen_threads.to_string())
                .arg("-D")
                .arg(knobs.duration.to_string())
                .arg("--warm-up-time")
                .arg(knobs.warmup.to_string())
                .arg("--log-file")
                .arg(dir.join(format!("log.{k}")))
                .arg("-d")
                .arg(body);
            for (name, value) in &call.headers {
                command.arg("-H").arg(format!("{name}: {value}"));
            }
            command.arg(format!("{}{}", server.grpc_base(), call.path));
            log_to(&mut command, &dir.join(format!("out.{k}")))?;
            generators.push(Running::spawn(&mut command, "h2load")?);
        }
        // The counter one second before h2load stops: up to here, every
        // non-OK outcome is an error.
        sleep(Duration::from_secs(knobs.warmup + knobs.duration - 1))?;
        let middle = server.request_counts();
        let mut failed = false;
        for generator in &mut generators {
            failed |= !generator.wait()?.success();
        }
        let cpu = self.end(window);
        let after = server.request_counts();
        let outputs = files_starting(&dir, "out.");
        if failed {
            let tails: Vec<String> = outputs.iter().map(|out| tail(out, 5)).collect();
            return Err(fail(format!("{id}: h2load failed: {}", tails.join(" | "))));
        }
        let mut total = H2loadSummary::default();
        for out in &outputs {
            let text = fs::read_to_string(out).unwrap_or_default();
            let summary = parse_h2load(&text)
                .ok_or_else(|| fail(format!("{id}: no h2load summary in {}", out.display())))?;
            total.rps += summary.rps;
            total.succeeded += summary.succeeded;
            total.failed += summary.failed;
            total.errored += summary.errored;
            total.timeout += summary.timeout;
            total.non_2xx += summary.non_2xx;
        }
        let (answered, cut) = latencies(&files_starting(&dir, "log."), true);
        let (strict_ok, strict_bad) = before.delta(&middle, "grpc", &method);
        let (tail_ok, tail_bad) = middle.delta(&after, "grpc", &method);
        let server_ok = strict_ok + tail_ok;
        let client_errors = total.failed + total.errored + total.timeout + total.non_2xx;
        let mut server_errors = strict_bad;
        let mut cut_errors = 0;
        let mut verified = true;
        let mut notes = Vec::new();
        if tail_bad > 0 || cut > 0 {
            if client_errors == 0 && tail_bad <= in_flight && cut <= in_flight {
                notes.push(format!(
                    "at h2load's stop: {cut} streams cut, {tail_bad} counted by statusgate as errors"
                ));
            } else {
                server_errors += tail_bad;
                cut_errors = cut;
            }
        }
        // h2load successes that statusgate did not answer OK.
        let mut not_ok_successes = 0;
        if server_ok == 0 && strict_bad == 0 && tail_bad == 0 {
            verified = false;
            notes.push(format!(
                "UNVERIFIED: statusgate_requests_total has no gRPC {method}, so grpc-status under load is unknown"
            ));
        } else if server_ok < total.succeeded {
            // statusgate's count also holds the warm-up, so it is short only
            // by calls that were not OK, or by the ones in flight at the end.
            if total.succeeded - server_ok > in_flight {
                not_ok_successes = total.succeeded - server_ok;
            }
            notes.push(format!(
                "statusgate counted {server_ok} OK calls, h2load {} successes",
                total.succeeded
            ));
        }
        // The two sides see the same failures (a gRPC error is an h2load
        // success and a non-OK outcome): the larger count, not the sum.
        let mut errors = (client_errors + cut_errors + not_ok_successes).max(server_errors);
        if errors > 0 {
            notes.push(format!(
                "ERRORS: h2load failed {}, errored {}, timeout {}, non-2xx {}, cut {cut}; statusgate non-OK {strict_bad} (+{tail_bad} at the end); log: {}",
                total.failed,
                total.errored,
                total.timeout,
                total.non_2xx,
                server.complaint(log_mark)
            ));
        }
        for call in run.calls {
            if let Err(error) = server.grpc.check(call) {
                errors += 1;
                notes.push(format!("ERRORS: after the run, {method} answered {error}"));
            }
        }
        let concurrency = if processes == 1 {
            format!("{per_process}c x {}s", run.streams)
        } else {
            format!("{processes} x ({per_process}c x {}s)", run.streams)
        };
        Ok(Row {
            id: id.to_owned(),
            operation: run.operation,
            transport: "gRPC".to_owned(),
            backend: run.backend.to_owned(),
            concurrency,
            rps: Some(total.rps),
            p50: percentile_ms(&answered, 0.50),
            p99: percentile_ms(&answered, 0.99),
            cpu: cpu.to_string(),
            errors,
            verified,
            notes,
        })
    }

    pub fn wrk(&self, run: WrkRun<'_>) -> Result<Row, Stop> {
        let id = run.id;
        let server = self.server(id)?;
        let dir = self.run_dir(id)?;
        let knobs = self.knobs;
        let operation = run.requests[0].operation;
        let to_check: Vec<FacadeRequest> = match run.seeded {
            // The lowest and highest seeded request: the seed covers the range.
            Some((low, high)) => run
                .requests
                .iter()
                .flat_map(|request| {
                    [
                        request.with_seeded_request(low),
                        request.with_seeded_request(high),
                    ]
                })
                .collect(),
            None => run.requests.to_vec(),
        };
        let check_all = |when: &str| -> Vec<String> {
            to_check
                .iter()
                .filter_map(|request| {
                    let error = server.facade.check(request).err()?;
                    Some(format!(
                        "{when}, {} {} answered {error}",
                        operation.target(),
                        request.body
                    ))
                })
                .collect()
        };
        if let Some(error) = check_all("before the run").into_iter().next() {
            return Err(fail(format!("{id}: {error}")));
        }
        // One request a line: its authentication headers (`Name: value`),
        // each followed by a tab, then the body.
        let requests_file = dir.join("requests.tsv");
        let lines: String = run
            .requests
            .iter()
            .map(|request| {
                let headers: String = request
                    .auth_headers()
                    .iter()
                    .map(|(name, value)| format!("{name}: {value}\t"))
                    .collect();
                format!("{headers}{}\n", request.body)
            })
            .collect();
        write(&requests_file, lines)?;
        let threads = knobs.loadgen_threads.min(run.connections).max(1);
        crate::log(&format!(
            "{id}: wrk {}c for {}s (+{}s warm-up)",
            run.connections, knobs.duration, knobs.warmup
        ));
        let wrk = |seconds: u64, out: &Path, timeout: bool| -> Result<(), Stop> {
            let mut command = Command::new("wrk");
            command
                .arg("-t")
                .arg(threads.to_string())
                .arg("-c")
                .arg(run.connections.to_string())
                .arg("-d")
                .arg(format!("{seconds}s"));
            if timeout {
                command.args(["--timeout", "10s"]);
            }
            command
                .arg("-s")
                .arg(self.bench_dir.join("facade.lua"))
                .arg(format!("{}/", server.facade.base()))
                .arg("--")
                .arg(operation.target())
                .arg(operation.content_type())
                .arg(&requests_file);
            if let Some((low, high)) = run.seeded {
                command.arg(low.to_string()).arg(high.to_string());
            }
            log_to(&mut command, out)?;
            let status = Running::spawn(&mut command, "wrk")?.wait()?;
            if status.success() {
                Ok(())
            } else {
                Err(fail(format!(
                    "{id}: wrk failed ({status}): {}",
                    tail(out, 5)
                )))
            }
        };
        let log_mark = server.log_mark();
        let before = server.request_counts();
        let window = self.begin();
        if knobs.warmup > 0 {
            wrk(knobs.warmup, &dir.join("warm.out"), false)?;
        }
        let out = dir.join("out");
        wrk(knobs.duration, &out, true)?;
        let cpu = self.end(window);
        let after = server.request_counts();
        let text = fs::read_to_string(&out).unwrap_or_default();
        // BENCHJSON requests duration_us connect read write status timeout p50_us p99_us
        let summary: Vec<f64> = text
            .lines()
            .rfind(|line| line.starts_with("BENCHJSON "))
            .map(|line| {
                line.split_whitespace()
                    .skip(1)
                    .filter_map(|field| field.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        let [
            requests,
            duration_us,
            connect,
            read,
            write_errors,
            status,
            timeout,
            p50_us,
            p99_us,
        ] = summary[..]
        else {
            return Err(fail(format!(
                "{id}: no summary from wrk: {}",
                tail(&out, 5)
            )));
        };
        let count = |value: f64| value as u64;
        let (server_ok, server_bad) = before.delta(&after, "http", operation.name());
        // A failed call is both a non-2xx for wrk and a non-OK outcome for
        // statusgate (which also saw the warm-up): counted once.
        let mut errors =
            count(connect + read + write_errors + timeout) + count(status).max(server_bad);
        let mut notes = Vec::new();
        if server_ok == 0 && server_bad == 0 {
            notes.push(format!(
                "statusgate_requests_total has no HTTP {}: HTTP status only",
                operation.name()
            ));
        }
        if errors > 0 {
            notes.push(format!(
                "ERRORS: wrk connect {}, read {}, write {}, non-2xx {}, timeout {}; statusgate non-OK {server_bad} (warm-up included); log: {}",
                count(connect),
                count(read),
                count(write_errors),
                count(status),
                count(timeout),
                server.complaint(log_mark)
            ));
        }
        for error in check_all("after the run") {
            errors += 1;
            notes.push(format!("ERRORS: {error}"));
        }
        Ok(Row {
            id: id.to_owned(),
            operation: run.operation,
            transport: operation.protocol().to_owned(),
            backend: run.backend.to_owned(),
            concurrency: format!("{}c", run.connections),
            rps: Some(requests / (duration_us / 1e6)),
            p50: Some(p50_us / 1000.0),
            p99: Some(p99_us / 1000.0),
            cpu: cpu.to_string(),
            errors,
            verified: true,
            notes,
        })
    }

    pub fn pgbench(&self, run: PgbenchRun<'_>) -> Result<Row, Stop> {
        let id = run.id;
        let cluster = self
            .cluster
            .ok_or_else(|| fail(format!("{id}: no Postgres cluster is running")))?;
        let dir = self.run_dir(id)?;
        let knobs = self.knobs;
        let threads = knobs.pgbench_threads.min(run.clients).max(1);
        crate::log(&format!(
            "{id}: pgbench {}c for {}s (+{}s warm-up)",
            run.clients, knobs.duration, knobs.warmup
        ));
        let pgbench = |seconds: u64, out: &Path, log: bool| -> Result<(), Stop> {
            let mut command = cluster.pgbench();
            command
                .args(["-n", "-M", "prepared", "-c"])
                .arg(run.clients.to_string())
                .arg("-j")
                .arg(threads.to_string())
                .arg("-T")
                .arg(seconds.to_string());
            if log {
                command
                    .arg("-l")
                    .arg(format!("--log-prefix={}", dir.join("log").display()));
            }
            command.args(&run.args).arg("anchors");
            log_to(&mut command, out)?;
            let status = Running::spawn(&mut command, "pgbench")?.wait()?;
            if status.success() {
                Ok(())
            } else {
                Err(fail(format!(
                    "{id}: pgbench failed ({status}): {}",
                    tail(out, 5)
                )))
            }
        };
        let window = self.begin();
        if knobs.warmup > 0 {
            pgbench(knobs.warmup, &dir.join("warm.out"), false)?;
        }
        let out = dir.join("out");
        pgbench(knobs.duration, &out, true)?;
        let cpu = self.end(window);
        let text = fs::read_to_string(&out).unwrap_or_default();
        let value_after = |prefix: &str| -> Option<f64> {
            let line = text.lines().find(|line| line.starts_with(prefix))?;
            line[prefix.len()..].split_whitespace().next()?.parse().ok()
        };
        let tps = value_after("tps = ")
            .ok_or_else(|| fail(format!("{id}: no tps in pgbench output: {}", tail(&out, 5))))?;
        let failed = value_after("number of failed transactions: ").unwrap_or(0.0) as u64;
        let (answered, bad) = latencies(&files_starting(&dir, "log."), false);
        let errors = failed + bad;
        let mut notes = Vec::new();
        if errors > 0 {
            notes.push(format!(
                "ERRORS: pgbench failed transactions {failed}, failed or skipped in the log {bad}"
            ));
        }
        Ok(Row {
            id: id.to_owned(),
            operation: run.operation,
            transport: "libpq, prepared".to_owned(),
            backend: "postgres".to_owned(),
            concurrency: format!("{}c", run.clients),
            rps: Some(tps),
            p50: percentile_ms(&answered, 0.50),
            p99: percentile_ms(&answered, 0.99),
            cpu: cpu.to_string(),
            errors,
            verified: true,
            notes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H2LOAD: &str = "\
finished in 10.00s, 34270.10 req/s, 2.01MB/s
requests: 342701 total, 343213 started, 342701 done, 342690 succeeded, 11 failed, 2 errored, 1 timeout
status codes: 342690 2xx, 0 3xx, 3 4xx, 8 5xx
traffic: 20.12MB (21099620) total";

    #[test]
    fn h2load_summaries_count_every_failure() {
        assert_eq!(
            parse_h2load(H2LOAD),
            Some(H2loadSummary {
                rps: 34270.1,
                succeeded: 342690,
                failed: 11,
                errored: 2,
                timeout: 1,
                non_2xx: 11,
            })
        );
        assert_eq!(parse_h2load("h2load: connection refused"), None);
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let latencies: Vec<u64> = (1..=100).map(|ms| ms * 1000).collect();
        assert_eq!(percentile_ms(&latencies, 0.50), Some(50.0));
        assert_eq!(percentile_ms(&latencies, 0.99), Some(99.0));
        assert_eq!(percentile_ms(&[250], 0.99), Some(0.25));
        assert_eq!(percentile_ms(&[], 0.5), None);
    }
}

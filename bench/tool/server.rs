//! statusgate under test: the release binary with default flags (plus
//! `BENCH_SERVER_ARGS`), on free ports, logging to a file of the work dir,
//! and the clients the benchmark talks to it with. Dropping the [`Server`]
//! stops it with SIGTERM (SIGKILL after 15 s).

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use regex::Regex;
use tokio::runtime::Handle;

use crate::calls::{Facade, Grpc};
use crate::cpu::proc_stat;
use crate::process::{Running, Stop, fail, log_to, sleep};

pub struct Server {
    process: Running,
    grpc_port: u16,
    http_port: u16,
    pub log: PathBuf,
    pub grpc: Grpc,
    pub facade: Facade,
}

pub struct ServerSpec<'a> {
    pub bin: &'a Path,
    pub name: &'a str,
    pub database_url: &'a str,
    pub grpc_port: u16,
    pub http_port: u16,
    pub rust_log: &'a str,
    pub extra_args: &'a [String],
    pub log_dir: &'a Path,
}

impl Server {
    pub fn start(spec: ServerSpec<'_>, runtime: &Handle) -> Result<Self, Stop> {
        let name = spec.name;
        let log = spec.log_dir.join(format!("server-{name}.log"));
        crate::log(&format!(
            "starting statusgate ({name}) on gRPC {}, HTTP {}",
            spec.grpc_port, spec.http_port
        ));
        let mut command = Command::new(spec.bin);
        command
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            .env("OTEL_TRACES_EXPORTER", "none")
            .env("RUST_LOG", spec.rust_log)
            .arg("--database-url")
            .arg(spec.database_url)
            .arg("--grpc-listen")
            .arg(format!("127.0.0.1:{}", spec.grpc_port))
            .arg("--http-listen")
            .arg(format!("127.0.0.1:{}", spec.http_port))
            .args(spec.extra_args);
        Self::launch(
            &mut command,
            &format!("statusgate ({name})"),
            log,
            (spec.grpc_port, spec.http_port),
            runtime,
        )
    }

    /// The bare tonic echo (`echo.rs`): this tool itself, as a child process.
    pub fn start_echo(
        grpc_port: u16,
        http_port: u16,
        log_dir: &Path,
        runtime: &Handle,
    ) -> Result<Self, Stop> {
        let log = log_dir.join("echo.log");
        crate::log(&format!(
            "starting the bare tonic echo on gRPC {grpc_port}, HTTP {http_port}"
        ));
        let tool = std::env::current_exe()
            .map_err(|error| fail(format!("cannot find this program: {error}")))?;
        let mut command = Command::new(tool);
        command
            .arg("--serve-echo-grpc")
            .arg(grpc_port.to_string())
            .arg("--serve-echo-http")
            .arg(http_port.to_string());
        Self::launch(
            &mut command,
            "the tonic echo",
            log,
            (grpc_port, http_port),
            runtime,
        )
    }

    /// Spawns `command`, logging to `log`, and waits until `/readyz` answers.
    fn launch(
        command: &mut Command,
        name: &str,
        log: PathBuf,
        (grpc_port, http_port): (u16, u16),
        runtime: &Handle,
    ) -> Result<Self, Stop> {
        log_to(command, &log)?;
        let mut process = Running::spawn(command, name.to_owned())?;
        let facade = Facade::new(runtime.clone(), http_port);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = process.exited()? {
                return Err(fail(format!(
                    "{name} exited at start ({status}): {}",
                    crate::process::tail(&log, 5)
                )));
            }
            if matches!(facade.get("/readyz"), Ok((status, _)) if status == http::StatusCode::OK) {
                break;
            }
            if Instant::now() > deadline {
                return Err(fail(format!(
                    "{name} not ready after 60s: {}",
                    crate::process::tail(&log, 5)
                )));
            }
            sleep(Duration::from_millis(100))?;
        }
        let grpc = Grpc::connect(runtime.clone(), grpc_port).map_err(fail)?;
        Ok(Self {
            process,
            grpc_port,
            http_port,
            log,
            grpc,
            facade,
        })
    }

    /// `http://127.0.0.1:<gRPC port>`, for h2load.
    pub fn grpc_base(&self) -> String {
        format!("http://127.0.0.1:{}", self.grpc_port)
    }

    pub fn grpc_port(&self) -> u16 {
        self.grpc_port
    }

    pub fn http_port(&self) -> u16 {
        self.http_port
    }

    pub fn cpu_ticks(&self) -> u64 {
        proc_stat(self.process.pid()).map_or(0, |stat| stat.own_ticks())
    }

    /// A memory figure of `/proc/<pid>/status` in kB: `VmHWM` (peak) or `VmRSS`.
    pub fn memory_kib(&self, field: &str) -> Option<u64> {
        memory_kib(self.process.pid(), field)
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// statusgate_requests_total as it stands (empty if /metrics fails).
    pub fn request_counts(&self) -> RequestCounts {
        match self.facade.get("/metrics") {
            Ok((status, text)) if status == http::StatusCode::OK => RequestCounts::parse(&text),
            _ => RequestCounts::default(),
        }
    }

    /// Where the log ends now: [`Server::complaint`] reads from there.
    pub fn log_mark(&self) -> u64 {
        fs::metadata(&self.log).map_or(0, |metadata| metadata.len())
    }

    /// The commonest ERROR (else WARN) line logged since `mark`, with ids
    /// blanked and its count, for a row's note.
    pub fn complaint(&self, mark: u64) -> String {
        static UUID: LazyLock<Regex> =
            LazyLock::new(|| Regex::new("[0-9a-f]{8}-[0-9a-f-]{27}").expect("a valid regex"));
        let Ok(mut file) = File::open(&self.log) else {
            return "no server log".to_owned();
        };
        if file.seek(SeekFrom::Start(mark)).is_err() {
            return "no server log".to_owned();
        }
        let mut counts: [HashMap<String, u64>; 2] = Default::default();
        for line in BufReader::new(file).lines().map_while(Result::ok) {
            let level = if line.contains(" ERROR ") {
                0
            } else if line.contains(" WARN ") {
                1
            } else {
                continue;
            };
            // Without the timestamp, with ids blanked, lines of one kind match.
            let message = line
                .split_once(' ')
                .map_or("", |(_, rest)| rest)
                .trim_start();
            let message = UUID.replace_all(message, "<id>").into_owned();
            *counts[level].entry(message).or_default() += 1;
        }
        for level in counts {
            if let Some((message, count)) = level.into_iter().max_by_key(|(_, count)| *count) {
                let text: String = format!("{count}x {message}")
                    .chars()
                    .take(240)
                    .map(|c| if c == '\t' { ' ' } else { c })
                    .collect();
                return text;
            }
        }
        "nothing logged at WARN or ERROR".to_owned()
    }

    /// Lines of the log that contain `needle` (case-insensitive).
    pub fn log_lines_containing(&self, needle: &str) -> Vec<String> {
        let needle = needle.to_lowercase();
        let Ok(file) = File::open(&self.log) else {
            return Vec::new();
        };
        BufReader::new(file)
            .lines()
            .map_while(Result::ok)
            .filter(|line| line.to_lowercase().contains(&needle))
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.process.terminate(Duration::from_secs(15));
    }
}

pub fn memory_kib(pid: u32, field: &str) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `statusgate_requests_total` by (transport, operation, outcome).
#[derive(Debug, Default, Clone)]
pub struct RequestCounts(HashMap<(String, String, String), f64>);

impl RequestCounts {
    pub fn parse(text: &str) -> Self {
        static LABEL: LazyLock<Regex> =
            LazyLock::new(|| Regex::new(r#"(\w+)="((?:[^"\\]|\\.)*)""#).expect("a valid regex"));
        let mut counts = HashMap::new();
        for line in text.lines() {
            let Some(rest) = line.strip_prefix("statusgate_requests_total{") else {
                continue;
            };
            let Some((labels, value)) = rest.rsplit_once('}') else {
                continue;
            };
            let Ok(value) = value.trim().parse::<f64>() else {
                continue;
            };
            let mut labels: HashMap<&str, &str> = LABEL
                .captures_iter(labels)
                .filter_map(|capture| Some((capture.get(1)?.as_str(), capture.get(2)?.as_str())))
                .collect();
            let mut label = |name| labels.remove(name).unwrap_or("?").to_owned();
            let key = (label("transport"), label("operation"), label("outcome"));
            *counts.entry(key).or_default() += value;
        }
        Self(counts)
    }

    /// Calls of one operation answered between `self` and `later`: (OK, not OK).
    pub fn delta(&self, later: &Self, transport: &str, operation: &str) -> (u64, u64) {
        let mut ok = 0.0;
        let mut not_ok = 0.0;
        for ((key_transport, key_operation, outcome), value) in &later.0 {
            if key_transport != transport || key_operation != operation {
                continue;
            }
            let before = self
                .0
                .get(&(
                    key_transport.clone(),
                    key_operation.clone(),
                    outcome.clone(),
                ))
                .copied()
                .unwrap_or(0.0);
            if outcome == "ok" {
                ok += value - before;
            } else {
                not_ok += value - before;
            }
        }
        (ok.max(0.0) as u64, not_ok.max(0.0) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_read_by_operation_and_outcome() {
        let before = RequestCounts::parse(
            "# HELP statusgate_requests_total Requests answered\n\
             statusgate_requests_total{transport=\"grpc\",operation=\"GetChangeToken\",outcome=\"ok\"} 2\n",
        );
        let after = RequestCounts::parse(
            "statusgate_requests_total{transport=\"grpc\",operation=\"GetChangeToken\",outcome=\"ok\"} 12\n\
             statusgate_requests_total{transport=\"grpc\",operation=\"GetChangeToken\",outcome=\"throttled\"} 3\n\
             statusgate_requests_total{transport=\"grpc\",operation=\"GetChangeToken\",outcome=\"server_error\"} 1\n\
             statusgate_requests_total{transport=\"http\",operation=\"GetChangeToken\",outcome=\"client_error\"} 7\n\
             statusgate_request_duration_seconds_count{transport=\"grpc\",operation=\"GetChangeToken\"} 16\n",
        );
        assert_eq!(before.delta(&after, "grpc", "GetChangeToken"), (10, 4));
        assert_eq!(before.delta(&after, "http", "GetChangeToken"), (0, 7));
        assert_eq!(before.delta(&after, "grpc", "ListResourceRequests"), (0, 0));
    }
}

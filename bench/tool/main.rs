//! The statusgate benchmark: one command, one table. `bash bench/run.sh`
//! installs the tools and builds this; this starts a throwaway Postgres
//! cluster, runs the pgbench anchors, starts statusgate on that cluster (and
//! then on SQLite), loads it with h2load (gRPC) and wrk (the AWS JSON
//! facade), and writes one Markdown table with the goals and their verdicts.
//! What each row measures: `bench/README.md`.
//!
//! # Layout
//! - `main`: the knobs (`BENCH_*`), the work dir, the phases in order.
//! - `phases`: what each phase seeds, starts and loads.
//! - `calls`: every request, built from statusgate's generated gRPC types
//!   and the facade's serde shapes, and checked through a real client.
//! - `load`: the h2load, wrk and pgbench runs, and how errors are counted.
//! - `report`: rows, goals, verdicts, the Markdown.
//! - `cluster`, `server`: the Postgres cluster and statusgate processes.
//! - `workers`: the claim run and the watch fan-out (tonic clients in this
//!   process).
//! - `echo`: the bare tonic server of the framework-ceiling anchor.
//! - `idle`: memory with idle connections held open.
//! - `cpu`: where a run's CPU went; `process`: children, waits, signals.

mod calls;
mod cluster;
mod cpu;
mod echo;
mod idle;
mod load;
mod phases;
mod process;
mod report;
mod server;
mod sizes;
mod sqlite_callers;
mod verified;
mod workers;

use std::fs;
use std::net::TcpListener;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Instant, SystemTime};

use clap::builder::FalseyValueParser;
use clap::{Parser, ValueEnum};
use tokio::runtime::Handle;

use crate::calls::{FacadeRequest, GrpcCall};
use crate::cluster::Cluster;
use crate::load::Runner;
use crate::process::{Stop, fail, output};
use crate::report::{Report, Row};
use crate::server::{Server, ServerSpec};

/// The repository this tool was built from (bench/, migrations/, target/).
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Phase {
    /// pgbench: select by key, the GetChangeToken upsert, the request insert.
    Anchors,
    /// statusgate on the throwaway cluster with BENCH_SMALL_ROWS requests.
    Postgres,
    /// The reads again after a bulk seed to BENCH_LARGE_ROWS (needs postgres).
    Large,
    /// Memory with idle gRPC and HTTP/1.1 connections, on a fresh server.
    Idle,
    /// Workers claiming requests, and 10,000 watch streams on one server.
    Workers,
    /// statusgate on an SQLite file.
    Sqlite,
}

/// Every knob is an environment variable (or the flag of the same name).
#[derive(Debug, Parser)]
#[command(
    name = "bench",
    about = "The statusgate benchmark (run it with `bash bench/run.sh`)"
)]
pub struct Knobs {
    /// Measured time of each run (s or m suffix, whole seconds).
    #[arg(long, env = "BENCH_DURATION", default_value = "10s", value_parser = parse_seconds)]
    duration: u64,
    /// Warm-up before each run, not measured.
    #[arg(long, env = "BENCH_WARMUP", default_value = "2s", value_parser = parse_seconds)]
    warmup: u64,
    /// Stored requests for the main runs.
    #[arg(long, env = "BENCH_SMALL_ROWS", default_value_t = 10_000)]
    small_rows: u64,
    /// Stored requests for the flatness runs; 0 (or <= small rows) skips them.
    #[arg(long, env = "BENCH_LARGE_ROWS", default_value_t = 10_000_000)]
    large_rows: u64,
    /// Which phases run.
    #[arg(
        long,
        env = "BENCH_PHASES",
        value_delimiter = ',',
        default_value = "anchors,postgres,large,idle,workers,sqlite"
    )]
    phases: Vec<Phase>,
    /// h2load connections of the gRPC throughput runs.
    #[arg(long, env = "BENCH_GRPC_CONNS", default_value_t = 32)]
    grpc_conns: u32,
    /// h2load concurrent streams per connection.
    #[arg(long, env = "BENCH_GRPC_STREAMS", default_value_t = 16)]
    grpc_streams: u32,
    /// wrk connections of the facade throughput runs (default: as many as
    /// gRPC calls in flight).
    #[arg(long, env = "BENCH_HTTP_CONNS")]
    http_conns: Option<u32>,
    /// Threads of each h2load / wrk process.
    #[arg(long, env = "BENCH_LOADGEN_THREADS", default_value_t = 1)]
    loadgen_threads: u32,
    /// pgbench -j of the multi-client anchors.
    #[arg(long, env = "BENCH_PGBENCH_THREADS", default_value_t = 2)]
    pgbench_threads: u32,
    /// pgbench -i -s of the select-by-key anchor.
    #[arg(long, env = "BENCH_PGBENCH_SCALE", default_value_t = 10)]
    pgbench_scale: u32,
    /// pgbench clients of the upsert / insert anchors.
    #[arg(long, env = "BENCH_PG_WRITE_CLIENTS", default_value_t = 16)]
    pg_write_clients: u32,
    /// GetChangeToken scopes (one h2load process each).
    #[arg(long, env = "BENCH_SCOPES", default_value_t = 8)]
    scopes: u64,
    /// PENDING requests / change tokens the status reads spread over (one
    /// h2load process each).
    #[arg(long, env = "BENCH_READ_KEYS", default_value_t = 16)]
    read_keys: u32,
    /// Connections of the peak-RSS runs.
    #[arg(long, env = "BENCH_RSS_CONNS", default_value_t = 1000)]
    rss_conns: u32,
    /// First port tried for the throwaway cluster.
    #[arg(long, env = "BENCH_PG_PORT", default_value_t = 55432)]
    pg_port: u16,
    /// First port tried for statusgate's gRPC listener.
    #[arg(long, env = "BENCH_GRPC_PORT", default_value_t = 55051)]
    grpc_port: u16,
    /// First port tried for statusgate's HTTP listener.
    #[arg(long, env = "BENCH_HTTP_PORT", default_value_t = 55080)]
    http_port: u16,
    /// shared_buffers of the throwaway cluster.
    #[arg(long, env = "BENCH_PG_SHARED_BUFFERS", default_value = "1GB")]
    pg_shared_buffers: String,
    /// Extra statusgate flags (split at whitespace), e.g. "--database-max-connections 32".
    #[arg(long, env = "BENCH_SERVER_ARGS", default_value = "")]
    server_args: String,
    /// RUST_LOG of the server (info logs every request).
    #[arg(long, env = "BENCH_RUST_LOG", default_value = "warn")]
    rust_log: String,
    /// Where the work dir goes; must be a real disk (on tmpfs fsync is free).
    #[arg(long, env = "BENCH_TMPDIR", default_value = "/var/tmp")]
    tmpdir: PathBuf,
    /// Where the table is written (default: bench/results/latest.md).
    #[arg(long, env = "BENCH_OUT")]
    out: Option<PathBuf>,
    /// The statusgate binary to benchmark (default: target/release/statusgate
    /// next to this tool).
    #[arg(long, env = "BENCH_BIN")]
    bin: Option<PathBuf>,
    /// Exit 0 even if a load run saw errors (1 / true).
    #[arg(long, env = "BENCH_ALLOW_ERRORS", value_parser = FalseyValueParser::new())]
    allow_errors: bool,
    /// Keep the work dir: logs, h2load/wrk/pgbench output, bodies (1 / true).
    #[arg(long, env = "BENCH_KEEP_WORKDIR", value_parser = FalseyValueParser::new())]
    keep_workdir: bool,
    /// Serve the bare tonic echo on this gRPC port instead (the tool starts
    /// itself so for the echo anchor; see `echo.rs`).
    #[arg(long, hide = true, requires = "serve_echo_http")]
    serve_echo_grpc: Option<u16>,
    /// The echo's `/readyz` and `/metrics` port.
    #[arg(long, hide = true, requires = "serve_echo_grpc")]
    serve_echo_http: Option<u16>,
}

/// `10s`, `2m`, `10` -> whole seconds.
fn parse_seconds(text: &str) -> Result<u64, String> {
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(seconds);
    }
    let duration = humantime::parse_duration(text).map_err(|error| error.to_string())?;
    if duration.subsec_nanos() != 0 {
        return Err(format!("{text}: whole seconds only"));
    }
    Ok(duration.as_secs())
}

/// A progress line on stderr (the table goes to stdout).
pub fn log(message: &str) {
    let now = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    eprintln!("[bench {}] {message}", now.get(11..19).unwrap_or(&now));
}

/// The first port from `first` on that can be bound on 127.0.0.1 and is not in `taken`.
fn free_port(first: u16, taken: &[u16]) -> Result<u16, Stop> {
    (first..first.saturating_add(100))
        .find(|port| !taken.contains(port) && TcpListener::bind(("127.0.0.1", *port)).is_ok())
        .ok_or_else(|| fail(format!("no free port from {first}")))
}

/// The temp dir of one run, removed when dropped (unless kept).
struct WorkDir {
    path: PathBuf,
    keep: bool,
}

impl WorkDir {
    fn create(parent: &Path, keep: bool) -> Result<Self, Stop> {
        fs::create_dir_all(parent)
            .map_err(|error| fail(format!("cannot create {}: {error}", parent.display())))?;
        let stamp = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let path = parent.join(format!("statusgate-bench.{}.{stamp}", std::process::id()));
        fs::create_dir(&path)
            .map_err(|error| fail(format!("cannot create {}: {error}", path.display())))?;
        let work = Self { path, keep };
        // Readable by the postgres user, which runs the cluster inside it.
        fs::set_permissions(&work.path, fs::Permissions::from_mode(0o755))
            .map_err(|error| fail(format!("chmod {}: {error}", work.path.display())))?;
        fs::create_dir_all(work.path.join("runs"))
            .map_err(|error| fail(format!("cannot create runs/: {error}")))?;
        let filesystem = output(
            Command::new("stat")
                .args(["-f", "-c", "%T"])
                .arg(&work.path),
            "stat -f",
        )?;
        if filesystem == "tmpfs" {
            return Err(fail(format!(
                "BENCH_TMPDIR={} is tmpfs: fsync would cost nothing; point it at a disk",
                parent.display()
            )));
        }
        Ok(work)
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if self.keep {
            log(&format!("work dir kept: {}", self.path.display()));
        } else {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// The hot keys of one database, made through the API.
#[derive(Debug, Default)]
struct HotKeys {
    requests: Vec<String>,
    change_tokens: Vec<String>,
    /// Identifiers of existing resources (one ListResources page).
    resources: Vec<String>,
}

/// Every call the load runs of one database send.
struct Loads {
    status_reads: Vec<GrpcCall>,
    token_status_reads: Vec<GrpcCall>,
    change_tokens: Vec<GrpcCall>,
    first_page: Vec<GrpcCall>,
    create: Vec<GrpcCall>,
    resource_reads: Vec<GrpcCall>,
    resources_first_page: Vec<GrpcCall>,
    facade_status_reads: Vec<FacadeRequest>,
    facade_token_status_reads: Vec<FacadeRequest>,
    facade_seeded_status_read: Vec<FacadeRequest>,
    facade_change_tokens: Vec<FacadeRequest>,
    facade_create: Vec<FacadeRequest>,
    facade_resource_reads: Vec<FacadeRequest>,
    facade_resources_first_page: Vec<FacadeRequest>,
}

impl Loads {
    fn new(hot: &HotKeys, scopes: u64) -> Self {
        let requests = &hot.requests;
        let tokens = &hot.change_tokens;
        Self {
            status_reads: requests
                .iter()
                .map(|token| GrpcCall::resource_request_status(token))
                .collect(),
            token_status_reads: tokens
                .iter()
                .map(|token| GrpcCall::change_token_status(token))
                .collect(),
            change_tokens: (0..scopes).map(GrpcCall::change_token).collect(),
            first_page: vec![GrpcCall::first_page()],
            create: vec![GrpcCall::create()],
            resource_reads: hot
                .resources
                .iter()
                .map(|identifier| GrpcCall::resource(identifier))
                .collect(),
            resources_first_page: vec![GrpcCall::resources_first_page()],
            facade_status_reads: requests
                .iter()
                .map(|token| FacadeRequest::resource_request_status(token))
                .collect(),
            facade_token_status_reads: tokens
                .iter()
                .map(|token| FacadeRequest::change_token_status(token))
                .collect(),
            facade_seeded_status_read: vec![FacadeRequest::random_seeded_request_status()],
            facade_change_tokens: (0..scopes).map(FacadeRequest::change_token).collect(),
            facade_create: vec![FacadeRequest::create()],
            facade_resource_reads: hot
                .resources
                .iter()
                .map(|identifier| FacadeRequest::resource(identifier))
                .collect(),
            facade_resources_first_page: vec![FacadeRequest::resources_first_page()],
        }
    }
}

/// The benchmark in progress: what it started and what it measured.
/// Dropping it stops the server, then the cluster, then removes the work dir.
struct Bench {
    knobs: Knobs,
    root: PathBuf,
    bench_dir: PathBuf,
    runs_dir: PathBuf,
    server_bin: PathBuf,
    runtime: Handle,
    ticks_per_second: f64,
    started: Instant,
    as_root: bool,
    server: Option<Server>,
    cluster: Option<Cluster>,
    work: WorkDir,
    hot: HotKeys,
    report: Report,
    errors_seen: Vec<String>,
}

impl Drop for Bench {
    fn drop(&mut self) {
        // The server first: it holds connections to the cluster. The work
        // dir goes last, as the last field.
        self.server.take();
        self.cluster.take();
    }
}

impl Bench {
    fn phase(&self, phase: Phase) -> bool {
        self.knobs.phases.contains(&phase)
    }

    fn runner(&self) -> Runner<'_> {
        Runner {
            knobs: &self.knobs,
            ticks_per_second: self.ticks_per_second,
            runs_dir: &self.runs_dir,
            bench_dir: &self.bench_dir,
            server: self.server.as_ref(),
            cluster: self.cluster.as_ref(),
        }
    }

    fn http_conns(&self) -> u32 {
        self.knobs
            .http_conns
            .unwrap_or(self.knobs.grpc_conns * self.knobs.grpc_streams)
    }

    fn record(&mut self, row: Row) {
        let notes = if row.notes.is_empty() {
            String::new()
        } else {
            format!(" ({})", row.notes.join("; "))
        };
        log(&format!(
            "{}: {:.1} req/s, p50 {:.3} ms, p99 {:.3} ms, cpu gen/srv/pg/other {}, errors {}{notes}",
            row.id,
            row.rps.unwrap_or(f64::NAN),
            row.p50.unwrap_or(f64::NAN),
            row.p99.unwrap_or(f64::NAN),
            row.cpu,
            if row.verified {
                row.errors.to_string()
            } else {
                "unverified".to_owned()
            },
        ));
        if row.invalid() {
            let what = if row.verified {
                format!("{} errors", row.errors)
            } else {
                "unverified".to_owned()
            };
            self.errors_seen.push(format!("{} ({what})", row.id));
        }
        self.report.rows.push(row);
    }

    fn note(&mut self, line: String) {
        self.report.setup.push(line);
    }

    fn start_cluster(&mut self, pg_bin: &Path) -> Result<(), Stop> {
        let port = free_port(self.knobs.pg_port, &[])?;
        let cluster = Cluster::start(
            &self.work.path,
            pg_bin,
            port,
            &self.knobs.pg_shared_buffers,
            self.as_root,
        )?;
        self.note(format!(
            "- Postgres {}, throwaway cluster on 127.0.0.1:{port}, shared_buffers {}, fsync on, synchronous_commit on",
            cluster.version, self.knobs.pg_shared_buffers
        ));
        self.cluster = Some(cluster);
        Ok(())
    }

    /// Free gRPC and HTTP ports for a server, apart from the cluster's.
    fn server_ports(&self) -> Result<(u16, u16), Stop> {
        let pg_port = self.cluster.as_ref().map(|cluster| cluster.port);
        let taken: Vec<u16> = pg_port.into_iter().collect();
        let grpc_port = free_port(self.knobs.grpc_port, &taken)?;
        let taken: Vec<u16> = taken.into_iter().chain([grpc_port]).collect();
        let http_port = free_port(self.knobs.http_port, &taken)?;
        Ok((grpc_port, http_port))
    }

    fn start_server(&mut self, name: &str, database_url: &str) -> Result<(), Stop> {
        self.start_server_with(name, database_url, &[])
    }

    /// [`Self::start_server`] with `added_args` after BENCH_SERVER_ARGS.
    fn start_server_with(
        &mut self,
        name: &str,
        database_url: &str,
        added_args: &[&str],
    ) -> Result<(), Stop> {
        self.stop_server();
        let (grpc_port, http_port) = self.server_ports()?;
        let extra_args: Vec<String> = self
            .knobs
            .server_args
            .split_whitespace()
            .chain(added_args.iter().copied())
            .map(str::to_owned)
            .collect();
        let spec = ServerSpec {
            bin: &self.server_bin,
            name,
            database_url,
            grpc_port,
            http_port,
            rust_log: &self.knobs.rust_log,
            extra_args: &extra_args,
            log_dir: &self.work.path,
        };
        self.server = Some(Server::start(spec, &self.runtime)?);
        Ok(())
    }

    fn stop_server(&mut self) {
        self.server.take();
    }

    fn setup_notes(&mut self, h2load_version: &str, wrk_version: &str) {
        let date = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
        let commit = output(
            Command::new("git")
                .arg("-C")
                .arg(&self.root)
                .args(["rev-parse", "--short", "HEAD"]),
            "git rev-parse",
        )
        .unwrap_or_else(|_| "?".to_owned());
        let dirty = Command::new("git")
            .arg("-C")
            .arg(&self.root)
            .args([
                "diff",
                "--quiet",
                "HEAD",
                "--",
                "src",
                "bench/tool",
                "Cargo.toml",
                "migrations",
            ])
            .status()
            .is_ok_and(|status| !status.success());
        let cores = std::thread::available_parallelism().map_or(0, usize::from);
        let model = fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|text| {
                let line = text.lines().find(|line| line.starts_with("model name"))?;
                Some(line.split_once(": ")?.1.to_owned())
            })
            .unwrap_or_else(|| "?".to_owned());
        let knobs = &self.knobs;
        let server = if knobs.server_args.is_empty() {
            String::new()
        } else {
            format!(" plus {}", knobs.server_args)
        };
        let binary = match &knobs.bin {
            Some(bin) => format!(" ({})", bin.display()),
            None => String::new(),
        };
        let lines = [
            format!(
                "- {}Z, commit {commit}{}",
                date.get(..16).unwrap_or(&date),
                if dirty {
                    " (with uncommitted changes)"
                } else {
                    ""
                }
            ),
            format!(
                "- {cores} cores ({model}); load generator, statusgate and Postgres share them"
            ),
            format!(
                "- each run: {}s measured after {}s warm-up; h2load {h2load_version}, {wrk_version}, {} load-generator thread(s) per process",
                knobs.duration, knobs.warmup, knobs.loadgen_threads
            ),
            format!(
                "- statusgate{binary}: release build, defaults{server}, RUST_LOG={}",
                knobs.rust_log
            ),
        ];
        self.report.setup.extend(lines);
    }

    /// Writes the report; whether the benchmark may exit 0.
    fn finish(&mut self) -> Result<bool, Stop> {
        let wall = self.started.elapsed().as_secs();
        self.note(format!(
            "- wall-clock time of the benchmark (after install and build): {wall}s"
        ));
        let text = self.report.render("statusgate benchmark");
        let out = self
            .knobs
            .out
            .clone()
            .unwrap_or_else(|| self.bench_dir.join("results/latest.md"));
        if let Some(parent) = out.parent() {
            fs::create_dir_all(parent)
                .map_err(|error| fail(format!("cannot create {}: {error}", parent.display())))?;
        }
        fs::write(&out, &text)
            .map_err(|error| fail(format!("cannot write {}: {error}", out.display())))?;
        print!("{text}");
        log(&format!("written to {}", out.display()));
        if self.errors_seen.is_empty() {
            return Ok(true);
        }
        log(&format!(
            "load runs reported errors: {}",
            self.errors_seen.join(", ")
        ));
        if self.knobs.allow_errors {
            return Ok(true);
        }
        log(
            "FAILED: errors under load (BENCH_ALLOW_ERRORS=1 to accept); BENCH_KEEP_WORKDIR=1 keeps the logs",
        );
        Ok(false)
    }
}

fn version_of(tool: &str, flag: &str) -> Result<String, Stop> {
    // wrk -v exits 1 after printing its version.
    let answer = Command::new(tool).arg(flag).output().map_err(|error| {
        fail(format!(
            "{tool} is missing ({error}): bash bench/run.sh installs it"
        ))
    })?;
    let text = String::from_utf8_lossy(&answer.stdout).into_owned()
        + &String::from_utf8_lossy(&answer.stderr);
    Ok(text.lines().next().unwrap_or_default().trim().to_owned())
}

fn run(knobs: Knobs, runtime: Handle, started: Instant) -> Result<bool, Stop> {
    if knobs.duration == 0 {
        return Err(fail("BENCH_DURATION must be at least 1s"));
    }
    let root = PathBuf::from(ROOT);
    let server_bin = match &knobs.bin {
        Some(bin) => bin.clone(),
        None => std::env::current_exe()
            .map_err(|error| fail(format!("cannot find this program: {error}")))?
            .with_file_name("statusgate"),
    };
    if !server_bin.is_file() {
        return Err(fail(format!(
            "{} is missing (bash bench/run.sh builds it)",
            server_bin.display()
        )));
    }
    // "h2load nghttp2/1.52.0", "wrk debian/4.1.0-3+b2 [epoll] ..."
    let h2load = version_of("h2load", "--version")?;
    let h2load = h2load.split_whitespace().nth(1).unwrap_or("?").to_owned();
    let wrk = version_of("wrk", "-v")?;
    let wrk = wrk.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
    let needs_postgres = knobs.phases.contains(&Phase::Anchors)
        || knobs.phases.contains(&Phase::Postgres)
        || knobs.phases.contains(&Phase::Idle)
        || knobs.phases.contains(&Phase::Workers);
    let pg_bin = match cluster::find_bin() {
        Some(bin) => Some(bin),
        None if needs_postgres => {
            return Err(fail(
                "no initdb/pg_ctl/pgbench/psql under /usr/lib/postgresql/*/bin (bash bench/run.sh installs postgresql-contrib)",
            ));
        }
        None => None,
    };
    let as_root = fs::metadata("/proc/self").is_ok_and(|metadata| metadata.uid() == 0);
    if as_root && needs_postgres {
        output(Command::new("id").arg("postgres"), "id postgres")
            .map_err(|_| fail("no 'postgres' user to run the throwaway cluster as"))?;
    }
    let wanted = u64::from(knobs.rss_conns) * 2 + 1024;
    let limit = process::raise_open_file_limit(wanted);
    if limit < u64::from(knobs.rss_conns) + 100 {
        return Err(fail(format!(
            "open-file limit {limit} is too low for {} connections",
            knobs.rss_conns
        )));
    }
    let ticks_per_second: f64 = output(Command::new("getconf").arg("CLK_TCK"), "getconf CLK_TCK")?
        .parse()
        .map_err(|_| fail("getconf CLK_TCK is not a number"))?;
    let work = WorkDir::create(&knobs.tmpdir, knobs.keep_workdir)?;
    let mut bench = Bench {
        bench_dir: root.join("bench"),
        runs_dir: work.path.join("runs"),
        root,
        server_bin,
        runtime,
        ticks_per_second,
        started,
        as_root,
        server: None,
        cluster: None,
        work,
        hot: HotKeys::default(),
        report: Report::default(),
        errors_seen: Vec::new(),
        knobs,
    };
    bench.setup_notes(&h2load, &wrk);
    if let (true, Some(pg_bin)) = (needs_postgres, &pg_bin) {
        bench.start_cluster(pg_bin)?;
    }
    if bench.phase(Phase::Anchors) {
        bench.anchors()?;
    }
    if bench.phase(Phase::Postgres) {
        bench.postgres()?;
        if bench.phase(Phase::Large) {
            bench.large()?;
        }
    }
    if bench.phase(Phase::Idle) {
        bench.idle()?;
    }
    if bench.phase(Phase::Workers) {
        bench.workers()?;
    }
    bench.stop_server();
    if bench.phase(Phase::Sqlite) {
        bench.sqlite()?;
    }
    bench.finish()
}

fn main() -> ExitCode {
    let started = Instant::now();
    let knobs = Knobs::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            log(&format!("FAILED: no Tokio runtime: {error}"));
            return ExitCode::FAILURE;
        }
    };
    if let (Some(grpc_port), Some(http_port)) = (knobs.serve_echo_grpc, knobs.serve_echo_http) {
        return match runtime.block_on(echo::serve(grpc_port, http_port)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                log(&format!("FAILED: {error}"));
                ExitCode::FAILURE
            }
        };
    }
    let signals = {
        let _context = runtime.enter();
        process::watch_signals()
    };
    match signals {
        Ok(signals) => drop(runtime.spawn(signals)),
        Err(error) => {
            log(&format!("FAILED: cannot handle signals: {error}"));
            return ExitCode::FAILURE;
        }
    }
    match run(knobs, runtime.handle().clone(), started) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(stop) => {
            let code = match stop {
                Stop::Interrupted(signal) => {
                    log(&format!("interrupted by signal {signal}"));
                    u8::try_from(128 + signal).unwrap_or(1)
                }
                Stop::Failed(message) => {
                    log(&format!("FAILED: {message}"));
                    1
                }
            };
            log(&format!("stopped after {}s", started.elapsed().as_secs()));
            ExitCode::from(code)
        }
    }
}

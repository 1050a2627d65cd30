//! The phases, in the order they run: the pgbench anchors; statusgate on
//! the throwaway cluster (reads, peak RSS, writes); the reads again after a
//! bulk seed to `BENCH_LARGE_ROWS` (flatness); statusgate on SQLite.

use std::collections::HashSet;
use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use crate::calls::{ACCOUNT, FacadeRequest, GrpcCall, LIST_PAGE, RESOURCES, resource_identifier};
use crate::cluster::Cluster;
use crate::load::{H2loadRun, PgbenchRun, WrkRun};
use crate::process::{Stop, fail, output, run_logged};
use crate::server::{Server, memory_kib};
use crate::{Bench, HotKeys, Loads, log};

fn now_micros() -> u128 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros()
}

impl Bench {
    pub fn cluster(&self) -> Result<&Cluster, Stop> {
        self.cluster
            .as_ref()
            .ok_or_else(|| fail("the throwaway Postgres cluster is not running"))
    }

    pub fn running_server(&self) -> Result<&Server, Stop> {
        self.server
            .as_ref()
            .ok_or_else(|| fail("statusgate is not running"))
    }

    /// psql on `database`, its output in the work dir's `psql.log`.
    pub fn psql(&self, database: &str, args: &[&str], what: &str) -> Result<(), Stop> {
        let mut command = self.cluster()?.psql(database);
        command.args(args);
        run_logged(&mut command, &self.work.path.join("psql.log"), what)
    }

    fn sql_file(&self, name: &str) -> String {
        self.bench_dir.join("sql").join(name).display().to_string()
    }

    fn grpc_run(
        &mut self,
        id: &str,
        operation: String,
        backend: &str,
        (connections, streams): (u32, u32),
        calls: &[GrpcCall],
    ) -> Result<(), Stop> {
        let row = self.runner().h2load(H2loadRun {
            id,
            operation,
            backend,
            connections,
            streams,
            calls,
        })?;
        self.record(row);
        Ok(())
    }

    fn facade_run(
        &mut self,
        id: &str,
        operation: String,
        backend: &str,
        connections: u32,
        requests: &[FacadeRequest],
        seeded: Option<(u64, u64)>,
    ) -> Result<(), Stop> {
        let row = self.runner().wrk(WrkRun {
            id,
            operation,
            backend,
            connections,
            requests,
            seeded,
        })?;
        self.record(row);
        Ok(())
    }

    fn pgbench_run(
        &mut self,
        id: &str,
        operation: String,
        clients: u32,
        args: &[&str],
    ) -> Result<(), Stop> {
        let row = self.runner().pgbench(PgbenchRun {
            id,
            operation,
            clients,
            args: args.iter().map(|arg| (*arg).to_owned()).collect(),
        })?;
        self.record(row);
        Ok(())
    }

    /// pgbench -S at scale BENCH_PGBENCH_SCALE with 1 and 8 clients, and the
    /// single-row upsert and insert statusgate's writes run, on the
    /// project's own tables created from `migrations/postgres/`.
    pub fn anchors(&mut self) -> Result<(), Stop> {
        let scale = self.knobs.pgbench_scale;
        log(&format!("anchors: pgbench -i -s {scale}"));
        self.psql(
            "postgres",
            &["-c", "CREATE DATABASE anchors"],
            "CREATE DATABASE anchors",
        )?;
        let mut init = self.cluster()?.pgbench();
        init.args(["-i", "-q", "-s"])
            .arg(scale.to_string())
            .arg("anchors");
        run_logged(
            &mut init,
            &self.work.path.join("pgbench-init.log"),
            "pgbench -i",
        )?;
        let mut migrations: Vec<_> = fs::read_dir(self.root.join("migrations/postgres"))
            .map_err(|error| fail(format!("cannot read migrations/postgres: {error}")))?
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|extension| extension == "sql"))
            .collect();
        migrations.sort();
        for migration in &migrations {
            let file = migration.display().to_string();
            self.psql("anchors", &["-f", &file], &format!("migration {file}"))?;
        }
        self.psql("anchors", &["-c", "VACUUM ANALYZE"], "VACUUM ANALYZE")?;
        let select = format!("SELECT by key (pgbench -S, scale {scale})");
        self.pgbench_run("pg_sel_c1", select.clone(), 1, &["-S"])?;
        self.pgbench_run("pg_sel_c8", select, 8, &["-S"])?;
        let scopes = format!("scopes={}", self.knobs.scopes);
        let upsert = self.sql_file("pgbench_upsert.sql");
        let writers = self.knobs.pg_write_clients;
        self.pgbench_run(
            "pg_upsert",
            format!("upsert change_tokens ({} scopes)", self.knobs.scopes),
            writers,
            &["-D", &scopes, "-f", &upsert],
        )?;
        let insert = self.sql_file("pgbench_insert.sql");
        self.pgbench_run(
            "pg_insert",
            "INSERT resource_requests (uuid key)".to_owned(),
            writers,
            &["-f", &insert],
        )?;
        self.echo()
    }

    /// The framework's ceiling: the bare tonic echo (`echo.rs`) loaded
    /// exactly as the gRPC status reads are (as many h2load processes, the
    /// same connections and streams), in the echo's place as "the server".
    fn echo(&mut self) -> Result<(), Stop> {
        self.stop_server();
        let (grpc_port, http_port) = self.server_ports()?;
        self.server = Some(Server::start_echo(
            grpc_port,
            http_port,
            &self.work.path,
            &self.runtime,
        )?);
        let calls: Vec<GrpcCall> = (1..=self.knobs.read_keys)
            .map(|k| GrpcCall::change_token_status(&format!("echo-{k}")))
            .collect();
        let shape = (self.knobs.grpc_conns, self.knobs.grpc_streams);
        let result = self
            .grpc_run(
                "grpc_echo",
                "bare tonic echo (GetChangeTokenStatus bytes, no work)".to_owned(),
                "-",
                shape,
                &calls,
            )
            // The framework's own unloaded latency, the floor under the
            // unloaded status read's.
            .and_then(|()| {
                self.grpc_run(
                    "grpc_echo_c1",
                    "bare tonic echo unloaded (1 conn, 1 stream)".to_owned(),
                    "-",
                    (1, 1),
                    &calls[..1],
                )
            });
        self.stop_server();
        result
    }

    /// Seeds requests `first..=last` with `file` (seed_requests.sql or bulk_seed.sql).
    fn seed_requests(&self, file: &str, first: u64, last: u64) -> Result<(), Stop> {
        let path = self.sql_file(file);
        self.psql(
            "statusgate",
            &[
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
            ],
            &format!("seeding with {file}"),
        )
    }

    /// The planner's row count of resource_requests (exact after VACUUM ANALYZE).
    fn stored_requests(&self) -> Result<String, Stop> {
        output(
            self.cluster()?.psql("statusgate").args([
                "-tA",
                "-c",
                "SELECT reltuples::bigint FROM pg_class WHERE relname = 'resource_requests'",
            ]),
            "counting stored requests",
        )
    }

    /// BENCH_READ_KEYS PENDING requests (CreateResourceRequest) and as many
    /// PENDING change tokens of one scope (GetChangeToken then
    /// ConsumeChangeToken, repeated), made through the API exactly as the
    /// server writes them. statusgate coalesces concurrent reads of one key,
    /// so the reads spread over several keys keep that from flattering them.
    fn make_hot_keys(&mut self) -> Result<(), Stop> {
        let server = self.running_server()?;
        let keys = self.knobs.read_keys;
        let mut hot = HotKeys::default();
        for k in 1..=keys {
            hot.requests
                .push(server.grpc.create_pending_request().map_err(fail)?);
            // A new token each time: the scope's previous one was just used.
            let description = format!("UpdateIPSet bench-{k}");
            hot.change_tokens.push(
                server
                    .grpc
                    .pending_change_token(&description)
                    .map_err(fail)?,
            );
        }
        for k in 1..=RESOURCES {
            let identifier = resource_identifier(k);
            server.grpc.provision_resource(&identifier).map_err(fail)?;
            hot.resources.push(identifier);
        }
        let distinct: HashSet<&String> = hot.change_tokens.iter().collect();
        if distinct.len() != hot.change_tokens.len() {
            return Err(fail(
                "GetChangeToken did not issue a new token after each ConsumeChangeToken",
            ));
        }
        log(&format!(
            "{keys} PENDING requests and change tokens, {RESOURCES} resources made through the API"
        ));
        self.hot = hot;
        Ok(())
    }

    pub fn postgres(&mut self) -> Result<(), Stop> {
        self.psql(
            "postgres",
            &["-c", "CREATE DATABASE statusgate"],
            "CREATE DATABASE statusgate",
        )?;
        let url = self.cluster()?.url("statusgate");
        self.start_server("postgres", &url)?;
        let rows = self.knobs.small_rows;
        log(&format!("seeding {rows} requests and {rows} change tokens"));
        self.seed_requests("seed_requests.sql", 1, rows)?;
        let change_tokens = self.sql_file("seed_change_tokens.sql");
        self.psql(
            "statusgate",
            &[
                "-v",
                &format!("rows={rows}"),
                "-v",
                &format!("now_us={}", now_micros()),
                "-f",
                &change_tokens,
            ],
            "seeding change tokens",
        )?;
        self.psql("statusgate", &["-c", "VACUUM ANALYZE"], "VACUUM ANALYZE")?;
        self.make_hot_keys()?;
        let stored = self.stored_requests()?;
        self.note(format!(
            "- Postgres runs: {stored} stored requests for the reads (seeded {rows}), {rows} background change tokens"
        ));
        let loads = Loads::new(&self.hot, self.knobs.scopes);
        let keys = self.knobs.read_keys;
        let throughput = (self.knobs.grpc_conns, self.knobs.grpc_streams);
        let http = self.http_conns();

        // Reads first, while the table holds the small seed.
        self.grpc_run(
            "grpc_rrs",
            format!("GetResourceRequestStatus (PENDING, {keys} keys)"),
            "postgres",
            throughput,
            &loads.status_reads,
        )?;
        self.grpc_run(
            "grpc_cts",
            format!("GetChangeTokenStatus (PENDING, {keys} keys)"),
            "postgres",
            throughput,
            &loads.token_status_reads,
        )?;
        self.grpc_run(
            "grpc_list",
            format!("ListResourceRequests (first page of {LIST_PAGE})"),
            "postgres",
            throughput,
            &loads.first_page,
        )?;
        self.grpc_run(
            "grpc_gr",
            format!("GetResource ({RESOURCES} keys)"),
            "postgres",
            throughput,
            &loads.resource_reads,
        )?;
        self.grpc_run(
            "grpc_lr",
            format!("ListResources (first page of {LIST_PAGE})"),
            "postgres",
            throughput,
            &loads.resources_first_page,
        )?;
        self.facade_run(
            "http_rrs",
            format!("GetResourceRequestStatus (PENDING, {keys} keys)"),
            "postgres",
            http,
            &loads.facade_status_reads,
            None,
        )?;
        self.facade_run(
            "http_gr",
            format!("GetResource ({RESOURCES} keys)"),
            "postgres",
            http,
            &loads.facade_resource_reads,
            None,
        )?;
        self.facade_run(
            "http_lr",
            format!("ListResources (first page of {LIST_PAGE})"),
            "postgres",
            http,
            &loads.facade_resources_first_page,
            None,
        )?;
        self.facade_run(
            "http_rrs_rand",
            format!("GetResourceRequestStatus (random of {rows} seeded)"),
            "postgres",
            http,
            &loads.facade_seeded_status_read,
            Some((1, rows)),
        )?;
        self.facade_run(
            "http_cts",
            format!("GetChangeTokenStatus (PENDING, {keys} keys)"),
            "postgres",
            http,
            &loads.facade_token_status_reads,
            None,
        )?;
        self.grpc_run(
            "grpc_rrs_c1",
            "GetResourceRequestStatus unloaded (PENDING)".to_owned(),
            "postgres",
            (1, 1),
            &loads.status_reads[..1],
        )?;
        self.peak_rss(&loads)?;

        // Writes.
        let scopes = self.knobs.scopes;
        self.grpc_run(
            "grpc_gct",
            format!("GetChangeToken ({scopes} scopes)"),
            "postgres",
            throughput,
            &loads.change_tokens,
        )?;
        self.facade_run(
            "http_gct",
            format!("GetChangeToken ({scopes} scopes)"),
            "postgres",
            http,
            &loads.facade_change_tokens,
            None,
        )?;
        self.grpc_run(
            "grpc_crr",
            "CreateResourceRequest".to_owned(),
            "postgres",
            throughput,
            &loads.create,
        )?;
        self.facade_run(
            "http_cr",
            "CreateResource".to_owned(),
            "postgres",
            http,
            &loads.facade_create,
            None,
        )?;
        self.verified_reads(&loads)?;
        self.index_sizes(&format!(
            "postgres phase ({rows} seeded requests and the creates of its runs)"
        ))
    }

    /// BENCH_RSS_CONNS gRPC connections, then as many HTTP/1.1 connections,
    /// while VmRSS is sampled every 0.2 s; then VmHWM, the peak since start.
    fn peak_rss(&mut self, loads: &Loads) -> Result<(), Stop> {
        let pid = self.running_server()?.pid();
        let stop = Arc::new(AtomicBool::new(false));
        let sampler = {
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                let mut peak = 0;
                while !stop.load(Ordering::SeqCst) {
                    let Some(kib) = memory_kib(pid, "VmRSS") else {
                        break;
                    };
                    peak = kib.max(peak);
                    thread::sleep(Duration::from_millis(200));
                }
                peak
            })
        };
        let connections = self.knobs.rss_conns;
        let runs = self
            .grpc_run(
                "grpc_rss",
                format!("GetResourceRequestStatus, {connections} connections"),
                "postgres",
                (connections, 1),
                &loads.status_reads[..1],
            )
            .and_then(|()| {
                self.facade_run(
                    "http_rss",
                    format!("GetResourceRequestStatus, {connections} connections"),
                    "postgres",
                    connections,
                    &loads.facade_status_reads,
                    None,
                )
            });
        stop.store(true, Ordering::SeqCst);
        let sampled = sampler.join().unwrap_or(0);
        runs?;
        let mib = |kib: u64| kib as f64 / 1024.0;
        let peak = mib(self.running_server()?.memory_kib("VmHWM").unwrap_or(0));
        self.report.sections.extend([
            String::new(),
            "## Peak RSS, loaded connections".to_owned(),
            String::new(),
            "No goal: the goal is on idle connections (next section); this is the peak of a server that has served every earlier run.".to_owned(),
            String::new(),
            "| measure | MiB |".to_owned(),
            "|---|---:|".to_owned(),
            format!(
                "| statusgate VmHWM after {connections} gRPC connections then {connections} HTTP/1.1 connections under load (peak since start, every earlier run included) | {peak:.1} |"
            ),
            format!(
                "| highest VmRSS sampled every 0.2 s during those two runs | {:.1} |",
                mib(sampled)
            ),
        ]);
        Ok(())
    }

    /// The reads again after a bulk seed to BENCH_LARGE_ROWS requests.
    pub fn large(&mut self) -> Result<(), Stop> {
        let target = self.knobs.large_rows;
        let small = self.knobs.small_rows;
        if target <= small {
            log(&format!("large: BENCH_LARGE_ROWS={target}, skipped"));
            return Ok(());
        }
        self.stop_server();
        log(&format!(
            "large: bulk-seeding requests {}..{target}",
            small + 1
        ));
        let started = Instant::now();
        self.seed_requests("bulk_seed.sql", small + 1, target)?;
        let took = started.elapsed().as_secs();
        let stored = self.stored_requests()?;
        log(&format!(
            "large: seeded in {took}s, {stored} stored requests"
        ));
        let url = self.cluster()?.url("statusgate");
        self.start_server("postgres-large", &url)?;
        self.note(format!(
            "- Flatness runs: {stored} stored requests (bulk seed took {took}s), statusgate restarted on them"
        ));
        let loads = Loads::new(&self.hot, self.knobs.scopes);
        let keys = self.knobs.read_keys;
        let throughput = (self.knobs.grpc_conns, self.knobs.grpc_streams);
        let http = self.http_conns();
        self.grpc_run(
            "large_grpc_rrs",
            format!("GetResourceRequestStatus (PENDING, {keys} keys) @large"),
            "postgres",
            throughput,
            &loads.status_reads,
        )?;
        self.facade_run(
            "large_http_rrs_rand",
            format!("GetResourceRequestStatus (random of {target} seeded) @large"),
            "postgres",
            http,
            &loads.facade_seeded_status_read,
            Some((1, target)),
        )?;
        self.grpc_run(
            "large_grpc_list",
            format!("ListResourceRequests (first page of {LIST_PAGE}) @large"),
            "postgres",
            throughput,
            &loads.first_page,
        )?;
        self.index_sizes(&format!(
            "large phase ({target} seeded requests and the creates of the postgres runs)"
        ))
    }

    /// statusgate on a fresh SQLite file: the same reads and writes, and a
    /// count of `database is locked` in its log.
    pub fn sqlite(&mut self) -> Result<(), Stop> {
        self.stop_server();
        let dir = self.work.path.join("sqlite");
        fs::create_dir_all(&dir)
            .map_err(|error| fail(format!("cannot create {}: {error}", dir.display())))?;
        let url = format!(
            "sqlite://{}",
            Path::new(&dir).join("statusgate.db").display()
        );
        self.start_server("sqlite", &url)?;
        self.make_hot_keys()?;
        self.note(format!(
            "- SQLite runs: database file in {}, hot keys made through the API",
            self.knobs.tmpdir.display()
        ));
        let loads = Loads::new(&self.hot, self.knobs.scopes);
        let keys = self.knobs.read_keys;
        let scopes = self.knobs.scopes;
        let throughput = (self.knobs.grpc_conns, self.knobs.grpc_streams);
        let http = self.http_conns();
        self.grpc_run(
            "sqlite_grpc_rrs",
            format!("GetResourceRequestStatus (PENDING, {keys} keys)"),
            "sqlite",
            throughput,
            &loads.status_reads,
        )?;
        self.grpc_run(
            "sqlite_grpc_cts",
            format!("GetChangeTokenStatus (PENDING, {keys} keys)"),
            "sqlite",
            throughput,
            &loads.token_status_reads,
        )?;
        self.facade_run(
            "sqlite_http_rrs",
            format!("GetResourceRequestStatus (PENDING, {keys} keys)"),
            "sqlite",
            http,
            &loads.facade_status_reads,
            None,
        )?;
        self.grpc_run(
            "sqlite_grpc_gr",
            format!("GetResource ({RESOURCES} keys)"),
            "sqlite",
            throughput,
            &loads.resource_reads,
        )?;
        self.grpc_run(
            "sqlite_grpc_lr",
            format!("ListResources (first page of {LIST_PAGE})"),
            "sqlite",
            throughput,
            &loads.resources_first_page,
        )?;
        self.facade_run(
            "sqlite_http_gr",
            format!("GetResource ({RESOURCES} keys)"),
            "sqlite",
            http,
            &loads.facade_resource_reads,
            None,
        )?;
        self.facade_run(
            "sqlite_http_lr",
            format!("ListResources (first page of {LIST_PAGE})"),
            "sqlite",
            http,
            &loads.facade_resources_first_page,
            None,
        )?;
        self.grpc_run(
            "sqlite_grpc_gct",
            format!("GetChangeToken ({scopes} scopes)"),
            "sqlite",
            throughput,
            &loads.change_tokens,
        )?;
        self.grpc_run(
            "sqlite_grpc_crr",
            "CreateResourceRequest".to_owned(),
            "sqlite",
            throughput,
            &loads.create,
        )?;
        self.facade_run(
            "sqlite_http_cr",
            "CreateResource".to_owned(),
            "sqlite",
            http,
            &loads.facade_create,
            None,
        )?;
        self.sqlite_sixteen_callers(&loads)?;
        let locked = self
            .running_server()?
            .log_lines_containing("database is locked");
        self.report.sections.extend([
            String::new(),
            "## SQLite".to_owned(),
            String::new(),
            format!(
                "- `database is locked` in the server log (RUST_LOG={}) over all SQLite runs: **{}** (goal: 0)",
                self.knobs.rust_log,
                locked.len()
            ),
        ]);
        if !locked.is_empty() {
            self.errors_seen.push(format!(
                "sqlite: {} 'database is locked' log lines",
                locked.len()
            ));
            self.report.sections.push(String::new());
            self.report.sections.push("```".to_owned());
            self.report.sections.extend(locked.iter().take(5).cloned());
            self.report.sections.push("```".to_owned());
        }
        self.stop_server();
        Ok(())
    }
}

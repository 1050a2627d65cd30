//! The throwaway Postgres cluster: `initdb` into the work dir, on the first
//! free port from `BENCH_PG_PORT`, listening on 127.0.0.1 only, run as the
//! `postgres` user when the benchmark runs as root. Durability stays on
//! (`fsync`, `synchronous_commit`, `full_page_writes`); only sizes are raised
//! so that no checkpoint lands in a measured run and the bulk seed builds
//! its indexes fast. The machine's own cluster on 5432 is never touched.
//! Dropping the [`Cluster`] stops it.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cpu::proc_stat;
use crate::process::{Stop, fail, output, run_logged};

pub struct Cluster {
    bin: PathBuf,
    data: PathBuf,
    log_dir: PathBuf,
    pub port: u16,
    /// Whether initdb and pg_ctl run as `postgres` (the benchmark runs as root).
    as_postgres: bool,
    pub version: String,
}

/// The newest `/usr/lib/postgresql/<version>/bin` with initdb, pg_ctl and pgbench.
pub fn find_bin() -> Option<PathBuf> {
    let mut found: Vec<(Vec<u32>, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = entry
                .file_name()
                .to_str()?
                .split('.')
                .map(str::parse)
                .collect::<Result<Vec<u32>, _>>()
                .ok()?;
            let bin = entry.path().join("bin");
            let complete = ["initdb", "pg_ctl", "pgbench", "psql"]
                .iter()
                .all(|tool| bin.join(tool).is_file());
            complete.then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

impl Cluster {
    pub fn start(
        work: &Path,
        bin: &Path,
        port: u16,
        shared_buffers: &str,
        as_postgres: bool,
    ) -> Result<Self, Stop> {
        if port == 5432 {
            return Err(fail("refusing port 5432 (the machine's main cluster)"));
        }
        let data = work.join("pgdata");
        let socket_dir = work.join("pgsock");
        let log_dir = work.join("pglog");
        for dir in [&data, &socket_dir, &log_dir] {
            fs::create_dir_all(dir)
                .map_err(|error| fail(format!("cannot create {}: {error}", dir.display())))?;
        }
        if as_postgres {
            output(
                Command::new("chown")
                    .arg("postgres:")
                    .args([&data, &socket_dir, &log_dir]),
                "chown postgres:",
            )?;
        }
        output(Command::new("chmod").arg("700").arg(&data), "chmod 700")?;
        let mut cluster = Self {
            bin: bin.to_owned(),
            data,
            log_dir,
            port,
            as_postgres,
            version: String::new(),
        };
        crate::log(&format!("initdb {} (port {port})", cluster.data.display()));
        let initdb_log = cluster.log_dir.join("initdb.log");
        let initdb = |locale: &str| {
            let mut command = cluster.as_owner("initdb");
            command.arg("-D").arg(&cluster.data).args([
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                locale,
            ]);
            run_logged(&mut command, &initdb_log, "initdb")
        };
        initdb("--locale=C.UTF-8").or_else(|_| initdb("--no-locale"))?;
        let settings = format!(
            "\n# statusgate bench\n\
             listen_addresses = '127.0.0.1'\n\
             port = {port}\n\
             unix_socket_directories = '{socket}'\n\
             max_connections = 300\n\
             shared_buffers = '{shared_buffers}'\n\
             fsync = on\n\
             synchronous_commit = on\n\
             full_page_writes = on\n\
             max_wal_size = '16GB'\n\
             checkpoint_timeout = '30min'\n\
             maintenance_work_mem = '1GB'\n",
            socket = socket_dir.display(),
        );
        fs::OpenOptions::new()
            .append(true)
            .open(cluster.data.join("postgresql.conf"))
            .and_then(|mut file| file.write_all(settings.as_bytes()))
            .map_err(|error| fail(format!("cannot write postgresql.conf: {error}")))?;
        let server_log = cluster.log_dir.join("postgres.log");
        let mut start = cluster.as_owner("pg_ctl");
        start
            .arg("-D")
            .arg(&cluster.data)
            .arg("-l")
            .arg(&server_log)
            .args(["-w", "-t", "60", "start"]);
        run_logged(
            &mut start,
            &cluster.log_dir.join("pg_ctl.log"),
            "pg_ctl start",
        )
        .map_err(|error| match error {
            Stop::Failed(message) => fail(format!(
                "the throwaway Postgres did not start: {message}; {}",
                crate::process::tail(&server_log, 5)
            )),
            interrupted => interrupted,
        })?;
        cluster.version = output(
            cluster
                .psql("postgres")
                .args(["-tA", "-c", "SHOW server_version"]),
            "psql SHOW server_version",
        )?;
        Ok(cluster)
    }

    fn as_owner(&self, tool: &str) -> Command {
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command
                .args(["-u", "postgres", "--"])
                .arg(self.bin.join(tool));
            command
        } else {
            Command::new(self.bin.join(tool))
        }
    }

    /// psql on one database, over TCP, stopping at the first error.
    pub fn psql(&self, database: &str) -> Command {
        let mut command = Command::new(self.bin.join("psql"));
        command
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-U"])
            .args(["postgres", "-d", database, "-p"])
            .arg(self.port.to_string());
        command
    }

    /// pgbench connected to the cluster as `postgres`, over TCP.
    pub fn pgbench(&self) -> Command {
        let mut command = Command::new(self.bin.join("pgbench"));
        command
            .args(["-h", "127.0.0.1", "-U", "postgres", "-p"])
            .arg(self.port.to_string());
        command
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// CPU ticks of the cluster so far: the postmaster, its live children
    /// and the children it has reaped.
    pub fn cpu_ticks(&self) -> u64 {
        let Some(postmaster) = fs::read_to_string(self.data.join("postmaster.pid"))
            .ok()
            .and_then(|text| text.lines().next()?.trim().parse::<u32>().ok())
        else {
            return 0;
        };
        let children = fs::read_to_string(format!("/proc/{postmaster}/task/{postmaster}/children"))
            .unwrap_or_default();
        std::iter::once(postmaster)
            .chain(
                children
                    .split_whitespace()
                    .filter_map(|pid| pid.parse().ok()),
            )
            .filter_map(proc_stat)
            .map(|stat| stat.own_ticks() + stat.reaped_children_ticks())
            .sum()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if !self.data.join("postmaster.pid").exists() {
            return;
        }
        let log = self.log_dir.join("pg_ctl.log");
        for mode in ["fast", "immediate"] {
            let mut stop = self.as_owner("pg_ctl");
            stop.arg("-D")
                .arg(&self.data)
                .args(["-m", mode, "-t", "60", "stop"]);
            // Not interruptible on purpose: this runs after a signal too.
            if crate::process::log_to(&mut stop, &log).is_ok()
                && stop.status().is_ok_and(|status| status.success())
            {
                return;
            }
        }
    }
}

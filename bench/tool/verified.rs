//! The cost of verification: statusgate restarted with `--auth sigv4` on the
//! Postgres database of the main runs, a `client` credential of the
//! benchmark's account issued with `statusgate credentials create`, and the
//! same status reads as the unverified runs, authenticated as a real caller
//! would: the facade reads SigV4-signed (`aws-sigv4`), the gRPC reads with
//! the `Bearer` key statusgate verifies on gRPC (gRPC calls are not
//! SigV4-signed).
//!
//! wrk cannot sign in Lua (no HMAC), so each facade request is signed once
//! by this tool and replayed: statusgate keeps no record of the signatures
//! it has seen, so within the 15 minutes of allowed skew a replayed request
//! is verified in full, every time. The checks before and after the run send
//! the same signed bytes again; a server that refused replays would answer
//! them, and wrk's repeats, with errors, and the row would be INVALID.

use std::fs;
use std::path::Path;
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::calls::{ACCOUNT, Credential, FacadeRequest};
use crate::load::{H2loadRun, WrkRun};
use crate::process::{Stop, fail, output};
use crate::report::Row;
use crate::{Bench, Loads, log};

/// The row ids of the unverified reads the verified ones are compared with.
const UNVERIFIED_FACADE_READ: &str = "http_rrs";
const UNVERIFIED_GRPC_READ: &str = "grpc_rrs";

impl Bench {
    /// The verified status reads, each with its ratio to the unverified read
    /// of this run; leaves no server running.
    pub fn verified_reads(&mut self, loads: &Loads) -> Result<(), Stop> {
        let url = self
            .cluster
            .as_ref()
            .ok_or_else(|| fail("the throwaway Postgres cluster is not running"))?
            .url("statusgate");
        self.stop_server();
        let key_file = self.work.path.join("credentials.key");
        write_credentials_key(&key_file)?;
        let credential = self.issue_credential(&url, &key_file)?;
        self.start_verifying_server(&url, &key_file)?;
        let result = self.verified_runs(loads, &credential);
        self.stop_server();
        result
    }

    /// `statusgate credentials create --account ACCOUNT --role client`.
    fn issue_credential(&self, url: &str, key_file: &Path) -> Result<Credential, Stop> {
        let printed = output(
            Command::new(&self.server_bin)
                .env("RUST_LOG", "warn")
                .args(["credentials", "create", "--account", ACCOUNT])
                .args(["--role", "client", "--database-url", url])
                .arg("--credentials-key-file")
                .arg(key_file),
            "statusgate credentials create",
        )?;
        let line = printed
            .lines()
            .rev()
            .find(|line| line.starts_with('{'))
            .unwrap_or_default();
        serde_json::from_str(line).map_err(|error| {
            fail(format!(
                "statusgate credentials create printed {printed:?}: {error}"
            ))
        })
    }

    fn start_verifying_server(&mut self, url: &str, key_file: &Path) -> Result<(), Stop> {
        let key_file = key_file.display().to_string();
        self.start_server_with(
            "postgres-sigv4",
            url,
            &["--auth", "sigv4", "--credentials-key-file", &key_file],
        )
    }

    fn verified_runs(&mut self, loads: &Loads, credential: &Credential) -> Result<(), Stop> {
        let server = self
            .server
            .as_ref()
            .ok_or_else(|| fail("statusgate is not running"))?;
        // The rows measure verification only if the unauthenticated calls
        // of the unverified rows are refused.
        let grpc_accepted = loads
            .status_reads
            .first()
            .is_some_and(|call| server.grpc.check(call).is_ok());
        if grpc_accepted {
            return Err(fail("--auth sigv4 accepted a gRPC call without a key"));
        }
        let facade_accepted = loads
            .facade_status_reads
            .first()
            .is_some_and(|request| server.facade.check(request).is_ok());
        if facade_accepted {
            return Err(fail("--auth sigv4 accepted an unsigned facade request"));
        }
        server.grpc.authenticate(credential).map_err(fail)?;
        let host = server
            .facade
            .base()
            .trim_start_matches("http://")
            .to_owned();
        let signed: Vec<FacadeRequest> = loads
            .facade_status_reads
            .iter()
            .map(|request| request.signed(credential, &host))
            .collect::<Result<_, _>>()
            .map_err(|error| fail(format!("cannot sign a facade request: {error}")))?;
        log(&format!(
            "{} status reads signed with SigV4 as {}",
            signed.len(),
            credential.access_key_id
        ));
        let keys = self.knobs.read_keys;
        let mut facade_row = self.runner().wrk(WrkRun {
            id: "http_rrs_sigv4",
            operation: format!("GetResourceRequestStatus (PENDING, {keys} keys), SigV4 verified"),
            backend: "postgres",
            connections: self.http_conns(),
            requests: &signed,
            seeded: None,
        })?;
        let facade_ratio = self.note_ratio_to(&mut facade_row, UNVERIFIED_FACADE_READ);
        self.record(facade_row);
        let mut grpc_row = self.runner().h2load(H2loadRun {
            id: "grpc_rrs_bearer",
            operation: format!(
                "GetResourceRequestStatus (PENDING, {keys} keys), Bearer key verified"
            ),
            backend: "postgres",
            connections: self.knobs.grpc_conns,
            streams: self.knobs.grpc_streams,
            calls: &loads.status_reads,
        })?;
        let grpc_ratio = self.note_ratio_to(&mut grpc_row, UNVERIFIED_GRPC_READ);
        self.record(grpc_row);
        let ratio_text = |ratio: Option<f64>| ratio.map_or("-".to_owned(), |r| format!("{r:.2}"));
        self.report.sections.extend([
            String::new(),
            "## Verification (`--auth sigv4`)".to_owned(),
            String::new(),
            format!(
                "- Facade GetResourceRequestStatus SigV4-verified ÷ unverified: **{}** \
                 (each of the {keys} requests signed once by the tool with `aws-sigv4` and replayed by wrk: \
                 statusgate accepts a repeated signed request within the 15-minute window, so every replay is verified in full)",
                ratio_text(facade_ratio)
            ),
            format!(
                "- gRPC GetResourceRequestStatus with a verified `Bearer` key ÷ without: **{}** \
                 (gRPC calls are not SigV4-signed; `--auth sigv4` verifies a `Bearer AccessKeyId:Secret` key on them)",
                ratio_text(grpc_ratio)
            ),
        ]);
        Ok(())
    }

    /// Adds to `row` a note with its throughput ÷ that of row `unverified`
    /// of this run; the ratio.
    fn note_ratio_to(&self, row: &mut Row, unverified: &str) -> Option<f64> {
        let anchor = self
            .report
            .rows
            .iter()
            .find(|other| other.id == unverified)?;
        let ratio = row.rps? / anchor.rps.filter(|rps| *rps > 0.0)?;
        row.notes
            .push(format!("{ratio:.2}x the unverified read ({unverified})"));
        Some(ratio)
    }
}

/// A fresh credentials key: 32 random bytes, base64.
fn write_credentials_key(path: &Path) -> Result<(), Stop> {
    let mut key = [0_u8; 32];
    getrandom::fill(&mut key).map_err(|error| fail(format!("no random bytes: {error}")))?;
    fs::write(path, STANDARD.encode(key))
        .map_err(|error| fail(format!("cannot write {}: {error}", path.display())))
}

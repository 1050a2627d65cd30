//! SQLite at a small, fixed concurrency: 16 callers in total (h2load streams
//! or wrk connections), the load a single-file deployment is sized for,
//! beside the full-concurrency SQLite rows. Each row notes the
//! `database is locked` lines its run added to the server log.

use crate::load::{H2loadRun, WrkRun};
use crate::process::{Stop, fail};
use crate::report::Row;
use crate::{Bench, Loads};

/// Concurrent callers of every row here.
const CALLERS: u32 = 16;

const LOCKED: &str = "database is locked";

impl Bench {
    fn locked_lines(&self) -> Result<usize, Stop> {
        let server = self
            .server
            .as_ref()
            .ok_or_else(|| fail("statusgate is not running"))?;
        Ok(server.log_lines_containing(LOCKED).len())
    }

    /// Records `row` with the count of `database is locked` lines since
    /// `locked_before`.
    fn record_with_locks(&mut self, mut row: Row, locked_before: usize) -> Result<(), Stop> {
        let locked = self.locked_lines()?.saturating_sub(locked_before);
        row.notes.push(format!("`{LOCKED}` in the log: {locked}"));
        self.record(row);
        Ok(())
    }

    /// Status reads, creates over gRPC and creates over the facade, each
    /// with exactly 16 callers.
    pub fn sqlite_sixteen_callers(&mut self, loads: &Loads) -> Result<(), Stop> {
        // The reads spread over as many keys as divide the callers evenly
        // (one h2load process and connection per key).
        let keys = [4, 2, 1]
            .into_iter()
            .find(|keys| *keys <= loads.status_reads.len())
            .ok_or_else(|| fail("no status read keys"))?;
        let keys_u32 = u32::try_from(keys).unwrap_or(1);
        let before = self.locked_lines()?;
        let row = self.runner().h2load(H2loadRun {
            id: "sqlite_grpc_rrs_16",
            operation: format!(
                "GetResourceRequestStatus (PENDING, {keys} keys), {CALLERS} callers"
            ),
            backend: "sqlite",
            connections: keys_u32,
            streams: CALLERS / keys_u32,
            calls: &loads.status_reads[..keys],
        })?;
        self.record_with_locks(row, before)?;
        let before = self.locked_lines()?;
        let row = self.runner().h2load(H2loadRun {
            id: "sqlite_grpc_crr_16",
            operation: format!("CreateResourceRequest, {CALLERS} callers"),
            backend: "sqlite",
            connections: 1,
            streams: CALLERS,
            calls: &loads.create,
        })?;
        self.record_with_locks(row, before)?;
        let before = self.locked_lines()?;
        let row = self.runner().wrk(WrkRun {
            id: "sqlite_http_cr_16",
            operation: format!("CreateResource, {CALLERS} callers"),
            backend: "sqlite",
            connections: CALLERS,
            requests: &loads.facade_create,
            seeded: None,
        })?;
        self.record_with_locks(row, before)
    }
}

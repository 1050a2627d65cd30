//! Where the CPU of a run went, from `/proc`: the load generator (the
//! children this process reaped during the run), statusgate, the Postgres
//! cluster, and everything else on the machine. Each share is in % of one
//! core over the run's wall-clock time (the warm-up included), so on a
//! 2-core machine 200 is everything.

use std::fmt;
use std::fs;
use std::time::Instant;

/// The CPU fields of `/proc/<pid>/stat`, in clock ticks.
pub struct ProcStat {
    utime: u64,
    stime: u64,
    cutime: u64,
    cstime: u64,
}

impl ProcStat {
    pub fn own_ticks(&self) -> u64 {
        self.utime + self.stime
    }

    /// Of the children the process has waited for.
    pub fn reaped_children_ticks(&self) -> u64 {
        self.cutime + self.cstime
    }
}

/// `/proc/<pid>/stat` of a process (`None` once it is gone).
pub fn proc_stat(pid: u32) -> Option<ProcStat> {
    parse_stat(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

fn own_stat() -> Option<ProcStat> {
    parse_stat(&fs::read_to_string("/proc/self/stat").ok()?)
}

fn parse_stat(text: &str) -> Option<ProcStat> {
    // The command name in parentheses may hold spaces; the fields after it
    // start with the state (field 3), so utime (field 14) is at index 11.
    let fields: Vec<&str> = text.rsplit_once(") ")?.1.split_whitespace().collect();
    let field = |index: usize| fields.get(index)?.parse::<u64>().ok();
    Some(ProcStat {
        utime: field(11)?,
        stime: field(12)?,
        cutime: field(13)?,
        cstime: field(14)?,
    })
}

/// Busy ticks of every core: user, nice, system, irq, softirq, steal.
fn machine_ticks() -> u64 {
    let stat = fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = stat.lines().find(|line| line.starts_with("cpu ")) else {
        return 0;
    };
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|field| field.parse().unwrap_or(0))
        .collect();
    [0, 1, 2, 5, 6, 7]
        .iter()
        .filter_map(|&index| fields.get(index))
        .sum()
}

/// What is measured at the start of a run.
pub struct Window {
    started: Instant,
    generator: u64,
    server: Option<u64>,
    postgres: u64,
    machine: u64,
}

/// The CPU split of one run, rendered `gen/srv/pg/other`.
#[derive(Debug, Clone)]
pub struct CpuSplit {
    generator: f64,
    server: Option<f64>,
    postgres: f64,
    other: f64,
}

impl fmt::Display for CpuSplit {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let server = self
            .server
            .map_or_else(|| "-".to_owned(), |server| format!("{server:.0}"));
        write!(
            formatter,
            "{:.0}/{server}/{:.0}/{:.0}",
            self.generator, self.postgres, self.other
        )
    }
}

impl Window {
    /// `server`, `postgres`: the ticks of statusgate (when one runs) and of
    /// the cluster, read the same way at the end.
    pub fn begin(server: Option<u64>, postgres: u64) -> Self {
        Self {
            started: Instant::now(),
            generator: own_stat().map_or(0, |stat| stat.reaped_children_ticks()),
            server,
            postgres,
            machine: machine_ticks(),
        }
    }

    pub fn end(self, server: Option<u64>, postgres: u64, ticks_per_second: f64) -> CpuSplit {
        let wall = self.started.elapsed().as_secs_f64().max(1e-9);
        let seconds = |ticks: u64| ticks as f64 / ticks_per_second;
        let generator = seconds(
            own_stat()
                .map_or(0, |stat| stat.reaped_children_ticks())
                .saturating_sub(self.generator),
        );
        let server = match (self.server, server) {
            (Some(before), Some(after)) => Some(seconds(after.saturating_sub(before))),
            _ => None,
        };
        let postgres = seconds(postgres.saturating_sub(self.postgres));
        let machine = seconds(machine_ticks().saturating_sub(self.machine));
        let other = (machine - generator - server.unwrap_or(0.0) - postgres).max(0.0);
        let percent = |seconds: f64| 100.0 * seconds / wall;
        CpuSplit {
            generator: percent(generator),
            server: server.map(percent),
            postgres: percent(postgres),
            other: percent(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_read_after_the_command_name() {
        let text = "4242 (a (weird) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 \
                    17 5 3 2 20 0 1 0 100 0 0";
        let stat = parse_stat(text).unwrap();
        assert_eq!(stat.own_ticks(), 22);
        assert_eq!(stat.reaped_children_ticks(), 5);
    }

    #[test]
    fn a_split_without_a_server_shows_a_dash() {
        let split = CpuSplit {
            generator: 43.4,
            server: None,
            postgres: 29.5,
            other: 0.2,
        };
        assert_eq!(split.to_string(), "43/-/30/0");
    }
}

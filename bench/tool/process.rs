//! The processes the benchmark starts, and how it waits for them. Every wait
//! and every sleep polls [`interrupted`], so SIGINT or SIGTERM stops the
//! benchmark within a few milliseconds: the caller returns
//! [`Stop::Interrupted`], and the guards (`Running`, `Server`, `Cluster`,
//! the work dir) stop and remove what was started, in reverse order.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use tokio::signal::unix::{SignalKind, signal};

/// How often a wait looks at its child and at the signal flag.
const POLL: Duration = Duration::from_millis(20);

/// The number of the first SIGINT or SIGTERM received, 0 before.
static INTERRUPTED: AtomicI32 = AtomicI32::new(0);

/// Why the benchmark stops before its end.
#[derive(Debug)]
pub enum Stop {
    /// SIGINT or SIGTERM (the signal's number).
    Interrupted(i32),
    /// Something the benchmark needs failed; the message says what.
    Failed(String),
}

pub fn fail(message: impl Into<String>) -> Stop {
    Stop::Failed(message.into())
}

/// Installs the SIGINT and SIGTERM handlers (on the current runtime) and
/// returns the task that raises the flag when one arrives.
pub fn watch_signals() -> std::io::Result<impl Future<Output = ()> + Send> {
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        let number = tokio::select! {
            _ = terminate.recv() => libc::SIGTERM,
            _ = interrupt.recv() => libc::SIGINT,
        };
        INTERRUPTED.store(number, Ordering::SeqCst);
    })
}

/// `Err(Stop::Interrupted)` once a signal arrived.
pub fn interrupted() -> Result<(), Stop> {
    match INTERRUPTED.load(Ordering::SeqCst) {
        0 => Ok(()),
        number => Err(Stop::Interrupted(number)),
    }
}

pub fn sleep(duration: Duration) -> Result<(), Stop> {
    let deadline = Instant::now() + duration;
    loop {
        interrupted()?;
        let now = Instant::now();
        if now >= deadline {
            return Ok(());
        }
        std::thread::sleep(POLL.min(deadline - now));
    }
}

/// A child process that is killed if it is still running when dropped.
pub struct Running {
    child: Child,
    what: String,
    reaped: bool,
}

impl Running {
    pub fn spawn(command: &mut Command, what: impl Into<String>) -> Result<Self, Stop> {
        let what = what.into();
        let child = command
            .spawn()
            .map_err(|error| fail(format!("cannot start {what}: {error}")))?;
        Ok(Self {
            child,
            what,
            reaped: false,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit status once the child has exited, `None` while it runs.
    pub fn exited(&mut self) -> Result<Option<ExitStatus>, Stop> {
        if self.reaped {
            return Err(fail(format!("{} was already reaped", self.what)));
        }
        let status = self
            .child
            .try_wait()
            .map_err(|error| fail(format!("waiting for {}: {error}", self.what)))?;
        self.reaped = status.is_some();
        Ok(status)
    }

    /// Waits for the child to exit; a signal kills it and stops the wait.
    pub fn wait(&mut self) -> Result<ExitStatus, Stop> {
        loop {
            if let Some(status) = self.exited()? {
                // A child that exited because the same Ctrl-C reached it is
                // an interruption, not a failure of the child.
                interrupted()?;
                return Ok(status);
            }
            interrupted()?;
            std::thread::sleep(POLL);
        }
    }

    /// SIGTERM, up to `grace` to exit, then SIGKILL.
    pub fn terminate(&mut self, grace: Duration) {
        if self.reaped {
            return;
        }
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SAFETY: kill(2) has no memory effects; the pid is our child,
            // not yet reaped, so it cannot name another process.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                self.reaped = true;
                return;
            }
            std::thread::sleep(POLL);
        }
        self.kill();
    }

    fn kill(&mut self) {
        if !self.reaped {
            let _ = self.child.kill();
            let _ = self.child.wait();
            self.reaped = true;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Output of a command appended to `log`, stdout and stderr alike.
pub fn log_to(command: &mut Command, log: &Path) -> Result<(), Stop> {
    let file = File::options()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|error| fail(format!("cannot open {}: {error}", log.display())))?;
    let copy = file
        .try_clone()
        .map_err(|error| fail(format!("cannot open {}: {error}", log.display())))?;
    command
        .stdin(Stdio::null())
        .stdout(Stdio::from(file))
        .stderr(Stdio::from(copy));
    Ok(())
}

/// Runs `command` to completion with its output in `log`; a non-zero exit
/// is a failure that quotes the end of the log.
pub fn run_logged(command: &mut Command, log: &Path, what: &str) -> Result<(), Stop> {
    log_to(command, log)?;
    let status = Running::spawn(command, what)?.wait()?;
    if status.success() {
        return Ok(());
    }
    Err(fail(format!("{what} failed ({status}): {}", tail(log, 5))))
}

/// The standard output of a short command (a version, a query result).
pub fn output(command: &mut Command, what: &str) -> Result<String, Stop> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|error| fail(format!("cannot run {what}: {error}")))?;
    if !output.status.success() {
        return Err(fail(format!(
            "{what} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// The last `lines` lines of a file, joined with " / " (for messages).
pub fn tail(path: &Path, lines: usize) -> String {
    let Ok(file) = File::open(path) else {
        return format!("({} is missing)", path.display());
    };
    let all: Vec<String> = BufReader::new(file).lines().map_while(Result::ok).collect();
    all[all.len().saturating_sub(lines)..].join(" / ")
}

/// Raises the soft open-file limit towards `wanted` (as far as the hard
/// limit allows) and returns the limit in force.
pub fn raise_open_file_limit(wanted: u64) -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write `limit`, a valid
    // rlimit on our stack.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 0;
        }
        if limit.rlim_cur < wanted {
            let raised = libc::rlimit {
                rlim_cur: wanted.min(limit.rlim_max),
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    limit.rlim_cur
}

//! The `statusgate` binary as a child process: started with none of its
//! settings in the environment, waited for until it listens, stopped with
//! SIGTERM.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::Duration;

use super::change_tokens;
use super::wait::wait_until;

/// The binary under test, with `RUST_LOG=info` and no inherited settings.
pub fn statusgate() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_statusgate"));
    command
        .env_remove("DATABASE_URL")
        .env_remove("STATUSGATE_GRPC_LISTEN")
        .env_remove("STATUSGATE_HTTP_LISTEN")
        .env_remove("STATUSGATE_AUTH")
        .env_remove("STATUSGATE_CREDENTIALS_KEY")
        .env_remove("STATUSGATE_CREDENTIALS_KEY_FILE")
        .env("RUST_LOG", "info");
    command
}

/// A serving `statusgate` process.
pub struct RunningBinary {
    child: Child,
    pub grpc_address: String,
    pub http_address: String,
    /// The `statusgate listening` log line.
    pub listening_line: String,
    /// Drains stderr so the child never blocks on a full pipe; the whole
    /// log once the child has exited.
    log: JoinHandle<String>,
}

/// Starts the binary serving on ports 0 in `directory` (where its default
/// SQLite file goes), with `env` added, and waits until it logs that it
/// listens.
pub fn spawn_listening(directory: &Path, env: &[(&str, String)]) -> RunningBinary {
    spawn_listening_with(directory, env, |_| {})
}

/// [`spawn_listening`], with `customize` applied to the command first
/// (arguments, a `pre_exec` hook).
pub fn spawn_listening_with(
    directory: &Path,
    env: &[(&str, String)],
    customize: impl FnOnce(&mut Command),
) -> RunningBinary {
    let mut command = statusgate();
    customize(&mut command);
    command
        .current_dir(directory)
        .args([
            "--grpc-listen",
            "127.0.0.1:0",
            "--http-listen",
            "127.0.0.1:0",
        ])
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().expect("start statusgate");
    let mut stderr = BufReader::new(child.stderr.take().expect("piped stderr"));
    let mut start_of_log = String::new();
    let listening_line = loop {
        let mut line = String::new();
        let read = stderr.read_line(&mut line).expect("read stderr");
        assert_ne!(
            read, 0,
            "statusgate exited before listening: {start_of_log}"
        );
        start_of_log.push_str(&line);
        if line.contains("statusgate listening") {
            break line;
        }
    };
    let address_of = |key: &str| {
        listening_line
            .split(key)
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("no {key} in {listening_line}"))
    };
    let grpc_address = address_of("grpc=");
    let http_address = address_of("http=");
    let log = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = stderr.read_to_string(&mut rest);
        start_of_log + &rest
    });
    RunningBinary {
        child,
        grpc_address,
        http_address,
        listening_line,
        log,
    }
}

impl RunningBinary {
    pub async fn change_tokens(&self) -> change_tokens::Client {
        change_tokens::Client::connect(format!("http://{}", self.grpc_address))
            .await
            .expect("connect to the binary's gRPC listener")
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends the signal named `name` (`HUP`, `TERM`, ...).
    pub fn signal(&self, name: &str) {
        let sent = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -{name} failed: {sent}");
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub async fn terminate(&mut self) -> ExitStatus {
        let killed = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(killed.success(), "kill -TERM failed: {killed}");
        let child = &mut self.child;
        wait_until(
            Duration::from_secs(20),
            "statusgate to stop on SIGTERM",
            async || {
                child
                    .try_wait()
                    .expect("the child's status")
                    .ok_or_else(|| "still running".to_owned())
            },
        )
        .await
    }

    /// Everything the process logged; call it once the process has exited.
    pub fn log(self) -> String {
        self.log.join().expect("the log reader")
    }
}

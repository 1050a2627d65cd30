//! The `statusgate` binary itself: configuration errors, `migrate`, and a
//! clean exit on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::{Backend, TestDatabase};

fn statusgate() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_statusgate"));
    command
        .env_remove("DATABASE_URL")
        .env_remove("STATUSGATE_GRPC_LISTEN")
        .env_remove("STATUSGATE_HTTP_LISTEN")
        .env("RUST_LOG", "info");
    command
}

/// Runs to completion; returns the exit code and stderr.
fn run(command: &mut Command) -> (Option<i32>, String) {
    let output = command.output().expect("run statusgate");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[track_caller]
fn assert_fails_with(command: &mut Command, expected_start: &str) {
    let (code, stderr) = run(command);
    assert_eq!(code, Some(1), "stderr: {stderr}");
    let error_lines: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains("error"))
        .collect();
    assert_eq!(error_lines.len(), 1, "one error line expected: {stderr}");
    assert!(
        error_lines[0].starts_with(expected_start),
        "unexpected: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "no panic: {stderr}");
}

#[test]
fn bad_configuration_fails_with_one_line() {
    let directory = tempfile::tempdir().unwrap();
    let sqlite_url = format!("sqlite://{}", directory.path().join("x.db").display());

    assert_fails_with(
        statusgate().args(["--database-url", "mysql://localhost/x"]),
        "statusgate: error: unsupported database URL",
    );
    assert_fails_with(
        statusgate().args(["--database-url", "postgres://nobody@127.0.0.1:1/none"]),
        "statusgate: error: cannot open database postgres://nobody@127.0.0.1:1/none",
    );
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_address = busy.local_addr().unwrap().to_string();
    assert_fails_with(
        statusgate().args([
            "--database-url",
            &sqlite_url,
            "--grpc-listen",
            &busy_address,
        ]),
        &format!("statusgate: error: cannot listen for gRPC on {busy_address}"),
    );
    let (code, stderr) = run(statusgate().args(["--grpc-listen", "not-an-address"]));
    assert_eq!(code, Some(2), "clap rejects unparsable flags: {stderr}");
    assert!(
        stderr.contains("invalid value 'not-an-address'"),
        "{stderr}"
    );
}

#[tokio::test]
async fn migrate_applies_the_schema_and_exits() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let database = TestDatabase::new(backend).await;
        let (code, stderr) = run(statusgate().args(["migrate", "--database-url", database.url()]));
        assert_eq!(code, Some(0), "{backend:?}: {stderr}");
        assert!(stderr.contains("migrations applied"), "{stderr}");
        // The schema is there: the store opens without migrating anything new.
        let config = statusgate::config::Config::for_database(database.url());
        let store = statusgate::app::open_store(&config).await.unwrap();
        store.ping(std::time::Duration::from_secs(5)).await.unwrap();
        store.close().await;
    }
}

#[test]
fn serves_until_sigterm_then_exits_cleanly() {
    let directory = tempfile::tempdir().unwrap();
    let mut child = statusgate()
        .current_dir(directory.path())
        .args([
            "--grpc-listen",
            "127.0.0.1:0",
            "--http-listen",
            "127.0.0.1:0",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert_ne!(
            stderr.read_line(&mut line).unwrap(),
            0,
            "statusgate exited before listening"
        );
        if line.contains("statusgate listening") {
            break;
        }
    }
    assert!(
        line.contains("backend=\"sqlite\""),
        "the embedded default: {line}"
    );
    assert!(
        directory.path().join("statusgate.db").exists(),
        "the database file is created in the working directory"
    );
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "statusgate did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
}

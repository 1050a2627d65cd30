//! The `statusgate` binary itself: configuration errors, `migrate`, and a
//! clean exit on SIGTERM.

use std::process::Command;

use crate::common::binary::{spawn_listening, statusgate};
use crate::common::{Backend, TestDatabase};

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

#[tokio::test]
async fn serves_until_sigterm_then_exits_cleanly() {
    let directory = tempfile::tempdir().unwrap();
    let mut binary = spawn_listening(directory.path(), &[]);
    assert!(
        binary.listening_line.contains("backend=\"sqlite\""),
        "the embedded default: {}",
        binary.listening_line
    );
    assert!(
        directory.path().join("statusgate.db").exists(),
        "the database file is created in the working directory"
    );
    let status = binary.terminate().await;
    assert_eq!(status.code(), Some(0));
}

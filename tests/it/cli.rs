//! The `statusgate` binary itself: configuration errors, `migrate`, the
//! `credentials` commands, and a clean exit on SIGTERM.

use std::process::Command;

use crate::common::auth::CREDENTIALS_KEY;
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

#[test]
fn exposed_listeners_need_an_explicit_auth_mode_and_sigv4_a_key() {
    let directory = tempfile::tempdir().unwrap();
    let sqlite_url = format!("sqlite://{}", directory.path().join("x.db").display());
    assert_fails_with(
        statusgate().args(["--database-url", &sqlite_url, "--http-listen", "0.0.0.0:0"]),
        "statusgate: error: --http-listen 0.0.0.0:0 is not a loopback address: say --auth sigv4",
    );
    assert_fails_with(
        statusgate().args(["--database-url", &sqlite_url, "--auth", "sigv4"]),
        "statusgate: error: --auth sigv4 needs the credentials key",
    );
    assert_fails_with(
        statusgate()
            .args(["--database-url", &sqlite_url, "--auth", "sigv4"])
            .env("STATUSGATE_CREDENTIALS_KEY", "c2hvcnQ="),
        "statusgate: error: the credentials key is 5 bytes",
    );
}

fn credentials(database_url: &str, arguments: &[&str]) -> (Option<i32>, String, String) {
    let output = statusgate()
        .arg("credentials")
        .args(arguments)
        .args(["--database-url", database_url])
        .env("STATUSGATE_CREDENTIALS_KEY", CREDENTIALS_KEY)
        .output()
        .expect("run statusgate credentials");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn credentials_are_created_listed_and_revoked_from_the_command_line() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let database = TestDatabase::new(backend).await;
        let url = database.url();
        let (code, stdout, stderr) = credentials(
            url,
            &["create", "--account", "123456789012", "--role", "client"],
        );
        assert_eq!(code, Some(0), "{stderr}");
        let created: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
        let object = created.as_object().unwrap();
        let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["AccessKeyId", "Account", "Role", "SecretAccessKey"]);
        let access_key_id = created["AccessKeyId"].as_str().unwrap().to_owned();
        let secret = created["SecretAccessKey"].as_str().unwrap().to_owned();
        assert!(
            access_key_id.starts_with("SGAK") && access_key_id.len() == 20,
            "{access_key_id}"
        );
        assert_eq!(secret.len(), 40);
        assert_eq!(created["Account"], "123456789012");
        assert_eq!(created["Role"], "client");

        let (code, stdout, stderr) =
            credentials(url, &["create", "--all-accounts", "--role", "worker"]);
        assert_eq!(code, Some(0), "{stderr}");
        let worker: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
        assert_eq!(worker["Account"], "*");

        let (code, _, stderr) = credentials(url, &["create", "--all-accounts", "--role", "client"]);
        assert_eq!(
            code,
            Some(1),
            "a client of every account is refused: {stderr}"
        );
        assert!(stderr.contains("must be bound to one account"), "{stderr}");

        let (code, stdout, stderr) = credentials(url, &["list"]);
        assert_eq!(code, Some(0), "{stderr}");
        assert!(!stdout.contains(&secret), "list never shows secrets");
        assert!(!stdout.contains("SecretAccessKey"));
        let listed: Vec<serde_json::Value> = stdout
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0]["AccessKeyId"], access_key_id.as_str());
        assert!(listed[0]["RevokedAt"].is_null());

        let (code, _, stderr) = credentials(url, &["revoke", &access_key_id]);
        assert_eq!(code, Some(0), "{stderr}");
        let (_, stdout, _) = credentials(url, &["list"]);
        let first: serde_json::Value =
            serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
        assert!(first["RevokedAt"].is_string(), "{first}");

        let (code, _, stderr) = credentials(url, &["revoke", "SGAKAAAAAAAAAAAAAAAA"]);
        assert_eq!(code, Some(1));
        assert!(
            stderr.contains("no credential has the access key id SGAKAAAAAAAAAAAAAAAA"),
            "{stderr}"
        );

        let (code, _, stderr) = {
            let output = statusgate()
                .args([
                    "credentials",
                    "create",
                    "--account",
                    "123456789012",
                    "--role",
                    "admin",
                ])
                .args(["--database-url", url])
                .output()
                .unwrap();
            (
                output.status.code(),
                (),
                String::from_utf8_lossy(&output.stderr).into_owned(),
            )
        };
        assert_eq!(code, Some(1), "no key: {stderr}");
        assert!(
            stderr.contains("no credentials key is configured"),
            "{stderr}"
        );
    }
}

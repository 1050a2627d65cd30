//! The `statusgate` binary: parses the configuration, raises the soft limit
//! on open files to the hard one, then serves (default), migrates, or runs a
//! `credentials` command. While serving, SIGTERM/SIGINT drain and stop,
//! SIGHUP reloads the TLS files. Any start-up failure is one line on stderr
//! and exit code 1.

use std::process::ExitCode;

use clap::Parser;
use statusgate::app::{self, Application};
use statusgate::config::{Cli, Command, Config};
use statusgate::telemetry;

/// jemalloc rather than glibc's malloc: measured with 1,000 idle gRPC and
/// 1,000 idle HTTP/1.1 connections, each holding h2's or hyper's fixed
/// buffers, it keeps 4.5 KiB fewer resident bytes per gRPC connection (about
/// 1 KiB more per HTTP/1.1 one) and runs 8.7% fewer instructions per status
/// read (docs/performance.md, "Memory").
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Before anything opens a descriptor: every connection takes one, and
    // the default soft limit (often 1,024) is far below the connection cap.
    let open_files = statusgate::net::raise_open_files_limit();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("statusgate: error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        let telemetry = telemetry::init();
        match &open_files {
            Ok(limit) => tracing::debug!(limit, "open files limit"),
            Err(error) => tracing::warn!(%error, "cannot raise the open files limit"),
        }
        let outcome = match cli.command {
            Some(Command::Migrate) => app::migrate(&cli.config).await,
            Some(Command::Credentials(command)) => {
                statusgate::cli::credentials(&cli.config, command).await
            }
            Some(Command::Serve) | None => serve(cli.config).await,
        };
        telemetry.shutdown().await;
        outcome
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("statusgate: error: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> Result<(), app::StartupError> {
    // Listen for signals before anything can be told to stop: a SIGTERM that
    // arrives right after start-up must drain, not kill, the server.
    let stop = shutdown_signal();
    let hangups = hangup_signal();
    let application = Application::start(config).await?;
    let reloader = application.tls_reloader();
    let reloading = tokio::spawn(async move {
        let Some(mut hangups) = hangups else {
            return;
        };
        while next_hangup(&mut hangups).await.is_some() {
            reloader.reload();
        }
    });
    let outcome = application.run_until(stop).await;
    reloading.abort();
    outcome
}

/// SIGHUP, registered before start-up like the stop signals: registering
/// replaces its default action, which would end the process.
#[cfg(unix)]
type Hangups = tokio::signal::unix::Signal;

#[cfg(unix)]
fn hangup_signal() -> Option<Hangups> {
    use tokio::signal::unix::{SignalKind, signal};
    signal(SignalKind::hangup()).ok()
}

#[cfg(unix)]
async fn next_hangup(hangups: &mut Hangups) -> Option<()> {
    hangups.recv().await
}

#[cfg(not(unix))]
type Hangups = ();

#[cfg(not(unix))]
fn hangup_signal() -> Option<Hangups> {
    None
}

#[cfg(not(unix))]
async fn next_hangup(_hangups: &mut Hangups) -> Option<()> {
    None
}

/// Registers for SIGINT (Ctrl-C) and SIGTERM at once; the returned future
/// completes on the first of them.
#[cfg(unix)]
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let interrupt = signal(SignalKind::interrupt());
    let terminate = signal(SignalKind::terminate());
    async move {
        let wait = |registered: std::io::Result<tokio::signal::unix::Signal>| async move {
            match registered {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = wait(interrupt) => {}
            () = wait(terminate) => {}
        }
    }
}

#[cfg(not(unix))]
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}

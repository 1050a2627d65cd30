//! The `statusgate` binary: parses the configuration, then serves (default),
//! migrates, or runs a `credentials` command. Any start-up failure is one
//! line on stderr and exit code 1.

use std::process::ExitCode;

use clap::Parser;
use statusgate::app::{self, Application};
use statusgate::config::{Cli, Command, Config};
use statusgate::telemetry;

fn main() -> ExitCode {
    let cli = Cli::parse();
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
    let application = Application::start(config).await?;
    application.run_until(stop).await
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

//! File descriptors: the binary raises its soft limit on open files to the
//! hard one at start, and at the limit its accept loops back off instead of
//! spinning, while connections already open are still served. On the old
//! code the limit stayed where it was, and once it was reached the gRPC
//! accept loop burned a whole core (4.25 s of CPU per 5 s) and answered no
//! one until connections closed.

use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

use rlimit::Resource;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::binary::{RunningBinary, spawn_listening_with};
use crate::common::change_tokens::{get_token, global};
use crate::common::{ACCOUNT, wait_until};

/// Starts the binary with the given soft and hard limits on open files.
fn spawn_with_open_files(directory: &std::path::Path, soft: u64, hard: u64) -> RunningBinary {
    spawn_listening_with(directory, &[], |command| {
        command.args(["--database-max-connections", "2"]);
        // Runs in the child between fork and exec: only the setrlimit call.
        unsafe {
            command.pre_exec(move || rlimit::setrlimit(Resource::NOFILE, soft, hard));
        }
    })
}

/// The soft and hard "Max open files" of a process.
fn open_files_limits(pid: u32) -> (u64, u64) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .expect("a Max open files line");
    let numbers: Vec<u64> = line
        .split_whitespace()
        .filter_map(|word| word.parse().ok())
        .collect();
    (numbers[0], numbers[1])
}

/// User plus system CPU time the process has used.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which is in parentheses): utime is the
    // 14th field of the line, stime the 15th.
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    Duration::from_millis(ticks * 1000 / per_second)
}

fn open_descriptors(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |entries| entries.count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_soft_open_files_limit_is_raised_to_the_hard_one() {
    let directory = tempfile::tempdir().unwrap();
    let mut binary = spawn_with_open_files(directory.path(), 256, 4096);
    assert_eq!(open_files_limits(binary.pid()), (4096, 4096));
    assert!(binary.terminate().await.success());
}

async fn healthz_on(stream: &mut TcpStream) -> String {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: statusgate\r\n\r\n")
        .await
        .unwrap();
    let mut buffer = [0u8; 1024];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer))
        .await
        .expect("an answer on the open connection")
        .unwrap();
    String::from_utf8_lossy(&buffer[..read]).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_descriptor_limit_accepting_backs_off_and_open_connections_are_served() {
    const LIMIT: u64 = 64;
    let directory = tempfile::tempdir().unwrap();
    let mut binary = spawn_with_open_files(directory.path(), LIMIT, LIMIT);
    let pid = binary.pid();
    // Connections opened before the limit is reached.
    let mut open_http = TcpStream::connect(&binary.http_address).await.unwrap();
    assert!(healthz_on(&mut open_http).await.starts_with("HTTP/1.1 200"));
    let mut open_grpc = binary.change_tokens().await;
    get_token(&mut open_grpc, global(ACCOUNT)).await;

    // Exhaust the descriptors with connections to both listeners.
    let mut flood = Vec::new();
    for index in 0..2 * LIMIT {
        let address = if index % 2 == 0 {
            &binary.grpc_address
        } else {
            &binary.http_address
        };
        flood.push(TcpStream::connect(address).await.unwrap());
    }
    wait_until(
        Duration::from_secs(10),
        "the server to run out of descriptors",
        async || {
            let open = open_descriptors(pid);
            if open as u64 >= LIMIT - 2 {
                Ok(())
            } else {
                Err(format!("{open} open"))
            }
        },
    )
    .await;

    // Time must pass to show the process stays calm at the limit: the old
    // accept loop used a core for all of it.
    let cpu_before = cpu_time(pid);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let used = cpu_time(pid) - cpu_before;
    let elapsed = started.elapsed();
    assert!(
        used < elapsed / 4,
        "{used:?} of CPU in {elapsed:?} at the descriptor limit"
    );

    // Connections already open are still served.
    assert!(healthz_on(&mut open_http).await.starts_with("HTTP/1.1 200"));
    get_token(&mut open_grpc, global(ACCOUNT)).await;

    // Once descriptors free up, new connections are accepted again.
    drop(flood);
    let http_address = binary.http_address.clone();
    wait_until(
        Duration::from_secs(20),
        "a new connection to be served",
        async || {
            let mut fresh = TcpStream::connect(&http_address)
                .await
                .map_err(|error| error.to_string())?;
            let answer = tokio::time::timeout(Duration::from_secs(2), healthz_on(&mut fresh))
                .await
                .map_err(|_| "no answer yet".to_owned())?;
            answer
                .starts_with("HTTP/1.1 200")
                .then_some(())
                .ok_or(answer)
        },
    )
    .await;
    assert!(binary.terminate().await.success());
}

//! Metric labels are bounded: calls to methods and targets statusgate does
//! not serve are counted under one `unknown` operation, so no caller can grow
//! `/metrics` (on the old code every made-up gRPC method became a label set
//! of its own, and 44,200 of them made a 3.4 GB scrape).

use futures::StreamExt;
use http::uri::PathAndQuery;
use tonic::Code;

use crate::common::facade::{CLOUD_CONTROL, JSON_1_0, WAF, aws_json};
use crate::common::{Backend, TestApp};

/// Made-up names per transport: enough that a label per name would show.
const CALLS: usize = 2_000;

/// The scrape of a fresh server is a few KiB; a label set per made-up name
/// would make it megabytes.
const MAX_SCRAPE_BYTES: usize = 64 * 1024;

async fn scrape(app: &TestApp) -> String {
    reqwest::get(format!("{}/metrics", app.http_endpoint()))
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("the scrape")
}

/// The value of the sample that starts with `prefix` (labels included).
fn sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|line| line.starts_with(prefix))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_up_grpc_methods_are_counted_under_one_label() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let channel = app.channel().await;
    let answers: Vec<Code> = futures::stream::iter(0..CALLS)
        .map(|index| {
            let channel = channel.clone();
            async move {
                let mut client = tonic::client::Grpc::new(channel);
                client.ready().await.expect("the channel is ready");
                let path = PathAndQuery::try_from(format!("/made.up.Service{index}/Method{index}"))
                    .unwrap();
                let codec = tonic_prost::ProstCodec::<(), ()>::default();
                match client.unary(tonic::Request::new(()), path, codec).await {
                    Ok(_) => Code::Ok,
                    Err(status) => status.code(),
                }
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    assert!(
        answers.iter().all(|code| *code == Code::Unimplemented),
        "{answers:?}"
    );

    let text = scrape(&app).await;
    assert!(
        text.len() < MAX_SCRAPE_BYTES,
        "the scrape grew to {} bytes",
        text.len()
    );
    assert!(!text.contains("Method1"), "a made-up method became a label");
    let counted = sample(
        &text,
        r#"statusgate_requests_total{transport="grpc",operation="unknown",outcome="client_error"}"#,
    );
    assert_eq!(counted, Some(CALLS as f64), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_up_targets_and_paths_are_counted_under_one_label() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let endpoint = app.http_endpoint();
    let statuses: Vec<u16> = futures::stream::iter(0..CALLS)
        .map(|index| {
            let endpoint = endpoint.clone();
            async move {
                let request = if index % 2 == 0 {
                    aws_json(&endpoint, &format!("{CLOUD_CONTROL}.MadeUp{index}"))
                        .header("Content-Type", JSON_1_0)
                        .body("{}")
                } else {
                    aws_json(
                        &format!("{endpoint}/made/up/{index}"),
                        &format!("{WAF}.GetChangeToken"),
                    )
                    .body("{}")
                };
                request
                    .send()
                    .await
                    .expect("the facade answers")
                    .status()
                    .as_u16()
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    assert!(statuses.iter().all(|status| *status == 400), "{statuses:?}");

    let text = scrape(&app).await;
    assert!(
        text.len() < MAX_SCRAPE_BYTES,
        "the scrape grew to {} bytes",
        text.len()
    );
    assert!(!text.contains("MadeUp"), "a made-up target became a label");
    let counted = sample(
        &text,
        r#"statusgate_requests_total{transport="http",operation="unknown",outcome="client_error"}"#,
    );
    assert_eq!(counted, Some(CALLS as f64), "{text}");
}

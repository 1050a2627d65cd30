//! Times a worker records must lie near the present (from a day before now
//! to a year after): one worker's `RetryAfter` in the year 10000 is
//! `INVALID_ARGUMENT` naming the member, and every reader of the account can
//! still read its requests. On the old code that time was stored and
//! returned, and boto3 then failed to parse `GetResourceRequestStatus` and
//! `ListResourceRequests` for the whole account.

use std::time::{SystemTime, UNIX_EPOCH};

use statusgate::grpc::proto::OperationStatus;

use crate::backend_tests;
use crate::common::grpc_errors::assert_invalid_field;
use crate::common::resource_requests::{create, create_request, record, report};
use crate::common::{ACCOUNT, Backend, TestApp};

/// 10000-01-01T00:00:00Z, past what boto3 (Python's datetime) can parse.
const YEAR_10000: i64 = 253_402_300_800;

fn seconds_from_now(offset: i64) -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        + offset
}

fn at(seconds: i64) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp { seconds, nanos: 0 })
}

async fn retry_times_far_from_now_are_refused_and_readers_keep_working(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut client = app.resource_requests().await;
    let token = create(&mut client, create_request(None))
        .await
        .request_token;
    let two_days_ago = seconds_from_now(-2 * 24 * 3600);
    for absurd in [
        YEAR_10000,
        two_days_ago,
        seconds_from_now(400 * 24 * 3600),
        i64::MAX / 2,
    ] {
        let mut pending = report(&token, OperationStatus::InProgress);
        pending.retry_after = at(absurd);
        let refused = record(&mut client, pending).await.unwrap_err();
        assert_invalid_field(&refused, "ValidationException", "retry_after");
    }
    let in_an_hour = seconds_from_now(3600);
    let mut fine = report(&token, OperationStatus::InProgress);
    fine.retry_after = at(in_an_hour);
    record(&mut client, fine)
        .await
        .expect("a retry time an hour away");

    // Created over gRPC in the default region.
    let sdk = app.sdk(ACCOUNT, "us-east-1").cloudcontrol();
    let status = sdk
        .get_resource_request_status()
        .request_token(&token)
        .send()
        .await
        .expect("the SDK reads the request");
    let retry_after = status.progress_event().unwrap().retry_after().unwrap();
    assert_eq!(retry_after.secs(), in_an_hour);
    let listed = sdk
        .list_resource_requests()
        .send()
        .await
        .expect("the SDK lists the account's requests");
    assert_eq!(listed.resource_request_status_summaries().len(), 1);
}

backend_tests!(retry_times_far_from_now_are_refused_and_readers_keep_working);

//! The waiting and watching calls: `WaitResourceRequest`,
//! `WatchResourceRequest` (in `ResourceRequestService`) and
//! `WatchChangeToken` (in `ChangeTokenService`). Server streams are the
//! service's streams with each item converted; a stream's error ends it
//! with that status.

use std::pin::Pin;
use std::time::Duration;

use futures::{Stream, StreamExt};
use tonic::Status;
use tonic::metadata::MetadataMap;

use super::convert;
use super::proto::{
    GetChangeTokenStatusResponse, WaitResourceRequestRequest, WaitResourceRequestResponse,
    WatchResourceRequestRequest, WatchResourceRequestResponse,
};
use super::resource_requests::{invalid, request_token, to_status};
use super::status::status_from_error;
use crate::domain::ApiFamily;
use crate::domain::change_token::ChangeTokenScope;
use crate::domain::resource::AccountRegion;
use crate::domain::values::{ChangeToken, WaitTimeout};
use crate::service::WatchService;

/// A server stream as tonic serves it.
pub type ServerStream<Item> = Pin<Box<dyn Stream<Item = Result<Item, Status>> + Send>>;

/// The caller's deadline (the `grpc-timeout` header), if it sent one.
/// tonic enforces it but does not hand it to handlers.
fn deadline_of(metadata: &MetadataMap) -> Option<Duration> {
    let value = metadata.get("grpc-timeout")?.to_str().ok()?;
    let unit_at = value.len().checked_sub(1)?;
    let (amount, unit) = value.split_at(unit_at);
    let amount: u64 = amount.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount.saturating_mul(3600)),
        "M" => Duration::from_secs(amount.saturating_mul(60)),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

/// How long a wait may last within the caller's deadline: that deadline
/// less a margin (a tenth, at most a second), so that the answer arrives
/// before the caller gives up.
pub(super) fn wait_within(metadata: &MetadataMap) -> Option<Duration> {
    deadline_of(metadata)
        .map(|deadline| deadline.saturating_sub((deadline / 10).min(Duration::from_secs(1))))
}

/// Parses a wait timeout member (absent: the default).
pub(super) fn wait_timeout(timeout: Option<prost_types::Duration>) -> Result<WaitTimeout, Status> {
    let timeout = convert::optional_duration(WaitTimeout::MEMBER, timeout).map_err(invalid)?;
    WaitTimeout::parse(timeout).map_err(invalid)
}

pub(super) async fn wait(
    watches: &WatchService,
    scope: &AccountRegion,
    metadata: &MetadataMap,
    request: WaitResourceRequestRequest,
) -> Result<WaitResourceRequestResponse, Status> {
    let token = request_token(request.request_token)?;
    let timeout = wait_timeout(request.timeout)?;
    let event = watches
        .wait(scope, &token, timeout, wait_within(metadata))
        .await
        .map_err(to_status)?;
    Ok(WaitResourceRequestResponse {
        progress_event: Some(convert::progress_event_to_proto(event)),
    })
}

pub(super) async fn watch_request(
    watches: &WatchService,
    scope: &AccountRegion,
    request: WatchResourceRequestRequest,
) -> Result<ServerStream<WatchResourceRequestResponse>, Status> {
    let token = request_token(request.request_token)?;
    let events = watches
        .watch_request(scope, &token, request.start_after_event_number)
        .await
        .map_err(to_status)?;
    Ok(events
        .map(|numbered| {
            numbered
                .map(|numbered| WatchResourceRequestResponse {
                    progress_event: Some(convert::progress_event_to_proto(numbered.event)),
                    event_number: numbered.number,
                })
                .map_err(to_status)
        })
        .boxed())
}

pub(super) async fn watch_change_token(
    watches: &WatchService,
    scope: &ChangeTokenScope,
    token: &ChangeToken,
) -> Result<ServerStream<GetChangeTokenStatusResponse>, Status> {
    // Change tokens speak for WAF: errors take its AWS names.
    let waf_status = |error| status_from_error(error, ApiFamily::Waf);
    let statuses = watches
        .watch_change_token(scope, token)
        .await
        .map_err(waf_status)?;
    Ok(statuses
        .map(move |status| {
            status
                .map(|status| GetChangeTokenStatusResponse {
                    change_token_status: convert::change_token_status_to_proto(status),
                })
                .map_err(waf_status)
        })
        .boxed())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata_with_timeout(value: &str) -> MetadataMap {
        let mut metadata = MetadataMap::new();
        metadata.insert("grpc-timeout", value.parse().unwrap());
        metadata
    }

    #[test]
    fn caller_deadlines_are_read_in_every_unit() {
        let table = [
            ("2H", Duration::from_secs(7200)),
            ("3M", Duration::from_secs(180)),
            ("10S", Duration::from_secs(10)),
            ("250m", Duration::from_millis(250)),
            ("7u", Duration::from_micros(7)),
            ("9n", Duration::from_nanos(9)),
        ];
        for (header, expected) in table {
            assert_eq!(
                deadline_of(&metadata_with_timeout(header)),
                Some(expected),
                "{header}"
            );
        }
        for garbage in ["", "S", "10x", "-1S"] {
            assert_eq!(
                deadline_of(&metadata_with_timeout(garbage)),
                None,
                "{garbage}"
            );
        }
        assert_eq!(deadline_of(&MetadataMap::new()), None);
    }

    #[test]
    fn waits_answer_a_margin_before_the_callers_deadline() {
        assert_eq!(
            wait_within(&metadata_with_timeout("10S")),
            Some(Duration::from_secs(9))
        );
        assert_eq!(
            wait_within(&metadata_with_timeout("60S")),
            Some(Duration::from_secs(59))
        );
        assert_eq!(wait_within(&MetadataMap::new()), None);
    }
}

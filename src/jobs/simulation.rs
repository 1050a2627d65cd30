//! Simulation mode, for environments with no real worker (docker-compose
//! development setups): a stand-in for WAF propagation that moves used change
//! tokens to `INSYNC`, and a stand-in for the Cloud Control worker that drives
//! resource requests `PENDING -> IN_PROGRESS -> SUCCESS` and finishes
//! cancellations. It owns the two polling loops and the choice of what the
//! simulated worker reports; the state machine stays in `domain` and every
//! change goes through the services like a real worker's report would.
//!
//! Everything is driven by the database, not by timers in this process:
//! each tick asks the store what is due, and each change is made under the
//! store's row lock after re-checking that the request is still as it was
//! listed and still due. So several replicas can simulate against one
//! Postgres database at once, and a restart loses nothing.
//!
//! Finding due requests is a plain indexed read, not `FOR UPDATE SKIP LOCKED`:
//! the locks of a short claiming transaction would be gone before the update
//! that follows it, so they would claim nothing, and the update's own row lock
//! plus the re-check already make a second replica's attempt a no-op. The
//! price is that two replicas may queue on the same row for a moment, which
//! a development setup can afford.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::domain::resource_request::{
    Operation, OperationStatus, ProgressReport, StoredResourceRequest,
};
use crate::domain::values::{Identifier, RequestToken};
use crate::domain::{ErrorCode, Timestamp};
use crate::service::Services;

/// Shortest pause between ticks, whatever the delay.
const MIN_POLL_INTERVAL: Duration = Duration::from_millis(10);
/// Longest pause between ticks: a step is never more than this late.
const MAX_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// Tokens marked per statement: small enough that no lock is held long.
const CHANGE_TOKEN_BATCH_SIZE: u32 = 100;
/// Requests advanced per tick.
const REQUEST_BATCH_SIZE: u32 = 100;

/// How often the loops look for due work: a quarter of the delay, so a step
/// happens at most a quarter late, between 10 ms and 1 s.
pub fn poll_interval(delay: Duration) -> Duration {
    (delay / 4).clamp(MIN_POLL_INTERVAL, MAX_POLL_INTERVAL)
}

/// Moves `PENDING` change tokens to `INSYNC` once `delay` has passed since
/// they were used, until `stop` is cancelled.
pub async fn propagate_change_tokens(services: Services, delay: Duration, stop: CancellationToken) {
    tracing::info!(delay = ?delay, "simulating change token propagation");
    tick_until_stopped(poll_interval(delay), &stop, || {
        propagate_due_change_tokens(&services, delay)
    })
    .await;
}

/// Drives resource requests `PENDING -> IN_PROGRESS -> SUCCESS`, each step
/// `delay` after the request's previous event, and finishes cancellations
/// (`CANCEL_IN_PROGRESS -> CANCEL_COMPLETE`), until `stop` is cancelled.
pub async fn provision_resource_requests(
    services: Services,
    delay: Duration,
    stop: CancellationToken,
) {
    tracing::info!(delay = ?delay, "simulating resource provisioning");
    tick_until_stopped(poll_interval(delay), &stop, || {
        provision_due_requests(&services, delay)
    })
    .await;
}

/// Runs `tick` every `interval` until `stop` is cancelled. A tick under way
/// is abandoned on stop: its open transaction, if any, rolls back.
async fn tick_until_stopped<Tick>(
    interval: Duration,
    stop: &CancellationToken,
    mut tick: impl FnMut() -> Tick,
) where
    Tick: Future<Output = ()>,
{
    let mut ticker = tokio::time::interval(interval);
    // After a slow tick, wait a whole interval rather than catching up.
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            () = stop.cancelled() => return,
            _ = ticker.tick() => {}
        }
        tokio::select! {
            biased;
            () = stop.cancelled() => return,
            () = tick() => {}
        }
    }
}

/// One tick of propagation: batch after batch until one comes back short
/// (every batch moves its tokens out of `PENDING`, so this ends).
async fn propagate_due_change_tokens(services: &Services, delay: Duration) {
    loop {
        let marked = match services
            .change_tokens
            .mark_propagated_in_sync(delay, CHANGE_TOKEN_BATCH_SIZE)
            .await
        {
            Ok(marked) => marked,
            Err(error) => {
                tracing::warn!(%error, "simulating change token propagation failed");
                return;
            }
        };
        if marked > 0 {
            tracing::debug!(change_tokens = marked, "simulated propagation");
        }
        if marked < u64::from(CHANGE_TOKEN_BATCH_SIZE) {
            return;
        }
    }
}

/// One tick of provisioning: one batch of due requests, each advanced by one
/// step. Later steps (and any backlog) are left to later ticks.
async fn provision_due_requests(services: &Services, delay: Duration) {
    let due = match services
        .resource_requests
        .list_unfinished_idle_for(delay, REQUEST_BATCH_SIZE)
        .await
    {
        Ok(due) => due,
        Err(error) => {
            tracing::warn!(%error, "listing due resource requests failed");
            return;
        }
    };
    for listed in due {
        advance_request(services, &listed, delay).await;
    }
}

/// Advances one listed request by one step, if it is still as listed and
/// still due once locked; logs what happened.
async fn advance_request(services: &Services, listed: &StoredResourceRequest, delay: Duration) {
    let request_token = listed.current.request_token.as_str();
    let Ok(token) = RequestToken::parse(request_token) else {
        tracing::warn!(request_token, "stored request token is not valid");
        return;
    };
    let choose_report = |locked: &StoredResourceRequest, now: Timestamp| {
        report_if_still_due(listed, locked, now, delay)
    };
    match services
        .resource_requests
        .record_progress_when(&listed.account, &token, &choose_report)
        .await
    {
        Ok(Some(event)) => tracing::debug!(
            request_token,
            operation = event.operation.as_str(),
            operation_status = event.operation_status.as_str(),
            "simulated progress recorded"
        ),
        Ok(None) => {}
        // Purged since it was listed: nothing left to do.
        Err(error) if error.code == ErrorCode::RequestTokenNotFound => {}
        Err(error) => {
            tracing::warn!(request_token, %error, "simulating resource provisioning failed");
        }
    }
}

/// The re-check made under the row lock: the next step's report, if the
/// request is still as it was listed and `delay` has passed since its latest
/// event. When someone (another replica, a cancel, a real worker) has
/// appended an event since the listing, it is not the request that was
/// judged due, and a later tick will judge it again.
fn report_if_still_due(
    listed: &StoredResourceRequest,
    locked: &StoredResourceRequest,
    now: Timestamp,
    delay: Duration,
) -> Option<ProgressReport> {
    if locked.event_count != listed.event_count
        || locked.current.operation_status != listed.current.operation_status
    {
        return None;
    }
    if !is_due(locked, now, delay) {
        return None;
    }
    next_simulated_report(locked)
}

/// Whether `delay` has passed since the request's latest event.
fn is_due(request: &StoredResourceRequest, now: Timestamp, delay: Duration) -> bool {
    request.current.event_time <= now.minus(delay)
}

/// What the simulated worker reports next; `None` for a finished request.
fn next_simulated_report(request: &StoredResourceRequest) -> Option<ProgressReport> {
    match request.current.operation_status {
        OperationStatus::Pending => Some(plain_report(OperationStatus::InProgress)),
        OperationStatus::InProgress => Some(success_report(request)),
        OperationStatus::CancelInProgress => Some(plain_report(OperationStatus::CancelComplete)),
        OperationStatus::Success | OperationStatus::Failed | OperationStatus::CancelComplete => {
            None
        }
    }
}

/// A report that changes only the status (identifier and model stay as they are).
fn plain_report(operation_status: OperationStatus) -> ProgressReport {
    ProgressReport {
        operation_status,
        identifier: None,
        resource_model: None,
        status_message: None,
        error_code: None,
        retry_after: None,
    }
}

/// `SUCCESS`, with what each operation leaves behind:
/// - CREATE: the model is the desired state; the identifier is one already
///   reported, else the model's primary key, else a generated one.
/// - UPDATE: identifier kept; the model is left as it is (absent unless a
///   worker reported one). statusgate keeps requests, not resources, so it
///   has no last known model to apply the patch to, and a model built from
///   the patch alone would be a guess dressed up as the resource's state.
/// - DELETE: identifier kept, no model.
fn success_report(request: &StoredResourceRequest) -> ProgressReport {
    let mut report = plain_report(OperationStatus::Success);
    match request.input.operation {
        Operation::Create => {
            let desired_state = request.input.desired_state.as_ref();
            if request.current.identifier.is_none() {
                report.identifier = identifier_for_created_resource(
                    request.input.type_name.as_str(),
                    desired_state.map(|state| state.as_str()),
                );
            }
            report.resource_model = desired_state.cloned();
        }
        Operation::Update | Operation::Delete => {}
    }
    report
}

/// The identifier a simulated CREATE gives its resource. statusgate does not
/// know each type's schema, so it guesses the primary key from the type's
/// last segment (`LogGroup` in `AWS::Logs::LogGroup`): the first of
/// `LogGroupName`, `LogGroupId`, `LogGroupArn`, `Id`, `Name`, `Arn` that is a
/// top-level string or integer member of the desired state (an exact match
/// first, then ignoring case, so `VpcId` serves `AWS::EC2::VPC`). When none
/// is there: `loggroup-` and 8 random hex digits.
pub fn identifier_for_created_resource(
    type_name: &str,
    desired_state: Option<&str>,
) -> Option<Identifier> {
    desired_state
        .and_then(|model| identifier_from_model(type_name, model))
        .or_else(|| Identifier::parse(generated_identifier(type_name)).ok())
}

/// The last segment of a type name (`LogGroup` in `AWS::Logs::LogGroup`).
fn resource_kind(type_name: &str) -> &str {
    type_name.rsplit("::").next().unwrap_or(type_name)
}

/// The primary key the heuristic finds in a JSON model, if any.
fn identifier_from_model(type_name: &str, model: &str) -> Option<Identifier> {
    let model: serde_json::Value = serde_json::from_str(model).ok()?;
    let members = model.as_object()?;
    let kind = resource_kind(type_name);
    let candidate_keys = [
        format!("{kind}Name"),
        format!("{kind}Id"),
        format!("{kind}Arn"),
        "Id".to_owned(),
        "Name".to_owned(),
        "Arn".to_owned(),
    ];
    candidate_keys.iter().find_map(|key| {
        let value = members.get(key.as_str()).or_else(|| {
            members
                .iter()
                .find(|(member, _)| member.eq_ignore_ascii_case(key))
                .map(|(_, value)| value)
        })?;
        identifier_from_value(value)
    })
}

/// A string or integer member as an identifier; anything else is no key.
fn identifier_from_value(value: &serde_json::Value) -> Option<Identifier> {
    let text = match value {
        serde_json::Value::String(text) => text.clone(),
        serde_json::Value::Number(number) if number.is_i64() || number.is_u64() => {
            number.to_string()
        }
        _ => return None,
    };
    if text.trim().is_empty() {
        return None;
    }
    Identifier::parse(text).ok()
}

/// `loggroup-1a2b3c4d` for `AWS::Logs::LogGroup`.
fn generated_identifier(type_name: &str) -> String {
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "{}-{}",
        resource_kind(type_name).to_ascii_lowercase(),
        &random[..8]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::AccountId;
    use crate::domain::resource_request::{ProgressEvent, ResourceRequestInput};
    use crate::domain::values::{JsonDocument, TypeName};

    fn identifier(type_name: &str, desired_state: &str) -> Option<String> {
        identifier_from_model(type_name, desired_state).map(Identifier::into_string)
    }

    #[test]
    fn the_primary_key_is_found_in_the_model() {
        // (type, desired state, expected identifier)
        let table = [
            (
                "AWS::Logs::LogGroup",
                r#"{"LogGroupName":"app-logs","RetentionInDays":7}"#,
                Some("app-logs"),
            ),
            // The type's own name beats its id, which beats its ARN.
            (
                "AWS::Logs::LogGroup",
                r#"{"LogGroupArn":"arn:aws:logs:x","LogGroupId":"lg-1","LogGroupName":"n"}"#,
                Some("n"),
            ),
            (
                "AWS::Logs::LogGroup",
                r#"{"LogGroupArn":"arn:aws:logs:x","LogGroupId":"lg-1"}"#,
                Some("lg-1"),
            ),
            (
                "AWS::Logs::LogGroup",
                r#"{"LogGroupArn":"arn:aws:logs:x"}"#,
                Some("arn:aws:logs:x"),
            ),
            // Then the generic keys, in order Id, Name, Arn.
            (
                "AWS::Foo::Bar",
                r#"{"Arn":"arn:x","Name":"n","Id":"i"}"#,
                Some("i"),
            ),
            ("AWS::Foo::Bar", r#"{"Arn":"arn:x","Name":"n"}"#, Some("n")),
            ("AWS::Foo::Bar", r#"{"Arn":"arn:x"}"#, Some("arn:x")),
            // Case differs between type names and property names.
            ("AWS::EC2::VPC", r#"{"VpcId":"vpc-1"}"#, Some("vpc-1")),
            // Integer ids are identifiers too.
            ("AWS::Foo::Bar", r#"{"Id":42}"#, Some("42")),
            // Unusable values are skipped, not taken.
            ("AWS::Foo::Bar", r#"{"Id":"","Name":"n"}"#, Some("n")),
            ("AWS::Foo::Bar", r#"{"Id":{"x":1},"Name":["n"]}"#, None),
            ("AWS::Foo::Bar", r#"{"Id":1.5,"Id2":"x"}"#, None),
            ("AWS::Foo::Bar", r#"{"Id":true}"#, None),
            // Nested members are not keys.
            ("AWS::Foo::Bar", r#"{"Tags":{"Name":"n"}}"#, None),
            ("AWS::Logs::LogGroup", r#"{"RetentionInDays":7}"#, None),
            ("AWS::Logs::LogGroup", r#"["LogGroupName"]"#, None),
            ("AWS::Logs::LogGroup", "not json", None),
        ];
        for (type_name, desired_state, expected) in table {
            assert_eq!(
                identifier(type_name, desired_state).as_deref(),
                expected,
                "{type_name} {desired_state}"
            );
        }
    }

    #[test]
    fn an_exact_key_beats_one_that_differs_in_case() {
        assert_eq!(
            identifier("AWS::Foo::Bar", r#"{"ID":"upper","Id":"exact"}"#).as_deref(),
            Some("exact")
        );
    }

    #[test]
    fn without_a_key_an_identifier_is_generated_from_the_type() {
        let pattern = regex::Regex::new("^loggroup-[0-9a-f]{8}$").unwrap();
        for desired_state in [Some(r#"{"RetentionInDays":7}"#), Some("[]"), None] {
            let generated =
                identifier_for_created_resource("AWS::Logs::LogGroup", desired_state).unwrap();
            assert!(pattern.is_match(generated.as_str()), "{generated}");
        }
        let first = identifier_for_created_resource("AWS::Logs::LogGroup", None).unwrap();
        let second = identifier_for_created_resource("AWS::Logs::LogGroup", None).unwrap();
        assert_ne!(first, second);
        assert_eq!(
            identifier_for_created_resource("AWS::Logs::LogGroup", Some(r#"{"Name":"x"}"#))
                .unwrap()
                .as_str(),
            "x"
        );
    }

    const DELAY: Duration = Duration::from_secs(10);

    fn request(
        operation: Operation,
        status: OperationStatus,
        event_count: i64,
    ) -> StoredResourceRequest {
        let (identifier, desired_state, patch_document) = match operation {
            Operation::Create => (None, Some(r#"{"LogGroupName":"app-logs"}"#), None),
            Operation::Update => (
                Some("app-logs"),
                None,
                Some(r#"[{"op":"remove","path":"/RetentionInDays"}]"#),
            ),
            Operation::Delete => (Some("app-logs"), None, None),
        };
        let input = ResourceRequestInput {
            operation,
            type_name: TypeName::parse("AWS::Logs::LogGroup").unwrap(),
            identifier: identifier.map(|value| Identifier::parse(value).unwrap()),
            desired_state: desired_state
                .map(|value| JsonDocument::parse("DesiredState", value).unwrap()),
            patch_document: patch_document
                .map(|value| JsonDocument::parse("PatchDocument", value).unwrap()),
            role_arn: None,
            type_version_id: None,
        };
        StoredResourceRequest {
            account: AccountId::parse("123456789012").unwrap(),
            client_token: None,
            current: ProgressEvent {
                type_name: "AWS::Logs::LogGroup".into(),
                identifier: identifier.map(str::to_owned),
                request_token: "token-1".into(),
                hooks_request_token: None,
                operation,
                operation_status: status,
                event_time: Timestamp::from_micros(1_000_000),
                resource_model: None,
                status_message: None,
                error_code: None,
                retry_after: None,
            },
            input,
            event_count,
            created_at: Timestamp::from_micros(1_000_000),
        }
    }

    fn due_now() -> Timestamp {
        Timestamp::from_micros(1_000_000 + DELAY.as_micros() as i64)
    }

    #[test]
    fn each_unfinished_status_has_one_next_step() {
        use OperationStatus::*;
        // (current, next)
        let table = [
            (Pending, Some(InProgress)),
            (InProgress, Some(Success)),
            (CancelInProgress, Some(CancelComplete)),
            (Success, None),
            (Failed, None),
            (CancelComplete, None),
        ];
        for (current, next) in table {
            let report = next_simulated_report(&request(Operation::Create, current, 2));
            assert_eq!(
                report.map(|report| report.operation_status),
                next,
                "{current:?}"
            );
        }
    }

    #[test]
    fn a_step_waits_for_the_delay_and_for_an_unchanged_request() {
        let listed = request(Operation::Create, OperationStatus::Pending, 1);
        let not_yet = due_now().minus(Duration::from_micros(1));
        assert!(report_if_still_due(&listed, &listed, not_yet, DELAY).is_none());
        let report = report_if_still_due(&listed, &listed, due_now(), DELAY).unwrap();
        assert_eq!(report.operation_status, OperationStatus::InProgress);

        // Another replica moved it on, or a caller cancelled it, since the listing.
        let moved_on = request(Operation::Create, OperationStatus::InProgress, 2);
        assert!(report_if_still_due(&listed, &moved_on, due_now(), DELAY).is_none());
        let cancelled = request(Operation::Create, OperationStatus::CancelComplete, 2);
        assert!(report_if_still_due(&listed, &cancelled, due_now(), DELAY).is_none());
        // Same status, but a worker re-reported it: judged again later.
        let reported_again = request(Operation::Create, OperationStatus::Pending, 2);
        assert!(report_if_still_due(&listed, &reported_again, due_now(), DELAY).is_none());
    }

    #[test]
    fn success_carries_what_each_operation_leaves_behind() {
        let create = success_report(&request(Operation::Create, OperationStatus::InProgress, 2));
        assert_eq!(create.identifier.unwrap().as_str(), "app-logs");
        assert_eq!(
            create.resource_model.unwrap().as_str(),
            r#"{"LogGroupName":"app-logs"}"#
        );

        // An identifier a worker already reported is kept.
        let mut reported = request(Operation::Create, OperationStatus::InProgress, 2);
        reported.current.identifier = Some("reported".into());
        assert!(success_report(&reported).identifier.is_none());

        for operation in [Operation::Update, Operation::Delete] {
            let report = success_report(&request(operation, OperationStatus::InProgress, 2));
            assert_eq!(report.operation_status, OperationStatus::Success);
            assert!(report.identifier.is_none(), "{operation:?}");
            assert!(report.resource_model.is_none(), "{operation:?}");
        }
    }

    #[test]
    fn the_poll_interval_is_a_quarter_of_the_delay_within_bounds() {
        let table = [
            (Duration::ZERO, MIN_POLL_INTERVAL),
            (Duration::from_millis(20), MIN_POLL_INTERVAL),
            (Duration::from_millis(200), Duration::from_millis(50)),
            (Duration::from_secs(2), Duration::from_millis(500)),
            (Duration::from_secs(60), MAX_POLL_INTERVAL),
        ];
        for (delay, expected) in table {
            assert_eq!(poll_interval(delay), expected, "{delay:?}");
        }
    }
}

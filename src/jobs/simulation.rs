//! Simulation mode, for environments with no real worker (docker-compose
//! development setups): a stand-in for WAF propagation that moves used change
//! tokens to `INSYNC`, and a stand-in for the Cloud Control worker that drives
//! resource requests `PENDING -> IN_PROGRESS -> SUCCESS` and finishes
//! cancellations, one step per delay.
//!
//! The simulated worker is an ordinary worker: it uses exactly the calls a
//! gRPC worker makes (`WorkerService::claim`, `renew_lease`,
//! `record_progress` with its lease token), so it exercises the path real
//! workers use, and several replicas simulating against one database never
//! drive the same request twice (the claim settles that). It claims requests
//! whose latest event is at least the delay old (`min_event_age`), which
//! records their `IN_PROGRESS` step; holds them under their leases (renewed
//! before they lapse); and once the delay has passed again, renews once more
//! to learn of a cancellation, then records `SUCCESS` (or, cancelled,
//! `CANCEL_COMPLETE` a delay after the cancellation). A replica that stops
//! leaves its leases to expire, and another worker claims the requests.
//!
//! Change tokens' propagation is one statement per batch, safe on several
//! replicas (see `ChangeTokenService::mark_propagated_in_sync`).

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::domain::lease::{Lease, LeaseDuration, MaxClaims, MinEventAge};
use crate::domain::resource_request::{
    Operation, OperationStatus, ProgressEvent, ProgressReport, StoredResourceRequest,
};
use crate::domain::values::{Identifier, RequestToken, WorkerId};
use crate::domain::{Clock, Error, ErrorCode, Timestamp};
use crate::service::{ClaimRequest, ClaimedRequest, Services};

/// Shortest pause between ticks, whatever the delay.
const MIN_POLL_INTERVAL: Duration = Duration::from_millis(10);
/// Longest pause between ticks: a step is never more than this late.
const MAX_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// Tokens marked per statement: small enough that no lock is held long.
const CHANGE_TOKEN_BATCH_SIZE: u32 = 100;
/// Requests claimed per tick.
const REQUEST_BATCH_SIZE: i64 = 100;

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
/// "Now" is `clock`'s, the clock the services stamp events with.
pub async fn provision_resource_requests(
    services: Services,
    clock: Arc<dyn Clock>,
    delay: Duration,
    stop: CancellationToken,
) {
    let worker_id = format!(
        "statusgate-simulation-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    tracing::info!(delay = ?delay, worker_id, "simulating resource provisioning");
    let mut worker = SimulatedWorker {
        services,
        clock,
        delay,
        worker_id: WorkerId::parse(worker_id).expect("a valid worker id"),
        held: HashMap::new(),
    };
    let interval = poll_interval(delay);
    let mut ticker = tokio::time::interval(interval);
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
            () = worker.tick() => {}
        }
    }
}

/// Runs `tick` every `interval` until `stop` is cancelled. A tick under way
/// is abandoned on stop (the store's writes run to completion regardless).
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

/// A request the simulated worker holds: as it last saw it, and its lease.
struct Held {
    request: StoredResourceRequest,
    token: RequestToken,
    lease: Lease,
}

/// The simulated worker's state: the requests it holds, by request token.
struct SimulatedWorker {
    services: Services,
    clock: Arc<dyn Clock>,
    delay: Duration,
    worker_id: WorkerId,
    held: HashMap<String, Held>,
}

impl SimulatedWorker {
    /// Claims what is due, then moves on what it holds.
    async fn tick(&mut self) {
        self.claim_due_requests().await;
        let tokens: Vec<String> = self.held.keys().cloned().collect();
        for token in tokens {
            self.advance(&token).await;
        }
    }

    async fn claim_due_requests(&mut self) {
        let claim = ClaimRequest {
            worker_id: self.worker_id.clone(),
            max_requests: MaxClaims::parse(Some(REQUEST_BATCH_SIZE)).expect("a valid batch size"),
            lease_duration: LeaseDuration::parse(None).expect("the default lease duration"),
            type_name_prefix: None,
            account: None,
            min_event_age: MinEventAge::parse(Some(self.delay.min(MinEventAge::MAX)))
                .expect("a valid event age"),
        };
        let claimed = match self.services.workers.claim(&claim).await {
            Ok(claimed) => claimed,
            Err(error) => {
                tracing::warn!(%error, "claiming due resource requests failed");
                return;
            }
        };
        for ClaimedRequest { request, lease } in claimed {
            let Ok(token) = RequestToken::parse(request.current.request_token.clone()) else {
                continue;
            };
            log_step(&request.current);
            let key = token.as_str().to_owned();
            self.held.insert(
                key,
                Held {
                    request,
                    token,
                    lease,
                },
            );
        }
    }

    /// One request's next step, if it is due; a renewal if the lease needs
    /// one. Drops the request once it is finished or lost.
    async fn advance(&mut self, key: &str) {
        let Some(held) = self.held.get_mut(key) else {
            return;
        };
        let now = self.clock.now();
        let due = is_due(&held.request.current, now, self.delay);
        if due || needs_renewal(&held.lease, now) {
            // Renewing before a step also tells whether a caller cancelled.
            match self
                .services
                .workers
                .renew_lease(&held.request.account, &held.token, &held.lease.token, None)
                .await
            {
                Ok(renewed) => {
                    held.request.current = renewed.event;
                    if let Some(lease) = renewed.lease {
                        held.lease = lease;
                    }
                }
                Err(error) => return self.give_up_on_error(key, &error),
            }
        }
        if !is_due(&held.request.current, now, self.delay) {
            return;
        }
        let Some(report) = finishing_report(&held.request) else {
            self.held.remove(key);
            return;
        };
        match self
            .services
            .workers
            .record_progress(
                &held.request.account,
                &held.token,
                &report,
                Some(&held.lease.token),
            )
            .await
        {
            Ok(recorded) => {
                log_step(&recorded.event);
                if recorded.event.operation_status.is_terminal() {
                    self.held.remove(key);
                } else {
                    held.request.current = recorded.event;
                }
            }
            Err(error) => self.give_up_on_error(key, &error),
        }
    }

    /// Forgets a request that is gone or no longer ours; keeps it (for the
    /// next tick) after any other failure.
    fn give_up_on_error(&mut self, key: &str, error: &Error) {
        match error.code {
            ErrorCode::LeaseLost | ErrorCode::RequestTokenNotFound => {
                self.held.remove(key);
            }
            _ => {
                tracing::warn!(request_token = key, %error, "simulating resource provisioning failed")
            }
        }
    }
}

fn log_step(event: &ProgressEvent) {
    tracing::debug!(
        request_token = event.request_token.as_str(),
        operation = event.operation.as_str(),
        operation_status = event.operation_status.as_str(),
        "simulated progress recorded"
    );
}

/// Whether `delay` has passed since the event.
fn is_due(current: &ProgressEvent, now: Timestamp, delay: Duration) -> bool {
    current.event_time <= now.minus(delay)
}

/// Whether less than half the lease's duration is left.
fn needs_renewal(lease: &Lease, now: Timestamp) -> bool {
    lease.expires_at <= now.plus(lease.duration / 2)
}

/// What finishes a held request: `SUCCESS` for one in progress,
/// `CANCEL_COMPLETE` for one being cancelled; `None` for anything else.
fn finishing_report(request: &StoredResourceRequest) -> Option<ProgressReport> {
    match request.current.operation_status {
        OperationStatus::InProgress => Some(success_report(request)),
        OperationStatus::CancelInProgress => Some(plain_report(OperationStatus::CancelComplete)),
        OperationStatus::Pending
        | OperationStatus::Success
        | OperationStatus::Failed
        | OperationStatus::CancelComplete => None,
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
            lease: None,
        }
    }

    fn due_now() -> Timestamp {
        Timestamp::from_micros(1_000_000 + DELAY.as_micros() as i64)
    }

    #[test]
    fn a_held_request_is_finished_by_its_status() {
        use OperationStatus::*;
        // (current, finishing report)
        let table = [
            (InProgress, Some(Success)),
            (CancelInProgress, Some(CancelComplete)),
            (Pending, None),
            (Success, None),
            (Failed, None),
            (CancelComplete, None),
        ];
        for (current, finishing) in table {
            let report = finishing_report(&request(Operation::Create, current, 2));
            assert_eq!(
                report.map(|report| report.operation_status),
                finishing,
                "{current:?}"
            );
        }
    }

    #[test]
    fn a_step_waits_for_the_delay_and_a_lease_is_renewed_at_half_life() {
        let held = request(Operation::Create, OperationStatus::InProgress, 2);
        let not_yet = due_now().minus(Duration::from_micros(1));
        assert!(!is_due(&held.current, not_yet, DELAY));
        assert!(is_due(&held.current, due_now(), DELAY));

        let lease = Lease::new(
            crate::domain::values::LeaseToken::parse("t").unwrap(),
            WorkerId::parse("w").unwrap(),
            due_now(),
            Duration::from_secs(30),
        );
        assert!(!needs_renewal(
            &lease,
            due_now().plus(Duration::from_secs(14))
        ));
        assert!(needs_renewal(
            &lease,
            due_now().plus(Duration::from_secs(15))
        ));
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

//! Simulation mode, for environments with no real worker (docker-compose
//! development setups): a stand-in for WAF propagation that moves used change
//! tokens to `INSYNC`, and a stand-in for the Cloud Control worker that drives
//! resource requests `PENDING -> IN_PROGRESS -> SUCCESS` (or `FAILED`, as a
//! real handler would answer: `simulated_outcome`) and finishes
//! cancellations, one step per delay. The simulation rules
//! (`domain::simulation`, read when requests are claimed) let a developer
//! make chosen requests fail, take longer or report a `RetryAfter`.
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

use super::simulated_outcome::{
    created_resource, failed_report, finished_report, model_for_rules, plain_report,
};
use crate::domain::lease::{Lease, LeaseDuration, MaxClaims, MinEventAge};
use crate::domain::resource::StoredResource;
use crate::domain::resource_request::{
    Operation, OperationStatus, ProgressEvent, ProgressReport, StoredResourceRequest,
};
use crate::domain::simulation::{RuleEffect, SimulationRules};
use crate::domain::values::{RequestToken, StatusMessage, WorkerId};
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

/// A request the simulated worker holds: as it last saw it, its lease, and
/// what the simulation rules chose for it when it was claimed.
struct Held {
    request: StoredResourceRequest,
    token: RequestToken,
    lease: Lease,
    effect: RuleEffect,
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
            region: None,
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
        if claimed.is_empty() {
            return;
        }
        // Read once per claim that took something; a change of the rules
        // applies to the requests claimed after it.
        let rules = self
            .services
            .simulation
            .rules()
            .await
            .unwrap_or_else(|error| {
                tracing::warn!(%error, "reading the simulation rules failed; none apply");
                SimulationRules::default()
            });
        for ClaimedRequest { request, lease } in claimed {
            let Ok(token) = RequestToken::parse(request.current.request_token.clone()) else {
                continue;
            };
            log_step(&request.current);
            let effect = if rules.is_empty() {
                RuleEffect::default()
            } else {
                let current = self.current_resource(&request).await.unwrap_or(None);
                let model = model_for_rules(&request, current.as_ref());
                rules
                    .effect_for(
                        request.input.type_name.as_str(),
                        request.input.operation,
                        model.as_ref(),
                    )
                    .cloned()
                    .unwrap_or_default()
            };
            let key = token.as_str().to_owned();
            self.held.insert(
                key.clone(),
                Held {
                    request,
                    token,
                    lease,
                    effect,
                },
            );
            self.report_retry_after(&key).await;
        }
    }

    /// A rule's `RetryAfter`: an `IN_PROGRESS` event saying when to look
    /// again (the request finishes no sooner).
    async fn report_retry_after(&mut self, key: &str) {
        let Some(held) = self.held.get_mut(key) else {
            return;
        };
        let Some(retry_after) = held.effect.retry_after else {
            return;
        };
        if held.request.current.operation_status != OperationStatus::InProgress {
            return;
        }
        let now = self.clock.now();
        let report = ProgressReport {
            retry_after: Some(now.plus(retry_after)),
            status_message: StatusMessage::parse("Waiting, as a simulation rule says").ok(),
            ..plain_report(OperationStatus::InProgress)
        };
        let recorded = self
            .services
            .workers
            .record_progress(
                &held.request.scope,
                &held.token,
                &report,
                Some(&held.lease.token),
            )
            .await;
        match recorded {
            Ok(recorded) => {
                log_step(&recorded.event);
                held.request.current = recorded.event;
                if let Some(lease) = recorded.lease {
                    held.lease = lease;
                }
            }
            Err(error) => self.give_up_on_error(key, &error),
        }
    }

    /// The resource `request` acts on, as it is now (`None` for a `CREATE`,
    /// whose identifier the finishing step works out).
    async fn current_resource(
        &self,
        request: &StoredResourceRequest,
    ) -> Result<Option<StoredResource>, Error> {
        let identifier = match request.input.operation {
            Operation::Create => created_resource(request).0,
            Operation::Update | Operation::Delete => match &request.input.identifier {
                Some(identifier) => identifier.clone(),
                None => return Ok(None),
            },
        };
        self.services
            .resources
            .current(&request.scope, &request.input.type_name, &identifier)
            .await
    }

    /// One request's next step, if it is due; a renewal if the lease needs
    /// one. Drops the request once it is finished or lost.
    async fn advance(&mut self, key: &str) {
        let Some(held) = self.held.get_mut(key) else {
            return;
        };
        let now = self.clock.now();
        let wait = self.delay + held.effect.extra_delay;
        let due = is_due(&held.request.current, now, wait);
        if due || needs_renewal(&held.lease, now) {
            // Renewing before a step also tells whether a caller cancelled.
            match self
                .services
                .workers
                .renew_lease(&held.request.scope, &held.token, &held.lease.token, None)
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
        let Some(held) = self.held.get(key) else {
            return;
        };
        let report = match held.request.current.operation_status {
            OperationStatus::InProgress if is_due(&held.request.current, now, wait) => {
                match &held.effect.failure {
                    Some((code, message)) => failed_report(*code, message.clone()),
                    None => match self.current_resource(&held.request).await {
                        Ok(current) => finished_report(&held.request, current.as_ref()),
                        Err(error) => {
                            tracing::warn!(request_token = key, %error, "reading the resource failed");
                            return;
                        }
                    },
                }
            }
            OperationStatus::CancelInProgress if is_due(&held.request.current, now, self.delay) => {
                plain_report(OperationStatus::CancelComplete)
            }
            OperationStatus::InProgress | OperationStatus::CancelInProgress => return,
            OperationStatus::Pending
            | OperationStatus::Success
            | OperationStatus::Failed
            | OperationStatus::CancelComplete => {
                self.held.remove(key);
                return;
            }
        };
        let recorded = self
            .services
            .workers
            .record_progress(
                &held.request.scope,
                &held.token,
                &report,
                Some(&held.lease.token),
            )
            .await;
        match recorded {
            Ok(recorded) => {
                log_step(&recorded.event);
                if recorded.event.operation_status.is_terminal() {
                    self.held.remove(key);
                } else if let Some(held) = self.held.get_mut(key) {
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

/// Whether `wait` has passed since the event, and its `RetryAfter`, if any.
fn is_due(current: &ProgressEvent, now: Timestamp, wait: Duration) -> bool {
    current.event_time <= now.minus(wait)
        && current
            .retry_after
            .is_none_or(|retry_after| retry_after <= now)
}

/// Whether less than half the lease's duration is left.
fn needs_renewal(lease: &Lease, now: Timestamp) -> bool {
    lease.expires_at <= now.plus(lease.duration / 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::AccountId;
    use crate::domain::resource_request::{ProgressEvent, ResourceRequestInput};
    use crate::domain::values::{JsonDocument, TypeName};

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
            identifier: identifier
                .map(|value| crate::domain::values::Identifier::parse(value).unwrap()),
            desired_state: desired_state
                .map(|value| JsonDocument::parse("DesiredState", value).unwrap()),
            patch_document: patch_document
                .map(|value| JsonDocument::parse("PatchDocument", value).unwrap()),
            role_arn: None,
            type_version_id: None,
        };
        StoredResourceRequest {
            scope: crate::domain::resource::AccountRegion::new(
                AccountId::parse("123456789012").unwrap(),
                crate::domain::values::Region::parse("us-east-1").unwrap(),
            ),
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
    fn a_retry_after_holds_the_step_back() {
        let mut held = request(Operation::Create, OperationStatus::InProgress, 2);
        held.current.retry_after = Some(due_now().plus(Duration::from_secs(5)));
        assert!(!is_due(&held.current, due_now(), DELAY));
        assert!(is_due(
            &held.current,
            due_now().plus(Duration::from_secs(5)),
            DELAY
        ));
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

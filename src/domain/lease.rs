//! Worker leases on resource requests: which requests a worker may claim,
//! what claiming one does, and which writes the lease lets through. The
//! store settles who gets a request (one claimer per request, across every
//! process on the database); these functions decide, from a request's locked
//! state, what happens to it.
//!
//! A lease is a random token, the claiming worker's id and an expiry. It is
//! kept when it expires: an `IN_PROGRESS` request with an expired lease is
//! one whose worker stopped renewing, and another worker may claim it (which
//! gives it a new token, fencing out the first worker's late writes). A
//! terminal event releases the lease.
//!
//! | the request | claimable |
//! | --- | --- |
//! | `PENDING` or `CANCEL_IN_PROGRESS`, no lease or an expired one | yes |
//! | `IN_PROGRESS`, expired lease | yes (its worker stopped renewing) |
//! | `IN_PROGRESS`, never claimed (driven without a lease) | no |
//! | live lease, or terminal | no |

use std::time::Duration;

use super::resource_request::{
    Decision, OperationStatus, ProgressEvent, ProgressReport, StoredResourceRequest,
    decide_progress,
};
use super::values::{LeaseToken, WorkerId, duration_within};
use super::{Error, ErrorCode, FieldViolation, Timestamp};

/// A worker's hold on a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub token: LeaseToken,
    pub worker_id: WorkerId,
    /// The first instant at which the lease no longer holds.
    pub expires_at: Timestamp,
    /// What renewals extend it by unless told otherwise.
    pub duration: Duration,
}

impl Lease {
    /// A fresh lease for `worker_id`, from `now` for `duration`.
    pub fn new(token: LeaseToken, worker_id: WorkerId, now: Timestamp, duration: Duration) -> Self {
        Self {
            token,
            worker_id,
            expires_at: now.plus(duration),
            duration,
        }
    }

    pub fn is_live_at(&self, now: Timestamp) -> bool {
        now < self.expires_at
    }

    /// The same lease, extended from `now` by `duration`.
    pub fn renewed(&self, now: Timestamp, duration: Duration) -> Self {
        Self {
            expires_at: now.plus(duration),
            duration,
            ..self.clone()
        }
    }
}

/// How long a lease lasts: 1 s..=15 min, default 30 s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseDuration(Duration);

impl LeaseDuration {
    pub const MEMBER: &'static str = "LeaseDuration";
    pub const DEFAULT: Duration = Duration::from_secs(30);
    pub const MIN: Duration = Duration::from_secs(1);
    pub const MAX: Duration = Duration::from_secs(15 * 60);

    pub fn parse(value: Option<Duration>) -> Result<Self, FieldViolation> {
        duration_within(Self::MEMBER, value, Self::DEFAULT, Self::MIN, Self::MAX).map(Self)
    }

    /// `None` when the member was absent (a renewal then keeps the lease's
    /// own duration).
    pub fn parse_optional(value: Option<Duration>) -> Result<Option<Self>, FieldViolation> {
        value.map(|value| Self::parse(Some(value))).transpose()
    }

    pub fn get(self) -> Duration {
        self.0
    }
}

/// How many requests one claim hands out: 1..=100, default 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxClaims(u32);

impl MaxClaims {
    pub const MEMBER: &'static str = "MaxRequests";

    pub fn parse(value: Option<i64>) -> Result<Self, FieldViolation> {
        let Some(value) = value else {
            return Ok(Self(1));
        };
        let text = value.to_string();
        if value < 1 {
            return Err(FieldViolation::invalid(
                Self::MEMBER,
                &text,
                "Member must have value greater than or equal to 1",
            ));
        }
        if value > 100 {
            return Err(FieldViolation::invalid(
                Self::MEMBER,
                &text,
                "Member must have value less than or equal to 100",
            ));
        }
        Ok(Self(value as u32))
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// How long a request's latest event must be past before a claim hands it
/// out: 0..=1 day, default 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinEventAge(Duration);

impl MinEventAge {
    pub const MEMBER: &'static str = "MinEventAge";
    pub const MAX: Duration = Duration::from_secs(24 * 3600);
    pub const NONE: Self = Self(Duration::ZERO);

    pub fn parse(value: Option<Duration>) -> Result<Self, FieldViolation> {
        duration_within(
            Self::MEMBER,
            value,
            Duration::ZERO,
            Duration::ZERO,
            Self::MAX,
        )
        .map(Self)
    }

    pub fn get(self) -> Duration {
        self.0
    }
}

/// Whether a claim at `now` may hand the request out (the table in the
/// module docs). The stores select with the same condition in SQL; this is
/// the definition they are checked against.
pub fn is_claimable(request: &StoredResourceRequest, now: Timestamp) -> bool {
    let lease_expired = request.lease.as_ref().map(|lease| !lease.is_live_at(now));
    match request.current.operation_status {
        OperationStatus::Pending | OperationStatus::CancelInProgress => {
            lease_expired.unwrap_or(true)
        }
        OperationStatus::InProgress => lease_expired.unwrap_or(false),
        OperationStatus::Success | OperationStatus::Failed | OperationStatus::CancelComplete => {
            false
        }
    }
}

/// What claiming a claimable request writes: the new lease, and for a
/// `PENDING` request its `IN_PROGRESS` event (a worker has started it).
/// `CANCEL_IN_PROGRESS` and `IN_PROGRESS` requests change hands without an
/// event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub lease: Lease,
    pub event: Option<ProgressEvent>,
}

pub fn decide_claim(request: &StoredResourceRequest, lease: Lease, now: Timestamp) -> Claim {
    let event = match request.current.operation_status {
        OperationStatus::Pending => Some(ProgressEvent {
            operation_status: OperationStatus::InProgress,
            event_time: now,
            status_message: None,
            error_code: None,
            retry_after: None,
            ..request.current.clone()
        }),
        OperationStatus::InProgress
        | OperationStatus::CancelInProgress
        | OperationStatus::Success
        | OperationStatus::Failed
        | OperationStatus::CancelComplete => None,
    };
    Claim { lease, event }
}

fn lease_lost(message: String) -> Error {
    Error::new(ErrorCode::LeaseLost, message)
}

/// The request's lease, if `token` is its current token (live or expired:
/// an expired lease nobody re-claimed still belongs to its worker).
fn held_lease<'a>(
    request: &'a StoredResourceRequest,
    token: &LeaseToken,
) -> Result<&'a Lease, Error> {
    let request_token = &request.current.request_token;
    match &request.lease {
        Some(lease) if lease.token == *token => Ok(lease),
        Some(lease) => Err(lease_lost(format!(
            "The lease on request {request_token} was lost: worker {} holds it now",
            lease.worker_id
        ))),
        None if request.current.operation_status.is_terminal() => Err(lease_lost(format!(
            "The lease on request {request_token} was released: it is {}",
            request.current.operation_status.as_str()
        ))),
        None => Err(lease_lost(format!(
            "Request {request_token} is not leased; claim it first"
        ))),
    }
}

/// A worker's progress report under the lease rules: with the current lease
/// token it is accepted and renews the lease (by the lease's own duration);
/// with another token it is refused; without a token it is refused while
/// the lease is live and otherwise judged as before leases existed. Either
/// way the state machine (`decide_progress`) has the last word.
pub fn decide_leased_progress(
    request: &StoredResourceRequest,
    report: &ProgressReport,
    token: Option<&LeaseToken>,
    now: Timestamp,
) -> Result<Decision, Error> {
    let Some(token) = token else {
        if let Some(lease) = request.lease.as_ref().filter(|lease| lease.is_live_at(now)) {
            return Err(lease_lost(format!(
                "Request {} is leased by worker {}; record its progress with the lease token",
                request.current.request_token, lease.worker_id
            )));
        }
        return decide_progress(request, report, now);
    };
    let lease = held_lease(request, token)?;
    let renewed = lease.renewed(now, lease.duration);
    match decide_progress(request, report, now)? {
        Decision::Append(event) => Ok(Decision::Leased {
            event: Some(event),
            lease: renewed,
        }),
        Decision::Leased { .. } | Decision::Unchanged => Ok(Decision::Leased {
            event: None,
            lease: renewed,
        }),
    }
}

/// Whether a worker may write beside a request's progress (a hook event):
/// the lease rules of [`decide_leased_progress`] without the state machine.
/// With a token it must be the current one; without one, no lease may be
/// live.
pub fn check_lease_holder(
    request: &StoredResourceRequest,
    token: Option<&LeaseToken>,
    now: Timestamp,
) -> Result<(), Error> {
    match token {
        Some(token) => held_lease(request, token).map(|_| ()),
        None => match request.lease.as_ref().filter(|lease| lease.is_live_at(now)) {
            Some(lease) => Err(lease_lost(format!(
                "Request {} is leased by worker {}; record with the lease token",
                request.current.request_token, lease.worker_id
            ))),
            None => Ok(()),
        },
    }
}

/// `RenewLease`: extends the caller's lease by `duration` (the lease's own
/// duration when `None`), or refuses as [`decide_leased_progress`] does for
/// a token that is not the current one.
pub fn decide_renew(
    request: &StoredResourceRequest,
    token: &LeaseToken,
    duration: Option<LeaseDuration>,
    now: Timestamp,
) -> Result<Decision, Error> {
    let lease = held_lease(request, token)?;
    let duration = duration.map_or(lease.duration, LeaseDuration::get);
    Ok(Decision::Leased {
        event: None,
        lease: lease.renewed(now, duration),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::AccountId;
    use crate::domain::resource_request::{Operation, ResourceRequestInput};
    use crate::domain::values::{JsonDocument, TypeName};
    use OperationStatus::*;

    const NOW: Timestamp = Timestamp::from_micros(100_000_000);

    fn token(value: &str) -> LeaseToken {
        LeaseToken::parse(value).unwrap()
    }

    fn lease(value: &str, expires_in_seconds: i64) -> Lease {
        Lease {
            token: token(value),
            worker_id: WorkerId::parse("worker-1").unwrap(),
            expires_at: Timestamp::from_micros(NOW.as_micros() + expires_in_seconds * 1_000_000),
            duration: Duration::from_secs(30),
        }
    }

    fn request(status: OperationStatus, lease: Option<Lease>) -> StoredResourceRequest {
        StoredResourceRequest {
            scope: crate::domain::resource::AccountRegion::new(
                AccountId::parse("123456789012").unwrap(),
                crate::domain::values::Region::parse("us-east-1").unwrap(),
            ),
            client_token: None,
            input: ResourceRequestInput {
                operation: Operation::Create,
                type_name: TypeName::parse("AWS::Logs::LogGroup").unwrap(),
                identifier: None,
                desired_state: Some(JsonDocument::parse("DesiredState", "{}").unwrap()),
                patch_document: None,
                role_arn: None,
                type_version_id: None,
            },
            current: ProgressEvent {
                type_name: "AWS::Logs::LogGroup".into(),
                identifier: Some("group-1".into()),
                request_token: "token-1".into(),
                hooks_request_token: None,
                operation: Operation::Create,
                operation_status: status,
                event_time: Timestamp::from_micros(1),
                resource_model: None,
                status_message: Some("queued".into()),
                error_code: None,
                retry_after: None,
            },
            event_count: 2,
            created_at: Timestamp::from_micros(1),
            lease,
        }
    }

    fn report(status: OperationStatus) -> ProgressReport {
        ProgressReport {
            operation_status: status,
            identifier: None,
            resource_model: None,
            status_message: None,
            error_code: None,
            retry_after: None,
        }
    }

    #[test]
    fn claimable_requests_follow_the_table() {
        let live = || Some(lease("a", 10));
        let expired = || Some(lease("a", 0));
        // (status, lease, claimable)
        let table = [
            (Pending, None, true),
            (Pending, expired(), true),
            (Pending, live(), false),
            (CancelInProgress, None, true),
            (CancelInProgress, expired(), true),
            (CancelInProgress, live(), false),
            (InProgress, None, false),
            (InProgress, expired(), true),
            (InProgress, live(), false),
            (Success, None, false),
            (Failed, expired(), false),
            (CancelComplete, None, false),
        ];
        for (status, lease, claimable) in table {
            assert_eq!(
                is_claimable(&request(status, lease.clone()), NOW),
                claimable,
                "{status:?} {lease:?}"
            );
        }
    }

    #[test]
    fn claiming_a_pending_request_records_in_progress_and_nothing_else_does() {
        let new_lease = lease("b", 30);
        let claim = decide_claim(&request(Pending, None), new_lease.clone(), NOW);
        assert_eq!(claim.lease, new_lease);
        let event = claim.event.expect("an IN_PROGRESS event");
        assert_eq!(event.operation_status, InProgress);
        assert_eq!(event.event_time, NOW);
        assert_eq!(event.identifier.as_deref(), Some("group-1"));
        assert_eq!(event.status_message, None);
        for status in [InProgress, CancelInProgress] {
            let claim = decide_claim(
                &request(status, Some(lease("a", 0))),
                new_lease.clone(),
                NOW,
            );
            assert_eq!(claim.event, None, "{status:?}");
        }
    }

    #[test]
    fn the_lease_holder_records_and_renews_and_everyone_else_is_refused() {
        let held = request(InProgress, Some(lease("a", 5)));
        let Decision::Leased {
            event,
            lease: renewed,
        } = decide_leased_progress(&held, &report(InProgress), Some(&token("a")), NOW).unwrap()
        else {
            panic!("expected a leased write");
        };
        assert_eq!(event.unwrap().operation_status, InProgress);
        assert_eq!(renewed.expires_at, NOW.plus(Duration::from_secs(30)));
        assert_eq!(renewed.token, token("a"));

        // An expired lease nobody re-claimed still belongs to its worker.
        let lapsed = request(InProgress, Some(lease("a", -5)));
        assert!(decide_leased_progress(&lapsed, &report(Success), Some(&token("a")), NOW).is_ok());

        let refusals = [
            (request(InProgress, Some(lease("b", 5))), Some(token("a"))),
            (request(InProgress, Some(lease("b", -5))), Some(token("a"))),
            (request(InProgress, Some(lease("a", 5))), None),
            (request(InProgress, None), Some(token("a"))),
            (request(Success, None), Some(token("a"))),
        ];
        for (stored, presented) in refusals {
            let error = decide_leased_progress(&stored, &report(Success), presented.as_ref(), NOW)
                .unwrap_err();
            assert_eq!(error.code, ErrorCode::LeaseLost, "{:?}", stored.lease);
        }
    }

    #[test]
    fn writes_without_a_token_behave_as_before_when_no_lease_is_live() {
        for stored in [
            request(InProgress, None),
            request(InProgress, Some(lease("a", 0))),
        ] {
            let decision = decide_leased_progress(&stored, &report(Success), None, NOW).unwrap();
            assert!(matches!(decision, Decision::Append(_)), "{decision:?}");
        }
        // The state machine still decides.
        let error = decide_leased_progress(&request(InProgress, None), &report(Pending), None, NOW)
            .unwrap_err();
        assert_eq!(error.code, ErrorCode::InvalidRequestState);
    }

    #[test]
    fn renewing_extends_by_the_given_or_the_lease_duration() {
        let held = request(CancelInProgress, Some(lease("a", 1)));
        let extended = |duration| match decide_renew(&held, &token("a"), duration, NOW).unwrap() {
            Decision::Leased { event: None, lease } => lease.expires_at,
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(extended(None), NOW.plus(Duration::from_secs(30)));
        let five_minutes = LeaseDuration::parse(Some(Duration::from_secs(300))).unwrap();
        assert_eq!(
            extended(Some(five_minutes)),
            NOW.plus(Duration::from_secs(300))
        );
        let stale = decide_renew(&held, &token("b"), None, NOW).unwrap_err();
        assert_eq!(stale.code, ErrorCode::LeaseLost);
        assert_eq!(
            stale.code.aws_name(crate::domain::ApiFamily::CloudControl),
            "LeaseLostException"
        );
    }

    #[test]
    fn lease_parameters_have_their_bounds_and_defaults() {
        assert_eq!(
            LeaseDuration::parse(None).unwrap().get(),
            LeaseDuration::DEFAULT
        );
        assert!(LeaseDuration::parse(Some(Duration::from_millis(999))).is_err());
        assert!(LeaseDuration::parse(Some(Duration::from_secs(901))).is_err());
        assert_eq!(LeaseDuration::parse_optional(None).unwrap(), None);
        assert_eq!(MaxClaims::parse(None).unwrap().get(), 1);
        assert_eq!(MaxClaims::parse(Some(100)).unwrap().get(), 100);
        assert_eq!(MaxClaims::parse(Some(0)).unwrap_err().member, "MaxRequests");
        assert!(MaxClaims::parse(Some(101)).is_err());
        assert_eq!(MinEventAge::parse(None).unwrap(), MinEventAge::NONE);
        assert!(MinEventAge::parse(Some(Duration::from_secs(86_401))).is_err());
    }
}

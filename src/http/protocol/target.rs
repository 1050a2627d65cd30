//! Routing on `X-Amz-Target` and the dialect of each AWS service: which
//! service a target names (WAF, WAF Regional, Cloud Control), which
//! operation it calls, the wire dialect of that service (awsJson 1.0 or 1.1,
//! error namespace), and the tracing span every request runs in, named after
//! its operation. A target that names nothing the facade serves is a
//! [`Rejection::UnknownOperation`].

use std::fmt;

use axum::http::{HeaderMap, HeaderName};
use tracing::Span;

use super::rejection::Rejection;
use crate::domain::ApiFamily;
use crate::domain::change_token::WafEndpoint;
use crate::domain::permission::Action;
use crate::http::request_id::RequestId;

static TARGET_HEADER: HeaderName = HeaderName::from_static("x-amz-target");

/// Whether a request carries an `X-Amz-Target` (and so speaks awsJson).
pub fn has_target(headers: &HeaderMap) -> bool {
    headers.contains_key(&TARGET_HEADER)
}

/// An AWS service the facade speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AwsService {
    Waf,
    WafRegional,
    CloudControl,
}

impl AwsService {
    /// The `X-Amz-Target` prefix, up to and including the dot.
    const fn target_prefix(self) -> &'static str {
        match self {
            Self::Waf => "AWSWAF_20150824.",
            Self::WafRegional => "AWSWAF_Regional_20161128.",
            Self::CloudControl => "CloudApiService.",
        }
    }

    /// The SigV4 service name, used in logs.
    pub const fn signing_name(self) -> &'static str {
        match self {
            Self::Waf => "waf",
            Self::WafRegional => "waf-regional",
            Self::CloudControl => "cloudcontrolapi",
        }
    }

    /// WAF and WAF Regional speak awsJson 1.1, Cloud Control awsJson 1.0.
    pub const fn content_type(self) -> &'static str {
        match self {
            Self::Waf | Self::WafRegional => AWS_JSON_1_1,
            Self::CloudControl => AWS_JSON_1_0,
        }
    }

    /// The Smithy namespace put before modelled error names. awsJson 1.1
    /// services conventionally send bare names; every SDK strips a
    /// `namespace#` prefix either way.
    pub const fn error_namespace(self) -> Option<&'static str> {
        match self {
            Self::Waf | Self::WafRegional => None,
            Self::CloudControl => Some("com.amazonaws.cloudcontrol"),
        }
    }

    /// Whose error names this service's callers get.
    pub const fn family(self) -> ApiFamily {
        match self {
            Self::Waf | Self::WafRegional => ApiFamily::Waf,
            Self::CloudControl => ApiFamily::CloudControl,
        }
    }

    pub const fn waf_endpoint(self) -> Option<WafEndpoint> {
        match self {
            Self::Waf => Some(WafEndpoint::Global),
            Self::WafRegional => Some(WafEndpoint::Regional),
            Self::CloudControl => None,
        }
    }
}

pub const AWS_JSON_1_0: &str = "application/x-amz-json-1.0";
pub const AWS_JSON_1_1: &str = "application/x-amz-json-1.1";

/// Every operation the facade serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    GetChangeToken,
    GetChangeTokenStatus,
    GetResourceRequestStatus,
    ListResourceRequests,
    CancelResourceRequest,
    CreateResource,
    UpdateResource,
    DeleteResource,
    GetResource,
    ListResources,
}

impl Operation {
    const WAF: [Self; 2] = [Self::GetChangeToken, Self::GetChangeTokenStatus];
    const CLOUD_CONTROL: [Self; 8] = [
        Self::GetResourceRequestStatus,
        Self::ListResourceRequests,
        Self::CancelResourceRequest,
        Self::CreateResource,
        Self::UpdateResource,
        Self::DeleteResource,
        Self::GetResource,
        Self::ListResources,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Self::GetChangeToken => "GetChangeToken",
            Self::GetChangeTokenStatus => "GetChangeTokenStatus",
            Self::GetResourceRequestStatus => "GetResourceRequestStatus",
            Self::ListResourceRequests => "ListResourceRequests",
            Self::CancelResourceRequest => "CancelResourceRequest",
            Self::CreateResource => "CreateResource",
            Self::UpdateResource => "UpdateResource",
            Self::DeleteResource => "DeleteResource",
            Self::GetResource => "GetResource",
            Self::ListResources => "ListResources",
        }
    }

    /// The action this operation performs, whose role the permission table
    /// names (create, update and delete all record a resource request).
    pub const fn action(self) -> Action {
        match self {
            Self::GetChangeToken => Action::GetChangeToken,
            Self::GetChangeTokenStatus => Action::GetChangeTokenStatus,
            Self::GetResourceRequestStatus => Action::GetResourceRequestStatus,
            Self::ListResourceRequests => Action::ListResourceRequests,
            Self::CancelResourceRequest => Action::CancelResourceRequest,
            Self::CreateResource | Self::UpdateResource | Self::DeleteResource => {
                Action::CreateResourceRequest
            }
            Self::GetResource => Action::GetResource,
            Self::ListResources => Action::ListResources,
        }
    }

    /// The operations one service offers.
    fn of(service: AwsService) -> &'static [Self] {
        match service {
            AwsService::Waf | AwsService::WafRegional => &Self::WAF,
            AwsService::CloudControl => &Self::CLOUD_CONTROL,
        }
    }

    /// The span a request for this operation runs in, continuing the
    /// caller's trace. Span names must be static, hence one arm per
    /// operation; the account is recorded once the handler knows it.
    pub fn span(self, service: AwsService, request_id: &RequestId, headers: &HeaderMap) -> Span {
        macro_rules! operation_span {
            ($($variant:ident),+ $(,)?) => {
                match self {
                    $(Self::$variant => crate::operation_span!(
                        stringify!($variant),
                        rpc_system = "aws-api",
                        service = service.signing_name(),
                        request_id = request_id,
                    ),)+
                }
            };
        }
        let span = operation_span!(
            GetChangeToken,
            GetChangeTokenStatus,
            GetResourceRequestStatus,
            ListResourceRequests,
            CancelResourceRequest,
            CreateResource,
            UpdateResource,
            DeleteResource,
            GetResource,
            ListResources,
        );
        crate::telemetry::continue_trace(&span, headers);
        span
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// A routed `X-Amz-Target`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub service: AwsService,
    pub operation: Operation,
}

impl Target {
    /// The target a request's `X-Amz-Target` names.
    pub fn from_headers(headers: &HeaderMap) -> Result<Self, Rejection> {
        let value = headers
            .get(&TARGET_HEADER)
            .ok_or(Rejection::MissingTarget)?;
        let Ok(text) = value.to_str() else {
            return Err(Rejection::UnknownOperation {
                target: String::from_utf8_lossy(value.as_bytes()).into_owned(),
            });
        };
        Self::parse(text)
    }

    /// Routes on the exact header value: `<prefix>.<Operation>`.
    pub fn parse(value: &str) -> Result<Self, Rejection> {
        let unknown = || Rejection::UnknownOperation {
            target: value.to_owned(),
        };
        let (service, operation_name) = [
            AwsService::Waf,
            AwsService::WafRegional,
            AwsService::CloudControl,
        ]
        .into_iter()
        .find_map(|service| {
            value
                .strip_prefix(service.target_prefix())
                .map(|operation_name| (service, operation_name))
        })
        .ok_or_else(unknown)?;
        let operation = Operation::of(service)
            .iter()
            .copied()
            .find(|operation| operation.name() == operation_name)
            .ok_or_else(unknown)?;
        Ok(Self { service, operation })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_route_exactly() {
        let table = [
            (
                "AWSWAF_20150824.GetChangeToken",
                AwsService::Waf,
                Operation::GetChangeToken,
            ),
            (
                "AWSWAF_Regional_20161128.GetChangeTokenStatus",
                AwsService::WafRegional,
                Operation::GetChangeTokenStatus,
            ),
            (
                "CloudApiService.ListResourceRequests",
                AwsService::CloudControl,
                Operation::ListResourceRequests,
            ),
            (
                "CloudApiService.DeleteResource",
                AwsService::CloudControl,
                Operation::DeleteResource,
            ),
            (
                "CloudApiService.GetResource",
                AwsService::CloudControl,
                Operation::GetResource,
            ),
            (
                "CloudApiService.ListResources",
                AwsService::CloudControl,
                Operation::ListResources,
            ),
        ];
        for (header, service, operation) in table {
            assert_eq!(
                Target::parse(header),
                Ok(Target { service, operation }),
                "{header}"
            );
        }
    }

    #[test]
    fn unknown_or_misplaced_operations_are_rejected() {
        for header in [
            "",
            "GetChangeToken",
            "AWSWAF_20150824.",
            "AWSWAF_20150824.getchangetoken",
            "AWSWAF_20150824.CreateResource",
            "CloudApiService.GetChangeToken",
            "CloudApiService.GetResourceRequestStatus ",
            "AWSWAF_20190729.GetChangeToken",
            "awswaf_20150824.GetChangeToken",
        ] {
            assert_eq!(
                Target::parse(header),
                Err(Rejection::UnknownOperation {
                    target: header.to_owned()
                }),
                "{header:?}"
            );
        }
    }

    #[test]
    fn dialects_follow_the_service() {
        assert_eq!(AwsService::Waf.content_type(), "application/x-amz-json-1.1");
        assert_eq!(
            AwsService::WafRegional.content_type(),
            "application/x-amz-json-1.1"
        );
        assert_eq!(
            AwsService::CloudControl.content_type(),
            "application/x-amz-json-1.0"
        );
        assert_eq!(AwsService::Waf.error_namespace(), None);
        assert_eq!(
            AwsService::CloudControl.error_namespace(),
            Some("com.amazonaws.cloudcontrol")
        );
    }
}

//! Why a request is not let in: [`AuthFailure`], a facade rejection (it
//! travels inside [`Rejection::Auth`](super::Rejection::Auth) and never
//! becomes a domain error). Each variant is one of AWS's common
//! authentication errors; `render` gives it its AWS name and status.

use crate::domain::credential::Role;

/// A request refused by authentication or authorisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFailure {
    /// No `Authorization` header and no presigned parameters.
    MissingAuthenticationToken,
    /// A signature that cannot even be read: wrong scheme, a missing or
    /// malformed parameter, an unreadable header.
    IncompleteSignature { message: String },
    /// `X-Amz-Security-Token`: statusgate issues long-term keys only.
    SessionToken,
    /// An access key statusgate does not know, or one that was revoked.
    UnrecognizedClient,
    /// A signature that does not match, or is out of its time window, or is
    /// scoped to another service or date.
    InvalidSignature { message: String },
    /// A caller whose role may not call the operation.
    AccessDenied {
        access_key_id: String,
        role: Role,
        /// `waf:GetChangeToken`, `statusgate:RecordProgressEvent`, ...
        action: String,
    },
}

impl AuthFailure {
    pub fn incomplete(message: impl Into<String>) -> Self {
        Self::IncompleteSignature {
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::InvalidSignature {
            message: message.into(),
        }
    }

    /// The AWS error name.
    pub const fn aws_name(&self) -> &'static str {
        match self {
            Self::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            Self::IncompleteSignature { .. } => "IncompleteSignatureException",
            Self::SessionToken | Self::UnrecognizedClient => "UnrecognizedClientException",
            Self::InvalidSignature { .. } => "InvalidSignatureException",
            Self::AccessDenied { .. } => "AccessDeniedException",
        }
    }

    /// The message, worded as AWS words it where AWS has a wording.
    pub fn message(&self) -> String {
        match self {
            Self::MissingAuthenticationToken => {
                "Request is missing Authentication Token".to_owned()
            }
            Self::IncompleteSignature { message } | Self::InvalidSignature { message } => {
                message.clone()
            }
            Self::SessionToken => "The security token included in the request is invalid: \
                 statusgate does not accept session tokens (X-Amz-Security-Token); sign with a \
                 long-term access key and no session token"
                .to_owned(),
            Self::UnrecognizedClient => {
                "The security token included in the request is invalid.".to_owned()
            }
            Self::AccessDenied {
                access_key_id,
                role,
                action,
            } => format!(
                "User: {access_key_id} (role {role}) is not authorized to perform: {action}"
            ),
        }
    }
}

//! WAF Classic change tokens. A scope (account, endpoint, region) has at most
//! one outstanding `PROVISIONED` token; a change uses it (`PENDING`), and once
//! the change has propagated it is `INSYNC`.

use super::Timestamp;
use super::values::{AccountId, ChangeToken, Region};

/// Which WAF Classic API a token belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WafEndpoint {
    Global,
    Regional,
}

impl WafEndpoint {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Global => "GLOBAL",
            Self::Regional => "REGIONAL",
        }
    }

    pub fn from_stored(value: &str) -> Option<Self> {
        match value {
            "GLOBAL" => Some(Self::Global),
            "REGIONAL" => Some(Self::Regional),
            _ => None,
        }
    }
}

/// Who a token belongs to. WAF global tokens have no region.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChangeTokenScope {
    account: AccountId,
    endpoint: WafEndpoint,
    region: Option<Region>,
}

impl ChangeTokenScope {
    pub fn global(account: AccountId) -> Self {
        Self {
            account,
            endpoint: WafEndpoint::Global,
            region: None,
        }
    }

    pub fn regional(account: AccountId, region: Region) -> Self {
        Self {
            account,
            endpoint: WafEndpoint::Regional,
            region: Some(region),
        }
    }

    pub fn account(&self) -> &AccountId {
        &self.account
    }

    pub fn endpoint(&self) -> WafEndpoint {
        self.endpoint
    }

    /// The region as stored: empty for WAF global.
    pub fn region_key(&self) -> &str {
        self.region.as_ref().map_or("", Region::as_str)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeTokenStatus {
    Provisioned,
    Pending,
    InSync,
}

impl ChangeTokenStatus {
    pub const ALL: [Self; 3] = [Self::Provisioned, Self::Pending, Self::InSync];

    /// The AWS enum value, also the stored form.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Provisioned => "PROVISIONED",
            Self::Pending => "PENDING",
            Self::InSync => "INSYNC",
        }
    }

    pub fn from_stored(value: &str) -> Option<Self> {
        match value {
            "PROVISIONED" => Some(Self::Provisioned),
            "PENDING" => Some(Self::Pending),
            "INSYNC" => Some(Self::InSync),
            _ => None,
        }
    }
}

/// A token as a listing shows it: its scope, where it is in its life, and
/// when it got there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeTokenSummary {
    pub token: ChangeToken,
    pub scope: ChangeTokenScope,
    pub status: ChangeTokenStatus,
    /// What the change that used the token recorded; `None` while unused.
    pub change_description: Option<String>,
    pub created_at: Timestamp,
    pub consumed_at: Option<Timestamp>,
    pub insync_at: Option<Timestamp>,
}

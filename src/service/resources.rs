//! Cloud Control resources as callers see them: `GetResource` and
//! `ListResources`, in one account and region, with write-only properties
//! removed as AWS does. The resources themselves are written with the
//! `SUCCESS` of their requests (`store::ResourceRequestStore`); workers (the
//! simulation among them) read a resource whole through [`ResourceService::current`].
//!
//! `ListResources` pages by identifier (bytewise) with a cursor naming the
//! caller's own last resource, so a cursor reveals nothing about other
//! accounts. With a `ResourceModel` filter, a call reads at most
//! [`MAX_SCANNED`] resources: a page may then come back short, with a
//! `NextToken` to go on from (AWS allows short pages), rather than one call
//! reading a whole type.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;

use super::unexpected;
use crate::domain::resource::{
    AccountRegion, StoredResource, parse_model_filter, properties_contain, resource_not_found,
};
use crate::domain::resource_types::{ResourceTypeFacts, ResourceTypes};
use crate::domain::values::{Identifier, JsonDocument, MaxResults, NextToken, TypeName};
use crate::domain::{Error, FieldViolation};
use crate::store::{ResourceListQuery, Store, StoreError};

/// Most resources one filtered `ListResources` call reads.
pub const MAX_SCANNED: usize = 1_000;
/// Resources read per store call while filtering.
const SCAN_BATCH: u32 = 200;

/// Resource cursors are versioned like request cursors: `v1:` and the
/// identifier of the caller's last resource, in base64.
const CURSOR_PREFIX: &str = "v1:";

fn encode_cursor(identifier: &str) -> String {
    BASE64.encode(format!("{CURSOR_PREFIX}{identifier}"))
}

fn decode_cursor(token: &NextToken) -> Result<String, Error> {
    let invalid = || {
        Error::invalid_input(FieldViolation::invalid(
            NextToken::MEMBER,
            token.as_str(),
            "Member must be a NextToken returned by ListResources",
        ))
    };
    let bytes = BASE64.decode(token.as_str()).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    text.strip_prefix(CURSOR_PREFIX)
        .filter(|identifier| !identifier.is_empty())
        .map(str::to_owned)
        .ok_or_else(invalid)
}

/// A resource as `GetResource` and `ListResources` describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceDescription {
    pub identifier: String,
    /// JSON text, write-only properties removed.
    pub properties: String,
}

/// A `ListResources` call.
#[derive(Debug, Clone)]
pub struct ResourceListRequest {
    pub type_name: TypeName,
    /// Only resources whose properties contain it.
    pub resource_model: Option<JsonDocument>,
    pub max_results: MaxResults,
    pub next_token: Option<NextToken>,
}

/// One page of resources, by identifier.
#[derive(Debug, Clone)]
pub struct ResourceListPage {
    pub descriptions: Vec<ResourceDescription>,
    pub next_token: Option<String>,
}

#[derive(Clone)]
pub struct ResourceService {
    store: Arc<dyn Store>,
    known_types_only: bool,
}

/// `stored` as callers see it: the table's write-only properties removed
/// (the stored text as it is when the type has none, or is not in it).
fn describe(stored: StoredResource, facts: Option<&ResourceTypeFacts>) -> ResourceDescription {
    let properties = match facts {
        Some(facts) if !facts.write_only.is_empty() => {
            match serde_json::from_str::<Value>(&stored.properties) {
                Ok(model) => facts.without_write_only(model).to_string(),
                Err(_) => stored.properties,
            }
        }
        Some(_) | None => stored.properties,
    };
    ResourceDescription {
        identifier: stored.identifier,
        properties,
    }
}

impl ResourceService {
    pub fn new(store: Arc<dyn Store>, known_types_only: bool) -> Self {
        Self {
            store,
            known_types_only,
        }
    }

    /// `GetResource`: `ResourceNotFoundException` when the caller's account
    /// and region have no such resource.
    pub async fn get(
        &self,
        scope: &AccountRegion,
        type_name: &TypeName,
        identifier: &Identifier,
    ) -> Result<ResourceDescription, Error> {
        let facts = ResourceTypes::known().check(type_name, self.known_types_only)?;
        let stored = self
            .current(scope, type_name, identifier)
            .await?
            .ok_or_else(|| resource_not_found(type_name.as_str(), identifier.as_str()))?;
        Ok(describe(stored, facts))
    }

    /// The resource with every property, for workers; `None` when there is
    /// none.
    pub async fn current(
        &self,
        scope: &AccountRegion,
        type_name: &TypeName,
        identifier: &Identifier,
    ) -> Result<Option<StoredResource>, Error> {
        match self.store.get_resource(scope, type_name, identifier).await {
            Ok(stored) => Ok(Some(stored)),
            Err(StoreError::NotFound) => Ok(None),
            Err(error) => Err(unexpected("GetResource", error)),
        }
    }

    /// `ListResources`: a page of the type's resources in the caller's
    /// account and region, by identifier.
    pub async fn list(
        &self,
        scope: &AccountRegion,
        request: &ResourceListRequest,
    ) -> Result<ResourceListPage, Error> {
        let facts = ResourceTypes::known().check(&request.type_name, self.known_types_only)?;
        let filter = request
            .resource_model
            .as_ref()
            .map(parse_model_filter)
            .transpose()
            .map_err(Error::invalid_input)?;
        let mut after = request.next_token.as_ref().map(decode_cursor).transpose()?;
        let page_size = request.max_results.get() as usize;
        let batch = match filter {
            None => page_size as u32 + 1,
            Some(_) => SCAN_BATCH,
        };
        let mut descriptions = Vec::with_capacity(page_size);
        let mut scanned = 0;
        loop {
            let query = ResourceListQuery {
                scope: scope.clone(),
                type_name: request.type_name.clone(),
                after: after.clone(),
                limit: batch,
            };
            let rows = self
                .store
                .list_resources(&query)
                .await
                .map_err(|error| unexpected("ListResources", error))?;
            let exhausted = rows.len() < batch as usize;
            for stored in rows {
                scanned += 1;
                after = Some(stored.identifier.clone());
                let keep = match &filter {
                    None => true,
                    Some(wanted) => serde_json::from_str::<Value>(&stored.properties)
                        .is_ok_and(|properties| properties_contain(&properties, wanted)),
                };
                if !keep {
                    continue;
                }
                if descriptions.len() == page_size {
                    // Another match: the page is full and there is more.
                    let next_token = descriptions
                        .last()
                        .map(|last: &ResourceDescription| encode_cursor(&last.identifier));
                    return Ok(ResourceListPage {
                        descriptions,
                        next_token,
                    });
                }
                descriptions.push(describe(stored, facts));
            }
            if exhausted {
                return Ok(ResourceListPage {
                    descriptions,
                    next_token: None,
                });
            }
            if scanned >= MAX_SCANNED {
                return Ok(ResourceListPage {
                    descriptions,
                    next_token: after.as_deref().map(encode_cursor),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_a_validation_error() {
        for identifier in ["a", "arn:aws:logs:x|y", &"z".repeat(1024)] {
            let token = NextToken::parse(encode_cursor(identifier)).unwrap();
            assert_eq!(decode_cursor(&token).unwrap(), identifier);
        }
        // "abc", "v2:x", "v1:"
        for garbage in ["abc", "djI6eA==", "djE6"] {
            let error = decode_cursor(&NextToken::parse(garbage).unwrap()).unwrap_err();
            assert_eq!(error.violation.unwrap().member, "NextToken", "{garbage}");
        }
    }

    #[test]
    fn write_only_properties_are_left_out_of_descriptions() {
        let facts = ResourceTypes::known().get("AWS::Lambda::Function");
        let stored = StoredResource {
            type_name: "AWS::Lambda::Function".into(),
            identifier: "f".into(),
            properties: r#"{"FunctionName":"f","Code":{"ImageUri":"repo:tag"}}"#.into(),
        };
        let described = describe(stored.clone(), facts);
        assert_eq!(described.properties, r#"{"Code":{},"FunctionName":"f"}"#);
        let private = describe(stored.clone(), None);
        assert_eq!(private.properties, stored.properties);
    }
}

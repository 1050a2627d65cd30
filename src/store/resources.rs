//! The resource contract ([`ResourceStore`]): what exists after requests
//! succeeded, read by `GetResource` and `ListResources` and by workers that
//! need a resource's current model. Resources are written only by
//! `ResourceRequestStore::update_resource_request`, in the transaction that
//! records a request's `SUCCESS`; this trait reads. Each backend implements
//! it in its own `resources.rs`.

use async_trait::async_trait;

use super::error::StoreError;
use crate::domain::resource::{AccountRegion, StoredResource};
use crate::domain::values::{Identifier, TypeName};

/// One page of `ListResources`, before any `ResourceModel` filter.
#[derive(Debug, Clone)]
pub struct ResourceListQuery {
    pub scope: AccountRegion,
    pub type_name: TypeName,
    /// Only resources whose identifier sorts after this one (the last of
    /// the previous page), bytewise.
    pub after: Option<String>,
    pub limit: u32,
}

#[async_trait]
pub trait ResourceStore: Send + Sync {
    /// The resource with every stored property (write-only ones included).
    /// `NotFound` when the scope has no such resource. As fresh as a direct
    /// read: a read that starts after a `SUCCESS` was acknowledged sees it.
    async fn get_resource(
        &self,
        scope: &AccountRegion,
        type_name: &TypeName,
        identifier: &Identifier,
    ) -> Result<StoredResource, StoreError>;

    /// Up to `query.limit` resources of the type in the scope, in bytewise
    /// order of their identifiers, after `query.after`: a keyset page on the
    /// primary key, `O(log n + limit)` whatever page it is. A cursor names
    /// an identifier, not a row, so a resource deleted meanwhile ends
    /// nothing.
    async fn list_resources(
        &self,
        query: &ResourceListQuery,
    ) -> Result<Vec<StoredResource>, StoreError>;
}

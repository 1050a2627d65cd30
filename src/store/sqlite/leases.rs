//! [`ResourceRequestLeases`] on SQLite: a claim is one `BEGIN IMMEDIATE`
//! transaction on the writer connection, so claims (from any task of the
//! process, or another process on the file) run one at a time and the
//! second sees what the first took. The claimed requests' events are
//! notified in-process after the commit.

use async_trait::async_trait;

use super::SqliteStore;
use super::errors::classify;
use super::resource_requests::{append_event, write_lease};
use crate::domain::lease::is_claimable;
use crate::domain::resource_request::StoredResourceRequest;
use crate::domain::values::RequestToken;
use crate::store::error::StoreError;
use crate::store::leases::{ClaimQuery, DecideClaim, ResourceRequestLeases};
use crate::store::rows::RequestRow;

/// The oldest claimable requests (the domain's `is_claimable` at `$1`)
/// whose latest event is at or before `$2`, created at or after `$3`, of
/// account `$4` and region `$7` (any when `NULL`) and with a type name starting with `$5`
/// (any when `NULL`), at most `$6`. The status list repeats the partial
/// index `resource_requests_claimable_seq` word for word, so that SQLite
/// walks it; what the walk costs is said on the Postgres query
/// (`postgres/leases.rs`), and is the same here.
const SELECT_CLAIMABLE: &str = "\
    SELECT * FROM resource_requests \
    WHERE operation_status IN ('PENDING', 'IN_PROGRESS', 'CANCEL_IN_PROGRESS') \
      AND (lease_expires_at <= $1 \
        OR (lease_expires_at IS NULL AND operation_status <> 'IN_PROGRESS')) \
      AND event_time <= $2 AND created_at >= $3 \
      AND ($4 IS NULL OR account_id = $4) \
      AND ($7 IS NULL OR region = $7) \
      AND ($5 IS NULL OR substr(type_name, 1, length($5)) = $5) \
    ORDER BY seq LIMIT $6";

#[async_trait]
impl ResourceRequestLeases for SqliteStore {
    #[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "sqlite"))]
    async fn claim_resource_requests(
        &self,
        query: &ClaimQuery,
        decide: &DecideClaim<'_>,
    ) -> Result<Vec<StoredResourceRequest>, StoreError> {
        self.availability.check()?;
        let mut transaction = self.begin_write().await?;
        let rows: Vec<RequestRow> = sqlx::query_as(SELECT_CLAIMABLE)
            .bind(query.now.as_micros())
            .bind(query.last_event_at_or_before.as_micros())
            .bind(query.visible_since.as_micros())
            .bind(query.account.as_ref().map(|account| account.as_str()))
            .bind(
                query
                    .type_name_prefix
                    .as_ref()
                    .map(|prefix| prefix.as_str()),
            )
            .bind(i64::from(query.limit))
            .bind(query.region.as_ref().map(|region| region.as_str()))
            .fetch_all(&mut *transaction)
            .await
            .map_err(classify)?;
        let mut claimed = Vec::with_capacity(rows.len());
        let mut announced = Vec::new();
        for row in rows {
            let mut request = row.into_stored()?;
            // The query's condition, checked against its definition.
            if !is_claimable(&request, query.now) {
                continue;
            }
            let token = RequestToken::parse(request.current.request_token.clone())
                .map_err(|_| StoreError::Internal("stored request token is not valid".into()))?;
            let claim = decide(&request);
            match claim.event {
                Some(event) => {
                    let seq = request.event_count + 1;
                    append_event(&mut transaction, &token, &event, seq, Some(&claim.lease))
                        .await
                        .map_err(classify)?;
                    request.event_count = seq;
                    request.current = event;
                    announced.push(token);
                }
                None => write_lease(&mut transaction, &token, Some(&claim.lease))
                    .await
                    .map_err(classify)?,
            }
            request.lease = Some(claim.lease);
            claimed.push(request);
        }
        transaction.commit().await.map_err(classify)?;
        for token in &announced {
            self.announce_request_event(token.as_str());
        }
        Ok(claimed)
    }
}

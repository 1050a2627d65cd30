//! [`ResourceRequestLeases`] on Postgres: one transaction selects the oldest
//! claimable requests `FOR UPDATE SKIP LOCKED` (rows another claim or update
//! holds are skipped, not waited for, so concurrent claims on any number of
//! replicas each get different requests), writes each one's lease and, for a
//! `PENDING` request, its `IN_PROGRESS` event, and sends `NOTIFY` for those
//! events before it commits.

use async_trait::async_trait;

use super::errors::classify;
use super::listener::REQUEST_EVENTS_CHANNEL;
use super::resource_requests::{append_event, write_lease};
use super::{PostgresStore, notify};
use crate::domain::lease::is_claimable;
use crate::domain::resource_request::StoredResourceRequest;
use crate::domain::values::RequestToken;
use crate::store::error::StoreError;
use crate::store::leases::{ClaimQuery, DecideClaim, ResourceRequestLeases};
use crate::store::rows::RequestRow;

/// The oldest claimable requests (the domain's `is_claimable` at `$1`)
/// whose latest event is at or before `$2`, created at or after `$3`, of
/// account `$4` and region `$7` (any when `NULL`) and with a type name starting with `$5`
/// (any when `NULL`), at most `$6`, locked.
///
/// Cost: the walk goes through `resource_requests_claimable_seq`, a partial
/// index holding only unfinished requests, so finished ones (the bulk of the
/// table) cost nothing and the first claimable row is found in O(log n). Rows
/// it must step over are the unfinished requests older than the ones it
/// returns that are not claimable for this caller: leased ones (live
/// leases), ones another transaction holds, other accounts' or types' when
/// filtering, and ones too young for `$2`. With many requests leased at
/// once, each claim reads past all of them (they stay oldest while they are
/// worked on): a scan of k index entries for k leased requests ahead of the
/// first free one, cheap for thousands, noticeable for hundreds of thousands.
const SELECT_CLAIMABLE: &str = "\
    SELECT * FROM resource_requests \
    WHERE operation_status IN ('PENDING', 'IN_PROGRESS', 'CANCEL_IN_PROGRESS') \
      AND (lease_expires_at <= $1 \
        OR (lease_expires_at IS NULL AND operation_status <> 'IN_PROGRESS')) \
      AND event_time <= $2 AND created_at >= $3 \
      AND ($4::text IS NULL OR account_id = $4) \
      AND ($7::text IS NULL OR region = $7) \
      AND ($5::text IS NULL OR substr(type_name, 1, length($5)) = $5) \
    ORDER BY seq LIMIT $6 \
    FOR UPDATE SKIP LOCKED";

#[async_trait]
impl ResourceRequestLeases for PostgresStore {
    #[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
    async fn claim_resource_requests(
        &self,
        query: &ClaimQuery,
        decide: &DecideClaim<'_>,
    ) -> Result<Vec<StoredResourceRequest>, StoreError> {
        self.availability.check()?;
        let mut transaction = self.pool.begin().await.map_err(classify)?;
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
        let payloads: Vec<&str> = announced.iter().map(RequestToken::as_str).collect();
        notify(&mut *transaction, REQUEST_EVENTS_CHANNEL, &payloads)
            .await
            .map_err(classify)?;
        transaction.commit().await.map_err(classify)?;
        Ok(claimed)
    }
}

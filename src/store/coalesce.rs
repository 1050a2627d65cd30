//! Coalescing of concurrent point lookups: requests for rows by key queue up
//! while earlier lookups are in flight, and each queued group is fetched with
//! one `= ANY($1)` query. Under load one round trip answers many callers;
//! unloaded, a lookup goes out alone and at once (no timer, no added wait).
//!
//! Freshness is that of a direct read: a group's query is sent only after
//! every lookup in it arrived, so no caller gets a row older than its own
//! request. Rows are returned by key only; the caller checks ownership
//! (account, scope) itself, so coalescing never leaks across accounts.
//!
//! Hand-written: the batching crates on crates.io either batch on a timer
//! (which adds latency to every unloaded call) or are built for a single
//! in-flight batch; this needs "as many concurrent groups as the pool can
//! use, each as large as what queued meanwhile".

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc, oneshot};

use super::StoreError;

type Reply<V> = oneshot::Sender<Result<Option<V>, StoreError>>;

/// Looks rows up by key, coalescing concurrent lookups.
pub(super) struct Coalescer<K, V> {
    queue: mpsc::UnboundedSender<(K, Reply<V>)>,
}

impl<K, V> Coalescer<K, V>
where
    K: Eq + Hash + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// `fetch` loads the rows of up to `max_group` distinct keys; at most
    /// `max_groups_in_flight` fetches run at once. Must be called inside a
    /// Tokio runtime; the dispatcher stops when the coalescer is dropped.
    pub fn new<Fetch, Fetched>(max_group: usize, max_groups_in_flight: usize, fetch: Fetch) -> Self
    where
        Fetch: Fn(Vec<K>) -> Fetched + Send + Sync + 'static,
        Fetched: Future<Output = Result<Vec<(K, V)>, StoreError>> + Send + 'static,
    {
        let (queue, receiver) = mpsc::unbounded_channel();
        tokio::spawn(dispatch(
            receiver,
            Arc::new(fetch),
            max_group.max(1),
            max_groups_in_flight.max(1),
        ));
        Self { queue }
    }

    /// The row with `key`, if any.
    pub async fn get(&self, key: K) -> Result<Option<V>, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send((key, reply))
            .map_err(|_| StoreError::Unavailable("the store is closed".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Internal("a coalesced lookup was abandoned".into()))?
    }
}

async fn dispatch<K, V, Fetch, Fetched>(
    mut receiver: mpsc::UnboundedReceiver<(K, Reply<V>)>,
    fetch: Arc<Fetch>,
    max_group: usize,
    max_groups_in_flight: usize,
) where
    K: Eq + Hash + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    Fetch: Fn(Vec<K>) -> Fetched + Send + Sync + 'static,
    Fetched: Future<Output = Result<Vec<(K, V)>, StoreError>> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(max_groups_in_flight));
    while let Some(first) = receiver.recv().await {
        // Waiting for a free slot is what lets later lookups join this group.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut group = vec![first];
        while group.len() < max_group {
            match receiver.try_recv() {
                Ok(lookup) => group.push(lookup),
                Err(_) => break,
            }
        }
        let fetch = fetch.clone();
        tokio::spawn(async move {
            let mut keys: Vec<K> = group.iter().map(|(key, _)| key.clone()).collect();
            let mut seen = std::collections::HashSet::with_capacity(keys.len());
            keys.retain(|key| seen.insert(key.clone()));
            match fetch(keys).await {
                Ok(rows) => {
                    let rows: HashMap<K, V> = rows.into_iter().collect();
                    for (key, reply) in group {
                        let _ = reply.send(Ok(rows.get(&key).cloned()));
                    }
                }
                Err(error) => {
                    let message = error.to_string();
                    let unavailable = matches!(error, StoreError::Unavailable(_));
                    for (_, reply) in group {
                        let copy = if unavailable {
                            StoreError::Unavailable(message.clone())
                        } else {
                            StoreError::Internal(message.clone())
                        };
                        let _ = reply.send(Err(copy));
                    }
                }
            }
            drop(slot);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_lookups_share_queries_and_each_gets_its_own_row() {
        let groups = Arc::new(Mutex::new(Vec::<Vec<u32>>::new()));
        let recorded = groups.clone();
        let coalescer = Arc::new(Coalescer::new(64, 1, move |keys: Vec<u32>| {
            recorded.lock().unwrap().push(keys.clone());
            async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                Ok(keys
                    .into_iter()
                    .filter(|key| key % 7 != 0)
                    .map(|key| (key, key * 10))
                    .collect())
            }
        }));
        let mut lookups = Vec::new();
        for key in 1..=100u32 {
            let coalescer = coalescer.clone();
            lookups.push(tokio::spawn(async move {
                (key, coalescer.get(key).await.unwrap())
            }));
        }
        for lookup in lookups {
            let (key, value) = lookup.await.unwrap();
            let expected = if key % 7 == 0 { None } else { Some(key * 10) };
            assert_eq!(value, expected, "key {key}");
        }
        let groups = groups.lock().unwrap();
        assert!(
            groups.len() < 100,
            "lookups were coalesced: {} queries",
            groups.len()
        );
        assert!(groups.iter().all(|group| group.len() <= 64));
    }

    #[tokio::test]
    async fn a_lone_lookup_goes_out_at_once_and_errors_reach_every_caller() {
        let coalescer = Coalescer::new(8, 2, |keys: Vec<u32>| async move {
            if keys.contains(&13) {
                Err(StoreError::Unavailable("down".into()))
            } else {
                Ok(keys.into_iter().map(|key| (key, ())).collect())
            }
        });
        let started = std::time::Instant::now();
        assert_eq!(coalescer.get(1).await.unwrap(), Some(()));
        assert!(started.elapsed() < Duration::from_millis(100));
        assert!(matches!(
            coalescer.get(13).await,
            Err(StoreError::Unavailable(_))
        ));
    }
}

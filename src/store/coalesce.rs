//! Coalescing of concurrent keyed operations: calls queue up while earlier
//! groups are in flight, and each queued group is handled by one statement
//! (`= ANY($1)` lookups, multi-row upserts). Under load one round trip answers
//! many callers; unloaded (nothing in flight), a call runs directly on the
//! caller's task, with no timer, queue or added wait.
//!
//! Freshness is that of a direct call: a group's statement is sent only after
//! every call in it arrived, so no caller gets a row older than its own
//! request. Results are handed out by key only; callers check ownership
//! (account, scope) themselves, so coalescing never leaks across accounts.
//!
//! Hand-written: the batching crates on crates.io either batch on a timer
//! (which adds latency to every unloaded call) or allow a single batch in
//! flight; this needs "as many concurrent groups as the pool can use, each as
//! large as what queued meanwhile".

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;

use std::sync::atomic::{AtomicUsize, Ordering};

use futures::future::BoxFuture;
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::error::StoreError;

type Reply<V> = oneshot::Sender<Result<Option<V>, StoreError>>;

/// Runs keyed operations, coalescing concurrent ones into one `handle` call
/// per group. Calls with equal keys share one result; `P` is what a call
/// brings besides its key (the first payload of a key is the one used).
pub(super) struct Coalescer<K, V, P = ()> {
    queue: mpsc::UnboundedSender<(K, P, Reply<V>)>,
    /// Groups running now (direct calls included).
    in_flight: Arc<AtomicUsize>,
    handle: Handler<K, V, P>,
}

/// Counts a group as running until dropped (also when its caller goes away).
struct Running(Arc<AtomicUsize>);

impl Running {
    fn start(in_flight: &Arc<AtomicUsize>) -> Self {
        in_flight.fetch_add(1, Ordering::AcqRel);
        Self(in_flight.clone())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl<K, V, P> Coalescer<K, V, P>
where
    K: Eq + Hash + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    P: Send + 'static,
{
    /// `handle` serves up to `max_group` distinct keys at once; at most
    /// `max_groups_in_flight` run at a time. Must be called inside a Tokio
    /// runtime; the dispatcher stops when the coalescer is dropped.
    pub fn new<Handle, Handled>(
        max_group: usize,
        max_groups_in_flight: usize,
        handle: Handle,
    ) -> Self
    where
        Handle: Fn(Vec<(K, P)>) -> Handled + Send + Sync + 'static,
        Handled: Future<Output = Result<Vec<(K, V)>, StoreError>> + Send + 'static,
    {
        let handle: Handler<K, V, P> =
            Arc::new(move |calls| Box::pin(handle(calls)) as BoxFuture<'static, _>);
        let in_flight = Arc::new(AtomicUsize::new(0));
        let (queue, receiver) = mpsc::unbounded_channel();
        tokio::spawn(dispatch(
            receiver,
            handle.clone(),
            in_flight.clone(),
            max_group.max(1),
            max_groups_in_flight.max(1),
        ));
        Self {
            queue,
            in_flight,
            handle,
        }
    }

    /// The result for `key` (`None` when the group's statement returned
    /// nothing for it).
    pub async fn call(&self, key: K, payload: P) -> Result<Option<V>, StoreError> {
        // Nothing running, nothing to join: go straight to the database on
        // this task rather than through the queue and a spawned group.
        if self
            .in_flight
            .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            let _running = Running(self.in_flight.clone());
            let results = (self.handle)(vec![(key.clone(), payload)]).await?;
            return Ok(results
                .into_iter()
                .find(|(found, _)| *found == key)
                .map(|(_, value)| value));
        }
        let (reply, answer) = oneshot::channel();
        self.queue
            .send((key, payload, reply))
            .map_err(|_| StoreError::Unavailable("the store is closed".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Internal("a coalesced call was abandoned".into()))?
    }
}

impl<K, V> Coalescer<K, V, ()>
where
    K: Eq + Hash + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// The row with `key`, if any.
    pub async fn get(&self, key: K) -> Result<Option<V>, StoreError> {
        self.call(key, ()).await
    }
}

type Handler<K, V, P> =
    Arc<dyn Fn(Vec<(K, P)>) -> BoxFuture<'static, Result<Vec<(K, V)>, StoreError>> + Send + Sync>;

async fn dispatch<K, V, P>(
    mut receiver: mpsc::UnboundedReceiver<(K, P, Reply<V>)>,
    handle: Handler<K, V, P>,
    in_flight: Arc<AtomicUsize>,
    max_group: usize,
    max_groups_in_flight: usize,
) where
    K: Eq + Hash + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    P: Send + 'static,
{
    let slots = Arc::new(Semaphore::new(max_groups_in_flight));
    while let Some(first) = receiver.recv().await {
        // Waiting for a free slot is what lets later calls join this group.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut group = vec![first];
        while group.len() < max_group {
            match receiver.try_recv() {
                Ok(call) => group.push(call),
                Err(_) => break,
            }
        }
        let handle = handle.clone();
        let running = Running::start(&in_flight);
        tokio::spawn(async move {
            let _running = running;
            let mut replies = Vec::with_capacity(group.len());
            let mut distinct = HashMap::with_capacity(group.len());
            for (key, payload, reply) in group {
                distinct.entry(key.clone()).or_insert(payload);
                replies.push((key, reply));
            }
            match handle(distinct.into_iter().collect()).await {
                Ok(results) => {
                    let results: HashMap<K, V> = results.into_iter().collect();
                    for (key, reply) in replies {
                        let _ = reply.send(Ok(results.get(&key).cloned()));
                    }
                }
                Err(error) => {
                    let message = error.to_string();
                    let unavailable = matches!(error, StoreError::Unavailable(_));
                    for (_, reply) in replies {
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
    async fn concurrent_calls_share_statements_and_each_gets_its_own_result() {
        let groups = Arc::new(Mutex::new(Vec::<Vec<u32>>::new()));
        let recorded = groups.clone();
        let coalescer = Arc::new(Coalescer::new(64, 1, move |calls: Vec<(u32, ())>| {
            let keys: Vec<u32> = calls.into_iter().map(|(key, ())| key).collect();
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
        let mut calls = Vec::new();
        for key in (1..=100u32).chain(1..=20) {
            let coalescer = coalescer.clone();
            calls.push(tokio::spawn(async move {
                (key, coalescer.get(key).await.unwrap())
            }));
        }
        for call in calls {
            let (key, value) = call.await.unwrap();
            let expected = if key % 7 == 0 { None } else { Some(key * 10) };
            assert_eq!(value, expected, "key {key}");
        }
        let groups = groups.lock().unwrap();
        assert!(
            groups.len() < 120,
            "calls were coalesced: {} statements",
            groups.len()
        );
        for group in groups.iter() {
            assert!(group.len() <= 64);
            let distinct: std::collections::HashSet<_> = group.iter().collect();
            assert_eq!(
                distinct.len(),
                group.len(),
                "keys are distinct within a group"
            );
        }
    }

    #[tokio::test]
    async fn a_lone_call_goes_out_at_once_and_errors_reach_every_caller() {
        let coalescer = Coalescer::new(8, 2, |calls: Vec<(u32, &'static str)>| async move {
            if calls.iter().any(|(key, _)| *key == 13) {
                Err(StoreError::Unavailable("down".into()))
            } else {
                Ok(calls)
            }
        });
        let started = std::time::Instant::now();
        assert_eq!(coalescer.call(1, "first").await.unwrap(), Some("first"));
        assert!(started.elapsed() < Duration::from_millis(100));
        assert!(matches!(
            coalescer.call(13, "x").await,
            Err(StoreError::Unavailable(_))
        ));
    }
}

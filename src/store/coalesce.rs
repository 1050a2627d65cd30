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
//! Isolation: no caller gets another caller's failure. When a group's
//! statement fails for any reason but unavailability (which every caller
//! would meet anyway), the group is split in halves and each half is run
//! again, down to single calls, so only the calls whose own input fails the
//! statement fail. One bad call in a group of `n` costs about `2 log2 n`
//! extra statements; a failure every call shares costs `2n - 1`. Handlers
//! must therefore be safe to repeat after a failure: lookups are reads, and
//! the writes run in one transaction that a failure rolls back.
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
/// brings besides its key (the first payload of a key is the one used),
/// copied when a failed group is run again in halves.
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
    P: Clone + Send + 'static,
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
    P: Clone + Send + 'static,
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
            let mut results = handle_isolating(&handle, distinct.into_iter().collect()).await;
            for (key, reply) in replies {
                let answer = match results.get(&key) {
                    Some(Ok(value)) => Ok(value.clone()),
                    Some(Err(error)) => Err(copy_error(error)),
                    None => Ok(None),
                };
                let _ = reply.send(answer);
            }
            results.clear();
            drop(slot);
        });
    }
}

/// The result of each distinct key of a group.
type GroupResults<K, V> = HashMap<K, Result<Option<V>, StoreError>>;

/// Runs `calls` as one group; if that fails for any reason but
/// unavailability, runs each half again (recursively, the halves at once),
/// so that a failure reaches only the calls whose own input causes it.
fn handle_isolating<K, V, P>(
    handle: &Handler<K, V, P>,
    calls: Vec<(K, P)>,
) -> BoxFuture<'static, GroupResults<K, V>>
where
    K: Eq + Hash + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    P: Clone + Send + 'static,
{
    let handle = handle.clone();
    Box::pin(async move {
        let keys: Vec<K> = calls.iter().map(|(key, _)| key.clone()).collect();
        // A copy to run the halves again, should the group fail: the
        // handler consumes its calls. It costs little beside the statement
        // (keys, candidate tokens and new requests, whose documents are
        // usually small).
        let payloads_for_retry = (calls.len() > 1).then(|| calls.clone());
        match handle(calls).await {
            Ok(found) => {
                let mut found: HashMap<K, V> = found.into_iter().collect();
                keys.into_iter()
                    .map(|key| {
                        let value = found.remove(&key);
                        (key, Ok(value))
                    })
                    .collect()
            }
            Err(error @ StoreError::Unavailable(_)) => keys
                .into_iter()
                .map(|key| (key, Err(copy_error(&error))))
                .collect(),
            Err(error) => match payloads_for_retry {
                None => keys
                    .into_iter()
                    .map(|key| (key, Err(copy_error(&error))))
                    .collect(),
                Some(mut again) => {
                    tracing::debug!(
                        target: "statusgate::store::coalesce",
                        calls = again.len(),
                        %error,
                        "a coalesced group failed; running its halves again"
                    );
                    let second = again.split_off(again.len() / 2);
                    let (mut first, second) = futures::join!(
                        handle_isolating(&handle, again),
                        handle_isolating(&handle, second)
                    );
                    first.extend(second);
                    first
                }
            },
        }
    })
}

/// The same failure for another caller (a `StoreError` is not `Clone`: the
/// copy keeps the meaning and the message).
fn copy_error(error: &StoreError) -> StoreError {
    match error {
        StoreError::Unavailable(message) => StoreError::Unavailable(message.clone()),
        other => StoreError::Internal(other.to_string()),
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_call_fails_alone_and_the_rest_of_its_group_succeeds() {
        let statements = Arc::new(Mutex::new(Vec::<usize>::new()));
        let recorded = statements.clone();
        let coalescer = Arc::new(Coalescer::new(64, 1, move |calls: Vec<(u32, ())>| {
            recorded.lock().unwrap().push(calls.len());
            let poisoned = calls.iter().any(|(key, ())| key % 10 == 3);
            async move {
                tokio::time::sleep(Duration::from_millis(10)).await;
                if poisoned {
                    // What a statement does when one row of it cannot be stored.
                    return Err(StoreError::Internal("invalid byte sequence".into()));
                }
                Ok(calls.into_iter().map(|(key, ())| (key, key * 2)).collect())
            }
        }));
        let mut calls = Vec::new();
        for key in 0..100u32 {
            let coalescer = coalescer.clone();
            calls.push(tokio::spawn(async move { (key, coalescer.get(key).await) }));
        }
        for call in calls {
            let (key, answer) = call.await.unwrap();
            if key % 10 == 3 {
                assert!(
                    matches!(answer, Err(StoreError::Internal(_))),
                    "key {key}: {answer:?}"
                );
            } else {
                assert_eq!(answer.unwrap(), Some(key * 2), "key {key}");
            }
        }
        let statements = statements.lock().unwrap();
        assert!(
            statements.iter().any(|size| *size > 1),
            "calls were grouped: {statements:?}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn unavailability_reaches_the_whole_group_without_retries() {
        let statements = Arc::new(Mutex::new(0usize));
        let recorded = statements.clone();
        let coalescer = Arc::new(Coalescer::new(64, 1, move |_calls: Vec<(u32, ())>| {
            *recorded.lock().unwrap() += 1;
            async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                Err::<Vec<(u32, u32)>, _>(StoreError::Unavailable("down".into()))
            }
        }));
        let mut calls = Vec::new();
        for key in 0..50u32 {
            let coalescer = coalescer.clone();
            calls.push(tokio::spawn(async move { coalescer.get(key).await }));
        }
        for call in calls {
            assert!(matches!(
                call.await.unwrap(),
                Err(StoreError::Unavailable(_))
            ));
        }
        assert!(*statements.lock().unwrap() < 50, "no group was split");
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

//! Change notifications ([`Notifications`]): how a watcher learns that a
//! request has a new event, or a change token a new status, without polling.
//!
//! A notification says only "look again": the watcher re-reads what it
//! watches from the store (events after the last one it delivered, or the
//! token's status), so a notification that is coalesced with another, or
//! arrives twice, never costs an event or duplicates one. That makes the
//! contract simple: **subscribe first, then read**; after that, every write
//! committed later wakes the subscription at least once.
//!
//! In one process the subscriptions of a topic share one
//! [`tokio::sync::watch`] channel, created with the first subscriber and
//! dropped with the last ([`FanOut`]): a notification wakes only that
//! topic's watchers, and each wakes once however many notifications arrived
//! meanwhile. What feeds the fan-out differs by backend: Postgres sends
//! `NOTIFY` inside each writing transaction (delivered at commit, across
//! every process on the database) and one `LISTEN` connection per process
//! receives them (`postgres/listener.rs`), which wakes every subscription
//! after it reconnects, so that nothing sent while it was away is missed;
//! SQLite notifies in-process right after its commit (a watcher in another
//! process on the same file is not woken).
//!
//! Hand-written: the keyed fan-out is a map of `watch` senders, and no crate
//! offers "one channel per key, dropped with its last receiver" over tokio.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::watch;

/// What a watcher waits for news of.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Topic {
    /// A new progress event of the request with this token.
    RequestEvents(String),
    /// A new status of the change token with this value.
    ChangeTokenStatus(String),
}

/// The store's notifications.
pub trait Notifications: Send + Sync {
    /// A subscription to `topic`. Every write that changes the topic and
    /// commits after this call returns wakes the subscription at least once
    /// (on SQLite: writes made through this process). Subscribing costs no
    /// database round trip.
    fn subscribe(&self, topic: Topic) -> Subscription;
}

/// The in-process registry of subscriptions: one `watch` channel per topic
/// that has subscribers.
#[derive(Debug, Default)]
pub struct FanOut {
    topics: Mutex<HashMap<Topic, watch::Sender<()>>>,
}

impl FanOut {
    fn topics(&self) -> MutexGuard<'_, HashMap<Topic, watch::Sender<()>>> {
        self.topics
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn subscribe(self: &Arc<Self>, topic: Topic) -> Subscription {
        let receiver = self
            .topics()
            .entry(topic.clone())
            .or_insert_with(|| watch::channel(()).0)
            .subscribe();
        Subscription {
            receiver,
            topic,
            fan_out: self.clone(),
        }
    }

    /// Wakes the subscriptions of `topic`, if it has any.
    pub fn notify(&self, topic: &Topic) {
        if let Some(sender) = self.topics().get(topic) {
            sender.send_replace(());
        }
    }

    /// Wakes every subscription (after notifications may have been missed).
    pub fn notify_all(&self) {
        for sender in self.topics().values() {
            sender.send_replace(());
        }
    }

    /// How many topics have subscribers now.
    pub fn topic_count(&self) -> usize {
        self.topics().len()
    }
}

/// One watcher's subscription; dropping it unsubscribes.
#[derive(Debug)]
pub struct Subscription {
    receiver: watch::Receiver<()>,
    topic: Topic,
    fan_out: Arc<FanOut>,
}

impl Subscription {
    /// Waits until the topic has been notified since the subscription was
    /// made or since the last `changed` returned.
    pub async fn changed(&mut self) {
        if self.receiver.changed().await.is_err() {
            // The sender lives as long as any subscription of its topic, so
            // this cannot happen; never wake for nothing if it did.
            std::future::pending::<()>().await;
        }
    }

    pub fn topic(&self) -> &Topic {
        &self.topic
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut topics = self.fan_out.topics();
        // This subscription's receiver is still alive here: it is the last
        // one when the count is 1.
        if topics
            .get(&self.topic)
            .is_some_and(|sender| sender.receiver_count() <= 1)
        {
            topics.remove(&self.topic);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn request(token: &str) -> Topic {
        Topic::RequestEvents(token.to_owned())
    }

    async fn woken(subscription: &mut Subscription) -> bool {
        tokio::time::timeout(Duration::from_millis(50), subscription.changed())
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn a_notification_wakes_only_its_topic_once() {
        let fan_out = Arc::new(FanOut::default());
        let mut first = fan_out.subscribe(request("a"));
        let mut second = fan_out.subscribe(request("a"));
        let mut other = fan_out.subscribe(request("b"));
        assert!(!woken(&mut first).await, "nothing was notified yet");
        fan_out.notify(&request("a"));
        fan_out.notify(&request("a"));
        assert!(woken(&mut first).await);
        assert!(woken(&mut second).await);
        assert!(!woken(&mut first).await, "two notifications, one wake");
        assert!(!woken(&mut other).await);
        fan_out.notify_all();
        assert!(woken(&mut other).await);
    }

    #[tokio::test]
    async fn a_topic_lives_as_long_as_its_subscriptions() {
        let fan_out = Arc::new(FanOut::default());
        let first = fan_out.subscribe(request("a"));
        let second = fan_out.subscribe(request("a"));
        let third = fan_out.subscribe(Topic::ChangeTokenStatus("a".into()));
        assert_eq!(fan_out.topic_count(), 2);
        drop(first);
        assert_eq!(fan_out.topic_count(), 2);
        drop(second);
        assert_eq!(fan_out.topic_count(), 1);
        drop(third);
        assert_eq!(fan_out.topic_count(), 0);
        // Notifying a topic nobody watches is a no-op.
        fan_out.notify(&request("a"));
        assert_eq!(fan_out.topic_count(), 0);
    }
}

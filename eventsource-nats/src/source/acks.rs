//! Acknowledging deliveries once the consumer's read model has committed.
//!
//! The consumer's ack policy is "all": acknowledging one message
//! acknowledges every earlier one, so after a commit at position `p` the
//! source acknowledges the last message delivered at or before `p`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use async_nats::{Client, Subject};
use bytes::Bytes;
use tokio::sync::mpsc;

/// The ack channels of the subscriptions open now, by consumer name.
#[derive(Default)]
pub(super) struct Registry {
    open: Mutex<HashMap<String, mpsc::UnboundedSender<u64>>>,
}

impl Registry {
    /// Forwards a commit of `consumer` at `position` to its subscription.
    pub(super) fn committed(&self, consumer: &str, position: u64) {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(sender) = open.get(consumer) {
            // A subscription that just ended has nothing left to ack.
            let _ = sender.send(position);
        }
    }

    /// Opens the ack channel of a new subscription of `consumer` (the one
    /// of an older subscription of it is closed) and starts the task that
    /// acknowledges its deliveries.
    pub(super) fn open(self: &Arc<Self>, consumer: &str, client: Client) -> Delivered {
        let (sender, commits) = mpsc::unbounded_channel();
        let delivered = Arc::new(Mutex::new(VecDeque::new()));
        self.open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(consumer.to_owned(), sender.clone());
        tokio::spawn(acknowledge(client, commits, delivered.clone()));
        Delivered {
            registry: self.clone(),
            consumer: consumer.to_owned(),
            sender,
            delivered,
        }
    }
}

/// The messages a subscription delivered and has not acknowledged yet.
/// Dropping it closes the subscription's ack channel.
pub(super) struct Delivered {
    registry: Arc<Registry>,
    consumer: String,
    sender: mpsc::UnboundedSender<u64>,
    delivered: Arc<Mutex<VecDeque<(u64, Subject)>>>,
}

impl Delivered {
    /// Records a delivery at `position`, acknowledged through `reply`.
    pub(super) fn push(&self, position: u64, reply: Subject) {
        self.delivered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_back((position, reply));
    }
}

impl Drop for Delivered {
    fn drop(&mut self) {
        let mut open = self
            .registry
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if open
            .get(&self.consumer)
            .is_some_and(|s| s.same_channel(&self.sender))
        {
            open.remove(&self.consumer);
        }
    }
}

async fn acknowledge(
    client: Client,
    mut commits: mpsc::UnboundedReceiver<u64>,
    delivered: Arc<Mutex<VecDeque<(u64, Subject)>>>,
) {
    while let Some(position) = commits.recv().await {
        let last = {
            let mut delivered = delivered.lock().unwrap_or_else(PoisonError::into_inner);
            let mut last = None;
            while delivered.front().is_some_and(|(p, _)| *p <= position) {
                last = delivered.pop_front().map(|(_, reply)| reply);
            }
            last
        };
        if let Some(reply) = last
            && let Err(error) = client.publish(reply, Bytes::new()).await
        {
            // The next commit acknowledges this one's messages too.
            tracing::debug!(%error, "cannot acknowledge JetStream deliveries");
        }
    }
}

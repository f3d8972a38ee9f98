//! A subscription, as stored in an account's index and a client's sid map.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use super::client::ClientShared;

/// One SUB of one connection.
#[derive(Debug)]
pub struct Subscription {
    /// The connection that receives the messages.
    pub client: Arc<ClientShared>,
    /// The client's subscription id, echoed in every MSG.
    pub sid: Box<[u8]>,
    pub subject: Box<str>,
    pub queue: Option<Box<str>>,
    /// Auto-unsubscribe after this many deliveries (0 = never).
    pub max: AtomicU64,
    /// Messages delivered so far.
    pub delivered: AtomicU64,
    /// A queue group's number of members behind this entry: 1 for a
    /// client's subscription, the announced weight for another server's
    /// group (its share of the messages).
    pub weight: AtomicU32,
}

impl Subscription {
    /// Counts one delivery. Returns `None` when the subscription already
    /// reached its `max`, else whether this delivery is the last one.
    #[inline]
    pub fn count_delivery(&self) -> Option<bool> {
        let max = self.max.load(Ordering::SeqCst);
        let n = self.delivered.fetch_add(1, Ordering::SeqCst) + 1;
        if max == 0 {
            return Some(false);
        }
        if n > max {
            None
        } else {
            Some(n == max)
        }
    }
}

/// A shared subscription compared by identity, the item type of an
/// account's [`Sublist`](crate::subject::Sublist).
#[derive(Debug, Clone)]
pub struct SubRef(pub Arc<Subscription>);

impl PartialEq for SubRef {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl std::ops::Deref for SubRef {
    type Target = Subscription;
    fn deref(&self) -> &Subscription {
        &self.0
    }
}

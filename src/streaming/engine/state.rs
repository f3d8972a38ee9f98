//! What the engine keeps in memory about clients, subscriptions and
//! channels. The store holds the lasting copy; these add what only matters
//! while the server runs (send times, redelivery counts, heartbeats).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use crate::streaming::store::{ClientInfo, SubState};

/// A registered client.
#[derive(Debug)]
pub struct Client {
    pub info: ClientInfo,
    /// Its online subscriptions.
    pub subs: Vec<u64>,
    /// Heartbeats missed in a row.
    pub missed_hb: u32,
    /// A heartbeat request is out and not answered yet.
    pub hb_in_flight: bool,
    /// Counts heartbeat rounds, so a late answer to an old one is ignored.
    pub hb_round: u64,
    pub next_hb: Instant,
}

/// A message sent to a subscription and not acknowledged yet.
#[derive(Clone, Copy, Debug)]
pub struct Pending {
    /// When it is sent again if still not acknowledged.
    pub due: Instant,
    /// How often it was sent again (`redeliveryCount`).
    pub redeliveries: u32,
}

/// A subscription, online or (a durable whose client closed it) offline.
#[derive(Debug)]
pub struct Sub {
    pub state: SubState,
    pub channel: String,
    pub pending: BTreeMap<u64, Pending>,
    /// The queue group's key in its channel, for members.
    pub group: Option<String>,
}

impl Sub {
    pub fn ack_wait(&self) -> Duration {
        Duration::from_secs(self.state.ack_wait_secs.max(1) as u64)
    }

    pub fn online(&self) -> bool {
        !self.state.is_closed
    }

    /// Stalled: as many messages in flight as it allows.
    pub fn stalled(&self) -> bool {
        self.pending.len() >= self.state.max_in_flight.max(1) as usize
    }
}

/// Members of one queue group share a position in the channel.
#[derive(Debug, Default)]
pub struct QueueGroup {
    pub members: Vec<u64>,
    pub last_sent: u64,
    /// Where the next tie between equally loaded members starts.
    pub next: usize,
    /// A durable group whose last member left by closing: its state, kept
    /// offline for the next member.
    pub shadow: Option<u64>,
}

/// One channel's subscriptions; its messages are in the store.
#[derive(Debug)]
pub struct Channel {
    /// Subscriptions outside queue groups, durables (also offline) included.
    pub plain: Vec<u64>,
    pub queues: HashMap<String, QueueGroup>,
    /// `clientID-channel-durable` → subscription.
    pub durables: HashMap<String, u64>,
    /// The last publish or subscription change, for `max_inactivity`.
    pub last_activity: Instant,
}

impl Channel {
    pub fn new(now: Instant) -> Channel {
        Channel {
            plain: Vec::new(),
            queues: HashMap::new(),
            durables: HashMap::new(),
            last_activity: now,
        }
    }

    /// Every subscription, as counted by `max_subs`.
    pub fn sub_ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.plain.iter().copied().chain(
            self.queues
                .values()
                .flat_map(|g| g.members.iter().copied().chain(g.shadow)),
        )
    }
}

/// The key of a durable subscription: it belongs to one client ID.
pub fn durable_key(client_id: &str, channel: &str, durable: &str) -> String {
    format!("{client_id}-{channel}-{durable}")
}

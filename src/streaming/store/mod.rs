//! Where a streaming server keeps its state: the server's identity, the
//! registered clients, and per channel the message log and the
//! subscriptions with their unacknowledged sequences.
//!
//! The engine owns every store through the one [`Store`] trait and calls it
//! from a single thread, so implementations need no locking of their own.
//! Every change is written when it happens; [`Store::flush`] is the point
//! after which the changes are durable (with the file store's `sync`, on the
//! disk), and the engine calls it before it sends a PubAck or a reply.
//!
//! - [`memory`]: nothing survives a restart.
//! - [`file`]: one directory per channel with a segmented message log.
//! - [`sql`]: PostgreSQL, in nats-streaming-server's tables.

pub mod crypto;
pub mod file;
pub mod limits;
pub mod memory;
pub mod records;
pub mod sql;

pub use limits::{ChannelLimits, StoreLimits};

/// Records the stores' unit tests build.
#[cfg(test)]
pub(crate) mod test_records {
    use super::ServerInfo;
    use crate::streaming::proto::MsgProto;

    /// A message of channel `foo`.
    pub fn msg(seq: u64, ts: i64, data: &[u8]) -> MsgProto {
        MsgProto {
            sequence: seq,
            subject: "foo".into(),
            data: data.to_vec(),
            timestamp: ts,
            ..Default::default()
        }
    }

    pub fn info() -> ServerInfo {
        ServerInfo {
            cluster_id: "test-cluster".into(),
            discovery: "_STAN.discover.test-cluster".into(),
            node_id: "n1".into(),
            ..Default::default()
        }
    }
}
pub use records::{ClientInfo, ServerInfo, SubState};

use crate::streaming::proto::MsgProto;

/// A store failed. The text reaches clients as a PubAck or subscription
/// error, as nats-streaming-server's store errors do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A record on disk or in the database does not decode or fails its
    /// checksum.
    #[error("corrupted {what}: {detail}")]
    Corrupt { what: String, detail: String },
    /// Another process holds the store (its lock file or lock row): the
    /// basis of fault-tolerant standby.
    #[error("store is locked by another server")]
    Locked,
    #[error("{0}")]
    Other(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// The kind of store, as `/streaming/storez` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreKind {
    Memory,
    File,
    Sql,
}

impl StoreKind {
    pub fn name(self) -> &'static str {
        match self {
            StoreKind::Memory => "MEMORY",
            StoreKind::File => "FILE",
            StoreKind::Sql => "SQL",
        }
    }
}

/// The message counts of one channel. An empty channel has
/// `first == last + 1` (both 0 before the first message, then the next
/// sequence), so sequences are never reused after limits removed messages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChannelStats {
    pub first: u64,
    pub last: u64,
    pub msgs: u64,
    pub bytes: u64,
}

/// One subscription as recovered: its state and the sequences sent to it
/// and not acknowledged yet.
#[derive(Clone, Debug, PartialEq)]
pub struct RecoveredSub {
    pub state: SubState,
    pub pending: std::collections::BTreeSet<u64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RecoveredChannel {
    pub name: String,
    pub subs: Vec<RecoveredSub>,
}

/// Everything a restarted server needs besides the messages themselves,
/// which stay in the store and are read with [`Store::lookup`].
#[derive(Clone, Debug, PartialEq)]
pub struct Recovered {
    pub info: ServerInfo,
    pub clients: Vec<ClientInfo>,
    pub channels: Vec<RecoveredChannel>,
}

/// A streaming server's persistent state. Channel names passed in are
/// valid (checked by the engine); methods on a channel that was not
/// created are errors, except [`Store::stats`] which answers zeros.
pub trait Store: Send {
    fn kind(&self) -> StoreKind;

    /// The state left by an earlier run, or `None` for a new store.
    fn recover(&mut self) -> Result<Option<Recovered>>;

    /// Records the server's identity (first start, or after recovery with
    /// an updated node id).
    fn init(&mut self, info: &ServerInfo) -> Result<()>;

    fn add_client(&mut self, client: &ClientInfo) -> Result<()>;
    fn delete_client(&mut self, id: &str) -> Result<()>;

    /// Creates the channel's log with its limits; a channel that exists
    /// (recovered) keeps its messages and takes the limits given.
    fn create_channel(&mut self, name: &str, limits: &ChannelLimits) -> Result<()>;
    /// Removes a channel with its messages and subscriptions.
    fn delete_channel(&mut self, name: &str) -> Result<()>;

    /// Appends `msg` (its sequence is `stats(channel).last + 1`, assigned by
    /// the engine), then drops the oldest messages over `max_msgs` or
    /// `max_bytes` of the channel's limits.
    fn store_msg(&mut self, channel: &str, msg: &MsgProto) -> Result<()>;
    /// The message with this sequence, `None` when it is not (or no longer)
    /// in the log.
    fn lookup(&mut self, channel: &str, seq: u64) -> Result<Option<MsgProto>>;
    fn stats(&self, channel: &str) -> ChannelStats;
    /// The sequence of the first message with a timestamp at or after
    /// `timestamp` (ns), or `last + 1` when there is none.
    fn first_seq_at_or_after(&mut self, channel: &str, timestamp: i64) -> Result<u64>;
    /// Drops the messages older than the channel's `max_age` at `now` (ns).
    fn expire(&mut self, channel: &str, now: i64) -> Result<()>;

    /// Records a new subscription (its `id` is unique in the store).
    fn create_sub(&mut self, channel: &str, sub: &SubState) -> Result<()>;
    /// Replaces a subscription's state (durable resumed or closed, limits
    /// changed); its pending sequences are kept.
    fn update_sub(&mut self, channel: &str, sub: &SubState) -> Result<()>;
    fn delete_sub(&mut self, channel: &str, sub_id: u64) -> Result<()>;
    /// `seq` was sent to the subscription: it is pending until acknowledged
    /// and is the subscription's `last_sent` if higher.
    fn add_pending(&mut self, channel: &str, sub_id: u64, seq: u64) -> Result<()>;
    fn ack(&mut self, channel: &str, sub_id: u64, seq: u64) -> Result<()>;

    /// Makes every change so far durable.
    fn flush(&mut self) -> Result<()>;

    /// Renews this server's hold on a shared store (fault tolerance); `false`
    /// when another server took it. Stores whose lock lasts as long as the
    /// process (the file store's lock file) keep the default.
    fn renew_lock(&mut self) -> Result<bool> {
        Ok(true)
    }
}

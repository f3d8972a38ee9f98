//! The records the stores persist, as protobufs so the file and SQL stores
//! write them the same way (and a record written by a newer version with
//! more fields still decodes).

use prost::Message;

/// The server's identity and the subjects it gave clients: persisted so a
/// restarted server answers on the same subjects its clients already use.
#[derive(Clone, PartialEq, Message)]
pub struct ServerInfo {
    #[prost(string, tag = "1")]
    pub cluster_id: String,
    #[prost(string, tag = "2")]
    pub discovery: String,
    #[prost(string, tag = "3")]
    pub publish: String,
    #[prost(string, tag = "4")]
    pub subscribe: String,
    #[prost(string, tag = "5")]
    pub unsubscribe: String,
    #[prost(string, tag = "6")]
    pub close: String,
    #[prost(string, tag = "7")]
    pub sub_close: String,
    /// The prefix of the subscriptions' ack inboxes (`<prefix>.<sub id>`).
    #[prost(string, tag = "8")]
    pub acks: String,
    #[prost(string, tag = "9")]
    pub node_id: String,
    #[prost(string, tag = "10")]
    pub ping: String,
}

/// A registered client.
#[derive(Clone, PartialEq, Message)]
pub struct ClientInfo {
    #[prost(string, tag = "1")]
    pub id: String,
    #[prost(string, tag = "2")]
    pub hb_inbox: String,
    #[prost(bytes = "vec", tag = "3")]
    pub conn_id: Vec<u8>,
    #[prost(int32, tag = "4")]
    pub protocol: i32,
    #[prost(int32, tag = "5")]
    pub ping_interval: i32,
    #[prost(int32, tag = "6")]
    pub ping_max_out: i32,
}

/// A subscription's lasting state. Its pending sequences are kept beside
/// it by each store.
#[derive(Clone, PartialEq, Message)]
pub struct SubState {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(string, tag = "2")]
    pub client_id: String,
    /// The queue group; for a durable queue group `durable:group`.
    #[prost(string, tag = "3")]
    pub q_group: String,
    #[prost(string, tag = "4")]
    pub inbox: String,
    #[prost(string, tag = "5")]
    pub ack_inbox: String,
    #[prost(int32, tag = "6")]
    pub max_in_flight: i32,
    #[prost(int32, tag = "7")]
    pub ack_wait_secs: i32,
    #[prost(string, tag = "8")]
    pub durable_name: String,
    #[prost(uint64, tag = "9")]
    pub last_sent: u64,
    #[prost(bool, tag = "10")]
    pub is_durable: bool,
    /// A durable (or the last member of a durable queue group) whose client
    /// closed it: kept, offline, for the next subscriber that resumes it.
    #[prost(bool, tag = "11")]
    pub is_closed: bool,
}

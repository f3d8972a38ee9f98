//! The STAN wire messages: proto3 protobufs carried as NATS payloads, with
//! the field numbers of nats-io/stan.go's `pb/protocol.proto`.
//!
//! Decoding is prost's: unknown fields are skipped (newer clients may add
//! some), a malformed payload is an error the caller turns into the
//! protocol's `stan: invalid ... request` answer.

use prost::Message;

/// A client's publish (`<pubPrefix>.<channel>`, reply = its PubAck inbox).
#[derive(Clone, PartialEq, Message)]
pub struct PubMsg {
    #[prost(string, tag = "1")]
    pub client_id: String,
    #[prost(string, tag = "2")]
    pub guid: String,
    #[prost(string, tag = "3")]
    pub subject: String,
    #[prost(string, tag = "4")]
    pub reply: String,
    #[prost(bytes = "vec", tag = "5")]
    pub data: Vec<u8>,
    #[prost(bytes = "vec", tag = "6")]
    pub conn_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "10")]
    pub sha256: Vec<u8>,
}

/// The answer to a publish.
#[derive(Clone, PartialEq, Message)]
pub struct PubAck {
    #[prost(string, tag = "1")]
    pub guid: String,
    #[prost(string, tag = "2")]
    pub error: String,
}

/// A stored message, as delivered to subscribers and kept by the stores.
#[derive(Clone, PartialEq, Message)]
pub struct MsgProto {
    #[prost(uint64, tag = "1")]
    pub sequence: u64,
    #[prost(string, tag = "2")]
    pub subject: String,
    #[prost(string, tag = "3")]
    pub reply: String,
    #[prost(bytes = "vec", tag = "4")]
    pub data: Vec<u8>,
    /// Nanoseconds since the Unix epoch.
    #[prost(int64, tag = "5")]
    pub timestamp: i64,
    #[prost(bool, tag = "6")]
    pub redelivered: bool,
    #[prost(uint32, tag = "7")]
    pub redelivery_count: u32,
    #[prost(uint32, tag = "10")]
    pub crc32: u32,
}

/// A subscriber's acknowledgement, published to its ack inbox.
#[derive(Clone, PartialEq, Message)]
pub struct Ack {
    #[prost(string, tag = "1")]
    pub subject: String,
    #[prost(uint64, tag = "2")]
    pub sequence: u64,
}

#[derive(Clone, PartialEq, Message)]
pub struct ConnectRequest {
    #[prost(string, tag = "1")]
    pub client_id: String,
    #[prost(string, tag = "2")]
    pub heartbeat_inbox: String,
    #[prost(int32, tag = "3")]
    pub protocol: i32,
    #[prost(bytes = "vec", tag = "4")]
    pub conn_id: Vec<u8>,
    /// Seconds.
    #[prost(int32, tag = "5")]
    pub ping_interval: i32,
    #[prost(int32, tag = "6")]
    pub ping_max_out: i32,
}

#[derive(Clone, PartialEq, Message)]
pub struct ConnectResponse {
    #[prost(string, tag = "1")]
    pub pub_prefix: String,
    #[prost(string, tag = "2")]
    pub sub_requests: String,
    #[prost(string, tag = "3")]
    pub unsub_requests: String,
    #[prost(string, tag = "4")]
    pub close_requests: String,
    #[prost(string, tag = "5")]
    pub error: String,
    #[prost(string, tag = "6")]
    pub sub_close_requests: String,
    #[prost(string, tag = "7")]
    pub ping_requests: String,
    #[prost(int32, tag = "8")]
    pub ping_interval: i32,
    #[prost(int32, tag = "9")]
    pub ping_max_out: i32,
    #[prost(int32, tag = "10")]
    pub protocol: i32,
    #[prost(string, tag = "100")]
    pub public_key: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct Ping {
    #[prost(bytes = "vec", tag = "1")]
    pub conn_id: Vec<u8>,
}

#[derive(Clone, PartialEq, Message)]
pub struct PingResponse {
    #[prost(string, tag = "1")]
    pub error: String,
}

/// Where a new subscription starts (`StartPosition` in the protocol).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum StartPosition {
    NewOnly = 0,
    LastReceived = 1,
    TimeDeltaStart = 2,
    SequenceStart = 3,
    First = 4,
}

#[derive(Clone, PartialEq, Message)]
pub struct SubscriptionRequest {
    #[prost(string, tag = "1")]
    pub client_id: String,
    #[prost(string, tag = "2")]
    pub subject: String,
    #[prost(string, tag = "3")]
    pub q_group: String,
    #[prost(string, tag = "4")]
    pub inbox: String,
    #[prost(int32, tag = "5")]
    pub max_in_flight: i32,
    #[prost(int32, tag = "6")]
    pub ack_wait_in_secs: i32,
    #[prost(string, tag = "7")]
    pub durable_name: String,
    /// A [`StartPosition`]; kept as the raw number so an out-of-range value
    /// can be refused with the protocol's own error.
    #[prost(int32, tag = "10")]
    pub start_position: i32,
    #[prost(uint64, tag = "11")]
    pub start_sequence: u64,
    /// Nanoseconds.
    #[prost(int64, tag = "12")]
    pub start_time_delta: i64,
}

/// The answer to subscribe, unsubscribe and subscription close.
#[derive(Clone, PartialEq, Message)]
pub struct SubscriptionResponse {
    #[prost(string, tag = "2")]
    pub ack_inbox: String,
    #[prost(string, tag = "3")]
    pub error: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct UnsubscribeRequest {
    #[prost(string, tag = "1")]
    pub client_id: String,
    #[prost(string, tag = "2")]
    pub subject: String,
    #[prost(string, tag = "3")]
    pub inbox: String,
    #[prost(string, tag = "4")]
    pub durable_name: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct CloseRequest {
    #[prost(string, tag = "1")]
    pub client_id: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct CloseResponse {
    #[prost(string, tag = "1")]
    pub error: String,
}

/// Encodes any STAN message into a fresh buffer.
pub fn encode<M: Message>(m: &M) -> Vec<u8> {
    m.encode_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_numbers_match_the_protocol() {
        // PubMsg{clientID:"c", guid:"g", subject:"foo", data:"hi"} as the Go
        // client encodes it.
        let m = PubMsg {
            client_id: "c".into(),
            guid: "g".into(),
            subject: "foo".into(),
            data: b"hi".to_vec(),
            ..Default::default()
        };
        assert_eq!(
            encode(&m),
            b"\x0a\x01c\x12\x01g\x1a\x03foo\x2a\x02hi".to_vec()
        );
        let r = ConnectResponse {
            public_key: "k".into(),
            ..Default::default()
        };
        // field 100, wire type 2: varint key 0xa2 0x06
        assert_eq!(encode(&r), b"\xa2\x06\x01k".to_vec());
    }

    #[test]
    fn unknown_fields_are_skipped_and_garbage_refused() {
        let mut b = encode(&Ack {
            subject: "foo".into(),
            sequence: 7,
        });
        b.extend_from_slice(b"\x78\x05"); // field 15 varint 5
        let a = Ack::decode(b.as_slice()).unwrap();
        assert_eq!(a.sequence, 7);
        assert!(Ack::decode(&b"\x0a\x09ab"[..]).is_err());
    }

    #[test]
    fn an_empty_payload_is_the_no_error_answer() {
        let r = SubscriptionResponse::decode(&b""[..]).unwrap();
        assert!(r.error.is_empty());
    }
}

//! The check the `stan_protocol` fuzz target runs (and `cargo test` replays
//! over the committed seeds): arbitrary bytes as STAN protobufs, through
//! every decoder and through the engine as a sequence of requests.
//!
//! Input: chunks separated by `0xff 0x00`; in each chunk the first byte picks
//! the request kind (and, with its high bit, whether a reply subject is
//! given), the rest is the payload. A connected client `c` and a channel
//! `foo` exist beforehand, so well-formed chunks reach deep paths.

use prost::Message;
use std::time::{Duration, Instant};

use super::engine::{Engine, EngineConfig, Event, Kind};
use super::proto::*;
use super::store::memory::MemoryStore;

fn roundtrip<M: Message + Default + PartialEq + std::fmt::Debug>(data: &[u8]) {
    if let Ok(m) = M::decode(data) {
        let again = M::decode(m.encode_to_vec().as_slice()).expect("re-encoded message decodes");
        assert_eq!(m, again, "re-encoding changed the message");
    }
}

/// Runs the input; panics on a finding.
pub fn check(data: &[u8]) {
    roundtrip::<PubMsg>(data);
    roundtrip::<PubAck>(data);
    roundtrip::<MsgProto>(data);
    roundtrip::<Ack>(data);
    roundtrip::<ConnectRequest>(data);
    roundtrip::<ConnectResponse>(data);
    roundtrip::<Ping>(data);
    roundtrip::<SubscriptionRequest>(data);
    roundtrip::<SubscriptionResponse>(data);
    roundtrip::<UnsubscribeRequest>(data);
    roundtrip::<CloseRequest>(data);

    let info = Engine::new_server_info("fuzz", "_STAN.discover");
    let acks = info.acks.clone();
    let cfg = EngineConfig {
        cluster_id: "fuzz".into(),
        ..EngineConfig::default()
    };
    let mut e = Engine::new(cfg, info, Box::new(MemoryStore::new()), None).expect("engine");
    let connect = ConnectRequest {
        client_id: "c".into(),
        heartbeat_inbox: "hb".into(),
        protocol: 1,
        conn_id: b"c".to_vec(),
        ..Default::default()
    };
    e.handle(Event::Msg {
        kind: Kind::Discover,
        subject: "d".into(),
        reply: Some("r".into()),
        payload: encode(&connect).into(),
    });
    let _ = e.finish_batch();
    let kinds = [
        Kind::Discover,
        Kind::Ping,
        Kind::Publish,
        Kind::Subscribe,
        Kind::Unsubscribe,
        Kind::SubClose,
        Kind::Close,
        Kind::Ack,
    ];
    for chunk in split(data) {
        let Some((&first, payload)) = chunk.split_first() else {
            continue;
        };
        let kind = kinds[usize::from(first & 0x7f) % kinds.len()];
        let subject = match kind {
            Kind::Ack => format!("{acks}.{}", first % 4),
            Kind::Publish => "_STAN.pub.fuzz.foo".into(),
            _ => "s".into(),
        };
        e.handle(Event::Msg {
            kind,
            subject,
            reply: (first & 0x80 != 0).then(|| "reply".into()),
            payload: payload.to_vec().into(),
        });
        let _ = e.finish_batch();
    }
    // Timers and a far future: redeliveries, heartbeats, expiry.
    e.handle(Event::Tick);
    let _ = e.finish_batch();
    let _ = Instant::now().checked_add(Duration::from_secs(3600));
}

fn split(data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i + 1 < data.len() {
        if data[i] == 0xff && data[i + 1] == 0x00 {
            out.push(&data[start..i]);
            start = i + 2;
            i += 2;
        } else {
            i += 1;
        }
    }
    out.push(&data[start..]);
    out
}

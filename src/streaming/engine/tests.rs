//! The engine driven by events, without a network: each test plays a
//! client's requests and reads the engine's output.

use super::*;
use crate::streaming::proto::*;
use crate::streaming::store::memory::MemoryStore;
use prost::Message;

struct Harness {
    e: Engine,
    out: Vec<Out>,
}

impl Harness {
    fn new() -> Harness {
        let info = Engine::new_server_info("test-cluster", "_STAN.discover");
        let e = Engine::new(
            EngineConfig::default(),
            info,
            Box::new(MemoryStore::new()),
            None,
        )
        .unwrap();
        Harness { e, out: Vec::new() }
    }

    fn send(&mut self, kind: Kind, subject: &str, reply: &str, payload: Vec<u8>) -> Vec<Out> {
        self.e.handle(Event::Msg {
            kind,
            subject: subject.to_owned(),
            reply: (!reply.is_empty()).then(|| reply.to_owned()),
            payload: payload.into(),
        });
        let out = self.e.finish_batch();
        self.out.extend(out.iter().map(|o| match o {
            Out::Publish { subject, payload } => Out::Publish {
                subject: subject.clone(),
                payload: payload.clone(),
            },
            Out::Request {
                subject,
                timeout,
                token,
            } => Out::Request {
                subject: subject.clone(),
                timeout: *timeout,
                token: token.clone(),
            },
        }));
        out
    }

    /// The payload published to `subject` in `out`.
    fn to(out: &[Out], subject: &str) -> Vec<Vec<u8>> {
        out.iter()
            .filter_map(|o| match o {
                Out::Publish {
                    subject: s,
                    payload,
                } if s == subject => Some(payload.clone()),
                _ => None,
            })
            .collect()
    }

    fn connect(&mut self, id: &str) -> ConnectResponse {
        let req = ConnectRequest {
            client_id: id.into(),
            heartbeat_inbox: format!("hb.{id}"),
            protocol: 1,
            conn_id: id.as_bytes().to_vec(),
            ping_interval: 5,
            ping_max_out: 3,
        };
        let out = self.send(
            Kind::Discover,
            "_STAN.discover.test-cluster",
            "r.conn",
            encode(&req),
        );
        ConnectResponse::decode(Harness::to(&out, "r.conn")[0].as_slice()).unwrap()
    }

    fn publish(&mut self, client: &str, channel: &str, data: &str) -> PubAck {
        let m = PubMsg {
            client_id: client.into(),
            guid: format!("g-{data}"),
            subject: channel.into(),
            data: data.as_bytes().to_vec(),
            conn_id: client.as_bytes().to_vec(),
            ..Default::default()
        };
        let out = self.send(
            Kind::Publish,
            &format!("_STAN.pub.test-cluster.{channel}"),
            "r.ack",
            encode(&m),
        );
        PubAck::decode(Harness::to(&out, "r.ack")[0].as_slice()).unwrap()
    }

    fn subscribe(&mut self, req: SubscriptionRequest) -> (SubscriptionResponse, Vec<MsgProto>) {
        let inbox = req.inbox.clone();
        let out = self.send(
            Kind::Subscribe,
            "_STAN.sub.test-cluster",
            "r.sub",
            encode(&req),
        );
        let r = SubscriptionResponse::decode(Harness::to(&out, "r.sub")[0].as_slice()).unwrap();
        let msgs = Harness::to(&out, &inbox)
            .iter()
            .map(|p| MsgProto::decode(p.as_slice()).unwrap())
            .collect();
        (r, msgs)
    }
}

fn sub_req(client: &str, channel: &str, inbox: &str, start: StartPosition) -> SubscriptionRequest {
    SubscriptionRequest {
        client_id: client.into(),
        subject: channel.into(),
        inbox: inbox.into(),
        max_in_flight: 1024,
        ack_wait_in_secs: 30,
        start_position: start as i32,
        ..Default::default()
    }
}

fn seqs(m: &[MsgProto]) -> Vec<u64> {
    m.iter().map(|m| m.sequence).collect()
}

#[test]
fn connect_answers_the_subjects_and_refuses_bad_requests() {
    let mut h = Harness::new();
    let r = h.connect("me");
    assert_eq!(r.pub_prefix, "_STAN.pub.test-cluster");
    assert_eq!(r.ping_requests, "_STAN.discover.test-cluster.pings");
    assert_eq!((r.protocol, r.ping_interval, r.ping_max_out), (1, 5, 3));
    let bad = ConnectRequest {
        client_id: "a.b".into(),
        heartbeat_inbox: "hb".into(),
        ..Default::default()
    };
    let out = h.send(Kind::Discover, "d", "r", encode(&bad));
    let r = ConnectResponse::decode(Harness::to(&out, "r")[0].as_slice()).unwrap();
    assert_eq!(r.error, handlers::ERR_INVALID_CLIENT_ID);
    // Same ID again: the old one is asked whether it is alive.
    let again = ConnectRequest {
        client_id: "me".into(),
        heartbeat_inbox: "hb2".into(),
        ..Default::default()
    };
    let out = h.send(Kind::Discover, "d", "r2", encode(&again));
    assert!(matches!(&out[..], [Out::Request { subject, .. }] if subject == "hb.me"));
    h.e.handle(Event::Answered {
        token: Token::DuplicateCheck {
            client: "me".into(),
        },
        answered: true,
    });
    let out = h.e.finish_batch();
    let r = ConnectResponse::decode(Harness::to(&out, "r2")[0].as_slice()).unwrap();
    assert_eq!(r.error, handlers::ERR_CLIENT_REGISTERED);
}

#[test]
fn start_positions() {
    let mut h = Harness::new();
    h.connect("c");
    for i in 1..=5 {
        assert_eq!(h.publish("c", "foo", &i.to_string()).error, "");
    }
    let cases = [
        (StartPosition::NewOnly, 0, vec![]),
        (StartPosition::LastReceived, 0, vec![5]),
        (StartPosition::First, 0, vec![1, 2, 3, 4, 5]),
        (StartPosition::SequenceStart, 3, vec![3, 4, 5]),
        (StartPosition::SequenceStart, 99, vec![]),
    ];
    for (i, (start, seq, want)) in cases.into_iter().enumerate() {
        let mut req = sub_req("c", "foo", &format!("in{i}"), start);
        req.start_sequence = seq;
        let (r, msgs) = h.subscribe(req);
        assert_eq!(r.error, "");
        assert_eq!(seqs(&msgs), want, "{start:?}");
    }
    let mut req = sub_req("c", "foo", "td", StartPosition::TimeDeltaStart);
    req.start_time_delta = 60_000_000_000;
    assert_eq!(seqs(&h.subscribe(req).1), vec![1, 2, 3, 4, 5]);
}

#[test]
fn max_in_flight_stalls_until_acked() {
    let mut h = Harness::new();
    h.connect("c");
    for i in 1..=3 {
        h.publish("c", "foo", &i.to_string());
    }
    let mut req = sub_req("c", "foo", "in", StartPosition::First);
    req.max_in_flight = 2;
    let (r, msgs) = h.subscribe(req);
    assert_eq!(seqs(&msgs), vec![1, 2]);
    let ack = Ack {
        subject: "foo".into(),
        sequence: 1,
    };
    let out = h.send(Kind::Ack, &r.ack_inbox, "", encode(&ack));
    let got: Vec<u64> = Harness::to(&out, "in")
        .iter()
        .map(|p| MsgProto::decode(p.as_slice()).unwrap().sequence)
        .collect();
    assert_eq!(got, vec![3]);
}

#[test]
fn errors_of_subscribe() {
    let mut h = Harness::new();
    h.connect("c");
    let mut req = sub_req("c", "foo", "in", StartPosition::First);
    req.ack_wait_in_secs = 0;
    assert_eq!(h.subscribe(req).0.error, handlers::ERR_INVALID_ACK_WAIT);
    let mut req = sub_req("c", "foo", "in", StartPosition::First);
    req.start_position = 9;
    assert_eq!(h.subscribe(req).0.error, handlers::ERR_INVALID_START);
    let req = sub_req("x", "foo", "in", StartPosition::First);
    assert_eq!(h.subscribe(req).0.error, handlers::ERR_UNKNOWN_CLIENT);
    let req = sub_req("c", "foo.*", "in", StartPosition::First);
    assert_eq!(h.subscribe(req).0.error, handlers::ERR_INVALID_SUBJECT);
    let mut req = sub_req("c", "foo", "in", StartPosition::First);
    req.durable_name = "d".into();
    assert_eq!(h.subscribe(req.clone()).0.error, "");
    assert_eq!(h.subscribe(req).0.error, handlers::ERR_DUP_DURABLE);
    h.publish("c", "Foo", "x");
    let a = h.publish("c", "Foo", "y");
    assert!(
        a.error.contains("different cases not allowed"),
        "{}",
        a.error
    );
}

#[test]
fn durable_resumes_with_unacked_first() {
    let mut h = Harness::new();
    h.connect("c");
    for i in 1..=3 {
        h.publish("c", "foo", &i.to_string());
    }
    let mut req = sub_req("c", "foo", "in", StartPosition::First);
    req.durable_name = "dur".into();
    let (r, msgs) = h.subscribe(req.clone());
    assert_eq!(seqs(&msgs), vec![1, 2, 3]);
    let ack = Ack {
        subject: "foo".into(),
        sequence: 1,
    };
    h.send(Kind::Ack, &r.ack_inbox, "", encode(&ack));
    // Close the subscription (not unsubscribe): the durable stays.
    let close = UnsubscribeRequest {
        client_id: "c".into(),
        subject: "foo".into(),
        inbox: r.ack_inbox.clone(),
        durable_name: "dur".into(),
    };
    h.send(
        Kind::SubClose,
        "_STAN.subclose.test-cluster",
        "r.cl",
        encode(&close),
    );
    h.publish("c", "foo", "4");
    let (_, msgs) = h.subscribe(req);
    assert_eq!(seqs(&msgs), vec![2, 3, 4]);
    assert!(msgs[0].redelivered && msgs[1].redelivered && !msgs[2].redelivered);
}

#[test]
fn queue_group_spreads_and_hands_over() {
    let mut h = Harness::new();
    h.connect("a");
    h.connect("b");
    let mut qa = sub_req("a", "foo", "ina", StartPosition::NewOnly);
    qa.q_group = "q".into();
    let mut qb = sub_req("b", "foo", "inb", StartPosition::NewOnly);
    qb.q_group = "q".into();
    let (ra, _) = h.subscribe(qa);
    h.subscribe(qb);
    let mut na = 0;
    let mut nb = 0;
    for i in 1..=4 {
        h.publish("a", "foo", &i.to_string());
    }
    for o in &h.out {
        if let Out::Publish { subject, .. } = o {
            na += usize::from(subject == "ina");
            nb += usize::from(subject == "inb");
        }
    }
    assert_eq!((na, nb), (2, 2));
    // a leaves without acking: b gets a's messages again, redelivered.
    let unsub = UnsubscribeRequest {
        client_id: "a".into(),
        subject: "foo".into(),
        inbox: ra.ack_inbox,
        ..Default::default()
    };
    h.send(Kind::Unsubscribe, "u", "r.u", encode(&unsub));
    h.e.on_tick(Instant::now() + Duration::from_secs(1));
    let out = h.e.finish_batch();
    let re: Vec<MsgProto> = Harness::to(&out, "inb")
        .iter()
        .map(|p| MsgProto::decode(p.as_slice()).unwrap())
        .collect();
    assert_eq!(re.len(), 2);
    assert!(re.iter().all(|m| m.redelivered && m.redelivery_count == 1));
}

#[test]
fn ack_wait_redelivers() {
    let mut h = Harness::new();
    h.connect("c");
    h.publish("c", "foo", "1");
    let req = sub_req("c", "foo", "in", StartPosition::First);
    h.subscribe(req);
    h.e.on_tick(Instant::now() + Duration::from_secs(31));
    let out = h.e.finish_batch();
    let m = MsgProto::decode(Harness::to(&out, "in")[0].as_slice()).unwrap();
    assert!(m.redelivered);
    assert_eq!((m.sequence, m.redelivery_count), (1, 1));
}

#[test]
fn close_and_ping() {
    let mut h = Harness::new();
    h.connect("c");
    let ping = Ping {
        conn_id: b"c".to_vec(),
    };
    let out = h.send(Kind::Ping, "p", "r.p", encode(&ping));
    assert_eq!(Harness::to(&out, "r.p"), vec![Vec::<u8>::new()]);
    let out = h.send(
        Kind::Close,
        "cl",
        "r.c",
        encode(&CloseRequest {
            client_id: "c".into(),
        }),
    );
    assert_eq!(Harness::to(&out, "r.c"), vec![Vec::<u8>::new()]);
    let out = h.send(Kind::Ping, "p", "r.p", encode(&ping));
    let r = PingResponse::decode(Harness::to(&out, "r.p")[0].as_slice()).unwrap();
    assert_eq!(r.error, handlers::ERR_CLIENT_REPLACED);
    let out = h.send(
        Kind::Close,
        "cl",
        "r.c",
        encode(&CloseRequest {
            client_id: "c".into(),
        }),
    );
    let r = CloseResponse::decode(Harness::to(&out, "r.c")[0].as_slice()).unwrap();
    assert_eq!(r.error, handlers::ERR_UNKNOWN_CLIENT);
}

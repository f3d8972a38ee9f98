//! NATS Streaming over the wire: the protocol's flows and error texts,
//! monitoring, and the tenant boundary. The engine runs in-process on a
//! test server (as `-ns` runs it); process-level behaviour (flags, stores,
//! crashes, fault tolerance) is in `streaming_process.rs`.

mod common;

use std::time::Duration;

use common::streaming::{sub_req, StanClient, WAIT};
use rnats::streaming::config::StreamingOptions;
use rnats::streaming::proto::*;
use rnats::streaming::server::StreamingHandle;

async fn stan_on(url: &str, tweak: impl FnOnce(&mut StreamingOptions)) -> StreamingHandle {
    let mut o = StreamingOptions::default();
    tweak(&mut o);
    rnats::streaming::server::start(&o, url)
        .await
        .expect("streaming starts")
}

async fn setup() -> (rnats::node::ServerHandle, StreamingHandle, String) {
    let h = common::start(common::test_options()).await;
    let url = h.client_url();
    let s = stan_on(&url, |_| {}).await;
    (h, s, url)
}

#[tokio::test]
async fn connect_errors_and_client_replacement() {
    let (_h, _s, url) = setup().await;
    let e = StanClient::connect(&url, "test-cluster", "bad.id")
        .await
        .err()
        .unwrap();
    assert_eq!(
        e,
        "stan: invalid clientID: only alphanumeric and `-` or `_` characters allowed"
    );
    let a = StanClient::connect(&url, "test-cluster", "me")
        .await
        .unwrap();
    assert_eq!(a.info.pub_prefix, "_STAN.pub.test-cluster");
    assert_eq!(a.info.protocol, 1);
    // The first one answers its heartbeats: the second is refused.
    let e = StanClient::connect(&url, "test-cluster", "me")
        .await
        .err()
        .unwrap();
    assert_eq!(e, "stan: clientID already registered");
    // Once its connection is gone, the ID is taken over.
    drop(a);
    let mut b = None;
    for _ in 0..50 {
        match StanClient::connect(&url, "test-cluster", "me").await {
            Ok(c) => {
                b = Some(c);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    let b = b.expect("the dead client is replaced");
    assert_eq!(b.ping().await, "");
    // Wrong cluster ID: nobody answers.
    let e = StanClient::connect(&url, "other", "x").await.err().unwrap();
    assert!(e.contains("timeout") || e.contains("no responders"), "{e}");
}

#[tokio::test]
async fn publish_and_every_start_position() {
    let (_h, _s, url) = setup().await;
    let mut c = StanClient::connect(&url, "test-cluster", "pub")
        .await
        .unwrap();
    for i in 1..=5u8 {
        assert_eq!(c.publish("foo", &[i]).await, "");
    }
    let cases = [
        (StartPosition::First, 0, vec![1, 2, 3, 4, 5]),
        (StartPosition::LastReceived, 0, vec![5]),
        (StartPosition::SequenceStart, 4, vec![4, 5]),
    ];
    for (start, seq, want) in cases {
        let mut r = sub_req("foo", start);
        r.start_sequence = seq;
        let mut sub = c.subscribe(r).await.unwrap();
        let got: Vec<u64> = sub
            .take(want.len())
            .await
            .iter()
            .map(|m| m.sequence)
            .collect();
        assert_eq!(got, want, "{start:?}");
        assert!(sub.next(Duration::from_millis(200)).await.is_none());
    }
    let mut r = sub_req("foo", StartPosition::TimeDeltaStart);
    r.start_time_delta = 60_000_000_000;
    let mut sub = c.subscribe(r).await.unwrap();
    assert_eq!(sub.take(5).await[4].data, vec![5]);
    let mut new_only = c
        .subscribe(sub_req("foo", StartPosition::NewOnly))
        .await
        .unwrap();
    assert!(new_only.next(Duration::from_millis(200)).await.is_none());
    c.publish("foo", b"six").await;
    let m = new_only.next(WAIT).await.unwrap();
    assert_eq!(
        (m.sequence, m.data.as_slice(), m.subject.as_str()),
        (6, &b"six"[..], "foo")
    );
    assert!(m.timestamp > 0);
}

#[tokio::test]
async fn subscription_and_publish_errors() {
    let (_h, _s, url) = setup().await;
    let mut c = StanClient::connect(&url, "test-cluster", "c")
        .await
        .unwrap();
    let mut r = sub_req("foo", StartPosition::First);
    r.ack_wait_in_secs = -1;
    assert_eq!(
        c.subscribe(r).await.err().unwrap(),
        "stan: invalid ack wait time, should be >= 1s"
    );
    let mut r = sub_req("foo", StartPosition::First);
    r.max_in_flight = -1;
    assert_eq!(
        c.subscribe(r).await.err().unwrap(),
        "stan: invalid MaxInflight, should be >= 1"
    );
    let mut r = sub_req("foo", StartPosition::First);
    r.start_position = 7;
    assert_eq!(
        c.subscribe(r).await.err().unwrap(),
        "stan: invalid start position"
    );
    let r = sub_req("foo.*", StartPosition::First);
    assert_eq!(c.subscribe(r).await.err().unwrap(), "stan: invalid subject");
    let mut r = sub_req("foo", StartPosition::First);
    r.client_id = "nobody".into();
    assert_eq!(
        c.subscribe(r).await.err().unwrap(),
        "stan: unknown clientID"
    );
    let mut r = sub_req("foo", StartPosition::First);
    r.durable_name = "d:x".into();
    r.q_group = "q".into();
    assert_eq!(
        c.subscribe(r).await.err().unwrap(),
        "stan: durable name of a durable queue subscriber can't contain the character ':'"
    );
    let mut r = sub_req("foo", StartPosition::First);
    r.durable_name = "dur".into();
    let sub = c.subscribe(r.clone()).await.unwrap();
    assert_eq!(
        c.subscribe(r).await.err().unwrap(),
        "stan: duplicate durable registration"
    );
    assert_eq!(
        c.unsubscribe("nope", &sub, false).await,
        "stan: unknown channel"
    );
    assert_eq!(c.unsubscribe("foo", &sub, false).await, "");
    assert_eq!(
        c.unsubscribe("foo", &sub, false).await,
        "stan: invalid subscription"
    );
    // Publishing to a bad channel, or as an unknown client.
    assert_eq!(
        c.publish_as("ok", "a..b", b"x").await,
        "stan: invalid publish request"
    );
    c.conn_id = b"forged".to_vec();
    assert_eq!(
        c.publish("foo", b"x").await,
        "stan: invalid publish request"
    );
    // Channels differing only in case.
    let mut c = StanClient::connect(&url, "test-cluster", "c2")
        .await
        .unwrap();
    assert_eq!(c.publish("Case", b"x").await, "");
    assert_eq!(
        c.publish("case", b"x").await,
        "rejecting channel \"case\" because channel \"Case\" alreay exists (different cases not allowed)"
    );
    assert_eq!(c.close().await, "");
    assert_eq!(c.close().await, "stan: unknown clientID");
    assert_eq!(
        c.ping().await,
        "client has been replaced or is no longer registered"
    );
}

#[tokio::test]
async fn acks_redelivery_and_max_in_flight() {
    let (_h, _s, url) = setup().await;
    let mut c = StanClient::connect(&url, "test-cluster", "c")
        .await
        .unwrap();
    for i in 1..=3u8 {
        c.publish("foo", &[i]).await;
    }
    let mut r = sub_req("foo", StartPosition::First);
    r.max_in_flight = 2;
    r.ack_wait_in_secs = 1;
    let mut sub = c.subscribe(r).await.unwrap();
    let first = sub.take(2).await;
    assert_eq!(
        first.iter().map(|m| m.sequence).collect::<Vec<_>>(),
        vec![1, 2]
    );
    // Stalled at two in flight: the third waits for an ack...
    assert!(sub.next(Duration::from_millis(300)).await.is_none());
    c.ack(&sub, &first[0]).await;
    assert_eq!(sub.next(WAIT).await.unwrap().sequence, 3);
    // ...and the unacknowledged ones come again after the ack wait.
    let again = sub.take(2).await;
    let mut seqs: Vec<u64> = again.iter().map(|m| m.sequence).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, vec![2, 3]);
    assert!(again
        .iter()
        .all(|m| m.redelivered && m.redelivery_count == 1));
}

#[tokio::test]
async fn durable_survives_connection_close() {
    let (_h, _s, url) = setup().await;
    let mut p = StanClient::connect(&url, "test-cluster", "p")
        .await
        .unwrap();
    for i in 1..=4u8 {
        p.publish("foo", &[i]).await;
    }
    let c = StanClient::connect(&url, "test-cluster", "d")
        .await
        .unwrap();
    let mut r = sub_req("foo", StartPosition::First);
    r.durable_name = "dur".into();
    let mut sub = c.subscribe(r.clone()).await.unwrap();
    for m in sub.take(4).await.iter().take(2) {
        c.ack(&sub, m).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(c.close().await, "");
    p.publish("foo", &[5]).await;
    let c = StanClient::connect(&url, "test-cluster", "d")
        .await
        .unwrap();
    let mut sub = c.subscribe(r).await.unwrap();
    let got = sub.take(3).await;
    let seqs: Vec<u64> = got.iter().map(|m| m.sequence).collect();
    assert_eq!(seqs, vec![3, 4, 5]);
    assert!(got[0].redelivered && got[1].redelivered && !got[2].redelivered);
}

#[tokio::test]
async fn queue_group_members_share_and_take_over() {
    let (_h, _s, url) = setup().await;
    let mut p = StanClient::connect(&url, "test-cluster", "p")
        .await
        .unwrap();
    let a = StanClient::connect(&url, "test-cluster", "qa")
        .await
        .unwrap();
    let b = StanClient::connect(&url, "test-cluster", "qb")
        .await
        .unwrap();
    let mut r = sub_req("q", StartPosition::NewOnly);
    r.q_group = "workers".into();
    let mut sa = a.subscribe(r.clone()).await.unwrap();
    let mut sb = b.subscribe(r).await.unwrap();
    for i in 0..10u8 {
        p.publish("q", &[i]).await;
    }
    let mut na = Vec::new();
    while let Some(m) = sa.next(Duration::from_millis(300)).await {
        na.push(m);
    }
    let mut nb = Vec::new();
    while let Some(m) = sb.next(Duration::from_millis(300)).await {
        nb.push(m);
    }
    assert_eq!(na.len() + nb.len(), 10);
    assert!(
        !na.is_empty() && !nb.is_empty(),
        "{} / {}",
        na.len(),
        nb.len()
    );
    for m in &nb {
        b.ack(&sb, m).await;
    }
    // a leaves without acking: b gets a's messages again.
    assert_eq!(a.close().await, "");
    let again = sb.take(na.len()).await;
    assert!(again.iter().all(|m| m.redelivered));
}

#[tokio::test]
async fn monitoring_documents() {
    let mut o = common::test_options();
    o.http_port = -1;
    let h = common::start(o).await;
    let s = stan_on(&h.client_url(), |_| {}).await;
    rnats::streaming::monitor::install(&h.server, s.inspector());
    let mon = h.monitor_addr.unwrap().port();
    let mut c = StanClient::connect(&h.client_url(), "test-cluster", "mon")
        .await
        .unwrap();
    c.publish("foo", b"hello").await;
    let mut r = sub_req("foo", StartPosition::First);
    r.durable_name = "dur".into();
    let _sub = c.subscribe(r).await.unwrap();
    let get = |p: &'static str| common::streaming::http_get(mon, p);
    let (st, body) = get("/streaming/serverz").await;
    assert_eq!(st, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["cluster_id"], "test-cluster");
    assert_eq!(v["state"], "STANDALONE");
    assert_eq!(
        (
            v["clients"].as_u64(),
            v["channels"].as_u64(),
            v["total_msgs"].as_u64()
        ),
        (Some(1), Some(1), Some(1))
    );
    let (_, body) = get("/streaming/channelsz?subs=1").await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let ch = &v["channels"][0];
    assert_eq!(
        (ch["name"].as_str(), ch["last_seq"].as_u64()),
        (Some("foo"), Some(1))
    );
    let sub = &ch["subscriptions"][0];
    assert_eq!(sub["durable_name"], "dur");
    assert_eq!(sub["is_durable"], true);
    assert_eq!(sub["last_sent"], 1);
    for key in [
        "client_id",
        "inbox",
        "ack_inbox",
        "is_offline",
        "max_inflight",
        "ack_wait",
        "pending_count",
        "is_stalled",
    ] {
        assert!(sub.get(key).is_some(), "{key} in {sub}");
    }
    let (_, body) = get("/streaming/channelsz").await;
    assert!(body.contains("\"names\""), "{body}");
    let (_, body) = get("/streaming/clientsz?subs=1").await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["clients"][0]["id"], "mon");
    assert_eq!(v["clients"][0]["subs_count"], 1);
    assert!(v["clients"][0]["subscriptions"]["foo"].is_array());
    assert_eq!(get("/streaming/clientsz?client=nobody").await.0, 404);
    let (st, body) = get("/streaming/channelsz?channel=nope").await;
    assert_eq!((st, body.trim()), (404, "Channel nope not found"));
    let (_, body) = get("/streaming/storez").await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["type"], "MEMORY");
    assert_eq!(v["limits"]["max_channels"], 100);
    let (_, metrics) = get("/metrics").await;
    assert!(
        metrics.contains("rnats_streaming_channel_messages{channel=\"foo\"} 1"),
        "{metrics}"
    );
    assert_eq!(get("/streaming/isFTActive").await.0, 204);
}

#[tokio::test]
async fn limits_drop_the_oldest_and_cap_channels() {
    let h = common::start(common::test_options()).await;
    let _s = stan_on(&h.client_url(), |o| {
        o.limits.max_channels = 2;
        o.limits.global.max_msgs = 3;
        o.limits.global.max_subs = 1;
    })
    .await;
    let mut c = StanClient::connect(&h.client_url(), "test-cluster", "c")
        .await
        .unwrap();
    for i in 1..=5u8 {
        assert_eq!(c.publish("a", &[i]).await, "");
    }
    let mut sub = c
        .subscribe(sub_req("a", StartPosition::First))
        .await
        .unwrap();
    let seqs: Vec<u64> = sub.take(3).await.iter().map(|m| m.sequence).collect();
    assert_eq!(seqs, vec![3, 4, 5]);
    assert_eq!(
        c.subscribe(sub_req("a", StartPosition::First))
            .await
            .err()
            .unwrap(),
        "too many subscriptions per channel"
    );
    assert_eq!(c.publish("b", b"x").await, "");
    assert_eq!(c.publish("c", b"x").await, "too many channels");
}

#[tokio::test]
async fn streaming_lives_in_one_account() {
    let h = common::start_conf(
        "accounts {\n  STAN { users = [{user: stan, password: spw}, {user: app, password: apw}] }\n  OTHER { users = [{user: other, password: opw}] }\n}\n",
    )
    .await;
    let url = h.client_url();
    let _s = stan_on(&url, |o| {
        o.nats.username = Some("stan".into());
        o.nats.password = Some("spw".into());
    })
    .await;
    let port = h.addr.port();
    let login = |u: &str, p: &str| {
        async_nats::ConnectOptions::with_user_and_password(u.into(), p.into())
            .connect(format!("127.0.0.1:{port}"))
    };
    let app = login("app", "apw").await.unwrap();
    let mut c = StanClient::connect_with(app, "test-cluster", "app")
        .await
        .unwrap();
    assert_eq!(c.publish("orders", b"1").await, "");
    // Another account has no streaming server at that cluster ID.
    let other = login("other", "opw").await.unwrap();
    let e = StanClient::connect_with(other, "test-cluster", "spy")
        .await
        .err()
        .unwrap();
    assert!(e.contains("timeout") || e.contains("no responders"), "{e}");
}

//! Rate quotas: a publisher over its account's or user's quota is slowed to
//! the quota, with nothing lost and nothing said to it; quotas come from the
//! config (accounts and users) and from JWTs, and change live on reload and
//! on a claims update.
//!
//! The quota tests measure how long a publish takes, because slowing the
//! publisher is what a quota does; the bounds are the quota's own arithmetic
//! (a publisher may never beat its quota by more than 10%) with generous
//! room on the slow side, never a claim about the server's speed.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::operator::{push_claims, user_jwt_of, Setup};
use common::process;
use common::Raw;
use futures::StreamExt;
use rnats::jwt;
use rnats::nkeys::KeyPair;

const N: usize = 3000;
const PAYLOAD: usize = 16;

/// Publishes `n` messages on `subject` from a connection logged in with
/// `connect`, as one write, and returns how long until the server answered
/// the PING after them (it has then read them all).
async fn publish_timed(addr: SocketAddr, connect: &str, subject: &str, n: usize) -> Duration {
    let mut p = Box::pin(Raw::connected_to(addr, connect)).await;
    let mut batch = Vec::with_capacity(n * (subject.len() + PAYLOAD + 16));
    for _ in 0..n {
        batch.extend_from_slice(format!("PUB {subject} {PAYLOAD}\r\n").as_bytes());
        batch.extend_from_slice(&[b'x'; PAYLOAD]);
        batch.extend_from_slice(b"\r\n");
    }
    batch.extend_from_slice(b"PING\r\n");
    let start = Instant::now();
    p.send(&batch).await;
    // Generous: the slowest quota below takes a few seconds.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let line = tokio::time::timeout_at(deadline.into(), Box::pin(p.line()))
            .await
            .expect("PONG in time")
            .expect("publisher still connected");
        if line == "PONG" {
            return start.elapsed();
        }
        assert!(!line.starts_with("-ERR"), "quota said something: {line}");
    }
}

/// Counts what `sub` receives until `n` arrived (bounded).
async fn receive_all(sub: &mut async_nats::Subscriber, n: usize) {
    for i in 0..n {
        tokio::time::timeout(Duration::from_secs(30), sub.next())
            .await
            .unwrap_or_else(|_| panic!("message {i} of {n} lost"))
            .expect("subscription open");
    }
}

fn user(name: &str) -> String {
    format!(r#"{{"user":"{name}","pass":"{name}pw"}}"#)
}

async fn client(url: &str, name: &str) -> async_nats::Client {
    async_nats::ConnectOptions::new()
        .user_and_password(name.into(), format!("{name}pw"))
        .connect(url)
        .await
        .unwrap()
}

/// A connection of `name` subscribed to `q`, the subscription in place on
/// the server.
async fn reader(url: &str, name: &str) -> (async_nats::Client, async_nats::Subscriber) {
    let reader = client(url, name).await;
    let sub = reader.subscribe("q").await.unwrap();
    reader.flush().await.unwrap();
    (reader, sub)
}

/// The time `n` messages take at `rate`/s after a burst of `burst`.
fn quota_time(n: usize, rate: f64, burst: f64) -> f64 {
    (n as f64 - burst).max(0.0) / rate
}

fn check_slowed(took: Duration, n: usize, rate: f64, burst: f64) {
    let expected = quota_time(n, rate, burst);
    let secs = took.as_secs_f64();
    assert!(
        secs >= expected / 1.1,
        "published {n} in {secs:.2}s, faster than the quota allows ({expected:.2}s)"
    );
    assert!(
        secs < expected * 4.0 + 2.0,
        "took {secs:.2}s for {expected:.2}s"
    );
}

#[tokio::test]
async fn an_account_quota_slows_its_publishers_and_loses_nothing() {
    let h = common::start_conf(
        "http_port: -1\naccounts {\n  A: { users: [{user: a, password: apw}], limits: { msgs_per_sec: 2000, burst: \"100ms\" } }\n  B: { users: [{user: b, password: bpw}] }\n}\n",
    )
    .await;
    let url = h.client_url();
    let (_reader, mut sub) = reader(&url, "a").await;
    let took = publish_timed(h.addr, &user("a"), "q", N).await;
    check_slowed(took, N, 2000.0, 200.0);
    receive_all(&mut sub, N).await;
    // The throttled time shows per account and in the metrics.
    let a = common::monitor_json(&h, "/accountz?acc=A").await["account_detail"].clone();
    assert_eq!(a["rate_limit"]["msgs_per_sec"], 2000, "{a}");
    assert_eq!(a["rate_limit"]["burst_ms"], 100, "{a}");
    // (How much depends on how fast the reader ran between its waits.)
    assert!(a["throttled_ms"].as_u64().unwrap() > 0, "{a}");

    // Another account publishes without a quota (finishes, nothing lost).
    let b = client(&url, "b").await;
    let mut bsub = b.subscribe("q").await.unwrap();
    b.flush().await.unwrap();
    publish_timed(h.addr, &user("b"), "q", N).await;
    receive_all(&mut bsub, N).await;
    h.shutdown().await;
}

#[tokio::test]
async fn a_user_quota_is_shared_by_the_users_connections() {
    let h = common::start_conf(
        "authorization { users: [ {user: u, password: upw, limits: { bytes_per_sec: 40000, burst: \"100ms\" }}, {user: v, password: vpw} ] }\n",
    )
    .await;
    let url = h.client_url();
    let (_reader, mut sub) = reader(&url, "v").await;
    // Two connections of u, 1000 messages of 16 bytes each: 32000 bytes at
    // 40000 B/s after a 4000-byte burst, whichever connection sends them.
    let addr = h.addr;
    let u = user("u");
    let (t1, t2) = tokio::join!(
        publish_timed(addr, &u, "q", 1000),
        publish_timed(addr, &u, "q", 1000)
    );
    check_slowed(t1.max(t2), 2000, 40000.0 / 16.0, 4000.0 / 16.0);
    receive_all(&mut sub, 2000).await;
    h.shutdown().await;
}

#[tokio::test]
async fn jwt_quotas_apply_and_change_with_a_claims_update() {
    let st = Setup::with(|c| {
        c.nats.limits.rate.msgs_per_sec = 1000;
        c.nats.limits.rate.burst_ms = 100;
    });
    let h = st.start().await;
    let key = KeyPair::new_user();
    let ujwt = user_jwt_of(&key, &st.acc);
    let nonce_login = |raw: &Raw| {
        let nonce = raw.info["nonce"].as_str().unwrap().to_owned();
        let sig = rnats::nkeys::sign_nonce(&key, nonce.as_bytes()).unwrap();
        serde_json::json!({"jwt": ujwt, "sig": sig, "verbose": false, "pedantic": false})
    };
    // Publish through a raw connection logged in with the user JWT.
    async fn timed_jwt(raw: &mut Raw, n: usize) -> Duration {
        let mut batch = Vec::new();
        for _ in 0..n {
            batch.extend_from_slice(format!("PUB q {PAYLOAD}\r\n").as_bytes());
            batch.extend_from_slice(&[b'x'; PAYLOAD]);
            batch.extend_from_slice(b"\r\n");
        }
        batch.extend_from_slice(b"PING\r\n");
        let start = Instant::now();
        raw.send(&batch).await;
        for _ in 0..1000 {
            let l = tokio::time::timeout(Duration::from_secs(30), Box::pin(raw.line()))
                .await
                .expect("PONG in time")
                .expect("connected");
            if l == "PONG" {
                return start.elapsed();
            }
            assert!(!l.starts_with("-ERR"), "{l}");
        }
        panic!("no PONG");
    }
    let mut raw = Box::pin(Raw::connect(&h)).await;
    let connect = nonce_login(&raw);
    raw.send(format!("CONNECT {connect}\r\nPING\r\n")).await;
    assert_eq!(Box::pin(raw.line()).await.as_deref(), Some("PONG"));

    let took = timed_jwt(&mut raw, 1600).await;
    check_slowed(took, 1600, 1000.0, 100.0);

    // A newer JWT lifts the quota: the same connection is no longer held
    // to 1000/s (1600 messages would need about 1.5 s more).
    let lifted = st.update(|_| {});
    let reply = push_claims(&h, &st.op, &lifted).await;
    assert_eq!(reply["data"]["code"], 200, "{reply}");
    let took = timed_jwt(&mut raw, 1600).await;
    assert!(
        took < Duration::from_millis(1200),
        "still throttled after the quota was lifted: {took:?}"
    );
    // And the user's own quota from its JWT.
    let limited = KeyPair::new_user();
    let mut uc = jwt::UserClaims::new(limited.public_key());
    uc.nats.permission_limits.rate.msgs_per_sec = 500;
    uc.nats.permission_limits.rate.burst_ms = 100;
    let ljwt = uc.encode(&st.acc).unwrap();
    let mut raw2 = Box::pin(Raw::connect(&h)).await;
    let nonce = raw2.info["nonce"].as_str().unwrap().to_owned();
    let sig = rnats::nkeys::sign_nonce(&limited, nonce.as_bytes()).unwrap();
    let c = serde_json::json!({"jwt": ljwt, "sig": sig, "verbose": false, "pedantic": false});
    raw2.send(format!("CONNECT {c}\r\nPING\r\n")).await;
    assert_eq!(Box::pin(raw2.line()).await.as_deref(), Some("PONG"));
    let took = timed_jwt(&mut raw2, 800).await;
    check_slowed(took, 800, 500.0, 50.0);
    h.shutdown().await;
}

/// The quota in force, as `/accountz` reports it (0: none).
async fn account_rate(http: u16) -> u64 {
    let (status, body) = common::streaming::http_get(http, "/accountz?acc=A").await;
    assert_eq!(status, 200, "{body}");
    let json = body
        .split_once("\r\n\r\n")
        .map_or(body.as_str(), |(_, b)| b);
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    v["account_detail"]["rate_limit"]["msgs_per_sec"]
        .as_u64()
        .unwrap_or(0)
}

#[test]
fn a_reload_changes_an_account_quota_live() {
    let http = common::free_port();
    let conf = |rate: i64| {
        format!(
            "http_port: {http}\naccounts {{\n  A: {{ users: [{{user: a, password: apw}}], limits: {{ msgs_per_sec: {rate}, burst: \"100ms\" }} }}\n}}\n"
        )
    };
    let s = process::Server::start(&conf(1000), &[]);
    let addr: SocketAddr = format!("127.0.0.1:{}", s.port).parse().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let took = rt.block_on(publish_timed(addr, &user("a"), "q", 1600));
    check_slowed(took, 1600, 1000.0, 100.0);
    assert_eq!(rt.block_on(account_rate(http)), 1000);
    // Raise it tenfold: the same publish is held to 10000/s instead, and the
    // account's existing bucket carries the new rate.
    s.write_conf(&conf(10000));
    let log = s.reload();
    assert!(log.contains("Reloaded server configuration"), "{log}");
    assert_eq!(rt.block_on(account_rate(http)), 10000);
    let took = rt.block_on(publish_timed(addr, &user("a"), "q", 1600));
    check_slowed(took, 1600, 10000.0, 1000.0);
    // A bad quota is refused and the one in force stays.
    s.write_conf(&conf(-5));
    let log = s.reload();
    assert!(log.contains("msgs_per_sec"), "{log}");
    assert_eq!(rt.block_on(account_rate(http)), 10000);
}

/// The `/connz` entries (with accounts) of `account`'s open
/// connections, polled (bounded) until every one of them is on the bulk lane
/// or not, as `moved` says.
async fn conns_of(
    h: &rnats::node::ServerHandle,
    account: &str,
    moved: bool,
) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let all = common::monitor_json(h, "/connz?auth=1").await;
        let conns: Vec<_> = all["connections"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["account"] == account)
            .cloned()
            .collect();
        let on_lane = |c: &serde_json::Value| c["bulk_lane"] == true;
        if conns.iter().all(|c| on_lane(c) == moved) || Instant::now() > deadline {
            return conns;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A quota that holds a publisher back makes its account a noisy tenant:
/// the publisher, the account's subscriber it feeds (far below
/// `heavy_connection_rate` on its own) and a connection of the account
/// that logs in afterwards all move to the bulk lane, with nothing lost;
/// the other account's connection stays where it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_account_moves_to_the_bulk_lane_together() {
    let h = common::start_conf(
        "http_port: -1\naccounts {\n  A: { users: [{user: a, password: apw}], limits: { msgs_per_sec: 2000, burst: \"100ms\" } }\n  B: { users: [{user: b, password: bpw}] }\n}\n",
    )
    .await;
    let url = h.client_url();
    let (reader, mut sub) = reader(&url, "a").await;
    let other = client(&url, "b").await;
    other.flush().await.unwrap();

    // Held to 2000/s after a burst of 200: throttled for about a second.
    let publisher = client(&url, "a").await;
    for _ in 0..N {
        publisher.publish("q", "x".into()).await.unwrap();
    }
    tokio::time::timeout(Duration::from_secs(30), publisher.flush())
        .await
        .expect("the server read everything")
        .unwrap();
    receive_all(&mut sub, N).await;
    let later = client(&url, "a").await;
    later.flush().await.unwrap();

    let a = conns_of(&h, "A", true).await;
    assert_eq!(a.len(), 3, "{a:?}");
    for c in &a {
        assert_eq!(
            c["bulk_lane"], true,
            "an account's connections move together: {c}"
        );
    }
    // The moved ones are served where they are now.
    reader.publish("q", "after".into()).await.unwrap();
    let m = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .expect("delivered after the move")
        .unwrap();
    assert_eq!(&m.payload[..], b"after");
    later.flush().await.unwrap();
    let b = conns_of(&h, "B", false).await;
    assert_eq!(b.len(), 1, "{b:?}");
    assert!(
        b[0].get("bulk_lane").is_none(),
        "another tenant stays: {}",
        b[0]
    );
    other.flush().await.unwrap();

    // A closed connection keeps its lane and throttled time in `/connz`.
    let cid = a
        .iter()
        .filter_map(|c| c["throttled_ms"].as_u64().map(|_| c["cid"].clone()))
        .next()
        .expect("the publisher waited on the quota");
    publisher.drain().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let closed = loop {
        let v = common::monitor_json(&h, "/connz?state=closed&auth=1").await;
        let hit = v["connections"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["cid"] == cid)
            .cloned();
        match hit {
            Some(c) => break c,
            None if Instant::now() > deadline => panic!("not listed as closed: {v}"),
            None => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    };
    assert_eq!(closed["bulk_lane"], true, "{closed}");
    assert!(closed["throttled_ms"].as_u64().unwrap_or(0) > 0, "{closed}");
    h.shutdown().await;
}

/// With `heavy_connection_rate: 0` the bulk lane is off: a throttled
/// account's connections stay too.
#[tokio::test]
async fn without_the_bulk_lane_a_throttled_account_stays() {
    let h = common::start_conf(
        "http_port: -1\nheavy_connection_rate: 0\naccounts {\n  A: { users: [{user: a, password: apw}], limits: { msgs_per_sec: 5000, burst: \"100ms\" } }\n}\n",
    )
    .await;
    let url = h.client_url();
    let (_reader, mut sub) = reader(&url, "a").await;
    let publisher = client(&url, "a").await;
    let n = 1000;
    for _ in 0..n {
        publisher.publish("q", "x".into()).await.unwrap();
    }
    tokio::time::timeout(Duration::from_secs(30), publisher.flush())
        .await
        .expect("the server read everything")
        .unwrap();
    receive_all(&mut sub, n).await;
    let throttled = common::monitor_json(&h, "/accountz?acc=A").await["account_detail"]
        ["throttled_ms"]
        .as_u64()
        .unwrap();
    assert!(throttled > 0, "the quota held the publisher back");
    let a = conns_of(&h, "A", false).await;
    assert_eq!(a.len(), 2, "{a:?}");
    for c in &a {
        assert!(c.get("bulk_lane").is_none(), "{c}");
    }
    h.shutdown().await;
}

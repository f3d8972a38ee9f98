//! An account's `max_connections` counts its connections on every member
//! of the cluster (from the members' `SERVER.CONNS` events), as nats-server
//! counts them.

mod common;

use std::time::{Duration, Instant};

use common::{start_conf, Raw};
use rnats::node::ServerHandle;

const ACCOUNTS: &str =
    "accounts {\n  A: { users: [{user: a, password: apw}], limits: { max_connections: 2 } }\n}\n";

async fn node(routes: &str) -> ServerHandle {
    start_conf(&format!(
        "{ACCOUNTS}http: 127.0.0.1:-1\ncluster {{\n  name: L\n  listen: 127.0.0.1:-1\n{routes}\n}}\n"
    ))
    .await
}

/// `/metrics` as text.
async fn metrics(h: &ServerHandle) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(h.monitor_addr.unwrap())
        .await
        .unwrap();
    s.write_all(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut text = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_string(&mut text)).await;
    text
}

async fn wait_remote_conns(h: &ServerHandle, n: u64) {
    let acc = h.server.accounts.get("A").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while acc.remote_conns() != n {
        assert!(
            Instant::now() < deadline,
            "remote conns {} want {n}",
            acc.remote_conns()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn login(h: &ServerHandle) -> (Raw, Vec<String>) {
    let mut c = Raw::connect(h).await;
    c.send("CONNECT {\"user\":\"a\",\"pass\":\"apw\",\"verbose\":false}\r\nPING\r\n")
        .await;
    let first = c.line().await.unwrap_or_default();
    (c, vec![first])
}

#[tokio::test]
async fn max_connections_counts_every_member() {
    let a = node("").await;
    let port = a.server.cluster.get().unwrap().addr.port();
    let b = node(&format!("  routes: [\"nats-route://127.0.0.1:{port}\"]")).await;
    let (_c1, r1) = login(&a).await;
    let (mut c2, r2) = login(&a).await;
    assert_eq!((r1[0].as_str(), r2[0].as_str()), ("PONG", "PONG"));
    wait_remote_conns(&b, 2).await;
    // b holds none of A's connections, yet the account is full.
    let (_c3, r3) = login(&b).await;
    assert_eq!(r3[0], "-ERR 'maximum account active connections exceeded'");
    // One leaves on a: b admits one again.
    c2.send("").await;
    drop(c2);
    wait_remote_conns(&b, 1).await;
    let (_c4, r4) = login(&b).await;
    assert_eq!(r4[0], "PONG");

    // Routes in /metrics: 3 pooled connections and the system account's.
    let m = metrics(&a).await;
    assert!(m.contains("rnats_routes 4"), "{m}");
    assert!(m.contains("rnats_route_out_msgs_total{"), "{m}");
    assert!(m.contains("account=\"$SYS\""), "{m}");
}

/// A route peer that reads slowly is not cut as a slow consumer: the
/// publisher feeding it is paused instead, and everything arrives.
#[tokio::test]
async fn a_slow_route_slows_the_publisher_and_is_not_cut() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let h = start_conf(
        "max_pending: 1MB\ncluster {\n  name: S\n  listen: 127.0.0.1:-1\n  pool_size: -1\n}\n",
    )
    .await;
    let port = h.server.cluster.get().unwrap().addr.port();
    let mut peer = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    peer.write_all(
        b"CONNECT {\"name\":\"SLOWPEER\",\"cluster\":\"S\",\"headers\":true}\r\n\
          INFO {\"server_id\":\"SLOWPEER\",\"server_name\":\"slow\",\"cluster\":\"S\",\"headers\":true,\"proto\":2}\r\n\
          RS+ $G slow.data\r\nPING\r\n",
    )
    .await
    .unwrap();
    // Wait until the interest is in (the PONG after it).
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !String::from_utf8_lossy(&seen).contains("PONG") {
        assert!(Instant::now() < deadline, "no PONG from the route");
        let mut buf = [0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(5), peer.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        seen.extend_from_slice(&buf[..n]);
    }
    // 8 MiB for a route with 1 MiB of room, read at about 8 MiB/s.
    let total = 8 * 1024;
    let publisher = tokio::spawn({
        let addr = h.addr;
        async move {
            let mut c = Raw::connected_to(addr, "{}").await;
            let payload = "x".repeat(1024);
            for _ in 0..total / 64 {
                let mut batch = String::new();
                for _ in 0..64 {
                    batch.push_str(&format!("PUB slow.data 1024\r\n{payload}\r\n"));
                }
                c.send(batch).await;
            }
            c.sync().await;
        }
    });
    let mut got = 0usize;
    let mut buf = vec![0u8; 64 * 1024];
    let deadline = Instant::now() + Duration::from_secs(30);
    let needle = b"RMSG $G slow.data 1024\r\n";
    let mut tail: Vec<u8> = Vec::new();
    while got < total {
        assert!(Instant::now() < deadline, "got {got} of {total}");
        let n = tokio::time::timeout(Duration::from_secs(5), peer.read(&mut buf))
            .await
            .expect("the route went quiet")
            .expect("read");
        assert!(n > 0, "the route was cut after {got} messages");
        tail.extend_from_slice(&buf[..n]);
        got += tail.windows(needle.len()).filter(|w| w == needle).count();
        // Keep only what may hold the start of a split header.
        let keep = tail.len().saturating_sub(needle.len() - 1);
        tail.drain(..keep);
        tokio::time::sleep(Duration::from_millis(8)).await;
    }
    publisher.await.unwrap();
    assert_eq!(h.server.cluster.get().unwrap().routes().len(), 1);
}

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

//! Routes over TLS: both servers present a certificate and verify the
//! other's against the cluster block's CA (as nats-server requires for
//! routes); a peer without TLS or with a certificate from another CA never
//! joins; and, when `RNATS_REFERENCE_SERVER` names nats-server 2.15.1, an
//! rnats node and a nats-server node form a TLS route.

mod common;

use std::time::{Duration, Instant};

use common::{cert, start_conf};
use rnats::node::ServerHandle;

fn tls_block(ca: &str) -> String {
    format!(
        "  tls {{ cert_file: \"{}\", key_file: \"{}\", ca_file: \"{}\", timeout: 2 }}\n",
        cert("route.pem").display(),
        cert("route-key.pem").display(),
        cert(ca).display()
    )
}

async fn node(extra: &str) -> ServerHandle {
    start_conf(&format!(
        "cluster {{\n  name: T\n  listen: 127.0.0.1:-1\n{extra}\n}}\n"
    ))
    .await
}

fn cluster_port(h: &ServerHandle) -> u16 {
    h.server.cluster.get().expect("clustering on").addr.port()
}

fn remotes(h: &ServerHandle) -> usize {
    h.server.cluster.get().unwrap().remotes.lock().len()
}

async fn wait_remotes(h: &ServerHandle, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while remotes(h) != n {
        assert!(
            Instant::now() < deadline,
            "{} remotes, want {n}",
            remotes(h)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn crosses(a: &ServerHandle, b: &ServerHandle) {
    common::cluster::crosses(a.addr, b.addr, "over.tls").await;
}

#[tokio::test]
async fn routes_run_over_mutual_tls() {
    let a = node(&tls_block("ca.pem")).await;
    let routes = format!(
        "  routes: [\"nats-route://127.0.0.1:{}\"]\n",
        cluster_port(&a)
    );
    let b = node(&format!("{}{routes}", tls_block("ca.pem"))).await;
    wait_remotes(&a, 1).await;
    wait_remotes(&b, 1).await;
    crosses(&a, &b).await;
    crosses(&b, &a).await;
}

#[tokio::test]
async fn a_plain_peer_or_one_from_another_ca_never_joins() {
    let a = node(&tls_block("ca.pem")).await;
    let port = cluster_port(&a);
    // A plain-text route: the TLS server sees no handshake and gives up;
    // nothing of the route protocol is sent in the clear.
    let mut plain = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    plain
        .write_all(b"CONNECT {\"name\":\"X\",\"cluster\":\"T\"}\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut buf)).await;
    assert!(!String::from_utf8_lossy(&buf).contains("INFO"), "{buf:?}");

    // A node trusting another CA: neither side accepts the other.
    let routes = format!("  routes: [\"nats-route://127.0.0.1:{port}\"]\n");
    let b = node(&format!("{}{routes}", tls_block("other-ca.pem"))).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(remotes(&a), 0);
    assert_eq!(remotes(&b), 0);
}

#[tokio::test]
async fn a_tls_route_with_nats_server() {
    let Some(reference) = std::env::var_os("RNATS_REFERENCE_SERVER").filter(|v| !v.is_empty())
    else {
        println!("skipped: RNATS_REFERENCE_SERVER not set");
        eprintln!("skipped: RNATS_REFERENCE_SERVER not set");
        return;
    };
    let a = node(&tls_block("ca.pem")).await;
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let conf = dir.path().join("ref.conf");
    std::fs::write(
        &conf,
        format!(
            "listen: 127.0.0.1:{port}\ncluster {{\n  name: T\n  listen: 127.0.0.1:-1\n{}  routes: [\"nats-route://127.0.0.1:{}\"]\n}}\n",
            tls_block("ca.pem"),
            cluster_port(&a)
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.path().join("ref.log")).unwrap();
    let mut child = std::process::Command::new(reference)
        .arg("-c")
        .arg(&conf)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let outcome = async {
        wait_remotes(&a, 1).await;
        let deadline = Instant::now() + Duration::from_secs(10);
        let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            assert!(Instant::now() < deadline);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        common::cluster::crosses(a.addr, addr, "over.tls").await;
        true
    }
    .await;
    let _ = child.kill();
    let _ = child.wait();
    let log = std::fs::read_to_string(dir.path().join("ref.log")).unwrap_or_default();
    assert!(outcome, "nothing crossed to nats-server:\n{log}");
}

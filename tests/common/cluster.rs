//! Cluster fixtures shared by the route tests (`tests/cluster.rs`,
//! `tests/cluster_faults.rs`): a server process ([`Node`], rnats or
//! nats-server) whose ports survive restarts, its monitoring endpoints,
//! waiting for a full mesh, and protocol helpers that sync a publisher
//! with a subscriber on another node.
//!
//! Every wait is bounded.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::Raw;

pub const BIN: &str = env!("CARGO_BIN_EXE_rnats-server");

/// The address nodes bind unless told otherwise.
pub const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// How long one TCP connect to a node may take (a node behind a cut link
/// must not hang a test).
const CONNECT_WAIT: Duration = Duration::from_secs(1);

/// One server process of a test cluster; its ports survive restarts.
pub struct Node {
    pub child: Option<Child>,
    pub dir: tempfile::TempDir,
    pub bin: PathBuf,
    /// The address every listener (clients, cluster, monitoring) binds.
    pub host: IpAddr,
    /// A network namespace to run the process in (`ip netns exec`).
    pub netns: Option<String>,
    pub port: u16,
    pub cport: u16,
    pub http: u16,
    pub body: String,
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Node {
    /// A node (not started) running `bin` on 127.0.0.1.
    pub fn new(bin: impl Into<PathBuf>, name: &str) -> Node {
        Node::new_on(bin, name, LOCALHOST)
    }

    /// A node (not started) running `bin`, listening on `host`. Its ports
    /// are free on loopback at the time of the call (a fresh network
    /// namespace has them all free).
    pub fn new_on(bin: impl Into<PathBuf>, name: &str, host: IpAddr) -> Node {
        Node {
            child: None,
            dir: tempfile::tempdir().unwrap(),
            bin: bin.into(),
            host,
            netns: None,
            port: super::free_port(),
            cport: super::free_port(),
            http: super::free_port(),
            body: format!("server_name: {name}\n"),
        }
    }

    pub fn rnats(name: &str) -> Node {
        Node::new(BIN, name)
    }

    /// Runs the process inside the network namespace `ns`.
    pub fn in_netns(mut self, ns: &str) -> Node {
        self.netns = Some(ns.to_owned());
        self
    }

    pub fn route_url(&self) -> String {
        format!("nats-route://{}", SocketAddr::new(self.host, self.cport))
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::new(self.host, self.port)
    }

    pub fn http_addr(&self) -> SocketAddr {
        SocketAddr::new(self.host, self.http)
    }

    /// `cluster { name: C1, listen: ..., <extra> }` plus `top`.
    pub fn with_cluster(mut self, top: &str, extra: &str) -> Node {
        self.body.push_str(&format!(
            "{top}\ncluster {{\n  name: C1\n  listen: {}\n{extra}\n}}\n",
            SocketAddr::new(self.host, self.cport)
        ));
        self
    }

    /// Starts the process and waits (at most 10 s) until it is ready
    /// (every listener up: the client port accepts and the log, rnats's or
    /// nats-server's, says "Server is ready").
    pub fn start(&mut self) {
        let conf = self.dir.path().join("server.conf");
        std::fs::write(
            &conf,
            format!(
                "listen: {}\nhttp: {}\n{}",
                self.addr(),
                self.http_addr(),
                self.body
            ),
        )
        .unwrap();
        let log = std::fs::File::create(self.dir.path().join("out.log")).unwrap();
        let mut cmd = match &self.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(&self.bin);
                c
            }
            None => Command::new(&self.bin),
        };
        let child = cmd
            .arg("-c")
            .arg(&conf)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.log().contains("Server is ready")
            || std::net::TcpStream::connect_timeout(&self.addr(), CONNECT_WAIT).is_err()
        {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("node exited ({status}) before it was up:\n{}", self.log());
            }
            assert!(Instant::now() < deadline, "node not up:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL (the routes drop without a goodbye) and reap.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().unwrap().id().to_string();
        assert!(Command::new("kill")
            .args([sig, &pid])
            .status()
            .unwrap()
            .success());
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("out.log")).unwrap_or_default()
    }

    /// `/routez` of this node.
    pub fn routez(&self) -> serde_json::Value {
        http_json(self.http_addr(), "/routez")
    }

    pub fn server_id(&self) -> String {
        self.try_server_id()
            .unwrap_or_else(|| panic!("no server_id in /varz\n{}", self.log()))
    }

    /// The server id, `None` if the monitoring port does not answer.
    pub fn try_server_id(&self) -> Option<String> {
        http_json(self.http_addr(), "/varz")["server_id"]
            .as_str()
            .map(str::to_owned)
    }

    /// Number of route connections per remote server id.
    pub fn peers(&self) -> std::collections::HashMap<String, usize> {
        let mut m = std::collections::HashMap::new();
        if let Some(routes) = self.routez()["routes"].as_array() {
            for r in routes {
                *m.entry(r["remote_id"].as_str().unwrap_or("").to_owned())
                    .or_default() += 1;
            }
        }
        m
    }
}

/// A GET on a monitoring port, parsed as JSON (`null` when it fails).
pub fn http_json(addr: SocketAddr, path: &str) -> serde_json::Value {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect_timeout(&addr, CONNECT_WAIT) else {
        return serde_json::Value::Null;
    };
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(3))).unwrap();
    let _ = write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    );
    let mut body = String::new();
    let _ = s.read_to_string(&mut body);
    let json = body.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    serde_json::from_str(json).unwrap_or(serde_json::Value::Null)
}

/// Waits (at most 10 s) until every node has a route to every other one.
pub fn wait_mesh(nodes: &[&Node]) {
    wait_mesh_within(nodes, Duration::from_secs(10));
}

/// [`wait_mesh`] with another deadline.
pub fn wait_mesh_within(nodes: &[&Node], wait: Duration) {
    let deadline = Instant::now() + wait;
    // Asked again while a node does not answer (a link just back up may
    // drop the first packets).
    let mut ids: Vec<Option<String>> = vec![None; nodes.len()];
    loop {
        for (id, n) in ids.iter_mut().zip(nodes) {
            if id.is_none() {
                *id = n.try_server_id();
            }
        }
        let meshed = ids.iter().all(Option::is_some)
            && nodes.iter().enumerate().all(|(i, n)| {
                let peers = n.peers();
                ids.iter()
                    .enumerate()
                    .all(|(j, id)| i == j || id.as_ref().is_some_and(|id| peers.contains_key(id)))
            });
        if meshed {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no full mesh after {wait:?}; logs:\n{}",
            nodes
                .iter()
                .map(|n| n.log())
                .collect::<Vec<_>>()
                .join("\n---\n")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub async fn client(n: &Node) -> Raw {
    Raw::connected_to(n.addr(), r#"{"headers":true}"#).await
}

pub async fn login(n: &Node, user: &str) -> Raw {
    Raw::connected_to(
        n.addr(),
        &format!(r#"{{"user":"{user}","pass":"{user}pw"}}"#),
    )
    .await
}

/// Waits until `publisher`'s server knows the interest `subscriber` has
/// created so far, and everything it published before reached
/// `subscriber`: a fresh probe subject is subscribed and published until it
/// arrives (interest and messages of one connection travel in order).
/// Returns the other frames `subscriber` received meanwhile.
pub async fn barrier(publisher: &mut Raw, subscriber: &mut Raw, tag: &str) -> Vec<String> {
    let subject = format!("probe.{tag}");
    subscriber.send(format!("SUB {subject} 9999\r\n")).await;
    let mut other: Vec<String> = subscriber.sync().await;
    for _ in 0..200 {
        publisher.send(format!("PUB {subject} 0\r\n\r\n")).await;
        publisher.sync().await;
        while let Ok(Some(f)) =
            tokio::time::timeout(Duration::from_millis(50), subscriber.frame()).await
        {
            if f.starts_with(&format!("MSG {subject} ")) {
                subscriber.send("UNSUB 9999\r\n").await;
                // Probes still on their way are read and dropped.
                other.extend(subscriber.sync().await);
                other.retain(|f| !f.contains("probe."));
                return other;
            }
            other.push(f);
        }
    }
    panic!("probe {subject} never arrived");
}

/// Every MSG frame received until a PING/PONG round trip.
pub async fn drain(c: &mut Raw) -> Vec<String> {
    c.sync()
        .await
        .into_iter()
        .filter(|f| !f.contains("probe."))
        .collect()
}

/// Reads frames until `n` messages arrived (bounded by the read timeout).
pub async fn messages(c: &mut Raw, n: usize) -> Vec<String> {
    let mut got = Vec::new();
    while got.len() < n {
        let f = c.frame().await.expect("message");
        if f.starts_with("MSG ") || f.starts_with("HMSG ") {
            got.push(f);
        }
    }
    got
}

pub fn three_node_cluster(top: &str, extra: &str) -> (Node, Node, Node) {
    let mut a = Node::rnats("a").with_cluster(top, extra);
    a.start();
    let seed = a.route_url();
    let mut b = Node::rnats("b").with_cluster(top, &format!("{extra}\n  routes: [\"{seed}\"]"));
    let mut c = Node::rnats("c").with_cluster(top, &format!("{extra}\n  routes: [\"{seed}\"]"));
    b.start();
    c.start();
    wait_mesh(&[&a, &b, &c]);
    (a, b, c)
}

/// Publishes on the server at `from` until a subscriber of `subject` on the
/// server at `to` gets the message (bounded): the two are linked.
pub async fn crosses(from: SocketAddr, to: SocketAddr, subject: &str) {
    let mut sub = Raw::connected_to(to, "{}").await;
    sub.send(format!("SUB {subject} 1\r\n")).await;
    sub.sync().await;
    let mut publisher = Raw::connected_to(from, "{}").await;
    for _ in 0..100 {
        publisher.send(format!("PUB {subject} 2\r\nok\r\n")).await;
        publisher.sync().await;
        if let Ok(Some(f)) = tokio::time::timeout(Duration::from_millis(100), sub.frame()).await {
            assert_eq!(f, format!("MSG {subject} 1 ok"));
            return;
        }
    }
    panic!("nothing crossed from {from} to {to}");
}

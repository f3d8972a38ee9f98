//! Cluster faults beyond a killed or frozen process (see `tests/cluster.rs`
//! for those): a member cut off the network (its link down inside a
//! bridge of network namespaces) and reconnected, a five-member cluster
//! mixing rnats and nats-server, and a member SIGKILLed and restarted while
//! a steady stream crosses the two others.
//!
//! Nodes listen on loopback or on addresses of a private bridge; every
//! loop is bounded and every wait has a deadline.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::cluster::*;
use common::Raw;

fn skip(reason: &str) {
    println!("skipped: {reason}");
    eprintln!("skipped: {reason}");
}

/// Runs `ip <args>`; the error names the command and its output.
fn ip(args: &[&str]) -> Result<String, String> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "ip {}: {} {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Runs `ip <args>` for cleanup: errors (already gone) are ignored.
fn ip_quiet(args: &[&str]) {
    let _ = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

/// Labs made by this process (names and subnets differ per lab).
static LABS: AtomicU32 = AtomicU32::new(0);

/// A Linux bridge in the root namespace (with an address, so the test
/// reaches every namespace) and `n` network namespaces, each joined to it
/// by a veth pair and given its own address in a random 10.X.Y.0/24.
/// Everything created is deleted on drop, panic or not.
struct Lab {
    bridge: String,
    /// Root-side veth ends (deleting one deletes its pair).
    host_veths: Vec<String>,
    namespaces: Vec<String>,
    ips: Vec<Ipv4Addr>,
    created_bridge: bool,
}

impl Drop for Lab {
    fn drop(&mut self) {
        for v in &self.host_veths {
            ip_quiet(&["link", "del", v]);
        }
        for ns in &self.namespaces {
            ip_quiet(&["netns", "del", ns]);
        }
        if self.created_bridge {
            ip_quiet(&["link", "del", &self.bridge]);
        }
    }
}

impl Lab {
    fn new(n: usize) -> Result<Lab, String> {
        assert!(n < 10);
        if !is_root() {
            return Err("not root (network namespaces need CAP_SYS_ADMIN)".into());
        }
        ip(&["-V"]).map_err(|e| format!("iproute2 not usable: {e}"))?;
        let pid = std::process::id();
        let count = LABS.fetch_add(1, Ordering::Relaxed);
        // Unique among live processes: a leftover with these names belongs
        // to a dead process that had our pid.
        let tag = format!("{pid:x}x{count:x}");
        let bridge = format!("rb{tag}");
        let ns_name = |i: usize| format!("rns{i}-{tag}");
        let host_veth = |i: usize| format!("rh{i}-{tag}");
        let ns_veth = |i: usize| format!("rv{i}-{tag}");
        assert!(host_veth(n).len() <= 15, "{}", host_veth(n));
        ip_quiet(&["link", "del", &bridge]);
        for i in 0..n {
            ip_quiet(&["link", "del", &host_veth(i)]);
            ip_quiet(&["netns", "del", &ns_name(i)]);
        }
        let (x, y) = free_subnet(pid, count)?;
        let mut lab = Lab {
            bridge: bridge.clone(),
            host_veths: Vec::new(),
            namespaces: Vec::new(),
            ips: Vec::new(),
            created_bridge: false,
        };
        ip(&["link", "add", &bridge, "type", "bridge"])?;
        lab.created_bridge = true;
        ip(&["addr", "add", &format!("10.{x}.{y}.1/24"), "dev", &bridge])?;
        ip(&["link", "set", &bridge, "up"])?;
        for i in 0..n {
            let (ns, hv, nv) = (ns_name(i), host_veth(i), ns_veth(i));
            let addr = Ipv4Addr::new(10, x, y, 10 + i as u8);
            ip(&["netns", "add", &ns])?;
            lab.namespaces.push(ns.clone());
            ip(&["link", "add", &hv, "type", "veth", "peer", "name", &nv])?;
            lab.host_veths.push(hv.clone());
            ip(&["link", "set", &nv, "netns", &ns])?;
            ip(&["link", "set", &hv, "master", &bridge])?;
            ip(&["link", "set", &hv, "up"])?;
            ip(&["-n", &ns, "addr", "add", &format!("{addr}/24"), "dev", &nv])?;
            ip(&["-n", &ns, "link", "set", &nv, "up"])?;
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
            lab.ips.push(addr);
        }
        Ok(lab)
    }

    fn ip(&self, i: usize) -> IpAddr {
        IpAddr::V4(self.ips[i])
    }

    /// Brings the root-side end of node `i`'s veth down or up: the node is
    /// cut from (or back on) the bridge, its process untouched.
    fn set_link(&self, i: usize, up: bool) {
        let state = if up { "up" } else { "down" };
        ip(&["link", "set", &self.host_veths[i], state]).unwrap();
    }
}

/// A random 10.X.Y.0/24 no interface or route of this machine uses.
fn free_subnet(pid: u32, count: u32) -> Result<(u8, u8), String> {
    use std::hash::{BuildHasher, Hasher};
    let taken = format!(
        "{}{}",
        ip(&["-o", "-4", "addr", "show"])?,
        ip(&["-4", "route", "show", "table", "all"])?
    );
    for attempt in 0..64u32 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(pid);
        h.write_u32(count);
        h.write_u32(attempt);
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos(),
        );
        let v = h.finish();
        // X in 64..=253: away from the 10.0.x.x ranges setups tend to use.
        let (x, y) = (64 + (v % 190) as u8, (v >> 8) as u8);
        if !taken.contains(&format!("10.{x}.{y}.")) {
            return Ok((x, y));
        }
    }
    Err("no free 10.X.Y.0/24 subnet found".into())
}

fn payload_seq(frame: &str) -> u32 {
    frame
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("not a sequence number: {frame}"))
}

/// Publishes `PUB <subject> <i>` for every `i` in `seqs`, then syncs.
async fn publish_seq(publisher: &mut Raw, subject: &str, seqs: std::ops::Range<u32>) {
    let mut batch = String::new();
    for i in seqs {
        let p = i.to_string();
        batch.push_str(&format!("PUB {subject} {}\r\n{p}\r\n", p.len()));
    }
    publisher.send(batch).await;
    publisher.sync().await;
}

/// Everything `subscriber` got from `publisher` so far (a barrier, then a
/// drain), as sequence numbers of the frames whose sid is `sid`.
async fn received(publisher: &mut Raw, subscriber: &mut Raw, tag: &str, sid: u32) -> Vec<u32> {
    let mut frames = barrier(publisher, subscriber, tag).await;
    frames.extend(drain(subscriber).await);
    frames
        .iter()
        .filter(|f| f.split(' ').nth(2) == Some(&sid.to_string()))
        .map(|f| payload_seq(f))
        .collect()
}

/// Route connections between two members with the default pool: three
/// plus the system account's.
const ROUTES_PER_PEER: usize = 4;

/// Waits (at most 10 s) until every node has exactly [`ROUTES_PER_PEER`]
/// route connections to each other node, and none to anything else.
fn wait_full_pools(nodes: &[&Node]) {
    let ids: Vec<String> = nodes.iter().map(|n| n.server_id()).collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let all: Vec<_> = nodes.iter().map(|n| n.peers()).collect();
        let full = all.iter().enumerate().all(|(i, peers)| {
            peers.len() == nodes.len() - 1
                && ids
                    .iter()
                    .enumerate()
                    .all(|(j, id)| i == j || peers.get(id) == Some(&ROUTES_PER_PEER))
        });
        if full {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "route connections per peer (ids {ids:?}): {all:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn a_member_cut_off_the_network_is_dropped_and_rejoins_without_duplicates() {
    let lab = match Lab::new(3) {
        Ok(lab) => lab,
        Err(reason) => return skip(&reason),
    };
    let extra = "  ping_interval: \"250ms\"\n  ping_max: 2";
    let node = |i: usize, extra: &str| {
        Node::new_on(BIN, &format!("n{i}"), lab.ip(i))
            .in_netns(&lab.namespaces[i])
            .with_cluster("", extra)
    };
    let mut n0 = node(0, extra);
    n0.start();
    let member_extra = format!("{extra}\n  routes: [\"{}\"]", n0.route_url());
    let mut n1 = node(1, &member_extra);
    let mut n2 = node(2, &member_extra);
    n1.start();
    n2.start();
    wait_mesh(&[&n0, &n1, &n2]);
    let id2 = n2.server_id();
    wait_full_pools(&[&n0, &n1, &n2]);

    let mut on0 = client(&n0).await;
    let mut on1 = client(&n1).await;
    // A subscriber on 2 from before the cut: its client connection idles
    // through the cut, its interest must come back once, with the routes.
    let mut early2 = client(&n2).await;
    on1.send("SUB cut 1\r\n").await;
    early2.send("SUB cut 1\r\n").await;
    barrier(&mut on0, &mut on1, "on1").await;
    barrier(&mut on0, &mut early2, "early2").await;

    let cut = Instant::now();
    lab.set_link(2, false);
    // 0 still has routes to 2 it writes into the void: 1 is served anyway.
    publish_seq(&mut on0, "cut", 0..10).await;
    let got: Vec<u32> = messages(&mut on1, 10)
        .await
        .iter()
        .map(|f| payload_seq(f))
        .collect();
    assert_eq!(got, (0..10).collect::<Vec<_>>());
    // Stale detection drops 2's routes on both others.
    let deadline = Instant::now() + Duration::from_secs(15);
    while n0.peers().contains_key(&id2) || n1.peers().contains_key(&id2) {
        assert!(
            Instant::now() < deadline,
            "routes to the cut node still up after 15s: on 0 {:?}, on 1 {:?}\n{}",
            n0.peers(),
            n1.peers(),
            n0.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let dropped_after = cut.elapsed();
    publish_seq(&mut on0, "cut", 10..20).await;
    assert_eq!(
        received(&mut on0, &mut on1, "on1b", 1).await,
        (10..20).collect::<Vec<_>>()
    );

    let restored = Instant::now();
    lab.set_link(2, true);
    wait_mesh_within(&[&n0, &n1, &n2], Duration::from_secs(30));
    let meshed_after = restored.elapsed();
    // Every pool complete again, and no duplicate route kept.
    wait_full_pools(&[&n0, &n1, &n2]);
    let mut late2 = client(&n2).await;
    late2.send("SUB cut 1\r\n").await;
    barrier(&mut on0, &mut late2, "late2").await;
    // What reached the early subscriber before: at most some of what 0
    // wrote into the cut routes (their TCP retransmissions may land after
    // the link is back), once each; nothing published after the routes
    // were dropped.
    let before = received(&mut on0, &mut early2, "early2b", 1).await;
    assert!(
        before.windows(2).all(|w| w[0] < w[1]) && before.iter().all(|s| *s < 10),
        "unexpected messages: {before:?}"
    );
    publish_seq(&mut on0, "cut", 100..150).await;
    let expected: Vec<u32> = (100..150).collect();
    assert_eq!(received(&mut on0, &mut late2, "late2b", 1).await, expected);
    assert_eq!(
        received(&mut on0, &mut early2, "early2c", 1).await,
        expected
    );
    assert_eq!(received(&mut on0, &mut on1, "on1c", 1).await, expected);
    println!("routes to the cut node dropped after {dropped_after:?}, mesh back {meshed_after:?} after the link came up");
}

#[tokio::test]
async fn five_members_mixing_rnats_and_nats_server_share_queues_and_streams() {
    let Some(reference) = std::env::var_os("RNATS_REFERENCE_SERVER").filter(|v| !v.is_empty())
    else {
        return skip("RNATS_REFERENCE_SERVER not set");
    };
    for rnats_seed in [true, false] {
        let mut nodes: Vec<Node> = (0..5)
            .map(|i| {
                let name = format!("n{i}");
                if (i % 2 == 0) == rnats_seed {
                    Node::rnats(&name)
                } else {
                    Node::new(&reference, &name)
                }
            })
            .collect();
        let seed = nodes.remove(0).with_cluster("", "");
        let routes = format!("  routes: [\"{}\"]", seed.route_url());
        let mut nodes: Vec<Node> = std::iter::once(seed)
            .chain(nodes.into_iter().map(|n| n.with_cluster("", &routes)))
            .collect();
        for n in &mut nodes {
            n.start();
        }
        let all: Vec<&Node> = nodes.iter().collect();
        wait_mesh_within(&all, Duration::from_secs(30));

        let mut publisher = client(&nodes[0]).await;
        let mut subs = Vec::new();
        for (i, n) in nodes.iter().enumerate() {
            let mut c = client(n).await;
            // sid 1: the queue group (not on the seed), sid 2: plain.
            if i > 0 {
                c.send("SUB work q 1\r\n").await;
            }
            c.send("SUB work 2\r\n").await;
            barrier(&mut publisher, &mut c, &format!("n{i}")).await;
            subs.push(c);
        }
        publish_seq(&mut publisher, "work", 0..200).await;
        let all_seqs: Vec<u32> = (0..200).collect();
        let mut queued = Vec::new();
        let mut shares = Vec::new();
        for (i, c) in subs.iter_mut().enumerate() {
            let mut frames = barrier(&mut publisher, c, &format!("n{i}b")).await;
            frames.extend(drain(c).await);
            let of = |sid: &str| -> Vec<u32> {
                frames
                    .iter()
                    .filter(|f| f.split(' ').nth(2) == Some(sid))
                    .map(|f| payload_seq(f))
                    .collect()
            };
            assert_eq!(
                of("2"),
                all_seqs,
                "plain subscriber on n{i} (seed is rnats: {rnats_seed})"
            );
            let q = of("1");
            shares.push(q.len());
            queued.extend(q);
        }
        queued.sort_unstable();
        assert_eq!(
            queued, all_seqs,
            "queue group (seed is rnats: {rnats_seed}); shares {shares:?}"
        );
        println!("seed is rnats: {rnats_seed}: queue shares per node {shares:?}");
    }
}

#[tokio::test]
async fn a_member_killed_and_restarted_during_traffic_leaves_the_others_stream_intact() {
    let (a, b, mut c) = three_node_cluster("", "");
    let mut publisher = client(&a).await;
    let mut on_b = client(&b).await;
    // Interest on c too, so a writes to c's routes when c dies.
    let mut on_c = client(&c).await;
    on_b.send("SUB seq 1\r\n").await;
    on_c.send("SUB seq 1\r\n").await;
    barrier(&mut publisher, &mut on_b, "b").await;
    barrier(&mut publisher, &mut on_c, "c").await;

    // Another thread kills c when told, restarts it and waits for the mesh,
    // while the stream keeps flowing.
    let (kill_tx, kill_rx) = std::sync::mpsc::channel::<()>();
    let back = Arc::new(AtomicBool::new(false));
    let peer_ids = (a.server_id(), b.server_id());
    let back2 = back.clone();
    let killer = std::thread::spawn(move || {
        kill_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("told to kill");
        c.kill();
        std::thread::sleep(Duration::from_millis(200));
        c.start();
        // c is back once it has routes to both others.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let peers = c.peers();
            if peers.contains_key(&peer_ids.0) && peers.contains_key(&peer_ids.1) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "c not meshed again:\n{}",
                c.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        back2.store(true, Ordering::SeqCst);
        c
    });

    const TOTAL: u32 = 2000;
    const BATCH: u32 = 20;
    let mut got = Vec::new();
    let mut slowest = Duration::ZERO;
    let mut killed_at = None;
    let mut back_at = None;
    for batch in 0..TOTAL / BATCH {
        if batch == 20 {
            kill_tx.send(()).unwrap();
            killed_at = Some(batch);
        }
        let start = batch * BATCH;
        let t = Instant::now();
        publish_seq(&mut publisher, "seq", start..start + BATCH).await;
        got.extend(
            messages(&mut on_b, BATCH as usize)
                .await
                .iter()
                .map(|f| payload_seq(f)),
        );
        slowest = slowest.max(t.elapsed());
        if back_at.is_none() && back.load(Ordering::SeqCst) {
            back_at = Some(batch);
        }
        // Slower while c is down, so its restart happens mid-stream.
        let pause = if killed_at.is_some() && back_at.is_none() {
            50
        } else {
            5
        };
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
    let c = killer.join().expect("killer thread");
    assert!(back_at.is_some(), "c came back only after the stream ended");
    assert_eq!(got, (0..TOTAL).collect::<Vec<_>>(), "in order, once each");
    // Nothing more (no duplicate) arrived on b.
    assert_eq!(drain(&mut on_b).await, Vec::<String>::new());
    println!(
        "c killed before batch {killed_at:?}, back (meshed) by batch {back_at:?} of {}; slowest batch {slowest:?}",
        TOTAL / BATCH
    );

    // And the restarted member gets the stream once again.
    wait_mesh(&[&a, &b, &c]);
    let mut on_c = client(&c).await;
    on_c.send("SUB seq 1\r\n").await;
    barrier(&mut publisher, &mut on_c, "c2").await;
    publish_seq(&mut publisher, "seq", TOTAL..TOTAL + 100).await;
    let expected: Vec<u32> = (TOTAL..TOTAL + 100).collect();
    assert_eq!(received(&mut publisher, &mut on_c, "c3", 1).await, expected);
    assert_eq!(received(&mut publisher, &mut on_b, "b3", 1).await, expected);
}

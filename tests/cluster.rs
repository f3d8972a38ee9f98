//! Clusters of rnats processes (and, when `RNATS_REFERENCE_SERVER` names a
//! nats-server 2.15.1 binary, mixed with it): gossip into a full mesh,
//! messages and queue groups across routes, account isolation, route
//! authorization, pooling, a hostile route peer, and faults (a node killed
//! with SIGKILL and restarted, a node frozen with SIGSTOP).
//!
//! Every node is a separate process on loopback ports chosen free; every
//! wait is bounded.

mod common;

use std::time::{Duration, Instant};

use common::cluster::*;
use common::Raw;

#[tokio::test]
async fn gossip_forms_a_full_mesh_and_messages_cross_it() {
    let (a, b, c) = three_node_cluster("", "");
    // Default pool: 3 connections plus the system account's per peer.
    for n in [&a, &b, &c] {
        for count in n.peers().values() {
            assert!(*count >= 1);
        }
    }
    let mut pubc = client(&a).await;
    let mut sb = client(&b).await;
    let mut sc = client(&c).await;
    sb.send("SUB orders.* 1\r\n").await;
    sc.send("SUB orders.new 1\r\n").await;
    barrier(&mut pubc, &mut sb, "b").await;
    barrier(&mut pubc, &mut sc, "c").await;
    pubc.send("HPUB orders.new reply.to 12 17\r\nNATS/1.0\r\n\r\nhello\r\n")
        .await;
    pubc.sync().await;
    for s in [&mut sb, &mut sc] {
        let got = messages(s, 1).await;
        assert_eq!(got, ["HMSG orders.new 1 reply.to NATS/1.0\r\n\r\nhello"]);
    }
    // Connect URLs list every member for clients.
    let info = Raw::connect_to(a.addr()).await.info;
    let urls = info["connect_urls"].as_array().unwrap().len();
    assert_eq!(urls, 3, "{info}");
    assert_eq!(info["cluster"], "C1");
}

#[tokio::test]
async fn a_queue_group_spread_over_nodes_gets_each_message_once() {
    let (a, b, c) = three_node_cluster("", "");
    let mut pubc = client(&a).await;
    let mut qb = client(&b).await;
    let mut qc = client(&c).await;
    qb.send("SUB work g 1\r\nSUB work g 2\r\n").await;
    qc.send("SUB work g 1\r\n").await;
    barrier(&mut pubc, &mut qb, "qb").await;
    barrier(&mut pubc, &mut qc, "qc").await;
    let mut batch = String::new();
    for i in 0..300 {
        batch.push_str(&format!("PUB work {}\r\n{i}\r\n", i.to_string().len()));
    }
    pubc.send(batch).await;
    pubc.sync().await;
    let mut got_b = barrier(&mut pubc, &mut qb, "qb2").await;
    let mut got_c = barrier(&mut pubc, &mut qc, "qc2").await;
    got_b.extend(drain(&mut qb).await);
    got_c.extend(drain(&mut qc).await);
    let mut all: Vec<u32> = got_b
        .iter()
        .chain(&got_c)
        .map(|f| f.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    all.sort_unstable();
    assert_eq!(all, (0..300).collect::<Vec<_>>());
    // b has two members, c one: b's share is about two thirds.
    assert!(
        got_b.len() > got_c.len(),
        "{} vs {}",
        got_b.len(),
        got_c.len()
    );
}

#[tokio::test]
async fn accounts_stay_isolated_across_nodes_and_imports_cross_them() {
    let accounts = "accounts {\n  A: { users: [{user: a, password: apw}], exports: [{stream: \"news.>\"}, {service: \"svc\"}] }\n  B: { users: [{user: b, password: bpw}], imports: [{stream: {account: A, subject: \"news.>\"}, prefix: in}, {service: {account: A, subject: \"svc\"}, to: asksvc}] }\n  C: { users: [{user: c, password: cpw}] }\n}\n";
    let (a, b, c) = three_node_cluster(accounts, "");
    let mut a_pub = login(&a, "a").await;
    let mut a_sub = login(&b, "a").await;
    let mut c_pub = login(&a, "c").await;
    let mut c_sub = login(&b, "c").await;
    a_sub.send("SUB shared 1\r\n").await;
    c_sub.send("SUB shared 1\r\n").await;
    barrier(&mut a_pub, &mut a_sub, "a").await;
    barrier(&mut c_pub, &mut c_sub, "c").await;
    a_pub.send("PUB shared 5\r\nfor-a\r\n").await;
    a_pub.sync().await;
    let got_a = barrier(&mut a_pub, &mut a_sub, "a2").await;
    let got_c = barrier(&mut c_pub, &mut c_sub, "c2").await;
    assert_eq!(got_a, ["MSG shared 1 for-a"]);
    assert_eq!(got_c, Vec::<String>::new());

    // A stream import: the exporter publishes on a, the importer reads on c.
    let mut importer = login(&c, "b").await;
    let mut b_on_a = login(&a, "b").await;
    importer.send("SUB in.news.> 1\r\n").await;
    barrier(&mut b_on_a, &mut importer, "b").await;
    // The exporter's interest (news.>) was announced with the import.
    let mut a_on_c = login(&c, "a").await;
    barrier(&mut a_pub, &mut a_on_c, "a3").await;
    a_pub.send("PUB news.sports 4\r\ngoal\r\n").await;
    assert_eq!(
        messages(&mut importer, 1).await,
        ["MSG in.news.sports 1 goal"]
    );
    barrier(&mut a_pub, &mut a_on_c, "a4").await;
    let more = barrier(&mut b_on_a, &mut importer, "b2").await;
    assert_eq!(more, Vec::<String>::new(), "one copy");

    // A service import: requester on a, service on c; the reply comes back.
    let mut service = login(&c, "a").await;
    service.send("SUB svc 1\r\n").await;
    barrier(&mut a_pub, &mut service, "svc").await;
    b_on_a
        .send("SUB my.inbox 7\r\nPUB asksvc my.inbox 4\r\nping\r\n")
        .await;
    let req = messages(&mut service, 1).await.remove(0);
    let parts: Vec<&str> = req.split(' ').collect();
    assert_eq!(parts[1], "svc");
    let reply = parts[3];
    assert!(reply.starts_with("_R_."), "{req}");
    service.send(format!("PUB {reply} 4\r\npong\r\n")).await;
    assert_eq!(messages(&mut b_on_a, 1).await, ["MSG my.inbox 7 pong"]);
}

#[tokio::test]
async fn route_credentials_are_checked_and_gossiped_routes_use_them() {
    let auth = "  authorization { user: ruser, password: rpass, timeout: 2 }";
    let mut a = Node::rnats("a").with_cluster("", auth);
    a.start();
    let seed = format!("nats-route://ruser:rpass@127.0.0.1:{}", a.cport);
    let mut b = Node::rnats("b").with_cluster("", &format!("{auth}\n  routes: [\"{seed}\"]"));
    let mut c = Node::rnats("c").with_cluster("", &format!("{auth}\n  routes: [\"{seed}\"]"));
    b.start();
    c.start();
    wait_mesh(&[&a, &b, &c]);

    // A peer with the wrong password is refused with nats-server's text.
    let mut bad = tokio::net::TcpStream::connect(("127.0.0.1", a.cport))
        .await
        .unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    bad.write_all(
        b"CONNECT {\"user\":\"ruser\",\"pass\":\"nope\",\"name\":\"X\",\"cluster\":\"C1\"}\r\n",
    )
    .await
    .unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), bad.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf);
    assert!(
        text.ends_with("-ERR 'Authorization Violation'\r\n"),
        "{text}"
    );
}

#[tokio::test]
async fn a_hostile_route_peer_is_cut_and_the_node_keeps_serving() {
    let mut a = Node::rnats("a").with_cluster("", "");
    a.start();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let hostile: [&[u8]; 5] = [
        b"CONNECT {\"name\":\"X\",\"cluster\":\"C1\"}\r\nINFO {\"server_id\":\"X\",\"cluster\":\"C1\"}\r\nRMSG $G foo notanumber\r\n",
        b"CONNECT {\"name\":\"Y\",\"cluster\":\"C1\"}\r\nINFO {\"server_id\":\"Y\",\"cluster\":\"C1\"}\r\nRS+\r\n",
        b"CONNECT {\"name\":\"Z\",\"cluster\":\"C1\"}\r\nINFO not json\r\n",
        b"RMSG $G foo 3\r\nabc\r\n",
        b"CONNECT {\"lang\":\"go\",\"cluster\":\"C1\"}\r\n",
    ];
    for bytes in hostile {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", a.cport))
            .await
            .unwrap();
        s.write_all(bytes).await.unwrap();
        let mut buf = Vec::new();
        let r = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await;
        assert!(
            r.is_ok(),
            "not closed after {:?}",
            String::from_utf8_lossy(bytes)
        );
    }
    // A client still gets served.
    let mut c = client(&a).await;
    c.send("SUB x 1\r\nPUB x 2\r\nok\r\n").await;
    assert_eq!(messages(&mut c, 1).await, ["MSG x 1 ok"]);
    assert!(a.child.as_mut().unwrap().try_wait().unwrap().is_none());
}

#[tokio::test]
async fn a_killed_node_comes_back_and_gets_the_interest_again() {
    let (mut a, b, mut c) = three_node_cluster("", "");
    let mut on_b = client(&b).await;
    on_b.send("SUB survives 1\r\n").await;
    on_b.sync().await;
    c.kill(); // SIGKILL: the routes drop without a goodbye
    c.start();
    wait_mesh(&[&a, &b, &c]);
    let mut on_c = client(&c).await;
    barrier(&mut on_c, &mut on_b, "c").await;
    on_c.send("PUB survives 4\r\nback\r\n").await;
    assert_eq!(messages(&mut on_b, 1).await, ["MSG survives 1 back"]);

    // The seed itself killed: b and c keep talking, and dial it again.
    a.kill();
    let mut b2 = client(&b).await;
    let mut c2 = client(&c).await;
    barrier(&mut b2, &mut c2, "bc").await;
    a.start();
    wait_mesh(&[&a, &b, &c]);
    let mut on_a = client(&a).await;
    barrier(&mut on_a, &mut on_b, "a").await;
    on_a.send("PUB survives 4\r\nseed\r\n").await;
    assert_eq!(messages(&mut on_b, 1).await, ["MSG survives 1 seed"]);
    // No duplicate delivery after the reconnections.
    assert_eq!(
        barrier(&mut on_a, &mut on_b, "a2").await,
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn a_frozen_node_does_not_stall_the_others_and_is_dropped_as_stale() {
    let extra = "  ping_interval: \"250ms\"\n  ping_max: 2";
    let (a, b, c) = three_node_cluster("", extra);
    let c_id = c.server_id();
    c.signal("-STOP");
    let mut on_a = client(&a).await;
    let mut on_b = client(&b).await;
    on_b.send("SUB during 1\r\n").await;
    barrier(&mut on_a, &mut on_b, "ab").await;
    on_a.send("PUB during 2\r\nok\r\n").await;
    assert_eq!(messages(&mut on_b, 1).await, ["MSG during 1 ok"]);
    // Stale detection removes the frozen node's routes.
    let deadline = Instant::now() + Duration::from_secs(10);
    while a.peers().contains_key(&c_id) {
        assert!(Instant::now() < deadline, "frozen node still routed");
        std::thread::sleep(Duration::from_millis(50));
    }
    c.signal("-CONT");
    wait_mesh(&[&a, &b, &c]);
}

#[tokio::test]
async fn pool_size_and_pinned_accounts_set_the_connections_per_peer() {
    let accounts = "accounts { HOT: { users: [{user: hot, password: hotpw}] }, COLD: { users: [{user: cold, password: coldpw}] } }";
    for (extra, expected, pinned) in [
        ("", 4, vec!["$SYS"]),
        ("  pool_size: -1", 1, vec![]),
        ("  pool_size: 2\n  accounts: [HOT]", 4, vec!["$SYS", "HOT"]),
    ] {
        let mut a = Node::rnats("a").with_cluster(accounts, extra);
        a.start();
        let mut b = Node::rnats("b").with_cluster(
            accounts,
            &format!("{extra}\n  routes: [\"{}\"]", a.route_url()),
        );
        b.start();
        let b_id = b.server_id();
        let deadline = Instant::now() + Duration::from_secs(10);
        while a.peers().get(&b_id).copied() != Some(expected) {
            assert!(
                Instant::now() < deadline,
                "{extra}: {:?}\n{}",
                a.peers(),
                b.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut got: Vec<String> = a.routez()["routes"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| r["account"].as_str().map(str::to_owned))
            .collect();
        got.sort();
        assert_eq!(got, pinned, "{extra}");
        let mut hot_a = login(&a, "hot").await;
        let mut hot_b = login(&b, "hot").await;
        hot_b.send("SUB t 1\r\n").await;
        barrier(&mut hot_a, &mut hot_b, "hot").await;
        hot_a.send("PUB t 3\r\nhot\r\n").await;
        assert_eq!(messages(&mut hot_b, 1).await, ["MSG t 1 hot"]);
    }
}

#[tokio::test]
async fn mixed_with_nats_server_both_ways() {
    let Some(reference) = std::env::var_os("RNATS_REFERENCE_SERVER").filter(|v| !v.is_empty())
    else {
        println!("skipped: RNATS_REFERENCE_SERVER not set");
        eprintln!("skipped: RNATS_REFERENCE_SERVER not set");
        return;
    };
    for rnats_seed in [true, false] {
        let mut seed = if rnats_seed {
            Node::rnats("seed")
        } else {
            Node::new(&reference, "seed")
        }
        .with_cluster("", "");
        seed.start();
        let routes = format!("  routes: [\"{}\"]", seed.route_url());
        let member = |name: &str, rnats: bool| {
            if rnats {
                Node::rnats(name)
            } else {
                Node::new(&reference, name)
            }
            .with_cluster("", &routes)
        };
        let mut m1 = member("m1", !rnats_seed);
        let mut m2 = member("m2", rnats_seed);
        m1.start();
        m2.start();
        wait_mesh(&[&seed, &m1, &m2]);
        let mut on_seed = client(&seed).await;
        let mut on_m1 = client(&m1).await;
        let mut on_m2 = client(&m2).await;
        on_m1.send("SUB jobs q 1\r\nSUB all 2\r\n").await;
        on_m2.send("SUB jobs q 1\r\nSUB all 2\r\n").await;
        barrier(&mut on_seed, &mut on_m1, "m1").await;
        barrier(&mut on_seed, &mut on_m2, "m2").await;
        let mut batch = String::new();
        for i in 0..100 {
            batch.push_str(&format!("PUB jobs {}\r\n{i}\r\n", i.to_string().len()));
        }
        batch.push_str("PUB all 3\r\nend\r\n");
        on_seed.send(batch).await;
        on_seed.sync().await;
        let a = messages_until_end(&mut on_m1).await;
        let b = messages_until_end(&mut on_m2).await;
        assert_eq!(a + b, 100, "seed is rnats: {rnats_seed}");
        // And back: a member's publish reaches the seed's subscriber.
        on_seed.send("SUB back 3\r\n").await;
        barrier(&mut on_m2, &mut on_seed, "back").await;
        on_m2.send("PUB back 2\r\nok\r\n").await;
        assert_eq!(messages(&mut on_seed, 1).await, ["MSG back 3 ok"]);
    }
}

/// Counts `jobs` messages until the `all` message "end" arrives.
async fn messages_until_end(c: &mut Raw) -> usize {
    let mut n = 0;
    for _ in 0..1000 {
        let f = c.frame().await.expect("frame");
        if f == "MSG all 2 end" {
            return n;
        }
        if f.starts_with("MSG jobs ") {
            n += 1;
        }
    }
    panic!("no end message");
}

#[tokio::test]
async fn a_member_entering_lame_duck_leaves_the_others_connect_urls() {
    let mut a = Node::rnats("a").with_cluster("", "");
    a.start();
    let mut b = Node::rnats("b").with_cluster("", &format!("  routes: [\"{}\"]", a.route_url()));
    b.start();
    wait_mesh(&[&a, &b]);
    let b_url = format!("127.0.0.1:{}", b.port);
    let mut watcher = Raw::connected_to(a.addr(), r#"{"protocol":1}"#).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while !Raw::connect_to(a.addr()).await.info["connect_urls"]
        .as_array()
        .is_some_and(|u| u.iter().any(|u| u == &b_url))
    {
        assert!(Instant::now() < deadline, "b's URL never listed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    b.signal("-USR2");
    for _ in 0..50 {
        let f = watcher.frame().await.expect("an async INFO");
        if let Some(json) = f.strip_prefix("INFO ") {
            let info: serde_json::Value = serde_json::from_str(json).unwrap();
            let urls = info["connect_urls"].as_array().cloned().unwrap_or_default();
            if !urls.iter().any(|u| u == &b_url) {
                return;
            }
        }
    }
    panic!("no INFO without b's URL");
}

#[tokio::test]
async fn system_requests_are_answered_by_every_member() {
    let top = "accounts { SYS: { users: [{user: sys, password: syspw}] }, A: { users: [{user: a, password: apw}] } }\nsystem_account: SYS";
    let (a, b, c) = three_node_cluster(top, "");
    let ids: std::collections::BTreeSet<String> =
        [&a, &b, &c].iter().map(|n| n.server_id()).collect();
    let mut sys = login(&a, "sys").await;
    let mut sys_b = login(&b, "sys").await;
    sys.send("SUB my.replies 1\r\n").await;
    let mut seen = std::collections::BTreeSet::new();
    for round in 0..50 {
        // The other members' interest in $SYS requests arrives with their
        // routes; ask again until every member answered (bounded).
        // Answers may come before the PONG of a sync: every frame counts.
        let mut frames = barrier(&mut sys_b, &mut sys, &format!("r{round}")).await;
        sys.send("PUB $SYS.REQ.SERVER.PING my.replies 0\r\n\r\n")
            .await;
        frames.extend(sys.sync().await);
        while let Ok(Some(f)) = tokio::time::timeout(Duration::from_millis(300), sys.frame()).await
        {
            frames.push(f);
        }
        for f in frames {
            if let Some(json) = f.strip_prefix("MSG my.replies 1 ") {
                let v: serde_json::Value = serde_json::from_str(json).unwrap();
                seen.insert(v["server"]["id"].as_str().unwrap().to_owned());
            }
        }
        if seen == ids {
            return;
        }
    }
    panic!("answers from {seen:?}, members {ids:?}");
}

#[tokio::test]
async fn a_revocation_pushed_to_one_member_cuts_the_user_on_another() {
    use common::operator::{jwt_login_to, Setup};
    let st = Setup::new();
    let top = st.op.config("MEMORY", Some(&[&st.acc_jwt]));
    let mut a = Node::rnats("a").with_cluster(&top, "");
    a.start();
    let mut b = Node::rnats("b").with_cluster(&top, &format!("  routes: [\"{}\"]", a.route_url()));
    b.start();
    wait_mesh(&[&a, &b]);
    let (mut victim, first) = jwt_login_to(
        b.addr(),
        &st.user_jwt,
        Some(&st.user),
        serde_json::Value::Null,
    )
    .await;
    assert_eq!(first, "PONG");
    let (mut sys, first) = jwt_login_to(
        a.addr(),
        &st.op.sys_user_jwt,
        Some(&st.op.sys_user),
        serde_json::Value::Null,
    )
    .await;
    assert_eq!(first, "PONG");
    let revoking = st.update(|c| {
        c.nats
            .revocations
            .revoke(&st.user.public_key(), rnats::jwt::now() + 1)
    });
    let subject = format!("$SYS.REQ.ACCOUNT.{}.CLAIMS.UPDATE", st.acc.public_key());
    for _ in 0..20 {
        sys.send(format!(
            "PUB {subject} {}\r\n{revoking}\r\n",
            revoking.len()
        ))
        .await;
        sys.sync().await;
        if victim.closed_within(Duration::from_millis(500)).await {
            assert!(
                victim
                    .lines()
                    .contains(&"-ERR 'User Authentication Revoked'".to_string()),
                "{:?}",
                victim.lines()
            );
            return;
        }
    }
    panic!("the user on the other member was not cut:\n{}", b.log());
}

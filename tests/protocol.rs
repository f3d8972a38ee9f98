//! Wire-level behaviour of the client protocol, over raw sockets.

mod common;

use common::{start, start_conf, test_options, Raw};
use std::time::Duration;

const CLOSE_WAIT: Duration = Duration::from_secs(2);

#[tokio::test]
async fn info_has_the_reference_fields() {
    let h = start(test_options()).await;
    let r = Raw::connect(&h).await;
    let i = &r.info;
    assert!(i["server_id"].as_str().unwrap().starts_with('N'));
    assert_eq!(i["version"], "2.15.1");
    assert_eq!(i["proto"], 1);
    assert_eq!(i["headers"], true);
    assert_eq!(i["max_payload"], 1048576);
    assert_eq!(i["host"], "127.0.0.1");
    assert_eq!(i["port"], h.addr.port());
    assert_eq!(i["client_ip"], "127.0.0.1");
    assert!(i["client_id"].as_u64().unwrap() > 0);
    assert!(i.get("auth_required").is_none() && i.get("nonce").is_none());
    h.shutdown().await;
}

#[tokio::test]
async fn first_ping_after_connect_gets_connect_info() {
    let h = start(test_options()).await;
    let mut r = Raw::connect(&h).await;
    r.send("CONNECT {\"verbose\":false,\"protocol\":1}\r\nPING\r\nPING\r\n")
        .await;
    assert_eq!(r.line().await.unwrap(), "PONG");
    let info = r.line().await.unwrap();
    let v: serde_json::Value = serde_json::from_str(&info[5..]).unwrap();
    assert_eq!(v["connect_info"], true);
    assert_eq!(v["remote_account"], "$G");
    assert_eq!(r.line().await.unwrap(), "PONG");
    h.shutdown().await;
}

#[tokio::test]
async fn pub_sub_framing_and_reply() {
    let h = start(test_options()).await;
    let mut c = Raw::connected(&h, "{}").await;
    c.send("SUB foo 7\r\nPUB foo 5\r\nhello\r\nPUB foo r.1 3\r\nabc\r\nPUB foo 0\r\n\r\n")
        .await;
    assert_eq!(
        c.sync().await,
        vec!["MSG foo 7 hello", "MSG foo 7 r.1 abc", "MSG foo 7 "]
    );
    h.shutdown().await;
}

#[tokio::test]
async fn verbose_and_defaults() {
    let h = start(test_options()).await;
    let mut c = Raw::connect(&h).await;
    c.send("CONNECT {}\r\n").await;
    assert_eq!(c.line().await.unwrap(), "+OK");
    c.send("SUB v 1\r\n").await;
    assert_eq!(c.line().await.unwrap(), "+OK");
    c.send("UNSUB 1\r\nPING\r\n").await;
    assert_eq!(c.line().await.unwrap(), "+OK");
    assert_eq!(c.line().await.unwrap(), "PONG");
    h.shutdown().await;
}

#[tokio::test]
async fn wildcards_and_queue_groups() {
    let h = start(test_options()).await;
    let mut c = Raw::connected(&h, "{}").await;
    c.send("SUB foo.* 1\r\nSUB foo.> 2\r\nSUB > 3\r\nSUB q.s g1 4\r\nSUB q.s g1 5\r\n")
        .await;
    c.send("PUB foo.bar 1\r\na\r\nPUB foo.bar.baz 1\r\nb\r\nPUB foo 1\r\nc\r\n")
        .await;
    let mut got = c.sync().await;
    got.sort();
    assert_eq!(
        got,
        vec![
            "MSG foo 3 c",
            "MSG foo.bar 1 a",
            "MSG foo.bar 2 a",
            "MSG foo.bar 3 a",
            "MSG foo.bar.baz 2 b",
            "MSG foo.bar.baz 3 b"
        ]
    );
    c.send("UNSUB 3\r\n").await;
    for _ in 0..20 {
        c.send("PUB q.s 1\r\nx\r\n").await;
    }
    let got = c.sync().await;
    assert_eq!(got.len(), 20, "{got:?}");
    h.shutdown().await;
}

#[tokio::test]
async fn auto_unsubscribe_after_max() {
    let h = start(test_options()).await;
    let mut c = Raw::connected(&h, "{}").await;
    c.send("SUB foo 1\r\nUNSUB 1 3\r\n").await;
    for i in 0..6 {
        c.send(format!("PUB foo 1\r\n{i}\r\n")).await;
    }
    assert_eq!(
        c.sync().await,
        vec!["MSG foo 1 0", "MSG foo 1 1", "MSG foo 1 2"]
    );
    assert_eq!(h.server.accounts.global().sublist.count(), 0);
    h.shutdown().await;
}

#[tokio::test]
async fn echo_off_and_headers_stripping() {
    let h = start(test_options()).await;
    let mut quiet = Raw::connected(&h, r#"{"echo":false,"headers":true}"#).await;
    let mut plain = Raw::connected(&h, "{}").await;
    plain.send("SUB e 1\r\n").await;
    plain.sync().await;
    quiet
        .send("SUB e 1\r\nHPUB e 18 20\r\nNATS/1.0\r\nA: B\r\n\r\nhi\r\n")
        .await;
    assert_eq!(quiet.sync().await, Vec::<String>::new());
    assert_eq!(plain.sync().await, vec!["MSG e 1 hi"]);
    plain.send("PUB e 2\r\nyo\r\n").await;
    plain.sync().await;
    assert_eq!(quiet.sync().await, vec!["MSG e 1 yo"]);
    h.shutdown().await;
}

#[tokio::test]
async fn no_responders_status() {
    let h = start(test_options()).await;
    let mut c = Raw::connected(&h, r#"{"headers":true,"no_responders":true}"#).await;
    c.send("SUB in.1 7\r\nPUB nobody in.1 0\r\n\r\nPING\r\n")
        .await;
    let line = c.line().await.unwrap();
    assert_eq!(line, "HMSG in.1 7 38 38");
    assert_eq!(
        c.payload(38).await.unwrap(),
        b"NATS/1.0 503\r\nNats-Subject: nobody\r\n\r\n"
    );
    assert_eq!(c.line().await.unwrap(), "PONG");
    h.shutdown().await;
}

#[tokio::test]
async fn errors_that_keep_the_connection() {
    let h = start(test_options()).await;
    let mut c = Raw::connected(&h, r#"{"pedantic":true}"#).await;
    c.send("SUB foo..bar 1\r\n").await;
    assert_eq!(c.sync().await, vec!["-ERR 'Invalid Subject'"]);
    c.send("PUB foo.* 1\r\nx\r\n").await;
    assert_eq!(c.sync().await, vec!["-ERR 'Invalid Publish Subject'"]);
    c.send("SUB foo _sys_ 2\r\n").await;
    assert_eq!(
        c.sync().await,
        vec!["-ERR 'Permissions Violation for Subscription to \"foo\" using queue \"_sys_\"'"]
    );
    c.send("PUB foo _R_.x 1\r\nx\r\n").await;
    assert_eq!(
        c.sync().await,
        vec!["-ERR 'Permissions Violation for Publish with Reply of \"_R_.x\"'"]
    );
    h.shutdown().await;
}

async fn expect_close(h: &rnats::node::ServerHandle, send: &str, expect: &[&str]) {
    let mut c = Raw::connected(h, r#"{"headers":false}"#).await;
    c.send(send).await;
    assert!(c.closed_within(CLOSE_WAIT).await, "{send:?} did not close");
    assert_eq!(c.lines(), expect, "{send:?}");
}

#[tokio::test]
async fn errors_that_close() {
    let h = start(test_options()).await;
    expect_close(&h, "FOO bar\r\n", &["-ERR 'Unknown Protocol Operation'"]).await;
    expect_close(
        &h,
        "MSG foo 1 2\r\nhi\r\n",
        &["-ERR 'Unknown Protocol Operation'"],
    )
    .await;
    expect_close(
        &h,
        "PUB foo 2\r\nhello\r\n",
        &["-ERR 'Unknown Protocol Operation'"],
    )
    .await;
    expect_close(
        &h,
        "PUB foo 1048577\r\n",
        &["-ERR 'Maximum Payload Violation'"],
    )
    .await;
    for bad in [
        "PUB foo\r\nPING\r\n",
        "PUB foo x\r\nPING\r\n",
        "SUB foo\r\nPING\r\n",
        "UNSUB 1 2 3\r\nPING\r\n",
        "HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
    ] {
        expect_close(&h, bad, &[]).await;
    }
    h.shutdown().await;
}

#[tokio::test]
async fn connect_errors() {
    let h = start(test_options()).await;
    let mut c = Raw::connect(&h).await;
    c.send("CONNECT {\"protocol\":2}\r\n").await;
    assert!(c.closed_within(CLOSE_WAIT).await);
    assert_eq!(c.lines(), vec!["-ERR 'invalid client protocol'"]);
    let mut c = Raw::connect(&h).await;
    c.send("CONNECT {\"no_responders\":true}\r\n").await;
    assert!(c.closed_within(CLOSE_WAIT).await);
    assert_eq!(
        c.lines(),
        vec!["-ERR 'no responders requires headers support'"]
    );
    let mut c = Raw::connect(&h).await;
    c.send("CONNECT {bad\r\nPING\r\n").await;
    assert!(c.closed_within(CLOSE_WAIT).await);
    assert!(c.lines().is_empty());
    h.shutdown().await;
}

#[tokio::test]
async fn control_line_limit_even_unterminated() {
    let h = start_conf("max_control_line: 256\n").await;
    let mut c = Raw::connected(&h, "{}").await;
    c.send(format!("PUB {}", "a".repeat(4000))).await;
    assert!(c.closed_within(CLOSE_WAIT).await);
    assert_eq!(c.lines(), vec!["-ERR 'maximum control line exceeded'"]);
    h.shutdown().await;
}

#[tokio::test]
async fn max_connections_and_slot_freed() {
    let h = start_conf("max_connections: 1\n").await;
    let a = Raw::connected(&h, "{}").await;
    let mut b = Raw::connect(&h).await;
    assert_eq!(
        b.line().await.unwrap(),
        "-ERR 'maximum connections exceeded'"
    );
    assert!(b.closed_within(CLOSE_WAIT).await);
    drop(a);
    let mut ok = false;
    for _ in 0..100 {
        let mut c = Raw::connect(&h).await;
        c.send("PING\r\n").await;
        if c.line().await.as_deref() == Some("PONG") {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(ok, "slot was not freed");
    h.shutdown().await;
}

#[tokio::test]
async fn max_subscriptions_rejects_without_closing() {
    let h = start_conf("max_subscriptions: 2\n").await;
    let mut c = Raw::connected(&h, "{}").await;
    c.send("SUB a 1\r\nSUB b 2\r\nSUB c 3\r\n").await;
    assert_eq!(
        c.sync().await,
        vec!["-ERR 'maximum subscriptions exceeded'"]
    );
    c.send("PUB b 1\r\nx\r\n").await;
    assert_eq!(c.sync().await, vec!["MSG b 2 x"]);
    h.shutdown().await;
}

#[tokio::test]
async fn stale_connection_after_ping_max() {
    let h = start_conf("ping_interval: \"100ms\"\nping_max: 2\n").await;
    let mut c = Raw::connect(&h).await;
    c.send("CONNECT {\"verbose\":false}\r\n").await;
    let mut lines = Vec::new();
    for _ in 0..10 {
        match c.line().await {
            Some(l) => lines.push(l),
            None => break,
        }
    }
    assert_eq!(lines, vec!["PING", "PING", "-ERR 'Stale Connection'"]);
    h.shutdown().await;
}

#[tokio::test]
async fn auth_token_and_timeout() {
    let h = start_conf("authorization { token: s3cr3t, timeout: 0.3 }\n").await;
    let mut c = Raw::connect(&h).await;
    assert_eq!(c.info["auth_required"], true);
    c.send("CONNECT {\"verbose\":false,\"auth_token\":\"s3cr3t\"}\r\n")
        .await;
    assert_eq!(c.sync().await, Vec::<String>::new());
    let mut bad = Raw::connect(&h).await;
    bad.send("CONNECT {\"auth_token\":\"x\"}\r\n").await;
    assert!(bad.closed_within(CLOSE_WAIT).await);
    assert_eq!(bad.lines(), vec!["-ERR 'Authorization Violation'"]);
    let mut first = Raw::connect(&h).await;
    first.send("PING\r\n").await;
    assert!(first.closed_within(CLOSE_WAIT).await);
    assert_eq!(first.lines(), vec!["-ERR 'Authorization Violation'"]);
    let mut idle = Raw::connect(&h).await;
    assert!(idle.closed_within(CLOSE_WAIT).await);
    assert_eq!(idle.lines(), vec!["-ERR 'Authentication Timeout'"]);
    h.shutdown().await;
}

#[tokio::test]
async fn slow_consumer_is_cut_and_others_continue() {
    let h = start_conf("max_payload: 65536\nmax_pending: 262144\n").await;
    // A subscriber that never reads, with a tiny receive buffer.
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let mut slow = sock.connect(h.addr).await.unwrap();
    use tokio::io::AsyncWriteExt;
    slow.write_all(b"CONNECT {\"verbose\":false}\r\nSUB data 1\r\n")
        .await
        .unwrap();
    let mut good = Raw::connected(&h, "{}").await;
    good.send("SUB data 1\r\n").await;
    good.sync().await;
    let mut publisher = Raw::connected(&h, "{}").await;
    let payload = "z".repeat(32 * 1024);
    // 12 MiB in all: more than the kernel's socket buffers absorb.
    let total = 384;
    let mut received = 0;
    for i in 0..total {
        publisher
            .send(format!("PUB data {}\r\n{payload}\r\n", payload.len()))
            .await;
        if i % 4 == 3 {
            // The publisher's PONG comes after all its PUBs were delivered;
            // only then does the subscriber's PONG follow every message.
            assert_eq!(publisher.sync().await, Vec::<String>::new());
            received += good.sync().await.len();
        }
    }
    assert_eq!(received, total);
    let mut cut = false;
    for _ in 0..200 {
        if h.server.num_clients() == 2 {
            cut = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(cut, "slow consumer still connected");
    assert_eq!(publisher.sync().await, Vec::<String>::new());
    h.shutdown().await;
}

#[tokio::test]
async fn parser_survives_one_byte_writes() {
    let h = start(test_options()).await;
    let mut c = Raw::connect(&h).await;
    let stream = b"CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB foo 1\r\nPUB foo 5\r\nhello\r\nHPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n";
    for b in stream.iter() {
        c.send([*b]).await;
    }
    assert_eq!(
        c.sync().await,
        vec!["MSG foo 1 hello", "HMSG foo 1 NATS/1.0\r\n\r\nhi"]
    );
    h.shutdown().await;
}

#[tokio::test]
async fn write_deadline_cuts_a_stuck_consumer() {
    let h = start_conf("write_deadline: \"200ms\"\nmax_payload: 65536\n").await;
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let mut stuck = sock.connect(h.addr).await.unwrap();
    use tokio::io::AsyncWriteExt;
    stuck
        .write_all(b"CONNECT {\"verbose\":false}\r\nSUB data 1\r\n")
        .await
        .unwrap();
    let mut publisher = Raw::connected(&h, "{}").await;
    let payload = "w".repeat(32 * 1024);
    // 12 MiB: far below max_pending, far above what the socket buffers hold,
    // so the writer blocks and the deadline must fire.
    for i in 0..384 {
        publisher
            .send(format!("PUB data {}\r\n{payload}\r\n", payload.len()))
            .await;
        if i % 32 == 31 {
            publisher.sync().await;
        }
    }
    let mut cut = false;
    for _ in 0..300 {
        if h.server.num_clients() == 1 {
            cut = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(cut, "stuck consumer still connected");
    assert_eq!(publisher.sync().await, Vec::<String>::new());
    h.shutdown().await;
}

//! The guarantees rnats gives beyond nats-server (see README "Security"):
//! each attack is refused, a well-behaved client of another account keeps
//! working afterwards, and the server stays up.

mod common;

use common::{start_conf, Raw};
use std::time::Duration;

const TWO_ACCOUNTS: &str = r#"
accounts {
  A: { users: [ {user: a, password: a, permissions: { subscribe: { allow: ["foo.*", "*"] } } } ] }
  B: { users: [ {user: b, password: b} ] }
}
"#;

/// A client of account B that must still be served after an attack.
async fn bystander_still_works(h: &rnats::node::ServerHandle) {
    let mut b = Raw::connected(h, r#"{"user":"b","pass":"b"}"#).await;
    b.send("SUB ok 1\r\nPUB ok 2\r\nhi\r\n").await;
    assert_eq!(b.sync().await, vec!["MSG ok 1 hi".to_owned()]);
}

#[tokio::test]
async fn subscription_permissions_are_subject_sets() {
    let h = start_conf(TWO_ACCOUNTS).await;
    let mut a = Raw::connected(&h, r#"{"user":"a","pass":"a"}"#).await;
    a.send("SUB foo.> 1\r\nSUB > 2\r\nSUB foo.x 3\r\n").await;
    let frames = a.sync().await;
    assert_eq!(
        frames,
        vec![
            "-ERR 'Permissions Violation for Subscription to \"foo.>\"'".to_owned(),
            "-ERR 'Permissions Violation for Subscription to \">\"'".to_owned(),
        ]
    );
    a.send("PUB foo.a.b 1\r\nx\r\nPUB foo.x 1\r\ny\r\n").await;
    assert_eq!(a.sync().await, vec!["MSG foo.x 3 y".to_owned()]);
    bystander_still_works(&h).await;
}

#[tokio::test]
async fn control_bytes_never_reach_a_subscriber() {
    let h = start_conf(TWO_ACCOUNTS).await;
    let mut b = Raw::connected(&h, r#"{"user":"b","pass":"b"}"#).await;
    b.send("SUB > 1\r\n").await;
    b.sync().await;
    let mut attacker = Raw::connected(&h, r#"{"user":"b","pass":"b"}"#).await;
    for bad in ["a\x00b", "a\x0bb", "a\x0cb", "a\x01b", "a\x7fb"] {
        attacker.send(format!("PUB {bad} 1\r\nx\r\n")).await;
        assert_eq!(
            attacker.sync().await,
            vec!["-ERR 'Invalid Publish Subject'".to_owned()],
            "{bad:?}"
        );
        attacker.send(format!("PUB ok {bad} 1\r\nx\r\n")).await;
        assert_eq!(
            attacker.sync().await,
            vec!["-ERR 'Invalid Publish Subject'".to_owned()],
            "reply {bad:?}"
        );
        attacker
            .send(format!("SUB {bad} 9\r\nSUB q {bad} 10\r\n"))
            .await;
        assert_eq!(
            attacker.sync().await,
            vec![
                "-ERR 'Invalid Subject'".to_owned(),
                "-ERR 'Invalid Subject'".to_owned()
            ],
            "sub {bad:?}"
        );
    }
    // Nothing of it reached the wildcard subscriber; clean traffic does.
    attacker.send("PUB clean 1\r\nz\r\n").await;
    attacker.sync().await;
    assert_eq!(b.sync().await, vec!["MSG clean 1 z".to_owned()]);
    bystander_still_works(&h).await;
}

#[tokio::test]
async fn nothing_before_connect_is_buffered_when_auth_is_required() {
    let h = start_conf(TWO_ACCOUNTS).await;
    let mut c = Raw::connect(&h).await;
    // A PUB line announcing a large payload is refused at its first byte:
    // the server closes without waiting for (or buffering) the payload.
    c.send("PUB x 1000000\r\n").await;
    assert!(c.closed_within(Duration::from_secs(2)).await);
    assert_eq!(c.lines(), vec!["-ERR 'Authorization Violation'".to_owned()]);
    bystander_still_works(&h).await;
}

#[tokio::test]
async fn idle_pre_login_connections_cannot_fill_the_server() {
    let h = start_conf(&format!("max_connections: 20\n{TWO_ACCOUNTS}")).await;
    let mut idle = Vec::new();
    for _ in 0..20 {
        idle.push(Raw::connect(&h).await);
    }
    // The server is full of connections that never log in; a client that
    // does still gets in, and takes the oldest idle one's place.
    bystander_still_works(&h).await;
    assert!(idle[0].closed_within(Duration::from_secs(2)).await);
    assert_eq!(
        idle[0].lines(),
        vec!["-ERR 'Authentication Timeout'".to_owned()]
    );
}

#[tokio::test]
async fn account_connection_limit_holds_under_a_connect_flood() {
    let h = start_conf(
        r#"accounts {
  A: { users: [ {user: a, password: a} ], limits: { max_connections: 5 } }
  B: { users: [ {user: b, password: b} ] }
}"#,
    )
    .await;
    let mut tasks = Vec::new();
    for _ in 0..40 {
        let addr = h.addr;
        tasks.push(tokio::spawn(async move {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            s.write_all(b"CONNECT {\"user\":\"a\",\"pass\":\"a\",\"verbose\":false}\r\nPING\r\n")
                .await
                .unwrap();
            let mut got = Vec::new();
            let mut chunk = vec![0u8; 4096];
            let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
            while !got.windows(4).any(|w| w == b"PONG") && !got.windows(4).any(|w| w == b"-ERR") {
                match tokio::time::timeout_at(deadline, s.read(&mut chunk)).await {
                    Ok(Ok(n)) if n > 0 => got.extend_from_slice(&chunk[..n]),
                    _ => break,
                }
            }
            let ok = got.windows(4).any(|w| w == b"PONG");
            (ok, s)
        }));
    }
    let mut admitted = 0;
    let mut keep = Vec::new();
    for t in tasks {
        let (ok, s) = t.await.unwrap();
        admitted += usize::from(ok);
        keep.push(s);
    }
    assert_eq!(admitted, 5, "exactly the limit is admitted");
    assert_eq!(h.server.accounts.get("A").unwrap().conns(), 5);
    bystander_still_works(&h).await;
}

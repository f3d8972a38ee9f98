//! Operator (JWT) mode across a cluster: interest for an account that one
//! member has not loaded yet (no client of it there) is kept, the account
//! fetched from the resolver, and messages published there reach the
//! subscriber on the other member.

mod common;

use std::time::Duration;

use common::operator::{jwt_login_to, user_jwt, Setup};
use common::start_conf;
use rnats::nkeys::KeyPair;

#[tokio::test]
async fn interest_in_an_account_not_loaded_yet_is_kept() {
    let st = Setup::new();
    let top = st.op.config("MEMORY", Some(&[&st.acc_jwt]));
    let a = start_conf(&format!(
        "{top}cluster {{ name: O, listen: 127.0.0.1:-1 }}\n"
    ))
    .await;
    let port = a.server.cluster.get().unwrap().addr.port();
    let b = start_conf(&format!(
        "{top}cluster {{ name: O, listen: 127.0.0.1:-1, routes: [\"nats-route://127.0.0.1:{port}\"] }}\n"
    ))
    .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while a.server.cluster.get().unwrap().remotes.lock().is_empty() {
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let acc = st.acc.public_key();
    let loaded_on_a = a
        .server
        .accounts
        .get(&acc)
        .is_some_and(|x| x.claims.read().is_some());
    // The subscriber logs in on b and subscribes while no client of the
    // account is on a.
    let (mut sub, first) = jwt_login_to(
        b.addr,
        &st.user_jwt,
        Some(&st.user),
        serde_json::Value::Null,
    )
    .await;
    assert_eq!(first, "PONG");
    sub.send("SUB jwt.subject 1\r\n").await;
    sub.sync().await;
    // Then a publisher of the account logs in on a and publishes.
    let u = KeyPair::new_user();
    let (mut publisher, first) = jwt_login_to(
        a.addr,
        &user_jwt(&u, &st.acc, |_| {}),
        Some(&u),
        serde_json::Value::Null,
    )
    .await;
    assert_eq!(first, "PONG");
    for _ in 0..100 {
        publisher.send("PUB jwt.subject 2\r\nok\r\n").await;
        publisher.sync().await;
        if let Ok(Some(f)) = tokio::time::timeout(Duration::from_millis(100), sub.frame()).await {
            assert_eq!(f, "MSG jwt.subject 1 ok");
            assert!(!loaded_on_a, "the account was already loaded on a");
            return;
        }
    }
    panic!("the message never crossed (account loaded on a at start: {loaded_on_a})");
}

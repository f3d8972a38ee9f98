//! The auth pipeline driven by a real client (async-nats): one test per
//! method (token, user/password plain and bcrypt, nkey, TLS certificate
//! mapping, no_auth_user) and the permissions a login carries.

mod common;

use common::{start_conf, Raw};
use futures::StreamExt;
use std::path::PathBuf;
use std::time::Duration;

const T: Duration = Duration::from_secs(5);

fn opts() -> async_nats::ConnectOptions {
    async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(2))
        .max_reconnects(Some(0))
}

/// Connects and proves the connection works with a round trip.
async fn works(url: &str, o: async_nats::ConnectOptions) -> bool {
    let attempt = async {
        let nc = o.connect(url).await.ok()?;
        let mut sub = nc.subscribe("auth.check").await.ok()?;
        nc.publish("auth.check", "ok".into()).await.ok()?;
        nc.flush().await.ok()?;
        sub.next().await.map(|m| &m.payload[..] == b"ok")
    };
    tokio::time::timeout(T, attempt)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}

#[tokio::test]
async fn token_plain_and_bcrypt() {
    let h = start_conf("authorization { token: s3cr3t }\n").await;
    let url = h.client_url();
    assert!(works(&url, opts().token("s3cr3t".into())).await);
    assert!(!works(&url, opts().token("wrong".into())).await);
    assert!(!works(&url, opts()).await);
    h.shutdown().await;

    let hash = bcrypt::hash("tok3n", 4).unwrap();
    let h = start_conf(&format!("authorization {{ token: \"{hash}\" }}\n")).await;
    let url = h.client_url();
    assert!(works(&url, opts().token("tok3n".into())).await);
    assert!(
        !works(&url, opts().token(hash.clone())).await,
        "the hash is no password"
    );
    h.shutdown().await;
}

#[tokio::test]
async fn users_list_plain_and_bcrypt() {
    let hash = bcrypt::hash("bobpw", 4).unwrap();
    let h = start_conf(&format!(
        "authorization {{ users: [ {{user: alice, password: alicepw}}, {{user: bob, password: \"{hash}\"}} ] }}\n"
    ))
    .await;
    let url = h.client_url();
    let up = |u: &str, p: &str| opts().user_and_password(u.into(), p.into());
    assert!(works(&url, up("alice", "alicepw")).await);
    assert!(works(&url, up("bob", "bobpw")).await);
    assert!(!works(&url, up("bob", "alicepw")).await);
    assert!(!works(&url, up("mallory", "alicepw")).await);
    assert!(!works(&url, up("bob", &hash)).await);
    h.shutdown().await;
}

#[tokio::test]
async fn nkey_users_sign_the_nonce() {
    let kp = rnats::nkeys::KeyPair::new(rnats::nkeys::KeyKind::User);
    let other = rnats::nkeys::KeyPair::new(rnats::nkeys::KeyKind::User);
    let h = start_conf(&format!(
        "authorization {{ users: [ {{ nkey: {} }} ] }}\n",
        kp.public_key()
    ))
    .await;
    let url = h.client_url();
    let raw = Raw::connect(&h).await;
    assert_eq!(raw.info["nonce"].as_str().unwrap().len(), 15);
    let seed = kp.seed().unwrap().as_str().to_owned();
    assert!(works(&url, opts().nkey(seed)).await);
    let other_seed = other.seed().unwrap().as_str().to_owned();
    assert!(!works(&url, opts().nkey(other_seed)).await);
    h.shutdown().await;
}

#[tokio::test]
async fn no_auth_user_gets_its_permissions_and_credentials_still_count() {
    let h = start_conf(
        "authorization { users: [\n  {user: guest, password: g, permissions: {publish: \"public.>\", subscribe: \"public.>\"}}\n  {user: admin, password: a}\n] }\nno_auth_user: guest\n",
    )
    .await;
    let url = h.client_url();
    let raw = Raw::connect(&h).await;
    assert!(raw.info.get("auth_required").is_none());
    // Anonymous: runs as guest.
    let mut c = Raw::connected(&h, "{}").await;
    c.send("SUB public.x 1\r\nPUB public.x 1\r\nx\r\nPUB private 1\r\nx\r\n")
        .await;
    assert_eq!(
        c.sync().await,
        vec![
            "MSG public.x 1 x",
            "-ERR 'Permissions Violation for Publish to \"private\"'"
        ]
    );
    // Given credentials must be right; right ones are not downgraded.
    assert!(!works(&url, opts().user_and_password("admin".into(), "x".into())).await);
    let admin = opts()
        .user_and_password("admin".into(), "a".into())
        .connect(&url)
        .await
        .unwrap();
    let mut sub = admin.subscribe("private").await.unwrap();
    admin.publish("private", "y".into()).await.unwrap();
    assert!(tokio::time::timeout(T, sub.next()).await.unwrap().is_some());
    h.shutdown().await;
}

#[tokio::test]
async fn permissions_reach_the_client_and_responses_are_granted() {
    let h = start_conf(
        "authorization { users: [\n  {user: svc, password: pw, permissions: {subscribe: \"svc\", allow_responses: true}}\n  {user: limited, password: pw, permissions: {publish: {allow: [\"pub.*\"], deny: [\"pub.secret\"]}, subscribe: {allow: [\"sub.>\"], deny: [\"sub.private\"]}}}\n  {user: client, password: pw}\n] }\n",
    )
    .await;
    let url = h.client_url();
    let login = |u: &str| opts().user_and_password(u.into(), "pw".into());

    // allow_responses: the service answers a request it received, and
    // nothing else.
    let svc = login("svc").connect(&url).await.unwrap();
    let mut reqs = svc.subscribe("svc").await.unwrap();
    let responder = svc.clone();
    tokio::spawn(async move {
        while let Some(m) = reqs.next().await {
            if let Some(r) = m.reply {
                let _ = responder.publish(r, "answer".into()).await;
            }
        }
    });
    svc.flush().await.unwrap();
    let client = login("client").connect(&url).await.unwrap();
    let resp = tokio::time::timeout(T, client.request("svc", "q".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&resp.payload[..], b"answer");

    // A wildcard subscription never receives a denied subject.
    let limited = login("limited").connect(&url).await.unwrap();
    let mut wild = limited.subscribe("sub.>").await.unwrap();
    limited.flush().await.unwrap();
    for s in ["sub.private", "sub.ok"] {
        client.publish(s, s.into()).await.unwrap();
    }
    client.flush().await.unwrap();
    let m = tokio::time::timeout(T, wild.next()).await.unwrap().unwrap();
    assert_eq!(m.subject.as_str(), "sub.ok");

    // Publish violations are reported on the wire and the connection stays.
    let mut raw = Raw::connected(&h, r#"{"user":"limited","pass":"pw"}"#).await;
    raw.send("PUB pub.secret 1\r\nx\r\nPUB pub.a 1\r\nx\r\nSUB other 1\r\nSUB sub.x q 2\r\n")
        .await;
    assert_eq!(
        raw.sync().await,
        vec![
            "-ERR 'Permissions Violation for Publish to \"pub.secret\"'",
            "-ERR 'Permissions Violation for Subscription to \"other\"'",
        ]
    );
    h.shutdown().await;
}

#[tokio::test]
async fn subscription_permissions_are_sets_of_subjects() {
    let h = start_conf(
        "authorization { users: [ {user: u, password: pw, permissions: {subscribe: [\"*\", \"foo.*\"]}} ] }\n",
    )
    .await;
    let mut c = Raw::connected(&h, r#"{"user":"u","pass":"pw"}"#).await;
    // nats-server admits these by comparing '>' as a literal token.
    c.send("SUB > 1\r\nSUB foo.> 2\r\nSUB foo.bar 3\r\nSUB x 4\r\n")
        .await;
    assert_eq!(
        c.sync().await,
        vec![
            "-ERR 'Permissions Violation for Subscription to \">\"'",
            "-ERR 'Permissions Violation for Subscription to \"foo.>\"'",
        ]
    );
    h.shutdown().await;
}

fn cert(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/certs")
        .join(name)
}

#[tokio::test]
async fn tls_certificates_map_to_users() {
    let conf = format!(
        "tls {{\n  cert_file: \"{}\"\n  key_file: \"{}\"\n  ca_file: \"{}\"\n  verify_and_map: true\n}}\nauthorization {{ users: [\n  {{user: \"bob@example.com\", permissions: {{publish: \"bob.>\"}}}}\n  {{user: \"CN=alice,O=NATS Conformance\"}}\n] }}\n",
        cert("server.pem").display(),
        cert("server-key.pem").display(),
        cert("ca.pem").display()
    );
    let h = start_conf(&conf).await;
    let url = format!("tls://localhost:{}", h.addr.port());
    let tls = |client: &str| {
        opts()
            .add_root_certificates(cert("ca.pem"))
            .require_tls(true)
            .add_client_certificate(
                cert(&format!("{client}.pem")),
                cert(&format!("{client}-key.pem")),
            )
    };
    assert!(
        works(&url, tls("client-alice")).await,
        "subject DN maps to alice"
    );
    // bob maps by e-mail SAN (a user in CONNECT would be ignored).
    let bob = tls("client-bob").connect(&url).await.unwrap();
    bob.flush().await.unwrap();
    let users: Vec<String> = h
        .server
        .clients()
        .iter()
        .map(|c| c.meta.lock().user.clone())
        .collect();
    assert!(users.contains(&"bob@example.com".to_owned()), "{users:?}");
    // carol's certificate is trusted but names no user.
    assert!(!works(&url, tls("client-carol")).await);
    // A certificate from another CA is refused.
    assert!(!works(&url, tls("other-alice")).await);
    h.shutdown().await;
}

//! rnats-account-server end to end: the binary on a free port, JWTs made
//! with the library, the nats-account-server HTTP API.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rnats::jwt::{AccountClaims, OperatorClaims};
use rnats::nkeys::KeyPair;

/// The running server; killed on drop.
struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(operator_file: &std::path::Path, dir: &std::path::Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rnats-account-server"))
        .args(["--port", "0", "--operator"])
        .arg(operator_file)
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start rnats-account-server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("Listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    Server { child, base }
}

fn account_jwt(signer: &KeyPair, account: &str, iat: i64, name: &str) -> String {
    let mut c = AccountClaims::new(account);
    c.name = name.into();
    c.encode_at(signer, iat).unwrap()
}

async fn body_of(http: &reqwest::Client, url: &str) -> String {
    http.get(url).send().await.unwrap().text().await.unwrap()
}

#[tokio::test]
async fn post_get_and_no_rollback() {
    let tmp = tempfile::tempdir().unwrap();
    let op = KeyPair::new_operator();
    let signing = KeyPair::new_operator();
    let mut oc = OperatorClaims::new(op.public_key());
    oc.nats.add_signing_key(&signing.public_key());
    let op_jwt = oc.encode(&op).unwrap();
    let op_file = tmp.path().join("op.jwt");
    std::fs::write(&op_file, rnats::creds::decorate_jwt("operator", &op_jwt)).unwrap();
    let dir = tmp.path().join("store");
    let srv = start(&op_file, &dir);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let url = |p: &str| format!("{}{p}", srv.base);

    let r = http.get(url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = http.get(url("/jwt/v1/accounts/")).send().await.unwrap();
    assert_eq!(r.status(), 200, "base URL probe");
    let r = http.get(url("/jwt/v1/operator")).send().await.unwrap();
    assert_eq!(r.text().await.unwrap(), op_jwt);

    let acc = KeyPair::new_account().public_key();
    let acc_url = url(&format!("/jwt/v1/accounts/{acc}"));
    let r = http.get(&acc_url).send().await.unwrap();
    assert_eq!(r.status(), 404);

    let v2 = account_jwt(&signing, &acc, 2000, "v2");
    let r = http.post(&acc_url).body(v2.clone()).send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let r = http.get(&acc_url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/jwt");
    assert!(r.headers().contains_key("etag"));
    assert_eq!(r.text().await.unwrap(), v2);
    assert_eq!(
        std::fs::read_to_string(dir.join(format!("{acc}.jwt"))).unwrap(),
        v2
    );

    // Rollback: an older, validly signed JWT is refused.
    let v1 = account_jwt(&op, &acc, 1000, "v1");
    let r = http.post(&acc_url).body(v1).send().await.unwrap();
    assert_eq!(r.status(), 409);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("older than the one in force"));
    assert_eq!(body_of(&http, &acc_url).await, v2);

    // Newer wins.
    let v3 = account_jwt(&op, &acc, 3000, "v3");
    let r = http.post(&acc_url).body(v3.clone()).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(body_of(&http, &acc_url).await, v3);

    // Wrong account in the path, untrusted issuer, garbage.
    let other = KeyPair::new_account().public_key();
    let r = http
        .post(url(&format!("/jwt/v1/accounts/{other}")))
        .body(v3.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("pub keys don't match"));
    let rogue = account_jwt(&KeyPair::new_operator(), &acc, 9000, "rogue");
    let r = http.post(&acc_url).body(rogue).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("untrusted issuer"));
    let r = http.post(&acc_url).body("not a jwt").send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(body_of(&http, &acc_url).await, v3);

    // A server's URL resolver reads it.
    let r = rnats::resolver::UrlResolver::new(
        &format!("{}/jwt/v1/accounts", srv.base),
        Default::default(),
        None,
    )
    .unwrap();
    use rnats::resolver::AccountResolver;
    r.start().await.expect("base URL answers");
    assert_eq!(r.fetch(&acc).await.unwrap(), v3);
    assert!(matches!(
        r.fetch(&other).await,
        Err(rnats::resolver::ResolverError::NotFound(_))
    ));

    // A restart serves what was stored.
    drop(srv);
    let srv = start(&op_file, &dir);
    let r = http
        .get(format!("{}/jwt/v1/accounts/{acc}", srv.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), v3);
}

//! Operator (JWT) mode fixtures shared by the integration tests: an
//! operator with its system account, account and user JWTs, raw JWT logins
//! (nonce signed by hand), claim pushes over `$SYS` and async-nats clients
//! from creds.

use std::net::SocketAddr;
use std::time::Duration;

use futures::StreamExt;
use rnats::jwt::{self, AccountClaims, OperatorClaims, UserClaims};
use rnats::nkeys::KeyPair;
use rnats::node::ServerHandle;
use serde_json::Value;

use super::Raw;

pub const AUTH_VIOLATION: &str = "-ERR 'Authorization Violation'";

/// An operator with its system account and a system user.
pub struct Op {
    pub key: KeyPair,
    pub jwt: String,
    pub sys: KeyPair,
    pub sys_jwt: String,
    pub sys_user: KeyPair,
    pub sys_user_jwt: String,
}

impl Op {
    pub fn new() -> Op {
        let key = KeyPair::new_operator();
        let sys = KeyPair::new_account();
        let mut oc = OperatorClaims::new(key.public_key());
        oc.name = "OP".into();
        oc.nats.system_account = sys.public_key();
        let jwt = oc.encode(&key).unwrap();
        let sys_jwt = account_jwt(&sys, &key, |c| c.name = "SYS".into());
        let sys_user = KeyPair::new_user();
        let sys_user_jwt = user_jwt(&sys_user, &sys, |_| {});
        Op {
            key,
            jwt,
            sys,
            sys_jwt,
            sys_user,
            sys_user_jwt,
        }
    }

    /// Config text: this operator, `resolver`, and (unless `None`) the
    /// system account plus `accounts` preloaded.
    pub fn config(&self, resolver: &str, preload: Option<&[&str]>) -> String {
        let mut s = format!(
            "operator: {}\nsystem_account: {}\nresolver: {resolver}\n",
            self.jwt,
            self.sys.public_key()
        );
        if let Some(accounts) = preload {
            s.push_str("resolver_preload: {\n");
            for j in std::iter::once(&self.sys_jwt.as_str()).chain(accounts) {
                let sub = jwt::decode_account(j).unwrap().sub;
                s.push_str(&format!("  {sub}: \"{j}\"\n"));
            }
            s.push_str("}\n");
        }
        s
    }

    pub async fn start(&self, accounts: &[&str]) -> ServerHandle {
        super::start_conf(&self.config("MEMORY", Some(accounts))).await
    }
}

pub fn account_jwt(acc: &KeyPair, signer: &KeyPair, f: impl FnOnce(&mut AccountClaims)) -> String {
    account_jwt_at(acc, signer, jwt::now(), f)
}

pub fn account_jwt_at(
    acc: &KeyPair,
    signer: &KeyPair,
    iat: i64,
    f: impl FnOnce(&mut AccountClaims),
) -> String {
    let mut c = AccountClaims::new(acc.public_key());
    c.name = "A".into();
    f(&mut c);
    c.encode_at(signer, iat).unwrap()
}

/// A user JWT for `user` signed by `signer` (the account key or, with
/// `issuer_account` set by `f`, a signing key).
pub fn user_jwt(user: &KeyPair, signer: &KeyPair, f: impl FnOnce(&mut UserClaims)) -> String {
    let mut c = UserClaims::new(user.public_key());
    c.name = "u".into();
    f(&mut c);
    c.encode(signer).unwrap()
}

/// Account A (issued by the operator, `iat` a minute ago so later updates
/// are newer) with one user.
pub struct Setup {
    pub op: Op,
    pub acc: KeyPair,
    pub acc_jwt: String,
    pub user: KeyPair,
    pub user_jwt: String,
}

impl Setup {
    pub fn new() -> Setup {
        Setup::with(|_| {})
    }

    pub fn with(f: impl FnOnce(&mut AccountClaims)) -> Setup {
        let op = Op::new();
        let acc = KeyPair::new_account();
        let acc_jwt = account_jwt_at(&acc, &op.key, jwt::now() - 60, f);
        let user = KeyPair::new_user();
        let user_jwt = user_jwt(&user, &acc, |_| {});
        Setup {
            op,
            acc,
            acc_jwt,
            user,
            user_jwt,
        }
    }

    pub async fn start(&self) -> ServerHandle {
        self.op.start(&[&self.acc_jwt]).await
    }

    /// A's JWT issued now with `f` applied.
    pub fn update(&self, f: impl FnOnce(&mut AccountClaims)) -> String {
        account_jwt(&self.acc, &self.op.key, f)
    }
}

// -------------------------------------------------------- raw clients --

/// Sends CONNECT with `jwt` (and the nonce signed by `signer` when given)
/// followed by PING; returns the socket and the first line the server sent.
pub async fn jwt_login(
    h: &ServerHandle,
    jwt: &str,
    signer: Option<&KeyPair>,
    extra: Value,
) -> (Raw, String) {
    jwt_login_to(h.addr, jwt, signer, extra).await
}

/// [`jwt_login`] against a server at `addr` (an in-process server or a
/// server process).
pub async fn jwt_login_to(
    addr: SocketAddr,
    jwt: &str,
    signer: Option<&KeyPair>,
    extra: Value,
) -> (Raw, String) {
    let mut c = Box::pin(Raw::connect_to(addr)).await;
    let o = jwt_connect(&c, jwt, signer, extra);
    c.send(format!("CONNECT {o}\r\nPING\r\n")).await;
    let first = Box::pin(c.line()).await.unwrap_or_default();
    (c, first)
}

/// The CONNECT object of a JWT login on `c`: `jwt`, the INFO nonce signed
/// by `signer` when given, and the fields of `extra`.
pub fn jwt_connect(c: &Raw, jwt: &str, signer: Option<&KeyPair>, extra: Value) -> Value {
    let nonce = c.info["nonce"].as_str().expect("nonce in INFO").to_owned();
    let mut o = serde_json::json!({"verbose": false, "pedantic": false, "jwt": jwt});
    if let Some(k) = signer {
        o["sig"] = rnats::nkeys::sign_nonce(k, nonce.as_bytes())
            .unwrap()
            .into();
    }
    for (k, v) in extra.as_object().into_iter().flatten() {
        o[k] = v.clone();
    }
    o
}

pub async fn accepted(h: &ServerHandle, jwt: &str, key: &KeyPair) -> Raw {
    let (c, first) = jwt_login(h, jwt, Some(key), Value::Null).await;
    assert_eq!(first, "PONG", "login refused");
    c
}

/// Logs in and requires `-ERR 'Authorization Violation'` and a close.
pub async fn refused_with(h: &ServerHandle, jwt: &str, signer: Option<&KeyPair>, extra: Value) {
    let (mut c, first) = jwt_login(h, jwt, signer, extra).await;
    assert_eq!(first, AUTH_VIOLATION);
    assert!(
        Box::pin(c.closed_within(Duration::from_secs(2))).await,
        "not closed after the auth error"
    );
}

pub async fn refused(h: &ServerHandle, jwt: &str, key: &KeyPair) {
    refused_with(h, jwt, Some(key), Value::Null).await
}

/// The next frame that is not a PING, bounded.
pub async fn next(c: &mut Raw) -> String {
    Box::pin(c.frame()).await.expect("a frame before timeout")
}

/// Publishes `payload` on `subject` as the system user and returns the
/// reply payload.
pub async fn sys_request(h: &ServerHandle, op: &Op, subject: &str, payload: &str) -> String {
    let mut c = accepted(h, &op.sys_user_jwt, &op.sys_user).await;
    c.send(format!(
        "SUB _INBOX.sysreply 1\r\nPUB {subject} _INBOX.sysreply {}\r\n{payload}\r\n",
        payload.len()
    ))
    .await;
    let f = next(&mut c).await;
    let prefix = "MSG _INBOX.sysreply 1 ";
    assert!(f.starts_with(prefix), "{f}");
    f[prefix.len()..].to_owned()
}

pub async fn push_claims(h: &ServerHandle, op: &Op, account_jwt: &str) -> Value {
    let sub = jwt::decode_account(account_jwt).unwrap().sub;
    let reply = sys_request(
        h,
        op,
        &format!("$SYS.REQ.ACCOUNT.{sub}.CLAIMS.UPDATE"),
        account_jwt,
    )
    .await;
    serde_json::from_str(&reply).unwrap()
}

/// An async-nats client logged in with creds for `jwt`/`key`.
pub async fn nats_client(h: &ServerHandle, jwt: &str, key: &KeyPair) -> async_nats::Client {
    let creds = rnats::creds::format_user_creds(jwt, key).unwrap();
    async_nats::ConnectOptions::with_credentials(&creds)
        .unwrap()
        .connect(h.client_url())
        .await
        .expect("creds login")
}

pub async fn no_message(sub: &mut async_nats::Subscriber, wait: Duration) {
    if let Ok(m) = tokio::time::timeout(wait, sub.next()).await {
        panic!("unexpected message {m:?}");
    }
}

pub async fn recv(sub: &mut async_nats::Subscriber) -> async_nats::Message {
    tokio::time::timeout(Duration::from_secs(3), sub.next())
        .await
        .expect("message within 3s")
        .expect("subscription open")
}

pub fn user_jwt_of(user: &KeyPair, acc: &KeyPair) -> String {
    user_jwt(user, acc, |_| {})
}

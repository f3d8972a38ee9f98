//! Tenant boundaries under attack: a second CONNECT that tries to change
//! account, queue-specific subscribe deny entries, self-importing services,
//! activation expiry and revocation, operator mode across a reload, claim
//! updates applied in order (and without pausing delivery), and a few
//! smaller defects (`UNSUB <sid> <max>` under concurrent publishing,
//! `trusted_keys` without an operator JWT, shutdown with a client stuck in
//! its TLS handshake).
//!
//! Each hole's test shows the attack refused, a well-behaved client of
//! another account unaffected, and the server alive. Every wait is bounded.
//! "Nothing arrived" is proven with a sentinel: after everything else, the
//! subscriber's own connection (or one whose publish is known to be routed
//! after the others') publishes a message the subscription matches; whatever
//! came before it is what leaked.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::operator::*;
use common::{start_conf, try_start_conf, Raw};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rnats::jwt::{self, AccountClaims, ActivationClaims, Export, ExportType, Import};
use rnats::nkeys::KeyPair;
use rnats::node::ServerHandle;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const T: Duration = Duration::from_secs(5);
const SENTINEL: &str = "__sentinel__";

// ---------------------------------------------------------------- helpers --
//
// Raw's futures hold a 64 KiB read buffer and a debug build gives every await
// of a test its own stack slot; these keep each one on the heap.

/// The next frame (server PINGs answered), bounded.
async fn frame(r: &mut Raw) -> String {
    Box::pin(r.frame()).await.expect("a frame in time")
}

/// The next frame, waiting up to 30 s: applying a burst of heavy claim
/// updates one at a time may take longer than one read timeout on a loaded
/// machine, and this test is about order, not speed.
async fn patient_frame(r: &mut Raw) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(f) = Box::pin(r.frame()).await {
            return f;
        }
        assert!(Instant::now() < deadline, "no frame within 30 s");
    }
}

async fn line(r: &mut Raw) -> Option<String> {
    Box::pin(r.line()).await
}

/// PING, and every frame before the PONG.
async fn sync(r: &mut Raw) -> Vec<String> {
    Box::pin(r.sync()).await
}

/// True if the server closes `r` within `T`.
async fn closed(r: &mut Raw) -> bool {
    Box::pin(r.closed_within(T)).await
}

fn pub_cmd(subject: &str, payload: &str) -> String {
    format!("PUB {subject} {}\r\n{payload}\r\n", payload.len())
}

fn req_cmd(subject: &str, reply: &str, payload: &str) -> String {
    format!("PUB {subject} {reply} {}\r\n{payload}\r\n", payload.len())
}

fn is_sentinel(f: &str) -> bool {
    (f.starts_with("MSG ") || f.starts_with("HMSG ")) && f.ends_with(&format!(" {SENTINEL}"))
}

/// Every frame `r` received before the first sentinel.
async fn before_sentinel(r: &mut Raw) -> Vec<String> {
    let mut got = Vec::new();
    for _ in 0..100_000 {
        let f = frame(r).await;
        if is_sentinel(&f) {
            return got;
        }
        got.push(f);
    }
    panic!("no sentinel after {} frames", got.len());
}

/// Publishes the sentinel on `subject` (which one of `r`'s subscriptions
/// matches) from `r` and returns what arrived before it.
async fn sentinel(r: &mut Raw, subject: &str) -> Vec<String> {
    r.send(pub_cmd(subject, SENTINEL)).await;
    Box::pin(before_sentinel(r)).await
}

/// The reply subject of a raw `MSG subj sid reply payload` frame.
fn frame_reply(f: &str) -> Option<String> {
    let parts: Vec<&str> = f.splitn(5, ' ').collect();
    (parts.len() == 5).then(|| parts[3].to_owned())
}

/// A raw connection logged in as `who` (password `<who>pw`).
async fn login(h: &ServerHandle, who: &str) -> Raw {
    Box::pin(Raw::connected(
        h,
        &format!(r#"{{"user":"{who}","pass":"{who}pw"}}"#),
    ))
    .await
}

/// A raw connection of a new user of `acc` (operator mode).
async fn member(h: &ServerHandle, acc: &KeyPair) -> Raw {
    member_at(h.addr, acc).await
}

async fn member_at(addr: SocketAddr, acc: &KeyPair) -> Raw {
    let u = KeyPair::new_user();
    login_at(addr, &user_jwt_of(&u, acc), &u).await
}

/// A JWT login at `addr` that must succeed.
async fn login_at(addr: SocketAddr, jwt: &str, key: &KeyPair) -> Raw {
    let (c, first) = jwt_login_to(addr, jwt, Some(key), Value::Null).await;
    assert_eq!(first, "PONG", "login refused");
    c
}

/// Subscribes (one `SUB` line each) and requires no error.
async fn subscribe(r: &mut Raw, subs: &[&str]) {
    let text: String = subs.iter().map(|s| format!("SUB {s}\r\n")).collect();
    r.send(text).await;
    assert_eq!(sync(r).await, Vec::<String>::new(), "subscribing {subs:?}");
}

/// `r` publishes `payload` on `subject`, which its own subscription with
/// `sid` matches, and gets it back: its account works.
async fn exchanges(r: &mut Raw, subject: &str, sid: &str, payload: &str) {
    r.send(pub_cmd(subject, payload)).await;
    assert_eq!(
        frame(r).await,
        format!("MSG {subject} {sid} {payload}"),
        "a well-behaved client's own message"
    );
}

/// The server still takes new clients: `r` is a fresh connection; one PING.
async fn alive(mut r: Raw) {
    assert_eq!(sync(&mut r).await, Vec::<String>::new());
}

// ------------------------------------------------ 1. a second CONNECT --

const AB: &str = "accounts {\n  A: { users: [{user: a, password: apw}] }\n  B: { users: [{user: b, password: bpw}] }\n}\n";

#[tokio::test]
async fn second_connect_with_credentials_is_refused() {
    let h = start_conf(AB).await;
    let mut b = login(&h, "b").await;
    subscribe(&mut b, &["foo 1"]).await;

    // Another account's user, then the same user again: both refused (a
    // credential refresh is not supported).
    for (user, pass) in [("b", "bpw"), ("a", "apw")] {
        let mut x = login(&h, "a").await;
        subscribe(&mut x, &["foo 1"]).await;
        // A publish that reaches B's subscriber only if the connection had
        // moved to B.
        x.send(format!(
            "CONNECT {{\"verbose\":false,\"pedantic\":false,\"user\":\"{user}\",\"pass\":\"{pass}\"}}\r\n{}PING\r\n",
            pub_cmd("foo", "moved")
        ))
        .await;
        assert_eq!(
            line(&mut x).await.as_deref(),
            Some(AUTH_VIOLATION),
            "second CONNECT as {user:?}"
        );
        assert!(
            closed(&mut x).await,
            "not closed after a second CONNECT as {user:?}"
        );
        assert!(
            !x.lines()
                .iter()
                .any(|l| l == "PONG" || l.starts_with("MSG")),
            "second CONNECT as {user:?}: {:?}",
            x.lines()
        );
        // B got nothing of it, and its own traffic flows.
        b.send(pub_cmd("foo", "b-own")).await;
        assert_eq!(
            sentinel(&mut b, "foo").await,
            vec!["MSG foo 1 b-own".to_string()],
            "B after a second CONNECT as {user:?}"
        );
    }
    alive(login(&h, "a").await).await;
    alive(login(&h, "b").await).await;
}

#[tokio::test]
async fn second_connect_without_credentials_keeps_the_account() {
    let h = start_conf(AB).await;
    let mut x = login(&h, "a").await;
    subscribe(&mut x, &["foo 1"]).await;
    let mut a2 = login(&h, "a").await;
    subscribe(&mut a2, &["foo 1"]).await;
    let mut b = login(&h, "b").await;
    subscribe(&mut b, &["foo 1"]).await;

    x.send("CONNECT {\"verbose\":false,\"pedantic\":false,\"echo\":false}\r\n")
        .await;
    assert_eq!(
        sync(&mut x).await,
        Vec::<String>::new(),
        "a second CONNECT without credentials is accepted"
    );

    // Its publishes stay in A.
    x.send(pub_cmd("foo", "from-x")).await;
    assert_eq!(sync(&mut x).await, Vec::<String>::new());
    assert_eq!(
        sentinel(&mut a2, "foo").await,
        vec!["MSG foo 1 from-x".to_string()],
        "A's subscriber"
    );
    assert_eq!(
        sentinel(&mut b, "foo").await,
        Vec::<String>::new(),
        "B's subscriber"
    );
    // x got a2's sentinel (its own publish is not echoed).
    assert_eq!(
        Box::pin(before_sentinel(&mut x)).await,
        Vec::<String>::new()
    );

    // Its subscription stays in A: A's traffic arrives, B's does not. (With
    // echo off, the sentinel comes from a2, published after B's message was
    // routed.)
    b.send(pub_cmd("foo", "b-side")).await;
    assert_eq!(
        sync(&mut b).await,
        vec!["MSG foo 1 b-side".to_string()],
        "B's own message"
    );
    a2.send(pub_cmd("foo", "a-side")).await;
    a2.send(pub_cmd("foo", SENTINEL)).await;
    assert_eq!(
        Box::pin(before_sentinel(&mut x)).await,
        vec!["MSG foo 1 a-side".to_string()],
        "the re-CONNECTed connection's subscription"
    );
    assert_eq!(
        Box::pin(before_sentinel(&mut a2)).await,
        vec!["MSG foo 1 a-side".to_string()]
    );
    alive(login(&h, "b").await).await;
}

#[tokio::test]
async fn second_connect_with_another_accounts_jwt_is_refused() {
    let op = Op::new();
    let (xa, ya) = (KeyPair::new_account(), KeyPair::new_account());
    let h = op
        .start(&[
            &account_jwt(&xa, &op.key, |_| {}),
            &account_jwt(&ya, &op.key, |_| {}),
        ])
        .await;
    let mut y = member(&h, &ya).await;
    subscribe(&mut y, &["foo 1"]).await;

    let xu = KeyPair::new_user();
    let mut x = login_at(h.addr, &user_jwt_of(&xu, &xa), &xu).await;
    subscribe(&mut x, &["foo 1"]).await;
    // Y's user JWT with the nonce (the one of this connection) signed by
    // Y's user: valid credentials, for another account.
    let yu = KeyPair::new_user();
    let o = jwt_connect(&x, &user_jwt_of(&yu, &ya), Some(&yu), Value::Null);
    x.send(format!(
        "CONNECT {o}\r\n{}PING\r\n",
        pub_cmd("foo", "moved")
    ))
    .await;
    assert_eq!(line(&mut x).await.as_deref(), Some(AUTH_VIOLATION));
    assert!(closed(&mut x).await, "not closed after the second CONNECT");
    assert!(
        !x.lines()
            .iter()
            .any(|l| l == "PONG" || l.starts_with("MSG")),
        "{:?}",
        x.lines()
    );

    y.send(pub_cmd("foo", "y-own")).await;
    assert_eq!(
        sentinel(&mut y, "foo").await,
        vec!["MSG foo 1 y-own".to_string()],
        "Y's subscriber"
    );
    alive(member(&h, &xa).await).await;
}

// ---------------------------------- 2. queue-specific subscribe deny --

/// `v` is denied `foo.bar q`; `p` (same account) publishes. Queue
/// subscriptions in group `q` whose subject covers `foo.bar` are admitted
/// but never get `foo.bar`; plain ones and other groups do.
async fn queue_deny_holds(v: &mut Raw, p: &mut Raw) {
    // The exact denied subscription is refused outright.
    v.send("SUB foo.bar q 99\r\n").await;
    let got = sync(v).await;
    assert!(
        got.len() == 1
            && got[0].starts_with("-ERR 'Permissions Violation for Subscription to \"foo.bar\""),
        "{got:?}"
    );

    // (shape, a subject it matches other than foo.bar)
    let shapes = [
        ("foo.* q", "foo.baz"),
        ("foo.> q", "foo.baz"),
        ("> q", "foo.baz"),
        ("*.bar q", "baz.bar"),
    ];
    for (i, (shape, other)) in shapes.into_iter().enumerate() {
        let (sq, sp, so) = (i * 10 + 1, i * 10 + 2, i * 10 + 3);
        v.send(format!(
            "SUB {shape} {sq}\r\nSUB foo.* {sp}\r\nSUB foo.* other {so}\r\n"
        ))
        .await;
        assert_eq!(sync(v).await, Vec::<String>::new(), "{shape:?} admitted");

        p.send(format!(
            "{}{}",
            pub_cmd("foo.bar", "fb"),
            pub_cmd(other, "ok")
        ))
        .await;
        assert_eq!(sync(p).await, Vec::<String>::new());
        // The sentinel (every subscription matching `other` gets a copy),
        // then PING: everything routed to `v` is in before the PONG.
        v.send(pub_cmd(other, SENTINEL)).await;
        let mut got = sync(v).await;
        got.sort();
        let mut want = vec![
            format!("MSG foo.bar {sp} fb"),
            format!("MSG foo.bar {so} fb"),
            format!("MSG {other} {sq} ok"),
            format!("MSG {other} {sq} {SENTINEL}"),
        ];
        if other.starts_with("foo.") {
            for sid in [sp, so] {
                want.push(format!("MSG {other} {sid} ok"));
                want.push(format!("MSG {other} {sid} {SENTINEL}"));
            }
        }
        want.sort();
        assert!(
            !got.contains(&format!("MSG foo.bar {sq} fb")),
            "{shape:?} received foo.bar despite the deny: {got:?}"
        );
        assert_eq!(got, want, "{shape:?}");
        v.send(format!("UNSUB {sq}\r\nUNSUB {sp}\r\nUNSUB {so}\r\n"))
            .await;
        assert_eq!(sync(v).await, Vec::<String>::new());
    }
}

/// A client of another account: its queue subscription on `foo.bar` in
/// group `q` works.
async fn other_account_queue_unaffected(b: &mut Raw) {
    subscribe(b, &["foo.* q 1"]).await;
    exchanges(b, "foo.bar", "1", "b-own").await;
}

const QUEUE_DENY_USERS: &str = "accounts {
  A: { users: [
    {user: v, password: vpw, permissions: { subscribe: { deny: [\"foo.bar q\"] } } }
    {user: p, password: ppw}
  ] }
  B: { users: [{user: b, password: bpw}] }
}
";

#[tokio::test]
async fn queue_deny_entry_of_a_config_user() {
    let h = start_conf(QUEUE_DENY_USERS).await;
    let (mut v, mut p) = (login(&h, "v").await, login(&h, "p").await);
    queue_deny_holds(&mut v, &mut p).await;
    other_account_queue_unaffected(&mut login(&h, "b").await).await;
    alive(login(&h, "v").await).await;
}

#[tokio::test]
async fn queue_deny_entry_of_account_default_permissions() {
    let h = start_conf(
        "accounts {
  A: {
    default_permissions: { subscribe: { deny: [\"foo.bar q\"] } }
    users: [ {user: v, password: vpw}, {user: p, password: ppw} ]
  }
  B: { users: [{user: b, password: bpw}] }
}
",
    )
    .await;
    let (mut v, mut p) = (login(&h, "v").await, login(&h, "p").await);
    queue_deny_holds(&mut v, &mut p).await;
    other_account_queue_unaffected(&mut login(&h, "b").await).await;
    alive(login(&h, "p").await).await;
}

#[tokio::test]
async fn queue_deny_entry_of_a_jwt_user() {
    let op = Op::new();
    let (a, b) = (KeyPair::new_account(), KeyPair::new_account());
    let h = op
        .start(&[
            &account_jwt(&a, &op.key, |_| {}),
            &account_jwt(&b, &op.key, |_| {}),
        ])
        .await;
    let vu = KeyPair::new_user();
    let vj = user_jwt(&vu, &a, |c| {
        c.nats.permission_limits.permissions.subscribe.deny = vec!["foo.bar q".into()]
    });
    let mut v = login_at(h.addr, &vj, &vu).await;
    let mut p = member(&h, &a).await;
    queue_deny_holds(&mut v, &mut p).await;
    other_account_queue_unaffected(&mut member(&h, &b).await).await;
    alive(member(&h, &a).await).await;
}

// -------------------------------------------------- 3. self-import loops --

/// One request from `requester` on `svc` reaches `responder` exactly once,
/// and the requester gets exactly one reply.
async fn request_delivered_once(h: &ServerHandle, requester: &str, responder: &str) {
    let mut resp = login(h, responder).await;
    subscribe(&mut resp, &["svc 1"]).await;
    let mut req = login(h, requester).await;
    subscribe(&mut req, &["_INBOX.r 1"]).await;
    req.send(req_cmd("svc", "_INBOX.r", "ping")).await;
    assert_eq!(sync(&mut req).await, Vec::<String>::new());

    // Requests that reached the responder: before its sentinel, and any
    // straggler before its next PONG.
    let mut got = sentinel(&mut resp, "svc").await;
    got.extend(
        sync(&mut resp)
            .await
            .into_iter()
            .filter(|f| !is_sentinel(f)),
    );
    let requests: Vec<&String> = got
        .iter()
        .filter(|f| f.starts_with("MSG svc 1 ") && f.ends_with(" ping"))
        .collect();
    assert_eq!(
        requests.len(),
        1,
        "the request reached the responder {} times: {got:?}",
        requests.len()
    );
    for r in &requests {
        let reply = frame_reply(r).expect("a reply subject");
        resp.send(pub_cmd(&reply, "pong")).await;
    }
    assert_eq!(sync(&mut resp).await, Vec::<String>::new());
    let replies = sentinel(&mut req, "_INBOX.r").await;
    assert_eq!(replies, vec!["MSG _INBOX.r 1 pong".to_string()], "replies");
}

async fn bystander_and_alive(h: &ServerHandle) {
    let mut c = login(h, "c").await;
    subscribe(&mut c, &["t 1"]).await;
    exchanges(&mut c, "t", "1", "c-own").await;
    alive(login(h, "c").await).await;
}

/// The server refuses the config naming a cycle, or starts and delivers
/// requests exactly once.
async fn cycle_refused_or_once(conf: &str, requester: &str, responder: &str) {
    match try_start_conf(conf).await {
        Err(e) => assert!(
            e.to_lowercase().contains("cycle"),
            "refused, but not for a cycle: {e}"
        ),
        Ok(h) => {
            request_delivered_once(&h, requester, responder).await;
            bystander_and_alive(&h).await;
        }
    }
}

#[tokio::test]
async fn service_imported_from_itself_never_multiplies() {
    cycle_refused_or_once(
        "accounts {
  A: {
    users: [{user: a, password: apw}]
    exports: [{service: svc}]
    imports: [{service: {account: A, subject: svc}}]
  }
  C: { users: [{user: c, password: cpw}] }
}
",
        "a",
        "a",
    )
    .await;
}

#[tokio::test]
async fn service_import_chain_back_to_itself_never_multiplies() {
    cycle_refused_or_once(
        "accounts {
  A: {
    users: [{user: a, password: apw}]
    exports: [{service: svc}]
    imports: [{service: {account: B, subject: svc}}]
  }
  B: {
    users: [{user: b, password: bpw}]
    exports: [{service: svc}]
    imports: [{service: {account: A, subject: svc}}]
  }
  C: { users: [{user: c, password: cpw}] }
}
",
        "a",
        "b",
    )
    .await;
}

// ------------------------------------- 4. activations in operator mode --

/// Exporter A (`vip.>` stream and `svc.vip` service, both private; `news.>`
/// public), importer B with activations, bystander C importing `news.>`.
struct Activations {
    op: Op,
    a: KeyPair,
    b: KeyPair,
    c: KeyPair,
    jwts: Vec<String>,
}

fn a_exports() -> Vec<Export> {
    let export = |subject: &str, t: ExportType, token_req: bool| Export {
        subject: subject.into(),
        export_type: Some(t),
        token_req,
        ..Default::default()
    };
    vec![
        export("vip.>", ExportType::Stream, true),
        export("svc.vip", ExportType::Service, true),
        export("news.>", ExportType::Stream, false),
    ]
}

/// The accounts, B's activations expiring at `exp` (0: never).
fn activation_accounts(exp: i64) -> Activations {
    let op = Op::new();
    let (a, b, c) = (
        KeyPair::new_account(),
        KeyPair::new_account(),
        KeyPair::new_account(),
    );
    let a_jwt = account_jwt_at(&a, &op.key, jwt::now() - 60, |cl| {
        cl.nats.exports = a_exports()
    });
    let import = |subject: &str, t: ExportType, token: String| Import {
        subject: subject.into(),
        account: a.public_key(),
        import_type: Some(t),
        token,
        ..Default::default()
    };
    let token = |subject: &str, t: ExportType| {
        let mut act = ActivationClaims::new(b.public_key());
        act.nats.import_subject = subject.into();
        act.nats.import_type = Some(t);
        act.exp = exp;
        act.encode(&a).unwrap()
    };
    let b_jwt = account_jwt(&b, &op.key, |cl| {
        cl.nats.imports = vec![
            import(
                "vip.>",
                ExportType::Stream,
                token("vip.>", ExportType::Stream),
            ),
            import(
                "svc.vip",
                ExportType::Service,
                token("svc.vip", ExportType::Service),
            ),
        ]
    });
    let c_jwt = account_jwt(&c, &op.key, |cl| {
        cl.nats.imports = vec![import("news.>", ExportType::Stream, String::new())]
    });
    Activations {
        op,
        a,
        b,
        c,
        jwts: vec![a_jwt, b_jwt, c_jwt],
    }
}

/// The connections of an activation test.
struct Parties {
    /// A's publisher.
    a_pub: Raw,
    /// A's `svc.vip` responder (sid 1).
    a_resp: Raw,
    /// B: `vip.>` (sid 1) and `_INBOX.b.>` (sid 2).
    b: Raw,
    /// C: `news.>` (sid 1).
    c: Raw,
}

impl Activations {
    async fn start(&self) -> ServerHandle {
        let j: Vec<&str> = self.jwts.iter().map(String::as_str).collect();
        self.op.start(&j).await
    }

    async fn parties(&self, h: &ServerHandle) -> Parties {
        let a_pub = member(h, &self.a).await;
        let mut a_resp = member(h, &self.a).await;
        subscribe(&mut a_resp, &["svc.vip 1"]).await;
        let mut b = member(h, &self.b).await;
        subscribe(&mut b, &["vip.> 1", "_INBOX.b.> 2"]).await;
        let mut c = member(h, &self.c).await;
        subscribe(&mut c, &["news.> 1"]).await;
        Parties {
            a_pub,
            a_resp,
            b,
            c,
        }
    }
}

impl Parties {
    /// A publishes on `subject`; whether B's `vip.>` subscriber got it.
    async fn stream_flows(&mut self, subject: &str) -> bool {
        self.a_pub.send(pub_cmd(subject, "v")).await;
        assert_eq!(sync(&mut self.a_pub).await, Vec::<String>::new());
        let got = sentinel(&mut self.b, "vip.sentinel").await;
        let want = format!("MSG {subject} 1 v");
        assert!(got.iter().all(|f| *f == want), "B got {got:?}");
        !got.is_empty()
    }

    /// B requests `svc.vip`; whether A's responder got the request (it
    /// answers, and B must get that reply).
    async fn service_flows(&mut self, n: u32) -> bool {
        self.b
            .send(req_cmd(
                "svc.vip",
                &format!("_INBOX.b.{n}"),
                &format!("q{n}"),
            ))
            .await;
        assert_eq!(sync(&mut self.b).await, Vec::<String>::new());
        let got = sentinel(&mut self.a_resp, "svc.vip").await;
        match got.as_slice() {
            [] => false,
            [f] => {
                assert!(
                    f.starts_with("MSG svc.vip 1 ") && f.ends_with(&format!(" q{n}")),
                    "{f}"
                );
                let reply = frame_reply(f).expect("a reply subject");
                self.a_resp.send(pub_cmd(&reply, &format!("r{n}"))).await;
                assert_eq!(sync(&mut self.a_resp).await, Vec::<String>::new());
                assert_eq!(
                    sentinel(&mut self.b, "_INBOX.b.sentinel").await,
                    vec![format!("MSG _INBOX.b.{n} 2 r{n}")],
                    "B's reply"
                );
                true
            }
            _ => panic!("the request arrived more than once: {got:?}"),
        }
    }

    /// B is still connected; C still receives A's public stream.
    async fn others_unaffected(&mut self) {
        assert_eq!(sync(&mut self.b).await, Vec::<String>::new(), "B connected");
        self.a_pub.send(pub_cmd("news.today", "n")).await;
        assert_eq!(sync(&mut self.a_pub).await, Vec::<String>::new());
        assert_eq!(
            sentinel(&mut self.c, "news.sentinel").await,
            vec!["MSG news.today 1 n".to_string()],
            "C's public import"
        );
    }
}

#[tokio::test]
async fn expired_activation_stops_the_flow_without_reconnect() {
    let exp = jwt::now() + 3;
    let x = activation_accounts(exp);
    let h = x.start().await;
    let mut p = x.parties(&h).await;
    assert!(
        p.stream_flows("vip.before").await,
        "no flow before the activation expired"
    );
    assert!(p.service_flows(0).await, "no service before expiry");

    // Poll until both imports are cut, up to a few seconds after `exp` (a
    // token is expired once the clock passed `exp`).
    let deadline = Instant::now() + Duration::from_secs((exp - jwt::now()).max(0) as u64 + 4);
    let (mut stream_cut, mut service_cut) = (None, None);
    for i in 1u32.. {
        if stream_cut.is_none() && !p.stream_flows(&format!("vip.poll.{i}")).await {
            stream_cut = Some(jwt::now() - exp);
        }
        if service_cut.is_none() && !p.service_flows(i).await {
            service_cut = Some(jwt::now() - exp);
        }
        if (stream_cut.is_some() && service_cut.is_some()) || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let late = jwt::now() - exp;
    assert!(
        stream_cut.is_some(),
        "B still receives the private stream {late}s after its activation expired"
    );
    assert!(
        service_cut.is_some(),
        "B's service import still reaches A {late}s after its activation expired \
         (the stream was cut {stream_cut:?}s after)"
    );
    // Both stay cut.
    assert!(
        !p.stream_flows("vip.after").await,
        "the flow came back after the cut"
    );
    assert!(
        !p.service_flows(9999).await,
        "the service import came back after the cut"
    );
    p.others_unaffected().await;
    alive(member(&h, &x.b).await).await;
}

#[tokio::test]
async fn revoked_activation_stops_the_flow_at_once() {
    let x = activation_accounts(0);
    let h = x.start().await;
    let mut p = x.parties(&h).await;
    assert!(
        p.stream_flows("vip.before").await,
        "no flow before revocation"
    );
    assert!(p.service_flows(0).await, "no service before revocation");

    let b_key = x.b.public_key();
    let revoking = account_jwt(&x.a, &x.op.key, |cl| {
        let mut exports = a_exports();
        for e in exports.iter_mut().filter(|e| e.token_req) {
            e.revocations.revoke(&b_key, jwt::now());
        }
        cl.nats.exports = exports;
    });
    let reply = push_claims(&h, &x.op, &revoking).await;
    assert_eq!(reply["data"]["code"], 200, "{reply}");

    assert!(
        !p.stream_flows("vip.after").await,
        "B still receives the private stream after its activation was revoked"
    );
    assert!(
        !p.service_flows(1).await,
        "B's service import still reaches A after its activation was revoked"
    );
    p.others_unaffected().await;
    alive(member(&h, &x.a).await).await;
}

// ---------------------------------------- 5. reload in operator mode --

/// `user` may not publish to `secret.>`: refused, and `watcher` (same
/// account, `secret.>` sid 1, `open.>` sid 2) gets only the allowed publish.
async fn reload_check(user: &mut Raw, watcher: &mut Raw, when: &str) {
    user.send(format!(
        "{}{}",
        pub_cmd("secret.x", "leak"),
        pub_cmd("open.x", "fine")
    ))
    .await;
    assert_eq!(
        sync(user).await,
        vec![r#"-ERR 'Permissions Violation for Publish to "secret.x"'"#.to_string()],
        "{when}: the user's publish to secret.x"
    );
    assert_eq!(
        sentinel(watcher, "open.sentinel").await,
        vec!["MSG open.x 2 fine".to_string()],
        "{when}: the account's subscriber"
    );
}

#[tokio::test]
async fn reload_keeps_jwt_user_permissions() {
    let op = Op::new();
    let (acc, other) = (KeyPair::new_account(), KeyPair::new_account());
    let conf = op.config(
        "MEMORY",
        Some(&[
            &account_jwt_at(&acc, &op.key, jwt::now() - 60, |_| {}),
            &account_jwt_at(&other, &op.key, jwt::now() - 60, |_| {}),
        ]),
    );
    let srv = common::process::Server::start(&conf, &[]);
    let addr: SocketAddr = ([127, 0, 0, 1], srv.port).into();

    let u = KeyPair::new_user();
    let uj = user_jwt(&u, &acc, |c| {
        c.nats.permission_limits.permissions.publish.deny = vec!["secret.>".into()]
    });
    let mut user = login_at(addr, &uj, &u).await;
    let mut watcher = member_at(addr, &acc).await;
    subscribe(&mut watcher, &["secret.> 1", "open.> 2"]).await;
    let mut by = member_at(addr, &other).await;
    subscribe(&mut by, &["secret.> 1"]).await;

    reload_check(&mut user, &mut watcher, "before the reload").await;

    srv.write_conf(&format!("{conf}\nmax_payload: 524288\n"));
    let log = srv.reload();
    assert!(
        log.contains("Reloaded server configuration"),
        "reload failed:\n{log}"
    );

    reload_check(&mut user, &mut watcher, "after the reload").await;
    // Still connected, and the other account is unaffected.
    assert_eq!(sync(&mut user).await, Vec::<String>::new());
    exchanges(&mut by, "secret.b", "1", "b-own").await;
    alive(member_at(addr, &acc).await).await;
}

// ------------------------------------------ 6. claims applied in order --

/// A system connection with its reply subscription `_INBOX.claims.<k>.>`.
async fn sys_conn(h: &ServerHandle, op: &Op, k: usize) -> Raw {
    let mut c = login_at(h.addr, &op.sys_user_jwt, &op.sys_user).await;
    subscribe(&mut c, &[&format!("_INBOX.claims.{k}.> 1")]).await;
    c
}

/// Sends every `(index, account jwt)` as a claims update on `c` (pipelined)
/// and returns the replies by index.
async fn push_all(mut c: Raw, k: usize, items: Vec<(usize, String)>) -> (Raw, Vec<(usize, Value)>) {
    let mut out = String::new();
    for (i, j) in &items {
        let sub = jwt::decode_account(j).unwrap().sub;
        out.push_str(&req_cmd(
            &format!("$SYS.REQ.ACCOUNT.{sub}.CLAIMS.UPDATE"),
            &format!("_INBOX.claims.{k}.{i}"),
            j,
        ));
    }
    c.send(out).await;
    let prefix = format!("MSG _INBOX.claims.{k}.");
    let mut replies = Vec::new();
    while replies.len() < items.len() {
        let f = patient_frame(&mut c).await;
        let rest = f
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("not a claims reply: {f}"));
        let (i, body) = rest.split_once(" 1 ").expect("MSG <reply> 1 <json>");
        let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
        replies.push((i.parse().unwrap(), v));
    }
    (c, replies)
}

fn map_m_to(c: &mut AccountClaims, dest: &str) {
    c.nats.mappings.insert(
        "m".into(),
        vec![jwt::WeightedMapping {
            subject: dest.into(),
            ..Default::default()
        }],
    );
}

/// One of account A's claims: subject mapping `m` -> `v.<tag>`, stream
/// import of E's `feed.>` as `v.<tag>.>`, after the `tok.<j>` imports whose
/// activation `tokens` are given (they make the claims slow to apply).
fn tagged_claims(
    acc: &KeyPair,
    op: &Op,
    exporter: &str,
    iat: i64,
    tag: &str,
    tokens: &[String],
) -> String {
    account_jwt_at(acc, &op.key, iat, |c| {
        map_m_to(c, &format!("v.{tag}"));
        let import = |subject: String, local: String, token: &str| Import {
            subject,
            account: exporter.into(),
            import_type: Some(ExportType::Stream),
            local_subject: local,
            token: token.into(),
            ..Default::default()
        };
        c.nats.imports = tokens
            .iter()
            .enumerate()
            .map(|(j, t)| import(format!("tok.{j}"), String::new(), t))
            .collect();
        c.nats
            .imports
            .push(import("feed.>".into(), format!("v.{tag}.>"), ""));
    })
}

/// Account E: exports stream `feed.>` (public) and `tok.>` (private).
fn feed_exporter(op: &Op, e: &KeyPair) -> String {
    account_jwt_at(e, &op.key, jwt::now() - 5000, |c| {
        c.nats.exports = vec![
            Export {
                subject: "feed.>".into(),
                export_type: Some(ExportType::Stream),
                ..Default::default()
            },
            Export {
                subject: "tok.>".into(),
                export_type: Some(ExportType::Stream),
                token_req: true,
                ..Default::default()
            },
        ]
    })
}

/// `n` activations from `e` for `importer`'s `tok.<j>` imports. Checking
/// them is the slow part of applying claims that carry them.
fn tok_activations(e: &KeyPair, importer: &KeyPair, n: usize) -> Vec<String> {
    (0..n)
        .map(|j| {
            let mut act = ActivationClaims::new(importer.public_key());
            act.nats.import_subject = format!("tok.{j}");
            act.nats.import_type = Some(ExportType::Stream);
            act.encode(e).unwrap()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claim_updates_end_with_the_newest() {
    const N: usize = 12;
    const CONNS: usize = 4;
    const TOKENS: usize = 4;
    let op = Op::new();
    let (acc, e) = (KeyPair::new_account(), KeyPair::new_account());
    let e_jwt = feed_exporter(&op, &e);
    // Older claims carry `tok.<j>` imports and so take longer to apply than
    // the newest, which does not.
    let tokens = tok_activations(&e, &acc, TOKENS);
    let exporter = e.public_key();
    let first = tagged_claims(&acc, &op, &exporter, jwt::now() - 5000, "init", &[]);
    let h = op.start(&[&e_jwt, &first]).await;
    let by_acc = KeyPair::new_account();
    let mut user = member(&h, &acc).await;
    subscribe(&mut user, &["v.> 1", "tok.> 2"]).await;
    let mut feed = member(&h, &e).await;
    let mut conns = Vec::new();
    for k in 0..CONNS {
        conns.push(sys_conn(&h, &op, k).await);
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x07e1_1a27);
    let base = jwt::now() - 4000;
    for round in 0..4 {
        let jwts: Vec<String> = (0..N)
            .map(|i| {
                let heavy = if i == N - 1 { &[][..] } else { &tokens[..] };
                let iat = base + (round * 100 + i) as i64;
                tagged_claims(&acc, &op, &exporter, iat, &format!("{round}.{i}"), heavy)
            })
            .collect();
        let mut order: Vec<usize> = (0..N).collect();
        order.shuffle(&mut rng);
        let mut per_conn: Vec<Vec<(usize, String)>> = vec![Vec::new(); CONNS];
        for (n, i) in order.into_iter().enumerate() {
            per_conn[n % CONNS].push((i, jwts[i].clone()));
        }
        let tasks: Vec<_> = conns
            .drain(..)
            .zip(per_conn)
            .enumerate()
            .map(|(k, (c, items))| tokio::spawn(push_all(c, k, items)))
            .collect();
        let mut replies = Vec::new();
        for t in tasks {
            let (c, r) = tokio::time::timeout(Duration::from_secs(30), t)
                .await
                .expect("claims replies in time")
                .unwrap();
            conns.push(c);
            replies.extend(r);
        }
        assert_eq!(replies.len(), N);
        for (i, v) in &replies {
            assert!(
                v.get("data").is_some() || v.get("error").is_some(),
                "reply to update {i}: {v}"
            );
        }
        let newest = &replies.iter().find(|(i, _)| *i == N - 1).unwrap().1;
        assert_eq!(newest["data"]["code"], 200, "the newest update: {newest}");

        // Only the newest claims' mapping and import are in force; none of
        // the older claims' `tok.<j>` imports.
        let tag = format!("{round}.{}", N - 1);
        user.send(pub_cmd("m", "x")).await;
        let toks: String = (0..TOKENS)
            .map(|j| pub_cmd(&format!("tok.{j}"), "z"))
            .collect();
        feed.send(format!("{}{toks}", pub_cmd("feed.f", "y"))).await;
        assert_eq!(sync(&mut feed).await, Vec::<String>::new());
        let mut got = sentinel(&mut user, "v.sentinel").await;
        got.sort();
        assert_eq!(
            got,
            vec![format!("MSG v.{tag} 1 x"), format!("MSG v.{tag}.f 1 y")],
            "round {round}: the claims in force are not the newest"
        );
    }
    // A member of another (unknown) account is refused; the account's
    // users still log in.
    let u = KeyPair::new_user();
    refused(&h, &user_jwt_of(&u, &by_acc), &u).await;
    alive(member(&h, &acc).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_import_delivers_every_message_across_claim_updates() {
    const MSGS: usize = 2000;
    const MAX_UPDATES: usize = 400;
    let op = Op::new();
    let (e, a, by_acc) = (
        KeyPair::new_account(),
        KeyPair::new_account(),
        KeyPair::new_account(),
    );
    let e_jwt = feed_exporter(&op, &e);
    // Each update re-applies `tok.<j>` imports (slow to check) before the
    // feed's import, as `v.all.>`.
    let tokens = tok_activations(&e, &a, 4);
    let exporter = e.public_key();
    let a_claims = |iat: i64| tagged_claims(&a, &op, &exporter, iat, "all", &tokens);
    let base = jwt::now() - 4000;
    let h = op
        .start(&[
            &e_jwt,
            &a_claims(base - 1000),
            &account_jwt_at(&by_acc, &op.key, base, |_| {}),
        ])
        .await;
    // Every update newer than the last, each still with the import.
    let updates: Vec<(usize, String)> = (0..MAX_UPDATES)
        .map(|i| (i, a_claims(base + i as i64)))
        .collect();

    let mut sub = member(&h, &a).await;
    subscribe(&mut sub, &["v.all.> 1"]).await;
    let mut by = member(&h, &by_acc).await;
    subscribe(&mut by, &["feed.> 1"]).await;
    let mut publisher = member(&h, &e).await;
    let sys = sys_conn(&h, &op, 0).await;

    let done = Arc::new(AtomicBool::new(false));
    // The publisher starts once the first update is on its way.
    let (first_sent, first_sent_rx) = tokio::sync::oneshot::channel::<()>();
    let updater = {
        let done = done.clone();
        tokio::spawn(async move {
            let mut sys = sys;
            let mut first_sent = Some(first_sent);
            let mut applied = 0;
            for (i, j) in updates {
                if done.load(Ordering::Relaxed) {
                    break;
                }
                let sub = jwt::decode_account(&j).unwrap().sub;
                sys.send(req_cmd(
                    &format!("$SYS.REQ.ACCOUNT.{sub}.CLAIMS.UPDATE"),
                    &format!("_INBOX.claims.0.{i}"),
                    &j,
                ))
                .await;
                if let Some(tx) = first_sent.take() {
                    let _ = tx.send(());
                }
                let f = frame(&mut sys).await;
                let prefix = format!("MSG _INBOX.claims.0.{i} 1 ");
                let body = f
                    .strip_prefix(&prefix)
                    .unwrap_or_else(|| panic!("not the reply to update {i}: {f}"));
                let v: Value = serde_json::from_str(body).unwrap();
                assert_eq!(v["data"]["code"], 200, "update {i}: {v}");
                applied += 1;
            }
            applied
        })
    };
    let publishing = {
        let done = done.clone();
        tokio::spawn(async move {
            tokio::time::timeout(T, first_sent_rx)
                .await
                .expect("first update sent in time")
                .unwrap();
            for n in 0..MSGS {
                publisher
                    .send(pub_cmd(&format!("feed.{n}"), &n.to_string()))
                    .await;
                if n % 20 == 19 {
                    assert_eq!(sync(&mut publisher).await, Vec::<String>::new());
                }
                if n % 100 == 99 {
                    // Spread the messages over several updates.
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
            assert_eq!(sync(&mut publisher).await, Vec::<String>::new());
            done.store(true, Ordering::Relaxed);
            publisher
        })
    };
    let publisher = tokio::time::timeout(Duration::from_secs(60), publishing)
        .await
        .expect("publisher done in time")
        .unwrap();
    let applied = tokio::time::timeout(Duration::from_secs(30), updater)
        .await
        .expect("updater done in time")
        .unwrap();
    assert!(applied > 0, "no claims update was applied while publishing");
    drop(publisher);

    // Everything E published was routed before the sentinel (E's last PING
    // was answered).
    let got = sentinel(&mut sub, "v.all.sentinel").await;
    let mut seen = vec![0u32; MSGS];
    for f in &got {
        let n: usize = f
            .rsplit(' ')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected frame {f}"));
        assert_eq!(*f, format!("MSG v.all.{n} 1 {n}"));
        seen[n] += 1;
    }
    let missing: Vec<usize> = (0..MSGS).filter(|&n| seen[n] == 0).collect();
    let doubled: Vec<usize> = (0..MSGS).filter(|&n| seen[n] > 1).collect();
    assert!(
        missing.is_empty() && doubled.is_empty(),
        "{} of {MSGS} messages missing (first {:?}), {} doubled, across {applied} claims updates",
        missing.len(),
        &missing[..missing.len().min(10)],
        doubled.len()
    );
    // The bystander account never imported E's feed.
    assert_eq!(
        sentinel(&mut by, "feed.sentinel").await,
        Vec::<String>::new()
    );
    alive(member(&h, &a).await).await;
}

// ------------------------------------------------- 7. smaller defects --

/// `GET path` on the monitoring port, as JSON.
async fn monitor_json(h: &ServerHandle, path: &str) -> Value {
    let addr = h.monitor_addr.expect("monitoring on");
    let mut s = tokio::time::timeout(T, tokio::net::TcpStream::connect(addr))
        .await
        .expect("connect in time")
        .unwrap();
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(T, s.read_to_end(&mut buf))
        .await
        .expect("response in time")
        .unwrap();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut out = String::new();
        let mut rest = body;
        loop {
            let (size, after) = rest.split_once("\r\n").expect("chunk size");
            let n = usize::from_str_radix(size.trim(), 16).unwrap();
            if n == 0 {
                break;
            }
            out.push_str(&after[..n]);
            rest = &after[n + 2..];
        }
        out
    } else {
        body.to_owned()
    };
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// Whether `/subsz` lists a subscription on `x` with `sid`.
async fn subsz_has(h: &ServerHandle, sid: &str) -> bool {
    let v = monitor_json(h, "/subsz?subs=1&test=x&limit=100000").await;
    v["subscriptions_list"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|s| s["subject"] == "x" && s["sid"] == sid)
}

/// Publishes `count` messages on `x` from a new connection, syncing every
/// 100.
async fn spam(addr: SocketAddr, count: usize) {
    let mut p = Box::pin(Raw::connected_to(addr, "{}")).await;
    let batch = pub_cmd("x", "m").repeat(25);
    for n in (0..count).step_by(25) {
        p.send(&batch).await;
        if n % 100 == 75 {
            assert_eq!(sync(&mut p).await, Vec::<String>::new());
        }
    }
    assert_eq!(sync(&mut p).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsub_max_under_concurrent_publishing() {
    const PUBLISHERS: usize = 3;
    const EACH: usize = 3000;
    let h = start_conf("http: \"127.0.0.1:-1\"\n").await;
    for (round, k) in [1usize, 2, 3, 10, 100, 1000].into_iter().enumerate() {
        let sid = format!("{}", 100 + round);
        let mut s = Box::pin(Raw::connected(&h, "{}")).await;
        subscribe(&mut s, &[&format!("x {sid}"), "done 2"]).await;
        let msg = format!("MSG x {sid} m");
        let pubs: Vec<_> = (0..PUBLISHERS)
            .map(|_| tokio::spawn(spam(h.addr, EACH)))
            .collect();

        let mut total = 0;
        while total < 3 {
            let f = frame(&mut s).await;
            assert_eq!(f, msg);
            total += 1;
        }
        let max = total + k;
        s.send(format!("UNSUB {sid} {max}\r\nPING\r\n")).await;
        loop {
            let f = frame(&mut s).await;
            if f == "PONG" {
                break;
            }
            assert_eq!(f, msg);
            total += 1;
        }
        // Still there right after the UNSUB: the max applies (it was not
        // already reached), so exactly `max` messages must arrive in all.
        let kept = subsz_has(&h, &sid).await;

        for p in pubs {
            tokio::time::timeout(Duration::from_secs(30), p)
                .await
                .expect("publisher done in time")
                .unwrap();
        }
        let mut got = sentinel(&mut s, "done").await;
        if kept && total + got.len() < max {
            // Publishing ended before the max was reached: top it up.
            let more = max - total - got.len();
            let mut p = Box::pin(Raw::connected(&h, "{}")).await;
            p.send(pub_cmd("x", "m").repeat(more)).await;
            assert_eq!(sync(&mut p).await, Vec::<String>::new());
            got.extend(sentinel(&mut s, "done").await);
        }
        for f in &got {
            assert_eq!(*f, msg);
        }
        total += got.len();
        if kept {
            assert_eq!(
                total, max,
                "round {round}: UNSUB {sid} {max} admitted more or fewer messages"
            );
        } else {
            assert!(total >= 3);
        }
        // Gone from the server, and nothing more arrives.
        let deadline = Instant::now() + T;
        while subsz_has(&h, &sid).await {
            assert!(
                Instant::now() < deadline,
                "round {round}: subscription {sid} still listed after {total} of max {max} messages"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        s.send(pub_cmd("x", "late")).await;
        assert_eq!(
            sentinel(&mut s, "done").await,
            Vec::<String>::new(),
            "round {round}: delivery after the auto-unsubscribe"
        );
    }
    alive(Box::pin(Raw::connected(&h, "{}")).await).await;
}

#[tokio::test]
async fn trusted_keys_with_a_resolver_start_operator_mode() {
    let st = Setup::new();
    let conf = st.op.config("MEMORY", Some(&[&st.acc_jwt]));
    let operator_line = format!("operator: {}\n", st.op.jwt);
    assert!(conf.contains(&operator_line));
    let conf = conf.replacen(
        &operator_line,
        &format!("trusted_keys: [\"{}\"]\n", st.op.key.public_key()),
        1,
    );
    let rogue = KeyPair::new_account();
    let u = KeyPair::new_user();
    let rogue_jwt = user_jwt_of(&u, &rogue);

    // In-process, and as the server binary (whose start-up checks refuse
    // what this build does not support).
    let h = try_start_conf(&conf)
        .await
        .unwrap_or_else(|e| panic!("trusted_keys with a resolver refused: {e}"));
    let srv = common::process::Server::try_start(&conf, &[])
        .unwrap_or_else(|e| panic!("trusted_keys with a resolver refused by the binary: {e}"));
    for addr in [h.addr, ([127, 0, 0, 1], srv.port).into()] {
        let mut c = login_at(addr, &st.user_jwt, &st.user).await;
        subscribe(&mut c, &["t 1"]).await;
        exchanges(&mut c, "t", "1", "hi").await;
        // An account the trusted operator did not issue is refused.
        let (mut r, first) = jwt_login_to(addr, &rogue_jwt, Some(&u), Value::Null).await;
        assert_eq!(first, AUTH_VIOLATION);
        assert!(closed(&mut r).await, "not closed after the auth error");
        alive(login_at(addr, &st.user_jwt, &st.user).await).await;
    }
}

#[tokio::test]
async fn shutdown_does_not_wait_for_a_stuck_tls_handshake() {
    let h = start_conf(&common::tls_conf("  timeout: 10")).await;
    // A TLS client works.
    let nc = async_nats::ConnectOptions::new()
        .add_root_certificates(common::cert("ca.pem"))
        .require_tls(true)
        .connection_timeout(Duration::from_secs(3))
        .max_reconnects(Some(0))
        .connect(format!("tls://localhost:{}", h.addr.port()))
        .await
        .expect("TLS client connects");
    let mut s = nc.subscribe("t").await.unwrap();
    nc.publish("t", "hi".into()).await.unwrap();
    let m = tokio::time::timeout(T, futures::StreamExt::next(&mut s))
        .await
        .expect("message in time")
        .expect("subscription open");
    assert_eq!(&m.payload[..], b"hi");

    // A client that got INFO and never starts its handshake.
    let stuck = Box::pin(Raw::connect(&h)).await;
    assert_eq!(stuck.info["tls_required"], true);

    let shutdown = tokio::time::timeout(Duration::from_secs(6), h.shutdown()).await;
    assert!(
        shutdown.is_ok(),
        "shutdown still waiting after 6s (TLS timeout 10s)"
    );

    // The stuck client finishes its handshake after the shutdown: it is not
    // served.
    let connector = tokio_rustls::TlsConnector::from(common::client_config(
        &[&rustls::version::TLS13, &rustls::version::TLS12],
        None,
        "ca.pem",
    ));
    let late = tokio::time::timeout(T, async move {
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let mut tls = connector.connect(name, stuck.stream).await.ok()?;
        tls.write_all(b"CONNECT {\"verbose\":false}\r\nPING\r\n")
            .await
            .ok()?;
        let mut got = Vec::new();
        let mut chunk = vec![0u8; 4096];
        loop {
            let n = tls.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            got.extend_from_slice(&chunk[..n]);
            if got.windows(4).any(|w| w == b"PONG") {
                return Some(String::from_utf8_lossy(&got).into_owned());
            }
        }
    })
    .await;
    if let Ok(Some(text)) = late {
        panic!("a client served after shutdown: {text:?}");
    }
}

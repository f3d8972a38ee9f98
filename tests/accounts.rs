//! Config-file accounts end to end: subject-space isolation, stream and
//! service imports (renaming, reply routing, response types, the
//! `Nats-Request-Info` header), refused configurations, per-account limits
//! and the system account's events and requests.
//!
//! Every wait is bounded. "Nothing arrived" is proven with a sentinel: the
//! subscriber's own connection publishes a message the subscription matches
//! after everything else; whatever came before it is what leaked.

mod common;

use common::{start_conf, Raw};
use futures::StreamExt;
use rnats::node::ServerHandle;
use serde_json::Value;
use std::time::Duration;

const T: Duration = Duration::from_secs(5);
const SENTINEL: &str = "__sentinel__";

// ---------------------------------------------------------------- helpers --

/// `[{user: a, password: apw}, ...]`
fn users(names: &[&str]) -> String {
    let list: Vec<String> = names
        .iter()
        .map(|n| format!("{{user: {n}, password: {n}pw}}"))
        .collect();
    format!("[{}]", list.join(", "))
}

fn opts() -> async_nats::ConnectOptions {
    async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(2))
        .max_reconnects(Some(0))
}

/// Logs in as `who` (password `<who>pw`).
async fn login(h: &ServerHandle, who: &str) -> async_nats::Client {
    login_with(h, who, opts()).await
}

async fn login_with(
    h: &ServerHandle,
    who: &str,
    o: async_nats::ConnectOptions,
) -> async_nats::Client {
    let o = o.user_and_password(who.into(), format!("{who}pw"));
    tokio::time::timeout(T, o.connect(h.client_url()))
        .await
        .expect("connect in time")
        .unwrap_or_else(|e| panic!("login as {who}: {e}"))
}

// Raw's futures hold a 64 KiB read buffer, and a debug build gives every
// await of a test its own stack slot, so a test with many raw round trips
// overflows the test thread's stack. These keep each one on the heap.

async fn read_line(r: &mut Raw) -> Option<String> {
    Box::pin(r.line()).await
}

async fn sync(r: &mut Raw) -> Vec<String> {
    Box::pin(r.sync()).await
}

/// True if the server closes `r` within `T`.
async fn closed(r: &mut Raw) -> bool {
    Box::pin(r.closed_within(T)).await
}

async fn raw(h: &ServerHandle) -> Raw {
    Box::pin(Raw::connect(h)).await
}

async fn raw_connected(h: &ServerHandle, opts: &str) -> Raw {
    Box::pin(Raw::connected(h, opts)).await
}

/// A raw connection logged in as `who`, headers on.
async fn raw_login(h: &ServerHandle, who: &str) -> Raw {
    raw_connected(
        h,
        &format!(r#"{{"user":"{who}","pass":"{who}pw","headers":true}}"#),
    )
    .await
}

async fn sub(nc: &async_nats::Client, subject: &str) -> async_nats::Subscriber {
    let s = nc.subscribe(subject.to_owned()).await.unwrap();
    nc.flush().await.unwrap();
    s
}

async fn next(sub: &mut async_nats::Subscriber) -> async_nats::Message {
    tokio::time::timeout(T, sub.next())
        .await
        .expect("a message in time")
        .expect("subscription open")
}

/// `"<subject> <payload>"` of everything `sub` received before the sentinel
/// (which the caller has published on a subject `sub` matches).
async fn before_sentinel(sub: &mut async_nats::Subscriber) -> Vec<String> {
    let mut got = Vec::new();
    loop {
        let m = next(sub).await;
        if &m.payload[..] == SENTINEL.as_bytes() {
            return got;
        }
        got.push(format!(
            "{} {}",
            m.subject,
            String::from_utf8_lossy(&m.payload)
        ));
    }
}

/// Publishes the sentinel on `subject` from `nc` and waits until the server
/// has it.
async fn send_sentinel(nc: &async_nats::Client, subject: &str) {
    nc.publish(subject.to_owned(), SENTINEL.into())
        .await
        .unwrap();
    nc.flush().await.unwrap();
}

/// Publishes and waits until the server has routed the message.
async fn publish(nc: &async_nats::Client, subject: &str, payload: &str) {
    nc.publish(subject.to_owned(), payload.to_owned().into())
        .await
        .unwrap();
    nc.flush().await.unwrap();
}

async fn request(
    nc: &async_nats::Client,
    subject: &str,
    payload: &str,
) -> Result<async_nats::Message, async_nats::RequestError> {
    tokio::time::timeout(T, nc.request(subject.to_owned(), payload.to_owned().into()))
        .await
        .expect("request answered or refused in time")
}

fn assert_no_responders(r: Result<async_nats::Message, async_nats::RequestError>, what: &str) {
    match r {
        Err(e) => assert_eq!(
            e.kind(),
            async_nats::RequestErrorKind::NoResponders,
            "{what}: {e}"
        ),
        Ok(m) => panic!(
            "{what}: expected no responders, got {:?}",
            String::from_utf8_lossy(&m.payload)
        ),
    }
}

/// Answers every request on `subject` with `prefix` + the request payload.
async fn responder(nc: &async_nats::Client, subject: &str, prefix: &'static str) {
    let mut reqs = sub(nc, subject).await;
    let nc = nc.clone();
    tokio::spawn(async move {
        while let Some(m) = reqs.next().await {
            if let Some(r) = m.reply {
                let mut body = prefix.as_bytes().to_vec();
                body.extend_from_slice(&m.payload);
                let _ = nc.publish(r, body.into()).await;
                let _ = nc.flush().await;
            }
        }
    });
}

fn json(m: &async_nats::Message) -> Value {
    serde_json::from_slice(&m.payload)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&m.payload)))
}

fn num_responses(h: &ServerHandle, acc: &str) -> usize {
    h.server.accounts.get(acc).unwrap().num_responses()
}

/// The reply subject of a raw `MSG`/`HMSG` frame (`None` without one).
fn frame_reply(frame: &str) -> Option<String> {
    // "MSG subj sid reply payload" or "MSG subj sid payload"; the payloads
    // used with this have no spaces before their headers end.
    let parts: Vec<&str> = frame.splitn(5, ' ').collect();
    (parts.len() == 5).then(|| parts[3].to_owned())
}

// ------------------------------------------------------------- isolation --

#[tokio::test]
async fn same_subject_never_crosses_accounts() {
    let h = start_conf(&format!(
        "accounts {{\n  A: {{ users: {} }}\n  B: {{ users: {} }}\n}}\n",
        users(&["a", "a2"]),
        users(&["b"])
    ))
    .await;
    let a = login(&h, "a").await;
    let a2 = login(&h, "a2").await;
    let b = login(&h, "b").await;

    // In each account: a plain, a queue and a full-wildcard subscriber.
    let mut subs_a = [
        sub(&a, "orders.new").await,
        a.queue_subscribe("orders.new", "workers".into())
            .await
            .unwrap(),
        sub(&a, ">").await,
    ];
    let mut subs_b = [
        sub(&b, "orders.new").await,
        b.queue_subscribe("orders.new", "workers".into())
            .await
            .unwrap(),
        sub(&b, ">").await,
    ];
    a.flush().await.unwrap();
    b.flush().await.unwrap();
    // Another user of A shares A's subject space.
    let mut a2_sub = sub(&a2, "orders.*").await;

    publish(&a, "orders.new", "from-a").await;
    publish(&b, "orders.new", "from-b").await;

    send_sentinel(&a, "orders.new").await;
    send_sentinel(&b, "orders.new").await;
    send_sentinel(&a2, "orders.new").await;
    for (i, s) in subs_a.iter_mut().enumerate() {
        assert_eq!(
            before_sentinel(s).await,
            vec!["orders.new from-a"],
            "A subscriber #{i}"
        );
    }
    for (i, s) in subs_b.iter_mut().enumerate() {
        assert_eq!(
            before_sentinel(s).await,
            vec!["orders.new from-b"],
            "B subscriber #{i}"
        );
    }
    // a2 sees a's message and a's sentinel, never b's.
    assert_eq!(
        before_sentinel(&mut a2_sub).await,
        vec!["orders.new from-a"]
    );
    assert_eq!(before_sentinel(&mut a2_sub).await, Vec::<String>::new());
    h.shutdown().await;
}

#[tokio::test]
async fn no_auth_user_lands_in_its_account() {
    let h = start_conf(&format!(
        "no_auth_user: guest\naccounts {{\n  A: {{ users: {} }}\n  G: {{ users: {} }}\n}}\n",
        users(&["a"]),
        users(&["guest"])
    ))
    .await;
    let anon = tokio::time::timeout(T, opts().connect(h.client_url()))
        .await
        .unwrap()
        .unwrap();
    let g = login(&h, "guest").await;
    let a = login(&h, "a").await;
    let mut sg = sub(&g, "lobby").await;
    let mut sa = sub(&a, "lobby").await;
    publish(&anon, "lobby", "anon").await;
    send_sentinel(&g, "lobby").await;
    send_sentinel(&a, "lobby").await;
    assert_eq!(before_sentinel(&mut sg).await, vec!["lobby anon"]);
    assert_eq!(before_sentinel(&mut sa).await, Vec::<String>::new());
    // The anonymous connection counts against G, not the global account.
    assert_eq!(h.server.accounts.get("G").unwrap().conns(), 2);
    assert_eq!(h.server.accounts.get("A").unwrap().conns(), 1);
    // Credentials, when given, must still be right.
    let bad = opts()
        .user_and_password("a".into(), "wrong".into())
        .connect(h.client_url());
    assert!(!matches!(tokio::time::timeout(T, bad).await, Ok(Ok(_))));
    h.shutdown().await;
}

// ------------------------------------------------------- stream imports --

fn stream_conf(export: &str, import: &str) -> String {
    format!(
        "accounts {{\n  A: {{ users: {}, exports: [ {export} ] }}\n  B: {{ users: {}, imports: [ {import} ] }}\n  C: {{ users: {} }}\n}}\n",
        users(&["a"]),
        users(&["b"]),
        users(&["c"])
    )
}

#[tokio::test]
async fn stream_import_plain_does_not_flow_back() {
    let h = start_conf(&stream_conf(
        r#"{stream: "events.>"}"#,
        r#"{stream: {account: A, subject: "events.>"}}"#,
    ))
    .await;
    let a = login(&h, "a").await;
    let b = login(&h, "b").await;
    let c = login(&h, "c").await;
    let mut sa = sub(&a, "events.>").await;
    let mut sb = sub(&b, "events.>").await;
    let mut sc = sub(&c, ">").await;

    publish(&a, "events.x", "down").await;
    publish(&b, "events.y", "up").await;

    send_sentinel(&b, "events.s").await;
    assert_eq!(
        before_sentinel(&mut sb).await,
        vec!["events.x down", "events.y up"]
    );
    send_sentinel(&a, "events.s").await;
    // B's publish on the imported subject stays in B.
    assert_eq!(before_sentinel(&mut sa).await, vec!["events.x down"]);
    // An account without the import sees nothing.
    send_sentinel(&c, "c.s").await;
    assert_eq!(before_sentinel(&mut sc).await, Vec::<String>::new());
    h.shutdown().await;
}

#[tokio::test]
async fn stream_import_with_prefix() {
    let h = start_conf(&stream_conf(
        r#"{stream: "events.>"}"#,
        r#"{stream: {account: A, subject: "events.>"}, prefix: "from_a"}"#,
    ))
    .await;
    let a = login(&h, "a").await;
    let b = login(&h, "b").await;
    let mut prefixed = sub(&b, "from_a.>").await;
    let mut plain = sub(&b, "events.>").await;
    publish(&a, "events.user.created", "u1").await;
    send_sentinel(&b, "from_a.s").await;
    send_sentinel(&b, "events.s").await;
    assert_eq!(
        before_sentinel(&mut prefixed).await,
        vec!["from_a.events.user.created u1"]
    );
    // The un-prefixed subject in B is B's own.
    assert_eq!(before_sentinel(&mut plain).await, Vec::<String>::new());
    h.shutdown().await;
}

#[tokio::test]
async fn stream_import_with_literal_to() {
    let h = start_conf(&stream_conf(
        r#"{stream: "metrics.cpu"}"#,
        r#"{stream: {account: A, subject: "metrics.cpu"}, to: "imported.cpu"}"#,
    ))
    .await;
    let a = login(&h, "a").await;
    let b = login(&h, "b").await;
    let mut all = sub(&b, ">").await;
    publish(&a, "metrics.cpu", "42").await;
    send_sentinel(&b, "b.s").await;
    assert_eq!(before_sentinel(&mut all).await, vec!["imported.cpu 42"]);
    h.shutdown().await;
}

#[tokio::test]
async fn stream_import_with_wildcard_to_mapping() {
    let h = start_conf(&stream_conf(
        r#"{stream: "metrics.>"}"#,
        r#"{stream: {account: A, subject: "metrics.*"}, to: "m.$1.copy"}"#,
    ))
    .await;
    let a = login(&h, "a").await;
    let b = login(&h, "b").await;
    let mut all = sub(&b, ">").await;
    publish(&a, "metrics.mem", "1").await;
    publish(&a, "metrics.disk.sda", "2").await; // not matched by `metrics.*`
    publish(&a, "metrics.net", "3").await;
    send_sentinel(&b, "b.s").await;
    assert_eq!(
        before_sentinel(&mut all).await,
        vec!["m.mem.copy 1", "m.net.copy 3"]
    );
    h.shutdown().await;
}

#[tokio::test]
async fn stream_import_narrower_than_export() {
    let h = start_conf(&stream_conf(
        r#"{stream: "public.>"}"#,
        r#"{stream: {account: A, subject: "public.news.*"}}"#,
    ))
    .await;
    let a = login(&h, "a").await;
    let b = login(&h, "b").await;
    let mut all = sub(&b, ">").await;
    publish(&a, "internal.secret", "no").await;
    publish(&a, "public.other", "no").await;
    publish(&a, "public.news.today", "yes").await;
    publish(&a, "public.news.today.late", "no").await;
    send_sentinel(&b, "b.s").await;
    assert_eq!(
        before_sentinel(&mut all).await,
        vec!["public.news.today yes"]
    );
    h.shutdown().await;
}

#[tokio::test]
async fn stream_import_carries_headers_intact() {
    let h = start_conf(&stream_conf(
        r#"{stream: "events.>"}"#,
        r#"{stream: {account: A, subject: "events.>"}, prefix: "p"}"#,
    ))
    .await;
    let mut a = raw_login(&h, "a").await;
    let mut b = raw_login(&h, "b").await;
    b.send("SUB p.events.> 7\r\n").await;
    assert_eq!(sync(&mut b).await, Vec::<String>::new());
    let hdr = "NATS/1.0\r\nX-Trace: t1\r\nX-Multi: one\r\nX-Multi: two\r\n\r\n";
    let body = "payload";
    a.send(format!(
        "HPUB events.h {} {}\r\n{hdr}{body}\r\n",
        hdr.len(),
        hdr.len() + body.len()
    ))
    .await;
    assert_eq!(sync(&mut a).await, Vec::<String>::new());
    assert_eq!(
        sync(&mut b).await,
        vec![format!("HMSG p.events.h 7 {hdr}{body}")]
    );
    h.shutdown().await;
}

#[tokio::test]
async fn private_export_works_for_the_listed_account() {
    let h = start_conf(&format!(
        r#"accounts {{
  A: {{ users: {}, exports: [
        {{stream: "private.>", accounts: [B]}},
        {{service: "private.svc", accounts: [B]}} ] }}
  B: {{ users: {}, imports: [
        {{stream: {{account: A, subject: "private.>"}}, prefix: "a"}},
        {{service: {{account: A, subject: "private.svc"}}}} ] }}
  C: {{ users: {} }}
}}
"#,
        users(&["a"]),
        users(&["b"]),
        users(&["c"])
    ))
    .await;
    let a = login(&h, "a").await;
    let b = login(&h, "b").await;
    let c = login(&h, "c").await;
    responder(&a, "private.svc", "ok:").await;
    let r = request(&b, "private.svc", "q").await.unwrap();
    assert_eq!(&r.payload[..], b"ok:q");
    assert_no_responders(request(&c, "private.svc", "q").await, "C has no import");
    let mut sb = sub(&b, "a.private.>").await;
    let mut sc = sub(&c, ">").await;
    publish(&a, "private.data", "d").await;
    send_sentinel(&b, "a.private.s").await;
    assert_eq!(before_sentinel(&mut sb).await, vec!["a.private.data d"]);
    send_sentinel(&c, "c.s").await;
    assert_eq!(before_sentinel(&mut sc).await, Vec::<String>::new());
    h.shutdown().await;
}

// ------------------------------------------------------ service imports --

fn service_conf() -> String {
    format!(
        r#"accounts {{
  A: {{ users: {}, exports: [
        {{service: "svc.echo"}},
        {{service: "svc.time"}},
        {{service: "svc.*.req"}},
        {{service: "svc.single"}},
        {{service: "svc.stream", response_type: stream, threshold: "1s"}},
     ] }}
  B: {{ users: {}, imports: [
        {{service: {{account: A, subject: "svc.echo"}}}},
        {{service: {{account: A, subject: "svc.time"}}, to: "time.now"}},
        {{service: {{account: A, subject: "svc.*.req"}}, to: "local.*.svc"}},
        {{service: {{account: A, subject: "svc.single"}}}},
        {{service: {{account: A, subject: "svc.stream"}}}},
     ] }}
  C: {{ users: {} }}
}}
"#,
        users(&["a"]),
        users(&["b"]),
        users(&["c"])
    )
}

#[tokio::test]
async fn service_import_reply_is_rewritten_and_request_info_stamped() {
    let h = start_conf(&service_conf()).await;
    let a = login(&h, "a").await;
    let b = login(&h, "b").await;
    let mut reqs = sub(&a, "svc.echo").await;
    let answer = {
        let a = a.clone();
        tokio::spawn(async move {
            let m = next(&mut reqs).await;
            let mut body = b"echo:".to_vec();
            body.extend_from_slice(&m.payload);
            a.publish(m.reply.clone().unwrap(), body.into())
                .await
                .unwrap();
            a.flush().await.unwrap();
            m
        })
    };
    let r = request(&b, "svc.echo", "ping").await.unwrap();
    assert_eq!(&r.payload[..], b"echo:ping");
    let seen = tokio::time::timeout(T, answer).await.unwrap().unwrap();
    assert_eq!(seen.subject.as_str(), "svc.echo");
    let reply = seen.reply.unwrap().to_string();
    let tokens: Vec<&str> = reply.split('.').collect();
    assert!(
        tokens.len() == 3 && tokens[0] == "_R_" && !reply.contains("INBOX"),
        "responder must see a _R_ reply, not the requester's inbox: {reply}"
    );
    let headers = seen.headers.expect("request info header stamped");
    let info = headers
        .get("Nats-Request-Info")
        .expect("Nats-Request-Info")
        .as_str();
    let info: Value = serde_json::from_str(info).unwrap();
    assert_eq!(info["acc"], "B", "{info}");
    assert!(info["rtt"].is_u64(), "{info}");
    // A singleton mapping is used up by its response.
    assert_eq!(num_responses(&h, "A"), 0);
    // Each request gets its own reply subject.
    let mut reqs = sub(&a, "svc.time").await;
    let answer = {
        let a = a.clone();
        tokio::spawn(async move {
            let mut replies = Vec::new();
            for _ in 0..2 {
                let m = next(&mut reqs).await;
                let r = m.reply.unwrap();
                replies.push(r.to_string());
                a.publish(r, "t".into()).await.unwrap();
                a.flush().await.unwrap();
            }
            replies
        })
    };
    request(&b, "time.now", "").await.unwrap();
    request(&b, "time.now", "").await.unwrap();
    let replies = tokio::time::timeout(T, answer).await.unwrap().unwrap();
    assert_ne!(replies[0], replies[1]);
    h.shutdown().await;
}

#[tokio::test]
async fn service_import_to_remaps_the_local_subject() {
    let h = start_conf(&service_conf()).await;
    let a = login(&h, "a").await;
    let b = login(&h, "b").await;
    responder(&a, "svc.time", "time:").await;
    let mut wild = sub(&a, "svc.*.req").await;
    let a2 = a.clone();
    tokio::spawn(async move {
        while let Some(m) = wild.next().await {
            if let Some(r) = m.reply {
                let _ = a2.publish(r, format!("got {}", m.subject).into()).await;
                let _ = a2.flush().await;
            }
        }
    });
    let r = request(&b, "time.now", "x").await.unwrap();
    assert_eq!(&r.payload[..], b"time:x");
    // The exporter's subject means nothing in B.
    assert_no_responders(request(&b, "svc.time", "").await, "svc.time in B");
    // Wildcard remap: local.<x>.svc in B is svc.<x>.req in A.
    let r = request(&b, "local.eu1.svc", "").await.unwrap();
    assert_eq!(&r.payload[..], b"got svc.eu1.req");
    let r = request(&b, "local.us2.svc", "").await.unwrap();
    assert_eq!(&r.payload[..], b"got svc.us2.req");
    assert_no_responders(request(&b, "svc.eu1.req", "").await, "svc.*.req in B");
    assert_no_responders(request(&b, "local.eu1.x.svc", "").await, "too many tokens");
    h.shutdown().await;
}

#[tokio::test]
async fn forged_request_info_header_is_replaced() {
    let h = start_conf(&service_conf()).await;
    let mut a = raw_login(&h, "a").await;
    let mut b = raw_login(&h, "b").await;
    a.send("SUB svc.echo 1\r\n").await;
    assert_eq!(sync(&mut a).await, Vec::<String>::new());
    b.send("SUB _INBOX.me 9\r\n").await;
    let hdr = "NATS/1.0\r\nX-Keep: yes\r\nnats-request-info: {\"acc\":\"EVIL\",\"rtt\":1}\r\nNATS-REQUEST-INFO: {\"acc\":\"EVIL2\"}\r\nNats-Request-Info: {\"acc\":\"EVIL3\"}\r\n\r\n";
    let body = "body";
    b.send(format!(
        "HPUB svc.echo _INBOX.me {} {}\r\n{hdr}{body}\r\n",
        hdr.len(),
        hdr.len() + body.len()
    ))
    .await;
    assert_eq!(sync(&mut b).await, Vec::<String>::new());
    let frames = sync(&mut a).await;
    assert_eq!(frames.len(), 1, "{frames:?}");
    let f = &frames[0];
    assert!(f.starts_with("HMSG svc.echo 1 _R_."), "{f}");
    assert!(!f.contains("EVIL"), "forged header passed: {f}");
    assert!(f.contains("X-Keep: yes\r\n"), "other headers kept: {f}");
    assert_eq!(
        f.to_ascii_lowercase().matches("nats-request-info").count(),
        1,
        "{f}"
    );
    let line = f
        .split("\r\n")
        .find(|l| l.starts_with("Nats-Request-Info: "))
        .unwrap_or_else(|| panic!("no Nats-Request-Info: {f}"));
    let info: Value = serde_json::from_str(&line["Nats-Request-Info: ".len()..]).unwrap();
    assert_eq!(info["acc"], "B");
    assert!(f.ends_with("\r\n\r\nbody"), "{f}");
    // The answer goes back to the requester's own inbox.
    let reply = frame_reply(f).unwrap();
    a.send(format!("PUB {reply} 4\r\ndone\r\n")).await;
    assert_eq!(sync(&mut a).await, Vec::<String>::new());
    assert_eq!(sync(&mut b).await, vec!["MSG _INBOX.me 9 done"]);
    h.shutdown().await;
}

/// Sends one request from raw `b` on `subject` to raw `a` (subscribed as
/// sid 1), and has `a` answer it `n` times; returns the `_R_` reply subject
/// and what `b` received.
async fn answer_n_times(
    a: &mut Raw,
    b: &mut Raw,
    subject: &str,
    n: usize,
) -> (String, Vec<String>) {
    a.send(format!("SUB {subject} 1\r\n")).await;
    assert_eq!(sync(a).await, Vec::<String>::new());
    b.send(format!(
        "SUB _INBOX.r 5\r\nPUB {subject} _INBOX.r 2\r\ngo\r\n"
    ))
    .await;
    assert_eq!(sync(b).await, Vec::<String>::new());
    let frames = sync(a).await;
    assert_eq!(frames.len(), 1, "{frames:?}");
    let reply = frame_reply(&frames[0]).unwrap();
    assert!(reply.starts_with("_R_."), "{reply}");
    for i in 0..n {
        a.send(format!("PUB {reply} 2\r\nr{i}\r\n")).await;
    }
    assert_eq!(sync(a).await, Vec::<String>::new());
    (reply, sync(b).await)
}

#[tokio::test]
async fn singleton_response_delivers_only_the_first() {
    let h = start_conf(&service_conf()).await;
    let mut a = raw_login(&h, "a").await;
    let mut b = raw_login(&h, "b").await;
    let (_, got) = answer_n_times(&mut a, &mut b, "svc.single", 3).await;
    assert_eq!(got, vec!["MSG _INBOX.r 5 r0"]);
    assert_eq!(num_responses(&h, "A"), 0);
    h.shutdown().await;
}

#[tokio::test]
async fn stream_response_delivers_all_until_threshold() {
    let h = start_conf(&service_conf()).await;
    let mut a = raw_login(&h, "a").await;
    let mut b = raw_login(&h, "b").await;
    let (reply, got) = answer_n_times(&mut a, &mut b, "svc.stream", 3).await;
    assert_eq!(
        got,
        vec![
            "MSG _INBOX.r 5 r0",
            "MSG _INBOX.r 5 r1",
            "MSG _INBOX.r 5 r2"
        ]
    );
    assert_eq!(num_responses(&h, "A"), 1);
    // Dropped once `threshold` (1s) passes without a response.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while num_responses(&h, "A") != 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "stream response mapping still there after 5s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A late response no longer reaches the requester.
    a.send(format!("PUB {reply} 4\r\nlate\r\n")).await;
    assert_eq!(sync(&mut a).await, Vec::<String>::new());
    assert_eq!(sync(&mut b).await, Vec::<String>::new());
    h.shutdown().await;
}

#[tokio::test]
async fn request_without_responder_gets_no_responders_and_leaves_no_mapping() {
    let h = start_conf(&service_conf()).await;
    let b = login(&h, "b").await;
    for subject in ["svc.echo", "svc.stream", "time.now", "local.x.svc"] {
        assert_no_responders(request(&b, subject, "").await, subject);
        assert_eq!(num_responses(&h, "A"), 0, "{subject}");
    }
    h.shutdown().await;
}

#[tokio::test]
async fn account_without_the_import_gets_no_responders() {
    let h = start_conf(&service_conf()).await;
    let a = login(&h, "a").await;
    let b = login(&h, "b").await;
    let c = login(&h, "c").await;
    responder(&a, "svc.echo", "").await;
    responder(&a, "svc.time", "").await;
    // The responder is reachable through the import...
    assert!(request(&b, "svc.echo", "x").await.is_ok());
    // ...but not from C, under either name.
    assert_no_responders(request(&c, "svc.echo", "").await, "C svc.echo");
    assert_no_responders(request(&c, "time.now", "").await, "C time.now");
    assert_eq!(num_responses(&h, "A"), 0);
    h.shutdown().await;
}

// --------------------------------------------------------- config errors --

/// Starts a server from `conf` written as a file; it must be refused.
/// Returns the error text and the file's path.
async fn refused(conf: &str) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("accounts.conf");
    std::fs::write(&path, conf).unwrap();
    let err = match rnats::config::Options::from_file(&path) {
        Err(e) => e.to_string(),
        Ok(mut opts) => {
            opts.host = "127.0.0.1".into();
            opts.port = -1;
            match rnats::node::start(opts).await {
                Err(e) => e.to_string(),
                Ok(h) => {
                    h.shutdown().await;
                    panic!("config accepted:\n{conf}");
                }
            }
        }
    };
    (err, path.display().to_string())
}

/// 1-based number of the line of `conf` containing `needle`.
fn line_of(conf: &str, needle: &str) -> usize {
    conf.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} not in conf"))
        + 1
}

async fn assert_refused(conf: &str, message: &str, line_needle: &str) {
    let (err, path) = refused(conf).await;
    assert!(err.contains(message), "expected {message:?} in: {err}");
    let at = format!("{path}:{}:", line_of(conf, line_needle));
    assert!(err.contains(&at), "expected position {at:?} in: {err}");
}

#[tokio::test]
async fn import_not_authorized_is_refused() {
    for kind in ["stream", "service"] {
        // Private export, importer not listed.
        let conf = format!(
            "accounts {{\n  A: {{ exports: [ {{{kind}: \"private.x\", accounts: [B]}} ] }}\n  B: {{}}\n  C: {{ imports: [\n    {{{kind}: {{account: A, subject: \"private.x\"}}}}\n  ] }}\n}}\n"
        );
        assert_refused(
            &conf,
            &format!("Error adding {kind} import \"private.x\": {kind} import not authorized"),
            "account: A, subject: \"private.x\"",
        )
        .await;
        // Subject not exported at all.
        let conf = format!(
            "accounts {{\n  A: {{ exports: [ {{{kind}: \"shared.x\"}} ] }}\n  B: {{ imports: [\n    {{{kind}: {{account: A, subject: \"secret.x\"}}}}\n  ] }}\n}}\n"
        );
        assert_refused(
            &conf,
            &format!("Error adding {kind} import \"secret.x\": {kind} import not authorized"),
            "secret.x",
        )
        .await;
    }
    // Import wider than the export.
    let conf = "accounts {\n  A: { exports: [ {stream: \"feed.public.>\"} ] }\n  B: { imports: [\n    {stream: {account: A, subject: \"feed.>\"}}\n  ] }\n}\n";
    assert_refused(
        conf,
        "Error adding stream import \"feed.>\": stream import not authorized",
        "subject: \"feed.>\"",
    )
    .await;
}

#[tokio::test]
async fn import_from_undefined_account_is_refused() {
    let conf =
        "accounts {\n  B: { imports: [\n    {stream: {account: NOPE, subject: \"x\"}}\n  ] }\n}\n";
    assert_refused(
        conf,
        "\"NOPE\" account not defined for stream import",
        "NOPE",
    )
    .await;
    let conf =
        "accounts {\n  B: { imports: [\n    {service: {account: NOPE, subject: \"x\"}}\n  ] }\n}\n";
    assert_refused(
        conf,
        "\"NOPE\" account not defined for service import",
        "NOPE",
    )
    .await;
}

#[tokio::test]
async fn service_import_cycle_is_refused() {
    let conf = "accounts {\n  A: {\n    exports: [ {service: \"q\"} ]\n    imports: [ {service: {account: B, subject: q}} ]\n  }\n  B: {\n    exports: [ {service: \"q\"} ]\n    imports: [ {service: {account: A, subject: q}} ]\n  }\n}\n";
    assert_refused(conf, "import forms a cycle", "account: A, subject: q").await;
}

#[tokio::test]
async fn reserved_account_name_is_refused() {
    let conf = "accounts {\n  A: {}\n  \"$G\": {}\n}\n";
    assert_refused(conf, "\"$G\" is a Reserved Account", "$G").await;
}

#[tokio::test]
async fn unknown_limits_field_is_refused() {
    let conf = "accounts {\n  A: {\n    limits: {\n      max_connections: 2\n      max_bogus: 1\n    }\n  }\n}\n";
    assert_refused(
        conf,
        "Unknown field \"max_bogus\" parsing account limits",
        "max_bogus",
    )
    .await;
}

#[tokio::test]
async fn stream_import_cycle_is_refused() {
    let conf = "accounts {\n  A: { exports: [ {stream: \"x\"} ], imports: [ {stream: {account: B, subject: x}} ] }\n  B: { exports: [ {stream: \"x\"} ], imports: [ {stream: {account: A, subject: x}} ] }\n}\n";
    let (err, path) = refused(conf).await;
    assert!(
        err.contains("Error adding stream import \"x\": import forms a cycle"),
        "{err}"
    );
    assert!(err.contains(&path), "{err}");
}

#[tokio::test]
async fn duplicate_stream_import_is_refused() {
    let conf = "accounts {\n  A: { exports: [ {stream: \"x\"} ] }\n  B: { imports: [\n    {stream: {account: A, subject: x}}\n    {stream: {account: A, subject: x}}\n  ] }\n}\n";
    let (err, path) = refused(conf).await;
    assert!(
        err.contains("Error adding stream import \"x\": stream import already exists"),
        "{err}"
    );
    assert!(err.contains(&path), "{err}");
}

#[tokio::test]
async fn duplicate_service_import_is_refused() {
    let conf = "accounts {\n  A: { exports: [ {service: \"s\"} ] }\n  B: { imports: [\n    {service: {account: A, subject: s}}\n    {service: {account: A, subject: s}}\n  ] }\n}\n";
    let (err, path) = refused(conf).await;
    assert!(
        err.contains(
            "Duplicate service import subject \"s\", previously used in import for account \"A\", subject \"s\""
        ),
        "{err}"
    );
    assert!(err.contains(&path), "{err}");
}

// ---------------------------------------------------------------- limits --

async fn raw_connect_cmd(h: &ServerHandle, who: &str) -> Raw {
    let mut r = raw(h).await;
    r.send(format!(
        "CONNECT {{\"user\":\"{who}\",\"pass\":\"{who}pw\",\"verbose\":false}}\r\nPING\r\n"
    ))
    .await;
    r
}

#[tokio::test]
async fn account_max_connections() {
    let h = start_conf(&format!(
        "accounts {{\n  A: {{ users: {}, limits: {{max_connections: 2}} }}\n  B: {{ users: {} }}\n}}\n",
        users(&["a"]),
        users(&["b"])
    ))
    .await;
    let mut first = raw_connect_cmd(&h, "a").await;
    assert_eq!(read_line(&mut first).await.as_deref(), Some("PONG"));
    let mut second = raw_connect_cmd(&h, "a").await;
    assert_eq!(read_line(&mut second).await.as_deref(), Some("PONG"));
    let mut third = raw_connect_cmd(&h, "a").await;
    assert_eq!(
        read_line(&mut third).await.as_deref(),
        Some("-ERR 'maximum account active connections exceeded'")
    );
    assert!(closed(&mut third).await, "third connection not closed");
    // Another account is not affected (all three stay open together).
    let mut bs = Vec::new();
    for _ in 0..3 {
        let mut b = raw_connect_cmd(&h, "b").await;
        assert_eq!(read_line(&mut b).await.as_deref(), Some("PONG"));
        bs.push(b);
    }
    // The survivors still work.
    second.send("SUB s 1\r\nPUB s 1\r\nx\r\n").await;
    assert_eq!(sync(&mut second).await, vec!["MSG s 1 x"]);
    // A slot frees up when a connection goes away.
    drop(first);
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let mut again = raw_connect_cmd(&h, "a").await;
        match read_line(&mut again).await.as_deref() {
            Some("PONG") => break,
            other => {
                assert_eq!(
                    other,
                    Some("-ERR 'maximum account active connections exceeded'")
                );
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "connection slot was not released"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    assert_eq!(h.server.accounts.get("A").unwrap().conns(), 2);
    h.shutdown().await;
}

#[tokio::test]
async fn account_max_subscriptions_per_connection() {
    let h = start_conf(&format!(
        "accounts {{ A: {{ users: {}, limits: {{max_subscriptions: 2}} }} }}\n",
        users(&["a"])
    ))
    .await;
    let mut c = raw_login(&h, "a").await;
    c.send("SUB one 1\r\nSUB two 2\r\nSUB three 3\r\n").await;
    assert_eq!(
        sync(&mut c).await,
        vec!["-ERR 'maximum subscriptions exceeded'"]
    );
    // The connection survives; its first two subscriptions work, the third
    // does not exist.
    c.send("PUB two 2\r\nhi\r\nPUB three 2\r\nno\r\nPUB one 2\r\nok\r\n")
        .await;
    assert_eq!(sync(&mut c).await, vec!["MSG two 2 hi", "MSG one 1 ok"]);
    // Unsubscribing frees a slot.
    c.send("UNSUB 1\r\nSUB three 3\r\nPUB three 2\r\nyo\r\n")
        .await;
    assert_eq!(sync(&mut c).await, vec!["MSG three 3 yo"]);
    // The limit is per connection: another one has its own two.
    let mut d = raw_login(&h, "a").await;
    d.send("SUB x 1\r\nSUB y 2\r\n").await;
    assert_eq!(sync(&mut d).await, Vec::<String>::new());
    d.send("SUB z 3\r\n").await;
    assert_eq!(
        sync(&mut d).await,
        vec!["-ERR 'maximum subscriptions exceeded'"]
    );
    h.shutdown().await;
}

#[tokio::test]
async fn account_max_payload() {
    let h = start_conf(&format!(
        "accounts {{\n  A: {{ users: {}, limits: {{max_payload: 100}} }}\n  B: {{ users: {} }}\n}}\n",
        users(&["a"]),
        users(&["b"])
    ))
    .await;
    let mut c = raw(&h).await;
    let server_max = c.info["max_payload"].as_i64().unwrap();
    assert!(server_max > 100, "{}", c.info);
    c.send(
        "CONNECT {\"user\":\"a\",\"pass\":\"apw\",\"verbose\":false,\"protocol\":1}\r\nPING\r\n",
    )
    .await;
    assert_eq!(read_line(&mut c).await.as_deref(), Some("PONG"));
    let line = read_line(&mut c).await.expect("INFO after CONNECT");
    assert!(line.starts_with("INFO "), "{line}");
    let info: Value = serde_json::from_str(&line[5..]).unwrap();
    assert_eq!(info["max_payload"], 100, "{info}");
    c.send(format!("SUB p 1\r\nPUB p 100\r\n{}\r\n", "x".repeat(100)))
        .await;
    assert_eq!(
        sync(&mut c).await,
        vec![format!("MSG p 1 {}", "x".repeat(100))]
    );
    c.send(format!("PUB p 101\r\n{}\r\n", "x".repeat(101)))
        .await;
    assert!(closed(&mut c).await, "connection not closed");
    assert!(
        c.lines()
            .iter()
            .any(|l| l == "-ERR 'Maximum Payload Violation'"),
        "{:?}",
        c.lines()
    );
    // B keeps the server's limit.
    let mut b = raw(&h).await;
    b.send(
        "CONNECT {\"user\":\"b\",\"pass\":\"bpw\",\"verbose\":false,\"protocol\":1}\r\nPING\r\n",
    )
    .await;
    assert_eq!(read_line(&mut b).await.as_deref(), Some("PONG"));
    let line = read_line(&mut b).await.expect("INFO after CONNECT");
    let info: Value = serde_json::from_str(&line[5..]).unwrap();
    assert_eq!(info["max_payload"].as_i64(), Some(server_max), "{info}");
    b.send(format!("SUB p 1\r\nPUB p 101\r\n{}\r\n", "x".repeat(101)))
        .await;
    assert_eq!(
        sync(&mut b).await,
        vec![format!("MSG p 1 {}", "x".repeat(101))]
    );
    h.shutdown().await;
}

// ------------------------------------------------------- system account --

fn sys_conf() -> String {
    format!(
        "system_account: SYS\naccounts {{\n  SYS: {{ users: {} }}\n  A: {{ users: {} }}\n}}\n",
        users(&["admin"]),
        users(&["a", "a2"])
    )
}

#[tokio::test]
async fn connect_event() {
    let h = start_conf(&sys_conf()).await;
    let admin = login(&h, "admin").await;
    let mut events = sub(&admin, "$SYS.ACCOUNT.*.CONNECT").await;
    let _a = raw_connected(
        &h,
        r#"{"user":"a","pass":"apw","name":"conn-probe","lang":"probe-lang","version":"9.9.9"}"#,
    )
    .await;
    let m = next(&mut events).await;
    assert_eq!(m.subject.as_str(), "$SYS.ACCOUNT.A.CONNECT");
    let e = json(&m);
    assert_eq!(
        e["type"], "io.nats.server.advisory.v1.client_connect",
        "{e}"
    );
    assert_eq!(e["server"]["id"], h.server.id.as_str(), "{e}");
    assert!(e["id"].as_str().is_some_and(|s| !s.is_empty()), "{e}");
    assert!(e["timestamp"].is_string(), "{e}");
    let c = &e["client"];
    assert_eq!(c["acc"], "A", "{e}");
    assert_eq!(c["user"], "a", "{e}");
    assert_eq!(c["name"], "conn-probe", "{e}");
    assert_eq!(c["lang"], "probe-lang", "{e}");
    assert_eq!(c["ver"], "9.9.9", "{e}");
    assert_eq!(c["kind"], "Client", "{e}");
    assert_eq!(c["client_type"], "nats", "{e}");
    assert_eq!(c["name_tag"], "A", "the account's name: {e}");
    assert_eq!(c["host"], "127.0.0.1", "{e}");
    assert!(c["id"].as_u64().is_some_and(|id| id > 0), "{e}");
    // As nats-server: no stop, rtt or server name in a connect event, and
    // the server block carries its feature flags.
    for absent in ["stop", "rtt", "server", "jwt", "issuer_key"] {
        assert!(c.get(absent).is_none(), "{absent}: {e}");
    }
    assert!(e["server"]["feature_flags"].is_object(), "{e}");
    h.shutdown().await;
}

#[tokio::test]
async fn disconnect_reasons_use_nats_server_texts() {
    let h = start_conf(&format!(
        "max_payload: 10
{}",
        sys_conf()
    ))
    .await;
    let admin = login(&h, "admin").await;
    let mut events = sub(&admin, "$SYS.ACCOUNT.A.DISCONNECT").await;
    let mut a = raw_connected(&h, r#"{"user":"a","pass":"apw"}"#).await;
    a.send(format!("PUB x 11\r\n{}\r\n", "y".repeat(11))).await;
    let e = json(&next(&mut events).await);
    assert_eq!(e["reason"], "Maximum Message Payload Exceeded", "{e}");
    h.shutdown().await;
}

#[tokio::test]
async fn disconnect_event() {
    let h = start_conf(&sys_conf()).await;
    let admin = login(&h, "admin").await;
    let mut events = sub(&admin, "$SYS.ACCOUNT.A.DISCONNECT").await;
    let mut a = raw_connected(&h, r#"{"user":"a","pass":"apw","name":"leaver"}"#).await;
    a.send("SUB x 1\r\nPUB x 5\r\n12345\r\nPUB y 3\r\nabc\r\n")
        .await;
    assert_eq!(sync(&mut a).await, vec!["MSG x 1 12345"]);
    drop(a);
    let m = next(&mut events).await;
    let e = json(&m);
    assert_eq!(
        e["type"], "io.nats.server.advisory.v1.client_disconnect",
        "{e}"
    );
    assert_eq!(e["client"]["acc"], "A", "{e}");
    assert_eq!(e["client"]["name"], "leaver", "{e}");
    assert_eq!(e["client"]["user"], "a", "{e}");
    assert_eq!(e["reason"], "Client Closed", "{e}");
    assert_eq!(e["sent"]["msgs"], 2, "{e}");
    assert_eq!(e["sent"]["bytes"], 8, "{e}");
    assert_eq!(e["received"]["msgs"], 1, "{e}");
    assert_eq!(e["received"]["bytes"], 5, "{e}");
    assert_eq!(e["server"]["id"], h.server.id.as_str(), "{e}");
    assert_eq!(e["client"]["name_tag"], "A", "{e}");
    assert!(e["client"]["rtt"].as_u64().is_some_and(|r| r > 0), "{e}");
    assert_eq!(e["client"]["stop"], e["timestamp"], "one reading: {e}");
    h.shutdown().await;
}

#[tokio::test]
async fn auth_error_event() {
    let h = start_conf(&sys_conf()).await;
    let admin = login(&h, "admin").await;
    let subject = format!("$SYS.SERVER.{}.CLIENT.AUTH.ERR", h.server.id);
    let mut events = sub(&admin, &subject).await;
    let mut bad = raw(&h).await;
    bad.send("CONNECT {\"user\":\"a\",\"pass\":\"wrong\",\"verbose\":false}\r\nPING\r\n")
        .await;
    assert_eq!(
        read_line(&mut bad).await.as_deref(),
        Some("-ERR 'Authorization Violation'")
    );
    let m = next(&mut events).await;
    assert_eq!(m.subject.as_str(), subject);
    let e = json(&m);
    assert_eq!(
        e["type"], "io.nats.server.advisory.v1.client_disconnect",
        "{e}"
    );
    assert_eq!(e["reason"], "Authentication Failure", "{e}");
    assert_eq!(e["server"]["id"], h.server.id.as_str(), "{e}");
    // The client as it presented itself, in the global account.
    assert_eq!(e["client"]["user"], "a", "{e}");
    assert_eq!(e["client"]["acc"], "$G", "{e}");
    assert_eq!(e["client"]["name_tag"], "$G", "{e}");
    assert!(e["client"]["rtt"].as_u64().is_some(), "{e}");
    // A good login raises no such event.
    let _ok = raw_login(&h, "a").await;
    send_sentinel(&admin, &subject).await;
    assert_eq!(before_sentinel(&mut events).await, Vec::<String>::new());
    h.shutdown().await;
}

/// nats-server also tells the account a refused client was in (the global
/// one) with `$SYS.ACCOUNT.CLIENT.AUTH.ERR`, and reports the closed
/// connection as a disconnect of that account.
#[tokio::test]
async fn a_refused_login_is_reported_to_its_account_too() {
    let h = start_conf(&format!(
        "{}authorization {{ users: {} }}\n",
        sys_conf(),
        users(&["g"])
    ))
    .await;
    let admin = login(&h, "admin").await;
    let mut global_disconnects = sub(&admin, "$SYS.ACCOUNT.$G.DISCONNECT").await;
    let g = login(&h, "g").await;
    let mut in_global = sub(&g, "$SYS.ACCOUNT.CLIENT.AUTH.ERR").await;
    let mut bad = raw(&h).await;
    bad.send("CONNECT {\"user\":\"nobody\",\"pass\":\"x\",\"name\":\"intruder\",\"verbose\":false}\r\nPING\r\n")
        .await;
    assert_eq!(
        read_line(&mut bad).await.as_deref(),
        Some("-ERR 'Authorization Violation'")
    );
    let e = json(&next(&mut in_global).await);
    assert_eq!(
        e["type"], "io.nats.server.advisory.v1.client_disconnect",
        "{e}"
    );
    assert_eq!(e["client"]["user"], "nobody", "{e}");
    assert_eq!(e["client"]["name"], "intruder", "{e}");
    assert_eq!(e["reason"], "Authentication Failure", "{e}");
    let e = json(&next(&mut global_disconnects).await);
    assert_eq!(e["client"]["name"], "intruder", "{e}");
    assert_eq!(e["reason"], "Authentication Failure", "{e}");
    h.shutdown().await;
}

#[tokio::test]
async fn account_conns_event() {
    let h = start_conf(&sys_conf()).await;
    let admin = login(&h, "admin").await;
    let mut events = sub(&admin, "$SYS.ACCOUNT.A.SERVER.CONNS").await;
    let mut legacy = sub(&admin, "$SYS.SERVER.ACCOUNT.A.CONNS").await;
    let a1 = raw_login(&h, "a").await;
    let mut counts = vec![json(&next(&mut events).await)];
    let _a2 = raw_login(&h, "a2").await;
    counts.push(json(&next(&mut events).await));
    drop(a1);
    counts.push(json(&next(&mut events).await));
    for e in &counts {
        assert_eq!(
            e["type"], "io.nats.server.advisory.v1.account_connections",
            "{e}"
        );
        assert_eq!(e["acc"], "A", "{e}");
        assert_eq!(e["server"]["id"], h.server.id.as_str(), "{e}");
    }
    let conns: Vec<&Value> = counts.iter().map(|e| &e["conns"]).collect();
    assert_eq!(conns, vec![1, 2, 1]);
    let e = json(&next(&mut legacy).await);
    assert_eq!(e["acc"], "A", "{e}");
    assert_eq!(e["conns"], 1, "{e}");
    h.shutdown().await;
}

#[tokio::test]
async fn server_ping_idz_and_varz_requests() {
    let h = start_conf(&sys_conf()).await;
    let admin = login(&h, "admin").await;
    let _a = raw_login(&h, "a").await;
    let id = h.server.id.clone();

    let r = json(&request(&admin, "$SYS.REQ.SERVER.PING", "").await.unwrap());
    assert_eq!(r["server"]["id"], id.as_str(), "{r}");
    assert_eq!(r["statsz"]["connections"], 2, "{r}");
    assert!(r["statsz"]["start"].is_string(), "{r}");

    let r = json(
        &request(&admin, "$SYS.REQ.SERVER.PING.IDZ", "")
            .await
            .unwrap(),
    );
    assert_eq!(r["data"]["id"], id.as_str(), "{r}");
    assert_eq!(r["server"]["id"], id.as_str(), "{r}");

    let r = json(
        &request(&admin, &format!("$SYS.REQ.SERVER.{id}.VARZ"), "")
            .await
            .unwrap(),
    );
    assert_eq!(r["data"]["server_id"], id.as_str(), "{r}");

    // A request for another server's id reaches nobody.
    assert_no_responders(
        request(&admin, "$SYS.REQ.SERVER.NOTME.VARZ", "").await,
        "other server id",
    );
    h.shutdown().await;
}

#[tokio::test]
async fn sys_subjects_are_invisible_to_other_accounts() {
    let h = start_conf(&sys_conf()).await;
    let admin = login(&h, "admin").await;
    let a = login(&h, "a").await;
    // The server's requests are not answered in A.
    assert_no_responders(request(&a, "$SYS.REQ.SERVER.PING", "").await, "A ping");
    let mut spy = sub(&a, "$SYS.>").await;
    let mut all = sub(&admin, "$SYS.>").await;

    // Events happen: a connect, a disconnect, a failed login, a request.
    let other = raw_login(&h, "a2").await;
    drop(other);
    let mut bad = raw(&h).await;
    bad.send("CONNECT {\"user\":\"a\",\"pass\":\"wrong\"}\r\nPING\r\n")
        .await;
    assert!(closed(&mut bad).await);
    request(&admin, "$SYS.REQ.SERVER.PING", "").await.unwrap();

    // The system account saw them (so they were published) ...
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + T;
    let wanted = [
        "$SYS.ACCOUNT.A.CONNECT".to_owned(),
        "$SYS.ACCOUNT.A.DISCONNECT".to_owned(),
        format!("$SYS.SERVER.{}.CLIENT.AUTH.ERR", h.server.id),
    ];
    while !wanted.iter().all(|w| seen.contains(w)) {
        let m = tokio::time::timeout_at(deadline, all.next())
            .await
            .unwrap_or_else(|_| panic!("system events missing; saw {seen:?}"))
            .unwrap();
        seen.push(m.subject.to_string());
    }
    // ... and A saw none of them.
    send_sentinel(&a, "$SYS.sentinel").await;
    assert_eq!(before_sentinel(&mut spy).await, Vec::<String>::new());
    h.shutdown().await;
}

// -------------------------------------------------------------- mappings --

/// Accounts A (user `a`) and B (user `b`), each with `extra` entries.
fn accounts_ab(a_extra: &str, b_extra: &str) -> String {
    format!(
        "accounts {{\n  A: {{ users: {}, {a_extra} }}\n  B: {{ users: {}, {b_extra} }}\n}}\n",
        users(&["a"]),
        users(&["b"])
    )
}

/// A client of the global account (no auth configured).
async fn global_client(h: &ServerHandle) -> async_nats::Client {
    tokio::time::timeout(T, opts().connect(h.client_url()))
        .await
        .expect("connect in time")
        .expect("connect")
}

#[tokio::test]
async fn global_mappings_rename_what_clients_publish() {
    let h = start_conf(
        "mappings {\n  foo: bar\n  \"m.*.*\": \"mapped.$2.$1\"\n  \"s.*\": \"s.{{splitFromLeft(1,2)}}\"\n}\n",
    )
    .await;
    let nc = global_client(&h).await;
    let mut all = sub(&nc, ">").await;
    publish(&nc, "foo", "1").await;
    publish(&nc, "m.a.b", "2").await;
    publish(&nc, "s.abcd", "3").await;
    publish(&nc, "other", "4").await;
    send_sentinel(&nc, "x.s").await;
    assert_eq!(
        before_sentinel(&mut all).await,
        vec!["bar 1", "mapped.b.a 2", "s.ab.cd 3", "other 4"]
    );
    h.shutdown().await;
}

#[tokio::test]
async fn account_mappings_apply_only_in_their_account() {
    let h = start_conf(&accounts_ab(r#"mappings: { "in.*": "out.$1" }"#, "")).await;
    let a = login(&h, "a").await;
    let b = login(&h, "b").await;
    let mut sa = sub(&a, ">").await;
    let mut sb = sub(&b, ">").await;
    publish(&a, "in.x", "a").await;
    publish(&b, "in.x", "b").await;
    send_sentinel(&a, "a.s").await;
    send_sentinel(&b, "b.s").await;
    assert_eq!(before_sentinel(&mut sa).await, vec!["out.x a"]);
    assert_eq!(before_sentinel(&mut sb).await, vec!["in.x b"]);
    h.shutdown().await;
}

#[tokio::test]
async fn publish_permissions_see_the_mapped_subject() {
    let h = start_conf(concat!(
        "accounts {\n  A: {\n",
        "    users: [ {user: a, password: apw, permissions: {publish: {allow: [\"alias\", \"ok.>\"]}}}, {user: w, password: wpw} ]\n",
        "    mappings: { alias: \"ok.target\", \"ok.secret\": \"secret\", dropped: [ {destination: dropped, weight: 0} ] }\n",
        "  }\n}\n",
    ))
    .await;
    let w = login(&h, "w").await;
    let mut all = sub(&w, ">").await;
    let mut a = raw_login(&h, "a").await;
    // "alias" maps into the allowed space: delivered on the mapped subject.
    a.send("PUB alias 2\r\nhi\r\n").await;
    assert_eq!(sync(&mut a).await, Vec::<String>::new());
    // A message a mapping drops has the empty subject, which the allow
    // list does not cover (nats-server's answer too).
    a.send("PUB dropped 2\r\nno\r\n").await;
    assert_eq!(
        sync(&mut a).await,
        vec!["-ERR 'Permissions Violation for Publish to \"\"'"]
    );
    assert_eq!(sync(&mut a).await, Vec::<String>::new());
    // "ok.secret" is allowed as written but maps to a subject the user may
    // not publish to: refused on the mapped subject, as nats-server does.
    a.send("PUB ok.secret 2\r\nno\r\n").await;
    assert_eq!(
        sync(&mut a).await,
        vec!["-ERR 'Permissions Violation for Publish to \"secret\"'"]
    );
    send_sentinel(&w, "w.s").await;
    assert_eq!(before_sentinel(&mut all).await, vec!["ok.target hi"]);
    h.shutdown().await;
}

#[tokio::test]
async fn weighted_mapping_spreads_messages_over_its_destinations() {
    let h = start_conf(
        "mappings {\n  work: [ {destination: work.a, weight: 50%}, {destination: work.b, weight: 50%} ]\n  drop: [ {destination: drop, weight: 0} ]\n}\n",
    )
    .await;
    let nc = global_client(&h).await;
    let mut all = sub(&nc, ">").await;
    for i in 0..200 {
        nc.publish("work", format!("{i}").into()).await.unwrap();
    }
    // The source listed at weight 0 leaves the whole 100% unassigned: dropped.
    nc.publish("drop", "gone".into()).await.unwrap();
    send_sentinel(&nc, "x.s").await;
    let got = before_sentinel(&mut all).await;
    let a = got.iter().filter(|m| m.starts_with("work.a ")).count();
    let b = got.iter().filter(|m| m.starts_with("work.b ")).count();
    assert_eq!(a + b, 200, "{got:?}");
    // Each side has probability 2^-200 of getting nothing by chance.
    assert!(a > 0 && b > 0, "a={a} b={b}");
    assert!(!got.iter().any(|m| m.starts_with("drop")), "{got:?}");
    h.shutdown().await;
}

#[tokio::test]
async fn partition_mapping_keeps_a_key_on_one_partition() {
    let h = start_conf("mappings {\n  \"orders.*\": \"orders.{{partition(3,1)}}.$1\"\n}\n").await;
    let nc = global_client(&h).await;
    let mut all = sub(&nc, "orders.>").await;
    for key in ["k1", "k2", "k1", "k3", "k2"] {
        publish(&nc, &format!("orders.{key}"), key).await;
    }
    send_sentinel(&nc, "orders.s").await;
    let got = before_sentinel(&mut all).await;
    assert_eq!(got.len(), 5, "{got:?}");
    let mut partition_of = std::collections::HashMap::new();
    for m in &got {
        let (subject, key) = m.split_once(' ').unwrap();
        let toks: Vec<&str> = subject.split('.').collect();
        assert_eq!(toks.len(), 3, "{subject}");
        assert_eq!(toks[2], key);
        assert!(["0", "1", "2"].contains(&toks[1]), "{subject}");
        let p = partition_of.entry(key).or_insert(toks[1]);
        assert_eq!(*p, toks[1], "key {key} moved partition");
    }
    h.shutdown().await;
}

#[tokio::test]
async fn service_import_lands_on_the_exporters_mapped_subject() {
    let h = start_conf(&accounts_ab(
        r#"exports: [ {service: "svc.req"} ], mappings: { "svc.req": "svc.v2" }"#,
        r#"imports: [ {service: {account: A, subject: "svc.req"}} ]"#,
    ))
    .await;
    let a = login(&h, "a").await;
    let b = login(&h, "b").await;
    responder(&a, "svc.v2", "v2:").await;
    let r = request(&b, "svc.req", "x").await.unwrap();
    assert_eq!(&r.payload[..], b"v2:x");
    h.shutdown().await;
}

#[tokio::test]
async fn bad_mappings_are_refused_with_file_and_line() {
    assert_refused(
        "port: 4222\nmappings {\n  \"a.*\": \"b.$2\"\n}\n",
        "Error adding mapping for \"a.*\" to \"b.$2\" : invalid mapping destination: wildcard index out of range in $2: [2]",
        "b.$2",
    )
    .await;
    assert_refused(
        "accounts {\n  A: {\n    mappings: {\n      a: [ {destination: b, weight: 60}, {destination: c, weight: 60} ]\n    }\n  }\n}\n",
        "Error adding mapping for \"a\" : total weight needs to be <= 100",
        "weight: 60",
    )
    .await;
    assert_refused(
        "mappings {\n  x: \"y.{{nope(1)}}\"\n}\n",
        "invalid mapping destination: unknown function in {{nope(1)}}",
        "nope",
    )
    .await;
}

// --------------------------------------------- account-scoped $SYS requests --

#[tokio::test]
async fn tenants_reach_only_their_own_account_through_system_requests() {
    let h = start_conf(&format!(
        "accounts {{\n  A: {{ users: {} }}\n  B: {{ users: {} }}\n  SYS: {{ users: {} }}\n}}\nsystem_account: SYS\n",
        users(&["a"]),
        users(&["b"]),
        users(&["sys"])
    ))
    .await;
    let a = login_with(&h, "a", opts().name("conn-a")).await;
    let b = login_with(&h, "b", opts().name("conn-b")).await;
    let sys = login(&h, "sys").await;
    let _feed = sub(&a, "feed.a").await;
    let names = |m: &async_nats::Message| -> Vec<String> {
        json(m)["data"]["connections"]
            .as_array()
            .expect("connections")
            .iter()
            .map(|c| c["name"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    for subject in ["$SYS.REQ.SERVER.PING.CONNZ", "$SYS.REQ.ACCOUNT.PING.CONNZ"] {
        let r = request(&a, subject, "").await.unwrap();
        assert_eq!(names(&r), vec!["conn-a"], "{subject}");
        let r = request(&b, subject, "").await.unwrap();
        assert_eq!(names(&r), vec!["conn-b"], "{subject}");
    }
    // Options in the body apply, but the account stays the requester's.
    let r = request(
        &a,
        "$SYS.REQ.SERVER.PING.CONNZ",
        r#"{"acc":"B","subscriptions":true}"#,
    )
    .await
    .unwrap();
    assert_eq!(names(&r), vec!["conn-a"]);
    let subs = json(&r)["data"]["connections"][0]["subscriptions_list"].clone();
    assert!(
        subs.as_array()
            .is_some_and(|l| l.contains(&"feed.a".into())),
        "{subs}"
    );
    let r = request(&sys, "$SYS.REQ.SERVER.PING.CONNZ", r#"{"limit":1}"#)
        .await
        .unwrap();
    assert_eq!(names(&r).len(), 1);
    // A request filtered to another server gets no answer from this one.
    let quiet = tokio::time::timeout(
        Duration::from_millis(300),
        sys.request(
            "$SYS.REQ.SERVER.PING.VARZ",
            r#"{"server_name":"not-this-one","exact_match":true}"#.into(),
        ),
    )
    .await;
    assert!(quiet.is_err(), "answered a request for another server");
    let r = request(&a, "$SYS.REQ.ACCOUNT.PING.STATZ", "")
        .await
        .unwrap();
    let statz = json(&r)["data"]["account_statz"].clone();
    assert_eq!(statz.as_array().map(Vec::len), Some(1), "{statz}");
    assert_eq!(statz[0]["acc"], "A");
    // Other system requests stay in the system account.
    assert_no_responders(
        request(&a, "$SYS.REQ.ACCOUNT.B.CONNZ", "").await,
        "another account's CONNZ",
    );
    // The system account asks about any account.
    let r = request(&sys, "$SYS.REQ.ACCOUNT.A.SUBSZ", "").await.unwrap();
    let subs = json(&r)["data"]["subscriptions_list"].clone();
    assert!(
        subs.as_array()
            .is_some_and(|l| l.iter().any(|s| s["subject"] == "feed.a")),
        "{subs}"
    );
    let r = request(&sys, "$SYS.REQ.ACCOUNT.A.INFO", "").await.unwrap();
    assert_eq!(json(&r)["data"]["account_name"], "A");
    let r = request(&sys, "$SYS.REQ.ACCOUNT.NOPE.INFO", "")
        .await
        .unwrap();
    assert_eq!(
        json(&r)["error"]["description"],
        "Account NOPE does not exist"
    );
    h.shutdown().await;
}

#[tokio::test]
async fn users_ask_who_they_are() {
    let h = start_conf(concat!(
        "accounts {\n",
        "  A: { users: [ {user: a, password: apw, permissions: {publish: [\"a.>\", \"$SYS.REQ.USER.INFO\"], subscribe: {allow: [\"_INBOX.>\", \"q work\"], deny: [\"a.secret\"]}, allow_responses: true}} ] }\n",
        "  SYS: { users: [ {user: sys, password: syspw} ] }\n",
        "}\nsystem_account: SYS\n",
    ))
    .await;
    let a = login(&h, "a").await;
    let r = request(&a, "$SYS.REQ.USER.INFO", "").await.unwrap();
    let d = json(&r)["data"].clone();
    assert_eq!(d["user"], "a", "{d}");
    assert_eq!(d["account"], "A", "{d}");
    assert_eq!(d["account_name"], "A", "{d}");
    assert_eq!(
        d["permissions"]["publish"]["allow"],
        serde_json::json!(["a.>", "$SYS.REQ.USER.INFO"])
    );
    assert_eq!(
        d["permissions"]["subscribe"]["allow"],
        serde_json::json!(["_INBOX.>", "q work"])
    );
    assert_eq!(
        d["permissions"]["subscribe"]["deny"],
        serde_json::json!(["a.secret"])
    );
    assert_eq!(d["permissions"]["responses"]["max"], 1, "{d}");
    assert!(d.get("expires").is_none(), "{d}");
    // The system account's own users ask directly.
    let sys = login(&h, "sys").await;
    let r = request(&sys, "$SYS.REQ.USER.INFO", "").await.unwrap();
    let d = json(&r)["data"].clone();
    assert_eq!(
        (d["user"].as_str(), d["account"].as_str()),
        (Some("sys"), Some("SYS"))
    );
    assert!(d.get("permissions").is_none(), "{d}");
    h.shutdown().await;
}

#[tokio::test]
async fn an_account_named_like_a_system_token_gets_no_system_imports() {
    let h = start_conf(&format!(
        "accounts {{\n  PING: {{ users: {} }}\n  B: {{ users: {} }}\n  SYS: {{ users: {} }}\n}}\nsystem_account: SYS\n",
        users(&["p"]),
        users(&["b"]),
        users(&["sys"])
    ))
    .await;
    let _b = login(&h, "b").await;
    let p = login(&h, "p").await;
    // Through an import, PING's own STATZ subject would be the one that
    // answers for every account.
    assert_no_responders(
        request(&p, "$SYS.REQ.ACCOUNT.PING.STATZ", "").await,
        "all accounts' statistics",
    );
    h.shutdown().await;
}

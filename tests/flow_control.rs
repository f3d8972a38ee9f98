//! Flow control against an in-process server: a publisher that outruns a
//! live subscriber is paused (counted as stalls in monitoring) instead of the
//! subscriber being cut as a slow consumer; a subscriber that stops reading
//! is still cut; other tenants keep working during a flood.
//!
//! Every wait is bounded and nothing asserts on speed: the subscribers here
//! are slow on purpose, and what is checked is what arrives and what the
//! monitoring endpoints count.

mod common;

use bytes::Bytes;
use common::{monitor_json as get, start_conf};
use futures::StreamExt;
use rnats::node::ServerHandle;
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::{timeout, Instant};

/// One protocol step (connect, a PONG, an HTTP answer).
const T: Duration = Duration::from_secs(5);
/// A whole flood: generous, the subscribers are slow on purpose.
const FLOOD_WAIT: Duration = Duration::from_secs(90);
/// Payload size of the flood messages.
const PAYLOAD: usize = 100;

// ---------------------------------------------------------------- monitor --

/// The `/connz` entry of connection `cid` (open or closed).
async fn conn_info(h: &ServerHandle, cid: u64) -> Value {
    let v = get(h, &format!("/connz?state=all&cid={cid}")).await;
    v["connections"][0].clone()
}

/// Polls `path` until `ok` holds (bounded), returning the last document.
async fn get_until(h: &ServerHandle, path: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let v = get(h, path).await;
        if ok(&v) || Instant::now() > deadline {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The closed connections, for failure messages.
async fn closed_conns(h: &ServerHandle) -> String {
    // A connection's socket closes a moment before it is listed as closed.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let v = get(h, "/connz?state=closed").await;
    let list: Vec<String> = v["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "cid {} {} out_msgs {}",
                c["cid"], c["reason"], c["out_msgs"]
            )
        })
        .collect();
    format!("closed: [{}]", list.join("; "))
}

fn account<'a>(statz: &'a Value, name: &str) -> &'a Value {
    statz["account_statz"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["acc"] == name)
        .unwrap_or_else(|| panic!("account {name} in {statz}"))
}

// ------------------------------------------------------------------- wire --

/// A raw connection whose reads the test paces itself. Buffers live on the
/// heap, so the futures stay small.
struct Wire {
    stream: TcpStream,
    buf: Vec<u8>,
    chunk: Vec<u8>,
    cid: u64,
}

/// What a subscriber saw, parsed from the wire.
enum Frame {
    Msg { subject: String, payload: Vec<u8> },
    Line(String),
}

impl Wire {
    /// Connects (with a small receive buffer when given, so the kernel does
    /// not absorb the flood), logs in with `connect` and syncs.
    async fn open(h: &ServerHandle, recv_buf: Option<u32>, connect: &str) -> Wire {
        let sock = TcpSocket::new_v4().unwrap();
        if let Some(n) = recv_buf {
            sock.set_recv_buffer_size(n).unwrap();
        }
        let stream = timeout(T, sock.connect(h.addr)).await.unwrap().unwrap();
        let mut w = Wire {
            stream,
            buf: Vec::new(),
            chunk: vec![0u8; 64 * 1024],
            cid: 0,
        };
        let info = w.line().await.expect("INFO");
        let info: Value = serde_json::from_str(info.strip_prefix("INFO ").unwrap()).unwrap();
        w.cid = info["client_id"].as_u64().unwrap();
        w.send(format!("CONNECT {connect}\r\nPING\r\n").as_bytes())
            .await;
        assert_eq!(w.line().await.as_deref(), Some("PONG"), "login");
        w
    }

    async fn send(&mut self, b: &[u8]) {
        timeout(FLOOD_WAIT, self.stream.write_all(b))
            .await
            .expect("write in time")
            .unwrap();
    }

    /// Reads at most `max` bytes, waiting until `deadline`; false on close
    /// or when nothing came in time.
    async fn fill(&mut self, max: usize, deadline: Instant) -> bool {
        let max = max.min(self.chunk.len());
        match tokio::time::timeout_at(deadline, self.stream.read(&mut self.chunk[..max])).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => false,
            Ok(Ok(n)) => {
                self.buf.extend_from_slice(&self.chunk[..n]);
                true
            }
        }
    }

    /// The next protocol line (not a message) within `wait`; `None` on close
    /// or timeout.
    async fn line_within(&mut self, wait: Duration) -> Option<String> {
        let deadline = Instant::now() + wait;
        loop {
            match self.parse() {
                Some(Frame::Line(l)) => return Some(l),
                Some(Frame::Msg { subject, .. }) => panic!("unexpected message on {subject}"),
                None => {}
            }
            if !self.fill(usize::MAX, deadline).await {
                return None;
            }
        }
    }

    async fn line(&mut self) -> Option<String> {
        self.line_within(T).await
    }

    /// Waits for the PONG answering an earlier PING (answering server PINGs).
    async fn pong_within(&mut self, wait: Duration) {
        let deadline = Instant::now() + wait;
        loop {
            match self
                .line_within(deadline.saturating_duration_since(Instant::now()))
                .await
            {
                Some(l) if l == "PONG" => return,
                Some(l) if l == "PING" => self.send(b"PONG\r\n").await,
                other => panic!("expected PONG, got {other:?}"),
            }
        }
    }

    /// One complete frame from the buffer, if there is one.
    fn parse(&mut self) -> Option<Frame> {
        let i = self.buf.windows(2).position(|w| w == b"\r\n")?;
        let line = String::from_utf8_lossy(&self.buf[..i]).into_owned();
        if !line.starts_with("MSG ") {
            self.buf.drain(..i + 2);
            return Some(Frame::Line(line));
        }
        let parts: Vec<&str> = line.split(' ').collect();
        let size: usize = parts.last().unwrap().parse().unwrap();
        let end = i + 2 + size + 2;
        if self.buf.len() < end {
            return None;
        }
        let payload = self.buf[i + 2..i + 2 + size].to_vec();
        assert_eq!(&self.buf[end - 2..end], b"\r\n");
        let subject = parts[1].to_owned();
        self.buf.drain(..end);
        Some(Frame::Msg { subject, payload })
    }

    /// Reads messages on `subject` until `want` have arrived, each read at
    /// most `chunk` bytes followed by `pause`; a server PING is answered.
    /// Checks the payloads carry the sequence numbers 0, 1, 2, ... Returns
    /// how many arrived (fewer on close or after `FLOOD_WAIT`).
    async fn receive_in_order(
        &mut self,
        subject: &str,
        want: usize,
        chunk: usize,
        pause: Duration,
    ) -> usize {
        let deadline = Instant::now() + FLOOD_WAIT;
        let mut got = 0;
        while got < want && Instant::now() < deadline {
            while let Some(f) = self.parse() {
                match f {
                    Frame::Msg {
                        subject: s,
                        payload,
                    } => {
                        assert_eq!(s, subject);
                        assert_eq!(payload, seq_payload(got), "message {got} out of order");
                        got += 1;
                    }
                    Frame::Line(l) if l == "PING" => self.send(b"PONG\r\n").await,
                    Frame::Line(l) => panic!("unexpected {l:?} after {got} messages"),
                }
            }
            if got == want || !self.fill(chunk, deadline).await {
                break;
            }
            if !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
        }
        got
    }
}

/// The payload of flood message `i`: its number, zero-padded.
fn seq_payload(i: usize) -> Vec<u8> {
    format!("{i:0PAYLOAD$}").into_bytes()
}

/// `n` numbered PUBs on `subject`, then a PING.
fn flood(subject: &str, n: usize) -> Vec<u8> {
    let mut b = Vec::with_capacity(n * (PAYLOAD + 32));
    for i in 0..n {
        b.extend_from_slice(format!("PUB {subject} {PAYLOAD}\r\n").as_bytes());
        b.extend_from_slice(&seq_payload(i));
        b.extend_from_slice(b"\r\n");
    }
    b.extend_from_slice(b"PING\r\n");
    b
}

/// Writes the whole batch from its own task, then waits for the PONG that
/// answers its trailing PING (every PUB before it was processed). Returns the
/// connection for monitoring lookups.
fn spawn_flood(mut w: Wire, batch: Vec<u8>) -> tokio::task::JoinHandle<Wire> {
    tokio::spawn(async move {
        w.send(&batch).await;
        // Much of the batch may still sit in socket buffers: the server
        // reads it at the subscriber's pace.
        w.pong_within(FLOOD_WAIT).await;
        w
    })
}

fn login(user: &str) -> String {
    format!(r#"{{"verbose":false,"pedantic":false,"user":"{user}","pass":"{user}pw"}}"#)
}

const ANON: &str = r#"{"verbose":false,"pedantic":false}"#;

// ------------------------------------------------------------------ tests --

// The reader stops at the op whose append filled a subscriber past half of
// its `max_pending` and pauses there, so even a small limit keeps a live
// subscriber safe: the cases run with 1MB, 256KB and 64KB.

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_subscriber_slows_the_publisher_and_is_not_cut() {
    // About 12 MB of MSGs: more than the kernel buffers hold.
    slow_subscriber_case("1MB", 100_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_subscriber_survives_a_small_max_pending() {
    slow_subscriber_case("256KB", 40_000).await;
}

async fn slow_subscriber_case(max_pending: &str, n: usize) {
    let h = start_conf(&format!(
        "max_pending: {max_pending}\nmax_payload: 64KB\nhttp_port: -1\n"
    ))
    .await;
    // Small receive buffer and small, paced reads: alive but slower than
    // the publisher.
    let mut sub = Wire::open(&h, Some(16 * 1024), ANON).await;
    sub.send(b"SUB flood 1\r\nPING\r\n").await;
    assert_eq!(sub.line().await.as_deref(), Some("PONG"));
    let publisher = Wire::open(&h, None, ANON).await;
    let pub_cid = publisher.cid;
    let flooding = spawn_flood(publisher, flood("flood", n));

    let got = sub
        .receive_in_order("flood", n, 8 * 1024, Duration::from_millis(1))
        .await;
    assert_eq!(
        got,
        n,
        "every message, in order; {}",
        closed_conns(&h).await
    );
    let publisher = timeout(FLOOD_WAIT, flooding).await.unwrap().unwrap();

    let v = get(&h, "/varz").await;
    assert_eq!(v["slow_consumers"], 0, "nobody was cut");
    assert!(v["stalled_clients"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(v["connections"], 2);
    // The publisher paused (its reader's time); the full subscriber counts
    // the stalls, as nats-server counts them.
    let p = conn_info(&h, pub_cid).await;
    assert!(p.get("stop").is_none(), "publisher still open: {p}");
    assert!(
        p["stalled_ms"].as_u64().unwrap_or(0) > 0,
        "publisher paused: {p}"
    );
    let s = conn_info(&h, sub.cid).await;
    assert!(s.get("stop").is_none(), "subscriber still open: {s}");
    assert_eq!(s["out_msgs"], n as u64);
    assert!(
        s["stalls"].as_u64().unwrap_or(0) > 0,
        "subscriber stalled: {s}"
    );
    let st = get(&h, "/accstatz").await;
    let g = account(&st, "$G");
    assert_eq!(g["slow_consumers"], 0);
    assert!(g["stalls"].as_u64().unwrap() > 0, "{g}");
    assert!(g["stalled_ms"].is_u64(), "{g}");
    drop(publisher);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stuck_subscriber_is_still_cut() {
    stuck_subscriber_case("512KB").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stuck_subscriber_is_cut_and_a_healthy_one_is_not_with_64kb() {
    stuck_subscriber_case("64KB").await;
}

async fn stuck_subscriber_case(max_pending: &str) {
    let h = start_conf(&format!(
        "max_pending: {max_pending}\nmax_payload: 16KB\nwrite_deadline: \"2s\"\nhttp_port: -1\n"
    ))
    .await;
    // Never read after the login: with a tiny receive buffer the kernel
    // takes little of the flood.
    let mut stuck = Wire::open(&h, Some(4096), ANON).await;
    stuck.send(b"SUB data 1\r\nPING\r\n").await;
    assert_eq!(stuck.line().await.as_deref(), Some("PONG"));
    let mut healthy = Wire::open(&h, None, ANON).await;
    healthy.send(b"SUB data 1\r\nPING\r\n").await;
    assert_eq!(healthy.line().await.as_deref(), Some("PONG"));

    // About 7 MB: more than the kernel buffers of the stuck connection hold.
    let n = 60_000;
    let publisher = Wire::open(&h, None, ANON).await;
    let flooding = spawn_flood(publisher, flood("data", n));
    let got = healthy
        .receive_in_order("data", n, usize::MAX, Duration::ZERO)
        .await;
    assert_eq!(
        got,
        n,
        "the healthy subscriber gets everything, in order; {}",
        closed_conns(&h).await
    );
    let _publisher = timeout(FLOOD_WAIT, flooding)
        .await
        .expect("the flood completes")
        .unwrap();

    let cid = stuck.cid;
    let closed = get_until(&h, "/connz?state=closed", |v| {
        v["connections"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["cid"] == cid)
    })
    .await;
    let c = closed["connections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["cid"] == cid)
        .unwrap_or_else(|| panic!("stuck connection not closed: {closed}"));
    let reason = c["reason"].as_str().unwrap();
    assert!(
        reason == "Slow Consumer (Pending Bytes)" || reason == "Slow Consumer (Write Deadline)",
        "{reason}"
    );
    assert_eq!(get(&h, "/varz").await["slow_consumers"], 1);
    let h_info = conn_info(&h, healthy.cid).await;
    assert!(h_info.get("stop").is_none(), "healthy still open: {h_info}");
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn another_accounts_requests_keep_working_during_a_flood() {
    let h = start_conf(
        r#"max_pending: 4MB
http_port: -1
accounts {
  A: { users: [{user: a, password: apw}] }
  B: { users: [{user: b, password: bpw}] }
}
"#,
    )
    .await;

    // A: two subscribers reading as fast as they can, counting until the
    // end marker (published after both publishers are done).
    let mut readers = Vec::new();
    let mut sub_cids = Vec::new();
    for _ in 0..2 {
        let mut w = Wire::open(&h, None, &login("a")).await;
        w.send(b"SUB flood.* 1\r\nPING\r\n").await;
        assert_eq!(w.line().await.as_deref(), Some("PONG"));
        sub_cids.push(w.cid);
        readers.push(tokio::spawn(async move {
            let deadline = Instant::now() + FLOOD_WAIT;
            let mut got = 0u64;
            loop {
                while let Some(f) = w.parse() {
                    match f {
                        Frame::Msg { subject, .. } if subject == "flood.end" => return (got, w),
                        Frame::Msg { .. } => got += 1,
                        Frame::Line(l) if l == "PING" => w.send(b"PONG\r\n").await,
                        Frame::Line(l) => panic!("A subscriber got {l:?}"),
                    }
                }
                assert!(
                    w.fill(usize::MAX, deadline).await,
                    "A subscriber closed or timed out after {got}"
                );
            }
        }));
    }

    // A: two publishers writing continuously until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let mut floods = Vec::new();
    for _ in 0..2 {
        let mut w = Wire::open(&h, None, &login("a")).await;
        let stop = stop.clone();
        floods.push(tokio::spawn(async move {
            let mut chunk = flood("flood.data", 1000);
            chunk.truncate(chunk.len() - b"PING\r\n".len());
            let deadline = Instant::now() + FLOOD_WAIT;
            let mut sent = 0u64;
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                w.send(&chunk).await;
                sent += 1000;
            }
            w.send(b"PING\r\n").await;
            w.pong_within(FLOOD_WAIT).await;
            sent
        }));
    }

    // B: a responder and 200 sequential requests.
    let connect = |u: &str| {
        async_nats::ConnectOptions::new()
            .user_and_password(u.into(), format!("{u}pw"))
            .connection_timeout(T)
            .max_reconnects(Some(0))
            .connect(h.client_url())
    };
    let responder = timeout(T, connect("b")).await.unwrap().unwrap();
    let mut svc = responder.subscribe("svc").await.unwrap();
    responder.flush().await.unwrap();
    let serving = tokio::spawn(async move {
        while let Some(m) = svc.next().await {
            if let Some(reply) = m.reply {
                responder.publish(reply, m.payload).await.unwrap();
            }
        }
    });
    let requester = timeout(T, connect("b")).await.unwrap().unwrap();
    // Let the flood get going first.
    tokio::time::sleep(Duration::from_millis(200)).await;
    for i in 0..200u32 {
        let body = Bytes::from(i.to_string());
        let r = timeout(
            Duration::from_secs(10),
            requester.request("svc", body.clone()),
        )
        .await
        .unwrap_or_else(|_| panic!("request {i} timed out"))
        .unwrap_or_else(|e| panic!("request {i}: {e}"));
        assert_eq!(r.payload, body);
    }
    stop.store(true, Ordering::Relaxed);

    let mut sent = 0;
    let mut kept = Vec::new();
    for f in floods {
        sent += timeout(FLOOD_WAIT, f).await.unwrap().unwrap();
    }
    let mut marker = Wire::open(&h, None, &login("a")).await;
    marker.send(b"PUB flood.end 0\r\n\r\nPING\r\n").await;
    assert_eq!(marker.line().await.as_deref(), Some("PONG"));
    for r in readers {
        let (got, w) = timeout(FLOOD_WAIT, r).await.unwrap().unwrap();
        assert_eq!(got, sent, "each A subscriber got the whole flood");
        kept.push(w);
    }

    let v = get(&h, "/varz").await;
    assert_eq!(v["slow_consumers"], 0, "no A subscriber was cut");
    for cid in sub_cids {
        let c = conn_info(&h, cid).await;
        assert!(c.get("stop").is_none(), "A subscriber still open: {c}");
    }
    let st = get(&h, "/accstatz").await;
    assert_eq!(account(&st, "A")["slow_consumers"], 0);
    assert_eq!(account(&st, "B")["slow_consumers"], 0);
    assert_eq!(account(&st, "B")["stalls"], 0, "B never waited for A");
    serving.abort();
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fan_out_across_a_stream_import_stalls_rather_than_cuts() {
    let h = start_conf(
        r#"max_pending: 1MB
max_payload: 64KB
http_port: -1
accounts {
  E: { users: [{user: e, password: epw}], exports: [ {stream: "feed.>"} ] }
  A: {
    users: [{user: a, password: apw}]
    imports: [ {stream: {account: E, subject: "feed.>"}} ]
  }
}
"#,
    )
    .await;
    let mut sub = Wire::open(&h, Some(16 * 1024), &login("a")).await;
    sub.send(b"SUB feed.> 1\r\nPING\r\n").await;
    assert_eq!(sub.line().await.as_deref(), Some("PONG"));
    let n = 100_000;
    let publisher = Wire::open(&h, None, &login("e")).await;
    let pub_cid = publisher.cid;
    let flooding = spawn_flood(publisher, flood("feed.x", n));

    let got = sub
        .receive_in_order("feed.x", n, 8 * 1024, Duration::from_millis(1))
        .await;
    assert_eq!(
        got,
        n,
        "every message across the import, in order; {}",
        closed_conns(&h).await
    );
    let _publisher = timeout(FLOOD_WAIT, flooding).await.unwrap().unwrap();

    let v = get(&h, "/varz").await;
    assert_eq!(
        v["slow_consumers"], 0,
        "the importer's subscriber was not cut"
    );
    assert!(v["stalled_clients"].as_u64().unwrap() > 0, "{v}");
    let p = conn_info(&h, pub_cid).await;
    assert!(
        p["stalled_ms"].as_u64().unwrap_or(0) > 0,
        "E's publisher paused: {p}"
    );
    let s = conn_info(&h, sub.cid).await;
    assert!(s.get("stop").is_none(), "A's subscriber still open: {s}");
    // The stalls are the full subscriber's, in the importer's account; the
    // pause is the publisher's, in the exporter's.
    let e = get(&h, "/accountz?acc=E").await["account_detail"].clone();
    assert!(e["stalled_ms"].as_u64().unwrap() > 0, "{e}");
    assert_eq!(e["stalls"], 0, "{e}");
    let st = get(&h, "/accstatz").await;
    assert_eq!(account(&st, "A")["slow_consumers"], 0);
    assert!(account(&st, "A")["stalls"].as_u64().unwrap() > 0);
    h.shutdown().await;
}

/// A subscriber on `flood`, then a publisher sending it `n` numbered messages as fast as the
/// server reads; checks every message arrived in order and returns the
/// subscriber and the publisher.
async fn full_speed_flood(h: &ServerHandle, n: usize) -> (Wire, Wire) {
    let mut sub = Wire::open(h, None, ANON).await;
    sub.send(b"SUB flood 1\r\nPING\r\n").await;
    assert_eq!(sub.line().await.as_deref(), Some("PONG"));
    let publisher = Wire::open(h, None, ANON).await;
    let publisher = flood_through(h, publisher, &mut sub, n).await;
    (sub, publisher)
}

/// `publisher` sends `sub` (subscribed to `flood`) `n` numbered messages
/// as fast as the server reads; checks every one arrived in order.
async fn flood_through(h: &ServerHandle, publisher: Wire, sub: &mut Wire, n: usize) -> Wire {
    let flooding = spawn_flood(publisher, flood("flood", n));
    let got = sub
        .receive_in_order("flood", n, 64 * 1024, Duration::ZERO)
        .await;
    assert_eq!(got, n, "every message, in order; {}", closed_conns(h).await);
    timeout(FLOOD_WAIT, flooding).await.unwrap().unwrap()
}

/// A connection that carries a flood moves to the runtime kept for heavy
/// connections (`heavy_connection_rate`, here 10 KB per 100 ms window, so
/// one full read of the flood counts while logging in and PINGs do not)
/// in the middle of the flood: the publisher's input and the subscriber's
/// output continue across the move with nothing lost or reordered, both
/// still answer PINGs afterwards, and `/connz` shows them on the bulk lane.
/// A connection that stays light stays where it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_moves_to_the_bulk_lane_and_loses_nothing() {
    let h = start_conf("heavy_connection_rate: 100KB\nhttp_port: -1\n").await;
    let mut idle = Wire::open(&h, None, ANON).await;
    let n = 50_000;
    let (mut sub, mut publisher) = full_speed_flood(&h, n).await;

    // Both moved connections are served where they are now.
    for w in [&mut publisher, &mut sub] {
        w.send(b"PING\r\n").await;
        w.pong_within(T).await;
    }
    publisher.send(&flood("flood", 1)).await;
    assert_eq!(
        sub.receive_in_order("flood", 1, 64 * 1024, Duration::ZERO)
            .await,
        1
    );
    publisher.pong_within(T).await;
    idle.send(b"PING\r\n").await;
    idle.pong_within(T).await;

    let p = conn_info(&h, publisher.cid).await;
    assert_eq!(p["bulk_lane"], true, "publisher moved: {p}");
    assert_eq!(p["in_msgs"], n as u64 + 1);
    let s = conn_info(&h, sub.cid).await;
    assert_eq!(s["bulk_lane"], true, "subscriber moved: {s}");
    assert_eq!(s["out_msgs"], n as u64 + 1);
    let i = conn_info(&h, idle.cid).await;
    assert!(
        i.get("bulk_lane").is_none(),
        "a light connection stays: {i}"
    );
    assert_eq!(get(&h, "/varz").await["slow_consumers"], 0);
    h.shutdown().await;
}

/// A connection on the bulk lane that has been quiet for
/// `lanes::QUIET_FOR` (10 s) goes back to the main lane, still serving
/// both directions, and moves again when it floods again, with nothing lost
/// or reordered either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_quiet_connection_returns_from_the_bulk_lane_and_can_move_again() {
    let h = start_conf("heavy_connection_rate: 100KB\nhttp_port: -1\n").await;
    let n = 50_000;
    let (mut sub, publisher) = full_speed_flood(&h, n).await;
    for cid in [publisher.cid, sub.cid] {
        assert_eq!(conn_info(&h, cid).await["bulk_lane"], true);
    }

    // Quiet now: both come back (the check runs every second).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let p = conn_info(&h, publisher.cid).await;
        let s = conn_info(&h, sub.cid).await;
        if p.get("bulk_lane").is_none() && s.get("bulk_lane").is_none() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still on the bulk lane after 30 s: {p} {s}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut publisher = publisher;
    publisher.send(&flood("flood", 1)).await;
    assert_eq!(
        sub.receive_in_order("flood", 1, 64 * 1024, Duration::ZERO)
            .await,
        1
    );
    publisher.pong_within(T).await;

    // A second flood moves them again.
    let publisher = flood_through(&h, publisher, &mut sub, n).await;
    let p = conn_info(&h, publisher.cid).await;
    assert_eq!(p["bulk_lane"], true, "moved again: {p}");
    assert_eq!(p["in_msgs"], 2 * n as u64 + 1);
    let s = conn_info(&h, sub.cid).await;
    assert_eq!(s["out_msgs"], 2 * n as u64 + 1);
    sub.send(b"PING\r\n").await;
    sub.pong_within(T).await;
    assert_eq!(get(&h, "/varz").await["slow_consumers"], 0);
    h.shutdown().await;
}

/// With `heavy_connection_rate: 0` nothing moves.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn heavy_connection_rate_zero_keeps_every_connection_in_place() {
    let h = start_conf("heavy_connection_rate: 0\nhttp_port: -1\n").await;
    let (sub, publisher) = full_speed_flood(&h, 20_000).await;
    for cid in [publisher.cid, sub.cid] {
        let c = conn_info(&h, cid).await;
        assert!(c.get("bulk_lane").is_none(), "{c}");
    }
    h.shutdown().await;
}

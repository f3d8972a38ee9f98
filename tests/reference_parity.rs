//! The same scenario against rnats and nats-server 2.15.1, side by side: a
//! client's connect advisory, a refused login's advisory, and service
//! latency reports (answered, and without a reply subject) must carry the
//! same fields in the same order, with the same values where values do not
//! depend on the run (ids, times and ports do).
//!
//! The reference binary comes from `RNATS_REFERENCE_SERVER` (`.ci/run` sets
//! it from `../shared/bin/reference-server`); without it the test says
//! "skipped" and checks rnats alone against the fields written down here.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Raw;
use serde_json::Value;

const CONF: &str = r#"
system_account: SYS
accounts {
  SYS { users [{user: sys, password: syspw}] }
  S {
    users [{user: s, password: spw}]
    exports [{service: "svc", latency: {sampling: 100, subject: "lat"}}]
  }
  R {
    users [{user: r, password: rpw}]
    imports [{service: {account: S, subject: "svc"}, share: true}]
  }
}
"#;

/// A server process on a free port, killed when dropped.
struct Proc {
    child: Child,
    addr: std::net::SocketAddr,
    _dir: tempfile::TempDir,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(bin: &PathBuf) -> Proc {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let conf = dir.path().join("server.conf");
    std::fs::write(&conf, format!("listen: 127.0.0.1:{port}\n{CONF}")).unwrap();
    let child = Command::new(bin)
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "{} did not start", bin.display());
        std::thread::sleep(Duration::from_millis(20));
    }
    Proc {
        child,
        addr,
        _dir: dir,
    }
}

async fn login(addr: std::net::SocketAddr, user: &str, name: &str) -> Raw {
    Box::pin(Raw::connected_to(
        addr,
        &format!(
            r#"{{"user":"{user}","pass":"{user}pw","name":"{name}","lang":"rust","version":"1.0","headers":true}}"#
        ),
    ))
    .await
}

async fn frame(r: &mut Raw) -> String {
    Box::pin(r.frame()).await.expect("a frame in time")
}

async fn json_msg(r: &mut Raw) -> Value {
    let f = frame(r).await;
    let body = f.splitn(4, ' ').nth(3).unwrap_or_else(|| panic!("{f}"));
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {f}"))
}

/// What one server sent in the scenario.
struct Seen {
    connect: Value,
    auth_err: Value,
    answered: Value,
    bad_request: Value,
}

async fn scenario(addr: std::net::SocketAddr) -> Seen {
    let mut sys = login(addr, "sys", "watcher").await;
    sys.send("SUB $SYS.ACCOUNT.R.CONNECT 1\r\nSUB $SYS.SERVER.*.CLIENT.AUTH.ERR 2\r\n")
        .await;
    sys.sync().await;
    let mut monitor = login(addr, "s", "monitor").await;
    monitor.send("SUB lat 1\r\n").await;
    monitor.sync().await;
    let mut responder = login(addr, "s", "responder").await;
    responder.send("SUB svc 1\r\n").await;
    responder.sync().await;

    let mut req = login(addr, "r", "requestor").await;
    let connect = json_msg(&mut sys).await;
    req.send("SUB inbox 1\r\nPUB svc inbox 2\r\nhi\r\n").await;
    let got = frame(&mut responder).await;
    let reply = got.split(' ').nth(3).expect("reply").to_owned();
    responder.send(format!("PUB {reply} 2\r\nho\r\n")).await;
    assert_eq!(frame(&mut req).await, "MSG inbox 1 ho");
    let answered = json_msg(&mut monitor).await;
    req.send("PUB svc 2\r\nhi\r\n").await;
    let _ = frame(&mut responder).await;
    let bad_request = json_msg(&mut monitor).await;

    let mut bad = Box::pin(Raw::connect_to(addr)).await;
    bad.send("CONNECT {\"user\":\"r\",\"pass\":\"wrong\",\"name\":\"intruder\",\"verbose\":false}\r\nPING\r\n")
        .await;
    let auth_err = json_msg(&mut sys).await;
    Seen {
        connect,
        auth_err,
        answered,
        bad_request,
    }
}

fn keys(v: &Value) -> Vec<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

/// The values that do not depend on the run.
fn stable(v: &Value, paths: &[&str]) -> Vec<(String, Value)> {
    paths
        .iter()
        .map(|p| {
            let mut cur = v;
            for k in p.split('.') {
                cur = &cur[k];
            }
            (p.to_string(), cur.clone())
        })
        .collect()
}

fn shape(s: &Seen) -> Vec<(String, Vec<String>)> {
    vec![
        ("connect".into(), keys(&s.connect)),
        ("connect.client".into(), keys(&s.connect["client"])),
        ("auth_err".into(), keys(&s.auth_err)),
        ("auth_err.client".into(), keys(&s.auth_err["client"])),
        ("answered".into(), keys(&s.answered)),
        ("answered.requestor".into(), keys(&s.answered["requestor"])),
        ("answered.responder".into(), keys(&s.answered["responder"])),
        ("bad_request".into(), keys(&s.bad_request)),
        (
            "bad_request.requestor".into(),
            keys(&s.bad_request["requestor"]),
        ),
    ]
}

fn values(s: &Seen) -> Vec<(String, Value)> {
    let mut out = stable(
        &s.connect,
        &[
            "type",
            "client.acc",
            "client.user",
            "client.name",
            "client.lang",
            "client.ver",
            "client.name_tag",
            "client.kind",
            "client.client_type",
        ],
    );
    out.extend(stable(
        &s.auth_err,
        &[
            "type",
            "reason",
            "client.acc",
            "client.user",
            "client.name",
            "client.name_tag",
        ],
    ));
    out.extend(stable(
        &s.answered,
        &[
            "type",
            "status",
            "requestor.acc",
            "requestor.name",
            "requestor.user",
            "responder.acc",
            "responder.name",
            "responder.user",
        ],
    ));
    out.extend(stable(
        &s.bad_request,
        &["status", "description", "requestor.acc"],
    ));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn advisories_and_latency_reports_match_nats_server() {
    let rnats = start(&PathBuf::from(env!("CARGO_BIN_EXE_rnats-server")));
    let ours = scenario(rnats.addr).await;

    // What nats-server 2.15.1 sends, written down from its output.
    let client_keys = [
        "start",
        "host",
        "id",
        "acc",
        "user",
        "name",
        "lang",
        "ver",
        "name_tag",
        "kind",
        "client_type",
    ];
    assert_eq!(
        keys(&ours.connect["client"]),
        client_keys,
        "{}",
        ours.connect
    );
    assert_eq!(
        keys(&ours.answered),
        [
            "type",
            "id",
            "timestamp",
            "status",
            "requestor",
            "responder",
            "start",
            "service",
            "system",
            "total"
        ],
        "{}",
        ours.answered
    );
    assert_eq!(ours.answered["status"], 200);
    assert_eq!(ours.bad_request["status"], 400);
    assert_eq!(ours.auth_err["reason"], "Authentication Failure");
    assert_eq!(ours.auth_err["client"]["user"], "r");

    let Some(reference) = std::env::var_os("RNATS_REFERENCE_SERVER").filter(|v| !v.is_empty())
    else {
        println!("skipped: RNATS_REFERENCE_SERVER not set (rnats checked alone)");
        eprintln!("skipped: RNATS_REFERENCE_SERVER not set (rnats checked alone)");
        return;
    };
    let theirs_proc = start(&PathBuf::from(reference));
    let theirs = scenario(theirs_proc.addr).await;
    assert_eq!(shape(&ours), shape(&theirs), "field names and order");
    assert_eq!(values(&ours), values(&theirs), "values");
}

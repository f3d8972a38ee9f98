//! rnats-bench run as a user would, against an in-process rnats server:
//! each mode with small counts, checking the summary and the CSV file.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use rnats::config::Options;
use rnats::node::ServerHandle;

const BENCH: &str = env!("CARGO_BIN_EXE_rnats-bench");
/// Bound of one tool run (each run also gets --max-time below it).
const RUN_LIMIT: Duration = Duration::from_secs(60);

async fn server() -> ServerHandle {
    rnats::node::start(Options {
        host: "127.0.0.1".into(),
        port: -1,
        ..Default::default()
    })
    .await
    .expect("server starts")
}

async fn server_conf(conf: &str) -> (ServerHandle, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.conf");
    std::fs::write(&path, format!("listen: 127.0.0.1:-1\n{conf}")).unwrap();
    let opts = Options::from_file(&path).expect("config parses");
    (rnats::node::start(opts).await.expect("server starts"), dir)
}

/// Runs the tool (off the runtime, so the in-process server keeps
/// serving), killing it if it outlives [`RUN_LIMIT`].
async fn bench(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(BENCH)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("rnats-bench starts");
        let until = Instant::now() + RUN_LIMIT;
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > until {
                let _ = child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap()
}

fn args(h: &ServerHandle, rest: &[&str]) -> Vec<String> {
    let mut v = vec!["-s".to_string(), h.client_url()];
    v.extend(rest.iter().map(|s| s.to_string()));
    v.extend(["--no-progress".into(), "--max-time".into(), "30s".into()]);
    v
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The `(N msgs)` counts of the per-client lines under `"{side} stats:"`.
fn client_counts(out: &str, side: &str) -> Vec<u64> {
    let mut counts = Vec::new();
    let mut inside = false;
    for l in out.lines() {
        let t = l.trim_start();
        if t.contains(" stats: ") {
            inside = t.starts_with(&format!("{side} stats:"))
                || t.starts_with(&format!("NATS {side} stats:"));
            continue;
        }
        if inside && t.starts_with('[') {
            let n = t.rsplit('(').next().unwrap().trim_end_matches(" msgs)");
            counts.push(n.parse().unwrap());
        }
    }
    counts
}

fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    let body = std::fs::read_to_string(path).unwrap();
    let mut lines = body.lines();
    assert_eq!(
        lines.next().unwrap(),
        "#RunID,ClientID,MsgCount,MsgBytes,MsgsPerSec,BytesPerSec,DurationSecs,\
         LatencyP50us,LatencyP90us,LatencyP99us,LatencyP999us"
    );
    lines
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pub_summary_and_csv() {
    let h = server().await;
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("pub.csv");
    let o = bench(args(
        &h,
        &[
            "pub",
            "bench.pub",
            "--clients",
            "2",
            "--msgs",
            "3001",
            "--size",
            "64",
            "--csv",
            csv.to_str().unwrap(),
        ],
    ))
    .await;
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains("Starting Core NATS publish benchmark"),
        "{out}"
    );
    assert!(out.contains("NATS Pub stats: "), "{out}");
    assert!(out.contains(" msgs/sec ~ "), "{out}");
    assert!(out.contains("| stddev "), "{out}");
    assert_eq!(client_counts(&out, "Pub"), vec![1501, 1500], "{out}");
    let rows = csv_rows(&csv);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0][1], "P0");
    assert_eq!(rows[1][1], "P1");
    let msgs: u64 = rows.iter().map(|r| r[2].parse::<u64>().unwrap()).sum();
    let bytes: u64 = rows.iter().map(|r| r[3].parse::<u64>().unwrap()).sum();
    assert_eq!((msgs, bytes), (3001, 3001 * 64));
    assert!(
        rows.iter().all(|r| r[7].is_empty()),
        "no latency for publishers"
    );
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pubsub_every_subscriber_gets_every_message() {
    let h = server().await;
    let o = bench(args(
        &h,
        &[
            "pubsub", "bench.ps", "--pub", "2", "--sub", "3", "--msgs", "4000", "--size", "1K",
        ],
    ))
    .await;
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("NATS Pub/Sub stats: "), "{out}");
    assert!(
        out.contains(" Pub stats: ") && out.contains(" Sub stats: "),
        "{out}"
    );
    assert_eq!(client_counts(&out, "Pub"), vec![2000, 2000], "{out}");
    assert_eq!(client_counts(&out, "Sub"), vec![4000, 4000, 4000], "{out}");
    assert!(!out.contains("Incomplete"), "{out}");
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_group_shares_the_messages() {
    let h = server().await;
    let o = bench(args(
        &h,
        &[
            "queue", "bench.q", "--pub", "1", "--sub", "3", "--msgs", "3000",
        ],
    ))
    .await;
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("NATS Pub/Queue-Sub stats: "), "{out}");
    let subs = client_counts(&out, "Sub");
    assert_eq!(subs.len(), 3, "{out}");
    assert_eq!(subs.iter().sum::<u64>(), 3000, "{out}");
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reqrep_latency_percentiles_and_csv() {
    let h = server().await;
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("rr.csv");
    let o = bench(args(
        &h,
        &[
            "reqrep",
            "bench.svc",
            "--requesters",
            "2",
            "--repliers",
            "2",
            "--msgs",
            "400",
            "--csv",
            csv.to_str().unwrap(),
        ],
    ))
    .await;
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("NATS Req/Rep stats: "), "{out}");
    assert_eq!(client_counts(&out, "Req"), vec![200, 200], "{out}");
    assert_eq!(client_counts(&out, "Rep").iter().sum::<u64>(), 400, "{out}");
    let lat = out
        .lines()
        .find(|l| l.contains("Latency (400 requests):"))
        .unwrap_or_else(|| panic!("no latency line\n{out}"));
    for p in ["min ", "p50 ", "p90 ", "p99 ", "p99.9 ", "max "] {
        assert!(lat.contains(p), "{lat}");
    }
    let rows = csv_rows(&csv);
    let req: Vec<_> = rows.iter().filter(|r| r[1].starts_with("RQ")).collect();
    let rep: Vec<_> = rows.iter().filter(|r| r[1].starts_with("RP")).collect();
    assert_eq!((req.len(), rep.len()), (2, 2));
    for r in req {
        let p: Vec<f64> = r[7..11].iter().map(|v| v.parse().unwrap()).collect();
        assert!(
            p[0] > 0.0 && p[0] <= p[1] && p[1] <= p[2] && p[2] <= p[3],
            "{r:?}"
        );
    }
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn separate_replier_and_requester_processes() {
    let h = server().await;
    let replier = tokio::spawn(bench(args(
        &h,
        &["reply", "bench.sep", "--clients", "2", "--msgs", "300"],
    )));
    // Wait until the repliers' subscriptions are on the server.
    let nc = async_nats::connect(h.client_url()).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match nc.request("bench.sep", "probe".into()).await {
            Ok(_) => break,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(e) => panic!("repliers never answered: {e}"),
        }
    }
    // The probe counted as one served request.
    let o = bench(args(
        &h,
        &["request", "bench.sep", "--clients", "3", "--msgs", "299"],
    ))
    .await;
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("NATS Req stats: "), "{out}");
    assert!(out.contains("Latency (299 requests)"), "{out}");
    let r = replier.await.unwrap();
    let rout = text(&r);
    assert!(r.status.success(), "{rout}");
    assert_eq!(
        client_counts(&rout, "Rep").iter().sum::<u64>(),
        300,
        "{rout}"
    );
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_without_repliers_fails_clearly() {
    let h = server().await;
    let o = bench(args(&h, &["request", "nobody.home", "--msgs", "5"])).await;
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("no responders on nobody.home"), "{out}");
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_time_bounds_a_run() {
    let h = server().await;
    let mut a = args(&h, &["sub", "bench.quiet", "--msgs", "10"]);
    a.truncate(a.len() - 2);
    a.extend(["--max-time".into(), "300ms".into()]);
    let t = Instant::now();
    let o = bench(a).await;
    let out = text(&o);
    assert!(t.elapsed() < Duration::from_secs(15), "{out}");
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(
        out.contains(
            "Incomplete: subscribers received 0 of 10 messages (--max-time 300ms reached)"
        ),
        "{out}"
    );
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_password_and_token_auth() {
    let (h, _dir) = server_conf("authorization { user: bench, password: s3cret }\n").await;
    let ok = bench(args(
        &h,
        &[
            "--user",
            "bench",
            "--password",
            "s3cret",
            "pub",
            "a.b",
            "--msgs",
            "100",
        ],
    ))
    .await;
    assert!(ok.status.success(), "{}", text(&ok));
    let bad = bench(args(
        &h,
        &[
            "--user",
            "bench",
            "--password",
            "wrong",
            "pub",
            "a.b",
            "--msgs",
            "100",
        ],
    ))
    .await;
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad));
    assert!(text(&bad).contains("cannot connect"), "{}", text(&bad));
    h.shutdown().await;

    let (h, _dir) = server_conf("authorization { token: t0ken }\n").await;
    let ok = bench(args(
        &h,
        &["--token", "t0ken", "pubsub", "a.b", "--msgs", "100"],
    ))
    .await;
    assert!(ok.status.success(), "{}", text(&ok));
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_rate_with_auth_and_csv() {
    let (h, dir) = server_conf("authorization { user: bench, password: s3cret }\n").await;
    let csv = dir.path().join("conns.csv");
    let o = bench(args(
        &h,
        &[
            "--user",
            "bench",
            "--password",
            "s3cret",
            "connect",
            "--clients",
            "3",
            "--conns",
            "40",
            "--csv",
            csv.to_str().unwrap(),
        ],
    ))
    .await;
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains("Starting Core NATS connect benchmark") && out.contains("auth=user/password"),
        "{out}"
    );
    assert!(out.contains("NATS Connect stats: "), "{out}");
    assert!(out.contains(" conns/sec"), "{out}");
    assert!(out.contains("Latency (40 handshakes): min "), "{out}");
    assert!(
        out.contains("Full cycle (handshake + flush + close): "),
        "{out}"
    );
    let rows = csv_rows(&csv);
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0][1], "C0");
    let conns: u64 = rows.iter().map(|r| r[2].parse::<u64>().unwrap()).sum();
    assert_eq!(conns, 40);
    // All the connections are closed again.
    let deadline = Instant::now() + Duration::from_secs(10);
    while h.server.num_clients() > 0 {
        assert!(Instant::now() < deadline, "connections left open");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let bad = bench(args(
        &h,
        &[
            "--user",
            "bench",
            "--password",
            "wrong",
            "connect",
            "--conns",
            "3",
        ],
    ))
    .await;
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad));
    assert!(
        text(&bad).contains("no connection succeeded"),
        "{}",
        text(&bad)
    );
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_server_and_bad_flags() {
    // A port nothing listens on: bind, note it, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let o = bench(vec![
        "-s".into(),
        format!("nats://127.0.0.1:{port}"),
        "pub".into(),
        "--msgs".into(),
        "10".into(),
    ])
    .await;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("cannot connect"), "{}", text(&o));

    let o = bench(vec!["pub".into(), "--size".into(), "1GB".into()]).await;
    assert!(!o.status.success());
    assert!(text(&o).contains("invalid size unit"), "{}", text(&o));

    let o = bench(vec!["--help".into()]).await;
    let help = text(&o);
    assert!(o.status.success());
    for m in [
        "pub", "sub", "pubsub", "queue", "request", "reply", "reqrep", "connect",
    ] {
        assert!(help.contains(&format!("  {m} ")), "{help}");
    }
}

/// The reference nats-server with `conf` (plus a listen address), killed
/// when dropped; `None` (and a "skipped" line) without
/// RNATS_REFERENCE_SERVER.
struct Reference {
    child: std::process::Child,
    url: String,
}

impl Drop for Reference {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn reference(dir: &Path, conf: &str) -> Option<Reference> {
    let Ok(bin) = std::env::var("RNATS_REFERENCE_SERVER") else {
        println!("skipped: RNATS_REFERENCE_SERVER not set");
        return None;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let path = dir.join("ref.conf");
    std::fs::write(&path, format!("{conf}\nlisten: \"127.0.0.1:{port}\"\n")).unwrap();
    let child = Command::new(bin)
        .arg("-c")
        .arg(&path)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("reference server starts");
    let r = Reference {
        child,
        url: format!("nats://127.0.0.1:{port}"),
    };
    let until = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < until, "reference server did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(r)
}

fn ref_args(r: &Reference, rest: &[&str]) -> Vec<String> {
    let mut v = vec!["-s".to_string(), r.url.clone()];
    v.extend(rest.iter().map(|s| s.to_string()));
    v.extend(["--no-progress".into(), "--max-time".into(), "30s".into()]);
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nkey_and_creds_against_the_reference_server() {
    let dir = tempfile::tempdir().unwrap();
    // nkey user
    let user = rnats::nkeys::KeyPair::new_user();
    let seed_file = dir.path().join("user.nk");
    std::fs::write(&seed_file, user.seed().unwrap().as_str()).unwrap();
    let conf = format!(
        "authorization {{ users = [ {{ nkey: \"{}\" }} ] }}",
        user.public_key()
    );
    let Some(r) = reference(dir.path(), &conf) else {
        return;
    };
    let seed = seed_file.to_str().unwrap();
    let o = bench(ref_args(
        &r,
        &["--nkey", seed, "pubsub", "nk.test", "--msgs", "500"],
    ))
    .await;
    assert!(o.status.success(), "{}", text(&o));
    let stranger = dir.path().join("other.nk");
    let other = rnats::nkeys::KeyPair::new_user();
    std::fs::write(&stranger, other.seed().unwrap().as_str()).unwrap();
    let o = bench(ref_args(
        &r,
        &[
            "--nkey",
            stranger.to_str().unwrap(),
            "pub",
            "nk.test",
            "--msgs",
            "5",
        ],
    ))
    .await;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    drop(r);

    // creds (operator mode, memory resolver), made with rnats-nsc
    let nsc = |a: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_rnats-nsc"))
            .env("HOME", dir.path().join("home"))
            .env_remove("NSC_HOME")
            .env_remove("NKEYS_PATH")
            .arg("--data-dir")
            .arg(dir.path().join("stores"))
            .arg("--keystore-dir")
            .arg(dir.path().join("keys"))
            .arg("--config-dir")
            .arg(dir.path().join("config"))
            .args(a)
            .output()
            .unwrap();
        assert!(o.status.success(), "rnats-nsc {a:?}: {}", text(&o));
        String::from_utf8(o.stdout).unwrap()
    };
    nsc(&["add", "operator", "-n", "OP", "--sys"]);
    nsc(&["add", "account", "-n", "A"]);
    nsc(&["add", "user", "-a", "A", "-n", "U"]);
    let conf = nsc(&[
        "generate",
        "config",
        "--mem-resolver",
        "--sys-account",
        "SYS",
    ]);
    let r = reference(dir.path(), &conf).unwrap();
    let creds = dir.path().join("keys/creds/OP/A/U.creds");
    let o = bench(ref_args(
        &r,
        &[
            "--creds",
            creds.to_str().unwrap(),
            "reqrep",
            "creds.test",
            "--msgs",
            "200",
        ],
    ))
    .await;
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("Latency (200 requests)"), "{out}");
}

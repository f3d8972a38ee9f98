//! rnats-top's text snapshot (`--once`) against the reference nats-server
//! (path in RNATS_REFERENCE_SERVER), and its errors without one.

mod common;

use std::net::TcpStream;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const TOP: &str = env!("CARGO_BIN_EXE_rnats-top");

/// Runs rnats-top, killed if it outlives 30 s.
fn top(args: &[&str]) -> Output {
    let mut child = Command::new(TOP)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rnats-top starts");
    let until = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > until {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

struct Reference {
    child: Child,
    port: u16,
    monitor: u16,
}

impl Drop for Reference {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn reference() -> Option<Reference> {
    let Ok(bin) = std::env::var("RNATS_REFERENCE_SERVER") else {
        println!("skipped: RNATS_REFERENCE_SERVER not set");
        return None;
    };
    let (port, monitor) = (common::free_port(), common::free_port());
    let child = Command::new(bin)
        .args([
            "-a",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-m",
            &monitor.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("reference server starts");
    let r = Reference {
        child,
        port,
        monitor,
    };
    let until = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", monitor)).is_err()
        || TcpStream::connect(("127.0.0.1", port)).is_err()
    {
        assert!(Instant::now() < until, "reference server did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(r)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_lists_the_connections_of_the_reference_server() {
    let Some(r) = reference() else { return };
    let url = format!("nats://127.0.0.1:{}", r.port);
    let a = async_nats::ConnectOptions::new()
        .name("top-test-subscriber")
        .connect(&url)
        .await
        .unwrap();
    let _s1 = a.subscribe("top.test.one").await.unwrap();
    let _s2 = a.subscribe("top.test.two.>").await.unwrap();
    a.flush().await.unwrap();
    let b = async_nats::ConnectOptions::new()
        .name("top-test-publisher")
        .connect(&url)
        .await
        .unwrap();
    for _ in 0..25 {
        b.publish("top.test.one", "hello".into()).await.unwrap();
    }
    b.flush().await.unwrap();
    // The reference server updates its counters as the messages flow.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mon = format!("http://127.0.0.1:{}", r.monitor);

    let o = tokio::task::spawn_blocking({
        let mon = mon.clone();
        move || top(&["--once", "--subs", &mon])
    })
    .await
    .unwrap();
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("NATS server version 2.15.1"), "{out}");
    assert!(out.contains("Connections Polled: 2 of 2"), "{out}");
    assert!(out.contains("SUBSCRIPTIONS"), "{out}");
    let sub_row = out
        .lines()
        .find(|l| l.contains("top-test-subscriber"))
        .unwrap_or_else(|| panic!("no subscriber row\n{out}"));
    assert!(sub_row.contains("top.test.one"), "{sub_row}");
    assert!(sub_row.contains("top.test.two.>"), "{sub_row}");
    assert!(sub_row.contains(" rust "), "{sub_row}");
    let pub_row = out
        .lines()
        .find(|l| l.contains("top-test-publisher"))
        .unwrap_or_else(|| panic!("no publisher row\n{out}"));
    // MSGS_FROM of the publisher: its 25 messages.
    assert!(pub_row.split_whitespace().any(|c| c == "25"), "{pub_row}");

    // Go-style flags, server-side sort and limit: the one connection with
    // the most subscriptions.
    let port = r.monitor.to_string();
    let o = tokio::task::spawn_blocking(move || {
        top(&[
            "-s",
            "127.0.0.1",
            "-m",
            &port,
            "-sort",
            "subs",
            "-n",
            "1",
            "-o",
            "-",
        ])
    })
    .await
    .unwrap();
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains("Connections Polled: 1 of 2  (sort: subs)"),
        "{out}"
    );
    assert!(out.contains("top-test-subscriber"), "{out}");
    assert!(!out.contains("top-test-publisher"), "{out}");
    assert!(!out.contains("SUBSCRIPTIONS"), "{out}");

    // uptime: shortest first, as nats-server sorts it (the publisher
    // connected last).
    let port = r.monitor.to_string();
    let o = tokio::task::spawn_blocking(move || top(&["-m", &port, "-sort", "uptime", "--once"]))
        .await
        .unwrap();
    let out = text(&o);
    let at = |name: &str| out.find(name).unwrap_or_else(|| panic!("{name}\n{out}"));
    assert!(
        at("top-test-publisher") < at("top-test-subscriber"),
        "{out}"
    );

    // The live view needs a terminal; piped, it says so instead of hanging.
    let m = mon.clone();
    let o = tokio::task::spawn_blocking(move || top(&[&m]))
        .await
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("not a terminal"), "{}", text(&o));

    // Pointing at the client port, not the monitoring one.
    let client_port = format!("http://127.0.0.1:{}", r.port);
    let o = tokio::task::spawn_blocking(move || top(&["--once", &client_port]))
        .await
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("not an HTTP monitoring port"),
        "{}",
        text(&o)
    );
    drop((a, b));
}

#[test]
fn unreachable_monitor_fails_clearly() {
    let port = common::free_port();
    let o = top(&["--once", &format!("http://127.0.0.1:{port}")]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("rnats-top: /varz smoke test failed"), "{out}");
    assert!(
        out.contains(&format!("cannot reach http://127.0.0.1:{port}/varz")),
        "{out}"
    );
}

#[test]
fn help_lists_keys_and_flags() {
    let o = top(&["--help"]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    for f in [
        "--sort",
        "-d, --delay",
        "-n, --conns",
        "--once",
        "Keys while running",
        "o           change the sort key",
    ] {
        assert!(out.contains(f), "{f}\n{out}");
    }
    let o = top(&["-sort", "bogus", "--once"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("invalid sort key"), "{}", text(&o));
}

//! `rnats-streaming-server` as a process: its flags, the file store across
//! restarts and crashes (kill -9 during a publish storm), and fault-tolerant
//! standby taking over from a killed active server.

mod common;

use std::time::{Duration, Instant};

use common::streaming::{sub_req, Stan, StanClient, WAIT};
use rnats::streaming::proto::StartPosition;

fn log_in(dir: &tempfile::TempDir) -> std::path::PathBuf {
    dir.path().join("stan.log")
}

/// Publishes `1..=n` to `channel`, opens the durable `dur` on it from the
/// first message and acknowledges the first `acked`: returns the request
/// that resumes it.
async fn durable_with_acks(
    c: &mut StanClient,
    channel: &str,
    n: u8,
    acked: usize,
) -> rnats::streaming::proto::SubscriptionRequest {
    for i in 1..=n {
        assert_eq!(c.publish(channel, &[i]).await, "");
    }
    let mut r = sub_req(channel, StartPosition::First);
    r.durable_name = "dur".into();
    let mut sub = c.subscribe(r.clone()).await.unwrap();
    for m in sub.take(usize::from(n)).await.iter().take(acked) {
        c.ack(&sub, m).await;
    }
    // The acks reach the server before it goes away.
    tokio::time::sleep(Duration::from_millis(300)).await;
    r
}

/// Waits (at most `within`) until a standby says it is the active server.
async fn wait_active(standby: &Stan, within: Duration) {
    let deadline = Instant::now() + within;
    while standby.http_get("/streaming/isFTActive").await.0 != 200 {
        assert!(
            Instant::now() < deadline,
            "no takeover:\n{}",
            standby.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn flags_reach_the_engine_and_bad_ones_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = Stan::start(
        &log_in(&dir),
        &["-cid", "my-cluster", "-mm", "2", "-SD", "--hb_interval=5s"],
    );
    let mut c = StanClient::connect(&s.url(), "my-cluster", "c")
        .await
        .unwrap();
    for i in 1..=3u8 {
        assert_eq!(c.publish("foo", &[i]).await, "");
    }
    let mut sub = c
        .subscribe(sub_req("foo", StartPosition::First))
        .await
        .unwrap();
    assert_eq!(sub.take(2).await[0].sequence, 2);
    let (_, storez) = s.http_get("/streaming/storez").await;
    let v: serde_json::Value = serde_json::from_str(&storez).unwrap();
    assert_eq!(v["cluster_id"], "my-cluster");
    assert_eq!(v["limits"]["max_msgs"], 2);
    // A second server for the same cluster ID on the same NATS is refused.
    let other = std::process::Command::new(common::streaming::BIN)
        .args(["-cid", "my-cluster", "-ns", &s.url()])
        .output()
        .unwrap();
    assert!(!other.status.success());
    let err = String::from_utf8_lossy(&other.stderr);
    assert!(
        err.contains("discovered another streaming server with cluster ID \"my-cluster\""),
        "{err}"
    );
    for bad in [
        vec!["-st", "nosuch"],
        vec!["-st", "file"],
        vec!["-cid", "bad.id"],
        vec!["--clustered"],
    ] {
        let out = std::process::Command::new(common::streaming::BIN)
            .args(["-p", &common::free_port().to_string()])
            .args(&bad)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{bad:?} accepted");
    }
}

#[test]
fn the_example_config_is_valid() {
    let conf =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/streaming/streaming.conf");
    let out = std::process::Command::new(common::streaming::BIN)
        .args(["-c", conf.to_str().unwrap(), "-t"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("is valid"));
}

#[tokio::test]
async fn config_file_streaming_block() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("stan.conf");
    let store = dir.path().join("store");
    std::fs::write(
        &conf,
        format!(
            "streaming {{\n  cluster_id: conf-cluster\n  store: file\n  dir: {:?}\n  store_limits {{\n    max_channels: 1\n  }}\n}}\n",
            store.display().to_string()
        ),
    )
    .unwrap();
    let s = Stan::start(&log_in(&dir), &["-c", conf.to_str().unwrap()]);
    let mut c = StanClient::connect(&s.url(), "conf-cluster", "c")
        .await
        .unwrap();
    assert_eq!(c.publish("a", b"x").await, "");
    assert_eq!(c.publish("b", b"x").await, "too many channels");
    assert!(store.join("a").is_dir());
    // Errors in the block name the file, line and key.
    std::fs::write(&conf, "streaming {\n  store: file\n  bogus: 1\n}\n").unwrap();
    let out = std::process::Command::new(common::streaming::BIN)
        .args(["-c", conf.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("stan.conf:3:3: unknown field \"bogus\""),
        "{err}"
    );
}

#[tokio::test]
async fn file_store_keeps_clients_messages_and_durables_across_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let s = Stan::start(
        &log_in(&dir),
        &["-st", "file", "--dir", store.to_str().unwrap()],
    );
    let mut c = StanClient::connect(&s.url(), "test-cluster", "keeper")
        .await
        .unwrap();
    let r = durable_with_acks(&mut c, "orders", 5, 3).await;
    let mut s = s;
    s.stop();
    let s = s.restart();
    assert!(
        s.log_text()
            .contains("Recovered 1 channel(s) and 1 client(s)"),
        "{}",
        s.log_text()
    );
    // The same ID connects again: the old registration (recovered, not
    // answering) is replaced, and the durable resumes at its unacked messages.
    drop(c);
    let c = StanClient::connect(&s.url(), "test-cluster", "keeper")
        .await
        .unwrap();
    let mut sub = c.subscribe(r).await.unwrap();
    let got = sub.take(2).await;
    assert_eq!(
        got.iter().map(|m| m.sequence).collect::<Vec<_>>(),
        vec![4, 5]
    );
    assert!(got.iter().all(|m| m.redelivered));
    let mut all = c
        .subscribe(sub_req("orders", StartPosition::First))
        .await
        .unwrap();
    let data: Vec<u8> = all.take(5).await.iter().map(|m| m.data[0]).collect();
    assert_eq!(data, vec![1, 2, 3, 4, 5]);
}

#[tokio::test]
async fn kill_9_during_a_publish_storm_loses_no_acknowledged_message() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let mut s = Stan::start(
        &log_in(&dir),
        &["-st", "file", "--dir", store.to_str().unwrap()],
    );
    let mut c = StanClient::connect(&s.url(), "test-cluster", "storm")
        .await
        .unwrap();
    // Many publishes in flight; the server is killed while they come back.
    let mut acked = std::collections::BTreeSet::new();
    let total = 20_000u32;
    for i in 0..total {
        c.publish_async("storm", format!("m{i}").as_bytes(), &format!("m{i}"))
            .await;
        if i % 256 == 255 {
            while let Some(a) = c.next_ack(Duration::from_millis(1)).await {
                assert!(a.error.is_empty(), "{}", a.error);
                acked.insert(a.guid);
            }
        }
        if acked.len() >= 2_000 && i % 256 == 255 {
            s.kill9();
            break;
        }
    }
    while let Some(a) = c.next_ack(Duration::from_millis(200)).await {
        if a.error.is_empty() {
            acked.insert(a.guid);
        }
    }
    assert!(
        acked.len() >= 2_000,
        "only {} acked before the kill",
        acked.len()
    );
    let s = s.restart();
    let c = StanClient::connect(&s.url(), "test-cluster", "reader")
        .await
        .unwrap();
    let mut sub = c
        .subscribe(sub_req("storm", StartPosition::First))
        .await
        .unwrap();
    let mut stored = std::collections::BTreeSet::new();
    let mut last = 0;
    while let Some(m) = sub.next(Duration::from_millis(500)).await {
        assert_eq!(m.sequence, last + 1, "sequences are contiguous");
        last = m.sequence;
        c.ack(&sub, &m).await;
        stored.insert(String::from_utf8(m.data).unwrap());
    }
    let lost: Vec<_> = acked.difference(&stored).collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged messages lost ({} stored, last seq {last}), e.g. {:?}",
        lost.len(),
        acked.len(),
        stored.len(),
        lost.first()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_tolerant_standby_takes_over_from_a_killed_active_server() {
    let nats = common::start(common::test_options()).await;
    let url = nats.client_url();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("shared");
    let args = [
        "-ns",
        &url,
        "--ft_group",
        "grp",
        "-st",
        "file",
        "--dir",
        store.to_str().unwrap(),
    ];
    let mut active = Stan::start(&dir.path().join("a.log"), &args);
    let standby =
        Stan::try_start(&dir.path().join("b.log"), &args, "Starting in standby mode").unwrap();
    assert_eq!(active.http_get("/streaming/isFTActive").await.0, 200);
    // The standby stays one while the active one beats.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(standby.http_get("/streaming/isFTActive").await.0, 204);
    let (_, z) = standby.http_get("/streaming/serverz").await;
    assert!(z.contains("FT_STANDBY"), "{z}");
    let mut c = StanClient::connect(&url, "test-cluster", "ft")
        .await
        .unwrap();
    for i in 1..=3u8 {
        assert_eq!(c.publish("ft", &[i]).await, "");
    }
    active.kill9();
    wait_active(&standby, Duration::from_secs(15)).await;
    // The client carries on: its registration was in the store.
    assert_eq!(c.publish("ft", &[4]).await, "");
    let mut sub = c
        .subscribe(sub_req("ft", StartPosition::First))
        .await
        .unwrap();
    let data: Vec<u8> = sub.take(4).await.iter().map(|m| m.data[0]).collect();
    assert_eq!(data, vec![1, 2, 3, 4]);
    assert!(sub.next(WAIT / 10).await.is_none());
}

/// A DSN for a fresh schema of the test PostgreSQL (`RNATS_TEST_POSTGRES`,
/// set by `.ci/run` from `.ci/postgres.sh`), or `None` after saying why the
/// test is skipped.
fn postgres_schema() -> Option<String> {
    let Ok(dsn) = std::env::var("RNATS_TEST_POSTGRES") else {
        println!("skipped: RNATS_TEST_POSTGRES not set");
        eprintln!("skipped: RNATS_TEST_POSTGRES not set");
        return None;
    };
    let schema = format!("t_{}", nuid::next().to_string().to_lowercase());
    let mut c =
        postgres::Client::connect(&dsn, postgres::NoTls).expect("test PostgreSQL reachable");
    c.batch_execute(&format!("CREATE SCHEMA {schema}")).unwrap();
    let sep = if dsn.contains('?') { '&' } else { '?' };
    Some(format!("{dsn}{sep}options=-c%20search_path%3D{schema}"))
}

#[tokio::test]
async fn sql_store_keeps_state_across_a_kill() {
    let Some(dsn) = tokio::task::spawn_blocking(postgres_schema).await.unwrap() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "-st",
        "sql",
        "--sql_driver",
        "postgres",
        "--sql_source",
        &dsn,
    ];
    let mut s = Stan::start(&log_in(&dir), &args);
    let mut c = StanClient::connect(&s.url(), "test-cluster", "sql")
        .await
        .unwrap();
    let r = durable_with_acks(&mut c, "pg", 20, 15).await;
    s.kill9();
    let s = s.restart();
    assert!(s.log_text().contains("Store type: SQL"), "{}", s.log_text());
    drop(c);
    let c = StanClient::connect(&s.url(), "test-cluster", "sql")
        .await
        .unwrap();
    let mut sub = c.subscribe(r).await.unwrap();
    let seqs: Vec<u64> = sub.take(5).await.iter().map(|m| m.sequence).collect();
    assert_eq!(seqs, vec![16, 17, 18, 19, 20]);
    let (_, z) = s.http_get("/streaming/storez").await;
    assert!(z.contains("\"SQL\""), "{z}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_fault_tolerance_on_the_lock_row() {
    let Some(dsn) = tokio::task::spawn_blocking(postgres_schema).await.unwrap() else {
        return;
    };
    let nats = common::start(common::test_options()).await;
    let url = nats.client_url();
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "-ns",
        &url,
        "--ft_group",
        "g",
        "-st",
        "sql",
        "--sql_source",
        &dsn,
        "--encrypt",
        "--encryption_key",
        "k",
    ];
    let mut active = Stan::start(&dir.path().join("a.log"), &args);
    let standby =
        Stan::try_start(&dir.path().join("b.log"), &args, "Starting in standby mode").unwrap();
    let mut c = StanClient::connect(&url, "test-cluster", "ftsql")
        .await
        .unwrap();
    assert_eq!(c.publish("e", b"secret").await, "");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(standby.http_get("/streaming/isFTActive").await.0, 204);
    active.kill9();
    wait_active(&standby, Duration::from_secs(20)).await;
    let mut sub = c
        .subscribe(sub_req("e", StartPosition::First))
        .await
        .unwrap();
    assert_eq!(sub.take(1).await[0].data, b"secret");
    // At rest the payload is sealed.
    let raw = tokio::task::spawn_blocking(move || {
        let mut pg = postgres::Client::connect(&dsn, postgres::NoTls).unwrap();
        pg.query_one("SELECT data FROM Messages", &[])
            .unwrap()
            .get::<_, Vec<u8>>(0)
    })
    .await
    .unwrap();
    assert!(!raw.windows(6).any(|w| w == b"secret"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitioning_serves_listed_channels_and_refuses_overlaps() {
    let nats = common::start(common::test_options()).await;
    let url = nats.client_url();
    let dir = tempfile::tempdir().unwrap();
    let conf = |name: &str, channels: &str| {
        let path = dir.path().join(name);
        std::fs::write(
            &path,
            format!("partitioning: true\nstore_limits {{\n  channels {{\n{channels}\n  }}\n}}\n"),
        )
        .unwrap();
        path
    };
    let a = conf("a.conf", "    \"orders.>\": {}");
    let b = conf("b.conf", "    \"audit\": {}");
    let clash = conf("clash.conf", "    \"orders.eu\": {}");
    let _sa = Stan::start(
        &dir.path().join("a.log"),
        &["-ns", &url, "-sc", a.to_str().unwrap()],
    );
    let _sb = Stan::start(
        &dir.path().join("b.log"),
        &["-ns", &url, "-sc", b.to_str().unwrap()],
    );
    let out = std::process::Command::new(common::streaming::BIN)
        .args(["-ns", &url, "-sc", clash.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("channel \"orders.>\" causes conflict with channels on server"),
        "{err}"
    );
    // Each channel is served by its server; an unlisted one by nobody.
    let mut c = StanClient::connect(&url, "test-cluster", "p")
        .await
        .unwrap();
    assert_eq!(c.publish("orders.us", b"1").await, "");
    assert_eq!(c.publish("audit", b"2").await, "");
    let mut sub = c
        .subscribe(sub_req("orders.us", StartPosition::First))
        .await
        .unwrap();
    assert_eq!(sub.take(1).await[0].data, b"1");
    let e = c
        .subscribe(sub_req("other", StartPosition::First))
        .await
        .err()
        .unwrap();
    assert!(e.contains("timeout"), "{e}");
}

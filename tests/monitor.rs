//! HTTP monitoring against an in-process server: the endpoints are fetched
//! with a plain hyper client, `/metrics` is read with `prometheus-parse`.

mod common;

use bytes::Bytes;
use common::{start, test_options, Raw};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use rnats::config::Options;
use rnats::node::ServerHandle;
use serde_json::Value;
use std::time::Duration;
use tokio::net::TcpStream;

const T: Duration = Duration::from_secs(5);

fn monitored() -> Options {
    Options {
        http_port: -1,
        ..test_options()
    }
}

struct Got {
    status: u16,
    content_type: String,
    cors: Option<String>,
    body: Vec<u8>,
}

async fn get(h: &ServerHandle, path: &str) -> Got {
    let addr = h.monitor_addr.expect("monitoring is on");
    let stream = tokio::time::timeout(T, TcpStream::connect(addr))
        .await
        .unwrap()
        .unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = hyper::Request::get(path)
        .header("host", addr.to_string())
        .body(Empty::<Bytes>::new())
        .unwrap();
    let resp = tokio::time::timeout(T, sender.send_request(req))
        .await
        .unwrap()
        .unwrap();
    let header = |n: &str| {
        resp.headers()
            .get(n)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let (status, content_type, cors) = (
        resp.status().as_u16(),
        header("content-type").unwrap_or_default(),
        header("access-control-allow-origin"),
    );
    let body = tokio::time::timeout(T, resp.into_body().collect())
        .await
        .unwrap()
        .unwrap()
        .to_bytes()
        .to_vec();
    Got {
        status,
        content_type,
        cors,
        body,
    }
}

async fn json(h: &ServerHandle, path: &str) -> Value {
    let g = get(h, path).await;
    assert_eq!(
        g.status,
        200,
        "{path}: {}",
        String::from_utf8_lossy(&g.body)
    );
    serde_json::from_slice(&g.body).unwrap()
}

/// Polls `path` until `ok` holds (bounded), returning the last document.
async fn json_until(h: &ServerHandle, path: &str, ok: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..100 {
        let v = json(h, path).await;
        if ok(&v) {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    panic!(
        "{path} never reached the expected state: {}",
        json(h, path).await
    );
}

fn cids(v: &Value) -> Vec<u64> {
    v["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["cid"].as_u64().unwrap())
        .collect()
}

fn cid(r: &Raw) -> u64 {
    r.info["client_id"].as_u64().unwrap()
}

#[tokio::test]
async fn monitoring_is_off_unless_asked() {
    let h = start(test_options()).await;
    assert!(h.monitor_addr.is_none() && h.monitor_url().is_none());
    h.shutdown().await;
}

#[tokio::test]
async fn varz_identity_limits_and_counters() {
    let h = start(Options {
        max_payload: 4096,
        max_connections: 77,
        ping_interval: Duration::from_secs(30),
        ..monitored()
    })
    .await;
    let mut a = Raw::connected(&h, "{}").await;
    let mut b = Raw::connected(&h, "{}").await;
    a.send("SUB c.* 1\r\nSUB c.x 2\r\n").await;
    b.send("SUB c.x 1\r\n").await;
    a.sync().await;
    b.sync().await;
    b.send("PUB c.x 7\r\nppppppp\r\n".repeat(10)).await;
    assert_eq!(b.sync().await.len(), 10);
    assert_eq!(a.sync().await.len(), 20);

    let v = json(&h, "/varz").await;
    assert_eq!(v["server_id"], a.info["server_id"]);
    assert_eq!(v["version"], rnats::VERSION);
    assert_eq!(v["host"], "127.0.0.1");
    assert_eq!(v["port"].as_u64(), Some(h.addr.port().into()));
    assert_eq!(
        v["http_port"].as_u64(),
        Some(h.monitor_addr.unwrap().port().into())
    );
    assert_eq!(v["max_payload"], 4096);
    assert_eq!(v["max_connections"], 77);
    assert_eq!(v["ping_interval"], 30_000_000_000u64);
    assert_eq!(v["connections"], 2);
    assert_eq!(v["total_connections"], 2);
    assert_eq!(v["subscriptions"], 3);
    assert_eq!(
        (v["in_msgs"].as_u64(), v["in_bytes"].as_u64()),
        (Some(10), Some(70))
    );
    assert_eq!(
        (v["out_msgs"].as_u64(), v["out_bytes"].as_u64()),
        (Some(30), Some(210))
    );
    assert_eq!(v["out_client_msgs"], v["out_msgs"]);
    assert!(v["mem"].as_u64().unwrap() > 0);
    assert!(v["start"].as_str().unwrap().ends_with('Z'));

    // What a closed connection received stays in the totals.
    drop(a);
    let v = json_until(&h, "/varz", |v| v["connections"] == 1).await;
    assert_eq!(v["out_msgs"], 30);
    assert_eq!(v["subscriptions"], 1);
    assert_eq!(
        v["http_req_stats"]["/varz"].as_u64().map(|n| n >= 2),
        Some(true)
    );
    h.shutdown().await;
}

#[tokio::test]
async fn connz_fields_sorting_paging_and_filters() {
    let h = start(monitored()).await;
    let mut a = Raw::connected(&h, r#"{"name":"alpha","lang":"rust","version":"9.9"}"#).await;
    let mut b = Raw::connected(&h, r#"{"name":"beta"}"#).await;
    let mut c = Raw::connected(&h, r#"{"name":"gamma"}"#).await;
    a.send("SUB x 1\r\n").await;
    b.send("SUB x 1\r\nSUB y q 2\r\nSUB z 3\r\n").await;
    a.sync().await;
    b.sync().await;
    c.send("PUB x 3\r\nabc\r\nPUB y 1\r\nz\r\n").await;
    c.sync().await;
    a.sync().await;
    b.sync().await;
    let (ca, cb, cc) = (cid(&a), cid(&b), cid(&c));

    let cz = json(&h, "/connz").await;
    assert_eq!(
        (cz["num_connections"].as_u64(), cz["total"].as_u64()),
        (Some(3), Some(3))
    );
    assert_eq!(
        (cz["offset"].as_u64(), cz["limit"].as_u64()),
        (Some(0), Some(1024))
    );
    assert_eq!(cids(&cz), [ca, cb, cc]);
    let e = &cz["connections"][0];
    assert_eq!(
        (
            e["name"].as_str(),
            e["lang"].as_str(),
            e["version"].as_str()
        ),
        (Some("alpha"), Some("rust"), Some("9.9"))
    );
    assert_eq!(
        (e["kind"].as_str(), e["type"].as_str()),
        (Some("Client"), Some("nats"))
    );
    assert_eq!(e["ip"], "127.0.0.1");
    assert_eq!(
        e["port"].as_u64(),
        Some(a.stream.local_addr().unwrap().port().into())
    );
    assert_eq!(
        (e["out_msgs"].as_u64(), e["out_bytes"].as_u64()),
        (Some(1), Some(3))
    );
    assert_eq!(e["subscriptions"], 1);
    assert!(e.get("subscriptions_list").is_none() && e.get("name_tag").is_none());
    let g = &cz["connections"][2];
    assert_eq!(
        (g["in_msgs"].as_u64(), g["in_bytes"].as_u64()),
        (Some(2), Some(4))
    );

    // Sorting: descending by counters, ties by cid.
    assert_eq!(cids(&json(&h, "/connz?sort=subs").await), [cb, ca, cc]);
    assert_eq!(cids(&json(&h, "/connz?sort=msgs_to").await), [cb, ca, cc]);
    assert_eq!(cids(&json(&h, "/connz?sort=bytes_from").await)[0], cc);
    assert_eq!(cids(&json(&h, "/connz?sort=uptime").await), [cc, cb, ca]);

    // Paging and one connection by id.
    let p = json(&h, "/connz?limit=1&offset=1").await;
    assert_eq!(
        (p["total"].as_u64(), p["num_connections"].as_u64()),
        (Some(3), Some(1))
    );
    assert_eq!(cids(&p), [cb]);
    assert_eq!(cids(&json(&h, &format!("/connz?cid={cc}")).await), [cc]);
    assert!(cids(&json(&h, "/connz?offset=10").await).is_empty());

    // Subscriptions, as subjects or in detail.
    let s = json(&h, &format!("/connz?cid={cb}&subs=1")).await;
    let mut subjects: Vec<&str> = s["connections"][0]["subscriptions_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    subjects.sort();
    assert_eq!(subjects, ["x", "y", "z"]);
    let d = json(&h, &format!("/connz?cid={cb}&subs=detail")).await;
    let mut detail = d["connections"][0]["subscriptions_list_detail"]
        .as_array()
        .unwrap()
        .clone();
    detail.sort_by_key(|d| d["sid"].as_str().unwrap().to_owned());
    assert_eq!(
        detail[1],
        serde_json::json!({"subject": "y", "qgroup": "q", "sid": "2", "msgs": 1, "cid": cb})
    );

    // auth=1 reports the account (global: only its name tag) and filters.
    let au = json(&h, "/connz?auth=1").await;
    assert_eq!(au["connections"][0]["name_tag"], "$G");
    assert!(au["connections"][0].get("account").is_none());
    assert_eq!(json(&h, "/connz?acc=$G").await["total"], 3);
    assert_eq!(json(&h, "/connz?acc=nope").await["total"], 0);

    // Errors are nats-server's.
    for (q, text) in [
        ("sort=bogus", "invalid sorting option: bogus"),
        ("sort=stop", "sort by stop only valid on closed connections"),
        ("state=x", "Error decoding state for x"),
        (
            "limit=x",
            "Error decoding int for 'limit': strconv.Atoi: parsing \"x\": invalid syntax",
        ),
    ] {
        let g = get(&h, &format!("/connz?{q}")).await;
        assert_eq!(g.status, 400, "{q}");
        assert_eq!(String::from_utf8_lossy(&g.body), text);
        assert!(g.content_type.starts_with("text/plain"));
    }
    h.shutdown().await;
}

#[tokio::test]
async fn connz_closed_connections() {
    let h = start(monitored()).await;
    let mut a = Raw::connected(&h, r#"{"name":"doomed"}"#).await;
    a.send("SUB gone.a 1\r\n").await;
    a.sync().await;
    let ca = cid(&a);
    let mut b = Raw::connected(&h, r#"{"name":"violator"}"#).await;
    let cb = cid(&b);
    drop(a);
    b.send("BOGUS\r\n").await;
    assert!(b.closed_within(T).await);
    let keep = Raw::connected(&h, "{}").await;

    let cz = json_until(&h, "/connz?state=closed", |v| v["total"] == 2).await;
    assert_eq!(cids(&cz), [ca, cb]);
    let e = &cz["connections"][0];
    assert_eq!(
        (e["reason"].as_str(), e["name"].as_str()),
        (Some("Client Closed"), Some("doomed"))
    );
    assert!(e["stop"].as_str().unwrap().ends_with('Z'));
    assert_eq!(cz["connections"][1]["reason"], "Protocol Violation");
    let s = json(&h, &format!("/connz?state=closed&cid={ca}&subs=1")).await;
    assert_eq!(
        s["connections"][0]["subscriptions_list"],
        serde_json::json!(["gone.a"])
    );

    // Sorting closed connections by stop (latest first) and by reason.
    let by_stop = cids(&json(&h, "/connz?state=closed&sort=stop").await);
    assert_eq!(by_stop.len(), 2);
    assert_eq!(
        cids(&json(&h, "/connz?state=closed&sort=reason").await),
        [ca, cb]
    );

    let all = json(&h, "/connz?state=all").await;
    assert_eq!(all["total"], 3);
    assert_eq!(cids(&all), [ca, cb, cid(&keep)]);
    assert_eq!(cids(&json(&h, "/connz").await), [cid(&keep)]);
    h.shutdown().await;
}

#[tokio::test]
async fn connz_last_activity_moves_with_traffic() {
    let h = start(monitored()).await;
    let mut a = Raw::connected(&h, "{}").await;
    let mut b = Raw::connected(&h, "{}").await;
    let c0 = json(&h, &format!("/connz?cid={}", cid(&a))).await;
    assert_eq!(
        c0["connections"][0]["last_activity"],
        c0["connections"][0]["start"]
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    a.send("SUB t 1\r\n").await;
    a.sync().await;
    let c1 = json(&h, &format!("/connz?cid={}", cid(&a))).await;
    let (start, last) = (
        c1["connections"][0]["start"].as_str().unwrap().to_owned(),
        c1["connections"][0]["last_activity"]
            .as_str()
            .unwrap()
            .to_owned(),
    );
    assert!(last > start, "{last} should be after {start}");
    // The most recently active connection comes first with sort=last, and
    // last with sort=idle.
    assert_eq!(cids(&json(&h, "/connz?sort=last").await)[0], cid(&a));
    assert_eq!(cids(&json(&h, "/connz?sort=idle").await)[0], cid(&b));
    b.sync().await;
    h.shutdown().await;
}

#[tokio::test]
async fn subsz_counts_lists_and_tests() {
    let h = start(monitored()).await;
    let mut c = Raw::connected(&h, "{}").await;
    c.send("SUB s.one 1\r\nSUB s.* grp 2\r\nSUB other 3\r\n")
        .await;
    c.sync().await;
    let sz = json(&h, "/subsz").await;
    assert_eq!(sz["num_subscriptions"], 3);
    assert_eq!(sz["num_inserts"], 3);
    assert_eq!(sz["total"], 0);
    assert!(sz.get("subscriptions_list").is_none());

    let sz = json(&h, "/subsz?subs=1").await;
    assert_eq!(sz["total"], 3);
    let list = sz["subscriptions_list"].as_array().unwrap();
    assert!(list.iter().any(|s| *s
        == serde_json::json!({"account": "$G", "account_tag": "$G", "subject": "s.*",
                               "qgroup": "grp", "sid": "2", "msgs": 0, "cid": cid(&c)})));

    let t = json(&h, "/subsz?subs=1&test=s.one").await;
    let mut subjects: Vec<&str> = t["subscriptions_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["subject"].as_str().unwrap())
        .collect();
    subjects.sort();
    assert_eq!(subjects, ["s.*", "s.one"]);
    assert_eq!(
        json(&h, "/subsz?subs=1&limit=1&offset=2").await["subscriptions_list"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        json(&h, "/subscriptionsz?acc=$SYS").await["num_subscriptions"],
        0
    );
    assert_eq!(get(&h, "/subsz?test=s.*").await.status, 400);

    c.send("UNSUB 1\r\n").await;
    c.sync().await;
    let sz = json(&h, "/subsz").await;
    assert_eq!(
        (sz["num_subscriptions"].as_u64(), sz["num_removes"].as_u64()),
        (Some(2), Some(1))
    );
    h.shutdown().await;
}

#[tokio::test]
async fn accountz_and_accstatz() {
    let h = start(monitored()).await;
    let az = json(&h, "/accountz").await;
    assert_eq!(az["accounts"], serde_json::json!(["$G", "$SYS"]));
    assert_eq!(az["system_account"], "$SYS");

    let mut a = Raw::connected(&h, "{}").await;
    let mut b = Raw::connected(&h, "{}").await;
    a.send("SUB acc.x 1\r\n").await;
    a.sync().await;
    b.send("PUB acc.x 4\r\nabcd\r\n").await;
    b.sync().await;
    a.sync().await;

    let d = json(&h, "/accountz?acc=$G").await["account_detail"].clone();
    assert_eq!(d["account_name"], "$G");
    assert_eq!(d["client_connections"], 2);
    assert_eq!(d["subscriptions"], 1);
    assert_eq!(
        (d["expired"].as_bool(), d["complete"].as_bool()),
        (Some(false), Some(true))
    );
    assert_eq!(d["sublist_stats"]["num_subscriptions"], 1);
    assert!(d.get("is_system").is_none());
    assert_eq!(
        json(&h, "/accountz?acc=$SYS").await["account_detail"]["is_system"],
        true
    );
    let g = get(&h, "/accountz?acc=nope").await;
    assert_eq!(
        (g.status, String::from_utf8_lossy(&g.body).into_owned()),
        (400, "Account nope does not exist".to_owned())
    );

    let st = json(&h, "/accstatz").await;
    let accs = st["account_statz"].as_array().unwrap();
    assert_eq!(accs.len(), 1, "only accounts in use: {st}");
    let g = &accs[0];
    assert_eq!(
        (
            g["acc"].as_str(),
            g["conns"].as_u64(),
            g["total_conns"].as_u64()
        ),
        (Some("$G"), Some(2), Some(2))
    );
    assert_eq!(g["num_subscriptions"], 1);
    assert_eq!(g["sent"]["msgs"], 1);
    assert_eq!(g["sent"]["bytes"], 4);
    assert_eq!(g["received"]["msgs"], 1);
    assert_eq!(
        g["sent"]["routes"],
        serde_json::json!({"msgs": 0, "bytes": 0})
    );
    let all = json(&h, "/accstatz?unused=1").await;
    assert_eq!(all["account_statz"].as_array().unwrap().len(), 2);

    // Closed connections' traffic stays with the account.
    drop(a);
    drop(b);
    let st = json_until(&h, "/accstatz?unused=true", |v| {
        v["account_statz"][0]["conns"] == 0
    })
    .await;
    let g = &st["account_statz"][0];
    assert_eq!(
        (g["sent"]["msgs"].as_u64(), g["received"]["bytes"].as_u64()),
        (Some(1), Some(4))
    );
    h.shutdown().await;
}

#[tokio::test]
async fn headers_health_index_and_unknown_paths() {
    let h = start(monitored()).await;
    let g = get(&h, "/healthz").await;
    assert_eq!((g.status, &g.body[..]), (200, &br#"{"status":"ok"}"#[..]));
    assert_eq!(g.content_type, "application/json");
    assert_eq!(g.cors.as_deref(), Some("*"));
    for path in [
        "/varz",
        "/connz",
        "/subsz",
        "/accountz",
        "/accstatz",
        "/routez",
        "/gatewayz",
        "/leafz",
        "/jsz",
    ] {
        let g = get(&h, path).await;
        assert_eq!(g.status, 200, "{path}");
        assert_eq!(g.content_type, "application/json", "{path}");
        let body = String::from_utf8(g.body).unwrap();
        assert!(
            body.starts_with("{\n  \""),
            "{path} is pretty-printed: {body:.40}"
        );
    }
    let root = get(&h, "/").await;
    assert!(root.content_type.starts_with("text/html"));
    assert!(String::from_utf8_lossy(&root.body).contains("/connz"));
    assert_eq!(get(&h, "/nope").await.status, 404);
    assert_eq!(get(&h, "/varz/extra").await.status, 404);
    assert_eq!(json(&h, "/routez").await["num_routes"], 0);
    assert_eq!(json(&h, "/jsz").await["disabled"], true);
    h.shutdown().await;
}

#[tokio::test]
async fn base_path_prefixes_every_endpoint() {
    let h = start(Options {
        http_base_path: "/mon/".into(),
        ..monitored()
    })
    .await;
    assert_eq!(json(&h, "/mon/varz").await["http_base_path"], "/mon/");
    assert_eq!(get(&h, "/mon").await.status, 200);
    assert_eq!(get(&h, "/mon/metrics").await.status, 200);
    assert_eq!(get(&h, "/varz").await.status, 404);
    h.shutdown().await;
}

#[tokio::test]
async fn shutdown_closes_the_monitoring_port() {
    let h = start(monitored()).await;
    let addr = h.monitor_addr.unwrap();
    assert_eq!(get(&h, "/healthz").await.status, 200);
    h.shutdown().await;
    assert!(TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn monitor_port_in_use_fails_start() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let err = rnats::node::start(Options {
        http_port: taken.local_addr().unwrap().port().into(),
        ..test_options()
    })
    .await
    .err()
    .expect("start fails");
    assert!(err.to_string().contains("monitor port"), "{err}");
}

mod metrics {
    use super::*;
    use prometheus_parse::{Sample, Scrape, Value as PValue};

    async fn scrape(h: &ServerHandle) -> Scrape {
        let g = get(h, "/metrics").await;
        assert_eq!(g.status, 200);
        assert!(
            g.content_type.starts_with("text/plain; version=0.0.4"),
            "{}",
            g.content_type
        );
        let text = String::from_utf8(g.body).unwrap();
        let lines: Vec<String> = text.lines().map(str::to_owned).collect();
        let scrape = Scrape::parse(lines.iter().cloned().map(Ok)).unwrap();
        // Every sample line was understood (the parser skips what it cannot read).
        let sample_lines = lines
            .iter()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .count();
        assert_eq!(scrape.samples.len(), sample_lines, "{text}");
        for s in &scrape.samples {
            assert!(s.metric.starts_with("rnats_"), "{}", s.metric);
            assert!(scrape.docs.contains_key(&s.metric), "{} has HELP", s.metric);
        }
        scrape
    }

    fn find<'a>(s: &'a Scrape, name: &str, account: Option<&str>) -> Option<&'a Sample> {
        s.samples
            .iter()
            .find(|x| x.metric == name && x.labels.get("account") == account)
    }

    fn value(s: &Scrape, name: &str, account: Option<&str>) -> f64 {
        match find(s, name, account)
            .unwrap_or_else(|| panic!("{name} {account:?} missing"))
            .value
        {
            PValue::Counter(v) | PValue::Gauge(v) | PValue::Untyped(v) => v,
            ref other => panic!("{name}: {other:?}"),
        }
    }

    fn is_counter(s: &Scrape, name: &str, account: Option<&str>) -> bool {
        matches!(
            find(s, name, account).map(|x| &x.value),
            Some(PValue::Counter(_))
        )
    }

    #[tokio::test]
    async fn server_and_account_series() {
        let h = start(Options {
            max_subs: 10,
            ..monitored()
        })
        .await;
        let mut a = Raw::connected(&h, "{}").await;
        let mut b = Raw::connected(&h, "{}").await;
        a.send("SUB m.* 1\r\nSUB m.x 2\r\n").await;
        a.sync().await;
        b.send("PUB m.x 5\r\nhello\r\n".repeat(3)).await;
        b.sync().await;
        assert_eq!(a.sync().await.len(), 6);

        let s = scrape(&h).await;
        assert_eq!(value(&s, "rnats_connections", None), 2.0);
        assert_eq!(value(&s, "rnats_connections_total", None), 2.0);
        assert!(is_counter(&s, "rnats_connections_total", None));
        assert_eq!(value(&s, "rnats_subscriptions", None), 2.0);
        assert_eq!(value(&s, "rnats_in_msgs_total", None), 3.0);
        assert_eq!(value(&s, "rnats_in_bytes_total", None), 15.0);
        assert_eq!(value(&s, "rnats_out_msgs_total", None), 6.0);
        assert_eq!(value(&s, "rnats_out_bytes_total", None), 30.0);
        assert_eq!(value(&s, "rnats_max_connections", None), 65536.0);
        assert_eq!(value(&s, "rnats_connections_headroom", None), 65534.0);
        assert_eq!(value(&s, "rnats_slow_consumers_total", None), 0.0);
        let info = find(&s, "rnats_info", None).unwrap();
        assert_eq!(info.labels.get("server_id"), Some(h.server.id.as_str()));

        let g = Some("$G");
        assert_eq!(value(&s, "rnats_account_connections", g), 2.0);
        assert_eq!(value(&s, "rnats_account_connections", Some("$SYS")), 0.0);
        assert_eq!(value(&s, "rnats_account_subscriptions", g), 2.0);
        assert_eq!(value(&s, "rnats_account_in_msgs_total", g), 3.0);
        assert_eq!(value(&s, "rnats_account_in_bytes_total", g), 15.0);
        assert_eq!(value(&s, "rnats_account_out_msgs_total", g), 6.0);
        assert_eq!(value(&s, "rnats_account_out_bytes_total", g), 30.0);
        assert!(is_counter(&s, "rnats_account_out_msgs_total", g));
        assert_eq!(value(&s, "rnats_account_subscriptions_headroom", g), 8.0);
        assert_eq!(
            value(&s, "rnats_account_pending_headroom_bytes", g),
            64.0 * 1024.0 * 1024.0
        );
        assert!(find(&s, "rnats_account_pending_headroom_bytes", Some("$SYS")).is_none());

        // Counters survive the connections that made them.
        drop(a);
        drop(b);
        json_until(&h, "/varz", |v| v["connections"] == 0).await;
        let s = scrape(&h).await;
        assert_eq!(value(&s, "rnats_connections", None), 0.0);
        assert_eq!(value(&s, "rnats_account_out_msgs_total", g), 6.0);
        assert_eq!(value(&s, "rnats_account_in_bytes_total", g), 15.0);
        assert_eq!(value(&s, "rnats_out_msgs_total", None), 6.0);
        let reqs = s
            .samples
            .iter()
            .find(|x| {
                x.metric == "rnats_http_requests_total" && x.labels.get("path") == Some("/metrics")
            })
            .expect("requests per path");
        assert!(matches!(reqs.value, PValue::Counter(v) if v >= 1.0));
        h.shutdown().await;
    }

    #[tokio::test]
    async fn slow_consumers_are_counted_per_account() {
        let h = start(Options {
            max_pending: 2048,
            ..monitored()
        })
        .await;
        let mut slow = Raw::connected(&h, "{}").await;
        slow.send("SUB flood 1\r\n").await;
        slow.sync().await;
        let mut p = Raw::connected(&h, "{}").await;
        // The subscriber never reads; once the kernel's socket buffers are
        // full, flow control pauses the publisher, and what it still
        // publishes overflows max_pending (up to 10 MB, bounded).
        let payload = "x".repeat(1000);
        for _ in 0..200 {
            p.send(format!("PUB flood 1000\r\n{payload}\r\n").repeat(50))
                .await;
            if h.server
                .stats
                .slow_consumers
                .load(std::sync::atomic::Ordering::Relaxed)
                > 0
            {
                break;
            }
        }
        p.sync().await;
        let st = json_until(&h, "/varz", |v| v["slow_consumers"] == 1).await;
        assert_eq!(st["slow_consumer_stats"]["clients"], 1);
        let s = scrape(&h).await;
        assert_eq!(value(&s, "rnats_slow_consumers_total", None), 1.0);
        assert_eq!(
            value(&s, "rnats_account_slow_consumers_total", Some("$G")),
            1.0
        );
        let reason = json(&h, "/connz?state=closed").await["connections"][0]["reason"].clone();
        assert_eq!(reason, "Slow Consumer (Pending Bytes)");
        h.shutdown().await;
    }
}

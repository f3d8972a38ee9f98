//! Service latency tracking, as nats-server 2.15.1 reports it: a service
//! export with `latency { sampling, subject }` has requests crossing its
//! imports measured, and the exporter's account receives an
//! `io.nats.server.metric.v1.service_latency` report on the results subject
//! for each sampled request: 200 when answered, 400 without a reply subject,
//! 503 when no responder got it, 504 when the response threshold passed,
//! 408 when the requestor stopped listening. Every wait is bounded.

mod common;

use common::operator::*;
use common::{start_conf, try_start_conf, Raw};
use rnats::jwt::{Export, ExportType, Import, ServiceLatency};
use rnats::nkeys::KeyPair;
use rnats::node::ServerHandle;
use serde_json::Value;

fn conf(export_extra: &str, import_extra: &str) -> String {
    format!(
        r#"
accounts {{
  S {{
    users [{{user: s, password: spw}}]
    exports [{{service: "svc.>", {export_extra}}}]
  }}
  R {{
    users [{{user: r, password: rpw}}]
    imports [{{service: {{account: S, subject: "svc.>"}}, {import_extra}}}]
  }}
}}
"#
    )
}

async fn login(h: &ServerHandle, who: &str) -> Raw {
    Box::pin(Raw::connected(
        h,
        &format!(r#"{{"user":"{who}","pass":"{who}pw","name":"{who}-app","headers":true}}"#),
    ))
    .await
}

async fn frame(r: &mut Raw) -> String {
    Box::pin(r.frame()).await.expect("a frame in time")
}

/// The JSON payload of the next message `r` receives on a results subject.
async fn report(r: &mut Raw) -> Value {
    let f = frame(r).await;
    assert!(f.starts_with("MSG lat "), "{f}");
    let json = f.splitn(4, ' ').nth(3).expect("payload");
    serde_json::from_str(json).expect("a JSON report")
}

/// The reply subject of `MSG subj sid reply payload` / HMSG frames.
fn reply_of(f: &str) -> String {
    f.split(' ').nth(3).expect("reply").to_owned()
}

/// A monitor subscribed to `lat` in S, a responder on `svc.>` in S (when
/// `respond`), and a requestor in R subscribed to its inbox.
async fn setup(h: &ServerHandle, respond: bool) -> (Raw, Option<Raw>, Raw) {
    let mut monitor = login(h, "s").await;
    monitor.send("SUB lat 1\r\n").await;
    monitor.sync().await;
    let responder = if respond {
        let mut r = login(h, "s").await;
        r.send("SUB svc.> 1\r\n").await;
        r.sync().await;
        Some(r)
    } else {
        None
    };
    let mut req = login(h, "r").await;
    req.send("SUB inbox.> 1\r\n").await;
    req.sync().await;
    (monitor, responder, req)
}

fn assert_common(v: &Value, status: u64) {
    assert_eq!(v["type"], "io.nats.server.metric.v1.service_latency", "{v}");
    assert_eq!(v["status"], status, "{v}");
    assert_eq!(v["id"].as_str().map(str::len), Some(22), "{v}");
    assert!(v["start"].as_str().is_some_and(|s| s.ends_with('Z')), "{v}");
    for k in ["service", "system", "total"] {
        assert!(v[k].is_u64(), "{k} in {v}");
    }
}

#[tokio::test]
async fn an_answered_request_is_reported_with_both_sides() {
    let h = start_conf(&conf(
        r#"latency: { sampling: 100, subject: "lat" }"#,
        "share: true",
    ))
    .await;
    let (mut monitor, responder, mut req) = setup(&h, true).await;
    let mut responder = responder.unwrap();
    req.send("PUB svc.a inbox.1 4\r\nping\r\n").await;
    let got = frame(&mut responder).await;
    assert!(got.starts_with("HMSG svc.a 1 _R_."), "{got}");
    assert!(got.contains("Nats-Request-Info"), "{got}");
    responder
        .send(format!("PUB {} 4\r\npong\r\n", reply_of(&got)))
        .await;
    assert_eq!(frame(&mut req).await, "MSG inbox.1 1 pong");

    let v = report(&mut monitor).await;
    assert_common(&v, 200);
    assert!(v.get("description").is_none(), "{v}");
    assert_eq!(v["requestor"]["acc"], "R", "{v}");
    assert_eq!(v["requestor"]["name"], "r-app", "shared: {v}");
    assert_eq!(v["requestor"]["user"], "r", "{v}");
    assert_eq!(v["responder"]["acc"], "S", "{v}");
    assert_eq!(v["responder"]["name"], "s-app", "{v}");
    assert_eq!(v["responder"]["kind"], "Client", "{v}");
    assert!(v["total"].as_u64().unwrap() >= v["service"].as_u64().unwrap());
    // One report per request: the next message on `lat` is the next report.
    req.send("PUB svc.b 4\r\nping\r\n").await;
    let f = frame(&mut responder).await;
    assert!(f.starts_with("HMSG svc.b 1 "), "{f}");
    assert_common(&report(&mut monitor).await, 400);
}

#[tokio::test]
async fn a_requestor_that_does_not_share_shows_only_its_account() {
    let h = start_conf(&conf(r#"latency: "lat""#, "")).await;
    let (mut monitor, responder, mut req) = setup(&h, true).await;
    let mut responder = responder.unwrap();
    req.send("PUB svc.a inbox.1 1\r\nx\r\n").await;
    let got = frame(&mut responder).await;
    responder
        .send(format!("PUB {} 1\r\ny\r\n", reply_of(&got)))
        .await;
    let v = report(&mut monitor).await;
    assert_common(&v, 200);
    let requestor = v["requestor"].as_object().expect("requestor");
    assert!(
        requestor.keys().all(|k| k == "acc" || k == "rtt"),
        "only account and rtt without share: {v}"
    );
    assert_eq!(v["requestor"]["acc"], "R");
    assert_eq!(v["responder"]["name"], "s-app", "{v}");
}

#[tokio::test]
async fn failures_carry_nats_server_status_codes() {
    let h = start_conf(&conf(
        r#"latency: { sampling: "100%", subject: "lat" }, threshold: "1s""#,
        "",
    ))
    .await;
    // No responder: 503.
    let (mut monitor, _, mut req) = setup(&h, false).await;
    req.send("PUB svc.a inbox.1 1\r\nx\r\n").await;
    let v = report(&mut monitor).await;
    assert_common(&v, 503);
    assert_eq!(v["description"], "Service Unavailable");
    assert_eq!(v["requestor"]["acc"], "R");
    assert!(v.get("responder").is_none(), "{v}");

    // No reply subject: 400.
    req.send("PUB svc.a 1\r\nx\r\n").await;
    let v = report(&mut monitor).await;
    assert_common(&v, 400);
    assert_eq!(v["description"], "Bad Request");

    // A responder that never answers: 504 once the threshold passed.
    let mut silent = login(&h, "s").await;
    silent.send("SUB svc.> 1\r\n").await;
    silent.sync().await;
    req.send("PUB svc.a inbox.2 1\r\nx\r\n").await;
    assert!(frame(&mut silent).await.starts_with("HMSG svc.a 1 _R_."));
    let v = report(&mut monitor).await;
    assert_common(&v, 504);
    assert_eq!(v["description"], "Service Timeout");

    // The requestor stops listening before the answer: 408.
    req.send("PUB svc.a inbox.3 1\r\nx\r\n").await;
    assert!(frame(&mut silent).await.starts_with("HMSG svc.a 1 _R_."));
    req.send("UNSUB 1\r\n").await;
    req.sync().await;
    let v = report(&mut monitor).await;
    assert_common(&v, 408);
    assert_eq!(v["description"], "Request Timeout");
}

#[tokio::test]
async fn header_sampling_measures_only_traced_requests() {
    let h = start_conf(&conf(
        r#"latency: { sampling: headers, subject: "lat" }"#,
        "",
    ))
    .await;
    let (mut monitor, _, mut req) = setup(&h, false).await;
    let untraced = "NATS/1.0\r\nX-Other: 1\r\n\r\n";
    req.send(format!(
        "HPUB svc.a inbox.1 {} {}\r\n{untraced}\r\n",
        untraced.len(),
        untraced.len()
    ))
    .await;
    req.send("PUB svc.a inbox.1 1\r\nx\r\n").await;
    let traced =
        "NATS/1.0\r\ntraceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n\r\n";
    req.send(format!(
        "HPUB svc.a inbox.2 {} {}\r\n{traced}\r\n",
        traced.len(),
        traced.len()
    ))
    .await;
    // The first report is the traced request's: the others were not sampled.
    let v = report(&mut monitor).await;
    assert_common(&v, 503);
    assert_eq!(
        v["header"]["Traceparent"][0], "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "{v}"
    );
}

#[tokio::test]
async fn latency_config_errors_use_nats_server_texts() {
    let cases = [
        (
            r#"S { exports [{stream: "a", latency: "lat"}] }"#,
            "Detected latency directive on non-service",
        ),
        (
            r#"S { exports [{service: "a", latency: {sampling: 200, subject: "lat"}}] }"#,
            "bad sampling percentage, should be 1-100",
        ),
        (
            r#"S { exports [{service: "a", latency: {sampling: 50}}] }"#,
            "Latency subject required, but missing",
        ),
        (
            r#"S { exports [{service: "a", latency: {sampling: "x%", subject: "lat"}}] }"#,
            "Failed to parse latency sample",
        ),
        (
            r#"S { exports [{service: "a", latency: {subject: "lat.*"}}] }"#,
            r#"Error adding service latency sampling for "a" on subject "lat.*": invalid publish subject"#,
        ),
        (
            r#"S { exports [{service: "a", latency: {subject: "a"}}] }"#,
            r#"Error adding service latency sampling for "a" on subject "a": invalid publish subject"#,
        ),
        (
            r#"S { exports [{service: "a", response: stream, latency: "lat"}] }"#,
            "bad service response type",
        ),
        (
            r#"S { exports [{service: "a", latency: 5}] }"#,
            "Expected latency entry to be a map/struct or string, got int64",
        ),
    ];
    for (accounts, want) in cases {
        let err = try_start_conf(&format!("accounts {{ {accounts} }}"))
            .await
            .err()
            .unwrap_or_else(|| panic!("accepted: {accounts}"));
        assert!(err.contains(want), "{accounts}: {err}");
    }
}

/// A user of `acc` logged in on `h` with headers on.
async fn member(h: &ServerHandle, acc: &KeyPair, name: &str) -> Raw {
    let u = KeyPair::new_user();
    let (c, first) = jwt_login(
        h,
        &user_jwt_of(&u, acc),
        Some(&u),
        serde_json::json!({"headers": true, "name": name}),
    )
    .await;
    assert_eq!(first, "PONG", "login refused");
    c
}

#[tokio::test]
async fn jwt_exports_track_latency_for_importers_that_share() {
    let op = Op::new();
    let exporter = KeyPair::new_account();
    let importer = KeyPair::new_account();
    let ex = account_jwt(&exporter, &op.key, |c| {
        c.name = "EXP".into();
        c.nats.exports.push(Export {
            subject: "svc.>".into(),
            export_type: Some(ExportType::Service),
            latency: Some(ServiceLatency {
                sampling: 100,
                results: "lat".into(),
            }),
            ..Default::default()
        });
    });
    let im = account_jwt(&importer, &op.key, |c| {
        c.name = "IMP".into();
        c.nats.imports.push(Import {
            subject: "svc.>".into(),
            account: exporter.public_key(),
            import_type: Some(ExportType::Service),
            share: true,
            ..Default::default()
        });
    });
    let h = op.start(&[&ex, &im]).await;
    let mut monitor = member(&h, &exporter, "mon").await;
    monitor.send("SUB lat 1\r\n").await;
    monitor.sync().await;
    let mut responder = member(&h, &exporter, "svc").await;
    responder.send("SUB svc.> 1\r\n").await;
    responder.sync().await;
    let mut req = member(&h, &importer, "req").await;
    req.send("SUB inbox 1\r\nPUB svc.x inbox 1\r\nq\r\n").await;
    let got = frame(&mut responder).await;
    responder
        .send(format!("PUB {} 1\r\na\r\n", reply_of(&got)))
        .await;
    assert_eq!(frame(&mut req).await, "MSG inbox 1 a");
    let v = report(&mut monitor).await;
    assert_common(&v, 200);
    assert_eq!(v["requestor"]["acc"], importer.public_key(), "{v}");
    assert_eq!(v["requestor"]["name"], "req", "{v}");
    assert!(v["requestor"]["jwt"].is_string(), "shared details: {v}");
    assert_eq!(v["responder"]["acc"], exporter.public_key(), "{v}");
    // In latency reports `name_tag` is the user JWT's name (`user_jwt`
    // names every user "u"), not the account's as in advisories.
    assert_eq!(v["responder"]["name_tag"], "u", "{v}");
    assert_eq!(v["responder"]["issuer_key"], exporter.public_key(), "{v}");
}

#[tokio::test]
async fn accountz_shows_exports_imports_and_their_latency() {
    let h = start_conf(&format!(
        "http_port: -1\n{}",
        conf(
            r#"latency: { sampling: 50, subject: "lat" }"#,
            r#"to: "local.>", share: true"#
        )
    ))
    .await;
    let s = common::monitor_json(&h, "/accountz?acc=S").await["account_detail"].clone();
    let export = &s["exports"][0];
    assert_eq!(export["subject"], "svc.>", "{s}");
    assert_eq!(export["type"], "service", "{s}");
    assert_eq!(export["response_type"], "Singleton", "{s}");
    assert_eq!(
        export["service_latency"],
        serde_json::json!({"sampling": 50, "results": "lat"}),
        "{s}"
    );
    let r = common::monitor_json(&h, "/accountz?acc=R").await["account_detail"].clone();
    let import = r["imports"]
        .as_array()
        .expect("imports")
        .iter()
        .find(|i| i["account"] == "S")
        .cloned()
        .unwrap_or_else(|| panic!("{r}"));
    assert_eq!(import["subject"], "svc.>", "{r}");
    assert_eq!(import["local_subject"], "local.>", "{r}");
    assert_eq!(import["share"], true, "{r}");
    assert_eq!(import["latency"]["results"], "lat", "{r}");
}

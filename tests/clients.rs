//! The server driven by a real client library (async-nats).

mod common;

use common::{start, start_conf, test_options};
use futures::StreamExt;
use std::time::Duration;

const T: Duration = Duration::from_secs(5);

#[tokio::test]
async fn publish_subscribe_request_reply() {
    let h = start(test_options()).await;
    let nc = async_nats::connect(h.client_url()).await.unwrap();
    let mut sub = nc.subscribe("greet.*").await.unwrap();
    nc.publish("greet.joe", "hello".into()).await.unwrap();
    let m = tokio::time::timeout(T, sub.next()).await.unwrap().unwrap();
    assert_eq!(
        (m.subject.as_str(), &m.payload[..]),
        ("greet.joe", &b"hello"[..])
    );

    let svc = async_nats::connect(h.client_url()).await.unwrap();
    let mut reqs = svc.subscribe("svc.echo").await.unwrap();
    let responder = svc.clone();
    tokio::spawn(async move {
        while let Some(m) = reqs.next().await {
            if let Some(r) = m.reply {
                let mut body = b"re:".to_vec();
                body.extend_from_slice(&m.payload);
                responder.publish(r, body.into()).await.unwrap();
            }
        }
    });
    svc.flush().await.unwrap();
    for i in 0..20 {
        let resp = tokio::time::timeout(T, nc.request("svc.echo", format!("m{i}").into()))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&resp.payload[..], format!("re:m{i}").as_bytes());
    }
    h.shutdown().await;
}

#[tokio::test]
async fn no_responders_error() {
    let h = start(test_options()).await;
    let nc = async_nats::connect(h.client_url()).await.unwrap();
    let err = tokio::time::timeout(T, nc.request("nobody.home", "x".into()))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind(), async_nats::RequestErrorKind::NoResponders);
    h.shutdown().await;
}

#[tokio::test]
async fn headers_round_trip() {
    let h = start(test_options()).await;
    let nc = async_nats::connect(h.client_url()).await.unwrap();
    let mut sub = nc.subscribe("hdr").await.unwrap();
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Trace-Id", "abc");
    nc.publish_with_headers("hdr", headers, "data".into())
        .await
        .unwrap();
    let m = tokio::time::timeout(T, sub.next()).await.unwrap().unwrap();
    assert_eq!(&m.payload[..], b"data");
    assert_eq!(m.headers.unwrap().get("Trace-Id").unwrap().as_str(), "abc");
    h.shutdown().await;
}

#[tokio::test]
async fn ordering_from_one_publisher_and_queue_groups() {
    let h = start(test_options()).await;
    let sub_nc = async_nats::connect(h.client_url()).await.unwrap();
    let pub_nc = async_nats::connect(h.client_url()).await.unwrap();
    let mut seq = sub_nc.subscribe("seq").await.unwrap();
    let mut q1 = sub_nc.queue_subscribe("work", "g".into()).await.unwrap();
    let mut q2 = sub_nc.queue_subscribe("work", "g".into()).await.unwrap();
    sub_nc.flush().await.unwrap();
    let n = 2000;
    for i in 0..n {
        pub_nc.publish("seq", i.to_string().into()).await.unwrap();
    }
    for _ in 0..100 {
        pub_nc.publish("work", "x".into()).await.unwrap();
    }
    pub_nc.flush().await.unwrap();
    for i in 0..n {
        let m = tokio::time::timeout(T, seq.next()).await.unwrap().unwrap();
        assert_eq!(std::str::from_utf8(&m.payload).unwrap(), i.to_string());
    }
    let mut total = 0;
    for q in [&mut q1, &mut q2] {
        while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(300), q.next()).await {
            total += 1;
        }
    }
    assert_eq!(total, 100);
    h.shutdown().await;
}

#[tokio::test]
async fn large_message_intact() {
    let h = start_conf("max_payload: 2MB\nmax_pending: 8MB\n").await;
    let nc = async_nats::connect(h.client_url()).await.unwrap();
    assert_eq!(nc.server_info().max_payload, 2 * 1024 * 1024);
    let mut sub = nc.subscribe("big").await.unwrap();
    let data: Vec<u8> = (0..1536 * 1024).map(|i| (i % 251) as u8).collect();
    nc.publish("big", data.clone().into()).await.unwrap();
    let m = tokio::time::timeout(T, sub.next()).await.unwrap().unwrap();
    assert_eq!(&m.payload[..], &data[..]);
    h.shutdown().await;
}

#[tokio::test]
async fn user_password_auth() {
    let h = start_conf("authorization { user: alice, password: wonder }\n").await;
    let ok = async_nats::ConnectOptions::with_user_and_password("alice".into(), "wonder".into())
        .connect(h.client_url())
        .await;
    assert!(ok.is_ok());
    let bad = async_nats::ConnectOptions::with_user_and_password("alice".into(), "nope".into())
        .connection_timeout(Duration::from_secs(1));
    let bad = tokio::time::timeout(Duration::from_secs(3), bad.connect(h.client_url())).await;
    assert!(!matches!(bad, Ok(Ok(_))), "wrong password accepted");
    h.shutdown().await;
}

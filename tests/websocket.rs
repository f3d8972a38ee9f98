//! The WebSocket listener: the client protocol in RFC 6455 frames, plain
//! (`no_tls`) and over TLS, with nats-server's origin checks, credentials
//! from cookies, its config errors, and the `websocket` block of `/varz`.
//! A WebSocket client and a TCP client exchange messages both ways.

mod common;

use futures::{SinkExt, StreamExt};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use common::{start_conf, try_start_conf, Raw};
use rnats::node::ServerHandle;

const T: Duration = Duration::from_secs(5);

/// Upgrades `stream` at `url` with extra request headers.
async fn upgrade<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    url: &str,
    headers: &[(&str, &str)],
) -> Result<WebSocketStream<S>, String> {
    let mut req = url.into_client_request().unwrap();
    for (k, v) in headers {
        let name = tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(k.as_bytes())
            .expect("header name");
        req.headers_mut()
            .insert(name, v.parse().expect("header value"));
    }
    tokio::time::timeout(T, tokio_tungstenite::client_async(req, stream))
        .await
        .map_err(|_| "timeout".to_owned())?
        .map(|(ws, _)| ws)
        .map_err(|e| e.to_string())
}

async fn ws_plain(
    h: &ServerHandle,
    headers: &[(&str, &str)],
) -> Result<WebSocketStream<TcpStream>, String> {
    let addr = h.websocket_addr.expect("websocket listener");
    let tcp = TcpStream::connect(addr).await.unwrap();
    upgrade(tcp, &format!("ws://{addr}/"), headers).await
}

/// Everything the server sends until `needle` shows up (frames may split
/// or join protocol lines).
async fn read_until<S: AsyncRead + AsyncWrite + Unpin>(
    ws: &mut WebSocketStream<S>,
    needle: &str,
) -> String {
    let mut got = String::new();
    while !got.contains(needle) {
        match tokio::time::timeout(T, ws.next()).await {
            Ok(Some(Ok(Message::Binary(b)))) => got.push_str(&String::from_utf8_lossy(&b)),
            Ok(Some(Ok(Message::Text(t)))) => got.push_str(&t),
            Ok(Some(Ok(_))) => {}
            other => panic!("{needle:?} not received ({other:?}); got {got:?}"),
        }
    }
    got
}

async fn send<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocketStream<S>, text: &str) {
    ws.send(Message::Binary(text.as_bytes().to_vec()))
        .await
        .unwrap();
}

#[tokio::test]
async fn websocket_and_tcp_clients_talk_both_ways() {
    let h =
        start_conf("http_port: -1\nwebsocket { host: 127.0.0.1, port: -1, no_tls: true }\n").await;
    let mut ws = ws_plain(&h, &[]).await.unwrap();
    let info = read_until(&mut ws, "\r\n").await;
    assert!(info.starts_with("INFO {"), "{info}");
    // Text frames work as well as binary ones.
    ws.send(Message::Text(
        "CONNECT {\"verbose\":false}\r\nSUB from.tcp 1\r\nPING\r\n".into(),
    ))
    .await
    .unwrap();
    assert!(read_until(&mut ws, "PONG\r\n").await.ends_with("PONG\r\n"));

    let mut tcp = Box::pin(Raw::connected(&h, "{}")).await;
    tcp.send("SUB from.ws 1\r\n").await;
    tcp.sync().await;
    tcp.send("PUB from.tcp 5\r\nhello\r\n").await;
    let got = read_until(&mut ws, "hello\r\n").await;
    assert!(got.contains("MSG from.tcp 1 5\r\nhello\r\n"), "{got}");
    send(&mut ws, "PUB from.ws 3\r\nhey\r\nPING\r\n").await;
    read_until(&mut ws, "PONG\r\n").await;
    assert_eq!(
        Box::pin(tcp.frame()).await.as_deref(),
        Some("MSG from.ws 1 hey")
    );

    let varz = common::monitor_json(&h, "/varz").await;
    let w = &varz["websocket"];
    assert_eq!(w["host"], "127.0.0.1", "{w}");
    assert_eq!(w["port"], h.websocket_addr.unwrap().port(), "{w}");
    assert_eq!(w["no_tls"], true, "{w}");
    assert_eq!(w["handshake_timeout"], 2_000_000_000u64, "{w}");
}

#[tokio::test]
async fn origins_outside_the_allowed_list_are_refused() {
    let h = start_conf(
        "websocket { host: 127.0.0.1, port: -1, no_tls: true, allowed_origins: [\"http://good.example\"] }\n",
    )
    .await;
    let err = ws_plain(&h, &[("origin", "http://evil.example")])
        .await
        .unwrap_err();
    assert!(err.contains("403"), "{err}");
    assert!(ws_plain(&h, &[("origin", "http://good.example")])
        .await
        .is_ok());
    // No Origin header (a non-browser client) is let through, as nats-server does.
    assert!(ws_plain(&h, &[]).await.is_ok());
}

#[tokio::test]
async fn credentials_may_come_from_cookies() {
    let h = start_conf(
        "authorization { token: s3cret }\nwebsocket { host: 127.0.0.1, port: -1, no_tls: true, token_cookie: tok }\n",
    )
    .await;
    let mut ws = ws_plain(&h, &[("cookie", "other=1; tok=s3cret")])
        .await
        .unwrap();
    read_until(&mut ws, "\r\n").await;
    send(&mut ws, "CONNECT {\"verbose\":false}\r\nPING\r\n").await;
    assert!(read_until(&mut ws, "PONG\r\n").await.ends_with("PONG\r\n"));
    // A second CONNECT only changes options: the cookie does not make it
    // a (refused) second login.
    send(
        &mut ws,
        "CONNECT {\"verbose\":false,\"echo\":false}\r\nPING\r\n",
    )
    .await;
    let got = read_until(&mut ws, "PONG\r\n").await;
    assert!(!got.contains("-ERR"), "{got}");
    // Without the cookie the same CONNECT is refused.
    let mut ws = ws_plain(&h, &[]).await.unwrap();
    read_until(&mut ws, "\r\n").await;
    send(&mut ws, "CONNECT {\"verbose\":false}\r\nPING\r\n").await;
    let got = read_until(&mut ws, "Authorization Violation").await;
    assert!(got.contains("-ERR 'Authorization Violation'"), "{got}");
}

#[tokio::test]
async fn websocket_over_tls() {
    let h = start_conf(&format!(
        "websocket {{ host: 127.0.0.1, port: -1\n{} }}\n",
        common::tls_conf("")
    ))
    .await;
    let addr = h.websocket_addr.unwrap();
    let tcp = TcpStream::connect(addr).await.unwrap();
    let cfg = common::client_config(&[&rustls::version::TLS13], None, "ca.pem");
    let tls = tokio_rustls::TlsConnector::from(cfg)
        .connect("localhost".try_into().unwrap(), tcp)
        .await
        .expect("TLS handshake");
    let mut ws = upgrade(tls, &format!("wss://localhost:{}/", addr.port()), &[])
        .await
        .unwrap();
    read_until(&mut ws, "\r\n").await;
    send(&mut ws, "CONNECT {\"verbose\":false}\r\nPING\r\n").await;
    assert!(read_until(&mut ws, "PONG\r\n").await.ends_with("PONG\r\n"));
    // A plain client on the TLS listener gets nowhere.
    let plain = TcpStream::connect(addr).await.unwrap();
    assert!(upgrade(plain, &format!("ws://{addr}/"), &[]).await.is_err());
}

#[tokio::test]
async fn websocket_config_errors_use_nats_server_texts() {
    for (block, want) in [
        ("websocket { port: -1 }", "websocket requires TLS configuration"),
        (
            "websocket { port: -1, no_tls: true, allowed_origins: [\"ftp://x\"] }",
            "allowed origins must be absolute URLs with http or https scheme",
        ),
        (
            "websocket { port: -1, no_tls: true, jwt_cookie: jwt }",
            "trusted operators or trusted keys configuration is required for JWT authentication via cookie \"jwt\"",
        ),
        (
            "websocket { port: -1, no_tls: true, compression: 1 }",
            "websocket.compression: expected a boolean",
        ),
        ("websocket { port: -1, no_tls: true, bogus: 1 }", "unknown field \"bogus\""),
    ] {
        let err = try_start_conf(block).await.err().unwrap_or_else(|| panic!("accepted: {block}"));
        assert!(err.contains(want), "{block}: {err}");
    }
}

#[tokio::test]
async fn the_websocket_block_may_override_authentication() {
    // TCP clients need no credentials; WebSocket clients need the token.
    let h = start_conf(
        "websocket { host: 127.0.0.1, port: -1, no_tls: true, authorization { token: wstok } }\n",
    )
    .await;
    let tcp = Box::pin(Raw::connected(&h, "{}")).await;
    drop(tcp);
    let mut ws = ws_plain(&h, &[]).await.unwrap();
    let info = read_until(&mut ws, "\r\n").await;
    assert!(info.contains("\"auth_required\":true"), "{info}");
    send(&mut ws, "CONNECT {\"verbose\":false}\r\nPING\r\n").await;
    let got = read_until(&mut ws, "Authorization Violation").await;
    assert!(got.contains("-ERR 'Authorization Violation'"), "{got}");
    let mut ws = ws_plain(&h, &[]).await.unwrap();
    read_until(&mut ws, "\r\n").await;
    send(
        &mut ws,
        "CONNECT {\"verbose\":false,\"auth_token\":\"wstok\"}\r\nPING\r\n",
    )
    .await;
    assert!(read_until(&mut ws, "PONG\r\n").await.ends_with("PONG\r\n"));

    // A websocket no_auth_user picks one of the server's users.
    let h = start_conf(
        "accounts { A { users [{user: a, password: apw}] }, B { users [{user: b, password: bpw}] } }\n\
         websocket { host: 127.0.0.1, port: -1, no_tls: true, no_auth_user: b }\n",
    )
    .await;
    let mut ws = ws_plain(&h, &[]).await.unwrap();
    read_until(&mut ws, "\r\n").await;
    send(
        &mut ws,
        "CONNECT {\"verbose\":false,\"protocol\":1}\r\nPING\r\n",
    )
    .await;
    let got = read_until(&mut ws, "connect_info").await;
    assert!(got.contains("\"remote_account\":\"B\""), "{got}");
    // TCP clients still must log in.
    let mut tcp = Box::pin(Raw::connect(&h)).await;
    tcp.send("CONNECT {\"verbose\":false}\r\nPING\r\n").await;
    assert_eq!(
        Box::pin(tcp.line()).await.as_deref(),
        Some("-ERR 'Authorization Violation'")
    );
}

#[tokio::test]
async fn websocket_auth_override_conflicts_use_nats_server_texts() {
    for (conf, want) in [
        (
            "authorization { users [{user: a, password: b}] }\nwebsocket { port: -1, no_tls: true, authorization { user: x, password: y } }",
            "websocket authentication username not compatible with presence of users/nkeys",
        ),
        (
            "authorization { users [{user: a, password: b}] }\nwebsocket { port: -1, no_tls: true, authorization { token: t } }",
            "websocket authentication token not compatible with presence of users/nkeys",
        ),
        (
            "authorization { users [{user: a, password: b}] }\nwebsocket { port: -1, no_tls: true, no_auth_user: zz }",
            "no_auth_user",
        ),
    ] {
        let err = try_start_conf(conf).await.err().unwrap_or_else(|| panic!("accepted: {conf}"));
        assert!(err.contains(want), "{conf}: {err}");
    }
}

#[tokio::test]
async fn an_oversized_websocket_message_ends_only_that_connection() {
    let h = start_conf("websocket { host: 127.0.0.1, port: -1, no_tls: true }\n").await;
    let mut ws = ws_plain(&h, &[]).await.unwrap();
    read_until(&mut ws, "\r\n").await;
    send(&mut ws, "CONNECT {\"verbose\":false}\r\n").await;
    // Valid operations only, but in one message over the 8 MiB bound (4 x
    // max_payload, at least 8 MiB): the server does not buffer it, the
    // connection ends (read as it arrives, it would be answered with PONGs).
    let pings = "PING\r\n".repeat((9 << 20) / 6);
    let _ = ws.send(Message::Binary(pings.into_bytes())).await;
    let ended = tokio::time::timeout(T, async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return true,
                Some(Ok(Message::Binary(b))) if b.starts_with(b"PONG") => return false,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert_eq!(ended, Ok(true));
    // Others are not disturbed.
    let mut again = ws_plain(&h, &[]).await.unwrap();
    read_until(&mut again, "\r\n").await;
    send(&mut again, "CONNECT {\"verbose\":false}\r\nPING\r\n").await;
    assert!(read_until(&mut again, "PONG\r\n")
        .await
        .ends_with("PONG\r\n"));
}

#[tokio::test]
async fn websocket_clients_are_told_the_members_websocket_urls() {
    let block = "websocket { listen: 127.0.0.1:-1, no_tls: true }\n";
    let a = start_conf(&format!(
        "{block}cluster {{ name: W, listen: 127.0.0.1:-1 }}\n"
    ))
    .await;
    let port = a.server.cluster.get().unwrap().addr.port();
    let b = start_conf(&format!(
        "{block}cluster {{ name: W, listen: 127.0.0.1:-1, routes: [\"nats-route://127.0.0.1:{port}\"] }}\n"
    ))
    .await;
    let b_ws = format!("127.0.0.1:{}", b.websocket_addr.unwrap().port());
    let b_tcp = format!("127.0.0.1:{}", b.addr.port());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let mut ws = ws_plain(&a, &[]).await.unwrap();
        let info = read_until(&mut ws, "\r\n").await;
        let v: serde_json::Value =
            serde_json::from_str(info.trim_start_matches("INFO ").trim()).unwrap();
        let urls: Vec<String> = v["connect_urls"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|u| u.as_str().map(str::to_owned))
            .collect();
        if urls.contains(&b_ws) {
            assert!(!urls.contains(&b_tcp), "{urls:?}");
            // TCP clients still get the client ports.
            let tcp = Raw::connect(&a).await;
            let tcp_urls = tcp.info["connect_urls"].to_string();
            assert!(
                tcp_urls.contains(&b_tcp) && !tcp_urls.contains(&b_ws),
                "{tcp_urls}"
            );
            return;
        }
        assert!(std::time::Instant::now() < deadline, "{urls:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

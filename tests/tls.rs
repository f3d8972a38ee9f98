//! TLS for client connections, end to end: async-nats and raw rustls
//! clients against a server configured with the fixture certificates
//! (`fixtures/certs`, see its README).

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use common::{cert, client_config, start_conf, tls_conf, Raw};
use rnats::node::ServerHandle;

fn url(h: &ServerHandle) -> String {
    format!("tls://localhost:{}", h.addr.port())
}

fn nats_opts(client: Option<&str>) -> async_nats::ConnectOptions {
    let mut o = async_nats::ConnectOptions::new()
        .add_root_certificates(cert("ca.pem"))
        .require_tls(true)
        .connection_timeout(Duration::from_secs(3))
        .max_reconnects(Some(0));
    if let Some(c) = client {
        o = o.add_client_certificate(cert(&format!("{c}.pem")), cert(&format!("{c}-key.pem")));
    }
    o
}

/// Connects with async-nats and checks a publish comes back; false when
/// the connection or the round trip fails.
async fn works(h: &ServerHandle, opts: async_nats::ConnectOptions) -> bool {
    let attempt = async {
        let nc = opts.connect(url(h)).await.ok()?;
        let mut sub = nc.subscribe("tls.check").await.ok()?;
        nc.publish("tls.check", "over tls".into()).await.ok()?;
        nc.flush().await.ok()?;
        let m = sub.next().await?;
        Some(m.payload.as_ref() == b"over tls")
    };
    tokio::time::timeout(Duration::from_secs(5), attempt)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}

const BOTH: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

/// Reads one CRLF line byte by byte (so nothing past it is consumed).
async fn read_line<S: AsyncRead + Unpin>(s: &mut S) -> Option<String> {
    let mut line = Vec::new();
    let read = async {
        loop {
            let b = s.read_u8().await.ok()?;
            line.push(b);
            if line.ends_with(b"\r\n") {
                line.truncate(line.len() - 2);
                return Some(String::from_utf8_lossy(&line).into_owned());
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(3), read)
        .await
        .ok()
        .flatten()
}

fn info_json(line: &str) -> serde_json::Value {
    assert!(line.starts_with("INFO "), "{line}");
    serde_json::from_str(&line[5..]).unwrap()
}

type Tls = tokio_rustls::client::TlsStream<TcpStream>;

/// Reads the plain INFO, then upgrades to TLS as NATS clients do.
async fn tls_raw(
    h: &ServerHandle,
    config: Arc<rustls::ClientConfig>,
) -> std::io::Result<(Tls, serde_json::Value)> {
    let mut tcp = TcpStream::connect(h.addr).await?;
    let info = info_json(&read_line(&mut tcp).await.expect("INFO"));
    let connector = tokio_rustls::TlsConnector::from(config);
    let name = ServerName::try_from("localhost").unwrap();
    let s = connector.connect(name, tcp).await?;
    Ok((s, info))
}

/// CONNECT, PING; the first line answered (or `None` when the connection
/// fails or closes).
async fn ping<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S) -> Option<String> {
    s.write_all(b"CONNECT {\"verbose\":false}\r\nPING\r\n")
        .await
        .ok()?;
    read_line(s).await
}

#[tokio::test]
async fn info_is_plain_and_advertises_tls() {
    let h = start_conf(&tls_conf("")).await;
    let r = Raw::connect(&h).await;
    assert_eq!(r.info["tls_required"], true);
    assert!(r.info.get("tls_verify").is_none());
    assert!(r.info.get("tls_available").is_none());

    let h = start_conf(&tls_conf("  verify: true")).await;
    let r = Raw::connect(&h).await;
    assert_eq!(r.info["tls_required"], true);
    assert_eq!(r.info["tls_verify"], true);

    let h = start_conf(&format!("{}allow_non_tls: true\n", tls_conf(""))).await;
    let r = Raw::connect(&h).await;
    assert!(r.info.get("tls_required").is_none());
    assert_eq!(r.info["tls_available"], true);
}

#[tokio::test]
async fn pub_sub_over_tls_with_async_nats() {
    let h = start_conf(&tls_conf("")).await;
    assert!(works(&h, nats_opts(None)).await);
    // A client that does not trust the server's CA cannot connect.
    let untrusting = async_nats::ConnectOptions::new()
        .add_root_certificates(cert("other-ca.pem"))
        .require_tls(true)
        .connection_timeout(Duration::from_secs(2))
        .max_reconnects(Some(0));
    assert!(!works(&h, untrusting).await);
}

#[tokio::test]
async fn tls12_and_tls13_both_work() {
    let h = start_conf(&tls_conf("")).await;
    for (v, want) in [
        (&rustls::version::TLS12, rustls::ProtocolVersion::TLSv1_2),
        (&rustls::version::TLS13, rustls::ProtocolVersion::TLSv1_3),
    ] {
        let (mut s, info) = tls_raw(&h, client_config(&[v], None, "ca.pem"))
            .await
            .unwrap();
        assert_eq!(info["tls_required"], true);
        assert_eq!(s.get_ref().1.protocol_version(), Some(want));
        s.write_all(b"CONNECT {\"verbose\":false}\r\nSUB t 1\r\nPUB t 2\r\nok\r\nPING\r\n")
            .await
            .unwrap();
        assert_eq!(read_line(&mut s).await.as_deref(), Some("MSG t 1 2"));
        assert_eq!(read_line(&mut s).await.as_deref(), Some("ok"));
        assert_eq!(read_line(&mut s).await.as_deref(), Some("PONG"));
    }
    // The server records the negotiated session.
    let (mut s, _) = tls_raw(
        &h,
        client_config(&[&rustls::version::TLS13], None, "ca.pem"),
    )
    .await
    .unwrap();
    assert_eq!(ping(&mut s).await.as_deref(), Some("PONG"));
    let c = h.server.clients().pop().unwrap();
    let session = c.tls.clone().unwrap();
    assert_eq!(session.version, "1.3");
    assert!(session.cipher_suite.starts_with("TLS_"), "{session:?}");
    assert!(c.peer_cert.is_none());
}

#[tokio::test]
async fn min_version_13_refuses_tls12() {
    let h = start_conf(&tls_conf("  min_version: \"1.3\"")).await;
    assert!(tls_raw(
        &h,
        client_config(&[&rustls::version::TLS12], None, "ca.pem")
    )
    .await
    .is_err());
    let (mut s, _) = tls_raw(&h, client_config(BOTH, None, "ca.pem"))
        .await
        .unwrap();
    assert_eq!(ping(&mut s).await.as_deref(), Some("PONG"));
}

#[tokio::test]
async fn plain_client_is_refused() {
    let h = start_conf(&tls_conf("")).await;
    let mut r = Raw::connect(&h).await;
    r.send("CONNECT {\"verbose\":false}\r\nPING\r\n").await;
    assert!(r.closed_within(Duration::from_secs(2)).await);
    assert!(!r.lines().iter().any(|l| l == "PONG"), "{:?}", r.lines());
}

#[tokio::test]
async fn silent_client_is_closed_after_the_tls_timeout() {
    let h = start_conf(&tls_conf("  timeout: 0.3")).await;
    let start = Instant::now();
    let mut r = Raw::connect(&h).await;
    assert!(r.closed_within(Duration::from_secs(3)).await);
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(250), "{took:?}");
    assert!(took < Duration::from_millis(2000), "{took:?}");
    // The auth timeout defaults to the TLS timeout + 1s.
    assert_eq!(h.server.auth_timeout(), Duration::from_millis(1300));
}

#[tokio::test]
async fn auth_timeout_follows_tls_timeout() {
    let h = start_conf(&format!(
        "{}authorization {{ token: s3cret }}\n",
        tls_conf("  timeout: 0.2")
    ))
    .await;
    let (mut s, info) = tls_raw(&h, client_config(BOTH, None, "ca.pem"))
        .await
        .unwrap();
    assert_eq!(info["auth_required"], true);
    let start = Instant::now();
    let line = read_line(&mut s).await;
    assert_eq!(line.as_deref(), Some("-ERR 'Authentication Timeout'"));
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(1000) && took < Duration::from_millis(2000),
        "{took:?}"
    );

    // Token auth works over TLS.
    let ok = async_nats::ConnectOptions::with_token("s3cret".into())
        .add_root_certificates(cert("ca.pem"))
        .require_tls(true)
        .max_reconnects(Some(0));
    assert!(works(&h, ok).await);
}

#[tokio::test]
async fn verify_requires_a_certificate_from_the_ca() {
    let h = start_conf(&tls_conf("  verify: true")).await;
    assert!(works(&h, nats_opts(Some("client-alice"))).await);
    assert!(!works(&h, nats_opts(None)).await, "no certificate");
    assert!(!works(&h, nats_opts(Some("other-alice"))).await, "wrong CA");

    // Raw TLS 1.2 and 1.3 clients without a certificate never get a PONG.
    for v in [&rustls::version::TLS12, &rustls::version::TLS13] {
        if let Ok((mut s, _)) = tls_raw(&h, client_config(&[v], None, "ca.pem")).await {
            assert_eq!(ping(&mut s).await, None);
        }
        if let Ok((mut s, _)) =
            tls_raw(&h, client_config(&[v], Some("other-alice"), "ca.pem")).await
        {
            assert_eq!(ping(&mut s).await, None);
        }
    }

    // The verified identity is on the connection for the auth pipeline.
    let (mut s, _) = tls_raw(&h, client_config(BOTH, Some("client-bob"), "ca.pem"))
        .await
        .unwrap();
    assert_eq!(ping(&mut s).await.as_deref(), Some("PONG"));
    let c = h.server.clients().pop().unwrap();
    let p = c.peer_cert.clone().expect("peer certificate");
    assert_eq!(p.emails, vec!["bob@example.com"]);
    assert_eq!(
        rnats::tls::map_candidates(&p),
        vec!["bob@example.com", "CN=bob,O=NATS Conformance"]
    );
}

#[tokio::test]
async fn pinned_certs_admit_only_listed_keys() {
    let pem = std::fs::read(cert("client-alice.pem")).unwrap();
    let der = CertificateDer::from_pem_slice(&pem).unwrap();
    let pin = rnats::tls::PeerCert::from_der(&der).unwrap().spki_sha256;
    let h = start_conf(&tls_conf(&format!(
        "  verify: true\n  pinned_certs: [\"{pin}\"]"
    )))
    .await;
    assert!(works(&h, nats_opts(Some("client-alice"))).await);
    assert!(!works(&h, nats_opts(Some("client-bob"))).await);
}

#[tokio::test]
async fn handshake_first_sends_info_inside_tls() {
    let h = start_conf(&format!(
        "{}allow_non_tls: true\n",
        tls_conf("  handshake_first: true")
    ))
    .await;
    let tcp = TcpStream::connect(h.addr).await.unwrap();
    let connector = tokio_rustls::TlsConnector::from(client_config(BOTH, None, "ca.pem"));
    let mut s = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let info = info_json(&read_line(&mut s).await.unwrap());
    assert_eq!(info["tls_required"], true, "TLS first always says required");
    assert_eq!(ping(&mut s).await.as_deref(), Some("PONG"));
    // async-nats' tls_first option.
    assert!(works(&h, nats_opts(None).tls_first()).await);
}

#[tokio::test]
async fn handshake_first_auto_falls_back_to_info_first() {
    let h = start_conf(&tls_conf("  handshake_first: \"100ms\"")).await;
    // A client waiting for INFO gets it after the fallback delay.
    assert!(works(&h, nats_opts(None)).await);
    assert!(works(&h, nats_opts(None).tls_first()).await);
}

#[tokio::test]
async fn allow_non_tls_serves_plain_and_tls_clients() {
    let h = start_conf(&format!("{}allow_non_tls: true\n", tls_conf(""))).await;
    let mut r = Raw::connect(&h).await;
    r.send("CONNECT {\"verbose\":false}\r\n").await;
    assert_eq!(r.sync().await, Vec::<String>::new());
    assert!(h.server.clients()[0].tls.is_none());
    let (mut s, _) = tls_raw(&h, client_config(BOTH, None, "ca.pem"))
        .await
        .unwrap();
    assert_eq!(ping(&mut s).await.as_deref(), Some("PONG"));
}

#[tokio::test]
async fn connection_rate_limit_throttles_handshakes() {
    let h = start_conf(&tls_conf("  connection_rate_limit: 1")).await;
    let (mut s, _) = tls_raw(&h, client_config(BOTH, None, "ca.pem"))
        .await
        .unwrap();
    assert_eq!(ping(&mut s).await.as_deref(), Some("PONG"));
    let mut r = Raw::connect(&h).await;
    assert_eq!(
        r.line().await.as_deref(),
        Some("-ERR 'Connection throttling is active. Please try again later.'")
    );
}

#[tokio::test]
async fn bad_tls_config_fails_startup_with_position() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.conf");
    std::fs::write(
        &path,
        "listen: 127.0.0.1:-1\ntls {\n  cert_file: /nonexistent/server.pem\n  key_file: /nonexistent/key.pem\n}\n",
    )
    .unwrap();
    let opts = rnats::config::Options::from_file(&path).unwrap();
    let e = rnats::server::support::check(&opts)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("server.conf:3:3: error parsing X509 certificate/key pair"),
        "{e}"
    );
    let e = rnats::node::start(opts).await.err().unwrap().to_string();
    assert!(e.contains("server.conf:3:3: error parsing X509"), "{e}");
}

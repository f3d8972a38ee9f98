//! Shared helpers for integration tests: an in-process server on a free
//! loopback port, and a raw protocol client for wire-level checks.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use rnats::config::Options;
use rnats::node::ServerHandle;

pub mod cluster;
pub mod operator;
pub mod process;
pub mod streaming;

/// A loopback port free at the time of the call, for a server started as a
/// separate process, which binds it a moment later.
///
/// The port comes from below the kernel's ephemeral range: a port the
/// kernel hands out (as `bind(0)` does) can be taken in that moment by an
/// outgoing connection of a test running in parallel, and the server then
/// fails with "Address already in use". Within this process a counter, from
/// a random start, never gives the same port twice; the bind check skips
/// ports other processes hold.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::OnceLock;
    const LOW: u32 = 10_000;
    static NEXT: OnceLock<AtomicU32> = OnceLock::new();
    let high = ephemeral_low().clamp(LOW + 1000, 65_535);
    let span = high - LOW;
    let next = NEXT.get_or_init(|| AtomicU32::new(rand::random::<u32>() % span));
    for _ in 0..span {
        let port = (LOW + next.fetch_add(1, Ordering::Relaxed) % span) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The first port of the kernel's ephemeral range (32768 by default).
fn ephemeral_low() -> u32 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
}

/// Options for a test server: loopback, any free port.
pub fn test_options() -> Options {
    Options {
        host: "127.0.0.1".into(),
        port: -1,
        ..Options::default()
    }
}

/// Starts a server with `opts` on the current runtime.
pub async fn start(opts: Options) -> ServerHandle {
    rnats::node::start(opts).await.expect("server starts")
}

/// Starts a server from config text (parsed as a file would be).
pub async fn start_conf(conf: &str) -> ServerHandle {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.conf");
    std::fs::write(&path, format!("listen: 127.0.0.1:-1\n{conf}")).unwrap();
    let opts = Options::from_file(&path).expect("config parses");
    start(opts).await
}

/// [`start_conf`] for a config the server may refuse: the error (from
/// parsing or from start-up) as text.
pub async fn try_start_conf(conf: &str) -> Result<ServerHandle, String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.conf");
    std::fs::write(&path, format!("listen: 127.0.0.1:-1\n{conf}")).unwrap();
    let opts = Options::from_file(&path).map_err(|e| e.to_string())?;
    rnats::node::start(opts).await.map_err(|e| e.to_string())
}

/// A fixture certificate or key (`fixtures/certs`, see its README).
pub fn cert(name: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/certs")
        .join(name)
}

/// A `tls {}` block with the fixture server certificate and CA.
pub fn tls_conf(extra: &str) -> String {
    format!(
        "tls {{\n  cert_file: \"{}\"\n  key_file: \"{}\"\n  ca_file: \"{}\"\n{extra}\n}}\n",
        cert("server.pem").display(),
        cert("server-key.pem").display(),
        cert("ca.pem").display()
    )
}

/// A rustls client config for `versions`, trusting the fixture CA file `ca`,
/// with the fixture client certificate `client` (`<client>.pem`) when given.
pub fn client_config(
    versions: &[&'static rustls::SupportedProtocolVersion],
    client: Option<&str>,
    ca: &str,
) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(cert(ca)).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let b = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(versions)
    .unwrap()
    .with_root_certificates(roots);
    Arc::new(match client {
        Some(c) => {
            let chain: Vec<_> = CertificateDer::pem_file_iter(cert(&format!("{c}.pem")))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            let key = PrivateKeyDer::from_pem_file(cert(&format!("{c}-key.pem"))).unwrap();
            b.with_client_auth_cert(chain, key).unwrap()
        }
        None => b.with_no_client_auth(),
    })
}

/// A plain socket speaking the text protocol.
pub struct Raw {
    pub stream: TcpStream,
    pub buf: Vec<u8>,
    pub info: serde_json::Value,
}

const READ_TIMEOUT: Duration = Duration::from_secs(3);

impl Raw {
    /// Connects and reads INFO.
    pub async fn connect(h: &ServerHandle) -> Raw {
        Raw::connect_to(h.addr).await
    }

    /// Connects to `addr` (a server in-process or a process) and reads INFO.
    pub async fn connect_to(addr: std::net::SocketAddr) -> Raw {
        let stream = TcpStream::connect(addr).await.unwrap();
        let mut r = Raw {
            stream,
            buf: Vec::new(),
            info: serde_json::Value::Null,
        };
        let line = r.line().await.expect("INFO");
        assert!(line.starts_with("INFO "), "{line}");
        r.info = serde_json::from_str(&line[5..]).unwrap();
        r
    }

    /// Connects, sends CONNECT with `opts` (verbose/pedantic off unless
    /// given) and syncs with PING/PONG.
    pub async fn connected(h: &ServerHandle, opts: &str) -> Raw {
        Raw::connected_to(h.addr, opts).await
    }

    /// [`Raw::connected`] to a server at `addr`.
    pub async fn connected_to(addr: std::net::SocketAddr, opts: &str) -> Raw {
        let mut r = Raw::connect_to(addr).await;
        let mut o: serde_json::Value = serde_json::from_str(opts).unwrap();
        let m = o.as_object_mut().unwrap();
        m.entry("verbose").or_insert(false.into());
        m.entry("pedantic").or_insert(false.into());
        r.send(&format!("CONNECT {o}\r\n")).await;
        assert_eq!(r.sync().await, Vec::<String>::new());
        r
    }

    pub async fn send(&mut self, s: impl AsRef<[u8]>) {
        self.stream.write_all(s.as_ref()).await.unwrap();
    }

    async fn fill(&mut self) -> Option<()> {
        let mut chunk = vec![0u8; 65536];
        match tokio::time::timeout(READ_TIMEOUT, self.stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => None,
            Ok(Ok(n)) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Some(())
            }
        }
    }

    /// Reads one line (without CRLF); `None` on close or timeout.
    pub async fn line(&mut self) -> Option<String> {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..i]).into_owned();
                self.buf.drain(..i + 2);
                return Some(line);
            }
            self.fill().await?;
        }
    }

    /// Reads `n` payload bytes plus CRLF.
    pub async fn payload(&mut self, n: usize) -> Option<Vec<u8>> {
        while self.buf.len() < n + 2 {
            self.fill().await?;
        }
        let p = self.buf[..n].to_vec();
        self.buf.drain(..n + 2);
        Some(p)
    }

    /// Reads one frame: MSG/HMSG lines come back as "MSG subj sid [reply]
    /// payload" with the payload appended as text; server PINGs are answered.
    pub async fn frame(&mut self) -> Option<String> {
        loop {
            let line = self.line().await?;
            if line == "PING" {
                self.send("PONG\r\n").await;
                continue;
            }
            let parts: Vec<&str> = line.split(' ').collect();
            if parts[0] == "MSG" || parts[0] == "HMSG" {
                let size: usize = parts.last().unwrap().parse().unwrap();
                let head = parts[..parts.len() - if parts[0] == "MSG" { 1 } else { 2 }].join(" ");
                let p = self.payload(size).await?;
                return Some(format!("{head} {}", String::from_utf8_lossy(&p)));
            }
            return Some(line);
        }
    }

    /// Sends PING and returns every frame before the PONG.
    pub async fn sync(&mut self) -> Vec<String> {
        self.send("PING\r\n").await;
        let mut frames = Vec::new();
        for _ in 0..100_000 {
            match self.frame().await {
                Some(f) if f == "PONG" => return frames,
                Some(f) => frames.push(f),
                None => panic!(
                    "connection ended before PONG after {} frames; first: {:.200}",
                    frames.len(),
                    frames.first().map(String::as_str).unwrap_or("")
                ),
            }
        }
        panic!("no PONG");
    }

    /// True if the server closes the connection within `wait`; what was read
    /// stays in `buf`.
    pub async fn closed_within(&mut self, wait: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        let mut chunk = vec![0u8; 65536];
        loop {
            match tokio::time::timeout_at(deadline, self.stream.read(&mut chunk)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(n)) => self.buf.extend_from_slice(&chunk[..n]),
                Err(_) => return false,
            }
        }
    }

    /// Complete lines left in the buffer.
    pub fn lines(&self) -> Vec<String> {
        let s = String::from_utf8_lossy(&self.buf);
        let mut v: Vec<String> = s.split("\r\n").map(str::to_owned).collect();
        v.pop();
        v
    }
}

/// How long one monitoring request may take.
const MONITOR_WAIT: Duration = Duration::from_secs(5);

pub async fn monitor_json(h: &ServerHandle, path: &str) -> serde_json::Value {
    let addr = h.monitor_addr.expect("monitoring is on");
    assert!(addr.ip().is_loopback(), "{addr}");
    let stream = tokio::time::timeout(MONITOR_WAIT, tokio::net::TcpStream::connect(addr))
        .await
        .unwrap()
        .unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = hyper::Request::get(path)
        .header("host", addr.to_string())
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    let resp = tokio::time::timeout(MONITOR_WAIT, sender.send_request(req))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200, "{path}");
    let body = tokio::time::timeout(
        MONITOR_WAIT,
        http_body_util::BodyExt::collect(resp.into_body()),
    )
    .await
    .unwrap()
    .unwrap()
    .to_bytes();
    serde_json::from_slice(&body).unwrap()
}

//! permessage-deflate (RFC 7692) on the WebSocket listener, seen on the
//! wire: a raw-frame client offers the extension, compresses what it sends
//! with flate2 and inflates what the server compressed; a decompression
//! bomb ends only its own connection; without `compression: true` the
//! extension is not negotiated.

mod common;

use flate2::write::{DeflateDecoder, DeflateEncoder};
use flate2::Compression;
use std::io::Write;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use common::{start_conf, Raw};
use rnats::node::ServerHandle;

const T: Duration = Duration::from_secs(5);
const TAIL: [u8; 4] = [0, 0, 0xff, 0xff];

/// A WebSocket client made of raw frames.
struct Client {
    tcp: TcpStream,
    buf: Vec<u8>,
}

/// Connects and upgrades with `extensions` as `Sec-WebSocket-Extensions`;
/// returns the client and the server's `Sec-WebSocket-Extensions`.
async fn connect(h: &ServerHandle, extensions: Option<&str>) -> (Client, Option<String>) {
    let addr = h.websocket_addr.expect("websocket listener");
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let ext = extensions
        .map(|e| format!("Sec-WebSocket-Extensions: {e}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{ext}\r\n"
    );
    tcp.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut b = [0u8; 1024];
        let n = tokio::time::timeout(T, tcp.read(&mut b))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "closed during the handshake");
        buf.extend_from_slice(&b[..n]);
    };
    let head = String::from_utf8(buf[..end].to_vec()).unwrap();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(
        head.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        "accept key: {head}"
    );
    let ext = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("sec-websocket-extensions")
            .then(|| v.trim().to_owned())
    });
    let rest = buf[end..].to_vec();
    (Client { tcp, buf: rest }, ext)
}

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut e = DeflateEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).unwrap();
    e.flush().unwrap();
    let mut out = std::mem::take(e.get_mut());
    assert!(out.ends_with(&TAIL));
    out.truncate(out.len() - 4);
    out
}

fn inflate(data: &[u8]) -> Vec<u8> {
    let mut d = DeflateDecoder::new(Vec::new());
    d.write_all(data).unwrap();
    d.write_all(&TAIL).unwrap();
    d.flush().unwrap();
    std::mem::take(d.get_mut())
}

impl Client {
    /// Sends one masked binary frame, RSV1 set when `compressed`.
    async fn frame(&mut self, payload: &[u8], compressed: bool) -> std::io::Result<()> {
        let mut f = vec![0x82 | if compressed { 0x40 } else { 0 }];
        let n = payload.len();
        if n < 126 {
            f.push(0x80 | n as u8);
        } else if n <= 0xffff {
            f.push(0x80 | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        } else {
            f.push(0x80 | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
        let mask = [0x12, 0x34, 0x56, 0x78];
        f.extend_from_slice(&mask);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.tcp.write_all(&f).await
    }

    async fn fill(&mut self, n: usize) -> bool {
        while self.buf.len() < n {
            let mut b = [0u8; 16384];
            match tokio::time::timeout(T, self.tcp.read(&mut b)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return false,
                Ok(Ok(k)) => self.buf.extend_from_slice(&b[..k]),
                Err(_) => panic!("no frame within {T:?}"),
            }
        }
        true
    }

    /// The next frame: (RSV1, opcode, payload), `None` at the end of the
    /// connection.
    async fn next(&mut self) -> Option<(bool, u8, Vec<u8>)> {
        if !self.fill(2).await {
            return None;
        }
        let (b0, b1) = (self.buf[0], self.buf[1]);
        assert_eq!(b1 & 0x80, 0, "server frames are not masked");
        let (len, hl) = match b1 & 0x7f {
            126 => {
                self.fill(4).await;
                (u16::from_be_bytes([self.buf[2], self.buf[3]]) as usize, 4)
            }
            127 => {
                self.fill(10).await;
                (
                    u64::from_be_bytes(self.buf[2..10].try_into().unwrap()) as usize,
                    10,
                )
            }
            n => (n as usize, 2),
        };
        if !self.fill(hl + len).await {
            return None;
        }
        let payload = self.buf[hl..hl + len].to_vec();
        self.buf.drain(..hl + len);
        assert_ne!(b0 & 0x80, 0, "the server does not fragment");
        Some((b0 & 0x40 != 0, b0 & 0x0f, payload))
    }

    /// What the server sends until `needle` (inflated), and whether any
    /// frame came compressed.
    async fn read_until(&mut self, needle: &str) -> (String, bool) {
        let mut got = String::new();
        let mut compressed = false;
        while !got.contains(needle) {
            let Some((rsv1, op, p)) = self.next().await else {
                panic!("{needle:?} not received; got {got:?}");
            };
            if op == 0x2 || op == 0x1 {
                let p = if rsv1 { inflate(&p) } else { p };
                compressed |= rsv1;
                got.push_str(&String::from_utf8_lossy(&p));
            }
        }
        (got, compressed)
    }
}

const ON: &str = "websocket { host: 127.0.0.1, port: -1, no_tls: true, compression: true }\n";

#[tokio::test]
async fn compressed_frames_cross_both_ways_with_a_tcp_client() {
    let h = start_conf(&format!("http_port: -1\n{ON}")).await;
    let (mut ws, ext) = connect(&h, Some("permessage-deflate; client_max_window_bits")).await;
    assert_eq!(
        ext.as_deref(),
        Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover")
    );
    ws.read_until("\r\n").await;
    // Compressed and plain frames may be mixed.
    ws.frame(&deflate(b"CONNECT {\"verbose\":false}\r\n"), true)
        .await
        .unwrap();
    ws.frame(b"SUB from.tcp 1\r\nPING\r\n", false)
        .await
        .unwrap();
    let (pong, compressed) = ws.read_until("PONG\r\n").await;
    assert!(pong.ends_with("PONG\r\n"));
    assert!(!compressed, "small payloads go out plain");

    let mut tcp = Box::pin(Raw::connected(&h, "{}")).await;
    tcp.send("SUB from.ws 1\r\n").await;
    tcp.sync().await;
    let big = "x".repeat(5000);
    tcp.send(&format!("PUB from.tcp {}\r\n{big}\r\n", big.len()))
        .await;
    let (got, compressed) = ws.read_until(&format!("{big}\r\n")).await;
    assert!(got.contains(&format!("MSG from.tcp 1 5000\r\n{big}\r\n")));
    assert!(compressed, "a large payload goes out compressed");

    let body = "y".repeat(3000);
    let ops = format!("PUB from.ws {}\r\n{body}\r\nPING\r\n", body.len());
    ws.frame(&deflate(ops.as_bytes()), true).await.unwrap();
    ws.read_until("PONG\r\n").await;
    assert_eq!(
        Box::pin(tcp.frame()).await,
        Some(format!("MSG from.ws 1 {body}"))
    );

    let varz = common::monitor_json(&h, "/varz").await;
    assert_eq!(varz["websocket"]["compression"], true, "{varz}");
}

#[tokio::test]
async fn a_decompression_bomb_ends_only_that_connection() {
    let h = start_conf(ON).await;
    let (mut ws, ext) = connect(&h, Some("permessage-deflate")).await;
    assert!(ext.is_some());
    ws.read_until("\r\n").await;
    ws.frame(b"CONNECT {\"verbose\":false}\r\n", false)
        .await
        .unwrap();
    // Valid operations inflating past the 8 MiB bound from a few KiB.
    let bomb = deflate("PING\r\n".repeat((16 << 20) / 6).as_bytes());
    assert!(bomb.len() < 64 << 10, "{}", bomb.len());
    ws.frame(&bomb, true).await.unwrap();
    let ended = tokio::time::timeout(T, async {
        loop {
            match ws.next().await {
                None => return true,
                Some((_, 0x8, _)) => return true,
                Some((rsv1, 0x2, p)) => {
                    let p = if rsv1 { inflate(&p) } else { p };
                    if p.starts_with(b"PONG") {
                        return false;
                    }
                }
                Some(_) => {}
            }
        }
    })
    .await;
    assert_eq!(ended, Ok(true));
    // Others are not disturbed.
    let (mut again, _) = connect(&h, Some("permessage-deflate")).await;
    again.read_until("\r\n").await;
    again
        .frame(&deflate(b"CONNECT {\"verbose\":false}\r\nPING\r\n"), true)
        .await
        .unwrap();
    again.read_until("PONG\r\n").await;
}

#[tokio::test]
async fn without_compression_the_extension_is_not_negotiated() {
    for conf in [
        "websocket { host: 127.0.0.1, port: -1, no_tls: true }\n",
        "websocket { host: 127.0.0.1, port: -1, no_tls: true, compression: false }\n",
    ] {
        let h = start_conf(conf).await;
        let (mut ws, ext) = connect(&h, Some("permessage-deflate")).await;
        assert_eq!(ext, None, "{conf}");
        ws.read_until("\r\n").await;
        let big = format!(
            "CONNECT {{\"verbose\":false,\"name\":\"{}\"}}\r\nPING\r\n",
            "n".repeat(200)
        );
        ws.frame(big.as_bytes(), false).await.unwrap();
        let (_, compressed) = ws.read_until("PONG\r\n").await;
        assert!(!compressed);
        // A compressed frame is a protocol error there.
        ws.frame(&deflate(b"PING\r\n"), true).await.unwrap();
        let ended = tokio::time::timeout(T, async {
            loop {
                match ws.next().await {
                    None | Some((_, 0x8, _)) => return true,
                    Some((_, _, p)) if p.starts_with(b"PONG") => return false,
                    Some(_) => {}
                }
            }
        })
        .await;
        assert_eq!(ended, Ok(true), "{conf}");
    }
    // With compression on but no offer, nothing is negotiated either.
    let h = start_conf(ON).await;
    let (mut ws, ext) = connect(&h, None).await;
    assert_eq!(ext, None);
    ws.read_until("\r\n").await;
}

//! The WebSocket listener: the client protocol carried in RFC 6455 frames,
//! for browsers (nats.ws) and clients behind HTTP-only proxies.
//!
//! A WebSocket connection is a client connection with another transport:
//! after the TLS (unless `no_tls`) and WebSocket handshakes, [`WsIo`] turns
//! the frames into a byte stream and the connection runs through the same
//! reader, writer and login pipeline as a TCP client. What the upgrade
//! request carries that CONNECT does not, the credentials of the
//! `jwt_cookie`, `username_cookie`, `password_cookie` and `token_cookie`
//! cookies, fills the CONNECT's empty fields before the login
//! ([`Cookies::fill`]). The upgrade request is read here (httparse); the
//! handshake answer, the framing and the extension negotiation are soketto's,
//! with [`deflate`] as the permessage-deflate extension when the block has
//! `compression: true` and the client offers it.

pub mod config;
mod deflate;
pub(crate) mod io;

use bytes::BytesMut;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::compat::TokioAsyncReadCompatExt;

pub use config::WebSocketConfig;
pub use io::WsIo;

use crate::protocol::messages::Connect;
use crate::server::client::{serve_accepted, Accepted};
use crate::server::Server;

/// Credentials a browser sent as cookies with the upgrade request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cookies {
    pub jwt: Option<String>,
    pub user: Option<String>,
    pub pass: Option<String>,
    pub token: Option<String>,
}

impl Cookies {
    /// Fills what the CONNECT left empty, as nats-server does: a cookie never
    /// overrides what the client sent.
    pub fn fill(&self, c: &mut Connect) {
        fn fill(dst: &mut Option<String>, src: &Option<String>) {
            if dst.as_deref().is_none_or(str::is_empty) && src.is_some() {
                dst.clone_from(src);
            }
        }
        fill(&mut c.jwt, &self.jwt);
        fill(&mut c.user, &self.user);
        fill(&mut c.pass, &self.pass);
        fill(&mut c.auth_token, &self.token);
    }

    fn is_empty(&self) -> bool {
        *self == Cookies::default()
    }
}

/// The value of cookie `name` in a `Cookie` header.
fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|kv| {
        let (k, v) = kv.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

/// Accepts WebSocket clients on `listener` until `stop` changes.
pub async fn accept_loop(
    server: Arc<Server>,
    ws: Arc<WebSocketConfig>,
    listener: TcpListener,
    stop: watch::Receiver<bool>,
) {
    crate::server::listener::accept_each(listener, stop, "websocket", |stream, addr| {
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve(server.clone(), ws.clone(), stream, addr));
    })
    .await;
}

/// TLS (unless `no_tls`), the upgrade within `handshake_timeout`, then the
/// client protocol.
async fn serve(server: Arc<Server>, ws: Arc<WebSocketConfig>, stream: TcpStream, addr: SocketAddr) {
    let deadline = ws.handshake_timeout;
    match &ws.tls {
        Some(tls) => {
            let upgraded = tokio::time::timeout(deadline, async {
                let s = tls
                    .acceptor
                    .accept(stream)
                    .await
                    .map_err(|e| e.to_string())?;
                upgrade(&ws, s).await
            })
            .await;
            if let Some((io, cookies)) = handshake_done(upgraded, addr) {
                serve_accepted(server.clone(), io, accepted(&server, addr, cookies)).await;
            }
        }
        None => {
            let upgraded = tokio::time::timeout(deadline, upgrade(&ws, stream)).await;
            if let Some((io, cookies)) = handshake_done(upgraded, addr) {
                serve_accepted(server.clone(), io, accepted(&server, addr, cookies)).await;
            }
        }
    }
}

/// The upgraded connection, or `None` (logged) when the handshake failed or
/// timed out.
fn handshake_done<T>(
    r: Result<Result<T, String>, tokio::time::error::Elapsed>,
    addr: SocketAddr,
) -> Option<T> {
    match r {
        Ok(Ok(v)) => Some(v),
        Ok(Err(e)) => {
            log::debug!("{addr} - websocket handshake error: {e}");
            None
        }
        Err(_) => {
            log::debug!("{addr} - websocket handshake timeout");
            None
        }
    }
}

fn accepted(server: &Server, addr: SocketAddr, cookies: Cookies) -> Accepted {
    Accepted {
        id: server.next_client_id(),
        addr,
        info_sent: false,
        tls: None,
        peer_cert: None,
        nonce: server.needs_nonce().then(crate::auth::new_nonce),
        cookies: (!cookies.is_empty()).then(|| Arc::new(cookies)),
        websocket: true,
    }
}

/// soketto holds a whole message before handing it over, so a message
/// is bounded as a client's unread input is: a few of the largest payloads
/// plus their protocol lines (nats.ws may batch several operations in one
/// frame). The bound holds for the compressed frames and for what they
/// inflate to.
fn message_limit(ws: &WebSocketConfig) -> usize {
    (4 * ws.max_payload).max(MIN_MESSAGE_LIMIT)
}

/// The smallest message limit, whatever `max_payload` says.
const MIN_MESSAGE_LIMIT: usize = 8 << 20;

/// The largest upgrade request.
const MAX_REQUEST: usize = 16 << 10;

/// Whether a `Sec-WebSocket-Extensions` header offers permessage-deflate
/// (nats-server's `wsPMCExtensionSupport` with `checkPMCOnly`).
fn offers_deflate(req: &http::Request<()>) -> bool {
    req.headers()
        .get_all("sec-websocket-extensions")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split([',', ';']))
        .any(|p| p.trim().eq_ignore_ascii_case("permessage-deflate"))
}

/// Reads the upgrade request's head; what the client sent after it goes
/// to soketto.
async fn read_request<S>(stream: &mut S) -> Result<(http::Request<()>, BytesMut), String>
where
    S: tokio::io::AsyncRead + Unpin,
{
    let mut buf = BytesMut::with_capacity(1024);
    loop {
        if buf.len() >= MAX_REQUEST {
            return Err("upgrade request too large".into());
        }
        if stream.read_buf(&mut buf).await.map_err(|e| e.to_string())? == 0 {
            return Err("connection closed during the upgrade request".into());
        }
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut parsed = httparse::Request::new(&mut headers);
        match parsed.parse(&buf) {
            Ok(httparse::Status::Partial) => continue,
            Err(e) => return Err(format!("invalid upgrade request: {e}")),
            Ok(httparse::Status::Complete(n)) => {
                if parsed.method != Some("GET") {
                    return Err("upgrade request must be a GET".into());
                }
                let mut req = http::Request::builder().uri(parsed.path.unwrap_or("/"));
                for h in parsed.headers.iter() {
                    req = req.header(h.name, h.value);
                }
                let req = req.body(()).map_err(|e| e.to_string())?;
                return Ok((req, buf.split_off(n)));
            }
        }
    }
}

/// Sends an HTTP error, as nats-server's `wsReturnHTTPError`.
async fn refuse<S>(stream: &mut S, status: http::StatusCode, why: &str) -> String
where
    S: tokio::io::AsyncWrite + Unpin,
{
    let body = format!("{why}\n");
    let resp = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: text/plain; charset=utf-8\r\nSec-Websocket-Version: 13\r\nX-Content-Type-Options: nosniff\r\nContent-Length: {}\r\n\r\n{body}",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        body.len()
    );
    let _ = stream.write_all(resp.as_bytes()).await;
    let _ = stream.flush().await;
    format!("{} {why}", status.as_u16())
}

/// The WebSocket handshake: the origin check, the cookies and, with
/// `compression: true` and the client's offer, permessage-deflate.
async fn upgrade<S>(ws: &WebSocketConfig, mut stream: S) -> Result<(WsIo<S>, Cookies), String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (req, rest) = read_request(&mut stream).await?;
    let header = |n: &str| req.headers().get(n).and_then(|v| v.to_str().ok());
    if let Err(why) = ws.check_origin(header("origin"), header("host")) {
        let why = format!("origin not allowed: {why}");
        return Err(refuse(&mut stream, http::StatusCode::FORBIDDEN, &why).await);
    }
    let mut cookies = Cookies::default();
    if let Some(h) = header("cookie") {
        let get = |name: &Option<String>| {
            name.as_deref()
                .and_then(|n| cookie(h, n))
                .map(str::to_owned)
        };
        cookies = Cookies {
            jwt: get(&ws.jwt_cookie),
            user: get(&ws.username_cookie),
            pass: get(&ws.password_cookie),
            token: get(&ws.token_cookie),
        };
    }
    let max = message_limit(ws);
    let mut server = soketto::handshake::http::Server::new();
    server.set_buffer(rest);
    if ws.compression && offers_deflate(&req) {
        server.add_extension(Box::new(deflate::PerMessageDeflate::new(max)));
    }
    let resp = match server.receive_request(&req) {
        Ok(r) => r,
        Err(e) => {
            let why = format!("invalid websocket upgrade: {e}");
            return Err(refuse(&mut stream, http::StatusCode::BAD_REQUEST, &why).await);
        }
    };
    let mut head = String::from("HTTP/1.1 101 Switching Protocols\r\n");
    for (k, v) in resp.headers() {
        head.push_str(k.as_str());
        head.push_str(": ");
        head.push_str(v.to_str().map_err(|e| e.to_string())?);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    stream
        .write_all(head.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    stream.flush().await.map_err(|e| e.to_string())?;
    let mut builder = server.into_builder(stream.compat());
    builder.set_max_message_size(max);
    builder.set_max_frame_size(max);
    let (tx, rx) = builder.finish();
    Ok((WsIo::new(tx, rx), cookies))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_read_by_name() {
        let h = "a=1; jwt=eyJ; tok=s3cret";
        assert_eq!(cookie(h, "jwt"), Some("eyJ"));
        assert_eq!(cookie(h, "tok"), Some("s3cret"));
        assert_eq!(cookie(h, "none"), None);
    }

    #[test]
    fn cookies_fill_only_what_connect_left_empty() {
        let c = Cookies {
            jwt: Some("j".into()),
            user: Some("u".into()),
            pass: Some("p".into()),
            token: None,
        };
        let mut connect = Connect::parse(br#"{"user":"given"}"#).unwrap();
        c.fill(&mut connect);
        assert_eq!(connect.user.as_deref(), Some("given"));
        assert_eq!(connect.pass.as_deref(), Some("p"));
        assert_eq!(connect.jwt.as_deref(), Some("j"));
        assert_eq!(connect.auth_token, None);
    }
}

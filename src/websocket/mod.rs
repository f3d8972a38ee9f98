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
//! ([`Cookies::fill`]). The handshake and framing are tungstenite's.

pub mod config;
mod io;

use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;

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

/// tungstenite holds a whole message before handing it over, so a message
/// is bounded as a client's unread input is: a few of the largest payloads
/// plus their protocol lines (nats.ws may batch several operations in one
/// frame), never the library's 64 MiB default.
fn frame_limits(ws: &WebSocketConfig) -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    let max = (4 * ws.max_payload).max(MIN_MESSAGE_LIMIT);
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
        max_message_size: Some(max),
        max_frame_size: Some(max),
        ..Default::default()
    }
}

/// The smallest message limit, whatever `max_payload` says.
const MIN_MESSAGE_LIMIT: usize = 8 << 20;

/// The WebSocket handshake: the origin check and the cookies.
async fn upgrade<S>(ws: &WebSocketConfig, stream: S) -> Result<(WsIo<S>, Cookies), String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut cookies = Cookies::default();
    // The callback's types are tungstenite's.
    #[allow(clippy::result_large_err)]
    let check = |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
        let header = |n: &str| req.headers().get(n).and_then(|v| v.to_str().ok());
        if let Err(why) = ws.check_origin(header("origin"), header("host")) {
            let mut r = ErrorResponse::new(Some(why));
            *r.status_mut() = StatusCode::FORBIDDEN;
            return Err(r);
        }
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
        Ok(resp)
    };
    let socket =
        tokio_tungstenite::accept_hdr_async_with_config(stream, check, Some(frame_limits(ws)))
            .await
            .map_err(|e| e.to_string())?;
    Ok((WsIo::new(socket), cookies))
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

//! The start of a connection on a TLS listener, in nats-server's order:
//!
//! 1. INFO on the plain socket (`tls_required`), unless `handshake_first`;
//!    with `handshake_first: auto` INFO is sent plain only when no
//!    ClientHello arrives within the fallback delay.
//! 2. With `allow_non_tls`, the first byte tells TLS (0x16) from plain text;
//!    plain clients go on without TLS.
//! 3. The handshake, bounded by the TLS timeout. A client that sends
//!    protocol text instead of a ClientHello, stays silent or fails the
//!    handshake is closed; probes and timeouts are logged at debug level,
//!    other failures as errors (as nats-server).
//! 4. After a handshake-first, INFO inside TLS; then the protocol runs over
//!    the TLS stream with the client certificate's identity attached.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::{PeerCert, TlsConfig, TlsSession};
use crate::server::client::{serve_accepted, Accepted};
use crate::server::Server;

/// The first byte of a TLS handshake record.
const HANDSHAKE_RECORD: u8 = 0x16;

/// Waits until the client has sent something (or closed) and returns its
/// first byte without consuming it; `None` on close or error.
async fn first_byte(stream: &TcpStream) -> Option<u8> {
    let mut b = [0u8; 1];
    match stream.peek(&mut b).await {
        Ok(1) => Some(b[0]),
        _ => None,
    }
}

/// How long a refused client's leftover input is read and dropped.
const LINGER: Duration = Duration::from_millis(500);

/// Closes a refused connection gently: FIN first, then read and drop what
/// the client still sends for a moment, so the close does not turn into a
/// reset that could destroy an alert or error line still in flight.
async fn linger_close(mut stream: TcpStream) {
    let _ = stream.shutdown().await;
    let drain = async {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
}

/// Writes a line directly (before the connection's writer exists), bounded
/// by the write deadline.
async fn write_now<W: AsyncWrite + Unpin>(w: &mut W, line: &[u8], deadline: Duration) -> bool {
    let write = async {
        w.write_all(line).await?;
        w.flush().await
    };
    matches!(tokio::time::timeout(deadline, write).await, Ok(Ok(())))
}

/// Serves one connection accepted on a TLS listener until it ends.
pub async fn serve(
    server: Arc<Server>,
    tls: Arc<TlsConfig>,
    mut stream: TcpStream,
    addr: SocketAddr,
) {
    let id = server.next_client_id();
    let nonce = server.needs_nonce().then(crate::auth::new_nonce);
    let opts = server.opts();
    let o = &tls.options;
    let write_deadline = opts.write_deadline;
    let mut tls_first = o.handshake_first;
    let mut info_sent = false;

    if tls_first {
        if let Some(delay) = o.fallback_delay {
            // Only TLS-first clients speak before INFO: silence means the
            // client waits for INFO.
            if tokio::time::timeout(delay, first_byte(&stream))
                .await
                .is_err()
            {
                tls_first = false;
            }
        }
    }
    if !tls_first {
        let info = server.client_info_line(id, addr, None, nonce.as_deref(), false);
        if !write_now(&mut stream, &info, write_deadline).await {
            log::debug!("{addr} - cid:{id} - Client connection closed: Write Error");
            return;
        }
        info_sent = true;
    }

    if !tls_first && opts.allow_non_tls {
        let sniff = tokio::time::timeout(o.timeout, first_byte(&stream)).await;
        if sniff.ok().flatten() != Some(HANDSHAKE_RECORD) {
            let accepted = Accepted {
                id,
                addr,
                info_sent,
                tls: None,
                peer_cert: None,
                nonce,
                cookies: None,
                websocket: false,
            };
            serve_accepted(server, stream, accepted).await;
            return;
        }
    }

    if !tls.allow_connection() {
        let _ = write_now(
            &mut stream,
            b"-ERR 'Connection throttling is active. Please try again later.'\r\n",
            write_deadline,
        )
        .await;
        log::debug!("{addr} - cid:{id} - Client connection closed: Maximum Connections Exceeded");
        linger_close(stream).await;
        return;
    }

    log::debug!("{addr} - cid:{id} - Starting TLS client connection handshake");
    let deadline = Instant::now() + o.timeout;
    let closed = |why: &str, debug: bool| {
        if debug {
            log::debug!("{addr} - cid:{id} - TLS handshake error: {why}");
        } else {
            log::error!("{addr} - cid:{id} - TLS handshake error: {why}");
        }
        log::debug!("{addr} - cid:{id} - Client connection closed: TLS Handshake Failure");
    };
    // A client that does not open with a handshake record is a plain client
    // or a probe: close without handing its bytes to the TLS engine.
    match tokio::time::timeout_at(deadline, first_byte(&stream)).await {
        Err(_) => return closed("timeout", true),
        Ok(None) => return closed("EOF", true),
        Ok(Some(HANDSHAKE_RECORD)) => {}
        Ok(Some(_)) => {
            closed("first record does not look like a TLS handshake", true);
            return linger_close(stream).await;
        }
    }
    let handshake = tls.acceptor.accept(stream).into_fallible();
    let mut stream = match tokio::time::timeout_at(deadline, handshake).await {
        Err(_) => return closed("timeout", true),
        Ok(Err((e, stream))) => {
            closed(&e.to_string(), false);
            return linger_close(stream).await;
        }
        Ok(Ok(s)) => s,
    };
    let conn = stream.get_ref().1;
    let session = TlsSession::from_conn(conn);
    let peer_cert = conn
        .peer_certificates()
        .and_then(|c| c.first())
        .and_then(|der| PeerCert::from_der(der).ok());
    if let Some(pins) = &o.pinned_certs {
        let pinned = peer_cert
            .as_ref()
            .is_some_and(|p| pins.contains(&p.spki_sha256));
        if !pinned {
            match &peer_cert {
                Some(p) => log::debug!(
                    "{addr} - cid:{id} - Failed pinned cert test for key id: {}",
                    p.spki_sha256
                ),
                None => log::debug!(
                    "{addr} - cid:{id} - Failed pinned cert test as client did not provide a certificate"
                ),
            }
            let _ = stream.shutdown().await;
            return closed("certificate not pinned", false);
        }
    }
    log::debug!(
        "{addr} - cid:{id} - TLS handshake complete (version {}, cipher {})",
        session.version,
        session.cipher_suite
    );
    if tls_first {
        let info = server.client_info_line_tls_first(id, addr, nonce.as_deref());
        if !write_now(&mut stream, &info, write_deadline).await {
            log::debug!("{addr} - cid:{id} - Client connection closed: Write Error");
            return;
        }
        info_sent = true;
    }
    let accepted = Accepted {
        id,
        addr,
        info_sent,
        tls: Some(session),
        peer_cert,
        nonce,
        cookies: None,
        websocket: false,
    };
    serve_accepted(server, stream, accepted).await;
}

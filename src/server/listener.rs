//! The accept loop: each accepted socket gets its own connection task.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::Server;
use crate::config::Options;

/// The address to bind for the options' host and port. Port 0 means the
/// default port and -1 any free port, as in nats-server.
pub fn bind_addr(opts: &Options) -> String {
    let host = if opts.host.is_empty() {
        "0.0.0.0"
    } else {
        opts.host.as_str()
    };
    let port = match opts.port {
        -1 => 0,
        0 => crate::config::DEFAULT_PORT,
        p => p.clamp(0, u16::MAX as i32) as u16,
    };
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Accepts clients on `listener` until `stop` changes.
pub async fn accept_loop(server: Arc<Server>, listener: TcpListener, stop: watch::Receiver<bool>) {
    accept_each(listener, stop, "client", |stream, addr| {
        spawn_client(&server, stream, addr)
    })
    .await;
}

/// Hands every connection accepted on `listener` to `accepted` until
/// `stop` changes; `kind` names the listener in errors.
pub async fn accept_each(
    listener: TcpListener,
    mut stop: watch::Receiver<bool>,
    kind: &str,
    mut accepted: impl FnMut(TcpStream, SocketAddr),
) {
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            r = listener.accept() => match r {
                Ok((stream, addr)) => accepted(stream, addr),
                Err(e) => {
                    // Out of file descriptors and similar: back off briefly
                    // instead of spinning, as nats-server does.
                    log::error!("Error accepting {kind} connection: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    }
}

fn spawn_client(server: &Arc<Server>, stream: TcpStream, addr: SocketAddr) {
    let _ = stream.set_nodelay(true);
    match &server.tls {
        Some(tls) => {
            tokio::spawn(crate::tls::accept::serve(
                server.clone(),
                tls.clone(),
                stream,
                addr,
            ));
        }
        None => {
            tokio::spawn(super::client::serve(server.clone(), stream, addr));
        }
    }
}

//! The accept loop, and the handle that stops it gracefully.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::close::CloseReason;
use super::Server;
use crate::config::Options;

/// A running server, as returned by [`start`].
pub struct ServerHandle {
    pub server: Arc<Server>,
    /// The bound client address (useful with port `-1`, any free port).
    pub addr: SocketAddr,
    /// The bound HTTP monitoring address, when monitoring is on.
    pub monitor_addr: Option<SocketAddr>,
    stop: watch::Sender<bool>,
    accept: Option<JoinHandle<()>>,
    monitor: Option<crate::monitor::MonitorHandle>,
}

impl ServerHandle {
    /// `nats://host:port` for clients of this server.
    pub fn client_url(&self) -> String {
        format!("nats://{}", self.addr)
    }

    /// `http://host:port` of the monitoring endpoints, when monitoring is on.
    pub fn monitor_url(&self) -> Option<String> {
        self.monitor_addr.map(|a| format!("http://{a}"))
    }

    /// Stops accepting connections and closes the listening socket (lame
    /// duck mode); returns once no new client can connect.
    pub async fn stop_accepting(&mut self) {
        let _ = self.stop.send(true);
        if let Some(accept) = self.accept.take() {
            let _ = accept.await;
        }
    }

    /// Graceful shutdown: stop accepting, close every client after flushing
    /// what is queued for it, and wait (bounded) for the connections to end.
    pub async fn shutdown(mut self) {
        self.stop_accepting().await;
        if let Some(m) = self.monitor {
            m.shutdown().await;
        }
        self.server.stop_registrations();
        for c in self.server.clients() {
            c.close(CloseReason::ServerShutdown);
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while self.server.num_clients() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

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

/// Binds the client port (and, with `http_port`, the monitoring port) and
/// starts accepting on the current runtime.
///
/// # Errors
/// When the address cannot be bound.
pub async fn start(opts: Options) -> std::io::Result<ServerHandle> {
    let tls = crate::tls::TlsConfig::from_options(&opts)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
    let monitoring = opts.http_port != 0;
    let server = Server::new(opts.clone(), tls)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
    super::claims::start(&server)
        .await
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let listener = TcpListener::bind(bind_addr(&opts)).await?;
    let addr = listener.local_addr()?;
    let _ = server.listen_addr.set(addr);
    let monitor = if monitoring {
        Some(crate::monitor::start(server.clone()).await?)
    } else {
        None
    };
    log::info!("Listening for client connections on {addr}");
    if let Some(tls) = &server.tls {
        for w in &tls.warnings {
            log::warn!("{w}");
        }
        let first_only = tls.options.handshake_first && tls.options.fallback_delay.is_none();
        if server.opts().allow_non_tls && !first_only {
            log::info!("TLS available for client connections");
        } else {
            log::info!("TLS required for client connections");
        }
        if first_only {
            log::warn!(
                "Clients that are not using \"TLS Handshake First\" option will fail to connect"
            );
        }
    }
    tokio::spawn(super::events::run_periodic(Arc::downgrade(&server)));
    let (stop, stop_rx) = watch::channel(false);
    let accept = tokio::spawn(accept_loop(server.clone(), listener, stop_rx));
    Ok(ServerHandle {
        server,
        addr,
        monitor_addr: monitor.as_ref().map(|m| m.addr),
        stop,
        accept: Some(accept),
        monitor,
    })
}

async fn accept_loop(server: Arc<Server>, listener: TcpListener, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            r = listener.accept() => match r {
                Ok((stream, addr)) => spawn_client(&server, stream, addr),
                Err(e) => {
                    // Out of file descriptors and similar: back off briefly
                    // instead of spinning, as nats-server does.
                    log::error!("Error accepting client connection: {e}");
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

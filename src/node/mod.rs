//! A whole running node: the server core, its system services, monitoring
//! and the client listener, started together and stopped gracefully.
//!
//! This is the one place that wires the layers: [`server`](crate::server)
//! (connections and routing), [`system`](crate::system) (`$SYS` events and
//! requests) and [`monitor`](crate::monitor) (HTTP endpoints) know nothing of
//! how they are started.

pub mod run;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::Options;
use crate::server::close::CloseReason;
use crate::server::listener::{accept_loop, bind_addr};
use crate::server::Server;

/// A running server, as returned by [`start`].
pub struct ServerHandle {
    pub server: Arc<Server>,
    /// The bound client address (useful with port `-1`, any free port).
    pub addr: SocketAddr,
    /// The bound HTTP monitoring address, when monitoring is on.
    pub monitor_addr: Option<SocketAddr>,
    /// The bound WebSocket address, with a `websocket {}` block.
    pub websocket_addr: Option<SocketAddr>,
    stop: watch::Sender<bool>,
    accept: Option<JoinHandle<()>>,
    ws_accept: Option<JoinHandle<()>>,
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
        if let Some(accept) = self.ws_accept.take() {
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
        if let Some(c) = self.server.cluster.get() {
            c.close_all();
        }
        for c in self.server.clients() {
            c.close(CloseReason::ServerShutdown);
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while self.server.num_clients() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Binds the client port (and, with `http_port`, the monitoring port) and
/// starts accepting on the current runtime.
///
/// # Errors
/// When the address cannot be bound.
pub async fn start(opts: Options) -> std::io::Result<ServerHandle> {
    // What start-up refuses (settings or features this build does not
    // run) is refused here too, for every way a node is started.
    crate::server::support::check(&opts)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
    let tls = crate::tls::TlsConfig::from_options(&opts)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
    let websocket = crate::websocket::WebSocketConfig::from_options(&opts)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
    let cluster = crate::cluster::config::ClusterConfig::from_options(&opts)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
    let monitoring = opts.http_port != 0;
    let server = Server::new(opts.clone(), tls)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
    crate::system::install(&server);
    crate::system::claims::start(&server)
        .await
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
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
    tokio::spawn(crate::system::events::run_periodic(Arc::downgrade(&server)));
    let (stop, stop_rx) = watch::channel(false);
    let (ws_accept, websocket_addr) = match websocket {
        Some(ws) => {
            let l = TcpListener::bind(ws.bind_addr()).await?;
            let a = l.local_addr()?;
            log::info!(
                "Listening for websocket clients on {}://{a}",
                if ws.tls.is_some() { "wss" } else { "ws" }
            );
            if ws.tls.is_none() {
                log::warn!("Websocket not configured with TLS. DO NOT USE IN PRODUCTION!");
            }
            let ws_auth = match ws.auth.options(&server.opts()) {
                Some(o) => Some(Arc::new(
                    crate::auth::AuthConfig::from_options(&o).map_err(|e| {
                        std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string())
                    })?,
                )),
                None => None,
            };
            server.set_ws_auth(ws_auth);
            let _ = server.websocket.set(crate::server::WebSocketInfo {
                addr: a,
                config: ws.clone(),
            });
            let task = crate::websocket::accept_loop(server.clone(), ws, l, stop_rx.clone());
            (Some(tokio::spawn(task)), Some(a))
        }
        None => (None, None),
    };
    match cluster {
        Some(cfg) if cfg.routing() => {
            crate::cluster::Cluster::start(&server, cfg, stop_rx.clone()).await?;
        }
        Some(cfg) => {
            for w in &cfg.warnings {
                log::warn!("{w}");
            }
        }
        None => {}
    }
    let accept = tokio::spawn(accept_loop(server.clone(), listener, stop_rx));
    Ok(ServerHandle {
        server,
        addr,
        monitor_addr: monitor.as_ref().map(|m| m.addr),
        websocket_addr,
        stop,
        accept: Some(accept),
        ws_accept,
        monitor,
    })
}

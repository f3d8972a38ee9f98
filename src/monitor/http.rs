//! The monitoring listener: HTTP/1.1 served by hyper on the server's tokio
//! runtime, one task per connection, stopped with the server.

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ACCESS_CONTROL_ALLOW_ORIGIN, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{Monitor, Reply};
use crate::server::Server;

/// How long a client may take to send its request headers (nats-server's
/// `ReadHeaderTimeout`).
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// How often connection activity is sampled for `last_activity`.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);
/// How long a request in progress may finish after shutdown starts.
const DRAIN: Duration = Duration::from_secs(1);

/// The running monitoring listener.
pub struct MonitorHandle {
    pub monitor: Arc<Monitor>,
    /// The bound address (useful with port `-1`).
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for MonitorHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MonitorHandle")
            .field("addr", &self.addr)
            .finish()
    }
}

impl MonitorHandle {
    /// `http://host:port` of the monitoring endpoints.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, lets requests in progress finish (briefly) and
    /// closes the monitoring connections.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// The host monitoring binds: `http_host`, else the client `host`, else all
/// interfaces, as nats-server defaults it.
pub fn monitor_host(opts: &crate::config::Options) -> String {
    if !opts.http_host.is_empty() {
        opts.http_host.clone()
    } else if !opts.host.is_empty() {
        opts.host.clone()
    } else {
        "0.0.0.0".to_owned()
    }
}

/// `host:port` to bind for the monitoring port (`-1` = any free port).
pub fn bind_addr(opts: &crate::config::Options) -> String {
    let host = monitor_host(opts);
    let port = if opts.http_port < 0 {
        0
    } else {
        opts.http_port.min(u16::MAX.into()) as u16
    };
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Binds the monitoring port from the server's options and starts serving.
///
/// # Errors
/// When the port cannot be bound.
pub async fn start(server: Arc<Server>) -> std::io::Result<MonitorHandle> {
    let opts = server.opts();
    let listener = TcpListener::bind(bind_addr(&opts)).await.map_err(|e| {
        std::io::Error::new(e.kind(), format!("can't listen to the monitor port: {e}"))
    })?;
    let addr = listener.local_addr()?;
    let host = monitor_host(&opts);
    log::info!("Starting http monitor on {host}:{}", addr.port());
    let monitor = Arc::new(Monitor::new(server, addr, host));
    let (stop, stop_rx) = watch::channel(false);
    let task = tokio::spawn(serve(monitor.clone(), listener, stop_rx));
    Ok(MonitorHandle {
        monitor,
        addr,
        stop,
        task,
    })
}

async fn serve(monitor: Arc<Monitor>, listener: TcpListener, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(SAMPLE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut conns = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            _ = tick.tick() => monitor.sample(),
            r = listener.accept() => match r {
                Ok((stream, _)) => {
                    conns.spawn(serve_conn(monitor.clone(), stream, stop.clone()));
                }
                Err(e) => {
                    log::error!("Error accepting monitoring connection: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(DRAIN * 2, async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    conns.abort_all();
}

async fn serve_conn(monitor: Arc<Monitor>, stream: TcpStream, mut stop: watch::Receiver<bool>) {
    let svc = service_fn(move |req: Request<Incoming>| {
        let monitor = monitor.clone();
        async move { Ok::<_, Infallible>(respond(&monitor, &req)) }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .serve_connection(TokioIo::new(stream), svc);
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                log::debug!("monitoring: {e}");
            }
        }
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(DRAIN, conn).await;
        }
    }
}

fn respond(monitor: &Monitor, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let reply = monitor.handle(req.uri().path(), req.uri().query());
    to_response(reply)
}

/// Turns a [`Reply`] into the HTTP response.
pub fn to_response(reply: Reply) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(reply.body)));
    *resp.status_mut() = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(reply.content_type));
    if reply.cors {
        h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    }
    if reply.status == 404 {
        h.insert(
            "x-content-type-options",
            HeaderValue::from_static("nosniff"),
        );
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Options;

    #[test]
    fn monitor_host_defaults_to_client_host() {
        let mut o = Options::default();
        assert_eq!(bind_addr(&o), "0.0.0.0:0");
        o.host = "127.0.0.1".into();
        o.http_port = 8222;
        assert_eq!(bind_addr(&o), "127.0.0.1:8222");
        o.http_host = "::1".into();
        o.http_port = -1;
        assert_eq!(bind_addr(&o), "[::1]:0");
    }
}

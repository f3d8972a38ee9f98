//! Two runtimes for client connections: the main one, where every
//! connection starts, and the bulk lane, where a connection moves once it
//! carries a flood.
//!
//! Why: tokio has one I/O driver per runtime, polled by one worker at a time.
//! A flood keeps that driver busy with readiness events (a publisher's
//! socket turns readable with every segment that arrives) and the worker
//! that polls it runs the woken flood tasks itself, so another tenant's
//! small request, ready on the same driver, waits behind them. Measured
//! with one flood of 1 publisher into 4 subscribers and an account's
//! request/reply on the same server: the requests' p99 was 0.7-1.6 ms with
//! everything on one runtime, 0.13-1.0 ms with the flood's connections on a
//! runtime of their own (and 0.4-0.9 ms with the flood on another server
//! process). Moving only the tasks, without registering the socket with the
//! other runtime's driver, made it worse (2.5 ms): the driver is what has to
//! be separate.
//!
//! A connection moves when its reader takes in, or its writer sends, more
//! than `heavy_connection_rate` (10 MB/s unless configured; 0 turns the
//! lane off) within a [`HEAVY_WINDOW`]. It moves once and stays:
//! the bulk lane is an ordinary runtime, so a connection there is served as
//! before, only beside other heavy ones. Plain TCP connections move; TLS and
//! WebSocket streams cannot be taken apart and registered again, so they
//! stay (their readers still yield after every read budget).

use std::io;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;
use tokio::runtime::Runtime;

/// The window over which a connection's bytes are counted against
/// `heavy_connection_rate`.
pub const HEAVY_WINDOW: Duration = Duration::from_millis(100);

/// Counts the bytes one side of a connection moved in the current window.
#[derive(Debug, Default)]
pub struct Meter {
    /// Bytes per window that make the connection heavy; 0: never.
    limit: usize,
    started: Option<Instant>,
    bytes: usize,
}

impl Meter {
    /// A meter for `heavy_connection_rate` (bytes per second; 0: never
    /// heavy).
    pub fn new(rate: i64) -> Meter {
        let per_window = rate.max(0) as u128 * HEAVY_WINDOW.as_millis() / 1000;
        Meter {
            // A rate too small for one byte per window still means "any".
            limit: if rate > 0 {
                (per_window as usize).max(1)
            } else {
                0
            },
            ..Meter::default()
        }
    }

    /// Adds `n` bytes; true when the current window has reached the limit.
    #[inline]
    pub fn add(&mut self, n: usize) -> bool {
        self.limit != 0 && self.add_at(n, Instant::now())
    }

    fn add_at(&mut self, n: usize, now: Instant) -> bool {
        match self.started {
            Some(t) if now.duration_since(t) < HEAVY_WINDOW => self.bytes += n,
            _ => {
                self.started = Some(now);
                self.bytes = n;
            }
        }
        self.bytes >= self.limit
    }
}

/// A stream unregistered from one runtime, to be registered on another.
pub type Detached<S> = Box<dyn FnOnce() -> io::Result<S> + Send>;

/// What [`Transport::detach`] made of a stream.
pub enum Detach<S> {
    /// Off the driver; call it inside the runtime the stream moves to.
    Moved(Detached<S>),
    /// This kind of stream cannot move; here it is back.
    Stays(S),
    /// Taking it off the driver failed; the stream is gone.
    Broken(io::Error),
}

/// A client's byte stream, and whether it can move to the bulk lane.
pub trait Transport:
    tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + Sized + 'static
{
    /// Whether [`Transport::detach`] can move it.
    const MOVABLE: bool = false;

    /// Takes the stream off the current runtime's I/O driver.
    fn detach(self) -> Detach<Self> {
        Detach::Stays(self)
    }
}

impl Transport for TcpStream {
    const MOVABLE: bool = true;

    fn detach(self) -> Detach<Self> {
        // `into_std` deregisters and leaves the socket non-blocking, as
        // `from_std` requires.
        match self.into_std() {
            Ok(std) => Detach::Moved(Box::new(move || TcpStream::from_std(std))),
            Err(e) => Detach::Broken(e),
        }
    }
}

impl Transport for tokio_rustls::server::TlsStream<TcpStream> {}

impl<S> Transport for crate::websocket::io::WsIo<S> where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static
{
}

/// The bulk lane's runtime, started on first use: one worker per CPU, since
/// what runs there is throughput work that the kernel's scheduler, not the
/// runtime, should weigh against the main runtime's threads.
/// `None` if it could not start (no threads left): connections then stay.
pub fn bulk() -> Option<&'static Runtime> {
    static BULK: OnceLock<Option<Runtime>> = OnceLock::new();
    BULK.get_or_init(|| {
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get().max(2));
        match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name("rnats-bulk")
            .enable_all()
            .build()
        {
            Ok(rt) => Some(rt),
            Err(e) => {
                log::error!("the bulk lane's runtime cannot start, heavy connections stay: {e}");
                None
            }
        }
    })
    .as_ref()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heavy_only_within_one_window() {
        let t0 = Instant::now();
        let mut m = Meter::new(10 << 20);
        let limit = 1 << 20; // 10 MiB/s over 100 ms
        assert!(!m.add_at(limit / 2, t0));
        assert!(m.add_at(limit / 2, t0 + HEAVY_WINDOW / 2));
        // A new window starts the count again.
        assert!(!m.add_at(limit / 2, t0 + HEAVY_WINDOW * 2));
        assert!(!m.add_at(1, t0 + HEAVY_WINDOW * 4));
    }

    #[test]
    fn rate_zero_is_never_heavy_and_tiny_rates_mean_any_traffic() {
        assert!(!Meter::new(0).add(usize::MAX));
        assert!(Meter::new(1).add(1));
    }
}

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
//! lane off) within a [`HEAVY_WINDOW`]. A rate quota that holds a publisher
//! back moves its whole account (a noisy tenant, `quota::NoisyMark`): the
//! publisher and the subscribers it wakes then stay on one lane, and the
//! account's new connections join them while it stays noisy. The bulk lane
//! is an ordinary runtime, so a connection there is served as before, only
//! beside other heavy ones and at a lower priority. A connection that has
//! had no heavy window for [`QUIET_FOR`], its account no longer noisy,
//! moves back to the main lane the same way (one burst does not mark a
//! client for good), and may move again if it floods again. Plain
//! TCP connections move; TLS and WebSocket streams cannot be taken apart and
//! registered again, so they stay (their readers still yield after every
//! read budget).
//!
//! The bulk lane's threads run at a lower CPU priority ([`BULK_NICE`]), so
//! when both lanes have work on a busy machine, the kernel runs the main
//! lane's first: a request that wakes a main-lane thread preempts a flood
//! instead of waiting for its time slice. Measured with a 20k msgs/s quota
//! on a flooding account, the other account's request p99 went from 1.7x
//! its p99 alone to 1.3-1.4x with the account moved and the lane niced; the
//! move alone, or the nice alone, gained little.

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

/// How long a connection on the bulk lane must stay under
/// `heavy_connection_rate` (reader and writer, every window) before it
/// returns to the main lane, its account not being a noisy tenant either.
/// Long enough that a flood with pauses does not move back and forth.
pub const QUIET_FOR: Duration = Duration::from_secs(10);

/// How often the bulk lane's sweep looks for connections that may return
/// (`Server::sweep_bulk_lane`).
pub const QUIET_CHECK: Duration = Duration::from_secs(1);

/// When a connection last had a heavy window, on either side: what decides
/// whether it may leave the bulk lane.
#[derive(Debug, Default)]
pub struct HeavyMark {
    /// [`crate::quota::now_ms`] of the last heavy window (0: never).
    last_ms: std::sync::atomic::AtomicU64,
}

impl HeavyMark {
    /// Records a heavy window now.
    pub fn mark(&self) {
        self.last_ms
            .store(crate::quota::now_ms(), std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether no heavy window was recorded within [`QUIET_FOR`].
    pub fn is_quiet(&self) -> bool {
        self.is_quiet_at(crate::quota::now_ms())
    }

    fn is_quiet_at(&self, now: u64) -> bool {
        let last = self.last_ms.load(std::sync::atomic::Ordering::Relaxed);
        last == 0 || now.saturating_sub(last) > QUIET_FOR.as_millis() as u64
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

/// The nice value the bulk lane's threads add to their own: a busy main
/// lane gets most of a contended CPU, while the bulk lane still gets a
/// share (it is never starved, only second).
pub const BULK_NICE: i32 = 10;

/// Lowers the calling thread's CPU priority by [`BULK_NICE`]. On Linux a
/// nice value belongs to a thread, so only the bulk lane's workers run
/// lower. Raising one's own nice value needs no privilege; if it fails the
/// lane still works, at the same priority.
fn lower_thread_priority() {
    let current = rustix::process::getpriority_process(None).unwrap_or(0);
    if let Err(e) = rustix::process::setpriority_process(None, current + BULK_NICE) {
        log::debug!("the bulk lane's threads keep their priority: {e}");
    }
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
            .on_thread_start(lower_thread_priority)
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
    fn a_connection_is_quiet_once_no_window_was_heavy_for_a_while() {
        let m = HeavyMark::default();
        assert!(m.is_quiet_at(1), "never heavy");
        m.last_ms.store(100, std::sync::atomic::Ordering::Relaxed);
        let span = QUIET_FOR.as_millis() as u64;
        assert!(!m.is_quiet_at(100));
        assert!(!m.is_quiet_at(100 + span));
        assert!(m.is_quiet_at(101 + span));
    }

    #[test]
    fn the_bulk_lane_runs_at_a_lower_cpu_priority() {
        let main = rustix::process::getpriority_process(None).unwrap();
        let bulk = futures::executor::block_on(
            bulk()
                .unwrap()
                .spawn(async { rustix::process::getpriority_process(None).unwrap() }),
        )
        .unwrap();
        assert_eq!(bulk, (main + BULK_NICE).min(19));
        assert_eq!(rustix::process::getpriority_process(None).unwrap(), main);
    }

    #[test]
    fn rate_zero_is_never_heavy_and_tiny_rates_mean_any_traffic() {
        assert!(!Meter::new(0).add(usize::MAX));
        assert!(Meter::new(1).add(1));
    }
}

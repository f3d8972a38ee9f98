//! A connection's outbound side: the buffer every producer appends to, and
//! the writer task that flushes it to the socket in batches.
//!
//! Producers (the connection's own reader, and the readers of publishers
//! whose messages it receives) append encoded frames under a short mutex and
//! then, once per read batch, wake the writer. The writer swaps the filled
//! buffer with its spare one and writes it out, so the steady state allocates
//! nothing and a burst of messages becomes one `write` call.
//!
//! Lock order: `Outbound` is a leaf lock; nothing else is locked while it is
//! held, and it is never held across an `.await`.

use bytes::BytesMut;
use parking_lot::Mutex;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;
use std::time::Duration;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::Notify;

use super::close::CloseReason;

/// Buffers larger than this are released after a flush rather than kept as
/// the spare, so one burst does not pin memory for an idle connection.
const KEEP_CAPACITY: usize = 64 * 1024;

/// The most one write call hands to the kernel (see `write_counted`).
const WRITE_SLICE: usize = 256 * 1024;

/// The state producers and the writer share.
#[derive(Debug, Default)]
pub struct OutboundState {
    /// Frames not yet taken by the writer.
    pub buf: BytesMut,
    /// Bytes the writer took and is writing now (still "pending" for the
    /// slow-consumer limit).
    pub in_flight: usize,
    /// Set once the connection is closing; producers stop appending.
    pub closing: Option<CloseReason>,
    /// A producer went over `max_pending` only by counting `in_flight`
    /// while the writer was between a write and its accounting; the writer
    /// decides once it knows what the kernel took.
    pub recheck: bool,
    /// The writer itself cut the connection settling such a check (the
    /// producer that cuts logs the cut; this tells the writer's owner to).
    pub cut_by_writer: bool,
}

impl OutboundState {
    /// Marks the connection closing as a slow consumer and drops its output.
    fn cut_slow(&mut self) {
        self.closing = Some(CloseReason::SlowConsumerPendingBytes);
        self.buf = BytesMut::new();
        self.recheck = false;
    }
}

/// The outbound half of a connection.
#[derive(Debug)]
pub struct Outbound {
    pub state: Mutex<OutboundState>,
    /// Wakes the writer. `notify_one` keeps a permit when the writer is not
    /// waiting, so a wake-up is never lost.
    wake: Notify,
    /// Aborts a write in progress when the connection closes for a reason
    /// that drops pending output (a slow consumer must not hold its socket
    /// open for a whole `write_deadline`).
    abort: Notify,
    /// The writer is parked on a full socket: `in_flight` is exact. Set
    /// when a write returns `Pending`, cleared before every write attempt,
    /// so it is never stale while the writer is running.
    blocked: AtomicBool,
    /// Per-connection limit of pending bytes (`max_pending`).
    pub max_pending: usize,
    /// Pending bytes over which producers pause (half of `max_pending`, as
    /// nats-server stalls fast producers), so backpressure reaches the
    /// publishers' sockets instead of this buffer growing to the limit.
    stall_at: usize,
    /// Set by a producer whose append went over `stall_at`; cleared by the
    /// writer once pending bytes are back under half of it.
    stalled: AtomicBool,
    /// Wakes the producers waiting for this connection to drain.
    drained: Notify,
    /// How long one flush may block (`write_deadline`).
    pub write_deadline: Duration,
    /// The connection may still move to the bulk lane (see `lanes`): set
    /// for streams that can move, cleared by whichever side claims the move.
    movable: AtomicBool,
    /// `heavy_connection_rate` for the writer's meter (0: never moves).
    heavy_rate: std::sync::atomic::AtomicI64,
    /// The writer found the connection heavy and claimed the move: wakes
    /// the reader, which carries it out.
    move_wanted: Notify,
    /// The reader asks the writer to hand back its half of the stream.
    handoff: AtomicBool,
    /// The last heavy window of the reader or the writer: a connection on
    /// the bulk lane returns once it has been quiet for a while.
    pub heavy: super::lanes::HeavyMark,
    /// The bulk lane's sweep asks the reader to move the connection back
    /// (it wakes it through `move_wanted`).
    return_wanted: AtomicBool,
}

/// How a writer task ended.
#[derive(Debug)]
pub enum WriterEnd<W> {
    /// The connection is closing; `Some` when a write failed or was
    /// abandoned, with the reason to close with.
    Done(Option<CloseReason>),
    /// Asked for by [`Outbound::request_handoff`]: the stream's write half,
    /// with nothing of a batch left unwritten.
    Handoff(W),
}

/// What happened when appending to a connection's outbound buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    Ok,
    /// The connection is closing; nothing was appended.
    Closed,
    /// The append pushed pending bytes over `max_pending`: the connection is
    /// now closing as a slow consumer.
    SlowConsumer,
    /// Appended, but pending bytes are over the stall threshold: the
    /// producer should pause until this connection drains
    /// ([`Outbound::wait_drained`]).
    Stalled,
}

impl Outbound {
    pub fn new(max_pending: usize, write_deadline: Duration) -> Self {
        Outbound {
            state: Mutex::new(OutboundState::default()),
            wake: Notify::new(),
            abort: Notify::new(),
            blocked: AtomicBool::new(false),
            max_pending,
            stall_at: max_pending / 2,
            stalled: AtomicBool::new(false),
            drained: Notify::new(),
            write_deadline,
            movable: AtomicBool::new(false),
            heavy_rate: std::sync::atomic::AtomicI64::new(0),
            move_wanted: Notify::new(),
            handoff: AtomicBool::new(false),
            heavy: super::lanes::HeavyMark::default(),
            return_wanted: AtomicBool::new(false),
        }
    }

    /// Lets the connection move to the bulk lane once it moves more than
    /// `rate` bytes per second (its stream can move; 0: it never does).
    /// Called before the writer starts.
    pub fn allow_move(&self, rate: i64) {
        if rate > 0 {
            self.heavy_rate.store(rate, Ordering::Relaxed);
            self.movable.store(true, Ordering::Release);
        }
    }

    /// Lets a connection that came back from the bulk lane move again,
    /// at the rate it was allowed before. Called before its new writer
    /// starts.
    pub fn allow_move_again(&self) {
        if self.heavy_rate.load(Ordering::Relaxed) > 0 {
            self.movable.store(true, Ordering::Release);
        }
    }

    /// Whether the connection may still move to the bulk lane (nobody has
    /// claimed the move).
    pub fn may_move(&self) -> bool {
        self.movable.load(Ordering::Acquire)
    }

    /// Asks the reader of a connection on the bulk lane to move it back to
    /// the main lane.
    pub fn request_return(&self) {
        self.return_wanted.store(true, Ordering::Release);
        self.move_wanted.notify_one();
    }

    /// Takes a request to return (see [`Outbound::request_return`]).
    pub fn take_return(&self) -> bool {
        self.return_wanted.swap(false, Ordering::AcqRel)
    }

    /// Claims the move of this connection to the bulk lane; true for the
    /// first caller on a connection that may move.
    pub fn claim_move(&self) -> bool {
        self.movable.load(Ordering::Relaxed) && self.movable.swap(false, Ordering::AcqRel)
    }

    /// Asks the reader to move the connection to the bulk lane (once, if it
    /// may move at all).
    pub fn request_move(&self) {
        if self.claim_move() {
            self.move_wanted.notify_one();
        }
    }

    /// Waits until a move was claimed for the reader to make.
    pub async fn move_wanted(&self) {
        self.move_wanted.notified().await;
    }

    /// Asks the writer to return its half of the stream between batches
    /// ([`WriterEnd::Handoff`]).
    pub fn request_handoff(&self) {
        self.handoff.store(true, Ordering::Release);
        self.wake.notify_one();
    }

    /// Whether producers should pause for this connection.
    #[inline]
    pub fn is_stalled(&self) -> bool {
        self.stalled.load(Ordering::Acquire)
    }

    /// Waits until this connection's pending output is back under the
    /// resume mark, it closes, or `deadline` passes. Returns whether it
    /// drained (false: timed out).
    pub async fn wait_drained(&self, deadline: tokio::time::Instant) -> bool {
        loop {
            let notified = self.drained.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if !self.is_stalled() {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return !self.is_stalled();
            }
        }
    }

    /// Lets waiting producers go once pending bytes are under half the
    /// stall threshold (or the connection closes). Called with the state
    /// lock held by the writer as bytes leave.
    #[inline]
    fn release_producers(&self, st: &OutboundState) {
        if self.stalled.load(Ordering::Relaxed)
            && (st.closing.is_some() || st.buf.len() + st.in_flight <= self.stall_at / 2)
        {
            self.stalled.store(false, Ordering::Release);
            self.drained.notify_waiters();
        }
    }

    /// Appends with `f` unless the connection is closing, then enforces the
    /// pending limit. The caller wakes the writer later with [`Outbound::flush`].
    #[inline]
    pub fn append(&self, f: impl FnOnce(&mut BytesMut)) -> Appended {
        let mut st = self.state.lock();
        if st.closing.is_some() {
            return Appended::Closed;
        }
        f(&mut st.buf);
        if st.buf.len() + st.in_flight > self.max_pending {
            // The writer may have handed the in-flight bytes to the kernel
            // already and not yet counted them (its thread can be preempted
            // right after the write returns). Unless it is known to wait on
            // a full socket, let it decide; what is queued here stays within
            // the limit meanwhile, so memory is bounded by twice the limit.
            let parked = self.blocked.load(Ordering::Acquire);
            if st.in_flight > 0 && !parked && st.buf.len() <= self.max_pending {
                st.recheck = true;
                return Appended::Ok;
            }
            st.cut_slow();
            self.release_producers(&st);
            drop(st);
            self.wake.notify_one();
            self.abort.notify_one();
            return Appended::SlowConsumer;
        }
        if st.buf.len() + st.in_flight > self.stall_at {
            self.stalled.store(true, Ordering::Release);
            return Appended::Stalled;
        }
        Appended::Ok
    }

    /// Wakes the writer to flush what was appended.
    #[inline]
    pub fn flush(&self) {
        self.wake.notify_one();
    }

    /// Marks the connection closing (first reason wins) and wakes the writer,
    /// which flushes what is pending when the reason allows and then closes
    /// the socket. Returns false if it was already closing.
    pub fn close(&self, reason: CloseReason) -> bool {
        let mut st = self.state.lock();
        if st.closing.is_some() {
            return false;
        }
        st.closing = Some(reason);
        let abort = !reason.flush_pending();
        if abort {
            st.buf = BytesMut::new();
        }
        self.release_producers(&st);
        drop(st);
        self.wake.notify_one();
        if abort {
            self.abort.notify_one();
        }
        true
    }

    pub fn closing(&self) -> Option<CloseReason> {
        self.state.lock().closing
    }

    /// Bytes appended but not yet written.
    pub fn pending(&self) -> usize {
        let st = self.state.lock();
        st.buf.len() + st.in_flight
    }

    /// Writes one batch, lowering the in-flight count as the kernel accepts
    /// bytes, so the pending figure the slow-consumer limit checks is what
    /// is really still queued (as nats-server counts it), not the whole batch
    /// until its last byte is out. Each write may block at most
    /// `write_deadline`. A limit check a producer left to the writer
    /// ([`OutboundState::recheck`]) is settled here, with exact figures.
    async fn write_counted<W: AsyncWrite + Unpin>(
        &self,
        w: &mut W,
        batch: &[u8],
    ) -> Result<(), CloseReason> {
        let mut off = 0;
        while off < batch.len() {
            let end = batch.len().min(off + WRITE_SLICE);
            let step = std::future::poll_fn(|cx| {
                self.blocked.store(false, Ordering::Release);
                match Pin::new(&mut *w).poll_write(cx, &batch[off..end]) {
                    Poll::Pending => {
                        self.blocked.store(true, Ordering::Release);
                        let mut st = self.state.lock();
                        if self.settle_recheck(&mut st) {
                            return Poll::Ready(Err(CloseReason::SlowConsumerPendingBytes));
                        }
                        Poll::Pending
                    }
                    Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => {
                        Poll::Ready(Err(CloseReason::WriteError))
                    }
                    Poll::Ready(Ok(n)) => Poll::Ready(Ok(n)),
                }
            });
            match tokio::time::timeout(self.write_deadline, step).await {
                Ok(Ok(n)) => {
                    off += n;
                    let mut st = self.state.lock();
                    st.in_flight = batch.len() - off;
                    self.release_producers(&st);
                    if self.settle_recheck(&mut st) {
                        return Err(CloseReason::SlowConsumerPendingBytes);
                    }
                }
                Ok(Err(reason)) => return Err(reason),
                Err(_) => return Err(CloseReason::SlowConsumerWriteDeadline),
            }
        }
        // A transport that buffers (WebSocket frames) sends now; for TCP
        // and TLS this is a no-op or a cheap one.
        match tokio::time::timeout(self.write_deadline, w.flush()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(CloseReason::WriteError),
            Err(_) => Err(CloseReason::SlowConsumerWriteDeadline),
        }
    }

    /// Settles a deferred limit check now that `in_flight` is exact; true
    /// when the connection is cut as a slow consumer.
    fn settle_recheck(&self, st: &mut OutboundState) -> bool {
        if !st.recheck {
            return false;
        }
        st.recheck = false;
        if st.closing.is_none() && st.buf.len() + st.in_flight > self.max_pending {
            st.cut_slow();
            st.cut_by_writer = true;
            return true;
        }
        false
    }

    /// Whether the writer (not a producer) cut the connection as a slow
    /// consumer, so the cut has not been logged yet.
    pub fn cut_by_writer(&self) -> bool {
        self.state.lock().cut_by_writer
    }

    /// The writer loop. Returns when the connection is closing and its
    /// pending output has been flushed (or could not be), or when a write
    /// fails; in the latter cases it returns the reason to close with.
    pub async fn run_writer<W: AsyncWrite + Unpin>(&self, mut w: W) -> WriterEnd<W> {
        let mut spare = BytesMut::new();
        let mut meter = super::lanes::Meter::new(self.heavy_rate.load(Ordering::Relaxed));
        // None: closing normally, Some: a write failed or was abandoned.
        let failed = loop {
            // Between batches: nothing taken from the buffer is unwritten.
            if self.handoff.swap(false, Ordering::AcqRel) {
                return WriterEnd::Handoff(w);
            }
            let closing = {
                let mut st = self.state.lock();
                if st.buf.is_empty() {
                    st.closing
                } else {
                    std::mem::swap(&mut st.buf, &mut spare);
                    st.in_flight = spare.len();
                    None
                }
            };
            if spare.is_empty() {
                if let Some(reason) = closing {
                    break (!reason.flush_pending()).then_some(reason);
                }
                self.wake.notified().await;
                continue;
            }
            let res = tokio::select! {
                r = self.write_counted(&mut w, &spare) => r,
                _ = self.abort.notified() => break self.closing(),
            };
            if meter.add(spare.len()) {
                self.heavy.mark();
                self.request_move();
            }
            spare.clear();
            if spare.capacity() > KEEP_CAPACITY {
                spare = BytesMut::new();
            }
            if let Err(reason) = res {
                break Some(reason);
            }
        };
        match failed {
            Some(reason) => {
                self.close(reason);
                // Nothing more can be written; close without waiting.
                let _ = tokio::time::timeout(Duration::from_millis(10), w.shutdown()).await;
            }
            None => {
                let _ = tokio::time::timeout(self.write_deadline, w.flush()).await;
                let _ = tokio::time::timeout(Duration::from_secs(1), w.shutdown()).await;
            }
        }
        WriterEnd::Done(failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BufMut;

    #[test]
    fn slow_consumer_when_over_limit() {
        let o = Outbound::new(10, Duration::from_secs(1));
        assert_eq!(o.append(|b| b.put_slice(b"12345")), Appended::Ok);
        assert_eq!(o.append(|b| b.put_slice(b"123456")), Appended::SlowConsumer);
        assert_eq!(o.closing(), Some(CloseReason::SlowConsumerPendingBytes));
        assert_eq!(o.append(|b| b.put_slice(b"1")), Appended::Closed);
        assert_eq!(o.pending(), 0);
    }

    /// A writer preempted between its write and its accounting must not make
    /// a healthy reader look slow: the producer leaves the decision to it.
    #[test]
    fn over_limit_only_by_in_flight_is_settled_by_the_writer() {
        let o = Outbound::new(10, Duration::from_secs(1));
        o.state.lock().in_flight = 8; // swapped, not yet counted
        assert_eq!(o.append(|b| b.put_slice(b"12345")), Appended::Ok);
        assert!(o.state.lock().recheck);
        // The kernel had taken all 8 bytes: nothing is slow.
        let mut st = o.state.lock();
        st.in_flight = 0;
        assert!(!o.settle_recheck(&mut st));
        assert!(st.closing.is_none());
        // Had it taken none, the connection is cut.
        st.in_flight = 8;
        st.recheck = true;
        assert!(o.settle_recheck(&mut st));
        assert_eq!(st.closing, Some(CloseReason::SlowConsumerPendingBytes));
        assert!(st.buf.is_empty());
        assert!(st.cut_by_writer);
    }

    #[test]
    fn over_limit_while_the_socket_is_full_cuts_at_once() {
        let o = Outbound::new(10, Duration::from_secs(1));
        o.state.lock().in_flight = 8;
        o.blocked.store(true, Ordering::Release);
        assert_eq!(o.append(|b| b.put_slice(b"12345")), Appended::SlowConsumer);
        // And what is queued alone over the limit is never deferred.
        let o = Outbound::new(10, Duration::from_secs(1));
        o.state.lock().in_flight = 8;
        assert_eq!(
            o.append(|b| b.put_slice(b"12345678901")),
            Appended::SlowConsumer
        );
    }

    #[tokio::test]
    async fn producers_stall_over_half_the_limit_until_the_writer_drains() {
        let o = std::sync::Arc::new(Outbound::new(100, Duration::from_secs(5)));
        assert_eq!(o.append(|b| b.put_slice(&[b'x'; 40])), Appended::Ok);
        assert_eq!(o.append(|b| b.put_slice(&[b'x'; 20])), Appended::Stalled);
        assert!(o.is_stalled());
        // Nobody drains yet: the wait ends at its deadline, still stalled.
        let soon = tokio::time::Instant::now() + Duration::from_millis(20);
        assert!(!o.wait_drained(soon).await);
        let (client, mut server) = tokio::io::duplex(1024);
        let w = {
            let o = o.clone();
            tokio::spawn(async move { o.run_writer(client).await })
        };
        let waiter = {
            let o = o.clone();
            tokio::spawn(async move {
                o.wait_drained(tokio::time::Instant::now() + Duration::from_secs(5))
                    .await
            })
        };
        o.flush();
        let mut got = vec![0u8; 60];
        tokio::io::AsyncReadExt::read_exact(&mut server, &mut got)
            .await
            .unwrap();
        assert!(waiter.await.unwrap(), "released once drained");
        assert!(!o.is_stalled());
        o.close(CloseReason::ServerShutdown);
        assert!(matches!(w.await.unwrap(), WriterEnd::Done(None)));
    }

    #[test]
    fn closing_releases_stalled_producers() {
        let o = Outbound::new(100, Duration::from_secs(1));
        assert_eq!(o.append(|b| b.put_slice(&[b'x'; 60])), Appended::Stalled);
        o.close(CloseReason::ClientClosed);
        assert!(!o.is_stalled());
    }

    /// A writer asked to hand off returns its stream between batches; what
    /// producers append meanwhile waits in the buffer for the next writer,
    /// in order, on whatever stream that one has.
    #[tokio::test]
    async fn handoff_keeps_order_across_writers() {
        let o = std::sync::Arc::new(Outbound::new(1 << 20, Duration::from_secs(1)));
        let (first, mut first_peer) = tokio::io::duplex(1024);
        let w = {
            let o = o.clone();
            tokio::spawn(async move { o.run_writer(first).await })
        };
        o.append(|b| b.put_slice(b"one "));
        o.flush();
        let mut got = vec![0u8; 4];
        tokio::io::AsyncReadExt::read_exact(&mut first_peer, &mut got)
            .await
            .unwrap();
        assert_eq!(got, b"one ");
        o.request_handoff();
        let WriterEnd::Handoff(_first) = w.await.unwrap() else {
            panic!("the writer hands its stream back");
        };
        o.append(|b| b.put_slice(b"two "));
        o.flush();
        let (second, mut second_peer) = tokio::io::duplex(1024);
        let w = {
            let o = o.clone();
            tokio::spawn(async move { o.run_writer(second).await })
        };
        o.append(|b| b.put_slice(b"three"));
        o.close(CloseReason::ServerShutdown);
        let mut got = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut second_peer, &mut got)
            .await
            .unwrap();
        assert_eq!(got, b"two three");
        assert!(matches!(w.await.unwrap(), WriterEnd::Done(None)));
    }

    #[test]
    fn a_move_is_claimed_once_and_only_when_allowed() {
        let o = Outbound::new(100, Duration::from_secs(1));
        assert!(!o.claim_move(), "not allowed yet");
        o.allow_move(0);
        assert!(!o.claim_move(), "rate 0: never");
        o.allow_move(10 << 20);
        assert!(o.claim_move());
        assert!(!o.claim_move(), "once");
    }

    #[tokio::test]
    async fn writer_flushes_then_closes() {
        let o = std::sync::Arc::new(Outbound::new(1 << 20, Duration::from_secs(1)));
        let (client, mut server) = tokio::io::duplex(1024);
        let w = {
            let o = o.clone();
            tokio::spawn(async move { o.run_writer(client).await })
        };
        o.append(|b| b.put_slice(b"hello "));
        o.flush();
        o.append(|b| b.put_slice(b"world"));
        o.close(CloseReason::ServerShutdown);
        let mut got = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut server, &mut got)
            .await
            .unwrap();
        assert_eq!(got, b"hello world");
        assert!(matches!(w.await.unwrap(), WriterEnd::Done(None)));
    }
}

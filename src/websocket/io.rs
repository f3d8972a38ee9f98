//! [`WsIo`]: a WebSocket connection as the byte stream the client protocol
//! reader and writer expect. Each write goes out as one binary frame; text
//! and binary frames from the client are read as bytes; pings are answered
//! by soketto while a read is pending; a close frame reads as the end of the
//! stream.
//!
//! soketto's sender and receiver are driven by `async fn`s, so each
//! direction holds either its half or the one boxed future that owns it
//! until the operation is done.

use soketto::connection::{Error, Receiver, Sender};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_util::compat::Compat;

type BoxFut<T> = Pin<Box<dyn Future<Output = T> + Send>>;
type Rx<S> = Receiver<Compat<S>>;
type Tx<S> = Sender<Compat<S>>;
/// A receive: the receiver back, the message and how it went.
type RecvFut<S> = BoxFut<(Rx<S>, Vec<u8>, Result<(), Error>)>;
/// A send (and flush) or the close: the sender back and how it went.
type SendFut<S> = BoxFut<(Tx<S>, Result<(), Error>)>;

enum Reading<S> {
    Idle(Receiver<Compat<S>>),
    Busy(RecvFut<S>),
    Done,
}

enum Writing<S> {
    Idle(Sender<Compat<S>>),
    Busy(SendFut<S>),
    Done,
}

/// A WebSocket stream read and written as bytes.
pub struct WsIo<S> {
    rx: Reading<S>,
    tx: Writing<S>,
    /// The message being read, and how much of it was handed out.
    frame: Vec<u8>,
    pos: usize,
    /// The close frame was queued.
    closing: bool,
}

impl<S> WsIo<S> {
    pub fn new(tx: Sender<Compat<S>>, rx: Receiver<Compat<S>>) -> WsIo<S> {
        WsIo {
            rx: Reading::Idle(rx),
            tx: Writing::Idle(tx),
            frame: Vec::new(),
            pos: 0,
            closing: false,
        }
    }
}

fn io_err(e: Error) -> io::Error {
    match e {
        Error::Io(e) => e,
        e => io::Error::other(e),
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> WsIo<S> {
    /// Drives the pending write, if any, to its end.
    fn poll_pending_write(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.tx {
            Writing::Busy(f) => {
                let (tx, r) = ready!(f.as_mut().poll(cx));
                self.tx = Writing::Idle(tx);
                Poll::Ready(r.map_err(io_err))
            }
            Writing::Idle(_) => Poll::Ready(Ok(())),
            Writing::Done => Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> AsyncRead for WsIo<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.pos < this.frame.len() {
                let n = buf.remaining().min(this.frame.len() - this.pos);
                buf.put_slice(&this.frame[this.pos..this.pos + n]);
                this.pos += n;
                return Poll::Ready(Ok(()));
            }
            match std::mem::replace(&mut this.rx, Reading::Done) {
                Reading::Done => return Poll::Ready(Ok(())),
                Reading::Idle(mut rx) => {
                    let mut msg = std::mem::take(&mut this.frame);
                    msg.clear();
                    this.rx = Reading::Busy(Box::pin(async move {
                        let r = rx.receive_data(&mut msg).await.map(drop);
                        (rx, msg, r)
                    }));
                }
                Reading::Busy(mut f) => {
                    let Poll::Ready((rx, msg, r)) = f.as_mut().poll(cx) else {
                        this.rx = Reading::Busy(f);
                        return Poll::Pending;
                    };
                    match r {
                        Ok(()) => {
                            (this.frame, this.pos) = (msg, 0);
                            this.rx = Reading::Idle(rx);
                        }
                        // The client's close frame (answered by soketto).
                        Err(Error::Closed) => {}
                        Err(e) => return Poll::Ready(Err(io_err(e))),
                    }
                }
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> AsyncWrite for WsIo<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_pending_write(cx))?;
        let Writing::Idle(mut tx) = std::mem::replace(&mut this.tx, Writing::Done) else {
            unreachable!("no write pending after poll_pending_write");
        };
        let data = buf.to_vec();
        this.tx = Writing::Busy(Box::pin(async move {
            let r = match tx.send_binary_mut(data).await {
                Ok(()) => tx.flush().await,
                Err(e) => Err(e),
            };
            (tx, r)
        }));
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_pending_write(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.closing {
            ready!(this.poll_pending_write(cx))?;
            if let Writing::Idle(mut tx) = std::mem::replace(&mut this.tx, Writing::Done) {
                this.tx = Writing::Busy(Box::pin(async move {
                    let r = tx.close().await;
                    (tx, r)
                }));
            }
            this.closing = true;
        }
        if let Writing::Done = this.tx {
            return Poll::Ready(Ok(()));
        }
        let r = ready!(this.poll_pending_write(cx));
        // After the close frame, the sender is done.
        this.tx = Writing::Done;
        Poll::Ready(r)
    }
}

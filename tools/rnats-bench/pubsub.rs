//! Publishers and subscribers (plain and in a queue group).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use async_nats::{Client, Subject, Subscriber};
use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::watch;

use crate::connect::round_trip;
use crate::progress::{Counter, Tally};
use crate::stats::Sample;

/// How often (in messages) a publisher looks at the clock for --max-time.
const DEADLINE_CHECK: u64 = 1024;

/// Publishes `count` messages without waiting on each, then waits for the
/// server to have read them all (flush and a round trip).
pub async fn publisher(
    client: Client,
    subject: Subject,
    payload: Bytes,
    count: u64,
    progress: Counter,
    deadline: Instant,
    sleep: Duration,
) -> Result<Sample> {
    let mut tally = Tally::new(progress);
    let start = Instant::now();
    let mut sent = 0u64;
    while sent < count {
        client
            .publish(subject.clone(), payload.clone())
            .await
            .context("publish failed")?;
        sent += 1;
        tally.one();
        if !sleep.is_zero() {
            tally.flush();
            tokio::time::sleep(sleep).await;
            if Instant::now() >= deadline {
                break;
            }
        } else if sent.is_multiple_of(DEADLINE_CHECK) && Instant::now() >= deadline {
            break;
        }
    }
    tally.flush();
    round_trip(&client).await?;
    let end = Instant::now();
    Ok(Sample {
        msgs: sent,
        bytes: sent * payload.len() as u64,
        start,
        end,
        latency: None,
    })
}

/// A queue group's shared count: the member that receives the last
/// expected message tells the others to stop.
pub struct QueueShare {
    pub received: AtomicU64,
    pub total: u64,
    pub done: Arc<watch::Sender<bool>>,
}

/// Receives until `expected` messages (plain subscriber), until the queue
/// group has `share.total` between its members, or until told to stop
/// (--max-time, or the publishers are done and nothing more arrives).
/// Times run from the first to the last message received.
pub async fn subscriber(
    mut sub: Subscriber,
    expected: u64,
    share: Option<Arc<QueueShare>>,
    progress: Counter,
    mut stop: watch::Receiver<bool>,
) -> Result<Sample> {
    let mut tally = Tally::new(progress);
    let mut first: Option<Instant> = None;
    let mut last = Instant::now();
    let mut msgs = 0u64;
    let mut bytes = 0u64;
    if !*stop.borrow_and_update() {
        loop {
            tokio::select! {
                m = sub.next() => {
                    let Some(m) = m else { break };
                    last = Instant::now();
                    first.get_or_insert(last);
                    msgs += 1;
                    bytes += m.payload.len() as u64;
                    tally.one();
                    if let Some(q) = &share {
                        if q.received.fetch_add(1, Ordering::Relaxed) + 1 >= q.total {
                            let _ = q.done.send(true);
                            break;
                        }
                    } else if msgs >= expected {
                        break;
                    }
                }
                _ = stop.changed() => break,
            }
        }
    }
    tally.flush();
    let _ = sub.unsubscribe().await;
    let start = first.unwrap_or(last);
    Ok(Sample {
        msgs,
        bytes,
        start,
        end: last,
        latency: None,
    })
}

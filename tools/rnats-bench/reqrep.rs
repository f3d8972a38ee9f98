//! Requesters (one request in flight per client, each round trip timed
//! into a histogram) and repliers (a queue group echoing the payload).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use async_nats::{Client, RequestErrorKind, Subject, Subscriber};
use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::watch;

use crate::progress::{Counter, Tally};
use crate::stats::{new_histogram, Sample};

/// What a requester did, with the requests that timed out.
pub struct RequesterResult {
    pub sample: Sample,
    pub timeouts: u64,
}

/// Sends `count` requests one after the other until done or `deadline`.
pub async fn requester(
    client: Client,
    subject: Subject,
    payload: Bytes,
    count: u64,
    progress: Counter,
    deadline: Instant,
    sleep: Duration,
) -> Result<RequesterResult> {
    let mut tally = Tally::new(progress);
    let mut hist = new_histogram();
    let mut msgs = 0u64;
    let mut timeouts = 0u64;
    let start = Instant::now();
    for _ in 0..count {
        if Instant::now() >= deadline {
            break;
        }
        let t = Instant::now();
        match client.request(subject.clone(), payload.clone()).await {
            Ok(_) => {
                let ns = t.elapsed().as_nanos().min(u64::MAX as u128) as u64;
                hist.saturating_record(ns.max(1));
                msgs += 1;
                tally.one();
            }
            Err(e) if e.kind() == RequestErrorKind::TimedOut => timeouts += 1,
            Err(e) if e.kind() == RequestErrorKind::NoResponders => {
                bail!("no responders on {subject}: start repliers first (rnats-bench reply {subject})")
            }
            Err(e) => bail!("request failed: {e}"),
        }
        if !sleep.is_zero() {
            tally.flush();
            tokio::time::sleep(sleep).await;
        }
    }
    tally.flush();
    let end = Instant::now();
    Ok(RequesterResult {
        sample: Sample {
            msgs,
            bytes: msgs * payload.len() as u64,
            start,
            end,
            latency: Some(hist),
        },
        timeouts,
    })
}

/// Answers requests with their own payload until the group has served
/// `served_total` requests (when counting) or until told to stop.
pub async fn replier(
    client: Client,
    mut sub: Subscriber,
    served: Arc<AtomicU64>,
    served_total: Option<u64>,
    done: Arc<watch::Sender<bool>>,
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
                    let now = Instant::now();
                    first.get_or_insert(now);
                    bytes += m.payload.len() as u64;
                    if let Some(reply) = m.reply {
                        // Not awaited on the wire: the client writes replies
                        // out in batches between reads.
                        let _ = client.publish(reply, m.payload).await;
                    }
                    last = Instant::now();
                    msgs += 1;
                    tally.one();
                    let n = served.fetch_add(1, Ordering::Relaxed) + 1;
                    if served_total.is_some_and(|t| n >= t) {
                        let _ = done.send(true);
                        break;
                    }
                }
                _ = stop.changed() => break,
            }
        }
    }
    tally.flush();
    let _ = client.flush().await;
    let _ = sub.unsubscribe().await;
    Ok(Sample {
        msgs,
        bytes,
        start: first.unwrap_or(last),
        end: last,
        latency: None,
    })
}

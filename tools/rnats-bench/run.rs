//! Running a benchmark: connect the clients, start them in the right order,
//! stop them at the count or at --max-time, and gather the report. The
//! connect mode instead opens and closes connections as fast as it can.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use async_nats::{Client, Subject};
use bytes::Bytes;
use hdrhistogram::Histogram;
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;

use crate::cli::{ConnectArgs, RunArgs};
use crate::connect::{round_trip, Connector};
use crate::progress::{Counter, Progress};
use crate::pubsub::{publisher, subscriber, QueueShare};
use crate::reqrep::{replier, requester};
use crate::stats::{commas, new_histogram, percentiles, Group, Report, Sample, Side};

/// Subscribers stop this long after the publishers are done and nothing
/// more has arrived (messages lost to a slow consumer never come).
const IDLE_AFTER_PUBLISHERS: Duration = Duration::from_secs(2);

/// `total` split over `n` clients, the remainder spread over the first ones.
pub fn split(total: u64, n: u32) -> Vec<u64> {
    let n = u64::from(n.max(1));
    (0..n)
        .map(|i| total / n + u64::from(i < total % n))
        .collect()
}

fn payload(size: usize) -> Bytes {
    Bytes::from(
        (0..size)
            .map(|i| b'a' + (i % 26) as u8)
            .collect::<Vec<u8>>(),
    )
}

fn check_payload(client: &Client, size: usize) -> Result<()> {
    let max = client.server_info().max_payload;
    if max > 0 && size > max {
        bail!("message size {size} is over the server's max_payload {max}");
    }
    Ok(())
}

async fn connect_all(
    conn: &Connector,
    label: &str,
    n: u32,
    sub_capacity: usize,
    request_timeout: Option<Duration>,
) -> Result<Vec<Client>> {
    let mut out = Vec::with_capacity(n as usize);
    for i in 0..n {
        out.push(
            conn.connect(
                &format!("rnats-bench-{label}-{i}"),
                sub_capacity,
                request_timeout,
            )
            .await?,
        );
    }
    Ok(out)
}

/// How many messages a subscriber's client buffers before dropping.
fn sub_capacity(expected: u64) -> usize {
    expected.clamp(65_536, 4_194_304) as usize
}

/// Client tasks, each tagged with its client number.
type Tasks<T> = JoinSet<(usize, Result<T>)>;

/// Waits for all the clients; their results in client order.
async fn join<T: 'static>(set: &mut Tasks<T>) -> Result<Vec<T>> {
    let mut out = Vec::new();
    let mut first_err = None;
    while let Some(r) = set.join_next().await {
        let (i, r) = r.context("client task failed")?;
        match r {
            Ok(v) => out.push((i, v)),
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => {
            out.sort_by_key(|(i, _)| *i);
            Ok(out.into_iter().map(|(_, v)| v).collect())
        }
    }
}

/// Spawns client `i`'s future into `set`.
fn spawn<T: Send + 'static>(
    set: &mut Tasks<T>,
    i: usize,
    f: impl std::future::Future<Output = Result<T>> + Send + 'static,
) {
    set.spawn(async move { (i, f.await) });
}

/// Stops the receivers at the deadline, or (when `pubs_done` fires) once
/// their counter has not moved for [`IDLE_AFTER_PUBLISHERS`].
fn watchdog(
    stop: Arc<watch::Sender<bool>>,
    deadline: Instant,
    counter: Counter,
    mut pubs_done: Option<tokio::sync::oneshot::Receiver<()>>,
    idle_note: Arc<AtomicU64>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut idle_since: Option<(Instant, u64)> = None;
        loop {
            if *stop.borrow() {
                return;
            }
            let now = Instant::now();
            if now >= deadline {
                let _ = stop.send(true);
                return;
            }
            if let Some(rx) = &mut pubs_done {
                if rx.try_recv().is_ok() {
                    pubs_done = None;
                    idle_since = Some((now, counter.load(Ordering::Relaxed)));
                }
            } else if let Some((since, seen)) = idle_since {
                let c = counter.load(Ordering::Relaxed);
                if c != seen {
                    idle_since = Some((now, c));
                } else if now.duration_since(since) >= IDLE_AFTER_PUBLISHERS {
                    idle_note.store(1, Ordering::Relaxed);
                    let _ = stop.send(true);
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
}

/// pub, sub, pubsub and queue: `pubs` publishers share `run.msgs`; each of
/// `subs` subscribers expects them all, or with `queue` the group does.
pub async fn pubsub(
    conn: &Connector,
    run: &RunArgs,
    pubs: u32,
    subs: u32,
    queue: Option<&str>,
) -> Result<Report> {
    let subject = Subject::from(run.subject.as_str());
    let body = payload(run.size);
    let deadline = Instant::now() + run.max_time;
    let sub_expected = run.msgs;
    let sub_total = if queue.is_some() {
        run.msgs
    } else {
        run.msgs * u64::from(subs)
    };

    let mut progress = Progress::new(!run.no_progress);
    let pub_counter = (pubs > 0).then(|| progress.add("Pub", run.msgs));
    let sub_counter = (subs > 0).then(|| progress.add("Sub", sub_total));

    // Subscribers first, registered on the server before anyone publishes.
    let sub_clients = connect_all(conn, "sub", subs, sub_capacity(sub_expected), None).await?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let stop_tx = Arc::new(stop_tx);
    let share = queue.map(|_| {
        Arc::new(QueueShare {
            received: AtomicU64::new(0),
            total: run.msgs,
            done: stop_tx.clone(),
        })
    });
    let mut sub_tasks = Tasks::new();
    for (i, c) in sub_clients.iter().enumerate() {
        check_payload(c, run.size)?;
        let sub = match queue {
            Some(q) => c.queue_subscribe(subject.clone(), q.to_string()).await,
            None => c.subscribe(subject.clone()).await,
        }
        .context("subscribe failed")?;
        round_trip(c).await?;
        let task = subscriber(
            sub,
            sub_expected,
            share.clone(),
            sub_counter.clone().unwrap_or_default(),
            stop_rx.clone(),
        );
        spawn(&mut sub_tasks, i, task);
    }
    let pub_clients = connect_all(conn, "pub", pubs, 1024, None).await?;
    for c in &pub_clients {
        check_payload(c, run.size)?;
    }

    let (pubs_done_tx, pubs_done_rx) = tokio::sync::oneshot::channel();
    let idle = Arc::new(AtomicU64::new(0));
    let dog = watchdog(
        stop_tx.clone(),
        deadline,
        sub_counter.clone().unwrap_or_default(),
        (pubs > 0).then_some(pubs_done_rx),
        idle.clone(),
    );
    progress.start();

    let mut pub_tasks = Tasks::new();
    for (i, (c, n)) in pub_clients.iter().zip(split(run.msgs, pubs)).enumerate() {
        let task = publisher(
            c.clone(),
            subject.clone(),
            body.clone(),
            n,
            pub_counter.clone().unwrap_or_default(),
            deadline,
            run.sleep,
        );
        spawn(&mut pub_tasks, i, task);
    }
    let pub_samples = join(&mut pub_tasks).await;
    let _ = pubs_done_tx.send(());
    let sub_samples = join(&mut sub_tasks).await;
    let _ = stop_tx.send(true);
    dog.abort();
    progress.finish();
    let pub_samples = pub_samples?;
    let sub_samples = sub_samples?;

    let mut notes = Vec::new();
    let sent: u64 = pub_samples.iter().map(|s| s.msgs).sum();
    let got: u64 = sub_samples.iter().map(|s| s.msgs).sum();
    let mut incomplete = false;
    if pubs > 0 && sent < run.msgs {
        incomplete = true;
        notes.push(format!(
            "Incomplete: --max-time {:?} reached after publishing {} of {} messages",
            run.max_time,
            commas(sent as f64),
            commas(run.msgs as f64)
        ));
    }
    let want = match (queue.is_some(), pubs > 0) {
        (true, _) => sent,
        (false, true) => sent * u64::from(subs),
        (false, false) => sub_total,
    };
    if subs > 0 && got < want {
        incomplete = true;
        let why = if idle.load(Ordering::Relaxed) == 1 {
            format!(
                "nothing more arrived {:?} after the publishers finished",
                IDLE_AFTER_PUBLISHERS
            )
        } else {
            format!("--max-time {:?} reached", run.max_time)
        };
        notes.push(format!(
            "Incomplete: subscribers received {} of {} messages ({why})",
            commas(got as f64),
            commas(want as f64)
        ));
    }
    slow_consumer_note(conn, &mut notes);

    let title = match (pubs > 0, subs > 0, queue.is_some()) {
        (true, true, true) => "Pub/Queue-Sub",
        (true, true, false) => "Pub/Sub",
        (true, false, _) => "Pub",
        _ => "Sub",
    };
    let mut groups = Vec::new();
    if pubs > 0 {
        groups.push(Group {
            side: Side::Pub,
            samples: pub_samples,
        });
    }
    if subs > 0 {
        groups.push(Group {
            side: Side::Sub,
            samples: sub_samples,
        });
    }
    drain_all(pub_clients.iter().chain(sub_clients.iter())).await;
    Ok(Report {
        title: title.into(),
        groups,
        notes,
        incomplete,
    })
}

/// request, reply and reqrep: `reqs` requesters share `run.msgs`; `reps`
/// repliers in a queue group answer (and, alone, stop after `run.msgs`).
pub async fn reqrep(
    conn: &Connector,
    run: &RunArgs,
    reqs: u32,
    reps: u32,
    queue: &str,
    timeout: Duration,
) -> Result<Report> {
    let subject = Subject::from(run.subject.as_str());
    let body = payload(run.size);
    let deadline = Instant::now() + run.max_time;

    let mut progress = Progress::new(!run.no_progress);
    let req_counter = (reqs > 0).then(|| progress.add("Req", run.msgs));
    let rep_counter = (reps > 0).then(|| progress.add("Rep", run.msgs));

    let (stop_tx, stop_rx) = watch::channel(false);
    let stop_tx = Arc::new(stop_tx);
    let served = Arc::new(AtomicU64::new(0));
    // Repliers alone stop at the count; with local requesters they stop
    // when the requesters are done.
    let served_total = (reqs == 0).then_some(run.msgs);
    let rep_clients = connect_all(conn, "rep", reps, sub_capacity(run.msgs), None).await?;
    let mut rep_tasks = Tasks::new();
    for (i, c) in rep_clients.iter().enumerate() {
        check_payload(c, run.size)?;
        let sub = c
            .queue_subscribe(subject.clone(), queue.to_string())
            .await
            .context("subscribe failed")?;
        round_trip(c).await?;
        let task = replier(
            c.clone(),
            sub,
            served.clone(),
            served_total,
            stop_tx.clone(),
            rep_counter.clone().unwrap_or_default(),
            stop_rx.clone(),
        );
        spawn(&mut rep_tasks, i, task);
    }
    let req_clients = connect_all(conn, "req", reqs, 1024, Some(timeout)).await?;
    for c in &req_clients {
        check_payload(c, run.size)?;
    }
    let dog = watchdog(
        stop_tx.clone(),
        deadline,
        Counter::default(),
        None,
        Arc::new(AtomicU64::new(0)),
    );
    progress.start();

    let mut req_tasks = Tasks::new();
    for (i, (c, n)) in req_clients.iter().zip(split(run.msgs, reqs)).enumerate() {
        let task = requester(
            c.clone(),
            subject.clone(),
            body.clone(),
            n,
            req_counter.clone().unwrap_or_default(),
            deadline,
            run.sleep,
        );
        spawn(&mut req_tasks, i, task);
    }
    let req_results = join(&mut req_tasks).await;
    if reqs > 0 {
        let _ = stop_tx.send(true);
    }
    let rep_samples = join(&mut rep_tasks).await;
    let _ = stop_tx.send(true);
    dog.abort();
    progress.finish();
    let req_results = req_results?;
    let rep_samples = rep_samples?;

    let mut notes = Vec::new();
    let mut incomplete = false;
    let timeouts: u64 = req_results.iter().map(|r| r.timeouts).sum();
    let req_samples: Vec<Sample> = req_results.into_iter().map(|r| r.sample).collect();
    let answered: u64 = req_samples.iter().map(|s| s.msgs).sum();
    let served_n: u64 = rep_samples.iter().map(|s| s.msgs).sum();
    if timeouts > 0 {
        notes.push(format!(
            "{} requests timed out (--timeout {timeout:?})",
            commas(timeouts as f64)
        ));
    }
    if reqs > 0 && answered < run.msgs {
        incomplete = true;
        notes.push(format!(
            "Incomplete: {} of {} requests answered{}",
            commas(answered as f64),
            commas(run.msgs as f64),
            if timeouts > 0 {
                String::new()
            } else {
                format!(" (--max-time {:?} reached)", run.max_time)
            }
        ));
    }
    if reqs == 0 && served_n < run.msgs {
        incomplete = true;
        notes.push(format!(
            "Incomplete: served {} of {} requests (--max-time {:?} reached)",
            commas(served_n as f64),
            commas(run.msgs as f64),
            run.max_time
        ));
    }
    slow_consumer_note(conn, &mut notes);

    let mut groups = Vec::new();
    if reqs > 0 {
        groups.push(Group {
            side: Side::Req,
            samples: req_samples,
        });
    }
    if reps > 0 {
        groups.push(Group {
            side: Side::Rep,
            samples: rep_samples,
        });
    }
    let title = match (reqs > 0, reps > 0) {
        (true, true) => "Req/Rep",
        (true, false) => "Req",
        _ => "Rep",
    };
    drain_all(req_clients.iter().chain(rep_clients.iter())).await;
    Ok(Report {
        title: title.into(),
        groups,
        notes,
        incomplete,
    })
}

/// What one connection worker did.
struct ConnResult {
    /// Connections completed, with their handshake times.
    sample: Sample,
    /// Handshake + round trip + close of each completed connection.
    cycle: Histogram<u64>,
    failed: u64,
    first_error: Option<String>,
}

/// One connect-mode worker: takes connection tickets from `next` until
/// `total` are taken or the deadline passes; each is a full handshake, one
/// PING/PONG round trip and a close that waits for the library to shut the
/// connection.
async fn conn_worker(
    conn: Connector,
    id: usize,
    next: Arc<AtomicU64>,
    total: u64,
    deadline: Instant,
    counter: Counter,
) -> Result<ConnResult> {
    let name = format!("rnats-bench-conn-{id}");
    let mut handshake = new_histogram();
    let mut cycle = new_histogram();
    let (mut done, mut failed, mut first_error) = (0u64, 0u64, None);
    let start = Instant::now();
    let mut end = start;
    while Instant::now() < deadline && next.fetch_add(1, Ordering::Relaxed) < total {
        let t0 = Instant::now();
        let closed = Arc::new(Notify::new());
        let outcome = match conn.connect_once(&name, closed.clone()).await {
            Ok(client) => {
                let t1 = Instant::now();
                let flushed = client.flush().await.context("flush failed");
                let _ = client.drain().await;
                drop(client);
                let _ = tokio::time::timeout(CLOSE_WAIT, closed.notified()).await;
                flushed.map(|()| t1)
            }
            Err(e) => Err(e),
        };
        match outcome {
            Ok(t1) => {
                end = Instant::now();
                done += 1;
                let _ = handshake.record(nanos(t1 - t0));
                let _ = cycle.record(nanos(end - t0));
                counter.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                failed += 1;
                first_error.get_or_insert_with(|| format!("{e:#}"));
            }
        }
    }
    Ok(ConnResult {
        sample: Sample {
            msgs: done,
            bytes: 0,
            start,
            end,
            latency: Some(handshake),
        },
        cycle,
        failed,
        first_error,
    })
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX).max(1)
}

/// How long a closing connection may take to be shut by the library.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// connect: `args.conns` connections in total, opened `args.clients` at a
/// time; rate and handshake latency.
pub async fn connections(conn: &Connector, args: &ConnectArgs) -> Result<Report> {
    let deadline = Instant::now() + args.max_time;
    let mut progress = Progress::new(!args.no_progress);
    let counter = progress.add("Conn", args.conns);
    progress.start();
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Tasks::new();
    for i in 0..args.clients as usize {
        let task = conn_worker(
            conn.clone(),
            i,
            next.clone(),
            args.conns,
            deadline,
            counter.clone(),
        );
        spawn(&mut tasks, i, task);
    }
    let results = join(&mut tasks).await;
    progress.finish();
    let results = results?;

    let done: u64 = results.iter().map(|r| r.sample.msgs).sum();
    let failed: u64 = results.iter().map(|r| r.failed).sum();
    let first_error = results.iter().find_map(|r| r.first_error.clone());
    if done == 0 {
        if let Some(e) = first_error {
            bail!("no connection succeeded: {e}");
        }
    }
    let mut cycle = new_histogram();
    for r in &results {
        let _ = cycle.add(&r.cycle);
    }
    let mut notes = Vec::new();
    if !cycle.is_empty() {
        notes.push(format!(
            " Full cycle (handshake + flush + close): {}",
            percentiles(&cycle)
        ));
    }
    let mut incomplete = false;
    if failed > 0 {
        incomplete = true;
        notes.push(format!(
            "{} of {} connections failed (first: {})",
            commas(failed as f64),
            commas((done + failed) as f64),
            first_error.unwrap_or_default()
        ));
    }
    if done + failed < args.conns {
        incomplete = true;
        notes.push(format!(
            "Incomplete: --max-time {:?} reached after {} of {} connections",
            args.max_time,
            commas((done + failed) as f64),
            commas(args.conns as f64)
        ));
    }
    Ok(Report {
        title: "Connect".into(),
        groups: vec![Group {
            side: Side::Conn,
            samples: results.into_iter().map(|r| r.sample).collect(),
        }],
        notes,
        incomplete,
    })
}

fn slow_consumer_note(conn: &Connector, notes: &mut Vec<String>) {
    let slow = conn.slow_consumer_events.load(Ordering::Relaxed);
    if slow > 0 {
        notes.push(format!(
            "Warning: the client library reported {slow} slow-consumer events (messages dropped in the client)"
        ));
    }
}

/// Closes the connections, bounded.
async fn drain_all<'a>(clients: impl Iterator<Item = &'a Client>) {
    for c in clients {
        let _ = tokio::time::timeout(Duration::from_secs(1), c.drain()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn splits() {
        assert_eq!(split(10, 3), vec![4, 3, 3]);
        assert_eq!(split(2, 4), vec![1, 1, 0, 0]);
        assert_eq!(split(5, 1), vec![5]);
    }
}

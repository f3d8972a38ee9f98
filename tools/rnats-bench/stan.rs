//! NATS Streaming modes: publish with PubAcks (rate and PubAck latency),
//! a subscriber that receives and acknowledges a channel's messages, and
//! the disk's sequential write+fsync rate as the floor a synced file store
//! stands on.
//!
//! The STAN side is the protocol itself over async-nats (the protobufs of
//! `rnats::streaming::proto`): connect on the discover subject, PubMsgs
//! with a window of PubAcks in flight, a subscription request, Acks.

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use futures::StreamExt;
use prost::Message as _;
use tokio::sync::Semaphore;

use rnats::streaming::proto::{
    encode, Ack, CloseRequest, ConnectRequest, ConnectResponse, MsgProto, PubAck, PubMsg,
    StartPosition, SubscriptionRequest, SubscriptionResponse,
};

use crate::connect::Connector;
use crate::stats::{new_histogram, Group, Report, Sample, Side};

/// A STAN session on one NATS connection.
struct Session {
    nc: async_nats::Client,
    client_id: String,
    conn_id: Vec<u8>,
    info: ConnectResponse,
}

impl Session {
    async fn open(conn: &Connector, cluster_id: &str, name: &str) -> Result<Session> {
        let nc = conn
            .connect(name, 1 << 20, Some(Duration::from_secs(5)))
            .await?;
        let client_id = format!("{name}-{}", nuid::next());
        let conn_id = nuid::next().to_string().into_bytes();
        let hb_inbox = nc.new_inbox();
        // The server's heartbeats are answered for as long as the client runs.
        let mut hb = nc.subscribe(hb_inbox.clone()).await?;
        let hb_nc = nc.clone();
        tokio::spawn(async move {
            while let Some(m) = hb.next().await {
                if let Some(r) = m.reply {
                    let _ = hb_nc.publish(r, Bytes::new()).await;
                }
            }
        });
        let req = ConnectRequest {
            client_id: client_id.clone(),
            heartbeat_inbox: hb_inbox,
            protocol: 1,
            conn_id: conn_id.clone(),
            ping_interval: 5,
            ping_max_out: 3,
        };
        let r = nc
            .request(format!("_STAN.discover.{cluster_id}"), encode(&req).into())
            .await
            .context("stan: connect request failed (is a streaming server running with this cluster ID?)")?;
        let info = ConnectResponse::decode(r.payload.as_ref())?;
        if !info.error.is_empty() {
            bail!("stan connect: {}", info.error);
        }
        Ok(Session {
            nc,
            client_id,
            conn_id,
            info,
        })
    }

    async fn close(self) {
        let req = CloseRequest {
            client_id: self.client_id,
        };
        let _ = tokio::time::timeout(
            Duration::from_secs(2),
            self.nc
                .request(self.info.close_requests.clone(), encode(&req).into()),
        )
        .await;
    }
}

/// What the STAN modes take.
pub struct StanRun<'a> {
    pub cluster_id: &'a str,
    pub channel: &'a str,
    pub msgs: u64,
    pub size: usize,
    pub inflight: usize,
    pub max_time: Duration,
}

/// `clients` publishers share `msgs`, each with up to `inflight` PubAcks
/// outstanding; latency is publish → PubAck.
pub async fn publish(conn: &Connector, run: &StanRun<'_>, clients: u32) -> Result<Report> {
    let shares = crate::run::split(run.msgs, clients);
    let mut tasks = Vec::new();
    for (i, n) in shares.into_iter().enumerate() {
        let s = Session::open(conn, run.cluster_id, &format!("bench-pub-{i}")).await?;
        let channel = run.channel.to_owned();
        let size = run.size;
        let inflight = run.inflight;
        let deadline = Instant::now() + run.max_time;
        tasks.push(tokio::spawn(async move {
            let r = publisher(&s, &channel, n, size, inflight, deadline).await;
            s.close().await;
            r
        }));
    }
    let mut samples = Vec::new();
    let mut incomplete = false;
    for t in tasks {
        let (sample, done) = t.await??;
        incomplete |= !done;
        samples.push(sample);
    }
    let mut notes = Vec::new();
    if incomplete {
        notes.push("Incomplete: --max-time reached before every PubAck came back".into());
    }
    Ok(Report {
        title: "STAN Pub".into(),
        groups: vec![Group {
            side: Side::Pub,
            samples,
        }],
        notes,
        incomplete,
    })
}

async fn publisher(
    s: &Session,
    channel: &str,
    n: u64,
    size: usize,
    inflight: usize,
    deadline: Instant,
) -> Result<(Sample, bool)> {
    let ack_inbox = format!("_STAN.acks.{}", nuid::next());
    let mut acks = s.nc.subscribe(ack_inbox.clone()).await?;
    s.nc.flush().await?;
    let window = Arc::new(Semaphore::new(inflight.max(1)));
    let sent: Arc<parking_lot::Mutex<HashMap<String, Instant>>> = Arc::default();
    let subject = format!("{}.{channel}", s.info.pub_prefix);
    let data = vec![b'x'; size];
    let start = Instant::now();
    let receiver = {
        let window = window.clone();
        let sent = sent.clone();
        tokio::spawn(async move {
            let mut h = new_histogram();
            let mut got = 0u64;
            while got < n {
                let left = deadline.saturating_duration_since(Instant::now());
                let Ok(Some(m)) = tokio::time::timeout(left, acks.next()).await else {
                    break;
                };
                let Ok(a) = PubAck::decode(m.payload.as_ref()) else {
                    continue;
                };
                if !a.error.is_empty() {
                    eprintln!("rnats-bench: PubAck error: {}", a.error);
                }
                if let Some(t) = sent.lock().remove(&a.guid) {
                    let _ = h.record(t.elapsed().as_nanos().max(1) as u64);
                    got += 1;
                    window.add_permits(1);
                }
            }
            (got, h, Instant::now())
        })
    };
    for i in 0..n {
        if Instant::now() >= deadline {
            break;
        }
        let permit = window.acquire().await?;
        permit.forget();
        let guid = i.to_string();
        let m = PubMsg {
            client_id: s.client_id.clone(),
            guid: guid.clone(),
            subject: channel.to_owned(),
            data: data.clone(),
            conn_id: s.conn_id.clone(),
            ..Default::default()
        };
        sent.lock().insert(guid, Instant::now());
        s.nc.publish_with_reply(subject.clone(), ack_inbox.clone(), encode(&m).into())
            .await?;
    }
    s.nc.flush().await?;
    let (got, h, end) = receiver.await?;
    Ok((
        Sample {
            msgs: got,
            bytes: got * size as u64,
            start,
            end,
            latency: Some(h),
        },
        got == n,
    ))
}

/// One subscriber receives `msgs` messages of the channel from its first,
/// acknowledging each.
pub async fn subscribe(conn: &Connector, run: &StanRun<'_>) -> Result<Report> {
    let s = Session::open(conn, run.cluster_id, "bench-sub").await?;
    let inbox = s.nc.new_inbox();
    let mut msgs = s.nc.subscribe(inbox.clone()).await?;
    let req = SubscriptionRequest {
        client_id: s.client_id.clone(),
        subject: run.channel.to_owned(),
        inbox,
        max_in_flight: run.inflight.max(1) as i32,
        ack_wait_in_secs: 30,
        start_position: StartPosition::First as i32,
        ..Default::default()
    };
    let r =
        s.nc.request(s.info.sub_requests.clone(), encode(&req).into())
            .await?;
    let r = SubscriptionResponse::decode(r.payload.as_ref())?;
    if !r.error.is_empty() {
        bail!("stan subscribe: {}", r.error);
    }
    let deadline = Instant::now() + run.max_time;
    let start = Instant::now();
    let mut got = 0u64;
    let mut bytes = 0u64;
    while got < run.msgs {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(Some(m)) = tokio::time::timeout(left, msgs.next()).await else {
            break;
        };
        let Ok(mp) = MsgProto::decode(m.payload.as_ref()) else {
            continue;
        };
        got += 1;
        bytes += mp.data.len() as u64;
        let ack = Ack {
            subject: mp.subject,
            sequence: mp.sequence,
        };
        s.nc.publish(r.ack_inbox.clone(), encode(&ack).into())
            .await?;
    }
    let end = Instant::now();
    s.close().await;
    let incomplete = got < run.msgs;
    Ok(Report {
        title: "STAN Sub".into(),
        groups: vec![Group {
            side: Side::Sub,
            samples: vec![Sample {
                msgs: got,
                bytes,
                start,
                end,
                latency: None,
            }],
        }],
        notes: if incomplete {
            vec![format!(
                "Incomplete: received {got} of {} messages",
                run.msgs
            )]
        } else {
            Vec::new()
        },
        incomplete,
    })
}

/// Sequential writes of `size` bytes, each followed by `fdatasync`, in a
/// temporary file under `dir`: the most synced writes per second this disk
/// gives one writer.
pub fn disk(dir: &std::path::Path, msgs: u64, size: usize) -> Result<Report> {
    let path = dir.join(format!(".rnats-bench-fsync-{}", std::process::id()));
    let mut f = std::fs::File::create(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    let data = vec![b'x'; size];
    let mut h = new_histogram();
    let start = Instant::now();
    for _ in 0..msgs {
        let t = Instant::now();
        f.write_all(&data)?;
        f.sync_data()?;
        let _ = h.record(t.elapsed().as_nanos().max(1) as u64);
    }
    let end = Instant::now();
    drop(f);
    let _ = std::fs::remove_file(&path);
    Ok(Report {
        title: "Disk write+fsync".into(),
        groups: vec![Group {
            side: Side::Pub,
            samples: vec![Sample {
                msgs,
                bytes: msgs * size as u64,
                start,
                end,
                latency: Some(h),
            }],
        }],
        notes: Vec::new(),
        incomplete: false,
    })
}

//! The streaming engine's NATS side: one client connection that subscribes
//! the engine's subjects, turns their messages into engine events and
//! publishes what the engine sends back.
//!
//! The connection is an ordinary NATS client (async-nats), whether the
//! NATS server runs in the same process or elsewhere (`-ns`): it logs in
//! with the configured credentials through the server's one login pipeline
//! and lives in that user's account, so its subjects are that account's and
//! nobody else's unless exported.

use bytes::Bytes;
use futures::StreamExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

use super::config::NatsConnection;
use super::engine::{Event, Kind, Out};
use super::store::ServerInfo;

/// Why the NATS side could not start.
#[derive(Debug, thiserror::Error)]
pub enum IoError {
    #[error("cannot connect to NATS at {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("cannot subscribe to {subject}: {reason}")]
    Subscribe { subject: String, reason: String },
    #[error("cannot read credentials: {0}")]
    Credentials(String),
}

/// Connects as the streaming server's client `name`.
///
/// # Errors
/// When the server cannot be reached or refuses the credentials.
pub async fn connect(
    url: &str,
    conn: &NatsConnection,
    name: &str,
    stopping: Arc<AtomicBool>,
) -> Result<async_nats::Client, IoError> {
    let mut o = async_nats::ConnectOptions::new()
        .name(name)
        .subscription_capacity(256 * 1024)
        .client_capacity(64 * 1024)
        .max_reconnects(None)
        .connection_timeout(Duration::from_secs(5))
        // On a lost connection, go first to a server not tried yet and never
        // connected to (another member of the cluster rather than the one
        // that just went away), at once: clients that fail over to the same
        // cluster find the streaming server's subscriptions sooner.
        //
        // Once the server is stopping, the connection is never made again:
        // a new process may already listen on the same port, and this
        // engine must not serve through it.
        .reconnect_to_server_callback(move |servers, _info| {
            let stopping = stopping.load(Ordering::Acquire);
            async move {
                if stopping {
                    return servers.first().map(|s| async_nats::ReconnectToServer {
                        addr: s.addr.clone(),
                        delay: Some(Duration::from_secs(24 * 3600)),
                    });
                }
                servers
                    .iter()
                    .filter(|s| s.failed_attempts == 0)
                    .min_by_key(|s| s.did_connect)
                    .map(|s| async_nats::ReconnectToServer {
                        addr: s.addr.clone(),
                        delay: Some(Duration::ZERO),
                    })
            }
        })
        .event_callback(|e| async move {
            match e {
                async_nats::Event::Disconnected => log::warn!("STREAM: NATS connection lost"),
                async_nats::Event::Connected => {
                    log::info!("STREAM: NATS connection (re)established")
                }
                other => log::debug!("STREAM: NATS connection event: {other}"),
            }
        });
    if let Some(path) = &conn.credentials {
        o = o
            .credentials_file(path)
            .await
            .map_err(|e| IoError::Credentials(format!("{}: {e}", path.display())))?;
    }
    if let Some(path) = &conn.nkey_seed_file {
        let seed = std::fs::read_to_string(path)
            .map_err(|e| IoError::Credentials(format!("{}: {e}", path.display())))?;
        let seed = seed
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with("SU"))
            .unwrap_or_else(|| seed.trim())
            .to_owned();
        o = o.nkey(seed);
    }
    if let (Some(u), Some(p)) = (&conn.username, &conn.password) {
        o = o.user_and_password(u.clone(), p.clone());
    }
    if let Some(t) = &conn.token {
        o = o.token(t.clone());
    }
    if conn.secure {
        o = o.require_tls(true);
    }
    if let Some(ca) = &conn.tls_client_ca {
        o = o.add_root_certificates(ca.clone());
    }
    if let (Some(c), Some(k)) = (&conn.tls_client_cert, &conn.tls_client_key) {
        o = o.add_client_certificate(c.clone(), k.clone());
    }
    o.connect(url).await.map_err(|e| IoError::Connect {
        url: url.to_owned(),
        reason: e.to_string(),
    })
}

/// Asks the discover subject whether a streaming server with this cluster
/// ID already answers there.
pub async fn another_server_answers(client: &async_nats::Client, info: &ServerInfo) -> bool {
    let req = super::proto::ConnectRequest {
        client_id: info.cluster_id.clone(),
        heartbeat_inbox: client.new_inbox(),
        ..Default::default()
    };
    let payload = Bytes::from(super::proto::encode(&req));
    let answer = tokio::time::timeout(
        Duration::from_millis(250),
        client.request(info.discovery.clone(), payload),
    )
    .await;
    match answer {
        Ok(Ok(m)) => {
            <super::proto::ConnectResponse as prost::Message>::decode(m.payload.as_ref()).is_ok()
        }
        _ => false,
    }
}

/// The engine's subjects and which event each one's messages become.
fn subjects(info: &ServerInfo) -> Vec<(String, Kind)> {
    vec![
        (info.discovery.clone(), Kind::Discover),
        (info.ping.clone(), Kind::Ping),
        (format!("{}.>", info.publish), Kind::Publish),
        (info.subscribe.clone(), Kind::Subscribe),
        (info.unsubscribe.clone(), Kind::Unsubscribe),
        (info.sub_close.clone(), Kind::SubClose),
        (info.close.clone(), Kind::Close),
        (format!("{}.>", info.acks), Kind::Ack),
    ]
}

/// Subscribes the engine's subjects and starts forwarding their messages
/// as events. All subscriptions are read by one task, so the requests of
/// one client reach the engine in the order it sent them.
///
/// # Errors
/// When a subscription is refused.
pub async fn start_forwarding(
    client: &async_nats::Client,
    info: &ServerInfo,
    events: mpsc::Sender<Event>,
) -> Result<tokio::task::JoinHandle<()>, IoError> {
    let mut streams = Vec::new();
    for (subject, kind) in subjects(info) {
        let sub = client
            .subscribe(subject.clone())
            .await
            .map_err(|e| IoError::Subscribe {
                subject: subject.clone(),
                reason: e.to_string(),
            })?;
        streams.push(sub.map(move |m| (kind, m)).boxed());
    }
    // The subscriptions are in place once the server has seen them.
    let _ = client.flush().await;
    let mut all = futures::stream::select_all(streams);
    Ok(tokio::spawn(async move {
        while let Some((kind, m)) = all.next().await {
            let ev = Event::Msg {
                kind,
                subject: m.subject.to_string(),
                reply: m.reply.map(|r| r.to_string()),
                payload: m.payload,
            };
            if events.send(ev).await.is_err() {
                return;
            }
        }
    }))
}

/// Sends each batch of the engine's output, in order; requests run on
/// their own tasks and report back as [`Event::Answered`].
pub async fn publish_loop(
    client: async_nats::Client,
    mut out: mpsc::UnboundedReceiver<Vec<Out>>,
    events: mpsc::Sender<Event>,
) {
    while let Some(batch) = out.recv().await {
        for o in batch {
            match o {
                Out::Publish { subject, payload } => {
                    if let Err(e) = client.publish(subject, Bytes::from(payload)).await {
                        log::error!("streaming: publish failed: {e}");
                    }
                }
                Out::Request {
                    subject,
                    timeout,
                    token,
                } => {
                    let client = client.clone();
                    let events = events.clone();
                    tokio::spawn(async move {
                        let r =
                            tokio::time::timeout(timeout, client.request(subject, Bytes::new()))
                                .await;
                        let answered = matches!(r, Ok(Ok(_)));
                        let _ = events.send(Event::Answered { token, answered }).await;
                    });
                }
            }
        }
    }
}

/// Sends [`Event::Tick`] every `period` while the engine runs.
pub async fn ticker(events: mpsc::Sender<Event>, period: Duration) {
    let mut t = tokio::time::interval(period);
    t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        t.tick().await;
        match events.try_send(Event::Tick) {
            Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => {}
            Err(mpsc::error::TrySendError::Closed(_)) => return,
        }
    }
}

/// Partitioning: this server's channels as announced to the other servers
/// of the cluster ID on `_STAN.part.<cluster id>`.
#[derive(serde::Serialize, serde::Deserialize)]
struct PartitionList {
    server_id: String,
    channels: Vec<String>,
}

/// A server's answer when announced channels overlap its own.
#[derive(serde::Serialize, serde::Deserialize)]
struct PartitionConflict {
    server_id: String,
    channel: String,
}

fn partition_subject(cluster_id: &str) -> String {
    format!("_STAN.part.{cluster_id}")
}

/// Answers other servers' announcements with the first of `ours` that
/// overlaps theirs, for as long as the task runs.
///
/// # Errors
/// When the subscription is refused.
pub async fn serve_partitions(
    client: &async_nats::Client,
    cluster_id: &str,
    server_id: String,
    ours: Vec<String>,
) -> Result<tokio::task::JoinHandle<()>, IoError> {
    let subject = partition_subject(cluster_id);
    let mut sub = client
        .subscribe(subject.clone())
        .await
        .map_err(|e| IoError::Subscribe {
            subject,
            reason: e.to_string(),
        })?;
    let client = client.clone();
    Ok(tokio::spawn(async move {
        while let Some(m) = sub.next().await {
            let Ok(list) = serde_json::from_slice::<PartitionList>(&m.payload) else {
                continue;
            };
            if list.server_id == server_id {
                continue;
            }
            let clash = ours.iter().find(|c| {
                list.channels
                    .iter()
                    .any(|t| super::store::limits::patterns_overlap(c, t))
            });
            if let (Some(c), Some(reply)) = (clash, m.reply) {
                let answer = PartitionConflict {
                    server_id: server_id.clone(),
                    channel: c.clone(),
                };
                let body = serde_json::to_vec(&answer).unwrap_or_default();
                let _ = client.publish(reply, body.into()).await;
            }
        }
    }))
}

/// Announces `ours` and waits a second for a server whose channels
/// overlap: its answer is the error text nats-streaming-server gives.
pub async fn partition_conflict(
    client: &async_nats::Client,
    cluster_id: &str,
    server_id: &str,
    ours: &[String],
) -> Option<String> {
    let inbox = client.new_inbox();
    let mut replies = client.subscribe(inbox.clone()).await.ok()?;
    let list = PartitionList {
        server_id: server_id.to_owned(),
        channels: ours.to_vec(),
    };
    let body = serde_json::to_vec(&list).ok()?;
    client
        .publish_with_reply(partition_subject(cluster_id), inbox, body.into())
        .await
        .ok()?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
    while let Ok(Some(m)) = tokio::time::timeout_at(deadline, replies.next()).await {
        if let Ok(c) = serde_json::from_slice::<PartitionConflict>(&m.payload) {
            return Some(format!(
                "channel {:?} causes conflict with channels on server {:?}",
                c.channel, c.server_id
            ));
        }
    }
    None
}

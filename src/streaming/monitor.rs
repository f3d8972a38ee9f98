//! `/streaming/...` on the monitoring port: nats-streaming-server's
//! documents (`serverz`, `storez`, `clientsz`, `channelsz`, `isFTActive`)
//! with its field names, and the streaming series of `/metrics`.
//!
//! Every answer is built on the engine's thread from its own state (an
//! [`Inspector`] call), so a document is one consistent snapshot.

use serde::Serialize;
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::engine::Engine;
use super::server::Inspector;
use crate::monitor::format::{rfc3339, since, uptime};
use crate::monitor::metrics::Exposition;
use crate::monitor::query::Query;
use crate::monitor::{Extension, Reply};
use crate::server::Server;

const ROOT: &str = "/streaming";
const DEFAULT_LIST_LIMIT: usize = 1024;
const WAIT: Duration = Duration::from_secs(5);

/// What the engine's state says about one subscription.
#[derive(Serialize)]
struct Subscriptionz {
    client_id: String,
    inbox: String,
    ack_inbox: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    durable_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    queue_name: String,
    is_durable: bool,
    is_offline: bool,
    max_inflight: i32,
    ack_wait: i32,
    last_sent: u64,
    pending_count: usize,
    is_stalled: bool,
}

fn subz(e: &Engine, id: u64) -> Option<Subscriptionz> {
    let s = e.sub(id)?;
    let last_sent = s
        .group
        .as_ref()
        .and_then(|g| e.channel(&s.channel)?.queues.get(g))
        .map_or(s.state.last_sent, |q| q.last_sent);
    Some(Subscriptionz {
        client_id: s.state.client_id.clone(),
        inbox: s.state.inbox.clone(),
        ack_inbox: s.state.ack_inbox.clone(),
        durable_name: s.state.durable_name.clone(),
        queue_name: s.state.q_group.clone(),
        is_durable: s.state.is_durable,
        is_offline: !s.online(),
        max_inflight: s.state.max_in_flight,
        ack_wait: s.state.ack_wait_secs,
        last_sent,
        pending_count: s.pending.len(),
        is_stalled: s.stalled(),
    })
}

fn open_fds() -> (usize, u64) {
    let fds = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count());
    let max = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|l| {
            l.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0);
    (fds, max)
}

fn totals(e: &Engine) -> (u64, u64) {
    e.channel_names().fold((0, 0), |(m, b), n| {
        let s = e.store().stats(n);
        (m + s.msgs, b + s.bytes)
    })
}

fn serverz(e: &Engine, server_id: &str) -> Value {
    let now = SystemTime::now();
    let c = e.counters();
    let (msgs, bytes) = totals(e);
    let (fds, max_fds) = open_fds();
    json!({
        "cluster_id": e.config().cluster_id,
        "server_id": server_id,
        "version": "0.25.6",
        "go": format!("rnats {}", crate::RNATS_VERSION),
        "state": "STANDALONE",
        "now": rfc3339(now),
        "start_time": rfc3339(e.start_time()),
        "uptime": uptime(since(now, e.start_time())),
        "clients": e.clients().len(),
        "subscriptions": e.num_subs(),
        "channels": e.channel_names().count(),
        "total_msgs": msgs,
        "total_bytes": bytes,
        "in_msgs": c.in_msgs,
        "in_bytes": c.in_bytes,
        "out_msgs": c.out_msgs,
        "out_bytes": c.out_bytes,
        "open_fds": fds,
        "max_fds": max_fds,
    })
}

fn limits_json(e: &Engine) -> Value {
    let l = &e.config().limits;
    let entry = |x: &super::store::limits::LimitsEntry| {
        json!({
            "max_msgs": x.max_msgs,
            "max_bytes": x.max_bytes,
            "max_age": x.max_age,
            "max_subscriptions": x.max_subs,
            "max_inactivity": x.max_inactivity,
        })
    };
    let mut v = json!({ "max_channels": l.max_channels });
    if let (Value::Object(o), Value::Object(g)) = (&mut v, entry(&l.global)) {
        o.extend(g);
        if !l.channels.is_empty() {
            let chans: Map<String, Value> = l
                .channels
                .iter()
                .map(|(n, x)| (n.clone(), entry(x)))
                .collect();
            o.insert("channels".into(), Value::Object(chans));
        }
    }
    v
}

fn storez(e: &Engine, server_id: &str) -> Value {
    let (msgs, bytes) = totals(e);
    json!({
        "cluster_id": e.config().cluster_id,
        "server_id": server_id,
        "now": rfc3339(SystemTime::now()),
        "type": e.store().kind().name(),
        "limits": limits_json(e),
        "total_msgs": msgs,
        "total_bytes": bytes,
    })
}

fn clientz(e: &Engine, id: &str, subs: bool) -> Option<Value> {
    let c = e.clients().get(id)?;
    let mut v = json!({
        "id": id,
        "hb_inbox": c.info.hb_inbox,
        "subs_count": c.subs.len(),
    });
    if subs && !c.subs.is_empty() {
        let mut by_channel: Map<String, Value> = Map::new();
        for sid in &c.subs {
            let (Some(s), Some(z)) = (e.sub(*sid), subz(e, *sid)) else {
                continue;
            };
            if let Value::Array(a) = by_channel
                .entry(s.channel.clone())
                .or_insert_with(|| Value::Array(Vec::new()))
            {
                a.push(serde_json::to_value(z).unwrap_or_default());
            }
        }
        v["subscriptions"] = Value::Object(by_channel);
    }
    Some(v)
}

/// `offset`/`limit` as nats-streaming-server reads them.
fn page(q: &Query) -> (usize, usize) {
    let offset = q.get("offset").parse::<i64>().unwrap_or(0).max(0) as usize;
    let limit = match q.get("limit").parse::<i64>().unwrap_or(0) {
        l if l <= 0 => DEFAULT_LIST_LIMIT,
        l => l as usize,
    };
    (offset, limit)
}

fn window<T>(items: Vec<T>, offset: usize, limit: usize) -> Vec<T> {
    let total = items.len();
    let lo = offset.min(total);
    let hi = offset.saturating_add(limit).min(total);
    items.into_iter().skip(lo).take(hi - lo).collect()
}

fn clientsz(e: &Engine, server_id: &str, offset: usize, limit: usize, subs: bool) -> Value {
    let ids: Vec<&String> = e.clients().keys().collect();
    let total = ids.len();
    let shown: Vec<Value> = window(ids, offset, limit)
        .into_iter()
        .filter_map(|id| clientz(e, id, subs))
        .collect();
    json!({
        "cluster_id": e.config().cluster_id,
        "server_id": server_id,
        "now": rfc3339(SystemTime::now()),
        "offset": offset,
        "limit": limit,
        "count": shown.len(),
        "total": total,
        "clients": shown,
    })
}

fn channelz(e: &Engine, name: &str, subs: bool) -> Option<Value> {
    let ch = e.channel(name)?;
    let st = e.store().stats(name);
    let ids: Vec<u64> = ch.sub_ids().collect();
    let mut v = json!({
        "name": name,
        "msgs": st.msgs,
        "bytes": st.bytes,
        "first_seq": if st.msgs == 0 && st.last == 0 { 0 } else { st.first },
        "last_seq": st.last,
        "subs_count": ids.len(),
    });
    if subs && !ids.is_empty() {
        let list: Vec<Value> = ids
            .iter()
            .filter_map(|id| subz(e, *id))
            .filter_map(|z| serde_json::to_value(z).ok())
            .collect();
        v["subscriptions"] = Value::Array(list);
    }
    Some(v)
}

fn channelsz(e: &Engine, server_id: &str, offset: usize, limit: usize, subs: bool) -> Value {
    let names: Vec<&String> = e.channel_names().collect();
    let total = names.len();
    let shown = window(names, offset, limit);
    let mut v = json!({
        "cluster_id": e.config().cluster_id,
        "server_id": server_id,
        "now": rfc3339(SystemTime::now()),
        "offset": offset,
        "limit": limit,
        "count": shown.len(),
        "total": total,
    });
    if subs {
        let list: Vec<Value> = shown.iter().filter_map(|n| channelz(e, n, true)).collect();
        if !list.is_empty() {
            v["channels"] = Value::Array(list);
        }
    } else if !shown.is_empty() {
        v["names"] = json!(shown);
    }
    v
}

fn not_found(text: String) -> Reply {
    Reply {
        status: 404,
        content_type: "text/plain; charset=utf-8",
        body: format!("{text}\n").into_bytes(),
        cors: false,
    }
}

fn busy() -> Reply {
    Reply {
        status: 503,
        content_type: "text/plain; charset=utf-8",
        body: b"streaming engine did not answer\n".to_vec(),
        cors: false,
    }
}

/// The streaming endpoints of one server.
pub struct StreamingMonitor {
    inspector: Inspector,
}

impl StreamingMonitor {
    /// Waits on the engine without holding up the runtime's other tasks.
    fn ask<T: Send + 'static>(&self, f: impl FnOnce(&Engine) -> T + Send + 'static) -> Option<T> {
        let i = self.inspector.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| i.inspect(WAIT, f))
            }
            _ => i.inspect(WAIT, f),
        }
    }

    fn json(&self, f: impl FnOnce(&Engine, &str) -> Value + Send + 'static) -> Reply {
        let id = self.inspector.server_id.clone();
        let state = *self.inspector.state.lock();
        match self.ask(move |e| f(e, &id)) {
            Some(mut v) => {
                if v.get("state").is_some() {
                    v["state"] = json!(state);
                }
                Reply::json(&v)
            }
            None => busy(),
        }
    }
}

impl StreamingMonitor {
    /// One client's or channel's document, or upstream's 404 text
    /// (`Client X not found`).
    fn one(
        &self,
        what: &'static str,
        name: String,
        f: impl FnOnce(&Engine, &str) -> Option<Value> + Send + 'static,
    ) -> Reply {
        let n = name.clone();
        match self.ask(move |e| f(e, &n)) {
            Some(Some(v)) => Reply::json(&v),
            Some(None) => not_found(format!("{what} {name} not found")),
            None => busy(),
        }
    }

    /// A standby has no engine yet: its identity, its state and zeros.
    fn standby_serverz(&self) -> Value {
        let now = SystemTime::now();
        let (fds, max_fds) = open_fds();
        json!({
            "cluster_id": self.inspector.cluster_id,
            "server_id": self.inspector.server_id,
            "version": "0.25.6",
            "go": format!("rnats {}", crate::RNATS_VERSION),
            "state": "FT_STANDBY",
            "now": rfc3339(now),
            "start_time": rfc3339(now),
            "uptime": "0s",
            "clients": 0, "subscriptions": 0, "channels": 0,
            "total_msgs": 0, "total_bytes": 0,
            "in_msgs": 0, "in_bytes": 0, "out_msgs": 0, "out_bytes": 0,
            "open_fds": fds, "max_fds": max_fds,
        })
    }
}

impl Extension for StreamingMonitor {
    fn handle(&self, endpoint: &str, q: &Query) -> Option<Reply> {
        let rest = endpoint.strip_prefix(ROOT)?;
        let subs = q.get("subs") == "1";
        Some(match rest {
            "" | "/" => Reply {
                status: 200,
                content_type: "text/html; charset=utf-8",
                body: ROOT_PAGE.as_bytes().to_vec(),
                cors: false,
            },
            "/serverz" if *self.inspector.state.lock() == "FT_STANDBY" => {
                Reply::json(&self.standby_serverz())
            }
            "/serverz" => self.json(serverz),
            "/storez" => self.json(storez),
            "/clientsz" => {
                let client = q.get("client").to_owned();
                if client.is_empty() {
                    let (o, l) = page(q);
                    self.json(move |e, id| clientsz(e, id, o, l, subs))
                } else {
                    self.one("Client", client, move |e, c| clientz(e, c, subs))
                }
            }
            "/channelsz" => {
                let channel = q.get("channel").to_owned();
                if channel.is_empty() {
                    let (o, l) = page(q);
                    self.json(move |e, id| channelsz(e, id, o, l, subs))
                } else {
                    self.one("Channel", channel, move |e, c| channelz(e, c, subs))
                }
            }
            "/isFTActive" => Reply {
                status: if *self.inspector.state.lock() == "FT_ACTIVE" {
                    200
                } else {
                    204
                },
                content_type: "text/plain; charset=utf-8",
                body: Vec::new(),
                cors: false,
            },
            _ => return None,
        })
    }

    fn metrics(&self, x: &mut Exposition) {
        let snap = self.ask(|e| {
            let (msgs, bytes) = totals(e);
            let per_channel: Vec<(String, u64, u64, u64, usize)> = e
                .channel_names()
                .map(|n| {
                    let s = e.store().stats(n);
                    let subs = e.channel(n).map_or(0, |c| c.sub_ids().count());
                    (n.clone(), s.msgs, s.bytes, s.last, subs)
                })
                .collect();
            (
                e.counters(),
                e.clients().len(),
                e.num_subs(),
                msgs,
                bytes,
                per_channel,
            )
        });
        let Some((c, clients, subs, msgs, bytes, chans)) = snap else {
            return;
        };
        x.single(
            "rnats_streaming_clients",
            "gauge",
            "Registered streaming clients.",
            clients as u64,
        );
        x.single(
            "rnats_streaming_subscriptions",
            "gauge",
            "Streaming subscriptions, offline durables included.",
            subs as u64,
        );
        x.single(
            "rnats_streaming_channels",
            "gauge",
            "Streaming channels.",
            chans.len() as u64,
        );
        x.single(
            "rnats_streaming_stored_messages",
            "gauge",
            "Messages in all channels' logs.",
            msgs,
        );
        x.single(
            "rnats_streaming_stored_bytes",
            "gauge",
            "Bytes in all channels' logs.",
            bytes,
        );
        x.single(
            "rnats_streaming_in_messages_total",
            "counter",
            "Messages published to the streaming server.",
            c.in_msgs,
        );
        x.single(
            "rnats_streaming_in_bytes_total",
            "counter",
            "Bytes published to the streaming server.",
            c.in_bytes,
        );
        x.single(
            "rnats_streaming_out_messages_total",
            "counter",
            "Messages delivered to streaming subscribers, redeliveries included.",
            c.out_msgs,
        );
        x.single(
            "rnats_streaming_out_bytes_total",
            "counter",
            "Bytes delivered to streaming subscribers.",
            c.out_bytes,
        );
        type Per = fn(&(String, u64, u64, u64, usize)) -> u64;
        let per_channel: [(&str, &str, Per); 4] = [
            (
                "rnats_streaming_channel_messages",
                "Messages in one channel's log.",
                |c| c.1,
            ),
            (
                "rnats_streaming_channel_bytes",
                "Bytes in one channel's log.",
                |c| c.2,
            ),
            (
                "rnats_streaming_channel_last_sequence",
                "The last sequence of one channel.",
                |c| c.3,
            ),
            (
                "rnats_streaming_channel_subscriptions",
                "Subscriptions of one channel.",
                |c| c.4 as u64,
            ),
        ];
        for (name, help, value) in per_channel {
            x.family(name, "gauge", help);
            for c in &chans {
                x.sample(name, &[("channel", &c.0)], value(c));
            }
        }
    }
}

/// Adds the streaming endpoints to `server`'s monitoring.
pub fn install(server: &Server, inspector: Inspector) {
    let m = StreamingMonitor { inspector };
    let _ = server.monitor_extension.set(Arc::new(m));
}

const ROOT_PAGE: &str = r#"<html lang="en">
  <head>
    <style type="text/css">
      body { font-family: sans-serif; font-size: 22; }
      a { margin-left: 32px; }
    </style>
  </head>
  <body>
    <h3>rnats streaming</h3>
    <a href=./streaming/serverz>server</a><br/>
    <a href=./streaming/storez>store</a><br/>
    <a href=./streaming/clientsz>clients</a><br/>
    <a href=./streaming/channelsz>channels</a><br/>
  </body>
</html>
"#;

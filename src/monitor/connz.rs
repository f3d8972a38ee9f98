//! `/connz`: open and recently closed connections, with nats-server's
//! filters, sort orders and paging.
//!
//! `last_activity` is observed rather than stamped on the message path: the
//! monitor samples each connection's message and subscription counters (once
//! a second, and before answering `/connz`) and records when they last
//! changed. It is therefore accurate to about a second, and PING/PONG
//! traffic alone does not count as activity.

use ahash::AHashMap;
use parking_lot::Mutex;
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::format::{go_duration, rfc3339, since, uptime};
use super::query::{BadRequest, Query};
use super::Monitor;
use crate::server::client::ClientShared;
use crate::server::ClosedClient;
use crate::tenancy::account::GLOBAL_ACCOUNT;

/// Default and maximum page when `limit` is not given.
pub const DEFAULT_LIMIT: usize = 1024;

/// One subscription in `subscriptions_list_detail` and `/subsz`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SubDetail {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub account: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub account_tag: String,
    pub subject: String,
    #[serde(rename = "qgroup", skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    pub sid: String,
    pub msgs: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub cid: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One connection in `/connz`.
#[derive(Debug, Clone, Serialize)]
pub struct ConnInfo {
    pub cid: u64,
    pub kind: &'static str,
    #[serde(rename = "type")]
    pub conn_type: &'static str,
    pub ip: String,
    pub port: u16,
    pub start: String,
    pub last_activity: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub rtt: String,
    pub uptime: String,
    pub idle: String,
    pub pending_bytes: u64,
    pub in_msgs: u64,
    pub out_msgs: u64,
    pub in_bytes: u64,
    pub out_bytes: u64,
    /// Times this connection, as a subscriber, was full and made a
    /// publisher wait (flow control); omitted when none, as nats-server does.
    #[serde(skip_serializing_if = "is_zero")]
    pub stalls: u64,
    /// How long this connection's reader paused for full subscribers, in
    /// milliseconds (rnats extension; omitted when zero).
    #[serde(skip_serializing_if = "is_zero")]
    pub stalled_ms: u64,
    /// How long its reader waited on rate quotas, in milliseconds (rnats
    /// extension; omitted when zero).
    #[serde(skip_serializing_if = "is_zero")]
    pub throttled_ms: u64,
    /// The connection carried a flood and was moved to the runtime kept for
    /// heavy connections (rnats extension; omitted when false).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub bulk_lane: bool,
    pub subscriptions: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub lang: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub version: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub authorized_user: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub account: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subscriptions_list: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subscriptions_list_detail: Vec<SubDetail>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name_tag: String,
    /// Sort keys, not in the JSON.
    #[serde(skip)]
    pub keys: SortKeys,
}

/// The raw values the sort orders compare.
#[derive(Debug, Clone, Copy)]
pub struct SortKeys {
    pub start: SystemTime,
    pub last: SystemTime,
    pub stop: Option<SystemTime>,
    pub rtt: Duration,
}

impl Default for SortKeys {
    fn default() -> Self {
        SortKeys {
            start: SystemTime::UNIX_EPOCH,
            last: SystemTime::UNIX_EPOCH,
            stop: None,
            rtt: Duration::ZERO,
        }
    }
}

/// The `/connz` document.
#[derive(Debug, Clone, Serialize)]
pub struct Connz {
    pub server_id: String,
    pub now: String,
    pub num_connections: usize,
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
    pub connections: Vec<ConnInfo>,
}

/// `state=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnState {
    Open,
    Closed,
    All,
}

/// `sort=`: nats-server's options. All but `cid`, `start`, `uptime` and
/// `reason` put the largest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOpt {
    Cid,
    Start,
    Subs,
    Pending,
    MsgsTo,
    MsgsFrom,
    BytesTo,
    BytesFrom,
    Last,
    Idle,
    Uptime,
    Stop,
    Reason,
    Rtt,
}

impl SortOpt {
    pub fn parse(s: &str) -> Option<SortOpt> {
        Some(match s {
            "" | "cid" => SortOpt::Cid,
            "start" => SortOpt::Start,
            "subs" => SortOpt::Subs,
            "pending" => SortOpt::Pending,
            "msgs_to" => SortOpt::MsgsTo,
            "msgs_from" => SortOpt::MsgsFrom,
            "bytes_to" => SortOpt::BytesTo,
            "bytes_from" => SortOpt::BytesFrom,
            "last" => SortOpt::Last,
            "idle" => SortOpt::Idle,
            "uptime" => SortOpt::Uptime,
            "stop" => SortOpt::Stop,
            "reason" => SortOpt::Reason,
            "rtt" => SortOpt::Rtt,
            _ => return None,
        })
    }
}

/// What `/connz` was asked for.
#[derive(Debug, Clone)]
pub struct ConnzOptions {
    pub sort: SortOpt,
    pub auth: bool,
    pub subs: bool,
    pub subs_detail: bool,
    pub offset: usize,
    pub limit: usize,
    pub cid: u64,
    pub state: ConnState,
    pub user: String,
    pub account: String,
}

impl Default for ConnzOptions {
    fn default() -> Self {
        ConnzOptions {
            sort: SortOpt::Cid,
            auth: false,
            subs: false,
            subs_detail: false,
            offset: 0,
            limit: DEFAULT_LIMIT,
            cid: 0,
            state: ConnState::Open,
            user: String::new(),
            account: String::new(),
        }
    }
}

impl ConnzOptions {
    /// Reads the query as nats-server's `HandleConnz` does, including its
    /// error texts. `mqtt_client` is accepted and ignored (no MQTT here).
    pub fn from_query(q: &Query) -> Result<ConnzOptions, BadRequest> {
        let sort_text = q.get("sort");
        let auth = q.bool("auth")?;
        let (subs, subs_detail) = q.subs()?;
        let offset = q.int("offset")?;
        let limit = q.int("limit")?;
        let cid = q.uint("cid")?;
        let state = match q.get("state").to_ascii_lowercase().as_str() {
            "" | "open" => ConnState::Open,
            "closed" => ConnState::Closed,
            "any" | "all" => ConnState::All,
            _ => {
                return Err(BadRequest(format!(
                    "Error decoding state for {}",
                    q.get("state")
                )))
            }
        };
        let sort = SortOpt::parse(sort_text)
            .ok_or_else(|| BadRequest(format!("invalid sorting option: {sort_text}")))?;
        if sort == SortOpt::Stop && state != ConnState::Closed {
            return Err(BadRequest(
                "sort by stop only valid on closed connections".into(),
            ));
        }
        if sort == SortOpt::Reason && state != ConnState::Closed {
            return Err(BadRequest(
                "sort by reason only valid on closed connections".into(),
            ));
        }
        let mut limit = if limit <= 0 {
            DEFAULT_LIMIT
        } else {
            limit as usize
        };
        if cid > 0 {
            limit = 1;
        }
        Ok(ConnzOptions {
            sort,
            auth,
            subs,
            subs_detail,
            offset: offset.max(0) as usize,
            limit,
            cid,
            state,
            user: q.get("user").to_owned(),
            account: q.get("acc").to_owned(),
        })
    }
}

/// When each connection's counters last moved (see the module doc).
#[derive(Debug, Default)]
pub struct Activity {
    inner: Mutex<ActivityInner>,
}

#[derive(Debug, Default)]
struct ActivityInner {
    live: AHashMap<u64, Seen>,
    /// Last activity of connections that closed, newest last.
    retired: AHashMap<u64, SystemTime>,
    retired_order: VecDeque<u64>,
}

#[derive(Debug, Clone, Copy)]
struct Seen {
    sig: (u64, u64, usize),
    last: SystemTime,
}

fn signature(c: &ClientShared) -> (u64, u64, usize) {
    (
        c.stats.in_msgs.load(Ordering::Relaxed),
        c.stats.out_msgs.load(Ordering::Relaxed),
        c.num_subs(),
    )
}

impl Activity {
    /// Samples the live connections; `keep_closed` bounds how many closed
    /// ones are remembered (`max_closed_clients`).
    pub fn observe(&self, clients: &[Arc<ClientShared>], keep_closed: usize) {
        let now = SystemTime::now();
        let mut a = self.inner.lock();
        let inner = &mut *a;
        let mut next = AHashMap::with_capacity(clients.len());
        for c in clients {
            let sig = signature(c);
            let seen = match inner.live.get(&c.id) {
                Some(s) if s.sig == sig => *s,
                Some(_) => Seen { sig, last: now },
                None if sig == (0, 0, 0) => Seen { sig, last: c.start },
                None => Seen { sig, last: now },
            };
            next.insert(c.id, seen);
        }
        for (cid, s) in std::mem::replace(&mut inner.live, next) {
            if !inner.live.contains_key(&cid) {
                inner.retired.insert(cid, s.last);
                inner.retired_order.push_back(cid);
            }
        }
        while inner.retired_order.len() > keep_closed {
            if let Some(cid) = inner.retired_order.pop_front() {
                inner.retired.remove(&cid);
            }
        }
    }

    /// The last activity seen for a connection, live or closed.
    pub fn last(&self, cid: u64) -> Option<SystemTime> {
        let a = self.inner.lock();
        a.live
            .get(&cid)
            .map(|s| s.last)
            .or_else(|| a.retired.get(&cid).copied())
    }
}

fn rtt_string(rtt: Option<Duration>) -> String {
    go_duration(rtt.unwrap_or_default())
}

/// The detail of one subscription of a connection (no account fields, as
/// in nats-server's `/connz`).
fn client_sub_details(c: &ClientShared) -> Vec<SubDetail> {
    let subs = c.subs.lock();
    subs.values()
        .map(|s| SubDetail {
            account: String::new(),
            account_tag: String::new(),
            subject: s.subject.to_string(),
            queue: s.queue.as_ref().map(|q| q.to_string()),
            sid: String::from_utf8_lossy(&s.sid).into_owned(),
            msgs: s.delivered.load(Ordering::Relaxed),
            max: s.max.load(Ordering::Relaxed),
            cid: c.id,
        })
        .collect()
}

impl Monitor {
    fn open_conn_info(&self, c: &ClientShared, now: SystemTime, o: &ConnzOptions) -> ConnInfo {
        let meta = c.meta.lock().clone();
        let last = self.activity.last(c.id).unwrap_or(c.start);
        let mut ci = ConnInfo {
            cid: c.id,
            kind: "Client",
            conn_type: "nats",
            ip: c.addr.ip().to_string(),
            port: c.addr.port(),
            start: rfc3339(c.start),
            last_activity: rfc3339(last),
            stop: None,
            reason: String::new(),
            rtt: rtt_string(meta.rtt),
            uptime: uptime(since(now, c.start)),
            idle: uptime(since(now, last)),
            pending_bytes: c.out.pending() as u64,
            in_msgs: c.stats.in_msgs.load(Ordering::Relaxed),
            out_msgs: c.stats.out_msgs.load(Ordering::Relaxed),
            in_bytes: c.stats.in_bytes.load(Ordering::Relaxed),
            out_bytes: c.stats.out_bytes.load(Ordering::Relaxed),
            stalls: c.stats.stalls.load(Ordering::Relaxed),
            stalled_ms: c.stats.stalled_ns.load(Ordering::Relaxed) / 1_000_000,
            throttled_ms: c.stats.throttled_ns.load(Ordering::Relaxed) / 1_000_000,
            bulk_lane: c.stats.bulk_lane.load(Ordering::Relaxed),
            subscriptions: c.num_subs() as u64,
            name: meta.name,
            lang: meta.lang,
            version: meta.version,
            authorized_user: String::new(),
            account: String::new(),
            subscriptions_list: Vec::new(),
            subscriptions_list_detail: Vec::new(),
            name_tag: String::new(),
            keys: SortKeys {
                start: c.start,
                last,
                stop: None,
                rtt: meta.rtt.unwrap_or_default(),
            },
        };
        if o.subs_detail {
            ci.subscriptions_list_detail = client_sub_details(c);
        } else if o.subs {
            ci.subscriptions_list = c
                .subs
                .lock()
                .values()
                .map(|s| s.subject.to_string())
                .collect();
        }
        if o.auth {
            let acc = c.account.read().name.to_string();
            ci.authorized_user = meta.user;
            if acc != GLOBAL_ACCOUNT {
                ci.account = acc.clone();
            }
            ci.name_tag = acc;
        }
        ci
    }

    fn closed_conn_info(&self, cc: &ClosedClient, o: &ConnzOptions) -> ConnInfo {
        let last = self
            .activity
            .last(cc.cid)
            .unwrap_or(cc.start)
            .min(cc.stop)
            .max(cc.start);
        let mut ci = ConnInfo {
            cid: cc.cid,
            kind: "Client",
            conn_type: "nats",
            ip: cc.addr.ip().to_string(),
            port: cc.addr.port(),
            start: rfc3339(cc.start),
            last_activity: rfc3339(last),
            stop: Some(rfc3339(cc.stop)),
            reason: cc.reason.as_str().to_owned(),
            rtt: rtt_string(cc.meta.rtt),
            uptime: uptime(since(cc.stop, cc.start)),
            idle: uptime(since(cc.stop, last)),
            pending_bytes: 0,
            in_msgs: cc.in_msgs,
            out_msgs: cc.out_msgs,
            in_bytes: cc.in_bytes,
            out_bytes: cc.out_bytes,
            stalls: cc.stalls,
            stalled_ms: cc.stalled_ns / 1_000_000,
            throttled_ms: cc.throttled_ns / 1_000_000,
            bulk_lane: cc.bulk_lane,
            subscriptions: cc.subs.len() as u64,
            name: cc.meta.name.clone(),
            lang: cc.meta.lang.clone(),
            version: cc.meta.version.clone(),
            authorized_user: String::new(),
            account: String::new(),
            subscriptions_list: Vec::new(),
            subscriptions_list_detail: Vec::new(),
            name_tag: String::new(),
            keys: SortKeys {
                start: cc.start,
                last,
                stop: Some(cc.stop),
                rtt: cc.meta.rtt.unwrap_or_default(),
            },
        };
        // Only the subjects of a closed connection's subscriptions are kept.
        if o.subs_detail {
            ci.subscriptions_list_detail = cc
                .subs
                .iter()
                .map(|s| SubDetail {
                    account: String::new(),
                    account_tag: String::new(),
                    subject: s.clone(),
                    queue: None,
                    sid: String::new(),
                    msgs: 0,
                    max: 0,
                    cid: cc.cid,
                })
                .collect();
        } else if o.subs {
            ci.subscriptions_list = cc.subs.clone();
        }
        if o.auth {
            ci.authorized_user = cc.meta.user.clone();
            if !cc.account.is_empty() && cc.account != GLOBAL_ACCOUNT {
                ci.account = cc.account.clone();
            }
            ci.name_tag = cc.account.clone();
        }
        ci
    }

    /// Builds `/connz` as nats-server's `Connz` does: `total` counts the
    /// connections in the chosen state (and account) before the `cid` and
    /// `user` filters and before paging.
    pub fn connz(&self, o: &ConnzOptions) -> Connz {
        let s = &self.server;
        let now = SystemTime::now();
        let mut cz = Connz {
            server_id: s.id.clone(),
            now: rfc3339(now),
            num_connections: 0,
            total: 0,
            offset: o.offset,
            limit: o.limit,
            connections: Vec::new(),
        };
        if !o.account.is_empty() && s.accounts.get(&o.account).is_none() {
            return cz;
        }
        let want_open = matches!(o.state, ConnState::Open | ConnState::All);
        let want_closed = matches!(o.state, ConnState::Closed | ConnState::All);
        let in_account = |name: &str| o.account.is_empty() || name == o.account;

        let mut open: Vec<Arc<ClientShared>> = Vec::new();
        if want_open {
            let clients = s.clients();
            self.activity
                .observe(&clients, s.opts().max_closed_clients.max(0) as usize);
            open = clients
                .into_iter()
                .filter(|c| in_account(&c.account.read().name))
                .collect();
            cz.total += open.len();
        }
        let mut closed: Vec<ClosedClient> = Vec::new();
        if want_closed {
            closed = s
                .closed_clients()
                .into_iter()
                .filter(|c| in_account(&c.account))
                .collect();
            cz.total += closed.len();
        }

        if o.cid > 0 {
            open.retain(|c| c.id == o.cid);
            if open.is_empty() {
                closed.retain(|c| c.cid == o.cid);
                closed.truncate(1);
            } else {
                closed.clear();
            }
        } else {
            if !o.user.is_empty() {
                open.retain(|c| c.meta.lock().user == o.user);
                closed.retain(|c| c.meta.user == o.user);
            }
        }

        let mut conns: Vec<ConnInfo> = open
            .iter()
            .map(|c| self.open_conn_info(c, now, o))
            .chain(closed.iter().map(|c| self.closed_conn_info(c, o)))
            .collect();
        sort_conns(&mut conns, o.sort, now);
        cz.connections = page(conns, o.offset, o.limit);
        cz.num_connections = cz.connections.len();
        cz
    }
}

/// Orders connections; ties keep ascending `cid` so pages are stable.
pub fn sort_conns(conns: &mut [ConnInfo], sort: SortOpt, now: SystemTime) {
    use std::cmp::Reverse;
    let uptime_of = |c: &ConnInfo| since(c.keys.stop.unwrap_or(now), c.keys.start);
    conns.sort_by_key(|c| c.cid);
    match sort {
        SortOpt::Cid | SortOpt::Start => {}
        SortOpt::Subs => conns.sort_by_key(|c| Reverse(c.subscriptions)),
        SortOpt::Pending => conns.sort_by_key(|c| Reverse(c.pending_bytes)),
        SortOpt::MsgsTo => conns.sort_by_key(|c| Reverse(c.out_msgs)),
        SortOpt::MsgsFrom => conns.sort_by_key(|c| Reverse(c.in_msgs)),
        SortOpt::BytesTo => conns.sort_by_key(|c| Reverse(c.out_bytes)),
        SortOpt::BytesFrom => conns.sort_by_key(|c| Reverse(c.in_bytes)),
        SortOpt::Last => conns.sort_by_key(|c| Reverse(c.keys.last)),
        SortOpt::Idle => conns.sort_by_key(|c| Reverse(since(now, c.keys.last))),
        SortOpt::Uptime => conns.sort_by_key(uptime_of),
        SortOpt::Stop => conns.sort_by_key(|c| Reverse(c.keys.stop)),
        SortOpt::Reason => conns.sort_by(|a, b| a.reason.cmp(&b.reason)),
        SortOpt::Rtt => conns.sort_by_key(|c| Reverse(c.keys.rtt)),
    }
}

/// The `[offset, offset+limit)` window, clamped as nats-server clamps it.
pub fn page<T>(items: Vec<T>, offset: usize, limit: usize) -> Vec<T> {
    let n = items.len();
    let start = offset.min(n);
    let end = start + limit.min(n - start);
    items.into_iter().skip(start).take(end - start).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(cid: u64) -> ConnInfo {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        ConnInfo {
            cid,
            kind: "Client",
            conn_type: "nats",
            ip: "127.0.0.1".into(),
            port: 1,
            start: String::new(),
            last_activity: String::new(),
            stop: None,
            reason: String::new(),
            rtt: "0s".into(),
            uptime: String::new(),
            idle: String::new(),
            pending_bytes: 0,
            in_msgs: 0,
            out_msgs: 0,
            in_bytes: 0,
            out_bytes: 0,
            stalls: 0,
            stalled_ms: 0,
            throttled_ms: 0,
            bulk_lane: false,
            subscriptions: 0,
            name: String::new(),
            lang: String::new(),
            version: String::new(),
            authorized_user: String::new(),
            account: String::new(),
            subscriptions_list: vec![],
            subscriptions_list_detail: vec![],
            name_tag: String::new(),
            keys: SortKeys {
                start: t0 + Duration::from_secs(cid),
                last: t0 + Duration::from_secs(cid),
                stop: None,
                rtt: Duration::ZERO,
            },
        }
    }

    fn cids(v: &[ConnInfo]) -> Vec<u64> {
        v.iter().map(|c| c.cid).collect()
    }

    #[test]
    fn sort_orders() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(2_000);
        let mut v: Vec<ConnInfo> = (1..=4).map(conn).collect();
        v[0].out_msgs = 5;
        v[1].out_msgs = 9;
        v[2].out_msgs = 5;
        v[3].subscriptions = 7;
        v[2].in_bytes = 100;
        v[1].keys.rtt = Duration::from_millis(3);
        v[0].keys.last = now;

        sort_conns(&mut v, SortOpt::MsgsTo, now);
        assert_eq!(cids(&v), [2, 1, 3, 4], "descending, ties by cid");
        sort_conns(&mut v, SortOpt::Cid, now);
        assert_eq!(cids(&v), [1, 2, 3, 4]);
        sort_conns(&mut v, SortOpt::Subs, now);
        assert_eq!(cids(&v)[0], 4);
        sort_conns(&mut v, SortOpt::BytesFrom, now);
        assert_eq!(cids(&v)[0], 3);
        sort_conns(&mut v, SortOpt::Rtt, now);
        assert_eq!(cids(&v)[0], 2);
        sort_conns(&mut v, SortOpt::Last, now);
        assert_eq!(cids(&v), [1, 4, 3, 2], "most recent first");
        sort_conns(&mut v, SortOpt::Idle, now);
        assert_eq!(cids(&v), [2, 3, 4, 1], "longest idle first");
        sort_conns(&mut v, SortOpt::Uptime, now);
        assert_eq!(cids(&v), [4, 3, 2, 1], "shortest uptime first");
    }

    #[test]
    fn closed_sort_orders() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(2_000);
        let mut v: Vec<ConnInfo> = (1..=3).map(conn).collect();
        for (c, (stop, reason)) in v.iter_mut().zip([(1500, "b"), (1900, "a"), (1700, "c")]) {
            c.keys.stop = Some(SystemTime::UNIX_EPOCH + Duration::from_secs(stop));
            c.reason = reason.into();
        }
        sort_conns(&mut v, SortOpt::Stop, now);
        assert_eq!(cids(&v), [2, 3, 1], "latest stop first");
        sort_conns(&mut v, SortOpt::Reason, now);
        assert_eq!(cids(&v), [2, 1, 3], "reasons ascending");
        sort_conns(&mut v, SortOpt::Uptime, now);
        assert_eq!(cids(&v), [1, 3, 2], "uptime ends at stop");
    }

    #[test]
    fn paging_clamps() {
        let v: Vec<u32> = (0..5).collect();
        assert_eq!(page(v.clone(), 0, 1024), v);
        assert_eq!(page(v.clone(), 1, 2), [1, 2]);
        assert_eq!(page(v.clone(), 4, 10), [4]);
        assert!(page(v.clone(), 5, 10).is_empty());
        assert!(page(v, 99, 10).is_empty());
    }

    #[test]
    fn options_from_query_and_errors() {
        let o =
            ConnzOptions::from_query(&Query::parse(Some("sort=msgs_to&limit=2&offset=1"))).unwrap();
        assert_eq!((o.sort, o.limit, o.offset), (SortOpt::MsgsTo, 2, 1));
        let o = ConnzOptions::from_query(&Query::parse(Some("cid=7&limit=50"))).unwrap();
        assert_eq!((o.cid, o.limit), (7, 1));
        let o = ConnzOptions::from_query(&Query::parse(Some("limit=-4&offset=-2"))).unwrap();
        assert_eq!((o.limit, o.offset), (DEFAULT_LIMIT, 0));
        let err = |q: &str| {
            ConnzOptions::from_query(&Query::parse(Some(q)))
                .unwrap_err()
                .0
        };
        assert_eq!(err("sort=foo"), "invalid sorting option: foo");
        assert_eq!(err("state=x"), "Error decoding state for x");
        assert_eq!(
            err("sort=stop"),
            "sort by stop only valid on closed connections"
        );
        assert_eq!(
            err("sort=reason&state=all"),
            "sort by reason only valid on closed connections"
        );
        assert!(ConnzOptions::from_query(&Query::parse(Some("sort=stop&state=CLOSED"))).is_ok());
    }

    #[test]
    fn conn_info_json_shape() {
        let mut c = conn(5);
        c.name = "n1".into();
        c.subscriptions_list_detail = vec![SubDetail {
            account: String::new(),
            account_tag: String::new(),
            subject: "a.*".into(),
            queue: Some("q".into()),
            sid: "2".into(),
            msgs: 1,
            max: 0,
            cid: 5,
        }];
        let v = serde_json::to_value(&c).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        assert!(keys.contains(&"type") && keys.contains(&"pending_bytes"));
        for absent in [
            "stop",
            "reason",
            "lang",
            "account",
            "subscriptions_list",
            "keys",
            "stalls",
            "stalled_ms",
            "throttled_ms",
            "bulk_lane",
        ] {
            assert!(!keys.contains(&absent), "{absent} should be omitted");
        }
        assert_eq!(
            v["subscriptions_list_detail"][0],
            serde_json::json!({"subject":"a.*","qgroup":"q","sid":"2","msgs":1,"cid":5})
        );
    }

    #[test]
    fn stall_fields_only_when_nonzero() {
        let mut c = conn(6);
        c.stalls = 3;
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["stalls"], 3);
        assert!(
            v.get("stalled_ms").is_none(),
            "under a millisecond: omitted"
        );
        c.stalled_ms = 250;
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(
            (v["stalls"].as_u64(), v["stalled_ms"].as_u64()),
            (Some(3), Some(250))
        );
        // nats-server's order: the counters, then `stalls`, then `subscriptions`.
        let text = serde_json::to_string(&c).unwrap();
        let at = |k: &str| text.find(&format!("\"{k}\":")).unwrap();
        assert!(at("out_bytes") < at("stalls") && at("stalls") < at("subscriptions"));
    }
}

//! One route connection: the handshake (CONNECT, INFO, authorization,
//! cluster name, pool slot or pinned account), the other server's interest
//! kept as subscriptions of this connection, messages delivered to local
//! subscribers, PING/PONG and stale detection, and the clean-up when it
//! ends.
//!
//! The handshake follows nats-server 2.15: the accepting side sends INFO at
//! once; the soliciting side sends CONNECT, and its INFO only after it read
//! the peer's, since that is when it knows which pool slot the connection
//! takes (`route_pool_idx`) or which account it is dedicated to
//! (`route_account`).

use ahash::AHashMap;
use bytes::{Buf, BytesMut};
use parking_lot::Mutex;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};

use super::config::RouteUrl;
use super::info::{connect_line, info_line, pool_index, RouteConnect, RouteInfo};
use super::proto::{self, Limits, Parser, RouteOp};
use super::Cluster;
use crate::protocol::encode::{self, Message};
use crate::server::client::ClientShared;
use crate::server::close::CloseReason;
use crate::server::fanout::{Fanout, Origin};
use crate::server::outbound::Outbound;
use crate::server::subscription::{SubRef, Subscription};
use crate::server::Server;
use crate::tenancy::account::Account;

/// The longest a route's reader waits for full subscribers after a batch.
const STALL_MAX: Duration = Duration::from_millis(250);

/// How a soliciting connection came about.
#[derive(Debug, Clone)]
pub struct Solicit {
    pub url: RouteUrl,
    /// Configured in `routes` (re-dialed for ever), rather than learnt by
    /// gossip.
    pub explicit: bool,
    /// A connection dedicated to this account.
    pub account: Option<Arc<str>>,
    /// Dialed by the loop that re-dials the remote while it is down (its
    /// first connection); the others are dialed once each.
    pub persistent: bool,
}

/// How a solicited connection ended.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    /// Dial again (the remote went away, as opposed to a duplicate, a route
    /// to ourselves or a refusal that will not change).
    pub reconnect: bool,
    /// Dial again at once: the peer, as dynamically named as we are, took
    /// our cluster name when it read our CONNECT, so the next attempt
    /// matches (without it a new pair of nodes waits a whole reconnect
    /// delay before it forms).
    pub retry_now: bool,
}

/// A peer's interest as stored: its account and its entry in that
/// account's index.
type RemoteSub = (Arc<Account>, SubRef);

/// A peer's interest as monitoring lists it: account, subject, queue.
pub type RemoteInterest = (Arc<str>, Box<str>, Option<Box<str>>);

/// One route connection, as the cluster and monitoring see it.
pub struct RouteConn {
    /// The connection's outbound buffer, statistics and identity; its
    /// subscriptions in accounts' indexes point here.
    pub shared: Arc<ClientShared>,
    pub did_solicit: AtomicBool,
    pub explicit: AtomicBool,
    pub remote_id: OnceLock<String>,
    pub remote_name: OnceLock<String>,
    /// The pool slot (-1 until registered, and on a pinned connection).
    pub pool_idx: AtomicI64,
    /// The peer's INFO, as first received.
    pub peer: OnceLock<RouteInfo>,
    /// Interest was sent: changes may follow.
    ready: AtomicBool,
    /// The peer's interest by "account subject [queue]".
    subs: Mutex<AHashMap<Box<[u8]>, RemoteSub>>,
    /// Last activity (unix nanos), for monitoring.
    pub last_activity: AtomicU64,
    /// The URL this server dialed (a configured route is closed when a
    /// reload removes it).
    pub dialed: Option<RouteUrl>,
}

impl std::fmt::Debug for RouteConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteConn")
            .field("id", &self.shared.id)
            .finish()
    }
}

impl RouteConn {
    /// Whether interest changes may be sent (the snapshot went out first).
    pub fn ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// The account token of protocol lines: none on a pinned connection.
    pub fn account_token<'a>(&self, name: &'a str) -> Option<&'a str> {
        match self.shared.pinned.get() {
            Some(_) => None,
            None => Some(name),
        }
    }

    /// The pinned account, if any.
    pub fn pinned(&self) -> Option<&Arc<str>> {
        self.shared.pinned.get()
    }

    /// The peer's interest: (account, subject, queue) of each entry.
    pub fn remote_subs(&self) -> Vec<RemoteInterest> {
        self.subs
            .lock()
            .values()
            .map(|(a, s)| (a.name.clone(), s.subject.clone(), s.queue.clone()))
            .collect()
    }

    pub fn num_subs(&self) -> usize {
        self.subs.lock().len()
    }

    fn touch(&self) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        self.last_activity.store(now, Ordering::Relaxed);
    }

    /// Removes the peer's interest from every account.
    fn drop_subs(&self) {
        let drained: Vec<(Arc<Account>, SubRef)> =
            self.subs.lock().drain().map(|(_, v)| v).collect();
        for (acc, sub) in drained {
            let _ = acc.sublist.remove(&sub.subject, sub.queue.as_deref(), &sub);
        }
    }
}

/// Runs one route connection until it ends.
pub async fn run<S>(
    cluster: Arc<Cluster>,
    stream: S,
    addr: SocketAddr,
    solicit: Option<Solicit>,
) -> Outcome
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let Some(server) = cluster.server() else {
        return Outcome {
            reconnect: false,
            retry_now: false,
        };
    };
    let opts = server.opts();
    let id = server.next_client_id();
    // A route queues up to `max_pending` as a client does (nats-server
    // uses the same option for routes); publishers pause at half of it.
    let out = Outbound::new(opts.max_pending.max(0) as usize, opts.write_deadline);
    let shared = Arc::new(ClientShared::new(
        id,
        addr,
        out,
        server.accounts.global(),
        None,
        None,
        false,
        true,
    ));
    let conn = Arc::new(RouteConn {
        shared: shared.clone(),
        did_solicit: AtomicBool::new(solicit.is_some()),
        explicit: AtomicBool::new(solicit.as_ref().is_some_and(|s| s.explicit)),
        remote_id: OnceLock::new(),
        remote_name: OnceLock::new(),
        pool_idx: AtomicI64::new(-1),
        peer: OnceLock::new(),
        ready: AtomicBool::new(false),
        subs: Mutex::new(AHashMap::new()),
        last_activity: AtomicU64::new(0),
        dialed: solicit.as_ref().map(|s| s.url.clone()),
    });
    conn.touch();
    let (reader, writer) = tokio::io::split(stream);
    let writer_task = {
        let shared = shared.clone();
        tokio::spawn(async move {
            if let crate::server::outbound::WriterEnd::Done(Some(reason)) =
                shared.out.run_writer(writer).await
            {
                shared.close(reason);
            }
        })
    };
    match &solicit {
        Some(s) => {
            let connect = RouteConnect {
                echo: true,
                user: s.url.user.clone(),
                pass: s.url.password.clone(),
                headers: server.headers_supported(),
                name: server.id.clone(),
                cluster: cluster.name(),
                cluster_dynamic: cluster.is_dynamic(),
                ..RouteConnect::default()
            };
            shared
                .out
                .append(|b| b.extend_from_slice(&connect_line(&connect)));
        }
        None => {
            let info = cluster.route_info();
            shared
                .out
                .append(|b| b.extend_from_slice(&info_line(&info)));
        }
    }
    shared.out.flush();
    log::debug!("{addr} - rid:{id} - Route connection created");

    let limits = Limits::for_route(
        opts.max_control_line.max(1) as usize,
        (opts.max_payload.max(0) as usize).max(64 * 1024 * 1024),
    );
    let auth_timeout = cluster
        .config()
        .auth
        .as_ref()
        .filter(|_| solicit.is_none())
        .map(|_| cluster.config().auth_timeout());
    let mut route = Route {
        fanout: server.fanout(),
        server,
        cluster: cluster.clone(),
        conn: conn.clone(),
        parser: Parser::new(limits),
        solicit,
        connect: None,
        registered: false,
        pings_out: 0,
        grow_pool_on_pong: false,
        reconnect: true,
        retry_now: false,
    };
    route.run(reader, auth_timeout).await;

    let reason = shared.out.closing().unwrap_or(CloseReason::ClientClosed);
    let registered = route.registered;
    let reconnect = route.reconnect && route.solicit.is_some();
    let retry_now = route.retry_now;
    let solicit_again = route.solicit.take();
    drop(route);
    conn.ready.store(false, Ordering::Release);
    let urls_changed = if registered {
        cluster.remove_route(&conn)
    } else {
        false
    };
    conn.drop_subs();
    let _ = writer_task.await;
    if registered {
        log::info!(
            "{addr} - rid:{id} - Route connection closed: {reason}{}",
            conn.remote_name
                .get()
                .map(|n| format!(" (remote {n})"))
                .unwrap_or_default()
        );
    } else {
        log::debug!("{addr} - rid:{id} - Route connection closed: {reason}");
    }
    if urls_changed {
        cluster.client_urls_changed();
    }
    // A pool or pinned connection lost while the remote is still connected
    // through others is dialed again (the remote's first connection only
    // re-creates them when it comes back itself).
    if let (true, true, Some(s)) = (registered, reconnect, &solicit_again) {
        if !s.persistent {
            let remote = conn.remote_id.get().cloned().unwrap_or_default();
            let (cluster, s) = (cluster.clone(), s.clone());
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(1)).await;
                if cluster.is_connected_to(&remote) {
                    cluster.solicit_extra(s.url, s.explicit, s.account);
                }
            });
        }
    }
    Outcome {
        reconnect,
        retry_now,
    }
}

struct Route {
    server: Arc<Server>,
    cluster: Arc<Cluster>,
    conn: Arc<RouteConn>,
    parser: Parser,
    fanout: Fanout,
    solicit: Option<Solicit>,
    /// The peer's CONNECT (accepting side).
    connect: Option<RouteConnect>,
    registered: bool,
    pings_out: i64,
    /// On the soliciting side of a pooled route: the next PONG opens the
    /// next connection of the pool (nats-server waits for it so that the
    /// credentials are known to work).
    grow_pool_on_pong: bool,
    reconnect: bool,
    retry_now: bool,
}

impl Route {
    async fn run<R: AsyncRead + Unpin>(&mut self, mut reader: R, auth: Option<Duration>) {
        let shared = self.conn.shared.clone();
        let interval = self.cluster.ping_interval();
        let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let auth_deadline = tokio::time::sleep(auth.unwrap_or(Duration::from_secs(3600)));
        tokio::pin!(auth_deadline);
        let mut rbuf = BytesMut::with_capacity(64 * 1024);
        let mut budget = crate::server::fairness::ReadBudget::default();
        loop {
            if let Some(n) = self.parser.bytes_needed() {
                if n > rbuf.capacity() {
                    rbuf.reserve(n - rbuf.len());
                }
            }
            if rbuf.capacity() - rbuf.len() < 4096 {
                rbuf.reserve(64 * 1024);
            }
            tokio::select! {
                biased;
                _ = shared.closed() => break,
                r = reader.read_buf(&mut rbuf) => match r {
                    Ok(0) | Err(_) => {
                        let reason = if r.is_ok() { CloseReason::ClientClosed } else { CloseReason::ReadError };
                        shared.close(reason);
                        break;
                    }
                    Ok(n) => {
                        self.conn.touch();
                        if !self.process(&mut rbuf) {
                            break;
                        }
                        self.fanout.flush();
                        let samples = self.fanout.take_latency();
                        if !samples.is_empty() {
                            if let Some(e) = self.server.events() {
                                e.service_latency(&self.server, samples);
                            }
                        }
                        if self.fanout.has_stalled() {
                            let deadline = tokio::time::Instant::now() + STALL_MAX;
                            for c in self.fanout.take_stalled() {
                                c.out.wait_drained(deadline).await;
                            }
                        }
                        budget.consumed(n).await;
                    }
                },
                _ = ping.tick() => {
                    if self.pings_out >= self.cluster.ping_max().max(1) {
                        log::error!("{} - rid:{} - Stale Connection", shared.addr, shared.id);
                        shared.close(CloseReason::StaleConnection);
                        break;
                    }
                    self.pings_out += 1;
                    shared.out.append(|b| b.extend_from_slice(encode::PING));
                    shared.out.flush();
                }
                _ = &mut auth_deadline, if auth.is_some() && self.connect.is_none() => {
                    log::error!("{} - rid:{} - Authentication Timeout", shared.addr, shared.id);
                    shared.close_with_error("Authentication Timeout", CloseReason::AuthenticationTimeout);
                    break;
                }
            }
        }
    }

    /// Acts on every complete op in `rbuf`; false when the connection ends.
    fn process(&mut self, rbuf: &mut BytesMut) -> bool {
        let mut pos = 0;
        let keep_going = loop {
            match self.parser.next(&rbuf[pos..]) {
                Ok(None) => break true,
                Ok(Some((op, n))) => {
                    // Borrow ends before the buffer advances.
                    let go = self.op(op);
                    pos += n;
                    if !go {
                        break false;
                    }
                }
                Err(e) => {
                    log::error!(
                        "{} - rid:{} - Route protocol error: {e}",
                        self.conn.shared.addr,
                        self.conn.shared.id
                    );
                    match e.err_text() {
                        Some(t) => self.conn.shared.close_with_error(t, e.close_reason()),
                        None => self.conn.shared.close(e.close_reason()),
                    }
                    break false;
                }
            }
        };
        rbuf.advance(pos);
        keep_going
    }

    fn op(&mut self, op: RouteOp<'_>) -> bool {
        let accepted = self.solicit.is_none();
        if accepted && self.connect.is_none() && !matches!(op, RouteOp::Connect(_)) {
            // nats-server expects CONNECT first on an accepted route.
            if matches!(op, RouteOp::Ping | RouteOp::Pong) {
                return true;
            }
            self.conn.shared.close_with_error(
                "Authorization Violation",
                CloseReason::AuthenticationViolation,
            );
            return false;
        }
        match op {
            RouteOp::Connect(json) => self.on_connect(json),
            RouteOp::Info(json) => self.on_info(json),
            RouteOp::Ping => {
                self.conn
                    .shared
                    .out
                    .append(|b| b.extend_from_slice(encode::PONG));
                self.conn.shared.out.flush();
                true
            }
            RouteOp::Pong => {
                self.pings_out = 0;
                if std::mem::take(&mut self.grow_pool_on_pong) {
                    self.grow_pool();
                }
                true
            }
            RouteOp::Ok => true,
            RouteOp::Err(text) => {
                log::error!(
                    "{} - rid:{} - Route error: {}",
                    self.conn.shared.addr,
                    self.conn.shared.id,
                    String::from_utf8_lossy(text)
                );
                true
            }
            RouteOp::Sub {
                account,
                subject,
                queue,
                ..
            } => {
                if self.registered {
                    self.remote_sub(account, subject, queue);
                }
                true
            }
            RouteOp::Unsub {
                account,
                subject,
                queue,
                ..
            } => {
                if self.registered {
                    self.remote_unsub(account, subject, queue);
                }
                true
            }
            RouteOp::Msg {
                account,
                subject,
                reply,
                queues,
                header_len,
                payload,
                ..
            } => {
                if self.registered {
                    self.routed_msg(
                        account,
                        subject,
                        reply,
                        queues.as_bytes(),
                        header_len,
                        payload,
                    );
                }
                true
            }
        }
    }

    fn on_connect(&mut self, json: &[u8]) -> bool {
        let shared = &self.conn.shared;
        if self.solicit.is_some() || self.connect.is_some() {
            return true;
        }
        let Ok(c) = serde_json::from_slice::<RouteConnect>(json) else {
            shared.close_with_error("Protocol Violation", CloseReason::ProtocolViolation);
            return false;
        };
        if let Some(auth) = &self.cluster.config().auth {
            let user_ok = ct_eq_opt(auth.user.as_deref(), c.user.as_deref());
            let pass_ok = ct_eq_opt(auth.password.as_deref(), c.pass.as_deref());
            if !(user_ok && pass_ok) {
                log::error!(
                    "{} - rid:{} - Authorization Violation",
                    shared.addr,
                    shared.id
                );
                shared.close_with_error(
                    "Authorization Violation",
                    CloseReason::AuthenticationViolation,
                );
                return false;
            }
        }
        if c.lang.is_some() {
            shared.close_with_error("attempted to connect to route port", CloseReason::WrongPort);
            return false;
        }
        if let Some(g) = &c.gateway {
            let text = format!("Rejecting connection from gateway \"{g}\" on the Route port");
            log::error!("{} - rid:{} - {text}", shared.addr, shared.id);
            shared.close_with_error(&text, CloseReason::WrongPort);
            return false;
        }
        if !self.cluster.accept_name(&c.cluster, c.cluster_dynamic) {
            let text = format!(
                "Rejecting connection, cluster name \"{}\" does not match \"{}\"",
                c.cluster,
                self.cluster.name()
            );
            log::error!("{} - rid:{} - {text}", shared.addr, shared.id);
            shared.close_with_error(&text, CloseReason::ClusterNameConflict);
            return false;
        }
        shared.headers.store(
            self.server.headers_supported() && c.headers,
            Ordering::Relaxed,
        );
        self.connect = Some(c);
        true
    }

    fn on_info(&mut self, json: &[u8]) -> bool {
        let Ok(info) = serde_json::from_slice::<RouteInfo>(json) else {
            self.conn
                .shared
                .close_with_error("Protocol Violation", CloseReason::ProtocolViolation);
            return false;
        };
        if self.conn.peer.get().is_some() {
            self.async_info(info);
            return true;
        }
        self.first_info(info)
    }

    /// An INFO after the first: news of another server (gossip), or an
    /// update of the peer (client URLs, lame duck).
    fn async_info(&mut self, info: RouteInfo) {
        let remote = self.conn.remote_id.get().cloned().unwrap_or_default();
        if !info.server_id.is_empty() && info.server_id != remote {
            self.cluster.implicit_route(&info);
            return;
        }
        if info.ldm || !info.connect_urls.is_empty() {
            let changed = self.cluster.update_remote_urls(
                &remote,
                if info.ldm {
                    Vec::new()
                } else {
                    info.connect_urls
                },
            );
            if changed {
                self.cluster.client_urls_changed();
            }
        }
    }

    fn first_info(&mut self, mut info: RouteInfo) -> bool {
        let shared = self.conn.shared.clone();
        if info.server_id == self.server.id {
            log::debug!(
                "{} - rid:{} - Detected route to self, ignoring",
                shared.addr,
                shared.id
            );
            self.reconnect = false;
            shared.close(CloseReason::DuplicateRoute);
            return false;
        }
        let name_before = self.cluster.name();
        let accepted = self
            .cluster
            .accept_name(&info.cluster, info.cluster_dynamic);
        if accepted && self.cluster.name() != name_before {
            // We took the peer's name after our CONNECT went out with the
            // old one, which the peer may refuse: dial again at once.
            self.retry_now = true;
        }
        if !accepted {
            log::error!(
                "{} - rid:{} - Rejecting connection, cluster name \"{}\" does not match \"{}\"",
                shared.addr,
                shared.id,
                info.cluster,
                self.cluster.name()
            );
            self.retry_now = info.cluster_dynamic;
            shared.close(CloseReason::ClusterNameConflict);
            return false;
        }
        if self.solicit.is_none() && info.server_name == self.server.name {
            log::error!(
                "{} - rid:{} - Remote server has a duplicate name: {:?}",
                shared.addr,
                shared.id,
                info.server_name
            );
            shared.close(CloseReason::DuplicateServerName);
            return false;
        }
        if let Some(c) = &self.connect {
            if !c.name.is_empty() && c.name != info.server_id {
                shared.close(CloseReason::ProtocolViolation);
                return false;
            }
        } else {
            shared.headers.store(
                self.server.headers_supported() && info.headers,
                Ordering::Relaxed,
            );
        }
        let pinned: Option<Arc<str>> = match &self.solicit {
            Some(s) => s.account.clone(),
            None => (!info.route_account.is_empty()).then(|| info.route_account.as_str().into()),
        };
        let pool = info.route_pool_size > 0 && self.cluster.pool_size().is_some();
        if let Some(acc) = &pinned {
            if !pool {
                let text = format!(
                    "Not possible to have a dedicated route for account \"{acc}\" between those servers"
                );
                self.reconnect = false;
                shared.close_with_error(&text, CloseReason::ProtocolViolation);
                return false;
            }
            if !self.cluster.pinned().iter().any(|p| p == acc) {
                let text = format!("No route for account \"{acc}\"");
                self.reconnect = false;
                shared.close_with_error(&text, CloseReason::ProtocolViolation);
                return false;
            }
            let _ = shared.pinned.set(acc.clone());
            self.parser.pinned_account = true;
        }
        if info.ip.is_empty() {
            info.ip = format!(
                "nats-route://{}/",
                join_host_port(&shared.addr.ip().to_string(), info.port)
            );
        }
        let _ = self.conn.remote_id.set(info.server_id.clone());
        let _ = self.conn.remote_name.set(info.server_name.clone());
        let _ = self.conn.peer.set(info.clone());
        let solicited = self.solicit.is_some();
        let added = self
            .cluster
            .add_route(&self.conn, &info, pool, pinned.clone(), solicited);
        let (idx, first) = match added {
            Ok(v) => v,
            Err(AddError::Duplicate) => {
                log::debug!(
                    "{} - rid:{} - Detected duplicate remote route {:?}",
                    shared.addr,
                    shared.id,
                    info.server_id
                );
                self.reconnect = false;
                shared.close(CloseReason::DuplicateRoute);
                return false;
            }
            Err(AddError::BadIndex(text)) => {
                self.reconnect = false;
                shared.close_with_error(&text, CloseReason::ProtocolViolation);
                return false;
            }
        };
        self.registered = true;
        if solicited {
            let mut mine = self.cluster.route_info();
            if let Some(acc) = &pinned {
                mine.route_account = acc.to_string();
            } else if pool {
                mine.route_pool_idx = idx as i64;
            }
            if !pool {
                mine.route_pool_size = 0;
            }
            shared
                .out
                .append(|b| b.extend_from_slice(&info_line(&mine)));
        }
        log::info!(
            "{} - rid:{} - Route connection established with {} ({}){}",
            shared.addr,
            shared.id,
            info.server_name,
            info.server_id,
            pinned
                .as_ref()
                .map(|a| format!(" for account {a}"))
                .unwrap_or_default()
        );
        if first {
            self.cluster.gossip_new_remote(&info, pool);
            // Once the new member's interest has arrived, it gets this
            // server's connection counts (cluster-wide max_connections).
            let server = Arc::downgrade(&self.server);
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(250)).await;
                if let Some(s) = server.upgrade() {
                    if let Some(e) = s.events() {
                        e.remote_server_joined(&s);
                    }
                }
            });
            if !info.connect_urls.is_empty() {
                self.cluster.client_urls_changed();
            }
        }
        self.send_interest(pool, idx, pinned.as_deref());
        if solicited && pool {
            self.grow_pool_on_pong = true;
            shared.out.append(|b| b.extend_from_slice(encode::PING));
        }
        shared.out.flush();
        true
    }

    /// Sends every interest of the accounts this connection carries.
    fn send_interest(&self, pool: bool, idx: usize, pinned: Option<&str>) {
        let pool_size = self.cluster.pool_size().unwrap_or(1);
        self.conn.ready.store(true, Ordering::Release);
        let shared = &self.conn.shared;
        for acc in self.server.accounts.all() {
            let carried = match pinned {
                Some(p) => *acc.name == *p,
                None if !pool => true,
                None => {
                    !self.cluster.pinned().iter().any(|p| *p == acc.name)
                        && pool_index(pool_size, &acc.name) == idx
                }
            };
            if !carried {
                continue;
            }
            let account = self.conn.account_token(&acc.name);
            acc.interest.with_each(|subject, queue, n| {
                if self.cluster.may_import(subject) {
                    shared.out.append(|b| {
                        proto::rs_plus(b, account, subject, queue.map(|q| (q, n)));
                    });
                }
            });
        }
    }

    /// After a PONG on a solicited pooled connection: open the next missing
    /// pool connection, and from the first one, the pinned accounts'.
    fn grow_pool(&self) {
        let Some(s) = &self.solicit else {
            return;
        };
        if s.account.is_some() {
            return;
        }
        let Some(remote) = self.conn.remote_id.get() else {
            return;
        };
        let (missing_slot, missing_pinned) = {
            let remotes = self.cluster.remotes.lock();
            let Some(r) = remotes.get(remote) else {
                return;
            };
            let slot = r.conns.iter().any(Option::is_none);
            let pinned: Vec<Arc<str>> = if self.conn.pool_idx.load(Ordering::Relaxed) == 0 {
                self.cluster
                    .pinned()
                    .iter()
                    .filter(|a| !r.pinned.contains_key(*a))
                    .cloned()
                    .collect()
            } else {
                Vec::new()
            };
            (slot, pinned)
        };
        let mut url = s.url.clone();
        fill_credentials(&self.cluster, &mut url);
        if missing_slot {
            self.cluster.solicit_extra(url.clone(), s.explicit, None);
        }
        for acc in missing_pinned {
            self.cluster
                .solicit_extra(url.clone(), s.explicit, Some(acc));
        }
    }

    /// Resolves the account of a protocol line.
    fn account(&self, token: Option<&[u8]>) -> Option<Arc<Account>> {
        let name: &str = match token {
            Some(t) => std::str::from_utf8(t).ok()?,
            None => self.conn.shared.pinned.get()?,
        };
        self.server.accounts.get(name)
    }

    fn remote_sub(&self, account: Option<&[u8]>, subject: &[u8], queue: Option<(&[u8], u32)>) {
        let Some(acc) = self
            .account(account)
            .or_else(|| self.account_to_fetch(account))
        else {
            return;
        };
        let Ok(subject_str) = std::str::from_utf8(subject) else {
            return;
        };
        if !self.cluster.may_export(subject_str) {
            return;
        }
        let queue_str = match queue {
            Some((q, _)) => match std::str::from_utf8(q) {
                Ok(q) => Some(q),
                Err(_) => return,
            },
            None => None,
        };
        let weight = queue.map_or(1, |(_, w)| w.max(1));
        let key = sub_key(&acc.name, subject, queue.map(|(q, _)| q));
        let mut subs = self.conn.subs.lock();
        if let Some((_, s)) = subs.get(&key) {
            s.weight.store(weight, Ordering::Relaxed);
            return;
        }
        let sub = SubRef(Arc::new(Subscription {
            client: self.conn.shared.clone(),
            sid: key.clone(),
            subject: subject_str.into(),
            queue: queue_str.map(Into::into),
            max: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            weight: AtomicU32::new(weight),
        }));
        if acc
            .sublist
            .insert(subject_str, queue_str, sub.clone())
            .is_ok()
        {
            subs.insert(key, (acc, sub));
        }
    }

    /// In operator mode, another member's interest may name an account no
    /// client of this server used yet: the account is created at once (so
    /// the interest is kept in order) and its JWT fetched from the
    /// resolver, as nats-server looks the account up. Names that are not
    /// account public keys are dropped.
    fn account_to_fetch(&self, token: Option<&[u8]>) -> Option<Arc<Account>> {
        let op = self.server.operator.clone()?;
        let name = std::str::from_utf8(token?).ok()?;
        if !crate::nkeys::is_valid_public_key(name, crate::nkeys::KeyKind::Account) {
            return None;
        }
        let acc = self.server.accounts.get_or_create(name);
        let server = Arc::downgrade(&self.server);
        let name = name.to_owned();
        tokio::spawn(async move {
            match op.fetch_claims(&name).await {
                Ok(claims) => {
                    if let Some(s) = server.upgrade() {
                        crate::tenancy::jwt_account::apply_claims(&s.accounts, &op, &claims);
                    }
                }
                Err(e) => log::debug!("account {name} named by a route: {e}"),
            }
        });
        Some(acc)
    }

    fn remote_unsub(&self, account: Option<&[u8]>, subject: &[u8], queue: Option<&[u8]>) {
        let name: &[u8] = match account {
            Some(a) => a,
            None => match self.conn.shared.pinned.get() {
                Some(p) => p.as_bytes(),
                None => return,
            },
        };
        let Ok(name) = std::str::from_utf8(name) else {
            return;
        };
        let key = sub_key(name, subject, queue);
        let removed = self.conn.subs.lock().remove(&key);
        if let Some((acc, sub)) = removed {
            let _ = acc.sublist.remove(&sub.subject, sub.queue.as_deref(), &sub);
        }
    }

    fn routed_msg(
        &mut self,
        account: Option<&[u8]>,
        subject: &[u8],
        reply: Option<&[u8]>,
        queues: &[u8],
        header_len: Option<usize>,
        payload: &[u8],
    ) {
        let shared = &self.conn.shared;
        shared.stats.in_msgs.fetch_add(1, Ordering::Relaxed);
        shared
            .stats
            .in_bytes
            .fetch_add(payload.len() as u64, Ordering::Relaxed);
        let Some(acc) = self.account(account) else {
            return;
        };
        let msg = Message {
            subject,
            reply,
            header_len,
            payload,
        };
        let origin = Origin {
            client_id: shared.id,
            echo: true,
            rtt_ns: 0,
            client: None,
        };
        self.fanout.publish_routed(&acc, &msg, queues, &origin);
    }
}

/// Why a connection could not take a place among a remote's routes.
#[derive(Debug)]
pub enum AddError {
    /// The remote already has this connection's slot or account.
    Duplicate,
    /// The peer asked for a pool slot that does not exist.
    BadIndex(String),
}

/// The key of a peer's interest: "account subject [queue]".
fn sub_key(account: &str, subject: &[u8], queue: Option<&[u8]>) -> Box<[u8]> {
    let mut k =
        Vec::with_capacity(account.len() + subject.len() + 2 + queue.map_or(0, <[u8]>::len));
    k.extend_from_slice(account.as_bytes());
    k.push(b' ');
    k.extend_from_slice(subject);
    if let Some(q) = queue {
        k.push(b' ');
        k.extend_from_slice(q);
    }
    k.into_boxed_slice()
}

/// Compares an expected secret with the one presented, in constant time
/// (`None` expected: anything goes).
fn ct_eq_opt(expected: Option<&str>, given: Option<&str>) -> bool {
    match expected {
        None => true,
        Some(e) => crate::nkeys::ct_eq(e.as_bytes(), given.unwrap_or("").as_bytes()),
    }
}

fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Routes dialed because of gossip (or for more pool connections)
/// authenticate with the cluster's own credentials, as nats-server's do.
pub fn fill_credentials(cluster: &Cluster, url: &mut RouteUrl) {
    if url.user.is_none() {
        if let Some(a) = &cluster.config().auth {
            url.user.clone_from(&a.user);
            url.password.clone_from(&a.password);
        }
    }
}

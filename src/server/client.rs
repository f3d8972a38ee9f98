//! One client connection: the reader task that parses and acts on what the
//! client sends, and the state other connections share with it.
//!
//! Each connection runs two tasks. The reader (this module) owns everything
//! only it touches (parser, negotiated options, per-connection result cache,
//! the list of connections to flush) without locks. The writer
//! ([`super::outbound`]) drains the outbound buffer. What other tasks need,
//! the outbound buffer and the subscription map, lives in [`ClientShared`].
//!
//! Lock order: `ClientShared::subs` → account sublist → `Outbound` state.

use ahash::AHashMap;
use bytes::{Buf, BufMut, BytesMut};
use parking_lot::Mutex;
use rand::Rng;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::io::{AsyncRead, AsyncReadExt, ReadHalf, WriteHalf};
use tokio::sync::Notify;

use super::close::CloseReason;
use super::fanout::{Fanout, Origin};
use super::login::{Credentials, Login, LoginError, Peer, Phase};
use super::outbound::{Outbound, WriterEnd};
use super::subscription::{SubRef, Subscription};
use super::Server;
use crate::auth::permissions::{ResponsePermission, SubCheck};
use crate::auth::Permissions;
use crate::protocol::encode::{self, Message};
use crate::protocol::messages::Connect;
use crate::protocol::{Limits, Op, ParseError, Parser, UnsubMax};
use crate::subject::{self, SublistResult};
use crate::tenancy::account::{min_limit, Account, NO_LIMIT};
use crate::tenancy::mapping::Mapped;

/// Smallest and largest read buffer; it grows while reads fill it and
/// shrinks back when the connection goes quiet, so idle connections stay
/// small and busy ones read 64 KiB at a time.
const MIN_READ: usize = 512;
const MAX_READ: usize = 64 * 1024;
/// Entries in the per-connection publish result cache.
const L1_CACHE_MAX: usize = 256;
/// The longest a reader pauses after one batch for the subscribers it
/// filled to drain. A live subscriber drains something within it, so the
/// publisher runs at its pace; a stuck one keeps filling, batch after
/// batch, until `max_pending` or `write_deadline` cuts it.
const STALL_MAX: Duration = Duration::from_millis(250);

/// Statistics of one connection, read by monitoring.
#[derive(Debug, Default)]
pub struct ClientStats {
    pub in_msgs: AtomicU64,
    pub in_bytes: AtomicU64,
    pub out_msgs: AtomicU64,
    pub out_bytes: AtomicU64,
    /// Times this connection, as a subscriber, was full and made a
    /// publisher wait (nats-server's `stalls`).
    pub stalls: AtomicU64,
    /// Time this connection's reader paused for full subscribers, in
    /// nanoseconds.
    pub stalled_ns: AtomicU64,
    /// Time its reader waited on a rate quota, in nanoseconds.
    pub throttled_ns: AtomicU64,
    /// The connection turned heavy and moved to the bulk lane (`lanes`).
    pub bulk_lane: AtomicBool,
}

impl ClientStats {
    /// Adds time the reader paused for full subscribers.
    pub fn record_pause(&self, waited: Duration) {
        self.stalled_ns
            .fetch_add(waited.as_nanos() as u64, Ordering::Relaxed);
    }
}

/// Descriptive data about a connection, for logs and monitoring.
#[derive(Debug, Clone, Default)]
pub struct ClientMeta {
    pub name: String,
    pub lang: String,
    pub version: String,
    pub user: String,
    pub rtt: Option<Duration>,
    /// The user JWT the client presented (advisories carry it, also for a
    /// failed login).
    pub jwt: String,
}

/// The part of a connection that other tasks touch.
#[derive(Debug)]
pub struct ClientShared {
    pub id: u64,
    pub addr: SocketAddr,
    pub start: SystemTime,
    pub out: Outbound,
    /// Wakes the reader when the connection must end (slow consumer,
    /// shutdown, revocation): `notify_one` keeps a permit, so it is never lost.
    close_wake: Notify,
    /// Whether this connection takes HMSG (negotiated in CONNECT).
    pub headers: AtomicBool,
    /// Subscriptions by sid.
    pub subs: Mutex<AHashMap<Box<[u8]>, SubRef>>,
    /// The account the connection is bound to.
    pub account: parking_lot::RwLock<Arc<Account>>,
    pub stats: ClientStats,
    pub meta: Mutex<ClientMeta>,
    /// The permissions publishers' tasks need at delivery time: the
    /// subscribe deny filter and reply tracking for `allow_responses`.
    pub delivery: parking_lot::RwLock<Option<Arc<Permissions>>>,
    /// Fast flags so unrestricted connections skip the lock above.
    filter_delivery: AtomicBool,
    track_replies: AtomicBool,
    /// Reply subjects this connection received, with the responses it may
    /// still publish to them (`allow_responses`).
    replies: Mutex<AHashMap<Box<[u8]>, ReplyGrant>>,
    /// The negotiated TLS session, on a TLS connection.
    pub tls: Option<crate::tls::TlsSession>,
    /// The client certificate's identity, when the client presented one
    /// (`tls { verify }`): what `verify_and_map` maps to a user.
    pub peer_cert: Option<crate::tls::PeerCert>,
    /// What the client presented when it logged in, so reload and claim
    /// updates can check it again through the login pipeline (`None` until
    /// CONNECT succeeded).
    pub credentials: Mutex<Option<Credentials>>,
    /// Bumped when a reload replaces the permissions; the reader then
    /// adopts them before its next op.
    perms_gen: AtomicU64,
    /// A payload limit set by a claims update (0 = the server's).
    payload_limit: std::sync::atomic::AtomicI64,
    /// A CONNECT arrived (the connection is no longer an idle pre-login one).
    connect_seen: AtomicBool,
    /// The user's rate quota bucket, shared with the user's other
    /// connections (replaced by reload and claim updates).
    user_quota: arc_swap::ArcSwapOption<crate::quota::RateBucket>,
    /// The client came over the WebSocket listener (its logins, also the
    /// re-checks, use the `websocket` block's auth override).
    pub websocket: bool,
    /// The round-trip measurement in flight: when the server's last PING
    /// went out, and whether a PONG was sent to the client yet.
    rtt_probe: Mutex<RttProbe>,
    /// A route to another server of the cluster rather than a client: its
    /// "subscriptions" are the other server's interest, and a message for
    /// it is one RMSG however many of them match.
    pub is_route: bool,
    /// On a route dedicated to one account: that account (its protocol
    /// lines carry no account name).
    pub pinned: std::sync::OnceLock<Arc<str>>,
}

/// nats-server measures a client's round-trip time with its own PINGs; a
/// PING for that is sent only once the client answered its first PING (so
/// a client still in its handshake is not confused) or after this long.
const RTT_PING_AFTER: Duration = Duration::from_secs(2);

#[derive(Debug, Default)]
struct RttProbe {
    /// When the last server PING went out (cleared by its PONG).
    sent: Option<Instant>,
    /// When a server PING last went out (kept): nats-server measures the
    /// round trip again after an hour even on a busy connection.
    last_ping: Option<Instant>,
    /// The server answered a client PING: the client is past its handshake.
    first_pong_sent: bool,
}

/// Responses a connection may publish to one reply subject it received.
#[derive(Debug, Clone, Copy)]
struct ReplyGrant {
    sent: i64,
    received_at: Instant,
}

/// Reply grants kept before expired ones are swept.
const REPLIES_SWEEP_AT: usize = 1024;

impl ClientShared {
    /// The shared state of a new connection.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: u64,
        addr: SocketAddr,
        out: Outbound,
        account: Arc<Account>,
        tls: Option<crate::tls::TlsSession>,
        peer_cert: Option<crate::tls::PeerCert>,
        websocket: bool,
        is_route: bool,
    ) -> ClientShared {
        ClientShared {
            id,
            addr,
            start: SystemTime::now(),
            out,
            close_wake: Notify::new(),
            headers: AtomicBool::new(false),
            subs: Mutex::new(AHashMap::new()),
            account: parking_lot::RwLock::new(account),
            stats: ClientStats::default(),
            meta: Mutex::new(ClientMeta::default()),
            delivery: parking_lot::RwLock::new(None),
            filter_delivery: AtomicBool::new(false),
            track_replies: AtomicBool::new(false),
            replies: Mutex::new(AHashMap::new()),
            tls,
            peer_cert,
            credentials: Mutex::new(None),
            perms_gen: AtomicU64::new(0),
            payload_limit: std::sync::atomic::AtomicI64::new(NO_LIMIT),
            connect_seen: AtomicBool::new(false),
            user_quota: arc_swap::ArcSwapOption::empty(),
            rtt_probe: Mutex::new(RttProbe::default()),
            websocket,
            is_route,
            pinned: std::sync::OnceLock::new(),
        }
    }

    /// Whether the client takes INFO at any time (CONNECT `protocol` 1):
    /// cluster changes and lame duck are announced to it.
    pub fn wants_async_info(&self) -> bool {
        self.credentials
            .lock()
            .as_ref()
            .is_some_and(|l| l.connect.protocol >= 1)
    }

    /// Wakes the reader so it sees the connection is closing.
    pub fn wake_reader(&self) {
        self.close_wake.notify_one();
    }

    /// Waits until [`ClientShared::close`] (or `wake_reader`) is called.
    pub async fn closed(&self) {
        self.close_wake.notified().await;
    }

    /// The measured round-trip time (zero until a PONG answered a server
    /// PING).
    pub fn rtt(&self) -> Duration {
        self.meta.lock().rtt.unwrap_or_default()
    }

    /// A server PING is going out: its PONG measures the round trip.
    fn note_ping_sent(&self) {
        let mut probe = self.rtt_probe.lock();
        probe.sent = Some(Instant::now());
        probe.last_ping = probe.sent;
    }

    /// Whether the round-trip time needs a new measurement: never measured
    /// by a server PING, or not within the hour (nats-server's rule).
    fn rtt_due(&self) -> bool {
        const RTT_MEASUREMENT_INTERVAL: Duration = Duration::from_secs(3600);
        self.rtt_probe
            .lock()
            .last_ping
            .is_none_or(|t| t.elapsed() > RTT_MEASUREMENT_INTERVAL)
    }

    /// A PONG arrived: the round trip since the last server PING.
    fn note_pong(&self) -> Option<Duration> {
        let sent = self.rtt_probe.lock().sent.take()?;
        let rtt = sent.elapsed().max(Duration::from_nanos(1));
        self.meta.lock().rtt = Some(rtt);
        Some(rtt)
    }

    /// Sends a PING to learn the round-trip time when it is not known yet
    /// (latency tracking needs it), once the client can take one.
    pub fn request_rtt(&self) {
        if self.meta.lock().rtt.is_some() || self.out.closing().is_some() {
            return;
        }
        {
            let mut probe = self.rtt_probe.lock();
            let started = self.start.elapsed().unwrap_or_default();
            if probe.sent.is_some() || !(probe.first_pong_sent || started > RTT_PING_AFTER) {
                return;
            }
            probe.sent = Some(Instant::now());
            probe.last_ping = probe.sent;
        }
        self.out.append(|b| b.extend_from_slice(encode::PING));
        self.out.flush();
    }

    /// Ends the connection: the writer flushes (when the reason allows) and
    /// closes the socket, the reader stops and cleans up.
    pub fn close(&self, reason: CloseReason) {
        self.out.close(reason);
        self.close_wake.notify_one();
    }

    /// Sends `-ERR '<text>'` and then closes.
    pub fn close_with_error(&self, text: &str, reason: CloseReason) {
        self.out.append(|b| encode::err(b, text));
        self.close(reason);
    }

    /// Removes one subscription from this connection and its account.
    pub fn remove_sub(&self, sub: &SubRef) {
        let mut subs = self.subs.lock();
        if let Some(cur) = subs.get(&sub.sid) {
            if cur == sub {
                subs.remove(&sub.sid);
            }
        }
        let acc = self.account.read().clone();
        acc.remove_local_sub(&sub.subject, sub.queue.as_deref(), sub);
    }

    /// Removes every subscription (on close, or when the account changes);
    /// returns their subjects.
    pub fn remove_all_subs(&self) -> Vec<String> {
        let drained: Vec<SubRef> = self.subs.lock().drain().map(|(_, s)| s).collect();
        let acc = self.account.read().clone();
        drained
            .into_iter()
            .map(|s| {
                acc.remove_local_sub(&s.subject, s.queue.as_deref(), &s);
                s.subject.to_string()
            })
            .collect()
    }

    pub fn num_subs(&self) -> usize {
        self.subs.lock().len()
    }

    /// Sends `-ERR '<text>'` without closing (from any task).
    pub fn send_err(&self, text: &str) {
        self.out.append(|b| encode::err(b, text));
        self.out.flush();
    }

    /// Replaces the permissions after a config reload: delivery filtering
    /// changes at once, publish and subscribe checks before the reader's
    /// next op.
    pub fn replace_permissions(&self, perms: Option<Arc<Permissions>>) {
        self.set_delivery_permissions(perms);
        self.perms_gen.fetch_add(1, Ordering::AcqRel);
    }

    /// Installs the user's rate quota bucket (`None`: no user quota).
    pub fn set_user_quota(&self, bucket: Option<Arc<crate::quota::RateBucket>>) {
        self.user_quota.store(bucket);
    }

    /// Whether the client sent CONNECT.
    pub fn connect_seen(&self) -> bool {
        self.connect_seen.load(Ordering::Relaxed)
    }

    /// Changes the payload limit (account claims update); the reader adopts
    /// it before its next op.
    pub fn set_payload_limit(&self, limit: i64) {
        if self.payload_limit.swap(limit, Ordering::AcqRel) != limit {
            self.perms_gen.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// The subscriptions the (new) permissions no longer allow, removed from
    /// this connection and its account; returns them.
    pub fn remove_disallowed_subs(&self, perms: &Permissions) -> Vec<SubRef> {
        let denied: Vec<SubRef> = self
            .subs
            .lock()
            .values()
            .filter(|s| perms.can_subscribe(&s.subject, s.queue.as_deref()) == SubCheck::Denied)
            .cloned()
            .collect();
        for sub in &denied {
            self.remove_sub(sub);
        }
        denied
    }

    /// Installs the permissions other tasks consult when delivering to this
    /// connection.
    fn set_delivery_permissions(&self, perms: Option<Arc<Permissions>>) {
        let filter = perms.as_ref().is_some_and(|p| p.has_subscribe_deny());
        let track = perms.as_ref().is_some_and(|p| p.response.is_some());
        *self.delivery.write() = perms;
        self.filter_delivery.store(filter, Ordering::Release);
        self.track_replies.store(track, Ordering::Release);
        self.replies.lock().clear();
    }

    /// Whether a message on `subject` must be withheld from this
    /// connection's subscription in `queue` (a subscribe deny entry matches
    /// it).
    #[inline]
    pub(super) fn withholds(&self, subject: &[u8], queue: Option<&str>) -> bool {
        if !self.filter_delivery.load(Ordering::Acquire) {
            return false;
        }
        let Ok(subject) = std::str::from_utf8(subject) else {
            return true;
        };
        self.delivery
            .read()
            .as_ref()
            .is_some_and(|p| p.denies_delivery(subject, queue))
    }

    /// Records a reply subject this connection received, so that it may
    /// respond under `allow_responses`.
    #[inline]
    pub(super) fn grant_reply(&self, reply: &[u8]) {
        if !self.track_replies.load(Ordering::Acquire) {
            return;
        }
        let expires = self
            .delivery
            .read()
            .as_ref()
            .and_then(|p| p.response)
            .map(|r| r.expires);
        let Some(expires) = expires else {
            return;
        };
        let now = Instant::now();
        let mut replies = self.replies.lock();
        if replies.len() >= REPLIES_SWEEP_AT {
            replies.retain(|_, g| now.duration_since(g.received_at) < expires);
        }
        replies.insert(
            reply.into(),
            ReplyGrant {
                sent: 0,
                received_at: now,
            },
        );
    }

    /// Uses one response to `subject` if the connection was granted one.
    fn use_reply_grant(&self, subject: &[u8], resp: ResponsePermission) -> bool {
        let mut replies = self.replies.lock();
        let Some(g) = replies.get_mut(subject) else {
            return false;
        };
        if g.received_at.elapsed() >= resp.expires {
            replies.remove(subject);
            return false;
        }
        g.sent += 1;
        if resp.max >= 0 && g.sent >= resp.max {
            // The last allowed response: the grant is used up.
            replies.remove(subject);
        }
        true
    }
}

/// What the op loop asks the reader to do next.
enum Flow {
    /// Keep reading.
    Continue,
    /// A CONNECT needs (possibly slow) authentication: run it, then resume
    /// the ops after it.
    Connect(Vec<u8>),
    /// An op arrived before CONNECT on a server with `no_auth_user`: log in
    /// as that user, then parse the op again.
    ImplicitConnect,
    /// An append filled a subscriber past its stall threshold: pause
    /// until it drains, then go on with the rest of the buffer.
    Pause,
    /// The batch used what the rate quotas allow for now: charge them,
    /// wait for tokens, then go on with the rest of the buffer.
    Throttle,
    /// The connection is closing.
    Close,
}

/// The reader-owned state of a connection.
struct Client {
    shared: Arc<ClientShared>,
    server: Arc<Server>,
    account: Arc<Account>,
    parser: Parser,
    opts: Connect,
    /// CONNECT was processed (and authentication passed).
    connected: bool,
    /// Clients must authenticate (auth is configured).
    auth_required: bool,
    /// Anonymous clients run as `no_auth_user`, so ops before CONNECT log
    /// in as that user instead of being refused.
    implicit_login: bool,
    /// The nonce sent in INFO, signed by nkey clients.
    nonce: Option<String>,
    /// The permissions of the authenticated user.
    perms: Option<Arc<Permissions>>,
    /// The user's own subscription limit (JWT `subs`; negative = none).
    user_max_subs: i64,
    /// Publish permission results by subject (bounded).
    pub_cache: AHashMap<Box<[u8]>, bool>,
    /// The [`ClientShared::perms_gen`] the permissions above come from.
    perms_gen: u64,
    /// The first PING after CONNECT gets an INFO with `connect_info`.
    connect_info_due: bool,
    pings_out: i32,
    /// The last measured round-trip time, in nanoseconds (0 = unknown), for
    /// `Nats-Request-Info`.
    rtt_ns: u64,
    /// Set by PUB/SUB/PING, cleared by the ping timer: an active client needs
    /// no keep-alive PING.
    active: bool,
    l1_gen: u64,
    l1: AHashMap<Box<[u8]>, Arc<SublistResult<SubRef>>>,
    /// Fans out this connection's publishes; flushed once per read batch.
    fanout: Fanout,
    in_msgs: u64,
    in_bytes: u64,
    /// Published since the rate quotas were last charged.
    charge_msgs: u64,
    charge_bytes: u64,
    /// A rate quota applies to this connection (checked once per batch).
    quota_on: bool,
    /// What the quotas allow this batch (messages, payload bytes).
    quota_allowance: (f64, f64),
    /// The batch reached its allowance: stop before the next op.
    quota_hit: bool,
    /// `-V`: log every protocol op (checked once per op, not per log call).
    trace: bool,
    /// A WebSocket client's cookie credentials.
    cookies: Option<Arc<crate::websocket::Cookies>>,
}

/// What the accept path settled before the protocol starts.
#[derive(Debug)]
pub struct Accepted {
    pub id: u64,
    pub addr: SocketAddr,
    /// The INFO line was already written (on the plain socket before TLS,
    /// or inside TLS after a handshake-first).
    pub info_sent: bool,
    pub tls: Option<crate::tls::TlsSession>,
    pub peer_cert: Option<crate::tls::PeerCert>,
    /// The nonce sent in INFO (when nkey users exist), signed by nkey
    /// clients in CONNECT.
    pub nonce: Option<String>,
    /// Credentials a WebSocket client sent as cookies with its upgrade
    /// request; they fill what its CONNECT leaves empty.
    pub cookies: Option<Arc<crate::websocket::Cookies>>,
    /// The client came over the WebSocket listener.
    pub websocket: bool,
}

/// Serves one accepted plain connection until it ends.
pub async fn serve<S>(server: Arc<Server>, stream: S, addr: SocketAddr)
where
    S: super::lanes::Transport,
{
    let id = server.next_client_id();
    let accepted = Accepted {
        id,
        addr,
        info_sent: false,
        tls: None,
        peer_cert: None,
        nonce: server.needs_nonce().then(crate::auth::new_nonce),
        cookies: None,
        websocket: false,
    };
    serve_accepted(server, stream, accepted).await;
}

/// Serves a connection whose transport is set up (TLS done when used).
pub async fn serve_accepted<S>(server: Arc<Server>, stream: S, accepted: Accepted)
where
    S: super::lanes::Transport,
{
    let opts = server.opts();
    let Accepted {
        id,
        addr,
        info_sent,
        tls,
        peer_cert,
        nonce,
        cookies,
        websocket,
    } = accepted;
    let auth = server.auth_for(websocket);
    let account = server.accounts.global();
    let shared = Arc::new(ClientShared::new(
        id,
        addr,
        Outbound::new(opts.max_pending.max(0) as usize, opts.write_deadline),
        account.clone(),
        tls,
        peer_cert,
        websocket,
        false,
    ));
    // A stream that cannot move is never measured for it.
    let heavy_rate = if S::MOVABLE {
        opts.heavy_connection_rate
    } else {
        0
    };
    shared.out.allow_move(heavy_rate);
    let (reader, writer) = tokio::io::split(stream);
    let writer_task = spawn_writer(&shared, writer);

    if !info_sent {
        let info = server.first_info_line(id, addr, nonce.as_deref(), websocket);
        shared.out.append(|b| b.extend_from_slice(&info));
    }
    match server.register_client(&shared) {
        super::Registration::Registered => {}
        super::Registration::ShuttingDown => {
            shared.close(CloseReason::ServerShutdown);
            let _ = writer_task.await;
            return;
        }
        super::Registration::Full => {
            log::error!(
                "{addr} - cid:{id} - maximum connections exceeded ({})",
                opts.max_connections
            );
            shared.close_with_error(
                "maximum connections exceeded",
                CloseReason::MaxConnectionsExceeded,
            );
            let _ = writer_task.await;
            return;
        }
    }
    shared.out.flush();
    account.num_conns.fetch_add(1, Ordering::Relaxed);
    log::debug!("{addr} - cid:{id} - Client connection created");

    // Boxed: the client moves into `drive` (and, for a heavy connection, on
    // to the bulk lane), and a moved-from value would otherwise keep its
    // place in this future as well as in the next.
    let client = Box::new(Client {
        shared: shared.clone(),
        server: server.clone(),
        account,
        parser: Parser::new(Limits {
            max_control_line: opts.max_control_line.max(1) as usize,
            max_payload: opts.max_payload.max(0) as usize,
            headers: false,
        }),
        opts: Connect::default(),
        connected: false,
        auth_required: server.auth_enabled_for(websocket),
        implicit_login: auth.no_auth_user.is_some(),
        nonce,
        perms: None,
        user_max_subs: NO_LIMIT,
        pub_cache: AHashMap::new(),
        perms_gen: 0,
        connect_info_due: false,
        pings_out: 0,
        rtt_ns: 0,
        active: false,
        l1_gen: 0,
        l1: AHashMap::new(),
        fanout: server.fanout(),
        in_msgs: 0,
        in_bytes: 0,
        charge_msgs: 0,
        charge_bytes: 0,
        quota_on: false,
        quota_allowance: (f64::INFINITY, f64::INFINITY),
        quota_hit: false,
        trace: log::log_enabled!(log::Level::Trace),
        cookies,
    });
    // A WebSocket auth override may set its own timeout.
    let auth_timeout = websocket
        .then(|| server.websocket.get().and_then(|w| w.config.auth.timeout))
        .flatten()
        .unwrap_or_else(|| server.auth_timeout());
    let ping_interval = opts.ping_interval.max(Duration::from_millis(1));
    let st = ReadLoop::new(ping_interval, auth_timeout, heavy_rate);
    let (was_connected, writer_task) = drive(client, reader, writer_task, st).await;

    let reason = shared.out.closing().unwrap_or(CloseReason::ClientClosed);
    let subs = shared.remove_all_subs();
    shared
        .account
        .read()
        .num_conns
        .fetch_sub(1, Ordering::Relaxed);
    // The writer flushes what is still queued (bounded by write_deadline)
    // before the connection stops counting as live, so a graceful shutdown
    // that waits for live connections also waits for their output.
    let _ = writer_task.await;
    server.unregister_client(&shared, reason, subs);
    if let Some(e) = server.events() {
        e.disconnected(&server, &shared, reason, was_connected);
    }
    let name = shared.meta.lock().name.clone();
    if name.is_empty() {
        log::debug!("{addr} - cid:{id} - Client connection closed: {reason}");
    } else {
        log::debug!("{addr} - cid:{id} - \"{name}\" - Client connection closed: {reason}");
    }
}

type WriterTask<S> = tokio::task::JoinHandle<Option<WriteHalf<S>>>;

/// Starts a connection's writer on the current runtime. It returns its half
/// of the stream when handing off for a move, nothing when it ended.
fn spawn_writer<S: super::lanes::Transport>(
    shared: &Arc<ClientShared>,
    writer: WriteHalf<S>,
) -> WriterTask<S> {
    let shared = shared.clone();
    tokio::spawn(async move {
        match shared.out.run_writer(writer).await {
            WriterEnd::Handoff(w) => Some(w),
            WriterEnd::Done(None) => None,
            WriterEnd::Done(Some(reason)) => {
                // A failed or timed-out write ends the connection: wake the
                // reader, which may otherwise wait for input that never comes.
                if shared.out.cut_by_writer() {
                    // Found by the writer settling a deferred limit check
                    // (a producer that cuts logs it itself).
                    log::info!(
                        "{} - cid:{} - Slow Consumer Detected: MaxPending of {} Exceeded",
                        shared.addr,
                        shared.id,
                        shared.out.max_pending
                    );
                }
                shared.close(reason);
                None
            }
        }
    })
}

/// Runs the read loop until the connection closes, moving the connection to
/// the bulk lane when it turns heavy (see `lanes`). Returns whether the
/// client had logged in, and its writer, which may still be flushing.
async fn drive<S: super::lanes::Transport>(
    mut client: Box<Client>,
    mut reader: ReadHalf<S>,
    writer_task: WriterTask<S>,
    mut st: ReadLoop,
) -> (bool, WriterTask<S>) {
    loop {
        match client.run(&mut reader, &mut st).await {
            Exit::Closed => return (client.connected, writer_task),
            // A wake-up left from the bulk lane (a sweep that asked a
            // connection to return as it did): no move was claimed.
            Exit::Move if client.shared.out.may_move() => {}
            // Boxed: every connection's future would otherwise carry room
            // for the few that move.
            Exit::Move => return Box::pin(relocate(client, reader, writer_task, st)).await,
        }
    }
}

/// Moves a connection that turned heavy to the bulk lane and serves it
/// there (or, if it cannot move, where it is) until it closes or, quiet
/// again, comes back.
async fn relocate<S: super::lanes::Transport>(
    client: Box<Client>,
    reader: ReadHalf<S>,
    writer_task: WriterTask<S>,
    mut st: ReadLoop,
) -> (bool, WriterTask<S>) {
    let shared = client.shared.clone();
    let ended = || tokio::spawn(async { None });
    // The writer returns its half between batches (or ends, closing).
    shared.out.request_handoff();
    let Ok(Some(writer)) = writer_task.await else {
        shared.close(CloseReason::WriteError);
        return (client.connected, ended());
    };
    let detached = match reader.unsplit(writer).detach() {
        super::lanes::Detach::Moved(d) => d,
        super::lanes::Detach::Stays(stream) => {
            return resume(client, stream, st).await;
        }
        super::lanes::Detach::Broken(e) => {
            log::debug!(
                "{} - cid:{} - cannot move the connection: {e}",
                shared.addr,
                shared.id
            );
            shared.close(CloseReason::ReadError);
            return (client.connected, ended());
        }
    };
    // Registering the stream again fails only if the runtime cannot take
    // more I/O; the connection then ends.
    let Some(bulk) = super::lanes::bulk() else {
        return match detached() {
            Ok(stream) => resume(client, stream, st).await,
            Err(_) => {
                shared.close(CloseReason::ReadError);
                (client.connected, ended())
            }
        };
    };
    log::debug!(
        "{} - cid:{} - Heavy connection moved to the bulk lane",
        shared.addr,
        shared.id
    );
    shared.stats.bulk_lane.store(true, Ordering::Relaxed);
    client.server.sweep_bulk_lane(bulk);
    let moved = bulk.spawn(async move {
        match detached() {
            Ok(stream) => {
                st.renew_timers();
                serve_on_bulk(client, stream, st).await
            }
            Err(e) => {
                log::debug!(
                    "{} - cid:{} - cannot move the connection: {e}",
                    client.shared.addr,
                    client.shared.id
                );
                client.shared.close(CloseReason::ReadError);
                OnBulk::Closed(client.connected, None)
            }
        }
    });
    match moved.await {
        Ok(OnBulk::Closed(connected, Some(w))) => (connected, w),
        Ok(OnBulk::Closed(connected, None)) => (connected, ended()),
        Ok(OnBulk::Back(client, detached, st)) => come_back(client, detached, st).await,
        Err(e) => {
            log::error!(
                "{} - cid:{} - connection task failed: {e}",
                shared.addr,
                shared.id
            );
            shared.close(CloseReason::ReadError);
            // Its state went with it; it is reported as having logged in,
            // so a disconnect is announced rather than missed.
            (true, ended())
        }
    }
}

/// How serving a connection on the bulk lane ended.
enum OnBulk<S> {
    /// It closed: whether it had logged in, and its writer if one runs.
    Closed(bool, Option<WriterTask<S>>),
    /// It was quiet for [`super::lanes::QUIET_FOR`]: its stream, off the
    /// bulk lane's driver, and its loop, to carry on on the main lane.
    Back(Box<Client>, super::lanes::Detached<S>, ReadLoop),
}

/// Serves a connection on the bulk lane until it closes or, quiet again,
/// hands its stream back.
async fn serve_on_bulk<S: super::lanes::Transport>(
    mut client: Box<Client>,
    stream: S,
    mut st: ReadLoop,
) -> OnBulk<S> {
    let shared = client.shared.clone();
    let (mut reader, writer) = tokio::io::split(stream);
    let mut writer_task = spawn_writer(&shared, writer);
    loop {
        match client.run(&mut reader, &mut st).await {
            Exit::Closed => return OnBulk::Closed(client.connected, Some(writer_task)),
            // Asked to return (`Server::sweep_bulk_lane`), and still quiet:
            // a request can be late.
            Exit::Move if shared.out.take_return() && may_leave_bulk_lane(&shared) => {
                shared.out.request_handoff();
                let Ok(Some(writer)) = writer_task.await else {
                    shared.close(CloseReason::WriteError);
                    return OnBulk::Closed(client.connected, None);
                };
                match reader.unsplit(writer).detach() {
                    super::lanes::Detach::Moved(d) => return OnBulk::Back(client, d, st),
                    super::lanes::Detach::Stays(stream) => {
                        // Not for a stream that moved here; serve it on.
                        let (r, w) = tokio::io::split(stream);
                        reader = r;
                        writer_task = spawn_writer(&shared, w);
                    }
                    super::lanes::Detach::Broken(e) => {
                        log::debug!(
                            "{} - cid:{} - cannot move the connection back: {e}",
                            shared.addr,
                            shared.id
                        );
                        shared.close(CloseReason::ReadError);
                        return OnBulk::Closed(client.connected, None);
                    }
                }
            }
            // Already here: a claim is not possible on the bulk lane.
            Exit::Move => {}
        }
    }
}

/// Serves a connection that came back from the bulk lane on the main lane,
/// where it may turn heavy and move again. A boxed trait object: `drive`
/// leads back here, and a future cannot contain itself.
fn come_back<S: super::lanes::Transport>(
    client: Box<Client>,
    detached: super::lanes::Detached<S>,
    mut st: ReadLoop,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = (bool, WriterTask<S>)> + Send>> {
    Box::pin(async move {
        let shared = client.shared.clone();
        let stream = match detached() {
            Ok(stream) => stream,
            Err(e) => {
                log::debug!(
                    "{} - cid:{} - cannot move the connection back: {e}",
                    shared.addr,
                    shared.id
                );
                shared.close(CloseReason::ReadError);
                return (client.connected, tokio::spawn(async { None }));
            }
        };
        log::debug!(
            "{} - cid:{} - Quiet connection returned to the main lane",
            shared.addr,
            shared.id
        );
        shared.stats.bulk_lane.store(false, Ordering::Relaxed);
        st.renew_timers();
        shared.out.allow_move_again();
        let (reader, writer) = tokio::io::split(stream);
        let writer_task = spawn_writer(&shared, writer);
        drive(client, reader, writer_task, st).await
    })
}

/// Whether a connection may leave the bulk lane: no heavy window on either
/// side for `lanes::QUIET_FOR`, and its account not a noisy tenant.
pub fn may_leave_bulk_lane(shared: &ClientShared) -> bool {
    shared.out.heavy.is_quiet() && !shared.account.read().noisy.is_noisy()
}

/// Carries on serving a connection whose stream could not move, on the
/// current runtime, until it closes.
async fn resume<S: super::lanes::Transport>(
    mut client: Box<Client>,
    stream: S,
    mut st: ReadLoop,
) -> (bool, WriterTask<S>) {
    let (mut reader, writer) = tokio::io::split(stream);
    let writer_task = spawn_writer(&client.shared, writer);
    while !matches!(client.run(&mut reader, &mut st).await, Exit::Closed) {}
    (client.connected, writer_task)
}

/// nats-server's first PING to a client comes after at most 2 s (plus up
/// to 20% jitter), not the full `ping_interval`, so a dead client and the
/// round-trip time are found early.
fn first_ping_delay(ping_interval: Duration) -> Duration {
    const FIRST_CLIENT_PING: Duration = Duration::from_secs(2);
    let d = ping_interval.min(FIRST_CLIENT_PING);
    let jitter_ns = (d.as_nanos() / 5) as u64;
    if jitter_ns == 0 {
        return d;
    }
    d + Duration::from_nanos(rand::thread_rng().gen_range(0..jitter_ns))
}

/// What one turn of a client's read loop did.
enum ReadStep {
    /// The connection is closing: the loop ends.
    Stop,
    /// The connection is to move to the bulk lane (see `lanes`).
    Move,
    /// Something other than input (a PING timer).
    Other,
    /// Input was processed; `busy` when the reader has used up its fairness
    /// budget, `heavy` when its input makes the connection heavy.
    Read { busy: bool, heavy: bool },
}

/// How a client's read loop ended.
enum Exit {
    Closed,
    /// The connection moves between lanes (to the bulk lane when claimed,
    /// back when the bulk lane's sweep asked); the loop resumes there.
    Move,
}

/// A client reader's state between turns of its loop.
struct ReadLoop {
    ping: tokio::time::Interval,
    auth_deadline: std::pin::Pin<Box<tokio::time::Sleep>>,
    rbuf: BytesMut,
    read_size: usize,
    budget: super::fairness::ReadBudget,
    meter: super::lanes::Meter,
}

impl ReadLoop {
    fn new(ping_interval: Duration, auth_timeout: Duration, heavy_rate: i64) -> Self {
        let mut ping = tokio::time::interval_at(
            tokio::time::Instant::now() + first_ping_delay(ping_interval),
            ping_interval,
        );
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ReadLoop {
            ping,
            auth_deadline: Box::pin(tokio::time::sleep(auth_timeout)),
            rbuf: BytesMut::with_capacity(MIN_READ),
            read_size: MIN_READ,
            budget: super::fairness::ReadBudget::default(),
            meter: super::lanes::Meter::new(heavy_rate),
        }
    }

    /// Timers belong to the runtime they were made on: a loop that moved
    /// gets new ones, with the same deadline and period.
    fn renew_timers(&mut self) {
        let period = self.ping.period();
        self.ping = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        self.ping
            .set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        self.auth_deadline = Box::pin(tokio::time::sleep_until(self.auth_deadline.deadline()));
    }
}

impl Client {
    /// The read loop, until the connection closes or moves.
    async fn run<R: AsyncRead + Unpin>(&mut self, reader: &mut R, st: &mut ReadLoop) -> Exit {
        loop {
            match self.read_step(reader, st).await {
                ReadStep::Stop => return Exit::Closed,
                ReadStep::Move => return Exit::Move,
                ReadStep::Read { busy, heavy } => {
                    if heavy {
                        self.shared.out.heavy.mark();
                        if self.shared.out.claim_move() {
                            return Exit::Move;
                        }
                    }
                    if busy {
                        tokio::task::yield_now().await;
                    }
                }
                ReadStep::Other => {}
            }
        }
    }

    /// One turn of the read loop: a read and the ops it completes, a PING
    /// timer, the authentication deadline or a close.
    async fn read_step<R: AsyncRead + Unpin>(
        &mut self,
        reader: &mut R,
        st: &mut ReadLoop,
    ) -> ReadStep {
        let want = match self.parser.bytes_needed() {
            Some(n) if n > st.rbuf.len() => (n - st.rbuf.len()).max(st.read_size),
            _ => st.read_size,
        };
        if st.rbuf.capacity() - st.rbuf.len() < want {
            st.rbuf.reserve(want);
        }
        // At most `want` bytes: the buffer may have more room (a reserve
        // can double it), and a batch must stay bounded.
        let mut room = (&mut st.rbuf).limit(want);
        tokio::select! {
            biased;
            _ = self.shared.close_wake.notified() => ReadStep::Stop,
            _ = self.shared.out.move_wanted() => ReadStep::Move,
            r = reader.read_buf(&mut room) => match r {
                Ok(0) | Err(_) => {
                    let reason = if r.is_ok() { CloseReason::ClientClosed } else { CloseReason::ReadError };
                    self.shared.close(reason);
                    ReadStep::Stop
                }
                Ok(n) => {
                    if n >= st.read_size && st.read_size < MAX_READ {
                        st.read_size *= 2;
                    } else if n < st.read_size / 4 && st.read_size > MIN_READ {
                        st.read_size /= 2;
                    }
                    if !self.process(&mut st.rbuf).await {
                        return ReadStep::Stop;
                    }
                    if st.rbuf.is_empty() && st.rbuf.capacity() > 2 * st.read_size.max(MIN_READ) {
                        st.rbuf = BytesMut::with_capacity(st.read_size);
                    }
                    ReadStep::Read { busy: st.budget.charge(n), heavy: st.meter.add(n) }
                }
            },
            _ = st.ping.tick() => {
                if self.on_ping_timer() { ReadStep::Other } else { ReadStep::Stop }
            }
            _ = &mut st.auth_deadline, if self.auth_required && !self.connected => {
                log::error!("{} - cid:{} - Authentication Timeout", self.shared.addr, self.shared.id);
                self.shared.close_with_error("Authentication Timeout", CloseReason::AuthenticationTimeout);
                ReadStep::Stop
            }
        }
    }

    /// Acts on every complete op in `rbuf`, pausing for CONNECT's
    /// authentication. Returns false when the connection is closing.
    async fn process(&mut self, rbuf: &mut BytesMut) -> bool {
        loop {
            if self.connected && !self.allot_quota().await {
                return false;
            }
            let mut pos = 0;
            let flow = self.process_ops(&rbuf[..], &mut pos);
            rbuf.advance(pos);
            self.flush_batch();
            match flow {
                Flow::Pause => {
                    if !self.pause_for_consumers().await {
                        return false;
                    }
                }
                Flow::Throttle => {
                    self.quota_hit = false;
                    if !self.charge_quotas().await {
                        return false;
                    }
                }
                Flow::Continue => {
                    if self.fanout.has_stalled() && !self.pause_for_consumers().await {
                        return false;
                    }
                    if self.charge_msgs > 0 {
                        return self.charge_quotas().await;
                    }
                    return true;
                }
                Flow::Close => return false,
                Flow::Connect(json) => {
                    if !self.process_connect(&json).await {
                        self.flush_batch();
                        return false;
                    }
                }
                Flow::ImplicitConnect => {
                    if !self.login(Connect::default()).await {
                        self.flush_batch();
                        return false;
                    }
                }
            }
        }
    }

    /// Flow control: this batch filled some subscribers past their stall
    /// threshold, so the reader stops reading until they drain (at most
    /// [`STALL_MAX`] per batch). TCP backpressure then slows the publisher
    /// instead of the subscribers' buffers growing until they are cut as
    /// slow consumers; a subscriber that stays full despite the pauses still
    /// reaches `max_pending`. Returns false when the connection is closing.
    async fn pause_for_consumers(&mut self) -> bool {
        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + STALL_MAX;
        let stalled = self.fanout.take_stalled();
        let mut closing = false;
        let mut waited_for = 0;
        for c in &stalled {
            if !c.out.is_stalled() {
                continue; // Drained meanwhile.
            }
            // Counted on the full subscriber and its account, as
            // nats-server counts `stalls`.
            waited_for += 1;
            c.stats.stalls.fetch_add(1, Ordering::Relaxed);
            c.account.read().stalls.fetch_add(1, Ordering::Relaxed);
            tokio::select! {
                biased;
                _ = self.shared.close_wake.notified() => {
                    closing = true;
                    break;
                }
                _ = c.out.wait_drained(deadline) => {}
            }
        }
        if waited_for > 0 {
            let waited = started.elapsed();
            self.shared.stats.record_pause(waited);
            self.account.record_pause(waited);
            self.server
                .stats
                .stalls
                .fetch_add(waited_for, Ordering::Relaxed);
        }
        !closing
    }

    /// Rate quotas: works out what this batch may publish (the tokens of
    /// the account's and the user's buckets), waiting for tokens when there
    /// are none; `process_ops` stops at the allowance. Returns false when
    /// the connection is closing.
    async fn allot_quota(&mut self) -> bool {
        let buckets = self.quota_buckets();
        self.quota_on = !buckets.is_empty();
        // Bounded: each pass waits for tokens that the rate refills.
        for _ in 0..1000 {
            if buckets.is_empty() {
                return true;
            }
            let mut allow = (f64::INFINITY, f64::INFINITY);
            for b in &buckets {
                let (m, by) = b.available();
                allow = (allow.0.min(m), allow.1.min(by));
            }
            if allow.0 >= 1.0 && allow.1 >= 1.0 {
                self.quota_allowance = allow;
                return true;
            }
            let wait = buckets
                .iter()
                .map(|b| b.time_to_refill())
                .max()
                .unwrap_or_default()
                .max(Duration::from_millis(1));
            for b in &buckets {
                b.record_throttle(wait);
            }
            if !self.throttle_for(wait).await {
                return false;
            }
        }
        true
    }

    /// Rate quotas: charges what this connection published since the last
    /// charge to its account's and its user's buckets, and when either is
    /// in debt, does not read again until it is paid. Nothing is dropped
    /// and nothing is said to the client: the only effect is latency, and
    /// TCP backpressure slows the publisher. Returns false when the
    /// connection is closing.
    async fn charge_quotas(&mut self) -> bool {
        let (msgs, bytes) = (self.charge_msgs, self.charge_bytes);
        self.charge_msgs = 0;
        self.charge_bytes = 0;
        let mut wait = Duration::ZERO;
        for b in self.quota_buckets() {
            let owed = b.charge(msgs, bytes);
            b.record_throttle(owed);
            wait = wait.max(owed);
        }
        wait.is_zero() || self.throttle_for(wait).await
    }

    /// A quota held this connection back: its account is a noisy tenant,
    /// whose connections all move to the bulk lane (see `lanes`), this one
    /// included. The system account's connections stay: they carry the
    /// server's own events.
    fn mark_noisy(&self) {
        if self.server.is_system_account(&self.account) {
            return;
        }
        if self.account.noisy.mark() {
            self.server.move_to_bulk_lane(&self.account);
        }
        self.shared.out.request_move();
    }

    /// A connection that logs in to a noisy tenant joins the account's other
    /// connections on the bulk lane.
    fn join_noisy_account(&self) {
        if self.account.noisy.is_noisy() && !self.server.is_system_account(&self.account) {
            self.shared.out.request_move();
        }
    }

    /// The rate quota buckets this connection publishes under: its
    /// account's and its user's (none: an empty list, no allocation).
    fn quota_buckets(&self) -> Vec<Arc<crate::quota::RateBucket>> {
        [self.account.quota(), self.shared.user_quota.load_full()]
            .into_iter()
            .flatten()
            .collect()
    }

    /// Waits `wait` for a rate quota (counted as throttled time), unless the
    /// connection closes first; returns false then.
    async fn throttle_for(&mut self, wait: Duration) -> bool {
        self.shared
            .stats
            .throttled_ns
            .fetch_add(wait.as_nanos() as u64, Ordering::Relaxed);
        self.mark_noisy();
        tokio::select! {
            biased;
            _ = self.shared.close_wake.notified() => false,
            _ = tokio::time::sleep(wait) => true,
        }
    }

    fn process_ops(&mut self, buf: &[u8], pos: &mut usize) -> Flow {
        loop {
            let gen = self.shared.perms_gen.load(Ordering::Acquire);
            if gen != self.perms_gen {
                // A config reload or claims update replaced the permissions
                // or limits.
                self.perms_gen = gen;
                self.perms = self.shared.delivery.read().clone();
                self.pub_cache.clear();
                let limit = self.shared.payload_limit.load(Ordering::Acquire);
                let server_max = self.server.opts().max_payload.max(0) as usize;
                self.parser.limits.max_payload = if limit >= 0 {
                    server_max.min(limit as usize)
                } else {
                    server_max
                };
            }
            if !self.connected && self.auth_required && !self.implicit_login {
                // Before CONNECT only CONNECT may come: refuse anything else at
                // its first byte, so no payload is ever buffered for a client
                // that has not authenticated.
                match buf[*pos..].iter().find(|b| !b.is_ascii_whitespace()) {
                    None => return Flow::Continue,
                    Some(b'C' | b'c') => {}
                    Some(_) => {
                        self.auth_violation("operation before CONNECT");
                        return Flow::Close;
                    }
                }
            }
            let (op, n) = match self.parser.next(&buf[*pos..]) {
                Ok(Some(x)) => x,
                Ok(None) => return Flow::Continue,
                Err(e) => {
                    self.parse_error(e);
                    return Flow::Close;
                }
            };
            if !self.connected && self.auth_required && !matches!(op, Op::Connect(_)) {
                if self.implicit_login {
                    // Not consumed: parsed again once logged in (the op is
                    // complete, so the parser kept no state for it).
                    return Flow::ImplicitConnect;
                }
                self.auth_violation("operation before CONNECT");
                return Flow::Close;
            }
            *pos += n;
            if self.trace {
                self.trace_in(&op);
            }
            let keep = match op {
                Op::Pub {
                    subject,
                    reply,
                    header_len,
                    payload,
                } => {
                    self.process_pub(subject, reply, header_len, payload);
                    true
                }
                Op::Sub {
                    subject,
                    queue,
                    sid,
                } => {
                    self.process_sub(subject, queue, sid);
                    true
                }
                Op::Unsub { sid, max } => {
                    self.process_unsub(sid, max);
                    true
                }
                Op::Ping => {
                    self.process_ping();
                    true
                }
                Op::Pong => {
                    self.pings_out = 0;
                    if let Some(rtt) = self.shared.note_pong() {
                        self.rtt_ns = rtt.as_nanos() as u64;
                    }
                    true
                }
                Op::Connect(json) => return Flow::Connect(json.to_vec()),
                Op::Ok => true,
                Op::Info(json) => {
                    // Parsed as nats-server parses it (an object, or null),
                    // then dropped: a client has nothing to tell the server
                    // in INFO, but a malformed one ends the connection.
                    let ok = matches!(
                        serde_json::from_slice::<serde_json::Value>(json),
                        Ok(serde_json::Value::Object(_) | serde_json::Value::Null)
                    );
                    if !ok {
                        self.shared.close(CloseReason::ParseError);
                    }
                    ok
                }
                Op::Err(_) => {
                    self.shared.close(CloseReason::ClientClosed);
                    false
                }
            };
            if !keep || self.shared.out.closing().is_some() {
                return Flow::Close;
            }
            if self.fanout.has_stalled() {
                return Flow::Pause;
            }
            if self.quota_hit {
                return Flow::Throttle;
            }
        }
    }

    /// Logs an inbound op as nats-server's `-V` does: `<<- [PUB foo 5]`.
    fn trace_in(&self, op: &Op<'_>) {
        let t = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let text = match op {
            Op::Connect(j) => format!("CONNECT {}", redact_connect(j)),
            Op::Pub {
                subject,
                reply,
                header_len,
                payload,
            } => {
                let reply = reply.map(|r| format!(" {}", t(r))).unwrap_or_default();
                match header_len {
                    Some(h) => format!("HPUB {}{reply} {h} {}", t(subject), payload.len()),
                    None => format!("PUB {}{reply} {}", t(subject), payload.len()),
                }
            }
            Op::Sub {
                subject,
                queue,
                sid,
            } => {
                let q = queue.map(|q| format!(" {}", t(q))).unwrap_or_default();
                format!("SUB {}{q} {}", t(subject), t(sid))
            }
            Op::Unsub { sid, max } => match max {
                UnsubMax::After(n) => format!("UNSUB {} {n}", t(sid)),
                _ => format!("UNSUB {}", t(sid)),
            },
            Op::Ping => "PING".into(),
            Op::Pong => "PONG".into(),
            Op::Info(_) => "INFO".into(),
            Op::Ok => "+OK".into(),
            Op::Err(e) => format!("-ERR {}", t(e)),
        };
        log::trace!(
            "{} - cid:{} - <<- [{text}]",
            self.shared.addr,
            self.shared.id
        );
    }

    fn parse_error(&mut self, e: ParseError) {
        let reason = match e {
            ParseError::MaxPayload => CloseReason::MaxPayloadExceeded,
            ParseError::MaxControlLine => CloseReason::MaxControlLineExceeded,
            _ => CloseReason::ProtocolViolation,
        };
        log::error!(
            "{} - cid:{} - Client parser ERROR: {e}",
            self.shared.addr,
            self.shared.id
        );
        match e.client_error() {
            Some(text) => self.shared.close_with_error(text, reason),
            None => self.shared.close(reason),
        }
    }

    /// Sends `-ERR` without closing.
    fn send_err(&mut self, text: &str) {
        if self.trace {
            log::trace!(
                "{} - cid:{} - ->> [-ERR '{text}']",
                self.shared.addr,
                self.shared.id
            );
        }
        self.shared.out.append(|b| encode::err(b, text));
        self.mark_self();
    }

    fn send_ok(&mut self) {
        if self.opts.verbose {
            self.shared.out.append(|b| b.extend_from_slice(encode::OK));
            self.mark_self();
        }
    }

    fn auth_violation(&mut self, why: &str) {
        self.refuse_login(&LoginError::Refused(why.to_owned()));
    }

    /// Refuses a login: logs why, tells the system services, and closes
    /// with the text and reason [`LoginError::outcome`] gives.
    fn refuse_login(&mut self, e: &LoginError) {
        log::error!(
            "{} - cid:{} - authentication error: {e}",
            self.shared.addr,
            self.shared.id
        );
        let (text, reason) = e.outcome(Phase::Connect);
        if let Some(ev) = self.server.events() {
            ev.auth_failed(&self.server, &self.shared, reason.as_str());
        }
        self.shared.close_with_error(text, reason);
    }

    async fn process_connect(&mut self, json: &[u8]) -> bool {
        self.shared.connect_seen.store(true, Ordering::Relaxed);
        let Some(mut c) = Connect::parse(json) else {
            log::error!(
                "{} - cid:{} - invalid CONNECT JSON",
                self.shared.addr,
                self.shared.id
            );
            self.shared.close(CloseReason::ProtocolViolation);
            return false;
        };

        if c.protocol < 0 || c.protocol > 1 {
            self.shared.close_with_error(
                "invalid client protocol",
                CloseReason::BadClientProtocolVersion,
            );
            return false;
        }
        if c.no_responders && !c.headers {
            self.shared.close_with_error(
                "no responders requires headers support",
                CloseReason::ProtocolViolation,
            );
            return false;
        }
        if self.connected {
            return self.process_second_connect(c);
        }
        // A WebSocket client's cookie credentials stand in for what its
        // first CONNECT leaves empty (a second CONNECT logs nobody in).
        if let Some(cookies) = &self.cookies {
            cookies.fill(&mut c);
        }
        if c.account.is_some() || c.new_account.is_some() {
            self.auth_violation("obsolete account field in CONNECT");
            return false;
        }
        self.describe_client(&c);
        if !self.login_identity(&c).await {
            return false;
        }
        self.apply_connect_options(&c);
        self.connect_info_due = c.protocol >= 1;
        self.opts = c;
        self.connected = true;
        self.send_ok();
        if let Some(e) = self.server.events() {
            e.connected(&self.server, &self.shared);
        }
        self.join_noisy_account();
        true
    }

    /// A CONNECT after the first never changes who the connection is: one
    /// that carries credentials is refused (the connection would otherwise
    /// publish as one user while still receiving as another), one without
    /// only changes the protocol options.
    fn process_second_connect(&mut self, c: Connect) -> bool {
        if self.auth_required && Credentials::names_anyone(&c) {
            self.auth_violation("second CONNECT with credentials");
            return false;
        }
        self.apply_connect_options(&c);
        if let Some(cred) = self.shared.credentials.lock().as_mut() {
            // Re-checks keep using the credentials of the first CONNECT.
            cred.connect.protocol = c.protocol;
        }
        self.opts = c;
        self.send_ok();
        true
    }

    /// What a first CONNECT says about the client, kept before the login so
    /// a refusal's advisory describes it as nats-server's does: the name,
    /// language and version, the user it claims to be, the JWT it presented,
    /// and a first round-trip estimate (time since accept), replaced by the
    /// first PONG.
    fn describe_client(&mut self, c: &Connect) {
        let rtt = self
            .shared
            .start
            .elapsed()
            .unwrap_or_default()
            .max(Duration::from_nanos(1));
        self.rtt_ns = rtt.as_nanos() as u64;
        let mut meta = self.shared.meta.lock();
        meta.name = c.name.clone().unwrap_or_default();
        meta.lang = c.lang.clone().unwrap_or_default();
        meta.version = c.version.clone().unwrap_or_default();
        meta.user = Credentials::claimed_user(c);
        meta.jwt = c.jwt.clone().unwrap_or_default();
        meta.rtt.get_or_insert(rtt);
    }

    /// The CONNECT options that describe the client rather than who it is.
    fn apply_connect_options(&mut self, c: &Connect) {
        let headers = c.headers && self.server.headers_supported();
        self.shared.headers.store(headers, Ordering::Relaxed);
        self.parser.limits.headers = headers;
        let mut meta = self.shared.meta.lock();
        meta.name = c.name.clone().unwrap_or_default();
        meta.lang = c.lang.clone().unwrap_or_default();
        meta.version = c.version.clone().unwrap_or_default();
    }

    /// Runs the login pipeline and adopts what it admits. Returns false
    /// (after closing with `Authorization Violation`) when it refuses.
    async fn login_identity(&mut self, c: &Connect) -> bool {
        if !self.auth_required {
            self.remember_login(c);
            return true;
        }
        let nonce = self.nonce.clone().unwrap_or_default();
        let peer = Peer {
            nonce: nonce.as_bytes(),
            cert: self.shared.peer_cert.as_ref(),
            ip: self.shared.addr.ip(),
        };
        let authenticator = self.server.authenticator_for(self.shared.websocket);
        match authenticator
            .authenticate(&self.server.accounts, c, peer)
            .await
        {
            Ok(login) => self.adopt_login(login, c),
            Err(e) => {
                self.refuse_login(&e);
                false
            }
        }
    }

    /// Binds the connection to what the pipeline admitted: account, limits,
    /// expiry and permissions.
    fn adopt_login(&mut self, login: Login, c: &Connect) -> bool {
        if !self.bind_account(login.account) {
            return false;
        }
        if login.max_payload >= 0 && (login.max_payload as usize) < self.parser.limits.max_payload {
            self.parser.limits.max_payload = login.max_payload as usize;
        }
        self.user_max_subs = login.max_subs;
        if self.max_subs() == Some(0) {
            // nats-server cuts a client that may hold no subscription at
            // all right after its login has been answered.
            let shared = self.shared.clone();
            tokio::spawn(async move {
                shared.send_err("maximum subscriptions exceeded");
                tokio::time::sleep(Duration::from_millis(20)).await;
                shared.close(CloseReason::MaxSubscriptionsExceeded);
            });
        }
        self.shared
            .set_user_quota(self.account.user_quota(&login.name, login.rate));
        if let Some(exp) = login.expires {
            schedule_expiry(&self.shared, exp);
        }
        if !login.name.is_empty() {
            self.shared.meta.lock().user = login.name;
        }
        self.remember_login(c);
        self.pub_cache.clear();
        self.shared
            .set_delivery_permissions(login.permissions.clone());
        self.perms = login.permissions;
        true
    }

    /// Moves the connection into `acc`, enforcing the account's connection
    /// limit and adopting its payload and subscription limits. Returns false
    /// (after closing) when the account is full.
    fn bind_account(&mut self, acc: Arc<Account>) -> bool {
        if Arc::ptr_eq(&acc, &self.account) {
            return true;
        }
        let limits = acc.limits();
        let n = acc.num_conns.fetch_add(1, Ordering::Relaxed) + 1;
        // The account's connections on the other cluster members count too.
        let n = n + acc.remote_conns();
        if limits.max_connections >= 0 && n as i64 > limits.max_connections {
            acc.num_conns.fetch_sub(1, Ordering::Relaxed);
            log::error!(
                "{} - cid:{} - maximum account active connections exceeded ({})",
                self.shared.addr,
                self.shared.id,
                acc.name
            );
            self.shared.close_with_error(
                "maximum account active connections exceeded",
                CloseReason::MaxAccountConnectionsExceeded,
            );
            return false;
        }
        let old = std::mem::replace(&mut *self.shared.account.write(), acc.clone());
        old.num_conns.fetch_sub(1, Ordering::Relaxed);
        if limits.max_payload >= 0 && (limits.max_payload as usize) < self.parser.limits.max_payload
        {
            self.parser.limits.max_payload = limits.max_payload as usize;
        }
        self.account = acc;
        self.l1.clear();
        true
    }

    /// Subscriptions this connection may hold (`None` = unlimited): the
    /// smallest of the server's (0 there means none), its account's and
    /// its user's limit (negative there means none, 0 allows none).
    fn max_subs(&self) -> Option<usize> {
        let server = match self.server.opts().max_subs {
            n if n > 0 => n as i64,
            _ => NO_LIMIT,
        };
        let account = self.account.limits().max_subscriptions;
        let n = min_limit(min_limit(server, account), self.user_max_subs);
        usize::try_from(n).ok()
    }

    /// Keeps what the client logged in with, for re-authorization on reload.
    fn remember_login(&self, c: &Connect) {
        *self.shared.credentials.lock() = Some(Credentials {
            connect: c.clone(),
            nonce: self.nonce.clone(),
        });
    }

    /// Logs in without a CONNECT (an op came first and `no_auth_user` is
    /// set), with the protocol's default options.
    async fn login(&mut self, c: Connect) -> bool {
        self.shared.connect_seen.store(true, Ordering::Relaxed);
        if !self.login_identity(&c).await {
            return false;
        }
        self.connected = true;
        if let Some(e) = self.server.events() {
            e.connected(&self.server, &self.shared);
        }
        self.join_noisy_account();
        true
    }

    fn process_ping(&mut self) {
        self.active = true;
        self.shared
            .out
            .append(|b| b.extend_from_slice(encode::PONG));
        self.shared.rtt_probe.lock().first_pong_sent = true;
        if self.connect_info_due && self.connected {
            self.connect_info_due = false;
            let line = self.server.client_info_line(
                self.shared.id,
                self.shared.addr,
                Some(&self.account),
                None,
                self.shared.websocket,
            );
            self.shared.out.append(|b| b.extend_from_slice(&line));
        }
        self.mark_self();
    }

    /// The keep-alive timer: close a client that stopped answering, PING one
    /// that has been quiet. Returns false when the connection is closing.
    fn on_ping_timer(&mut self) -> bool {
        let max = self.server.opts().ping_max;
        if self.pings_out + 1 > max {
            log::debug!(
                "{} - cid:{} - Stale Client Connection - Closing",
                self.shared.addr,
                self.shared.id
            );
            self.shared
                .close_with_error("Stale Connection", CloseReason::StaleConnection);
            return false;
        }
        // An active client needs no keep-alive PING, unless its round-trip
        // time is due a measurement (nats-server measures it with these
        // PINGs: the first always goes out).
        if self.active && !self.shared.rtt_due() {
            self.active = false;
            return true;
        }
        self.active = false;
        self.pings_out += 1;
        self.shared.note_ping_sent();
        self.shared
            .out
            .append(|b| b.extend_from_slice(encode::PING));
        self.shared.out.flush();
        true
    }

    fn process_sub(&mut self, subject: &[u8], queue: Option<&[u8]>, sid: &[u8]) {
        self.active = true;
        let Ok(subject) = std::str::from_utf8(subject) else {
            self.send_err("Invalid Subject");
            return;
        };
        if !subject::is_valid_subject(subject) {
            self.send_err("Invalid Subject");
            return;
        }
        let queue = match queue.map(std::str::from_utf8) {
            None => None,
            Some(Ok(q)) => Some(q),
            Some(Err(_)) => {
                self.send_err("Invalid Subject");
                return;
            }
        };
        if queue.is_some_and(|q| subject::has_control_bytes(q.as_bytes())) {
            self.send_err("Invalid Subject");
            return;
        }
        if queue == Some("_sys_") {
            self.send_err(&format!(
                "Permissions Violation for Subscription to \"{subject}\" using queue \"_sys_\""
            ));
            return;
        }
        if let Some(p) = &self.perms {
            if p.can_subscribe(subject, queue) == SubCheck::Denied {
                let text = match queue {
                    Some(q) => format!(
                        "Permissions Violation for Subscription to \"{subject}\" using queue \"{q}\""
                    ),
                    None => format!("Permissions Violation for Subscription to \"{subject}\""),
                };
                log::error!("{} - cid:{} - {text}", self.shared.addr, self.shared.id);
                self.send_err(&text);
                return;
            }
        }
        let opts = self.server.opts();
        if opts.max_sub_tokens > 0 && subject::num_tokens(subject) > opts.max_sub_tokens as usize {
            self.send_err(&format!(
                "Permissions Violation for Subscription to \"{subject}\", too many tokens"
            ));
            return;
        }
        let max_subs = self.max_subs();
        {
            let mut subs = self.shared.subs.lock();
            if !subs.contains_key(sid) {
                if max_subs.is_some_and(|max| subs.len() >= max) {
                    drop(subs);
                    log::error!(
                        "{} - cid:{} - maximum subscriptions exceeded",
                        self.shared.addr,
                        self.shared.id
                    );
                    self.send_err("maximum subscriptions exceeded");
                    return;
                }
                let sub = SubRef(Arc::new(Subscription {
                    client: self.shared.clone(),
                    sid: sid.into(),
                    subject: subject.into(),
                    queue: queue.map(Into::into),
                    max: AtomicU64::new(0),
                    delivered: AtomicU64::new(0),
                    weight: std::sync::atomic::AtomicU32::new(1),
                }));
                if self
                    .account
                    .insert_local_sub(subject, queue, sub.clone())
                    .is_err()
                {
                    drop(subs);
                    self.send_err("Invalid Subject");
                    return;
                }
                subs.insert(sid.into(), sub);
            }
        }
        self.send_ok();
    }

    fn process_unsub(&mut self, sid: &[u8], max: UnsubMax) {
        self.active = true;
        let sub = self.shared.subs.lock().get(sid).cloned();
        if let Some(sub) = sub {
            match max {
                // The limit is stored before the count is read: a delivery
                // that read no limit yet and pushes the count to or past it
                // is seen here, and any later one finds the limit and
                // removes the subscription itself (see `Fanout::deliver`).
                UnsubMax::After(n) => {
                    sub.max.store(n, Ordering::SeqCst);
                    if sub.delivered.load(Ordering::SeqCst) >= n {
                        self.shared.remove_sub(&sub);
                    }
                }
                _ => self.shared.remove_sub(&sub),
            }
        }
        self.send_ok();
    }

    fn process_pub(
        &mut self,
        subject: &[u8],
        reply: Option<&[u8]>,
        header_len: Option<usize>,
        payload: &[u8],
    ) {
        self.active = true;
        self.in_msgs += 1;
        self.in_bytes += payload.len() as u64;
        if self.quota_on
            && (self.in_msgs as f64 >= self.quota_allowance.0
                || self.in_bytes as f64 >= self.quota_allowance.1)
        {
            self.quota_hit = true;
        }
        let Ok(subject_str) = std::str::from_utf8(subject) else {
            self.send_err("Invalid Publish Subject");
            return;
        };
        // Control bytes never travel: in a MSG line they would let one
        // client re-split the line another client parses. (The subject is
        // checked when it misses the result cache, see `lookup`.)
        if reply.is_some_and(subject::has_control_bytes) {
            self.refuse_control_bytes();
            return;
        }
        if self.opts.pedantic && !subject::is_valid_literal_subject(subject_str) {
            self.send_err("Invalid Publish Subject");
        }
        if let Some(r) = reply {
            if r.starts_with(b"_R_.") || r.starts_with(b"$JS.ACK.") || r.starts_with(b"_GR_.") {
                let r = String::from_utf8_lossy(r).into_owned();
                self.send_err(&format!(
                    "Permissions Violation for Publish with Reply of \"{r}\""
                ));
                return;
            }
        }
        // A subject mapping renames the message before anything else looks
        // at it: permissions and routing see the mapped subject, as in
        // nats-server.
        let mapped;
        let (subject, subject_str) = if self.account.has_mappings() {
            match self.account.map_subject(subject_str) {
                Mapped::Unchanged => (subject, subject_str),
                Mapped::To(s) => {
                    if self.trace {
                        log::trace!(
                            "{} - cid:{} - <<- [MAPPING {subject_str} -> {s}]",
                            self.shared.addr,
                            self.shared.id
                        );
                    }
                    mapped = s;
                    (mapped.as_bytes(), mapped.as_str())
                }
                // Routed nowhere; like nats-server, the empty subject still
                // meets the publish permissions.
                Mapped::Dropped => (&b""[..], ""),
            }
        } else {
            (subject, subject_str)
        };
        if subject.starts_with(b"_GR_.")
            || (subject.starts_with(b"$NRG.") && !self.server.is_system_account(&self.account))
        {
            self.send_err(&format!(
                "Permissions Violation for Publish to \"{subject_str}\""
            ));
            return;
        }
        if self.perms.is_some() && !self.may_publish(subject, subject_str) {
            let text = format!("Permissions Violation for Publish to \"{subject_str}\"");
            log::error!("{} - cid:{} - {text}", self.shared.addr, self.shared.id);
            self.send_err(&text);
            return;
        }
        if subject.is_empty() {
            // Dropped by a mapping.
            self.send_ok();
            return;
        }
        let Some(result) = self.lookup(subject, subject_str) else {
            self.refuse_control_bytes();
            return;
        };
        self.send_ok();
        let msg = Message {
            subject,
            reply,
            header_len,
            payload,
        };
        let origin = Origin {
            client_id: self.shared.id,
            echo: self.opts.echo,
            rtt_ns: self.rtt_ns,
            client: Some(&self.shared),
        };
        let delivered = self.fanout.publish(&self.account, &result, &msg, &origin);
        if !delivered && reply.is_some() && self.opts.no_responders {
            self.send_no_responders(subject, reply.unwrap_or_default());
        }
    }

    /// Publish permission: the allow/deny lists (cached per subject), else a
    /// response this connection was granted by receiving the reply subject.
    fn may_publish(&mut self, subject: &[u8], subject_str: &str) -> bool {
        let Some(p) = &self.perms else {
            return true;
        };
        let allowed = match self.pub_cache.get(subject) {
            Some(&a) => a,
            None => {
                let a = p.can_publish(subject_str);
                if self.pub_cache.len() >= L1_CACHE_MAX {
                    self.pub_cache.clear();
                }
                self.pub_cache.insert(subject.into(), a);
                a
            }
        };
        if allowed {
            return true;
        }
        match p.response {
            Some(resp) => self.shared.use_reply_grant(subject, resp),
            None => false,
        }
    }

    /// The subscriptions matching `subject`, from this connection's cache
    /// when the account's index has not changed since.
    #[inline]
    /// `None` for a subject with control bytes: such a subject is never
    /// cached, so a cache hit needs no scan.
    fn lookup(&mut self, subject: &[u8], subject_str: &str) -> Option<Arc<SublistResult<SubRef>>> {
        let gen = self.account.sublist.generation();
        if gen != self.l1_gen {
            self.l1.clear();
            self.l1_gen = gen;
        } else if let Some(r) = self.l1.get(subject) {
            return Some(r.clone());
        }
        if subject::has_control_bytes(subject) {
            return None;
        }
        let r = self.account.sublist.match_subject(subject_str);
        if self.l1.len() >= L1_CACHE_MAX {
            self.l1.clear();
        }
        self.l1.insert(subject.into(), r.clone());
        Some(r)
    }

    fn refuse_control_bytes(&mut self) {
        log::error!(
            "{} - cid:{} - control bytes in publish subject refused",
            self.shared.addr,
            self.shared.id
        );
        self.send_err("Invalid Publish Subject");
    }

    /// Answers a request nobody listens to with a 503 status, delivered on
    /// this connection's own subscription to the reply subject.
    fn send_no_responders(&mut self, subject: &[u8], reply: &[u8]) {
        let Ok(reply_str) = std::str::from_utf8(reply) else {
            return;
        };
        if !subject::is_valid_literal_subject(reply_str) {
            return;
        }
        let r = self.account.sublist.match_subject(reply_str);
        let Some(sub) = r
            .psubs
            .iter()
            .find(|s| s.client.id == self.shared.id)
            .cloned()
        else {
            return;
        };
        let hdr = encode::no_responders_header(subject);
        let msg = Message {
            subject: reply,
            reply: None,
            header_len: Some(hdr.len()),
            payload: &hdr,
        };
        self.fanout.deliver(&sub, &msg);
    }

    #[inline]
    fn mark_self(&mut self) {
        let me = self.shared.clone();
        self.fanout.mark(me);
    }

    /// Ends a read batch: wakes the writer of every connection appended to,
    /// once, and publishes this batch's inbound counters.
    fn flush_batch(&mut self) {
        self.fanout.flush();
        let samples = self.fanout.take_latency();
        if !samples.is_empty() {
            if let Some(e) = self.server.events() {
                e.service_latency(&self.server, samples);
            }
        }
        if self.in_msgs > 0 {
            self.charge_msgs += self.in_msgs;
            self.charge_bytes += self.in_bytes;
            let s = &self.shared.stats;
            s.in_msgs.fetch_add(self.in_msgs, Ordering::Relaxed);
            s.in_bytes.fetch_add(self.in_bytes, Ordering::Relaxed);
            self.server.count_inbound(self.in_msgs, self.in_bytes);
            self.in_msgs = 0;
            self.in_bytes = 0;
        }
    }
}

/// Closes the connection with `User Authentication Expired` when its user
/// JWT expires.
fn schedule_expiry(shared: &Arc<ClientShared>, exp: i64) {
    let now = crate::jwt::now();
    let wait = Duration::from_secs(exp.saturating_sub(now).max(0) as u64);
    let weak = Arc::downgrade(shared);
    tokio::spawn(async move {
        tokio::time::sleep(wait).await;
        if let Some(c) = weak.upgrade() {
            log::info!("{} - cid:{} - User Authentication Expired", c.addr, c.id);
            c.close_with_error(
                "User Authentication Expired",
                CloseReason::AuthenticationExpired,
            );
        }
    });
}

/// A CONNECT body fit for the trace log: secrets replaced by `[REDACTED]`
/// as nats-server does, so `-V` never writes credentials to a log.
pub fn redact_connect(json: &[u8]) -> String {
    match serde_json::from_slice::<serde_json::Value>(json) {
        Ok(serde_json::Value::Object(mut m)) => {
            for key in ["pass", "auth_token", "sig"] {
                if let Some(v) = m.get_mut(key) {
                    *v = serde_json::Value::String("[REDACTED]".into());
                }
            }
            serde_json::Value::Object(m).to_string()
        }
        _ => "[unparsable]".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_trace_hides_secrets() {
        let s = redact_connect(br#"{"user":"u","pass":"hunter2","auth_token":"tok","sig":"abc"}"#);
        assert!(!s.contains("hunter2") && !s.contains("tok\"") && !s.contains("abc"));
        assert!(s.contains("[REDACTED]") && s.contains("\"user\":\"u\""));
        assert_eq!(redact_connect(b"{bad"), "[unparsable]");
    }
}

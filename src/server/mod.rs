//! The server core: accepts connections, admits each into an account and
//! delivers messages between them.
//!
//! - [`listener`]: the accept loop.
//! - [`login`]: the login pipeline every way in goes through.
//! - [`client`]: one connection's reader and the state it shares.
//! - [`fanout`]: delivery of a publish to subscribers, across imports.
//! - [`outbound`]: the batched, double-buffered writer.
//! - [`subscription`]: what a SUB stores.
//! - [`reload`]: config reload.
//! - [`close`]: why a connection ended.
//! - [`support`]: refuses settings this build does not enforce yet.
//!
//! Accounts live in [`crate::tenancy`]. The complete lock order is in
//! ARCHITECTURE.md; no lock is held across `.await`.

pub mod client;
pub mod client_info;
pub mod close;
pub mod fairness;
pub mod fanout;
pub mod lanes;
pub mod listener;
pub mod login;
pub mod outbound;
pub mod reload;
pub mod subscription;
pub mod support;

use ahash::AHashMap;
use parking_lot::{Mutex, RwLock};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::auth::AuthConfig;
use crate::config::ConfigError;
use crate::config::Options;
use crate::protocol::messages::Info;
use crate::tenancy::account::{Account, Registry};
use crate::tenancy::{account_config, jwt_account, operator};
use client::ClientShared;
use close::CloseReason;

/// Server-wide message counters (monitoring reads them). Outbound totals of
/// live connections are summed from their own counters; what closed
/// connections sent is kept here so the totals never go backwards.
#[derive(Debug, Default)]
pub struct ServerStats {
    pub in_msgs: AtomicU64,
    pub in_bytes: AtomicU64,
    pub closed_out_msgs: AtomicU64,
    pub closed_out_bytes: AtomicU64,
    pub total_connections: AtomicU64,
    pub slow_consumers: AtomicU64,
    /// Times a reader paused for full subscribers (flow control).
    pub stalls: AtomicU64,
    /// Connections closed for not answering PINGs.
    pub stale_connections: AtomicU64,
}

/// What monitoring remembers of a closed connection (`/connz?state=closed`).
#[derive(Debug, Clone)]
pub struct ClosedClient {
    pub cid: u64,
    pub addr: SocketAddr,
    pub start: SystemTime,
    pub stop: SystemTime,
    pub reason: CloseReason,
    pub account: String,
    pub meta: client::ClientMeta,
    pub in_msgs: u64,
    pub in_bytes: u64,
    pub out_msgs: u64,
    pub out_bytes: u64,
    /// Flow control and quota counters at close (see `ClientStats`), so
    /// `/connz?state=closed` still tells why a connection was slow.
    pub stalls: u64,
    pub stalled_ns: u64,
    pub throttled_ns: u64,
    pub bulk_lane: bool,
    /// Subjects of the subscriptions it had when it closed.
    pub subs: Vec<String>,
}

/// Connections that may wait for their CONNECT at the same time when
/// clients must authenticate; the oldest is closed beyond this.
pub const MAX_PENDING_LOGINS: usize = 1024;

/// The running WebSocket listener (monitoring shows it).
#[derive(Debug)]
pub struct WebSocketInfo {
    pub addr: std::net::SocketAddr,
    pub config: Arc<crate::websocket::WebSocketConfig>,
}

/// One running server.
pub struct Server {
    opts: RwLock<Arc<Options>>,
    /// Public nkey identifying this server run (`server_id` in INFO).
    pub id: String,
    pub name: String,
    /// The name, shared with every [`Fanout`](fanout::Fanout), and its
    /// nats-server hash ([`client_info::server_hash`]).
    shared_name: Arc<str>,
    name_hash: Arc<str>,
    pub accounts: Registry,
    /// Operator (JWT) mode: the trusted operators and the account store.
    pub operator: Option<Arc<operator::OperatorMode>>,
    clients: Mutex<AHashMap<u64, Arc<ClientShared>>>,
    /// The bulk lane's sweep for this server has started (`sweep_bulk_lane`).
    bulk_sweep: AtomicBool,
    /// Connections that have not sent CONNECT yet, oldest first (entries of
    /// connections that logged in or closed are dropped lazily).
    pending_logins: Mutex<std::collections::VecDeque<std::sync::Weak<ClientShared>>>,
    /// The most recent closed connections, oldest first, bounded by
    /// `max_closed_clients`.
    closed: Mutex<std::collections::VecDeque<ClosedClient>>,
    next_cid: AtomicU64,
    /// How connections authenticate (replaced as a whole on reload).
    auth: RwLock<Arc<AuthConfig>>,
    info: Info,
    pub stats: ServerStats,
    pub start_time: SystemTime,
    /// The address clients connect to, once bound.
    pub listen_addr: std::sync::OnceLock<SocketAddr>,
    /// TLS for client connections (`tls {}`), loaded at startup.
    pub tls: Option<Arc<crate::tls::TlsConfig>>,
    /// Lame-duck mode: no new clients, the existing ones are being closed.
    ldm: std::sync::atomic::AtomicBool,
    /// Shutting down: no connection registers any more.
    stopping: std::sync::atomic::AtomicBool,
    /// Who hears about logins and disconnects ([`crate::system`] installs
    /// the `$SYS` advisories here); nobody without it.
    events: std::sync::OnceLock<Box<dyn ConnectionEvents>>,
    /// The WebSocket listener, once bound.
    pub websocket: std::sync::OnceLock<WebSocketInfo>,
    /// The auth configuration of WebSocket clients when the `websocket`
    /// block overrides the server's (replaced on reload).
    ws_auth: RwLock<Option<Arc<AuthConfig>>>,
    /// The cluster this server is a member of (`cluster {}`), once started.
    pub cluster: std::sync::OnceLock<Arc<crate::cluster::Cluster>>,
    /// Monitoring endpoints of a service running beside the server.
    pub monitor_extension: std::sync::OnceLock<Arc<dyn crate::monitor::Extension>>,
}

/// The URLs a listener on `host:port` is reached at by other machines: for
/// an address of every interface (`0.0.0.0`, `::`), each interface's
/// non-loopback address, as nats-server lists them (the loopback address
/// when the machine has no other).
fn urls_for(host: &str, port: u16) -> Vec<String> {
    let any = matches!(host, "" | "0.0.0.0" | "::" | "[::]");
    if !any {
        return vec![join_host_port(host, port)];
    }
    let mut urls: Vec<String> = if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .map(|i| i.ip())
        .filter(|ip| !ip.is_loopback() && !ip.is_unspecified() && !is_link_local(ip))
        .filter(|ip| host.contains(':') || ip.is_ipv4())
        .map(|ip| join_host_port(&ip.to_string(), port))
        .collect();
    urls.dedup();
    if urls.is_empty() {
        urls.push(join_host_port("127.0.0.1", port));
    }
    urls
}

fn is_link_local(ip: &std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => v4.is_link_local(),
        std::net::IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
    }
}

fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// What the system services hear about connections. The server core calls
/// these without knowing what they publish, so it does not depend on the
/// system services built on top of it.
pub trait ConnectionEvents: Send + Sync {
    /// A client logged in.
    fn connected(&self, server: &Server, c: &ClientShared);
    /// A client connection is gone (`was_connected`: it had logged in).
    fn disconnected(
        &self,
        server: &Server,
        c: &ClientShared,
        reason: CloseReason,
        was_connected: bool,
    );
    /// A login was refused.
    fn auth_failed(&self, server: &Server, c: &ClientShared, reason: &str);
    /// A server joined the cluster: it needs this server's per-account
    /// connection counts.
    fn remote_server_joined(&self, _server: &Server) {}

    /// Measured service requests finished (latency tracking): publish their
    /// reports.
    fn service_latency(
        &self,
        server: &Server,
        samples: Vec<crate::tenancy::latency::LatencySample>,
    );
}

/// The outcome of [`Server::register_client`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    Registered,
    /// `max_connections` reached.
    Full,
    /// The server is shutting down or in lame-duck mode.
    ShuttingDown,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("id", &self.id).finish()
    }
}

impl Server {
    /// Builds the server state from options (no sockets yet). `tls` is the
    /// loaded `tls {}` block ([`crate::tls::TlsConfig::from_options`]).
    ///
    /// # Errors
    /// An invalid auth configuration (users, permissions, `no_auth_user`).
    pub fn new(
        opts: Options,
        tls: Option<Arc<crate::tls::TlsConfig>>,
    ) -> Result<Arc<Server>, ConfigError> {
        let id = crate::nkeys::KeyPair::new_server().public_key();
        let name = if opts.server_name.is_empty() {
            id.clone()
        } else {
            opts.server_name.clone()
        };
        let auth = AuthConfig::from_options(&opts)?;
        let accounts_cfg = account_config::AccountsConfig::from_options(&opts)?;
        let accounts = Registry::new(!opts.no_sublist_cache);
        let operator = operator::OperatorMode::from_options(&opts)?.map(Arc::new);
        accounts_cfg.apply(&accounts, &opts, operator.is_some())?;
        if let Some(op) = &operator {
            if !matches!(auth.method, crate::auth::Method::None) {
                return Err(ConfigError::new(
                    None,
                    Some("authorization"),
                    "operators do not allow users to be configured directly",
                ));
            }
            match &op.system_account {
                Some(sys) => {
                    let acc = match op.account_claims(sys) {
                        Ok(c) => jwt_account::apply_claims(&accounts, op, &c),
                        Err(e) => {
                            log::warn!("system account {sys}: {e}");
                            accounts.get_or_create(sys)
                        }
                    };
                    accounts.set_system(Some(acc));
                }
                None => accounts.set_system(None),
            }
        }
        let info = Info {
            server_id: id.clone(),
            server_name: name.clone(),
            version: crate::VERSION.to_owned(),
            proto: 1,
            go: format!("rnats {}", crate::RNATS_VERSION),
            host: opts.host.clone(),
            port: 0,
            headers: !opts.no_header_support,
            auth_required: auth.info_auth_required() || operator.is_some(),
            max_payload: opts.max_payload,
            // As nats-server: TLS is required unless `allow_non_tls`, then
            // only available.
            tls_required: tls.is_some() && !opts.allow_non_tls,
            tls_available: tls.is_some() && opts.allow_non_tls,
            tls_verify: tls.as_ref().is_some_and(|t| t.options.verify),
            ..Default::default()
        };
        let server = Arc::new(Server {
            accounts,
            operator,
            opts: RwLock::new(Arc::new(opts)),
            id,
            shared_name: name.as_str().into(),
            name_hash: client_info::server_hash(&name).into(),
            name,
            clients: Mutex::new(AHashMap::new()),
            bulk_sweep: AtomicBool::new(false),
            pending_logins: Mutex::new(std::collections::VecDeque::new()),
            closed: Mutex::new(std::collections::VecDeque::new()),
            next_cid: AtomicU64::new(1),
            auth: RwLock::new(Arc::new(auth)),
            info,
            stats: ServerStats::default(),
            start_time: SystemTime::now(),
            listen_addr: std::sync::OnceLock::new(),
            tls,
            ldm: std::sync::atomic::AtomicBool::new(false),
            stopping: std::sync::atomic::AtomicBool::new(false),
            events: std::sync::OnceLock::new(),
            websocket: std::sync::OnceLock::new(),
            ws_auth: RwLock::new(None),
            cluster: std::sync::OnceLock::new(),
            monitor_extension: std::sync::OnceLock::new(),
        });
        Ok(server)
    }

    /// Installs who hears about connections (once; later calls are ignored).
    pub fn set_events(&self, events: Box<dyn ConnectionEvents>) {
        let _ = self.events.set(events);
    }

    /// Who hears about connections, if anyone.
    /// A router for one publisher on this server.
    pub fn fanout(&self) -> fanout::Fanout {
        fanout::Fanout::new(&self.shared_name, &self.name_hash)
    }

    /// nats-server's 8-character hash of this server's name.
    pub fn name_hash(&self) -> &str {
        &self.name_hash
    }

    pub fn events(&self) -> Option<&dyn ConnectionEvents> {
        self.events.get().map(|e| &**e)
    }

    /// Whether INFO carries a nonce for clients to sign (nkey users or
    /// operator mode).
    pub fn needs_nonce(&self) -> bool {
        self.operator.is_some() || self.auth().needs_nonce()
    }

    /// Whether clients must authenticate.
    pub fn auth_enabled(&self) -> bool {
        self.operator.is_some() || self.auth().enabled()
    }

    /// The options in force.
    pub fn opts(&self) -> Arc<Options> {
        self.opts.read().clone()
    }

    /// Installs reloaded options (new connections pick them up).
    pub fn set_opts(&self, opts: Arc<Options>) {
        *self.opts.write() = opts;
    }

    /// Installs a reloaded auth configuration (new logins use it; live
    /// connections are re-authorized by [`reload`]).
    pub fn set_auth(&self, auth: Arc<AuthConfig>) {
        *self.auth.write() = auth;
    }

    /// Whether the server is in lame-duck mode.
    pub fn is_lame_duck(&self) -> bool {
        self.ldm.load(Ordering::Acquire)
    }

    /// Enters lame-duck mode; false when it already was. From here on no
    /// connection registers, so the snapshot of clients lame duck closes
    /// is complete.
    pub fn set_lame_duck(&self) -> bool {
        let _clients = self.clients.lock();
        !self.ldm.swap(true, Ordering::AcqRel)
    }

    /// Stops new registrations for shutdown: a connection still in its TLS
    /// handshake when the clients are closed is refused when it finishes,
    /// instead of living on unclosed while shutdown waits for it.
    pub fn stop_registrations(&self) {
        let _clients = self.clients.lock();
        self.stopping.store(true, Ordering::Release);
    }

    /// This server's client URLs as other members pass them on to their
    /// clients (`connect_urls`): the advertised address, else the listen
    /// address.
    pub fn own_client_urls(&self) -> Vec<String> {
        let opts = self.opts();
        if !opts.client_advertise.is_empty() {
            return vec![opts.client_advertise.clone()];
        }
        let port = self.listen_addr.get().map_or(0, SocketAddr::port);
        urls_for(&opts.host, port)
    }

    /// Sends the current INFO (new cluster URLs) to every client that asked
    /// for async INFO (`protocol` 1).
    pub fn send_async_info(&self) {
        // A server shutting down closes its routes first: its clients keep
        // the cluster URLs they know, to fail over to.
        if self.stopping.load(Ordering::Acquire) {
            return;
        }
        for c in self.clients() {
            if c.wants_async_info() {
                let mut info = self.client_info(c.id, c.addr, None, None);
                self.websocket_urls(&mut info, c.websocket);
                let line = info.to_line();
                c.out.append(|b| b.extend_from_slice(&line));
                c.out.flush();
            }
        }
    }

    /// The INFO line telling a client the server is in lame-duck mode.
    pub fn ldm_info_line(&self, cid: u64, addr: SocketAddr, websocket: bool) -> Vec<u8> {
        let mut info = self.client_info(cid, addr, None, None);
        self.websocket_urls(&mut info, websocket);
        info.ldm = true;
        info.to_line()
    }

    pub fn next_client_id(&self) -> u64 {
        self.next_cid.fetch_add(1, Ordering::Relaxed)
    }

    /// The auth configuration in force.
    pub fn auth(&self) -> Arc<AuthConfig> {
        self.auth.read().clone()
    }

    /// How long a client has to send CONNECT when authorization is on:
    /// the configured timeout, else 2s, or the TLS timeout + 1s with TLS.
    pub fn auth_timeout(&self) -> Duration {
        self.opts().auth_timeout.unwrap_or_else(|| match &self.tls {
            Some(t) => t.default_auth_timeout(),
            None => Duration::from_secs(2),
        })
    }

    /// `tls { verify_and_map }`: client users come from the client
    /// certificate ([`client::ClientShared::peer_cert`], mapped with
    /// [`crate::tls::map_user`]).
    pub fn tls_map(&self) -> bool {
        self.tls.as_ref().is_some_and(|t| t.options.map)
    }

    /// The login pipeline in force: operator trust in operator mode, else
    /// the configured users (replaced as a whole on reload).
    pub fn authenticator(&self) -> login::Authenticator {
        self.authenticator_for(false)
    }

    /// The login pipeline for a TCP or a WebSocket client: the same, with
    /// the `websocket` block's auth override for the latter.
    pub fn authenticator_for(&self, websocket: bool) -> login::Authenticator {
        match &self.operator {
            Some(op) => login::Authenticator::Operator(op.clone()),
            None => login::Authenticator::Config(self.auth_for(websocket)),
        }
    }

    /// The auth configuration a TCP or WebSocket client logs in with.
    pub fn auth_for(&self, websocket: bool) -> Arc<AuthConfig> {
        if websocket {
            if let Some(a) = self.ws_auth.read().clone() {
                return a;
            }
        }
        self.auth()
    }

    /// Installs the WebSocket auth override (start-up and reload).
    pub fn set_ws_auth(&self, auth: Option<Arc<AuthConfig>>) {
        *self.ws_auth.write() = auth;
    }

    /// Whether a TCP or WebSocket client must authenticate.
    pub fn auth_enabled_for(&self, websocket: bool) -> bool {
        self.operator.is_some() || self.auth_for(websocket).enabled()
    }

    pub fn headers_supported(&self) -> bool {
        self.info.headers
    }

    pub fn is_system_account(&self, acc: &Account) -> bool {
        self.accounts.is_system(acc)
    }

    /// The INFO line for a client: the initial one, or (with `account`) the
    /// one answering the first PING after CONNECT.
    pub fn client_info_line(
        &self,
        cid: u64,
        addr: SocketAddr,
        account: Option<&Arc<Account>>,
        nonce: Option<&str>,
        websocket: bool,
    ) -> Vec<u8> {
        let mut info = self.client_info(cid, addr, account, nonce);
        self.websocket_urls(&mut info, websocket);
        info.to_line()
    }

    /// A WebSocket client's `connect_urls` are the members' WebSocket URLs
    /// (as nats-server sends them), not their client ports.
    fn websocket_urls(&self, info: &mut Info, websocket: bool) {
        if !websocket || info.connect_urls.is_empty() {
            return;
        }
        let Some(c) = self.cluster.get() else {
            return;
        };
        let mut urls = self.own_ws_urls();
        for u in c.peer_ws_urls() {
            if !urls.contains(&u) {
                urls.push(u);
            }
        }
        info.connect_urls = urls;
    }

    /// This server's WebSocket URL for other members' WebSocket clients:
    /// the listener's `advertise`, else its address (none without one).
    pub fn own_ws_urls(&self) -> Vec<String> {
        let Some(ws) = self.websocket.get() else {
            return Vec::new();
        };
        if let Some(a) = &ws.config.advertise {
            return vec![a.clone()];
        }
        urls_for(&ws.config.host, ws.addr.port())
    }

    /// The first INFO line of a client arriving over WebSocket (`websocket`)
    /// or TCP: `auth_required` follows the auth that client logs in with.
    pub fn first_info_line(
        &self,
        cid: u64,
        addr: SocketAddr,
        nonce: Option<&str>,
        websocket: bool,
    ) -> Vec<u8> {
        let mut info = self.client_info(cid, addr, None, nonce);
        self.websocket_urls(&mut info, websocket);
        if websocket {
            info.auth_required =
                self.auth_for(true).info_auth_required() || self.operator.is_some();
        }
        info.to_line()
    }

    /// The INFO line sent inside TLS after a handshake-first: it always
    /// says TLS is required (as nats-server).
    pub fn client_info_line_tls_first(
        &self,
        cid: u64,
        addr: SocketAddr,
        nonce: Option<&str>,
    ) -> Vec<u8> {
        let mut info = self.client_info(cid, addr, None, nonce);
        info.tls_required = true;
        info.to_line()
    }

    fn client_info(
        &self,
        cid: u64,
        addr: SocketAddr,
        account: Option<&Arc<Account>>,
        nonce: Option<&str>,
    ) -> Info {
        let mut info = self.info.clone();
        if let Some(a) = self.listen_addr.get() {
            info.port = a.port();
        }
        let opts = self.opts();
        // Reloadable settings come from the options and auth in force.
        info.max_payload = opts.max_payload;
        info.auth_required = self.auth().info_auth_required() || self.operator.is_some();
        if !opts.client_advertise.is_empty() {
            if let Some((h, p)) = opts.client_advertise.rsplit_once(':') {
                info.host = h.to_owned();
                info.port = p.parse().unwrap_or(info.port);
            } else {
                info.host = opts.client_advertise.clone();
            }
        }
        if let Some(c) = self.cluster.get() {
            info.cluster = c.name();
            if !c.config().no_advertise {
                let mut urls = self.own_client_urls();
                for u in c.peer_client_urls() {
                    if !urls.contains(&u) {
                        urls.push(u);
                    }
                }
                info.connect_urls = urls;
            }
        }
        info.client_id = cid;
        if let Some(n) = nonce {
            info.nonce = n.to_owned();
        }
        info.client_ip = addr.ip().to_string();
        if let Some(acc) = account {
            info.connect_info = true;
            info.remote_account = acc.name.to_string();
            info.acc_is_sys = self.is_system_account(acc);
            let acc_max = acc.limits().max_payload;
            if acc_max > 0 && acc_max < info.max_payload as i64 {
                info.max_payload = acc_max as _;
            }
        }
        info
    }

    /// Adds a connection; false when `max_connections` is reached.
    ///
    /// When clients must authenticate, connections that have not sent
    /// CONNECT yet are bounded: beyond [`MAX_PENDING_LOGINS`] of them, or when
    /// the server is full, the oldest one is closed to make room. A flood of
    /// idle or slowloris connections therefore cannot keep clients that do
    /// log in from getting a slot.
    pub fn register_client(&self, c: &Arc<ClientShared>) -> Registration {
        let max = self.opts().max_connections;
        let auth = self.auth_enabled();
        let mut clients = self.clients.lock();
        if self.stopping.load(Ordering::Acquire) || self.is_lame_duck() {
            return Registration::ShuttingDown;
        }
        if max >= 0 && clients.len() >= max as usize && !(auth && self.evict_pending_login()) {
            return Registration::Full;
        }
        clients.insert(c.id, c.clone());
        drop(clients);
        self.stats.total_connections.fetch_add(1, Ordering::Relaxed);
        if auth {
            let mut pending = self.pending_logins.lock();
            pending.push_back(Arc::downgrade(c));
            let over = pending.len() > MAX_PENDING_LOGINS;
            drop(pending);
            if over {
                self.evict_pending_login();
            }
        }
        Registration::Registered
    }

    /// Closes the oldest connection still waiting for its CONNECT; false when
    /// there is none.
    fn evict_pending_login(&self) -> bool {
        let mut pending = self.pending_logins.lock();
        while let Some(w) = pending.pop_front() {
            let Some(c) = w.upgrade() else { continue };
            if c.connect_seen() || c.out.closing().is_some() {
                continue;
            }
            drop(pending);
            log::warn!(
                "{} - cid:{} - closed before CONNECT to make room for new connections",
                c.addr,
                c.id
            );
            c.close_with_error("Authentication Timeout", CloseReason::AuthenticationTimeout);
            return true;
        }
        false
    }

    /// Removes a closed connection, remembering it for monitoring.
    /// `subs` are the subjects it was subscribed to.
    pub fn unregister_client(&self, c: &ClientShared, reason: CloseReason, subs: Vec<String>) {
        self.clients.lock().remove(&c.id);
        let out_msgs = c.stats.out_msgs.load(Ordering::Relaxed);
        let out_bytes = c.stats.out_bytes.load(Ordering::Relaxed);
        self.stats
            .closed_out_msgs
            .fetch_add(out_msgs, Ordering::Relaxed);
        self.stats
            .closed_out_bytes
            .fetch_add(out_bytes, Ordering::Relaxed);
        let slow = matches!(
            reason,
            CloseReason::SlowConsumerPendingBytes | CloseReason::SlowConsumerWriteDeadline
        );
        if slow {
            self.stats.slow_consumers.fetch_add(1, Ordering::Relaxed);
        }
        if reason == CloseReason::StaleConnection {
            self.stats.stale_connections.fetch_add(1, Ordering::Relaxed);
        }
        c.account.read().closed.add(
            c.stats.in_msgs.load(Ordering::Relaxed),
            c.stats.in_bytes.load(Ordering::Relaxed),
            out_msgs,
            out_bytes,
            slow,
        );
        let max = self.opts().max_closed_clients.max(0) as usize;
        if max == 0 {
            return;
        }
        let entry = ClosedClient {
            cid: c.id,
            addr: c.addr,
            start: c.start,
            stop: SystemTime::now(),
            reason,
            account: c.account.read().name.to_string(),
            meta: c.meta.lock().clone(),
            in_msgs: c.stats.in_msgs.load(Ordering::Relaxed),
            in_bytes: c.stats.in_bytes.load(Ordering::Relaxed),
            out_msgs,
            out_bytes,
            stalls: c.stats.stalls.load(Ordering::Relaxed),
            stalled_ns: c.stats.stalled_ns.load(Ordering::Relaxed),
            throttled_ns: c.stats.throttled_ns.load(Ordering::Relaxed),
            bulk_lane: c.stats.bulk_lane.load(Ordering::Relaxed),
            subs,
        };
        let mut closed = self.closed.lock();
        while closed.len() >= max {
            closed.pop_front();
        }
        closed.push_back(entry);
    }

    /// The remembered closed connections, oldest first.
    pub fn closed_clients(&self) -> Vec<ClosedClient> {
        self.closed.lock().iter().cloned().collect()
    }

    pub fn num_clients(&self) -> usize {
        self.clients.lock().len()
    }

    /// The live connection with this id.
    pub fn client(&self, id: u64) -> Option<Arc<ClientShared>> {
        self.clients.lock().get(&id).cloned()
    }

    /// Asks every client connection of `account` to move to the bulk lane
    /// (a noisy tenant's; see `lanes`). Those that cannot move stay.
    pub fn move_to_bulk_lane(&self, account: &Arc<Account>) {
        let clients: Vec<_> = self.clients.lock().values().cloned().collect();
        for c in clients {
            if Arc::ptr_eq(&c.account.read(), account) {
                c.out.request_move();
            }
        }
    }

    /// Starts, once per server, the bulk lane's sweep: every
    /// [`lanes::QUIET_CHECK`](lanes::QUIET_CHECK) it asks the connections
    /// there that have been quiet to move back to the main lane. One task
    /// for all of them, so a connection's own read loop carries nothing for
    /// it. It ends with the server.
    pub fn sweep_bulk_lane(self: &Arc<Self>, bulk: &'static tokio::runtime::Runtime) {
        if self.bulk_sweep.swap(true, Ordering::AcqRel) {
            return;
        }
        let server = Arc::downgrade(self);
        bulk.spawn(async move {
            loop {
                tokio::time::sleep(lanes::QUIET_CHECK).await;
                let Some(s) = server.upgrade() else { return };
                s.return_quiet_connections();
            }
        });
    }

    /// Asks every quiet connection on the bulk lane to move back.
    fn return_quiet_connections(&self) {
        let moved: Vec<_> = self
            .clients
            .lock()
            .values()
            .filter(|c| c.stats.bulk_lane.load(Ordering::Relaxed))
            .cloned()
            .collect();
        for c in moved {
            if client::may_leave_bulk_lane(&c) {
                c.out.request_return();
            }
        }
    }

    /// A snapshot of the live connections.
    pub fn clients(&self) -> Vec<Arc<ClientShared>> {
        let mut v: Vec<_> = self.clients.lock().values().cloned().collect();
        v.sort_by_key(|c| c.id);
        v
    }

    pub fn count_inbound(&self, msgs: u64, bytes: u64) {
        self.stats.in_msgs.fetch_add(msgs, Ordering::Relaxed);
        self.stats.in_bytes.fetch_add(bytes, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advertised_urls_of_a_listener() {
        assert_eq!(urls_for("127.0.0.1", 4222), ["127.0.0.1:4222"]);
        assert_eq!(urls_for("::1", 4222), ["[::1]:4222"]);
        assert_eq!(urls_for("nats.example", 4222), ["nats.example:4222"]);
        // Every interface: the machine's own addresses, never the wildcard.
        let any = urls_for("0.0.0.0", 4222);
        assert!(!any.is_empty());
        for u in &any {
            assert!(!u.starts_with("0.0.0.0") && u.ends_with(":4222"), "{u}");
            let host = u.trim_end_matches(":4222");
            assert!(host.parse::<std::net::Ipv4Addr>().is_ok(), "{u}");
        }
    }
}

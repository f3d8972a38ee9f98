//! Clustering: links between servers of one cluster (routes).
//!
//! - [`proto`]: the route wire protocol on its own, parser and encoders.
//! - [`info`]: the JSON of route INFO and CONNECT, and the pool slot hash.
//! - [`route`]: one route connection: handshake, interest, messages.
//! - this file: the cluster as a whole ([`Cluster`]): the listener, the
//!   routes to each remote server (a pool of connections plus one per pinned
//!   account, as nats-server 2.15 keeps them), soliciting and re-dialing,
//!   gossip of new members, and the interest hook that announces local
//!   interest changes to the routes.
//!
//! How a message crosses: each server's accounts hold other servers'
//! interest as subscriptions of the route connection (with a queue group's
//! weight), so the publisher's [`Fanout`](crate::server::fanout::Fanout)
//! finds routes in the same lookup as local subscribers and sends each route
//! one RMSG. A message from a route is delivered to local subscribers only.
//!
//! Lock order: an account's interest lock → [`Cluster::remotes`] → a route's
//! outbound buffer. Route registration takes `remotes` alone, then sends the
//! interest snapshot account by account.

pub mod config;
pub mod info;
pub mod proto;
pub mod route;

use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::BytesMut;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::server::Server;
use crate::subject::{subject_is_subset, subject_matches};
use crate::tenancy::account::Account;
use crate::tenancy::interest::InterestHook;
use config::{ClusterConfig, RouteUrl};
use info::{pool_index, RouteInfo, SubjectLists};
use route::RouteConn;

/// Delay between dials of a route that is down.
const RECONNECT_DELAY: Duration = Duration::from_secs(1);

/// The connections to one other server.
#[derive(Default)]
pub struct Remote {
    pub name: String,
    /// The remote runs without pooling (or we do): one connection carries
    /// every account.
    pub no_pool: bool,
    /// Pool slots (one slot without pooling).
    pub conns: Vec<Option<Arc<RouteConn>>>,
    /// Connections dedicated to one account.
    pub pinned: HashMap<Arc<str>, Arc<RouteConn>>,
    /// The remote's client URLs (for clients' `connect_urls`).
    pub connect_urls: Vec<String>,
    /// The remote's INFO as first received (forwarded to new members).
    pub info: RouteInfo,
}

impl Remote {
    fn all(&self) -> impl Iterator<Item = &Arc<RouteConn>> {
        self.conns.iter().flatten().chain(self.pinned.values())
    }

    fn is_empty(&self) -> bool {
        self.all().next().is_none()
    }

    /// The connection that carries `account` to this remote.
    fn conn_for(
        &self,
        account: &str,
        pool_size: usize,
        pinned_here: bool,
    ) -> Option<&Arc<RouteConn>> {
        if self.no_pool {
            return self.conns.first().and_then(Option::as_ref);
        }
        if pinned_here {
            // Carried by its own connection only (sent whole when it is up).
            return self.pinned.get(account);
        }
        self.conns
            .get(pool_index(pool_size, account))
            .and_then(Option::as_ref)
    }
}

/// The cluster this server is a member of.
pub struct Cluster {
    server: Weak<Server>,
    /// The block in force and the accounts pinned with it, replaced
    /// together by a reload.
    live: arc_swap::ArcSwap<Live>,
    /// The cluster name in force (a generated one may be replaced by a
    /// peer's, as nats-server does).
    name: RwLock<String>,
    dynamic: AtomicBool,
    /// The bound route listener.
    pub addr: SocketAddr,
    /// Other servers by server id.
    pub remotes: Mutex<HashMap<String, Remote>>,
    stop: watch::Receiver<bool>,
    /// `tls {}` of the cluster block: every route runs TLS from its first
    /// byte, both sides presenting and verifying certificates.
    tls: Option<RouteTls>,
}

/// The cluster settings in force.
struct Live {
    config: Arc<ClusterConfig>,
    /// Accounts with a dedicated connection (the configured ones and the
    /// system account).
    pinned: Arc<[Arc<str>]>,
}

/// Both sides of route TLS.
struct RouteTls {
    acceptor: tokio_rustls::TlsAcceptor,
    connector: tokio_rustls::TlsConnector,
    timeout: Duration,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").field("addr", &self.addr).finish()
    }
}

impl Cluster {
    /// Binds the route listener, installs the interest hook and starts
    /// accepting and soliciting.
    ///
    /// # Errors
    /// The listener cannot be bound.
    pub async fn start(
        server: &Arc<Server>,
        config: Arc<ClusterConfig>,
        stop: watch::Receiver<bool>,
    ) -> std::io::Result<Arc<Cluster>> {
        let tls = match &config.tls {
            Some(t) => Some(RouteTls {
                acceptor: t.acceptor.clone(),
                connector: t.connector().map_err(|e| {
                    std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string())
                })?,
                timeout: t.options.timeout,
            }),
            None => None,
        };
        let listener = TcpListener::bind(config.listen_addr()).await?;
        let addr = listener.local_addr()?;
        let (name, dynamic) = match &config.name {
            Some(n) if !n.is_empty() => (n.clone(), false),
            _ => (
                crate::nkeys::KeyPair::new_server().public_key()[..22].to_owned(),
                true,
            ),
        };
        let pinned = pinned_of(server, &config);
        for w in &config.warnings {
            log::warn!("{w}");
        }
        let cluster = Arc::new(Cluster {
            server: Arc::downgrade(server),
            live: arc_swap::ArcSwap::from_pointee(Live {
                config: config.clone(),
                pinned,
            }),
            name: RwLock::new(name),
            dynamic: AtomicBool::new(dynamic),
            addr,
            remotes: Mutex::new(HashMap::new()),
            stop: stop.clone(),
            tls,
        });
        log::info!("Cluster name is {}", cluster.name());
        if dynamic {
            log::warn!("Cluster name was dynamically generated, consider setting one");
        }
        log::info!("Listening for route connections on {addr}");
        server
            .accounts
            .set_interest_hook(Arc::new(Hook(Arc::downgrade(&cluster))));
        let _ = server.cluster.set(cluster.clone());
        tokio::spawn(accept_loop(cluster.clone(), listener));
        for url in &config.routes {
            cluster.solicit(url.clone(), true, None, 0);
        }
        Ok(cluster)
    }

    /// The cluster block in force.
    pub fn config(&self) -> Arc<ClusterConfig> {
        self.live.load().config.clone()
    }

    /// The accounts with a dedicated connection.
    pub fn pinned(&self) -> Arc<[Arc<str>]> {
        self.live.load().pinned.clone()
    }

    pub fn server(&self) -> Option<Arc<Server>> {
        self.server.upgrade()
    }

    pub fn name(&self) -> String {
        self.name.read().clone()
    }

    pub fn is_dynamic(&self) -> bool {
        self.dynamic.load(Ordering::Relaxed)
    }

    /// Takes a peer's cluster name (ours was generated).
    fn adopt_name(&self, name: &str, remote_dynamic: bool) {
        *self.name.write() = name.to_owned();
        if !remote_dynamic {
            self.dynamic.store(false, Ordering::Relaxed);
        }
        log::info!("Cluster name updated to {name}");
    }

    /// Whether a peer's cluster name may join ours; adopts it when ours is
    /// generated and theirs is configured or sorts higher (nats-server's
    /// rule).
    fn accept_name(&self, theirs: &str, their_dynamic: bool) -> bool {
        let ours = self.name();
        if theirs == ours {
            return true;
        }
        if self.is_dynamic() && (!their_dynamic || ours.as_str() < theirs) {
            self.adopt_name(theirs, their_dynamic);
            return true;
        }
        false
    }

    /// The effective pool size (`None`: no pooling).
    pub fn pool_size(&self) -> Option<usize> {
        (self.config().pool_size > 0).then_some(self.config().pool_size as usize)
    }

    fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    /// Our route INFO (without per-connection fields).
    pub fn route_info(&self) -> RouteInfo {
        let Some(server) = self.server() else {
            return RouteInfo::default();
        };
        let opts = server.opts();
        let (host, port) = match &self.config().advertise {
            Some(a) => split_host_port(a, self.addr.port()),
            None => (self.config().host.clone(), self.addr.port()),
        };
        RouteInfo {
            server_id: server.id.clone(),
            server_name: server.name.clone(),
            version: crate::VERSION.to_owned(),
            proto: 3,
            go: format!("rnats {}", crate::RNATS_VERSION),
            host,
            port,
            headers: server.headers_supported(),
            auth_required: self.config().auth.is_some(),
            tls_required: self.tls.is_some(),
            tls_verify: self.tls.is_some(),
            max_payload: i64::from(opts.max_payload),
            connect_urls: server.own_client_urls(),
            ws_connect_urls: server.own_ws_urls(),
            cluster: self.name(),
            cluster_dynamic: self.is_dynamic(),
            import: self
                .config()
                .permissions
                .as_ref()
                .and_then(|p| p.import.as_ref())
                .map(lists),
            export: self
                .config()
                .permissions
                .as_ref()
                .and_then(|p| p.export.as_ref())
                .map(lists),
            lnoc: false,
            route_pool_size: self.config().pool_size.max(0),
            ..RouteInfo::default()
        }
    }

    /// The WebSocket URLs of every other member, for WebSocket clients'
    /// `connect_urls`.
    pub fn peer_ws_urls(&self) -> Vec<String> {
        let mut urls: Vec<String> = Vec::new();
        for r in self.remotes.lock().values() {
            for u in &r.info.ws_connect_urls {
                if !urls.contains(u) {
                    urls.push(u.clone());
                }
            }
        }
        urls
    }

    /// The client URLs of every other member, for clients' `connect_urls`.
    pub fn peer_client_urls(&self) -> Vec<String> {
        let mut urls: Vec<String> = Vec::new();
        for r in self.remotes.lock().values() {
            for u in &r.connect_urls {
                if !urls.contains(u) {
                    urls.push(u.clone());
                }
            }
        }
        urls
    }

    /// Dials `url` (again and again while it is down, for an explicit
    /// route; `connect_retries` times for one learnt by gossip) and runs
    /// the route. `account`: a connection dedicated to that account.
    pub fn solicit(
        self: &Arc<Self>,
        url: RouteUrl,
        explicit: bool,
        account: Option<Arc<str>>,
        attempt: i64,
    ) {
        self.dial(url, explicit, account, attempt, true);
    }

    /// One more connection of a pool (or a pinned account's) to a remote
    /// already connected: dialed once, never re-dialed (the remote's first
    /// connection re-creates them when it comes back).
    pub fn solicit_extra(
        self: &Arc<Self>,
        url: RouteUrl,
        explicit: bool,
        account: Option<Arc<str>>,
    ) {
        self.dial(url, explicit, account, 0, false);
    }

    fn dial(
        self: &Arc<Self>,
        url: RouteUrl,
        explicit: bool,
        account: Option<Arc<str>>,
        attempt: i64,
        persistent: bool,
    ) {
        let cluster = self.clone();
        tokio::spawn(async move {
            let mut attempt = attempt;
            let mut retried_now = false;
            loop {
                if cluster.stopping() {
                    return;
                }
                let dialed = tokio::time::timeout(
                    Duration::from_secs(2),
                    tokio::net::TcpStream::connect((url.host.as_str(), url.port)),
                )
                .await;
                match dialed {
                    Ok(Ok(stream)) => {
                        let _ = stream.set_nodelay(true);
                        let addr = stream
                            .peer_addr()
                            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
                        let solicit = route::Solicit {
                            url: url.clone(),
                            explicit,
                            account: account.clone(),
                            persistent,
                        };
                        let outcome = cluster.run_solicited(stream, addr, solicit).await;
                        if !persistent || !outcome.reconnect || cluster.stopping() {
                            return;
                        }
                        if explicit && !cluster.still_configured(&url) {
                            return;
                        }
                        attempt = 0;
                        if outcome.retry_now && !retried_now {
                            retried_now = true;
                            continue;
                        }
                    }
                    _ => {
                        log::debug!("Error trying to connect to route {}", url.url);
                    }
                }
                attempt += 1;
                if !persistent || (!explicit && attempt > cluster.config().connect_retries) {
                    return;
                }
                if explicit && !cluster.still_configured(&url) {
                    return;
                }
                let delay = if cluster.config().connect_backoff {
                    (RECONNECT_DELAY * 2u32.saturating_pow(attempt.min(5) as u32))
                        .min(Duration::from_secs(30))
                } else {
                    RECONNECT_DELAY
                };
                let mut stop = cluster.stop.clone();
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = stop.changed() => return,
                }
            }
        });
    }

    /// Runs a route this server dialed: TLS first when the cluster has it
    /// (the peer's certificate verified against the block's CA and the
    /// URL's host), then the route protocol.
    async fn run_solicited(
        self: &Arc<Self>,
        stream: tokio::net::TcpStream,
        addr: SocketAddr,
        solicit: route::Solicit,
    ) -> route::Outcome {
        let Some(t) = &self.tls else {
            return route::run(self.clone(), stream, addr, Some(solicit)).await;
        };
        let shake = match rustls::pki_types::ServerName::try_from(solicit.url.host.clone()) {
            Ok(name) => tokio::time::timeout(t.timeout, t.connector.connect(name, stream))
                .await
                .map_err(|_| "timeout".to_owned())
                .and_then(|r| r.map_err(|e| e.to_string())),
            Err(e) => Err(e.to_string()),
        };
        match shake {
            Ok(s) => route::run(self.clone(), s, addr, Some(solicit)).await,
            Err(e) => {
                log::error!("{addr} - TLS route handshake error: {e}");
                route::Outcome {
                    reconnect: true,
                    retry_now: false,
                }
            }
        }
    }

    /// Runs a route another server dialed: the TLS handshake first (its
    /// client certificate required and verified) when the cluster has TLS.
    async fn run_accepted(self: Arc<Self>, stream: tokio::net::TcpStream, addr: SocketAddr) {
        let Some(t) = &self.tls else {
            route::run(self.clone(), stream, addr, None).await;
            return;
        };
        match tokio::time::timeout(t.timeout, t.acceptor.accept(stream)).await {
            Ok(Ok(s)) => {
                route::run(self.clone(), s, addr, None).await;
            }
            Ok(Err(e)) => log::error!("{addr} - TLS route handshake error: {e}"),
            Err(_) => log::error!("{addr} - TLS route handshake timeout"),
        }
    }

    /// The ping interval of routes (the server's, capped at 30 s).
    pub fn ping_interval(&self) -> Duration {
        let server = self
            .server()
            .map_or(Duration::from_secs(120), |s| s.opts().ping_interval);
        self.config()
            .ping_interval_effective(server)
            .max(Duration::from_millis(10))
    }

    pub fn ping_max(&self) -> i64 {
        let server = self.server().map_or(2, |s| s.opts().ping_max);
        self.config().ping_max_effective(server)
    }

    /// Whether we send interest in `subject` (our `import` permission).
    pub fn may_import(&self, subject: &str) -> bool {
        self.config()
            .permissions
            .as_ref()
            .and_then(|p| p.import.as_ref())
            .is_none_or(|p| allowed(p, subject))
    }

    /// Whether we accept a peer's interest in `subject` (our `export`
    /// permission: what we send).
    pub fn may_export(&self, subject: &str) -> bool {
        self.config()
            .permissions
            .as_ref()
            .and_then(|p| p.export.as_ref())
            .is_none_or(|p| allowed(p, subject))
    }

    /// Every route connection, for monitoring.
    pub fn routes(&self) -> Vec<Arc<RouteConn>> {
        let remotes = self.remotes.lock();
        let mut v: Vec<Arc<RouteConn>> = remotes.values().flat_map(|r| r.all().cloned()).collect();
        v.sort_by_key(|r| r.shared.id);
        v
    }

    /// Sends `line` to every remote once (its first connection).
    fn to_each_remote(&self, except: &str, line: &[u8]) {
        let remotes = self.remotes.lock();
        for (id, r) in remotes.iter() {
            if id == except {
                continue;
            }
            if let Some(c) = r.all().next() {
                c.shared.out.append(|b| b.extend_from_slice(line));
                c.shared.out.flush();
            }
        }
    }

    /// Tells clients that take async INFO about changed cluster URLs.
    fn client_urls_changed(&self) {
        if self.config().no_advertise {
            return;
        }
        if let Some(server) = self.server() {
            server.send_async_info();
        }
    }

    /// Registers a connection whose peer INFO arrived: a pool slot (the one
    /// the soliciting side chose), the pinned account's place, or the one
    /// connection of a remote without pooling. Returns the slot and whether
    /// it is the remote's first connection.
    pub fn add_route(
        &self,
        conn: &Arc<RouteConn>,
        info: &RouteInfo,
        pool: bool,
        pinned: Option<Arc<str>>,
        solicited: bool,
    ) -> Result<(usize, bool), route::AddError> {
        // Servers with different pool sizes (a rolling change) use the
        // larger one, as nats-server does.
        let slots = if pool {
            self.pool_size()
                .unwrap_or(1)
                .max(usize::try_from(info.route_pool_size).unwrap_or(1))
        } else {
            1
        };
        let mut remotes = self.remotes.lock();
        let r = remotes
            .entry(info.server_id.clone())
            .or_insert_with(|| Remote {
                name: info.server_name.clone(),
                no_pool: !pool,
                conns: vec![None; slots],
                pinned: HashMap::new(),
                connect_urls: info.connect_urls.clone(),
                info: info.clone(),
            });
        let first = r.is_empty();
        if first {
            r.no_pool = !pool;
            r.conns = vec![None; slots];
            r.connect_urls.clone_from(&info.connect_urls);
            r.info = info.clone();
            r.name.clone_from(&info.server_name);
        }
        if solicited {
            // A route we dial on behalf of the configuration is configured
            // for all of the remote's connections.
            if conn.explicit.load(Ordering::Relaxed) {
                for c in r.all() {
                    c.explicit.store(true, Ordering::Relaxed);
                    c.did_solicit.store(true, Ordering::Relaxed);
                }
            }
        } else if r.all().any(|c| c.did_solicit.load(Ordering::Relaxed)) {
            conn.did_solicit.store(true, Ordering::Relaxed);
            let explicit = r.all().any(|c| c.explicit.load(Ordering::Relaxed));
            conn.explicit.store(explicit, Ordering::Relaxed);
        }
        if let Some(acc) = pinned {
            if r.pinned.contains_key(&acc) {
                return Err(route::AddError::Duplicate);
            }
            r.pinned.insert(acc, conn.clone());
            return Ok((0, first));
        }
        let idx = if r.no_pool {
            0
        } else if solicited {
            match r.conns.iter().position(Option::is_none) {
                Some(i) => i,
                None => return Err(route::AddError::Duplicate),
            }
        } else {
            let i = info.route_pool_idx;
            if i < 0 || i as usize >= r.conns.len() {
                return Err(route::AddError::BadIndex(format!(
                    "Invalid route pool index: {i} - pool size is {}",
                    info.route_pool_size
                )));
            }
            i as usize
        };
        if r.conns.get(idx).is_some_and(Option::is_some) {
            return Err(route::AddError::Duplicate);
        }
        r.conns[idx] = Some(conn.clone());
        conn.pool_idx.store(idx as i64, Ordering::Relaxed);
        Ok((idx, first))
    }

    /// Forgets a connection that ended; true when it was the remote's last
    /// (its client URLs are gone).
    pub fn remove_route(&self, conn: &Arc<RouteConn>) -> bool {
        let Some(id) = conn.remote_id.get() else {
            return false;
        };
        let mut remotes = self.remotes.lock();
        let Some(r) = remotes.get_mut(id) else {
            return false;
        };
        for slot in r.conns.iter_mut() {
            if slot.as_ref().is_some_and(|c| Arc::ptr_eq(c, conn)) {
                *slot = None;
            }
        }
        r.pinned.retain(|_, c| !Arc::ptr_eq(c, conn));
        if r.is_empty() {
            let had_urls = !r.connect_urls.is_empty();
            remotes.remove(id);
            drop(remotes);
            // Its connections no longer count against account limits.
            if let Some(server) = self.server() {
                for acc in server.accounts.all() {
                    acc.forget_remote_server(id);
                }
            }
            return had_urls;
        }
        false
    }

    /// A remote's client URLs changed; true when they did.
    pub fn update_remote_urls(&self, id: &str, urls: Vec<String>) -> bool {
        let mut remotes = self.remotes.lock();
        match remotes.get_mut(id) {
            Some(r) if r.connect_urls != urls => {
                r.connect_urls = urls;
                true
            }
            _ => false,
        }
    }

    /// Tells the other members about a remote that just joined (its INFO
    /// with `ip`), so they connect to it too; with pooling, one INFO per
    /// pinned account as well, as nats-server gossips them.
    pub fn gossip_new_remote(&self, info: &RouteInfo, pool: bool) {
        let mut fwd = info.clone();
        fwd.nonce.clear();
        fwd.route_pool_idx = 0;
        fwd.route_account.clear();
        fwd.gossip_mode = 0;
        let mut lines = info::info_line(&fwd);
        if pool {
            for acc in self.pinned().iter() {
                let mut p = fwd.clone();
                p.route_account = acc.to_string();
                lines.extend_from_slice(&info::info_line(&p));
            }
        }
        self.to_each_remote(&info.server_id, &lines);
    }

    /// A member told us about another server: connect to it unless we
    /// already are, it is us, or it is one of our configured routes.
    pub fn implicit_route(self: &Arc<Self>, info: &RouteInfo) {
        let Some(server) = self.server() else {
            return;
        };
        if info.server_id == server.id || !info.route_account.is_empty() {
            // Pinned connections follow the pool's first connection.
            return;
        }
        if self.remotes.lock().contains_key(&info.server_id) {
            return;
        }
        let Some(mut url) = route_url_from_ip(&info.ip) else {
            return;
        };
        if self
            .config()
            .routes
            .iter()
            .any(|r| r.port == url.port && r.host.eq_ignore_ascii_case(&url.host))
            || self
                .config()
                .routes
                .iter()
                .any(|r| r.port == info.port && r.host.eq_ignore_ascii_case(&info.host))
        {
            return;
        }
        if info.auth_required {
            route::fill_credentials(self, &mut url);
        }
        self.solicit(url, false, None, 0);
    }

    /// Tells every remote that this server is entering lame-duck mode
    /// (route INFO with `ldm`).
    pub fn announce_lame_duck(&self) {
        let mut info = self.route_info();
        info.ldm = true;
        info.connect_urls.clear();
        self.to_each_remote("", &info::info_line(&info));
    }

    /// Whether a reload may move from the block in force to `new`: the
    /// listener, the name and TLS are set up once (nats-server refuses
    /// changing them too); everything else reloads.
    ///
    /// # Errors
    /// The setting that needs a restart, in nats-server's words.
    pub fn can_reload(&self, new: &ClusterConfig) -> Result<(), String> {
        let cur = self.config();
        if cur.name != new.name {
            return Err("cluster name".into());
        }
        if cur.host != new.host || cur.port != new.port {
            return Err("cluster host or port".into());
        }
        if cur.advertise != new.advertise {
            return Err("cluster advertise in this version of rnats".into());
        }
        if cur.tls.is_some() != new.tls.is_some()
            || cur
                .tls
                .as_ref()
                .zip(new.tls.as_ref())
                .is_some_and(|(a, b)| a.options != b.options)
        {
            return Err("cluster TLS in this version of rnats".into());
        }
        Ok(())
    }

    /// Puts a reloaded block in force (checked with [`Cluster::can_reload`]):
    /// new routes are dialed, removed ones closed and no longer re-dialed;
    /// a changed pool size, pinned accounts or permissions re-create every
    /// route (the peers' interest is sent again under the new rules, as
    /// nats-server does). Returns what changed, for the log.
    pub fn reload(self: &Arc<Self>, new: Arc<ClusterConfig>) -> Vec<String> {
        let cur = self.config();
        let mut changes = Vec::new();
        let Some(server) = self.server() else {
            return changes;
        };
        let same =
            |a: &RouteUrl, b: &RouteUrl| a.port == b.port && a.host.eq_ignore_ascii_case(&b.host);
        let removed: Vec<RouteUrl> = cur
            .routes
            .iter()
            .filter(|r| !new.routes.iter().any(|n| same(r, n)))
            .cloned()
            .collect();
        let added: Vec<RouteUrl> = new
            .routes
            .iter()
            .filter(|n| !cur.routes.iter().any(|r| same(r, n)))
            .cloned()
            .collect();
        let rebuild = cur.pool_size != new.pool_size
            || cur.accounts != new.accounts
            || cur.permissions != new.permissions;
        if cur.no_advertise != new.no_advertise {
            changes.push(format!("cluster no_advertise: {}", new.no_advertise));
        }
        if cur.auth != new.auth {
            changes.push("cluster authorization".into());
        }
        let pinned = pinned_of(&server, &new);
        self.live.store(Arc::new(Live {
            config: new.clone(),
            pinned,
        }));
        if rebuild {
            changes.push("cluster pool_size, accounts or permissions: routes re-created".into());
            for r in self.routes() {
                r.shared
                    .close(crate::server::close::CloseReason::RouteRemoved);
            }
        } else {
            for r in self.routes() {
                if r.dialed
                    .as_ref()
                    .is_some_and(|d| removed.iter().any(|u| same(u, d)))
                {
                    r.shared
                        .close(crate::server::close::CloseReason::RouteRemoved);
                }
            }
        }
        for u in &removed {
            changes.push(format!("cluster route removed: {}", u.redacted()));
        }
        for u in added {
            changes.push(format!("cluster route added: {}", u.redacted()));
            self.solicit(u, true, None, 0);
        }
        if cur.no_advertise != new.no_advertise {
            server.send_async_info();
        }
        changes
    }

    /// Whether some connection to the remote server `id` is up.
    pub fn is_connected_to(&self, id: &str) -> bool {
        self.remotes.lock().contains_key(id)
    }

    /// Whether an explicit route to `url` is still in the configuration
    /// (a route removed by a reload is not dialed again).
    fn still_configured(&self, url: &RouteUrl) -> bool {
        self.config()
            .routes
            .iter()
            .any(|r| r.port == url.port && r.host.eq_ignore_ascii_case(&url.host))
    }

    /// Closes every route (shutdown).
    pub fn close_all(&self) {
        for r in self.routes() {
            r.shared
                .close(crate::server::close::CloseReason::ServerShutdown);
        }
    }
}

/// Whether `subject` (possibly a wildcard) passes allow/deny lists.
fn allowed(p: &crate::auth::permissions::SubjectPermission, subject: &str) -> bool {
    if let Some(allow) = &p.allow {
        if !allow
            .iter()
            .any(|e| subject_is_subset(subject, &e.subject) || subject_matches(&e.subject, subject))
        {
            return false;
        }
    }
    !p.deny
        .iter()
        .any(|e| subject_matches(&e.subject, subject) || subject_is_subset(subject, &e.subject))
}

fn lists(p: &crate::auth::permissions::SubjectPermission) -> SubjectLists {
    SubjectLists {
        allow: p
            .allow
            .iter()
            .flatten()
            .map(|e| e.subject.clone())
            .collect(),
        deny: p.deny.iter().map(|e| e.subject.clone()).collect(),
    }
}

/// The accounts pinned under `config`: none without pooling, else the
/// configured ones and the system account.
fn pinned_of(server: &Server, config: &ClusterConfig) -> Arc<[Arc<str>]> {
    if config.pool_size < 0 {
        return Arc::from(Vec::new());
    }
    let sys = server
        .accounts
        .system()
        .map(|a| a.name.to_string())
        .unwrap_or_default();
    config
        .pinned_accounts(&sys)
        .into_iter()
        .filter(|a| !a.is_empty())
        .map(Into::into)
        .collect()
}

/// The dialable URL of a gossiped `ip` (`nats-route://host:port/`).
fn route_url_from_ip(ip: &str) -> Option<RouteUrl> {
    let rest = ip.split_once("://").map_or(ip, |(_, r)| r);
    let hp = rest.trim_end_matches('/');
    let (host, port) = hp.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Some(RouteUrl {
        url: ip.to_owned(),
        host: host.to_owned(),
        port: port.parse().ok()?,
        user: None,
        password: None,
    })
}

fn split_host_port(s: &str, default_port: u16) -> (String, u16) {
    match s.rsplit_once(':') {
        Some((h, p)) => (h.to_owned(), p.parse().unwrap_or(default_port)),
        None => (s.to_owned(), default_port),
    }
}

async fn accept_loop(cluster: Arc<Cluster>, listener: TcpListener) {
    let mut stop = cluster.stop.clone();
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(cluster.clone().run_accepted(stream, addr));
                }
                Err(e) => {
                    log::error!("Error accepting route connection: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            _ = stop.changed() => return,
        }
    }
}

/// Announces local interest changes on the routes.
struct Hook(Weak<Cluster>);

impl InterestHook for Hook {
    fn changed(&self, acc: &Account, subject: &str, queue: Option<&str>, count: u32) {
        let Some(cluster) = self.0.upgrade() else {
            return;
        };
        if !cluster.may_import(subject) {
            return;
        }
        let pool = cluster.pool_size().unwrap_or(1);
        let pinned = cluster.pinned().contains(&acc.name);
        let remotes = cluster.remotes.lock();
        for r in remotes.values() {
            if let Some(c) = r.conn_for(&acc.name, pool, pinned) {
                if !c.ready() {
                    continue;
                }
                let account = c.account_token(&acc.name);
                c.shared.out.append(|b: &mut BytesMut| {
                    if count == 0 {
                        proto::rs_minus(b, account, subject, queue);
                    } else {
                        proto::rs_plus(b, account, subject, queue.map(|q| (q, count)));
                    }
                });
                c.shared.out.flush();
            }
        }
    }
}

//! Starting and stopping a streaming server: open and recover the store,
//! connect to NATS, make sure no other server serves the cluster ID, then
//! run the engine on its own thread.
//!
//! With an `ft_group` the server may start as a standby: it listens to the
//! active server's heartbeats on `_STAN.ft.<cluster id>.<group>` and, when
//! they stop, tries to take the store's lock. Only the lock holder serves,
//! so there are never two active servers even when heartbeats are lost;
//! the heartbeats only make a standby try sooner.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

use super::config::{StoreType, StreamingOptions};
use super::engine::{Engine, EngineConfig, Event};
use super::store::file::{FileOptions, FileStore};
use super::store::sql::{SqlOptions, SqlStore};
use super::store::{memory::MemoryStore, Store, StoreError};

/// How often the active server of an FT group says so.
const FT_HEARTBEAT: Duration = Duration::from_secs(1);
/// How long a standby waits without a heartbeat before it tries the lock.
const FT_SILENCE: Duration = Duration::from_millis(1250);
/// How long the SQL store's lock row stays ours without a renewal (the
/// engine renews it twice a second).
const SQL_LOCK_LEASE: Duration = Duration::from_secs(3);

/// Why a streaming server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Io(#[from] super::io::IoError),
    #[error("discovered another streaming server with cluster ID {0:?}")]
    AnotherServer(String),
    /// Partitioning: a channel is served by another server too.
    #[error("{0}")]
    Partition(String),
    #[error("cluster ID {configured:?} does not match recovered value of {recovered:?}")]
    ClusterIdMismatch {
        configured: String,
        recovered: String,
    },
}

/// The server's state as `/streaming/serverz` reports it.
pub type StateCell = Arc<parking_lot::Mutex<&'static str>>;

/// Runs functions on the engine's state from other threads (monitoring).
#[derive(Clone)]
pub struct Inspector {
    events: Arc<std::sync::OnceLock<mpsc::Sender<Event>>>,
    /// The server ID `/streaming/serverz` reports.
    pub server_id: String,
    pub cluster_id: String,
    pub state: StateCell,
}

impl Inspector {
    /// Runs `f` on the engine's state (between two batches) and returns
    /// its result; `None` when the engine is busy beyond `timeout`, not
    /// running (a standby) or gone.
    pub fn inspect<T: Send + 'static>(
        &self,
        timeout: Duration,
        f: impl FnOnce(&Engine) -> T + Send + 'static,
    ) -> Option<T> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let ev = Event::Inspect(Box::new(move |e| {
            let _ = tx.send(f(e));
        }));
        self.events.get()?.try_send(ev).ok()?;
        rx.recv_timeout(timeout).ok()
    }
}

/// The engine and the tasks around it, once the server is active.
struct Running {
    events: mpsc::Sender<Event>,
    engine: std::thread::JoinHandle<()>,
    /// The tasks that feed the engine: the subscriptions, the ticker, the
    /// FT heartbeat.
    inputs: Vec<tokio::task::JoinHandle<()>>,
    publisher: tokio::task::JoinHandle<()>,
}

impl Running {
    async fn stop(self) {
        // No new events; the engine finishes what it took, its last output
        // is published, then the publisher ends with the engine's sender.
        for t in &self.inputs {
            t.abort();
        }
        let _ = self.events.send(Event::Stop).await;
        let engine = self.engine;
        let _ = tokio::task::spawn_blocking(move || engine.join()).await;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.publisher).await;
    }
}

/// A running (or standing-by) streaming server.
pub struct StreamingHandle {
    inspector: Inspector,
    stop: watch::Sender<bool>,
    runner: tokio::task::JoinHandle<Option<Running>>,
    client: async_nats::Client,
    /// Set when the server stops: the NATS connection is not made again.
    stopping: Arc<std::sync::atomic::AtomicBool>,
    pub cluster_id: String,
}

impl std::fmt::Debug for StreamingHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamingHandle")
            .field("cluster_id", &self.cluster_id)
            .finish()
    }
}

impl StreamingHandle {
    pub fn inspector(&self) -> Inspector {
        self.inspector.clone()
    }

    /// The server is about to stop (its embedded NATS server first): from
    /// now on a lost NATS connection is not made again.
    pub fn begin_stop(&self) {
        self.stopping
            .store(true, std::sync::atomic::Ordering::Release);
    }

    /// Stops the engine after the events already taken, flushes the store
    /// and closes the NATS connection. A standby just stops waiting.
    pub async fn shutdown(self) {
        // Set already: the embedded server closed the connection first.
        let connection_gone = self
            .stopping
            .swap(true, std::sync::atomic::Ordering::AcqRel);
        let _ = self.stop.send(true);
        if let Ok(Some(running)) = self.runner.await {
            running.stop().await;
        }
        *self.inspector.state.lock() = "SHUTDOWN";
        // The last replies go out, unless the connection is gone already.
        if !connection_gone {
            let _ = tokio::time::timeout(Duration::from_secs(1), self.client.flush()).await;
        }
    }
}

/// Opens the configured store (with encryption around it when asked).
///
/// # Errors
/// When the store cannot be opened (missing directory, locked by another
/// server, bad database settings, missing encryption key).
pub fn open_store(opts: &StreamingOptions, owner: &str) -> Result<Box<dyn Store>, StartError> {
    let store: Box<dyn Store> = match opts.store {
        StoreType::Memory => Box::new(MemoryStore::new()),
        StoreType::File => {
            let dir = opts.dir.as_ref().ok_or_else(|| {
                StartError::Config("for file store, a directory must be specified".into())
            })?;
            let f = &opts.file;
            let fo = FileOptions {
                sync: f.sync,
                crc: f.crc,
                buffer_size: usize::try_from(f.buffer_size).unwrap_or(usize::MAX),
                slice_max_msgs: f.slice_max_msgs,
                slice_max_bytes: f.slice_max_bytes,
                slice_max_age: f.slice_max_age,
                slice_archive_script: f.slice_archive_script.clone().map(PathBuf::from),
                fds_limit: usize::try_from(f.fds_limit).unwrap_or(usize::MAX),
                compact: f.compact,
                ..FileOptions::default()
            };
            Box::new(FileStore::open(dir, fo)?)
        }
        StoreType::Sql => {
            match opts.sql.driver.to_ascii_lowercase().as_str() {
                "" | "postgres" | "postgresql" | "pgx" => {}
                other => {
                    return Err(StartError::Config(format!(
                        "sql driver {other:?} is not supported (only postgres)"
                    )))
                }
            }
            if opts.sql.source.is_empty() {
                return Err(StartError::Config(
                    "for sql store, a data source must be specified (--sql_source)".into(),
                ));
            }
            let mut store = SqlStore::open(
                &opts.sql.source,
                SqlOptions {
                    no_caching: opts.sql.no_caching,
                    ..SqlOptions::default()
                },
            )?;
            // A shared database: the lock row decides who serves.
            if opts.ft_group.is_some() && !store.try_lock(owner, SQL_LOCK_LEASE)? {
                return Err(StartError::Store(StoreError::Locked));
            }
            Box::new(store)
        }
    };
    if !opts.encryption.enabled {
        return Ok(store);
    }
    let cipher =
        super::store::crypto::Cipher::parse(&opts.encryption.cipher).map_err(StartError::Config)?;
    let key = std::env::var("NATS_STREAMING_ENCRYPTION_KEY")
        .ok()
        .filter(|k| !k.is_empty())
        .unwrap_or_else(|| opts.encryption.key.clone());
    Ok(Box::new(super::store::crypto::EncryptedStore::new(
        store,
        cipher,
        key.as_bytes(),
    )?))
}

/// Opens the store from a blocking thread; `None` while another server
/// holds it.
async fn try_open(
    opts: &StreamingOptions,
    owner: &str,
) -> Result<Option<Box<dyn Store>>, StartError> {
    let o = opts.clone();
    let owner = owner.to_owned();
    match tokio::task::spawn_blocking(move || open_store(&o, &owner)).await {
        Ok(Ok(s)) => Ok(Some(s)),
        Ok(Err(StartError::Store(StoreError::Locked))) => Ok(None),
        Ok(Err(e)) => Err(e),
        Err(e) => Err(StartError::Config(format!("store open panicked: {e}"))),
    }
}

/// Starts a streaming server whose NATS connection goes to `nats_url`.
/// Without an FT group it is active when this returns; with one it may
/// stand by, and becomes active in the background.
///
/// # Errors
/// See [`StartError`]; for a standby, only what fails before it waits.
pub async fn start(opts: &StreamingOptions, nats_url: &str) -> Result<StreamingHandle, StartError> {
    opts.validate()
        .map_err(|e| StartError::Config(e.to_string()))?;
    if opts.clustered {
        return Err(StartError::Config(
            "clustering (Raft) is not available in rnats-streaming-server; use ft_group for fault tolerance".into(),
        ));
    }
    log::info!(
        "STREAM: Starting rnats-streaming-server[{}] version {}",
        opts.cluster_id,
        crate::RNATS_VERSION
    );
    let server_id = nuid::next().to_string();
    log::info!("STREAM: ServerID: {server_id}");
    let name = format!("_NSS-{}-general", opts.cluster_id);
    let stopping = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let client = super::io::connect(nats_url, &opts.nats, &name, stopping.clone()).await?;
    let state: StateCell = Arc::new(parking_lot::Mutex::new("STANDALONE"));
    let inspector = Inspector {
        events: Arc::new(std::sync::OnceLock::new()),
        server_id,
        cluster_id: opts.cluster_id.clone(),
        state: state.clone(),
    };
    let (stop, stop_rx) = watch::channel(false);
    let runner = match opts.ft_group.clone() {
        None => {
            let store = try_open(opts, &inspector.server_id)
                .await?
                .ok_or(StartError::Store(StoreError::Locked))?;
            let running = activate(opts, &client, store, &inspector, None).await?;
            tokio::spawn(async move { Some(running) })
        }
        Some(group) => {
            let subject = format!("_STAN.ft.{}.{group}", opts.cluster_id);
            let hb = client.subscribe(subject.clone()).await.map_err(|e| {
                super::io::IoError::Subscribe {
                    subject: subject.clone(),
                    reason: e.to_string(),
                }
            })?;
            *state.lock() = "FT_STANDBY";
            log::info!("STREAM: Starting in standby mode");
            let opts = opts.clone();
            let client = client.clone();
            let inspector = inspector.clone();
            tokio::spawn(
                async move { stand_by(opts, client, hb, subject, inspector, stop_rx).await },
            )
        }
    };
    Ok(StreamingHandle {
        inspector,
        stop,
        runner,
        client,
        stopping,
        cluster_id: opts.cluster_id.clone(),
    })
}

/// A standby's wait: try the store's lock whenever the active server has
/// been silent for [`FT_SILENCE`]; once it is ours, serve. A failure after
/// that point ends the process, as a server that cannot serve must not keep
/// its lock.
async fn stand_by(
    opts: StreamingOptions,
    client: async_nats::Client,
    mut hb: async_nats::Subscriber,
    subject: String,
    inspector: Inspector,
    mut stop: watch::Receiver<bool>,
) -> Option<Running> {
    use futures::StreamExt;
    loop {
        tokio::select! {
            _ = stop.changed() => return None,
            m = hb.next() => {
                // A heartbeat: the active server lives; wait again.
                m.as_ref()?;
                continue;
            }
            () = tokio::time::sleep(FT_SILENCE) => {}
        }
        match try_open(&opts, &inspector.server_id).await {
            Ok(None) => continue,
            Ok(Some(store)) => {
                log::info!("STREAM: Server is active");
                let hb_task = tokio::spawn(ft_heartbeat(client.clone(), subject.clone()));
                drop(hb);
                match activate(&opts, &client, store, &inspector, Some(hb_task)).await {
                    Ok(r) => {
                        *inspector.state.lock() = "FT_ACTIVE";
                        return Some(r);
                    }
                    Err(e) => {
                        log::error!("STREAM: cannot become active: {e}");
                        std::process::exit(1);
                    }
                }
            }
            Err(e) => {
                log::error!("STREAM: cannot open the store: {e}");
                std::process::exit(1);
            }
        }
    }
}

/// The active server's heartbeat to its standbys.
async fn ft_heartbeat(client: async_nats::Client, subject: String) {
    let mut t = tokio::time::interval(FT_HEARTBEAT);
    loop {
        t.tick().await;
        if client.publish(subject.clone(), "ok".into()).await.is_err() {
            return;
        }
    }
}

/// Drops a store on a blocking thread.
async fn drop_blocking(store: Box<dyn Store>) {
    let _ = tokio::task::spawn_blocking(move || drop(store)).await;
}

type Recovery = (
    Engine,
    super::store::ServerInfo,
    super::store::StoreKind,
    usize,
    usize,
);

/// Recovers the store's state (checking it belongs to this cluster ID) and
/// builds the engine on it.
fn recover_engine(
    opts: &StreamingOptions,
    cfg: EngineConfig,
    mut store: Box<dyn Store>,
) -> Result<Recovery, StartError> {
    let recovered = store.recover()?;
    let info = match &recovered {
        Some(r) => {
            if r.info.cluster_id != opts.cluster_id {
                return Err(StartError::ClusterIdMismatch {
                    configured: opts.cluster_id.clone(),
                    recovered: r.info.cluster_id.clone(),
                });
            }
            r.info.clone()
        }
        None => Engine::new_server_info(&opts.cluster_id, &opts.discover_prefix),
    };
    let kind = store.kind();
    let (clients, channels) = recovered
        .as_ref()
        .map_or((0, 0), |r| (r.clients.len(), r.channels.len()));
    let engine = Engine::new(cfg, info.clone(), store, recovered)?;
    Ok((engine, info, kind, clients, channels))
}

/// Recovers the store and runs the engine on it.
async fn activate(
    opts: &StreamingOptions,
    client: &async_nats::Client,
    store: Box<dyn Store>,
    inspector: &Inspector,
    ft_heartbeat: Option<tokio::task::JoinHandle<()>>,
) -> Result<Running, StartError> {
    let mut partition_task = None;
    if opts.partitioning {
        let ours: Vec<String> = opts
            .limits
            .channels
            .iter()
            .map(|(c, _)| c.clone())
            .collect();
        let id = inspector.server_id.clone();
        if let Some(e) = super::io::partition_conflict(client, &opts.cluster_id, &id, &ours).await {
            drop_blocking(store).await;
            return Err(StartError::Partition(e));
        }
        match super::io::serve_partitions(client, &opts.cluster_id, id, ours).await {
            Ok(t) => partition_task = Some(t),
            Err(e) => {
                drop_blocking(store).await;
                return Err(e.into());
            }
        }
    }
    if opts.ft_group.is_none() && !opts.partitioning {
        let probe = Engine::new_server_info(&opts.cluster_id, &opts.discover_prefix);
        if super::io::another_server_answers(client, &probe).await {
            drop_blocking(store).await;
            return Err(StartError::AnotherServer(opts.cluster_id.clone()));
        }
    }
    let cfg = EngineConfig {
        cluster_id: opts.cluster_id.clone(),
        limits: opts.limits.clone(),
        hb_interval: opts.hb_interval,
        hb_timeout: opts.hb_timeout,
        hb_fail_count: opts.hb_fail_count,
        replace_durable: opts.replace_durable,
        io_batch_size: opts.io_batch_size,
        partitioning: opts.partitioning,
        client_check_timeout: Duration::from_millis(500),
        lock_renewal: opts.ft_group.is_some(),
    };
    // Every store call, its drop included, runs off the runtime's workers:
    // the SQL store's client blocks (and refuses to run inside a runtime).
    let o = opts.clone();
    let built = tokio::task::spawn_blocking(move || recover_engine(&o, cfg, store))
        .await
        .map_err(|e| StartError::Config(format!("store recovery panicked: {e}")))?;
    let (engine, info, kind, clients, channels) = built?;
    let (ev_tx, ev_rx) = mpsc::channel(64 * 1024);
    let (out_tx, out_rx) = mpsc::unbounded_channel();
    // The engine's thread owns the store from here on, whatever happens.
    let engine = std::thread::Builder::new()
        .name("stan-engine".into())
        .spawn(move || engine.run(ev_rx, out_tx))
        .map_err(|e| StartError::Store(StoreError::Io(e)))?;
    let publisher = tokio::spawn(super::io::publish_loop(
        client.clone(),
        out_rx,
        ev_tx.clone(),
    ));
    let forward = match super::io::start_forwarding(client, &info, ev_tx.clone()).await {
        Ok(f) => f,
        Err(e) => {
            let _ = ev_tx.send(Event::Stop).await;
            let _ = tokio::task::spawn_blocking(move || engine.join()).await;
            return Err(e.into());
        }
    };
    let ticker = tokio::spawn(super::io::ticker(ev_tx.clone(), Duration::from_millis(100)));
    let _ = inspector.events.set(ev_tx.clone());
    log::info!("STREAM: Store type: {}", kind.name());
    if clients + channels > 0 {
        log::info!("STREAM: Recovered {channels} channel(s) and {clients} client(s)");
    }
    log::info!("STREAM: Discover subject: {}", info.discovery);
    log::info!("STREAM: Streaming Server is ready");
    let mut inputs = vec![forward, ticker];
    inputs.extend(ft_heartbeat);
    inputs.extend(partition_task);
    Ok(Running {
        events: ev_tx,
        engine,
        inputs,
        publisher,
    })
}

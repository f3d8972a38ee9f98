//! Starting and stopping a streaming server: open and recover the store,
//! connect to NATS, make sure no other server serves the cluster ID, then
//! run the engine on its own thread.

use std::time::Duration;
use tokio::sync::mpsc;

use super::config::{StoreType, StreamingOptions};
use super::engine::{Engine, EngineConfig, Event};
use super::store::{memory::MemoryStore, Store, StoreError};

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
    #[error("cluster ID {configured:?} does not match recovered value of {recovered:?}")]
    ClusterIdMismatch {
        configured: String,
        recovered: String,
    },
}

/// A running streaming server.
pub struct StreamingHandle {
    events: mpsc::Sender<Event>,
    engine: Option<std::thread::JoinHandle<()>>,
    /// The tasks that feed the engine: the subscriptions and the ticker.
    inputs: Vec<tokio::task::JoinHandle<()>>,
    publisher: Option<tokio::task::JoinHandle<()>>,
    client: async_nats::Client,
    pub cluster_id: String,
    pub server_id: String,
    pub store_kind: super::store::StoreKind,
}

impl std::fmt::Debug for StreamingHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamingHandle")
            .field("cluster_id", &self.cluster_id)
            .finish()
    }
}

/// Opens the configured store.
///
/// # Errors
/// When the store cannot be opened (missing directory, locked, bad
/// database settings).
pub fn open_store(opts: &StreamingOptions) -> Result<Box<dyn Store>, StartError> {
    match opts.store {
        StoreType::Memory => Ok(Box::new(MemoryStore::new())),
        StoreType::File | StoreType::Sql => Err(StartError::Config(format!(
            "store type {:?} is not available in this build",
            opts.store
        ))),
    }
}

/// Runs functions on the engine's state from other threads (monitoring).
#[derive(Clone)]
pub struct Inspector {
    events: mpsc::Sender<Event>,
    /// The server ID `/streaming/serverz` reports.
    pub server_id: String,
}

impl Inspector {
    /// Runs `f` on the engine's state (between two batches) and returns
    /// its result; `None` when the engine is busy beyond `timeout` or gone.
    pub fn inspect<T: Send + 'static>(
        &self,
        timeout: Duration,
        f: impl FnOnce(&Engine) -> T + Send + 'static,
    ) -> Option<T> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let ev = Event::Inspect(Box::new(move |e| {
            let _ = tx.send(f(e));
        }));
        self.events.try_send(ev).ok()?;
        rx.recv_timeout(timeout).ok()
    }
}

impl StreamingHandle {
    pub fn inspector(&self) -> Inspector {
        Inspector {
            events: self.events.clone(),
            server_id: self.server_id.clone(),
        }
    }

    /// Stops the engine after the events already taken, flushes the store
    /// and closes the NATS connection.
    pub async fn shutdown(mut self) {
        // No new events; the engine finishes what it took, its last output
        // is published, then the publisher ends with the engine's sender.
        for t in &self.inputs {
            t.abort();
        }
        let _ = self.events.send(Event::Stop).await;
        if let Some(engine) = self.engine.take() {
            let _ = tokio::task::spawn_blocking(move || engine.join()).await;
        }
        if let Some(p) = self.publisher.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), p).await;
        }
        let _ = self.client.flush().await;
    }
}

/// Starts a streaming server whose NATS connection goes to `nats_url`.
///
/// # Errors
/// See [`StartError`].
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
    let mut store = open_store(opts)?;
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
    let name = format!("_NSS-{}-general", opts.cluster_id);
    let client = super::io::connect(nats_url, &opts.nats, &name).await?;
    if !opts.partitioning && super::io::another_server_answers(&client, &info).await {
        return Err(StartError::AnotherServer(opts.cluster_id.clone()));
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
    };
    let kind = store.kind();
    let (recovered_clients, recovered_channels) = recovered
        .as_ref()
        .map_or((0, 0), |r| (r.clients.len(), r.channels.len()));
    let engine = Engine::new(cfg, info.clone(), store, recovered)?;
    let (ev_tx, ev_rx) = mpsc::channel(64 * 1024);
    let (out_tx, out_rx) = mpsc::unbounded_channel();
    let forward = super::io::start_forwarding(&client, &info, ev_tx.clone()).await?;
    let publisher = tokio::spawn(super::io::publish_loop(
        client.clone(),
        out_rx,
        ev_tx.clone(),
    ));
    let ticker = tokio::spawn(super::io::ticker(ev_tx.clone(), Duration::from_millis(100)));
    let engine = std::thread::Builder::new()
        .name("stan-engine".into())
        .spawn(move || engine.run(ev_rx, out_tx))
        .map_err(|e| StartError::Store(StoreError::Io(e)))?;
    let server_id = nuid::next().to_string();
    log::info!("STREAM: ServerID: {server_id}");
    log::info!("STREAM: Store type: {}", kind.name());
    if recovered_clients + recovered_channels > 0 {
        log::info!(
            "STREAM: Recovered {recovered_channels} channel(s) and {recovered_clients} client(s)"
        );
    }
    log::info!("STREAM: Message store is {}", kind.name());
    log::info!("STREAM: Streaming Server is ready");
    Ok(StreamingHandle {
        events: ev_tx,
        engine: Some(engine),
        inputs: vec![forward, ticker],
        publisher: Some(publisher),
        client,
        cluster_id: opts.cluster_id.clone(),
        server_id,
        store_kind: kind,
    })
}

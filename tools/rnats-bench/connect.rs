//! Connections: server list, authentication and TLS from the flags.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use async_nats::{Client, ConnectOptions, Event, ServerAddr};
use tokio::sync::Notify;

use crate::cli::ConnArgs;

/// Builds one connection per benchmark client, all with the same settings.
#[derive(Clone)]
pub struct Connector {
    servers: Vec<ServerAddr>,
    args: ConnArgs,
    creds: Option<String>,
    nkey_seed: Option<String>,
    /// Messages the client library dropped because a subscriber's buffer was
    /// full (client-side slow consumer), summed over all connections.
    pub slow_consumer_events: Arc<AtomicU64>,
}

impl Connector {
    pub fn new(args: &ConnArgs) -> Result<Connector> {
        let servers = args
            .server
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<ServerAddr>()
                    .map_err(|e| anyhow!("invalid server URL {s:?}: {e}"))
            })
            .collect::<Result<Vec<_>>>()?;
        if servers.is_empty() {
            bail!("no server URL given (--server)");
        }
        let methods = [
            args.creds.is_some(),
            args.nkey.is_some(),
            args.user.is_some() || args.password.is_some(),
            args.token.is_some(),
        ];
        if methods.iter().filter(|m| **m).count() > 1 {
            bail!("use one of --creds, --nkey, --user/--password, --token");
        }
        if args.user.is_some() != args.password.is_some() {
            bail!("--user and --password go together");
        }
        if args.tlscert.is_some() != args.tlskey.is_some() {
            bail!("--tlscert and --tlskey go together");
        }
        let creds = match &args.creds {
            Some(p) => Some(read(p, "credentials")?),
            None => None,
        };
        let nkey_seed = match &args.nkey {
            Some(p) => {
                let text = read(p, "nkey seed")?;
                let kp = rnats::nkeys::parse_key_text(&text)
                    .map_err(|e| anyhow!("no valid nkey in {}: {e}", p.display()))?;
                if !kp.has_seed() {
                    bail!("{} holds a public key; --nkey needs a seed", p.display());
                }
                let seed = kp.seed().map_err(|e| anyhow!("{}: {e}", p.display()))?;
                Some(seed.as_str().to_string())
            }
            None => None,
        };
        Ok(Connector {
            servers,
            args: args.clone(),
            creds,
            nkey_seed,
            slow_consumer_events: Arc::new(AtomicU64::new(0)),
        })
    }

    /// The server list as given, for the banner.
    pub fn servers(&self) -> String {
        self.servers
            .iter()
            .map(|s| s.as_url_str().to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The authentication method, for the banner.
    pub fn auth(&self) -> &'static str {
        let a = &self.args;
        let method = if a.creds.is_some() {
            "creds"
        } else if a.nkey.is_some() {
            "nkey"
        } else if a.user.is_some() {
            "user/password"
        } else if a.token.is_some() {
            "token"
        } else {
            "none"
        };
        let tls = a.tlsca.is_some() || a.tlscert.is_some();
        match (method, tls) {
            ("none", true) => "tls",
            ("creds", true) => "creds+tls",
            ("nkey", true) => "nkey+tls",
            ("user/password", true) => "user/password+tls",
            ("token", true) => "token+tls",
            (m, _) => m,
        }
    }

    /// Connects a client named `name`. `sub_capacity` is the number of
    /// messages the library buffers per subscription before dropping.
    pub async fn connect(
        &self,
        name: &str,
        sub_capacity: usize,
        request_timeout: Option<Duration>,
    ) -> Result<Client> {
        let o = self.options(name, sub_capacity, request_timeout, None)?;
        self.open(o).await
    }

    /// Connects a short-lived client (the connect mode); `closed` is
    /// notified once the library has shut the connection down (after
    /// [`Client::drain`]).
    pub async fn connect_once(&self, name: &str, closed: Arc<Notify>) -> Result<Client> {
        let o = self.options(name, 1024, None, Some(closed))?;
        self.open(o).await
    }

    fn options(
        &self,
        name: &str,
        sub_capacity: usize,
        request_timeout: Option<Duration>,
        closed: Option<Arc<Notify>>,
    ) -> Result<ConnectOptions> {
        let mut o = ConnectOptions::new()
            .name(name)
            .connection_timeout(Duration::from_secs(5))
            .subscription_capacity(sub_capacity.max(1024))
            .client_capacity(8192)
            .request_timeout(request_timeout)
            .max_reconnects(Some(3));
        if let Some(c) = &self.creds {
            o = o.credentials(c).context("invalid credentials file")?;
        }
        if let Some(seed) = &self.nkey_seed {
            o = o.nkey(seed.clone());
        }
        if let (Some(u), Some(p)) = (&self.args.user, &self.args.password) {
            o = o.user_and_password(u.clone(), p.clone());
        }
        if let Some(t) = &self.args.token {
            o = o.token(t.clone());
        }
        if let Some(ca) = &self.args.tlsca {
            o = o.add_root_certificates(ca.clone()).require_tls(true);
        }
        if let (Some(c), Some(k)) = (&self.args.tlscert, &self.args.tlskey) {
            o = o
                .add_client_certificate(c.clone(), k.clone())
                .require_tls(true);
        }
        let slow = self.slow_consumer_events.clone();
        o = o.event_callback(move |ev| {
            let slow = slow.clone();
            let closed = closed.clone();
            async move {
                match ev {
                    Event::SlowConsumer(_) => {
                        slow.fetch_add(1, Ordering::Relaxed);
                    }
                    Event::Closed => {
                        if let Some(c) = closed {
                            c.notify_one();
                        }
                    }
                    _ => {}
                }
            }
        });
        Ok(o)
    }

    async fn open(&self, o: ConnectOptions) -> Result<Client> {
        let servers = self.servers.clone();
        match tokio::time::timeout(Duration::from_secs(10), o.connect(servers)).await {
            Ok(Ok(c)) => Ok(c),
            Ok(Err(e)) => Err(anyhow!("cannot connect to {}: {e}", self.servers())),
            Err(_) => Err(anyhow!("cannot connect to {}: timed out", self.servers())),
        }
    }
}

fn read(p: &Path, what: &str) -> Result<String> {
    std::fs::read_to_string(p).with_context(|| format!("cannot read {what} file {}", p.display()))
}

/// Waits until the server has processed everything this client sent before:
/// a flush, then a request to a subject nobody serves, whose answer (a
/// no-responders status, or a timeout where a server lacks that) comes back
/// only after the server has read what precedes it on the connection.
pub async fn round_trip(client: &Client) -> Result<()> {
    client.flush().await.context("flush failed")?;
    let subject = client.new_inbox();
    let req = async_nats::Request::new()
        .payload(bytes::Bytes::new())
        .timeout(Some(Duration::from_secs(2)));
    let _ = client.send_request(subject, req).await;
    Ok(())
}

//! `/varz`: the server's identity, limits and totals, with nats-server's
//! field names and units (durations in nanoseconds, timeouts in seconds).

use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use super::format::{go_float, rfc3339, since, uptime};
use super::Monitor;
use crate::config::{Options, WriteTimeoutPolicy};

/// An empty JSON object (`"cluster": {}` while clustering is not built).
#[derive(Debug, Default, Clone, Serialize)]
pub struct Empty {}

/// Counters of one kind of connection (`slow_consumer_stats`, ...).
#[derive(Debug, Default, Clone, Serialize)]
pub struct ByKind {
    pub clients: u64,
    pub routes: u64,
    pub gateways: u64,
    pub leafs: u64,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct DiskIoWaitStats {
    pub waiters: i64,
    pub waits: u64,
    pub wait_time: u64,
    pub max_wait_time: u64,
}

fn is_false(b: &bool) -> bool {
    !*b
}
fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// The `/varz` document.
#[derive(Debug, Clone, Serialize)]
pub struct Varz {
    pub server_id: String,
    pub server_name: String,
    pub version: String,
    pub proto: i32,
    pub go: String,
    pub host: String,
    pub port: u16,
    #[serde(skip_serializing_if = "is_false")]
    pub auth_required: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub tls_required: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub tls_verify: bool,
    pub max_connections: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max_subscriptions: i64,
    /// Nanoseconds.
    pub ping_interval: u64,
    pub ping_max: i64,
    pub http_host: String,
    pub http_port: u16,
    pub http_base_path: String,
    pub https_port: i64,
    /// Seconds.
    #[serde(serialize_with = "go_float")]
    pub auth_timeout: f64,
    pub max_control_line: i64,
    pub max_payload: i64,
    pub max_pending: i64,
    pub cluster: serde_json::Value,
    pub gateway: Empty,
    pub leaf: Empty,
    pub mqtt: Empty,
    pub websocket: WebsocketVarz,
    pub jetstream: Empty,
    /// Seconds.
    #[serde(serialize_with = "go_float")]
    pub tls_timeout: f64,
    /// Nanoseconds.
    pub write_deadline: u64,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub write_timeout: &'static str,
    pub start: String,
    pub now: String,
    pub uptime: String,
    pub mem: i64,
    pub cores: usize,
    pub gomaxprocs: usize,
    #[serde(serialize_with = "go_float")]
    pub cpu: f64,
    pub connections: usize,
    pub total_connections: u64,
    pub routes: usize,
    pub remotes: usize,
    pub leafnodes: usize,
    pub in_msgs: u64,
    pub in_bytes: u64,
    pub in_client_msgs: u64,
    pub in_client_bytes: u64,
    pub out_msgs: u64,
    pub out_bytes: u64,
    pub out_client_msgs: u64,
    pub out_client_bytes: u64,
    pub slow_consumers: u64,
    pub stale_connections: u64,
    /// Times a reader paused for subscribers over their stall threshold
    /// (flow control), since start.
    pub stalled_clients: u64,
    pub subscriptions: u64,
    pub http_req_stats: BTreeMap<String, u64>,
    pub config_load_time: String,
    pub config_digest: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub system_account: String,
    pub slow_consumer_stats: ByKind,
    pub stale_connection_stats: ByKind,
    pub disk_io_wait_stats: DiskIoWaitStats,
}

/// The process's CPU use between two looks, as nats-server's `pse` reports
/// it (percent of one core, averaged since the previous sample).
#[derive(Debug)]
pub struct ProcSample {
    at: Instant,
    cpu_secs: f64,
    pcpu: f64,
}

impl ProcSample {
    pub fn new() -> Self {
        ProcSample {
            at: Instant::now(),
            cpu_secs: process_cpu_seconds().unwrap_or(0.0),
            pcpu: 0.0,
        }
    }

    /// Current CPU percentage; re-sampled at most once a second.
    pub fn pcpu(&mut self) -> f64 {
        let elapsed = self.at.elapsed().as_secs_f64();
        if elapsed >= 1.0 {
            if let Some(now) = process_cpu_seconds() {
                let used = (now - self.cpu_secs).max(0.0);
                self.pcpu = (used / elapsed * 1000.0).round() / 10.0;
                self.cpu_secs = now;
            }
            self.at = Instant::now();
        }
        self.pcpu
    }
}

impl Default for ProcSample {
    fn default() -> Self {
        Self::new()
    }
}

/// User plus system CPU time of this process, from `/proc/self/stat`
/// (Linux reports it in USER_HZ ticks, 100 a second).
pub fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may
    // contain spaces: state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

/// Resident memory of this process in bytes (`VmRSS` of `/proc/self/status`).
pub fn resident_memory() -> Option<i64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: i64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The configuration in force as monitoring last saw it: when a reload
/// swaps the server's options, the load time and digest follow.
#[derive(Debug)]
pub struct ConfigState {
    opts: Arc<Options>,
    pub load_time: SystemTime,
    pub digest: String,
}

impl ConfigState {
    pub fn new(opts: Arc<Options>, load_time: SystemTime) -> Self {
        let digest = config_digest(&opts);
        ConfigState {
            opts,
            load_time,
            digest,
        }
    }

    /// Notices a reload (the server holds a new options value).
    pub fn refresh(&mut self, current: Arc<Options>) {
        if !Arc::ptr_eq(&self.opts, &current) {
            *self = ConfigState::new(current, SystemTime::now());
        }
    }
}

/// `sha256:<hex>` of the config file's bytes, or "" without a file.
fn config_digest(opts: &Options) -> String {
    let Some(path) = &opts.config_file else {
        return String::new();
    };
    match std::fs::read(path) {
        Ok(bytes) => {
            let sum = Sha256::digest(&bytes);
            let hex: String = sum.iter().map(|b| format!("{b:02x}")).collect();
            format!("sha256:{hex}")
        }
        Err(_) => String::new(),
    }
}

/// The system account's name, or "" when there is none.
pub fn system_account(opts: &Options) -> String {
    if opts.no_system_account {
        return String::new();
    }
    opts.system_account
        .clone()
        .unwrap_or_else(|| crate::tenancy::account::SYSTEM_ACCOUNT.to_owned())
}

/// A limit from the options as nats-server reports it (never negative).
/// nats-server's `websocket` object of `/varz` (empty without a listener).
#[derive(Debug, Clone, Default, Serialize)]
pub struct WebsocketVarz {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub host: String,
    #[serde(skip_serializing_if = "is_zero_u16")]
    pub port: u16,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub advertise: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub jwt_cookie: String,
    /// Nanoseconds.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub handshake_timeout: u64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub no_tls: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub same_origin: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_origins: Vec<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub compression: bool,
}

fn is_zero_u16(n: &u16) -> bool {
    *n == 0
}

fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}

impl WebsocketVarz {
    fn of(s: &crate::server::Server) -> WebsocketVarz {
        let Some(ws) = s.websocket.get() else {
            return WebsocketVarz::default();
        };
        let c = &ws.config;
        WebsocketVarz {
            host: ws.addr.ip().to_string(),
            port: ws.addr.port(),
            advertise: c.advertise.clone().unwrap_or_default(),
            jwt_cookie: c.jwt_cookie.clone().unwrap_or_default(),
            handshake_timeout: c.handshake_timeout.as_nanos() as u64,
            no_tls: c.tls.is_none(),
            same_origin: c.same_origin,
            allowed_origins: c
                .allowed_origins
                .iter()
                .map(|o| format!("{}://{}:{}", o.scheme, o.host, o.port))
                .collect(),
            compression: c.compression,
        }
    }
}

fn limit(v: i64) -> i64 {
    v.max(0)
}

impl Monitor {
    /// Builds `/varz`.
    pub fn varz(&self) -> Varz {
        let s = &self.server;
        let opts = s.opts();
        let now = SystemTime::now();
        let (config_load_time, config_digest) = {
            let mut c = self.config.lock();
            c.refresh(opts.clone());
            (rfc3339(c.load_time), c.digest.clone())
        };
        let cpu = self.proc.lock().pcpu();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let totals = self.server_totals();
        let slow = s.stats.slow_consumers.load(Ordering::Relaxed);
        let stale = s.stats.stale_connections.load(Ordering::Relaxed);
        Varz {
            server_id: s.id.clone(),
            server_name: s.name.clone(),
            version: crate::VERSION.to_owned(),
            proto: 1,
            go: format!("rnats {}", crate::RNATS_VERSION),
            host: if opts.host.is_empty() {
                "0.0.0.0".to_owned()
            } else {
                opts.host.clone()
            },
            port: s.listen_addr.get().map_or(0, |a| a.port()),
            auth_required: s.auth().info_auth_required(),
            tls_required: false,
            tls_verify: false,
            max_connections: limit(opts.max_connections.into()),
            max_subscriptions: limit(opts.max_subs.into()),
            ping_interval: opts.ping_interval.as_nanos() as u64,
            ping_max: opts.ping_max.into(),
            http_host: self.http_host.clone(),
            http_port: self.addr.port(),
            http_base_path: opts.http_base_path.clone(),
            https_port: opts.https_port.into(),
            auth_timeout: s.auth_timeout().as_secs_f64(),
            max_control_line: opts.max_control_line.into(),
            max_payload: opts.max_payload.into(),
            max_pending: opts.max_pending,
            cluster: super::routez::varz_cluster(s),
            gateway: Empty {},
            leaf: Empty {},
            mqtt: Empty {},
            websocket: WebsocketVarz::of(s),
            jetstream: Empty {},
            tls_timeout: 2.0,
            write_deadline: opts.write_deadline.as_nanos() as u64,
            write_timeout: match opts.write_timeout {
                WriteTimeoutPolicy::Default => "",
                WriteTimeoutPolicy::Close => "close",
                WriteTimeoutPolicy::Retry => "retry",
            },
            start: rfc3339(s.start_time),
            now: rfc3339(now),
            uptime: uptime(since(now, s.start_time)),
            mem: resident_memory().unwrap_or(0),
            cores,
            gomaxprocs: cores,
            cpu,
            connections: totals.connections,
            total_connections: s.stats.total_connections.load(Ordering::Relaxed),
            routes: 0,
            remotes: 0,
            leafnodes: 0,
            in_msgs: totals.in_msgs,
            in_bytes: totals.in_bytes,
            in_client_msgs: totals.in_msgs,
            in_client_bytes: totals.in_bytes,
            out_msgs: totals.out_msgs,
            out_bytes: totals.out_bytes,
            out_client_msgs: totals.out_msgs,
            out_client_bytes: totals.out_bytes,
            slow_consumers: slow,
            stale_connections: stale,
            stalled_clients: s.stats.stalls.load(Ordering::Relaxed),
            subscriptions: totals.subscriptions,
            http_req_stats: self.req_stats(),
            config_load_time,
            config_digest,
            tags: opts.server_tags.clone(),
            metadata: opts.server_metadata.clone(),
            system_account: system_account(&opts),
            slow_consumer_stats: ByKind {
                clients: slow,
                ..ByKind::default()
            },
            stale_connection_stats: ByKind {
                clients: stale,
                ..ByKind::default()
            },
            disk_io_wait_stats: DiskIoWaitStats::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_readings_are_plausible() {
        assert!(process_cpu_seconds().is_some_and(|s| s >= 0.0));
        assert!(resident_memory().is_some_and(|m| m > 0));
    }

    #[test]
    fn digest_of_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.conf");
        std::fs::write(&path, "port: 4222\n").unwrap();
        let opts = Options {
            config_file: Some(path),
            ..Options::default()
        };
        let d = config_digest(&opts);
        assert!(d.starts_with("sha256:") && d.len() == 7 + 64, "{d}");
        assert_eq!(config_digest(&Options::default()), "");
    }

    #[test]
    fn system_account_name() {
        assert_eq!(system_account(&Options::default()), "$SYS");
        let o = Options {
            no_system_account: true,
            ..Options::default()
        };
        assert_eq!(system_account(&o), "");
    }
}

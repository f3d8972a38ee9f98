//! `rnats-streaming-server`'s settings: nats-streaming-server's flags and
//! its `streaming { ... }` configuration, laid over its defaults.
//!
//! The command line mixes streaming flags with the NATS server's;
//! [`split_args`] takes the streaming ones out and leaves the rest for
//! [`crate::cli::Cli`]. In a configuration file the `streaming` block (or,
//! without one, the streaming keys at the top level) is read here and
//! removed before the NATS options are read from the rest.

use std::path::PathBuf;
use std::time::Duration;

use crate::config::{Kind, Map, Value};
use crate::streaming::store::limits::LimitsEntry;
use crate::streaming::store::StoreLimits;

/// Which store keeps the state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StoreType {
    #[default]
    Memory,
    File,
    Sql,
}

/// The file store's settings (`file_options`, `--file_*`).
#[derive(Clone, Debug, PartialEq)]
pub struct FileSettings {
    pub sync: bool,
    pub crc: bool,
    pub buffer_size: u64,
    pub slice_max_msgs: u64,
    pub slice_max_bytes: u64,
    pub slice_max_age: Duration,
    /// Run on each slice the store removes, instead of deleting it.
    pub slice_archive_script: Option<String>,
    pub fds_limit: u64,
    pub compact: bool,
}

impl Default for FileSettings {
    fn default() -> Self {
        FileSettings {
            sync: true,
            crc: true,
            buffer_size: 2 * 1024 * 1024,
            slice_max_msgs: 0,
            slice_max_bytes: 64 * 1024 * 1024,
            slice_max_age: Duration::ZERO,
            slice_archive_script: None,
            fds_limit: 0,
            compact: true,
        }
    }
}

/// The SQL store's settings (`sql_options`, `--sql_*`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SqlSettings {
    pub driver: String,
    pub source: String,
    pub no_caching: bool,
    pub max_open_conns: u64,
}

/// Store encryption (`--encrypt`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EncryptionSettings {
    pub enabled: bool,
    /// `AES` or `CHACHA`.
    pub cipher: String,
    pub key: String,
}

/// How the streaming engine reaches NATS (`-ns` and the credentials).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NatsConnection {
    /// An external server; `None` runs one in the same process.
    pub url: Option<String>,
    pub credentials: Option<PathBuf>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub token: Option<String>,
    pub nkey_seed_file: Option<PathBuf>,
    pub secure: bool,
    pub tls_client_cert: Option<PathBuf>,
    pub tls_client_key: Option<PathBuf>,
    pub tls_client_ca: Option<PathBuf>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct StreamingOptions {
    pub cluster_id: String,
    pub discover_prefix: String,
    pub store: StoreType,
    pub dir: Option<PathBuf>,
    pub nats: NatsConnection,
    pub limits: StoreLimits,
    pub file: FileSettings,
    pub sql: SqlSettings,
    pub encryption: EncryptionSettings,
    pub hb_interval: Duration,
    pub hb_timeout: Duration,
    pub hb_fail_count: u32,
    pub ft_group: Option<String>,
    pub partitioning: bool,
    /// Raft clustering was asked for (not available; refused at start).
    pub clustered: bool,
    pub replace_durable: bool,
    pub io_batch_size: usize,
    pub debug: bool,
    pub trace: bool,
    /// Upstream settings that were given and that this server accepts but
    /// does not act on (tuning of upstream's own machinery), each with
    /// where it was given: logged as warnings at start, so none is ignored
    /// silently.
    pub without_effect: Vec<String>,
}

impl Default for StreamingOptions {
    fn default() -> Self {
        StreamingOptions {
            cluster_id: "test-cluster".into(),
            discover_prefix: "_STAN.discover".into(),
            store: StoreType::Memory,
            dir: None,
            nats: NatsConnection::default(),
            limits: StoreLimits::default(),
            file: FileSettings::default(),
            sql: SqlSettings::default(),
            encryption: EncryptionSettings::default(),
            hb_interval: Duration::from_secs(30),
            hb_timeout: Duration::from_secs(10),
            hb_fail_count: 10,
            ft_group: None,
            partitioning: false,
            clustered: false,
            replace_durable: false,
            io_batch_size: 1024,
            without_effect: Vec::new(),
            debug: false,
            trace: false,
        }
    }
}

/// A streaming setting that could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StreamingConfigError(pub String);

type R<T> = Result<T, StreamingConfigError>;

fn err<T>(msg: impl Into<String>) -> R<T> {
    Err(StreamingConfigError(msg.into()))
}

/// Whether a streaming flag takes a value (`Some(true)`), is boolean
/// (`Some(false)`), or is not a streaming flag (`None`).
pub fn streaming_flag(name: &str) -> Option<bool> {
    Some(match name {
        "cid"
        | "cluster_id"
        | "st"
        | "store"
        | "dir"
        | "sc"
        | "stan_config"
        | "ns"
        | "nats_server"
        | "hbi"
        | "hb_interval"
        | "hbt"
        | "hb_timeout"
        | "hbf"
        | "hb_fail_count"
        | "ft_group"
        | "cluster_node_id"
        | "cluster_peers"
        | "cluster_log_path"
        | "cluster_log_cache_size"
        | "cluster_log_snapshots"
        | "cluster_trailing_logs"
        | "sql_driver"
        | "sql_source"
        | "sql_max_open_conns"
        | "encryption_cipher"
        | "encryption_key"
        | "io_batch_size"
        | "io_sleep_time"
        | "file_compact_frag"
        | "file_compact_interval"
        | "file_compact_min_size"
        | "file_buffer_size"
        | "file_crc_poly"
        | "file_slice_max_msgs"
        | "file_slice_max_bytes"
        | "file_slice_max_age"
        | "file_slice_archive_script"
        | "file_fds_limit"
        | "file_parallel_recovery"
        | "file_read_buffer_size"
        | "file_auto_sync"
        | "mc"
        | "max_channels"
        | "msu"
        | "max_subs"
        | "mm"
        | "max_msgs"
        | "mb"
        | "max_bytes"
        | "ma"
        | "max_age"
        | "mi"
        | "max_inactivity"
        | "syslog_name"
        | "nats_url"
        | "discover_prefix"
        | "tls_client_key"
        | "tls_client_cert"
        | "tls_client_cacert" => true,
        "SD"
        | "stan_debug"
        | "SV"
        | "stan_trace"
        | "SDV"
        | "clustered"
        | "cluster_bootstrap"
        | "cluster_sync"
        | "cluster_raft_logging"
        | "cluster_allow_add_remove_node"
        | "sql_no_caching"
        | "encrypt"
        | "replace_durable"
        | "file_compact_enabled"
        | "file_crc"
        | "file_sync"
        | "file_truncate_bad_eof"
        | "partitioning"
        | "secure" => false,
        _ => return None,
    })
}

/// Streaming flags as given: name (without dashes) and value, in order.
pub type StreamingFlags = Vec<(String, String)>;

/// The streaming flags of a command line, in order, and the remaining
/// arguments for the NATS server's parser.
///
/// # Errors
/// A streaming flag without its value, or a malformed boolean.
pub fn split_args(args: Vec<String>) -> R<(StreamingFlags, Vec<String>)> {
    let mut flags = Vec::new();
    let mut rest = Vec::new();
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let Some(flag) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
            rest.push(arg);
            continue;
        };
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
            None => (flag.to_owned(), None),
        };
        match streaming_flag(&name) {
            Some(true) => {
                let v = match inline {
                    Some(v) => v,
                    None => match it.next() {
                        Some(v) => v,
                        None => return err(format!("flag needs an argument: -{name}")),
                    },
                };
                flags.push((name, v));
            }
            Some(false) => flags.push((name, inline.unwrap_or_else(|| "true".into()))),
            None => {
                // A NATS flag: its value (if it takes one) stays with it.
                let takes = crate::cli::flag_takes_value(&name) == Some(true);
                rest.push(arg);
                if takes && inline.is_none() {
                    if let Some(v) = it.next() {
                        rest.push(v);
                    }
                }
            }
        }
    }
    Ok((flags, rest))
}

fn parse_bool(name: &str, v: &str) -> R<bool> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => err(format!(
            "invalid boolean value {v:?} for -{name}: parse error"
        )),
    }
}

fn parse_int(name: &str, v: &str) -> R<i64> {
    parse_size(v).ok_or_else(|| {
        StreamingConfigError(format!("invalid value {v:?} for flag -{name}: parse error"))
    })
}

/// An integer with an optional size suffix (`KB`, `MB`, `GB`, `K`, `M`, `G`).
fn parse_size(v: &str) -> Option<i64> {
    let v = v.trim();
    let split = v
        .find(|c: char| !(c.is_ascii_digit() || c == '-'))
        .unwrap_or(v.len());
    let (n, unit) = v.split_at(split);
    let n: i64 = n.parse().ok()?;
    let mul: i64 = match unit.to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => 1 << 10,
        "M" | "MB" | "MIB" => 1 << 20,
        "G" | "GB" | "GIB" => 1 << 30,
        "T" | "TB" | "TIB" => 1 << 40,
        _ => return None,
    };
    n.checked_mul(mul)
}

fn parse_dur(name: &str, v: &str) -> R<Duration> {
    crate::config::parse_duration(v).ok_or_else(|| {
        StreamingConfigError(format!("invalid value {v:?} for flag -{name}: parse error"))
    })
}

fn store_type(v: &str) -> R<StoreType> {
    match v.to_ascii_lowercase().as_str() {
        "memory" => Ok(StoreType::Memory),
        "file" => Ok(StoreType::File),
        "sql" => Ok(StoreType::Sql),
        _ => err(format!("unknown store type: {v}")),
    }
}

impl StreamingOptions {
    /// Lays the streaming flags over the options (flags win over the file).
    ///
    /// # Errors
    /// A malformed value, with the flag's name.
    pub fn apply_flags(&mut self, flags: &[(String, String)]) -> R<()> {
        for (name, v) in flags {
            let n = name.as_str();
            match n {
                "cid" | "cluster_id" => self.cluster_id.clone_from(v),
                "discover_prefix" => self.discover_prefix.clone_from(v),
                "st" | "store" => self.store = store_type(v)?,
                "dir" => self.dir = Some(PathBuf::from(v)),
                "ns" | "nats_server" | "nats_url" => self.nats.url = Some(v.clone()),
                "hbi" | "hb_interval" => self.hb_interval = parse_dur(n, v)?,
                "hbt" | "hb_timeout" => self.hb_timeout = parse_dur(n, v)?,
                "hbf" | "hb_fail_count" => self.hb_fail_count = parse_int(n, v)?.max(0) as u32,
                "ft_group" => self.ft_group = Some(v.clone()),
                "clustered" => self.clustered = parse_bool(n, v)?,
                "partitioning" => self.partitioning = parse_bool(n, v)?,
                "secure" => self.nats.secure = parse_bool(n, v)?,
                "tls_client_cert" => self.nats.tls_client_cert = Some(PathBuf::from(v)),
                "tls_client_key" => self.nats.tls_client_key = Some(PathBuf::from(v)),
                "tls_client_cacert" => self.nats.tls_client_ca = Some(PathBuf::from(v)),
                "sql_driver" => self.sql.driver.clone_from(v),
                "sql_source" => self.sql.source.clone_from(v),
                "sql_no_caching" => self.sql.no_caching = parse_bool(n, v)?,
                "sql_max_open_conns" => self.sql.max_open_conns = parse_int(n, v)?.max(0) as u64,
                "encrypt" => self.encryption.enabled = parse_bool(n, v)?,
                "encryption_cipher" => self.encryption.cipher.clone_from(v),
                "encryption_key" => self.encryption.key.clone_from(v),
                "replace_durable" => self.replace_durable = parse_bool(n, v)?,
                "SD" | "stan_debug" => self.debug = parse_bool(n, v)?,
                "SV" | "stan_trace" => self.trace = parse_bool(n, v)?,
                "SDV" => {
                    let on = parse_bool(n, v)?;
                    self.debug = on;
                    self.trace = on;
                }
                "io_batch_size" => self.io_batch_size = parse_int(n, v)?.max(1) as usize,
                "file_sync" => self.file.sync = parse_bool(n, v)?,
                "file_crc" => self.file.crc = parse_bool(n, v)?,
                "file_compact_enabled" => self.file.compact = parse_bool(n, v)?,
                "file_buffer_size" => self.file.buffer_size = parse_int(n, v)?.max(0) as u64,
                "file_slice_max_msgs" => self.file.slice_max_msgs = parse_int(n, v)?.max(0) as u64,
                "file_slice_max_bytes" => {
                    self.file.slice_max_bytes = parse_int(n, v)?.max(0) as u64;
                }
                "file_slice_max_age" => self.file.slice_max_age = parse_dur(n, v)?,
                "file_slice_archive_script" => {
                    self.file.slice_archive_script = (!v.is_empty()).then(|| v.to_string());
                }
                "file_fds_limit" => self.file.fds_limit = parse_int(n, v)?.max(0) as u64,
                "mc" | "max_channels" => self.limits.max_channels = parse_int(n, v)?.max(0) as u64,
                "msu" | "max_subs" => self.limits.global.max_subs = parse_int(n, v)?,
                "mm" | "max_msgs" => self.limits.global.max_msgs = parse_int(n, v)?,
                "mb" | "max_bytes" => self.limits.global.max_bytes = parse_int(n, v)?,
                "ma" | "max_age" => self.limits.global.max_age = parse_dur(n, v)?.as_nanos() as i64,
                "mi" | "max_inactivity" => {
                    self.limits.global.max_inactivity = parse_dur(n, v)?.as_nanos() as i64;
                }
                // Accepted for compatibility; their subjects have no effect
                // in this server (Raft tuning, file compaction thresholds,
                // syslog, the SQL driver's connection pool size).
                _ => {
                    let dashes = if n.len() > 3 { "--" } else { "-" };
                    self.no_effect(&"command line", &format!("{dashes}{n}"));
                }
            }
        }
        Ok(())
    }

    /// Reads the streaming settings from a parsed configuration file and
    /// removes them from it, so the rest is the NATS server's.
    ///
    /// # Errors
    /// `file:line:col: message` for a malformed or unknown key.
    pub fn take_from_config(&mut self, map: &mut Map) -> R<()> {
        if let Some(i) = map.entries.iter().position(|(k, _)| k.name == "streaming") {
            let (_, v) = map.entries.remove(i);
            let Kind::Map(m) = &v.kind else {
                return err(format!("{}: streaming must be a map", v.pos));
            };
            for (k, v) in m.iter() {
                if !self.apply_key(&k.name, v)? {
                    return err(format!("{}: unknown field {:?}", k.pos, k.name));
                }
            }
            return Ok(());
        }
        // No block: the streaming keys at the top level.
        let mut kept = Vec::new();
        for (k, v) in std::mem::take(&mut map.entries) {
            if is_top_level_streaming_key(&k.name) {
                self.apply_key(&k.name, &v)?;
            } else {
                kept.push((k, v));
            }
        }
        map.entries = kept;
        Ok(())
    }

    /// Notes a setting accepted for compatibility that changes nothing here.
    fn no_effect(&mut self, at: &dyn std::fmt::Display, key: &str) {
        self.without_effect.push(format!(
            "{at}: streaming setting {key:?} has no effect in this server"
        ));
    }

    /// One key of the streaming block; `false` when the key is not known.
    fn apply_key(&mut self, key: &str, v: &Value) -> R<bool> {
        match key.to_ascii_lowercase().as_str() {
            "id" | "cid" | "cluster_id" => self.cluster_id = string(v)?,
            "discover_prefix" => self.discover_prefix = string(v)?,
            "store" | "store_type" => self.store = store_type(&string(v)?)?,
            "dir" | "datastore" => self.dir = Some(PathBuf::from(string(v)?)),
            "sd" | "stan_debug" => self.debug = boolean(v)?,
            "sv" | "stan_trace" => self.trace = boolean(v)?,
            "nats_server_url" | "ns" | "nats_server" => self.nats.url = Some(string(v)?),
            "credentials" => self.nats.credentials = Some(PathBuf::from(string(v)?)),
            "username" | "user" => self.nats.username = Some(string(v)?),
            "password" | "pass" => self.nats.password = Some(string(v)?),
            "token" => self.nats.token = Some(string(v)?),
            "nkey_seed_file" => self.nats.nkey_seed_file = Some(PathBuf::from(string(v)?)),
            "secure" => self.nats.secure = boolean(v)?,
            "tls" => {
                for (k, v) in map(v)?.iter() {
                    match k.name.as_str() {
                        "client_cert" => self.nats.tls_client_cert = Some(string(v)?.into()),
                        "client_key" => self.nats.tls_client_key = Some(string(v)?.into()),
                        "client_ca" => self.nats.tls_client_ca = Some(string(v)?.into()),
                        "server_name" | "insecure" => self.no_effect(&k.pos, &k.name),
                        _ => return err(format!("{}: unknown field {:?}", k.pos, k.name)),
                    }
                }
            }
            "store_limits" | "limits" => self.store_limits(v)?,
            "file_options" | "file" => self.file_options(v)?,
            "sql_options" | "sql" => {
                for (k, v) in map(v)?.iter() {
                    match k.name.as_str() {
                        "driver" => self.sql.driver = string(v)?,
                        "source" => self.sql.source = string(v)?,
                        "no_caching" => self.sql.no_caching = boolean(v)?,
                        "max_open_conns" => self.sql.max_open_conns = int(v)?.max(0) as u64,
                        "bulk_insert_limit" => self.no_effect(&k.pos, &k.name),
                        _ => return err(format!("{}: unknown field {:?}", k.pos, k.name)),
                    }
                }
            }
            "hb_interval" => self.hb_interval = duration(v)?,
            "hb_timeout" => self.hb_timeout = duration(v)?,
            "hb_fail_count" => self.hb_fail_count = int(v)?.max(0) as u32,
            "ft_group" | "ft_group_name" => self.ft_group = Some(string(v)?),
            "partitioning" => self.partitioning = boolean(v)?,
            "cluster" => self.clustered = true,
            "encrypt" => self.encryption.enabled = boolean(v)?,
            "encryption_cipher" => self.encryption.cipher = string(v)?,
            "encryption_key" => self.encryption.key = string(v)?,
            "replace_durable" => self.replace_durable = boolean(v)?,
            "io_batch_size" => self.io_batch_size = int(v)?.max(1) as usize,
            "syslog_name" | "io_sleep_time" => self.no_effect(&v.pos, key),
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn store_limits(&mut self, v: &Value) -> R<()> {
        for (k, v) in map(v)?.iter() {
            match k.name.as_str() {
                "max_channels" | "mc" => self.limits.max_channels = int(v)?.max(0) as u64,
                "channels" | "channels_limits" => {
                    for (name, entry) in map(v)?.iter() {
                        let mut e = LimitsEntry::default();
                        limits_entry(&mut e, entry, true)?;
                        self.limits.channels.push((name.name.clone(), e));
                    }
                }
                _ => {
                    let mut g = self.limits.global;
                    if !limits_key(&mut g, &k.name, v)? {
                        return err(format!("{}: unknown field {:?}", k.pos, k.name));
                    }
                    self.limits.global = g;
                }
            }
        }
        Ok(())
    }

    fn file_options(&mut self, v: &Value) -> R<()> {
        for (k, v) in map(v)?.iter() {
            match k.name.as_str() {
                "sync" | "do_sync" | "sync_on_flush" => self.file.sync = boolean(v)?,
                "crc" | "do_crc" => self.file.crc = boolean(v)?,
                "compact" | "compact_enabled" => self.file.compact = boolean(v)?,
                "buffer_size" => self.file.buffer_size = int(v)?.max(0) as u64,
                "slice_max_msgs" | "slice_max_count" => {
                    self.file.slice_max_msgs = int(v)?.max(0) as u64;
                }
                "slice_max_bytes" | "slice_max_size" => {
                    self.file.slice_max_bytes = int(v)?.max(0) as u64;
                }
                "slice_max_age" => self.file.slice_max_age = duration(v)?,
                "slice_archive_script" => {
                    let script = string(v)?;
                    self.file.slice_archive_script = (!script.is_empty()).then_some(script);
                }
                "file_descriptors_limit" | "fds_limit" => {
                    self.file.fds_limit = int(v)?.max(0) as u64;
                }
                "compact_fragmentation"
                | "compact_interval"
                | "compact_min_size"
                | "crc_poly"
                | "parallel_recovery"
                | "read_buffer_size"
                | "auto_sync"
                | "truncate_bad_eof" => self.no_effect(&k.pos, &k.name),
                _ => return err(format!("{}: unknown field {:?}", k.pos, k.name)),
            }
        }
        Ok(())
    }

    /// Checks that apply whatever the source of the settings.
    ///
    /// # Errors
    /// The first setting that cannot be used.
    pub fn validate(&self) -> R<()> {
        if !crate::streaming::engine::names::valid_client_id(&self.cluster_id) {
            return err(format!(
                "invalid cluster name {:?}, must be only alphanumeric and `-` or `_` characters",
                self.cluster_id
            ));
        }
        self.limits.validate().map_err(StreamingConfigError)?;
        if self.store == StoreType::File && self.dir.is_none() {
            return err("for file store, a directory must be specified");
        }
        if self.ft_group.is_some() && self.store == StoreType::Memory {
            return err("ft_group option requires a persistent store (file or sql)");
        }
        if self.partitioning && self.limits.channels.is_empty() {
            return err("partitioning enabled but no channel is defined in store_limits.channels");
        }
        Ok(())
    }
}

/// The config fuzz target's streaming half: arbitrary text through the
/// parser, the streaming settings (a `streaming {}` block or top-level
/// keys) and their checks, then the per-channel limit lookups. None may
/// panic.
pub fn fuzz_check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // `include` reads files; the fuzzer must not wander the file system.
    if text.to_ascii_lowercase().contains("include") {
        return;
    }
    let Ok(mut parsed) =
        crate::config::parser::parse_str_tracked(text, std::path::Path::new("fuzz.conf"))
    else {
        return;
    };
    let mut o = StreamingOptions::default();
    if o.take_from_config(&mut parsed.map).is_err() {
        return;
    }
    let _ = o.validate();
    for channel in ["foo", "foo.bar", "a.b.c", ">"] {
        let _ = o.limits.for_channel(channel);
    }
}

fn is_top_level_streaming_key(k: &str) -> bool {
    matches!(
        k.to_ascii_lowercase().as_str(),
        "id" | "cid"
            | "cluster_id"
            | "discover_prefix"
            | "store"
            | "store_type"
            | "dir"
            | "datastore"
            | "sd"
            | "sv"
            | "nats_server_url"
            | "credentials"
            | "store_limits"
            | "file_options"
            | "sql_options"
            | "hb_interval"
            | "hb_timeout"
            | "hb_fail_count"
            | "ft_group"
            | "partitioning"
            | "encrypt"
            | "encryption_cipher"
            | "encryption_key"
            | "replace_durable"
            | "io_batch_size"
    )
}

fn limits_entry(e: &mut LimitsEntry, v: &Value, _channel: bool) -> R<()> {
    for (k, v) in map(v)?.iter() {
        if !limits_key(e, &k.name, v)? {
            return err(format!("{}: unknown field {:?}", k.pos, k.name));
        }
    }
    Ok(())
}

fn limits_key(e: &mut LimitsEntry, key: &str, v: &Value) -> R<bool> {
    match key {
        "max_msgs" | "mm" => e.max_msgs = int(v)?,
        "max_bytes" | "mb" => e.max_bytes = int(v)?,
        "max_age" | "ma" => e.max_age = signed_duration(v)?,
        "max_subs" | "max_subscriptions" | "msu" => e.max_subs = int(v)?,
        "max_inactivity" | "mi" => e.max_inactivity = signed_duration(v)?,
        _ => return Ok(false),
    }
    Ok(true)
}

fn map(v: &Value) -> R<&Map> {
    match &v.kind {
        Kind::Map(m) => Ok(m),
        other => err(format!("{}: expected a map, got {}", v.pos, other.name())),
    }
}

fn string(v: &Value) -> R<String> {
    match &v.kind {
        Kind::String(s) => Ok(s.clone()),
        Kind::Integer(n) => Ok(n.to_string()),
        other => err(format!(
            "{}: expected a string, got {}",
            v.pos,
            other.name()
        )),
    }
}

fn boolean(v: &Value) -> R<bool> {
    match &v.kind {
        Kind::Bool(b) => Ok(*b),
        other => err(format!(
            "{}: expected a boolean, got {}",
            v.pos,
            other.name()
        )),
    }
}

fn int(v: &Value) -> R<i64> {
    match &v.kind {
        Kind::Integer(n) => Ok(*n),
        Kind::String(s) => parse_size(s)
            .ok_or_else(|| StreamingConfigError(format!("{}: invalid size {s:?}", v.pos))),
        other => err(format!(
            "{}: expected an integer, got {}",
            v.pos,
            other.name()
        )),
    }
}

fn duration(v: &Value) -> R<Duration> {
    match &v.kind {
        Kind::Duration(d) => Ok(*d),
        Kind::Integer(n) if *n >= 0 => Ok(Duration::from_secs(*n as u64)),
        Kind::String(s) => crate::config::parse_duration(s)
            .ok_or_else(|| StreamingConfigError(format!("{}: invalid duration {s:?}", v.pos))),
        other => err(format!(
            "{}: expected a duration, got {}",
            v.pos,
            other.name()
        )),
    }
}

/// A duration in nanoseconds where a negative value (unlimited in channel
/// entries) is allowed.
fn signed_duration(v: &Value) -> R<i64> {
    match &v.kind {
        Kind::Integer(n) if *n < 0 => Ok(*n),
        Kind::String(s) if s.starts_with('-') => Ok(-1),
        _ => Ok(duration(v)?.as_nanos() as i64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn streaming_flags_are_split_from_nats_flags() {
        let (flags, rest) = split_args(args(&[
            "-p",
            "4333",
            "-cid",
            "my",
            "--store=FILE",
            "--dir",
            "/d",
            "-m",
            "8222",
            "-SDV",
            "-mm",
            "10",
            "-ma",
            "1h",
            "--user",
            "u",
            "--tls_client_cacert",
            "ca.pem",
        ]))
        .unwrap();
        assert_eq!(rest, args(&["-p", "4333", "-m", "8222", "--user", "u"]));
        let mut o = StreamingOptions::default();
        o.apply_flags(&flags).unwrap();
        assert_eq!(o.cluster_id, "my");
        assert_eq!(o.store, StoreType::File);
        assert_eq!(o.dir.as_deref(), Some(std::path::Path::new("/d")));
        assert!(o.debug && o.trace);
        assert_eq!(o.limits.global.max_msgs, 10);
        assert_eq!(o.limits.global.max_age, 3_600_000_000_000);
        assert_eq!(
            o.nats.tls_client_ca.as_deref(),
            Some(std::path::Path::new("ca.pem"))
        );
        o.validate().unwrap();
    }

    #[test]
    fn config_block_is_taken_out() {
        let src = "port: 4333\nstreaming {\n  id: abc\n  store: file\n  dir: /tmp/x\n  store_limits {\n    max_channels: 5\n    max_msgs: 7\n    channels {\n      \"foo.>\": { max_msgs: 3 }\n    }\n  }\n  file_options { sync: false }\n  hb_interval: \"10s\"\n}\n";
        let mut m = crate::config::parse_str(src, std::path::Path::new("s.conf")).unwrap();
        let mut o = StreamingOptions::default();
        o.take_from_config(&mut m).unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(o.cluster_id, "abc");
        assert_eq!(o.limits.max_channels, 5);
        assert_eq!(o.limits.for_channel("foo.bar").max_msgs, 3);
        assert_eq!(o.limits.for_channel("bar").max_msgs, 7);
        assert!(!o.file.sync);
        assert_eq!(o.hb_interval, Duration::from_secs(10));
        let bad = "streaming {\n  nope: 1\n}\n";
        let mut m = crate::config::parse_str(bad, std::path::Path::new("s.conf")).unwrap();
        let e = StreamingOptions::default()
            .take_from_config(&mut m)
            .unwrap_err();
        assert_eq!(e.0, "s.conf:2:3: unknown field \"nope\"");
    }

    #[test]
    fn slice_settings_apply_and_settings_without_effect_are_reported() {
        let src = "streaming {\n  file_options {\n    slice_max_age: \"1h\"\n    slice_archive_script: \"/opt/archive.sh\"\n    crc_poly: 1\n  }\n}\n";
        let mut m = crate::config::parse_str(src, std::path::Path::new("s.conf")).unwrap();
        let mut o = StreamingOptions::default();
        o.take_from_config(&mut m).unwrap();
        assert_eq!(o.file.slice_max_age, Duration::from_secs(3600));
        assert_eq!(
            o.file.slice_archive_script.as_deref(),
            Some("/opt/archive.sh")
        );
        assert_eq!(
            o.without_effect,
            ["s.conf:5:5: streaming setting \"crc_poly\" has no effect in this server"]
        );
        let mut o = StreamingOptions::default();
        o.apply_flags(&[
            ("file_slice_archive_script".into(), "/a.sh".into()),
            ("file_auto_sync".into(), "1s".into()),
        ])
        .unwrap();
        assert_eq!(o.file.slice_archive_script.as_deref(), Some("/a.sh"));
        assert_eq!(
            o.without_effect,
            ["command line: streaming setting \"--file_auto_sync\" has no effect in this server"]
        );
    }
}

//! Typed server options, with nats-server's defaults, and the mapping from a
//! parsed config [`Map`](super::Map) onto them.

use std::path::PathBuf;
use std::time::Duration;

/// Default client port.
pub const DEFAULT_PORT: u16 = 4222;
/// Default maximum payload (1 MiB).
pub const DEFAULT_MAX_PAYLOAD: i32 = 1024 * 1024;
/// Default maximum control line (4 KiB).
pub const DEFAULT_MAX_CONTROL_LINE: i32 = 4096;
/// Default maximum connections.
pub const DEFAULT_MAX_CONNECTIONS: i32 = 64 * 1024;
/// Default per-connection pending outbound bytes (64 MiB).
pub const DEFAULT_MAX_PENDING: i64 = 64 * 1024 * 1024;
/// Default number of closed connections remembered for monitoring.
pub const DEFAULT_MAX_CLOSED_CLIENTS: i32 = 10_000;
/// Default `ping_interval` (2 minutes).
pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(120);
/// Default `ping_max`.
pub const DEFAULT_PING_MAX: i32 = 2;
/// Default `heavy_connection_rate`: a sustained 10 MB/s.
pub const DEFAULT_HEAVY_CONNECTION_RATE: i64 = 10 * 1024 * 1024;

/// Default `write_deadline` (10 seconds).
pub const DEFAULT_WRITE_DEADLINE: Duration = Duration::from_secs(10);
/// Default `lame_duck_duration` (2 minutes).
pub const DEFAULT_LAME_DUCK_DURATION: Duration = Duration::from_secs(120);
/// Default `lame_duck_grace_period` (10 seconds).
pub const DEFAULT_LAME_DUCK_GRACE_PERIOD: Duration = Duration::from_secs(10);
/// Payloads above this draw a startup warning, as in nats-server (8 MiB).
pub const MAX_PAYLOAD_WARN_SIZE: i32 = 8 * 1024 * 1024;

/// Everything the server reads from its config file and flags.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Config file this came from, if any (for reload and error messages).
    pub config_file: Option<PathBuf>,
    /// `server_name`; defaults to the server id when empty.
    pub server_name: String,
    /// Client listen host (`host`, `net`, or the host part of `listen`).
    pub host: String,
    /// Client listen port (`port` or the port part of `listen`); -1 = random
    /// as in nats-server (`-p -1`), to be bound as port 0. A configured 0
    /// means the default 4222, as nats-server's baseline does.
    pub port: i32,
    /// `client_advertise`: host:port announced instead of the listen address.
    pub client_advertise: String,
    /// Monitoring: `http` / `http_port` / `monitor_port` (HTTP). An empty
    /// `http_host` means "the client `host`" (nats-server's baseline); a port
    /// of 0 means monitoring is off, -1 a random port.
    pub http_host: String,
    pub http_port: i32,
    /// Monitoring over HTTPS (`https`, `https_port`).
    pub https_port: i32,
    /// `max_payload`: largest PUB/HPUB total size.
    pub max_payload: i32,
    /// `max_control_line`.
    pub max_control_line: i32,
    /// `max_connections`; -1 = accept nobody (what `max_connections: 0` in a
    /// config file means in nats-server).
    pub max_connections: i32,
    /// `max_subscriptions` / `max_subs`: per connection, 0 = unlimited.
    pub max_subs: i32,
    /// `max_sub_tokens`: 0 = unlimited (at most 255).
    pub max_sub_tokens: u8,
    /// `max_pending`: per-connection outbound buffer limit.
    pub max_pending: i64,
    /// `heavy_connection_rate` (rnats extension): bytes per second, read or
    /// written, over which a client connection moves to the runtime kept for
    /// heavy connections (see `server::lanes`); 0 keeps every connection on
    /// the main runtime.
    pub heavy_connection_rate: i64,
    /// `write_deadline`.
    pub write_deadline: Duration,
    /// `ping_interval`.
    pub ping_interval: Duration,
    /// `ping_max`.
    pub ping_max: i32,
    /// `authorization { timeout }` / `auth_timeout`; `None` = the default
    /// (2s, or TLS timeout + 1s when TLS is on).
    pub auth_timeout: Option<Duration>,
    /// `no_header_support`.
    pub no_header_support: bool,
    /// `disable_sublist_cache` / `no_sublist_cache`.
    pub no_sublist_cache: bool,
    /// `lame_duck_duration`.
    pub lame_duck_duration: Duration,
    /// `lame_duck_grace_period`.
    pub lame_duck_grace_period: Duration,
    /// Logging: `debug`, `trace`, `trace_verbose`, `logtime`, `logtime_utc`,
    /// `log_file`, `log_size_limit`, `syslog`.
    pub debug: bool,
    pub trace: bool,
    pub trace_verbose: bool,
    pub logtime: bool,
    pub logtime_utc: bool,
    pub log_file: Option<PathBuf>,
    pub log_size_limit: i64,
    /// `pid_file`.
    pub pid_file: Option<PathBuf>,
    /// `ports_file_dir`.
    pub ports_file_dir: Option<PathBuf>,
    /// Single-user / token authorization from `authorization { user, password,
    /// token }` or the `--user/--pass/--auth` flags. The full auth pipeline
    /// (users lists, nkeys, permissions) reads `authorization` itself.
    pub username: Option<String>,
    pub password: Option<String>,
    pub authorization: Option<String>,
    /// The raw `authorization` block, for the auth pipeline.
    pub authorization_block: Option<super::Map>,
    /// The raw `accounts` block, for the accounts registry.
    pub accounts_block: Option<super::Map>,
    /// The raw `tls` block, for the TLS layer.
    pub tls_block: Option<super::Map>,
    /// `no_auth_user`.
    pub no_auth_user: Option<String>,
    /// `system_account`.
    pub system_account: Option<String>,
    /// `no_system_account`.
    pub no_system_account: bool,
    /// `trace_headers`: trace message headers (implies `trace`).
    pub trace_headers: bool,
    /// `syslog`: log to the local syslog.
    pub syslog: bool,
    /// `remote_syslog`: syslog URL (`udp://host:514`); empty = none.
    pub remote_syslog: String,
    /// `logfile_max_num` / `log_max_num`: rotated log files kept, 0 = all.
    pub log_max_num: i64,
    /// `max_traced_msg_len`: longest payload shown in traces, 0 = all.
    pub max_traced_msg_len: i64,
    /// `max_closed_clients`: closed connections remembered for
    /// `/connz?state=closed`.
    pub max_closed_clients: i32,
    /// `http_base_path`: prefix for the monitoring endpoints; empty = `/`.
    pub http_base_path: String,
    /// `server_tags`, reported in `/varz` and statsz.
    pub server_tags: Vec<String>,
    /// `server_metadata`: free-form key/values reported in `/varz`.
    pub server_metadata: std::collections::BTreeMap<String, String>,
    /// `allow_non_tls`: with `tls`, still accept plain connections.
    pub allow_non_tls: bool,
    /// `write_timeout`: what happens when `write_deadline` is hit.
    pub write_timeout: WriteTimeoutPolicy,
    /// The raw `mappings` (alias `maps`) block: subject mappings of the global
    /// account, for the accounts registry.
    pub mappings_block: Option<super::Map>,
    /// The whole parsed top-level map, for subsystems that read nats-server
    /// options this struct does not model (operator, resolver, trusted keys,
    /// default_sentinel, ...). `None` when not built from a config.
    pub raw_config: Option<super::Map>,
    /// The cluster flags (`--cluster`, `--routes`, ...), laid over the
    /// `cluster` block by [`crate::cluster::config::ClusterConfig::from_options`].
    pub cluster_flags: crate::cluster::config::ClusterFlags,
}

/// `write_timeout`: the policy when a connection's `write_deadline` passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WriteTimeoutPolicy {
    /// The per-connection-kind default (clients are closed).
    #[default]
    Default,
    /// Close the connection.
    Close,
    /// Keep retrying the write.
    Retry,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            config_file: None,
            server_name: String::new(),
            host: "0.0.0.0".to_owned(),
            port: DEFAULT_PORT as i32,
            client_advertise: String::new(),
            http_host: String::new(),
            http_port: 0,
            https_port: 0,
            max_payload: DEFAULT_MAX_PAYLOAD,
            max_control_line: DEFAULT_MAX_CONTROL_LINE,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_subs: 0,
            max_sub_tokens: 0,
            max_pending: DEFAULT_MAX_PENDING,
            heavy_connection_rate: DEFAULT_HEAVY_CONNECTION_RATE,
            write_deadline: DEFAULT_WRITE_DEADLINE,
            ping_interval: DEFAULT_PING_INTERVAL,
            ping_max: DEFAULT_PING_MAX,
            auth_timeout: None,
            no_header_support: false,
            no_sublist_cache: false,
            lame_duck_duration: DEFAULT_LAME_DUCK_DURATION,
            lame_duck_grace_period: DEFAULT_LAME_DUCK_GRACE_PERIOD,
            debug: false,
            trace: false,
            trace_verbose: false,
            logtime: true,
            logtime_utc: false,
            log_file: None,
            log_size_limit: 0,
            pid_file: None,
            ports_file_dir: None,
            username: None,
            password: None,
            authorization: None,
            authorization_block: None,
            accounts_block: None,
            tls_block: None,
            no_auth_user: None,
            system_account: None,
            no_system_account: false,
            trace_headers: false,
            syslog: false,
            remote_syslog: String::new(),
            log_max_num: 0,
            max_traced_msg_len: 0,
            max_closed_clients: DEFAULT_MAX_CLOSED_CLIENTS,
            http_base_path: String::new(),
            server_tags: Vec::new(),
            server_metadata: Default::default(),
            allow_non_tls: false,
            write_timeout: WriteTimeoutPolicy::Default,
            mappings_block: None,
            raw_config: None,
            cluster_flags: Default::default(),
        }
    }
}

/// Top-level keys nats-server knows that have no effect without clustering;
/// they are accepted silently (as are the operator-trust keys
/// [`crate::trust`] reads from [`Options::raw_config`]).
const PASS_THROUGH_KEYS: &[&str] = &[
    "default_sentinel",
    "connect_error_reports",
    "reconnect_error_reports",
];

/// Top-level blocks of nats-server features rnats does not run (clusters,
/// WebSocket, MQTT, JetStream, ...). The mapper lets them through; whether
/// the server may start with them is decided in one place,
/// [`crate::server::support::check`], which refuses those that would open
/// nothing while the operator believes they run.
pub const FEATURE_KEYS: &[&str] = &[
    "cluster",
    "gateway",
    "leaf",
    "leafnodes",
    "jetstream",
    "websocket",
    "ws",
    "mqtt",
    "ocsp",
    "proxies",
    "proxy_protocol",
];

/// Top-level keys of nats-server settings that change nothing rnats does
/// (tuning of features it does not run): accepted and ignored with a
/// warning, so a config written for nats-server still starts.
const UNSUPPORTED_KEYS: &[&str] = &[
    "store_dir",
    "storedir",
    "ocsp_cache",
    "prof_port",
    "prof_block_rate",
    "feature_flags",
    "default_js_domain",
    "no_fast_producer_stall",
];

/// Keys allowed in the top-level `authorization` block (nats-server's
/// `parseAuthorization`); anything else is an unknown field there too.
const AUTHORIZATION_KEYS: &[&str] = &[
    "user",
    "username",
    "pass",
    "password",
    "token",
    "timeout",
    "users",
    "default_permission",
    "default_permissions",
    "permissions",
    "auth_callout",
    "auth_hook",
    "proxy_required",
];

/// Per-call state of the mapping: warnings gathered so far and which keys were
/// variable definitions.
struct Cx<'a> {
    warnings: Vec<String>,
    used_variables: &'a [super::Pos],
}

impl Cx<'_> {
    fn is_variable(&self, key: &super::Key) -> bool {
        self.used_variables.contains(&key.pos)
    }

    /// A warning in nats-server's wording for a legitimate but discouraged
    /// use of a field.
    fn warn_field(&mut self, key: &super::Key, field: &str, reason: &str) {
        self.warnings.push(format!(
            "{}: invalid use of field {field:?}: {reason}",
            key.pos
        ));
    }
}

/// rnats' own type error for `path`, naming it (see
/// [`ConfigError::wrong_type`](super::ConfigError::wrong_type)).
fn wrong_type(key: &super::Key, path: &str, want: &str, v: &super::Value) -> super::ConfigError {
    super::ConfigError::wrong_type(&key.pos, path, want, &v.kind)
}

fn want_int(key: &super::Key, path: &str, v: &super::Value) -> Result<i64, super::ConfigError> {
    match v.kind {
        super::Kind::Integer(n) => Ok(n),
        _ => Err(wrong_type(key, path, "an integer", v)),
    }
}

/// An integer that may not be negative (a size or a rate).
fn want_non_negative(
    key: &super::Key,
    path: &str,
    v: &super::Value,
) -> Result<i64, super::ConfigError> {
    let n = want_int(key, path, v)?;
    if n < 0 {
        return Err(super::ConfigError::at(
            &key.pos,
            path,
            format!("{path} value can not be negative"),
        ));
    }
    Ok(n)
}

fn want_bool(key: &super::Key, path: &str, v: &super::Value) -> Result<bool, super::ConfigError> {
    match v.kind {
        super::Kind::Bool(b) => Ok(b),
        _ => Err(wrong_type(key, path, "a boolean", v)),
    }
}

fn want_str<'v>(
    key: &super::Key,
    path: &str,
    v: &'v super::Value,
) -> Result<&'v str, super::ConfigError> {
    match &v.kind {
        super::Kind::String(s) => Ok(s),
        _ => Err(wrong_type(key, path, "a string", v)),
    }
}

fn want_map<'v>(
    key: &super::Key,
    path: &str,
    v: &'v super::Value,
) -> Result<&'v super::Map, super::ConfigError> {
    match &v.kind {
        super::Kind::Map(m) => Ok(m),
        _ => Err(wrong_type(key, path, "a map", v)),
    }
}

/// An integer that must fit an `i32` and not be negative.
fn want_i32(key: &super::Key, path: &str, v: &super::Value) -> Result<i32, super::ConfigError> {
    let n = want_non_negative(key, path, v)?;
    i32::try_from(n)
        .map_err(|_| super::ConfigError::at(&key.pos, path, format!("{path} value is too big")))
}

/// A port number: -1 (random) to 65535.
fn port_number(key: &super::Key, path: &str, n: i64) -> Result<i32, super::ConfigError> {
    if !(-1..=65535).contains(&n) {
        return Err(super::ConfigError::at(
            &key.pos,
            path,
            format!("port {n} is out of range (-1 to 65535)"),
        ));
    }
    Ok(n as i32)
}

/// `listen`/`http`/`https`: a port, or `host:port` (`:port`, `[::1]:port`).
/// Returns the host (None when only a port was given) and the port.
fn listen_value(
    key: &super::Key,
    path: &str,
    v: &super::Value,
) -> Result<(Option<String>, i32), super::ConfigError> {
    match &v.kind {
        super::Kind::Integer(n) => Ok((None, port_number(key, path, *n)?)),
        super::Kind::String(s) => {
            let (host, port) = split_host_port(s).ok_or_else(|| {
                super::ConfigError::at(
                    &key.pos,
                    path,
                    format!("could not parse address string {s:?}"),
                )
            })?;
            let n: i64 = port.parse().map_err(|_| {
                super::ConfigError::at(&key.pos, path, format!("could not parse port {port:?}"))
            })?;
            Ok((Some(host.to_owned()), port_number(key, path, n)?))
        }
        _ => Err(super::ConfigError::at(
            &key.pos,
            path,
            format!("{path}: expected port or host:port, got {}", v.kind.name()),
        )),
    }
}

/// Go's `net.SplitHostPort`: `host:port`, `:port` or `[v6]:port`.
fn split_host_port(s: &str) -> Option<(&str, &str)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = after.strip_prefix(':')?;
        if host.contains('[') || host.contains(']') || port.contains(':') {
            return None;
        }
        return Some((host, port));
    }
    let (host, port) = s.rsplit_once(':')?;
    if host.contains(':') || host.contains('[') || host.contains(']') {
        return None;
    }
    Some((host, port))
}

/// A duration given as a Go duration string (the modern form) or as an
/// integer number of seconds (the legacy form, accepted with nats-server's
/// warning). Used for `ping_interval` and `write_deadline`.
fn legacy_duration(
    key: &super::Key,
    field: &str,
    v: &super::Value,
    cx: &mut Cx<'_>,
) -> Result<Duration, super::ConfigError> {
    match &v.kind {
        super::Kind::String(s) => super::parser::parse_go_duration(s).map_err(|e| {
            super::ConfigError::at(&key.pos, field, format!("error parsing {field}: {e}"))
        }),
        super::Kind::Duration(d) => Ok(*d),
        super::Kind::Integer(n) => {
            cx.warn_field(
                key,
                field,
                &format!("{field} should be converted to a duration"),
            );
            u64::try_from(*n).map(Duration::from_secs).map_err(|_| {
                super::ConfigError::at(&key.pos, field, format!("{field} can not be negative"))
            })
        }
        _ => Err(wrong_type(key, field, "a duration", v)),
    }
}

/// A duration that must be a string (`lame_duck_duration`,
/// `lame_duck_grace_period`).
fn string_duration(
    key: &super::Key,
    field: &str,
    v: &super::Value,
) -> Result<Duration, super::ConfigError> {
    match &v.kind {
        super::Kind::String(s) => {
            if s.trim_start().starts_with('-') && super::parser::parse_go_duration(s).is_err() {
                return Err(super::ConfigError::at(
                    &key.pos,
                    field,
                    format!("invalid {field}, needs to be positive"),
                ));
            }
            super::parser::parse_go_duration(s).map_err(|e| {
                super::ConfigError::at(&key.pos, field, format!("error parsing {field}: {e}"))
            })
        }
        super::Kind::Duration(d) => Ok(*d),
        _ => Err(wrong_type(
            key,
            field,
            "a duration string such as \"30s\"",
            v,
        )),
    }
}

/// Finds the first of `names` in `map`, for pointing errors at a key.
fn find_key<'m>(map: &'m super::Map, names: &[&str]) -> Option<&'m super::Key> {
    names.iter().find_map(|n| {
        map.entries
            .iter()
            .rev()
            .find(|(k, _)| k.name.eq_ignore_ascii_case(n))
            .map(|(k, _)| k)
    })
}

impl Options {
    /// Maps a parsed config onto options, as nats-server's
    /// `processConfigFileLine` does, then runs [`Options::validate`].
    ///
    /// Warnings (legacy forms, unsupported features) are logged with
    /// `log::warn!`; use [`Options::from_map_with_warnings`] to get them.
    ///
    /// A bare [`Map`](super::Map) does not record which keys were used as
    /// `$variables`, so a top-level variable definition such as `PASS = x`
    /// is reported as an unknown field here. Configs from files should go
    /// through [`Options::from_file`] or [`Options::from_parsed`], which know.
    pub fn from_map(
        map: &super::Map,
        file: Option<&std::path::Path>,
    ) -> Result<Options, super::ConfigError> {
        let (opts, warnings) = Self::from_map_with_warnings(map, file)?;
        log_warnings(&warnings);
        Ok(opts)
    }

    /// Like [`Options::from_map`], returning the warnings instead of logging
    /// them.
    pub fn from_map_with_warnings(
        map: &super::Map,
        file: Option<&std::path::Path>,
    ) -> Result<(Options, Vec<String>), super::ConfigError> {
        Self::build(map, &[], file)
    }

    /// Maps a parse result onto options; keys that were only variable
    /// definitions are not unknown fields (as in nats-server). Returns the
    /// options and the warnings nats-server would print.
    pub fn from_parsed(
        parsed: &super::parser::ParsedConfig,
        file: Option<&std::path::Path>,
    ) -> Result<(Options, Vec<String>), super::ConfigError> {
        Self::build(&parsed.map, &parsed.used_variables, file)
    }

    /// Reads and maps a config file, logging any warnings.
    pub fn from_file(path: &std::path::Path) -> Result<Options, super::ConfigError> {
        let (opts, warnings) = Self::from_file_with_warnings(path)?;
        log_warnings(&warnings);
        Ok(opts)
    }

    /// Reads and maps a config file, returning the warnings.
    pub fn from_file_with_warnings(
        path: &std::path::Path,
    ) -> Result<(Options, Vec<String>), super::ConfigError> {
        let parsed = super::parser::parse_file_tracked(path)?;
        Self::from_parsed(&parsed, Some(path))
    }

    /// Checks option combinations nats-server rejects at startup
    /// (`validateOptions`). Call again after applying command-line flags.
    pub fn validate(&self) -> Result<(), super::ConfigError> {
        self.check()
            .map_err(|(_, msg)| super::ConfigError::new(None, None, msg))
    }

    /// The cross-option checks; on failure names the keys to blame.
    fn check(&self) -> Result<(), (&'static [&'static str], String)> {
        if self.lame_duck_grace_period >= self.lame_duck_duration {
            return Err((
                &["lame_duck_grace_period", "lame_duck_duration"],
                format!(
                    "lame duck grace period ({}) should be strictly lower than lame duck duration ({})",
                    super::parser::format_go_duration(self.lame_duck_grace_period),
                    super::parser::format_go_duration(self.lame_duck_duration)
                ),
            ));
        }
        if i64::from(self.max_payload) > self.max_pending {
            return Err((
                &["max_payload", "max_pending"],
                format!(
                    "max_payload ({}) cannot be higher than max_pending ({})",
                    self.max_payload, self.max_pending
                ),
            ));
        }
        if self.server_name.contains(' ') {
            return Err((&["server_name"], "server name cannot contain spaces".into()));
        }
        Ok(())
    }

    fn build(
        map: &super::Map,
        used_variables: &[super::Pos],
        file: Option<&std::path::Path>,
    ) -> Result<(Options, Vec<String>), super::ConfigError> {
        let mut cx = Cx {
            warnings: Vec::new(),
            used_variables,
        };
        let mut o = Options {
            config_file: file.map(std::path::Path::to_path_buf),
            raw_config: Some(map.clone()),
            ..Options::default()
        };
        if map.is_empty() {
            let name = file.map(|f| f.display().to_string()).unwrap_or_default();
            cx.warnings
                .push(format!("{name}: config has no values or is empty"));
        }
        for (key, value) in map.iter() {
            o.apply(key, value, &mut cx)?;
        }
        if let Err((blame, msg)) = o.check() {
            let pos = find_key(map, blame).map(|k| k.pos.clone());
            return Err(super::ConfigError::new(pos, None, msg));
        }
        if o.max_payload > MAX_PAYLOAD_WARN_SIZE {
            let at = find_key(map, &["max_payload"])
                .map(|k| format!("{}: ", k.pos))
                .unwrap_or_default();
            cx.warnings.push(format!(
                "{at}Maximum payloads over 8.00 MB are generally discouraged and could lead to poor performance"
            ));
        }
        Ok((o, cx.warnings))
    }

    /// Applies one top-level key.
    fn apply(
        &mut self,
        key: &super::Key,
        v: &super::Value,
        cx: &mut Cx<'_>,
    ) -> Result<(), super::ConfigError> {
        let k = key.name.as_str();
        let lower = k.to_ascii_lowercase();
        match lower.as_str() {
            "listen" => {
                let (host, port) = listen_value(key, k, v)?;
                if let Some(host) = host {
                    // `listen: ":4222"` binds every interface, as nats-server's
                    // baseline turns an empty host into 0.0.0.0.
                    self.host = if host.is_empty() {
                        "0.0.0.0".to_owned()
                    } else {
                        host
                    };
                }
                self.port = if port == 0 { DEFAULT_PORT as i32 } else { port };
            }
            "port" => {
                // 0 means the default port, -1 a random one (nats-server).
                let port = port_number(key, k, want_int(key, k, v)?)?;
                self.port = if port == 0 { DEFAULT_PORT as i32 } else { port };
            }
            "host" | "net" => self.host = want_str(key, k, v)?.to_owned(),
            "server_name" => {
                let name = want_str(key, k, v)?;
                if name.contains(' ') {
                    return Err(super::ConfigError::at(
                        &key.pos,
                        k,
                        "server name cannot contain spaces",
                    ));
                }
                self.server_name = name.to_owned();
            }
            "client_advertise" => self.client_advertise = want_str(key, k, v)?.to_owned(),
            "http" => {
                let (host, port) = listen_value(key, k, v)?;
                if let Some(host) = host {
                    self.http_host = host;
                }
                self.http_port = port;
            }
            "https" => {
                let (host, port) = listen_value(key, k, v)?;
                if let Some(host) = host {
                    self.http_host = host;
                }
                self.https_port = port;
            }
            "http_port" | "monitor_port" => {
                self.http_port = port_number(key, k, want_int(key, k, v)?)?;
            }
            "https_port" => self.https_port = port_number(key, k, want_int(key, k, v)?)?,
            "http_base_path" => self.http_base_path = want_str(key, k, v)?.to_owned(),
            "max_payload" => {
                let n = want_i32(key, k, v)?;
                self.max_payload = if n == 0 { DEFAULT_MAX_PAYLOAD } else { n };
            }
            "max_control_line" => {
                let n = want_i32(key, k, v)?;
                self.max_control_line = if n == 0 { DEFAULT_MAX_CONTROL_LINE } else { n };
            }
            "max_pending" => {
                let n = want_non_negative(key, k, v)?;
                self.max_pending = if n == 0 { DEFAULT_MAX_PENDING } else { n };
            }
            "heavy_connection_rate" => {
                self.heavy_connection_rate = want_non_negative(key, k, v)?;
            }
            "max_connections" | "max_conn" => {
                let n = want_int(key, k, v)?;
                let n = i32::try_from(n).map_err(|_| {
                    super::ConfigError::at(&key.pos, k, format!("{k} value is too big"))
                })?;
                // nats-server: 0 in a config file means "accept nobody"
                // (stored as -1), unlike an unset value.
                self.max_connections = if n == 0 { -1 } else { n };
            }
            "max_subscriptions" | "max_subs" => {
                let n = want_int(key, k, v)?;
                self.max_subs = i32::try_from(n).map_err(|_| {
                    super::ConfigError::at(&key.pos, k, format!("{k} value is too big"))
                })?;
            }
            "max_sub_tokens" | "max_subscription_tokens" => {
                let n = want_int(key, k, v)?;
                if n > 255 {
                    return Err(super::ConfigError::at(
                        &key.pos,
                        k,
                        format!("{k} value is too big"),
                    ));
                }
                if n <= 0 {
                    return Err(super::ConfigError::at(
                        &key.pos,
                        k,
                        format!("{k} value can not be negative"),
                    ));
                }
                self.max_sub_tokens = n as u8;
            }
            "ping_interval" => {
                let d = legacy_duration(key, "ping_interval", v, cx)?;
                self.ping_interval = if d.is_zero() {
                    DEFAULT_PING_INTERVAL
                } else {
                    d
                };
            }
            "ping_max" => {
                let n = want_int(key, k, v)?;
                let n = i32::try_from(n).map_err(|_| {
                    super::ConfigError::at(&key.pos, k, format!("{k} value is too big"))
                })?;
                self.ping_max = if n == 0 { DEFAULT_PING_MAX } else { n };
            }
            "write_deadline" => {
                let d = legacy_duration(key, "write_deadline", v, cx)?;
                self.write_deadline = if d.is_zero() {
                    DEFAULT_WRITE_DEADLINE
                } else {
                    d
                };
            }
            "write_timeout" => {
                self.write_timeout = match want_str(key, k, v)? {
                    "default" => WriteTimeoutPolicy::Default,
                    "close" => WriteTimeoutPolicy::Close,
                    "retry" => WriteTimeoutPolicy::Retry,
                    _ => {
                        return Err(super::ConfigError::at(
                            &key.pos,
                            k,
                            "write_timeout must be 'default', 'close' or 'retry'",
                        ));
                    }
                };
            }
            "lame_duck_duration" => {
                let d = string_duration(key, "lame_duck_duration", v)?;
                if d < Duration::from_secs(30) {
                    return Err(super::ConfigError::at(
                        &key.pos,
                        k,
                        format!(
                            "invalid lame_duck_duration of {}, minimum is 30 seconds",
                            super::parser::format_go_duration(d)
                        ),
                    ));
                }
                self.lame_duck_duration = d;
            }
            "lame_duck_grace_period" => {
                let d = string_duration(key, "lame_duck_grace_period", v)?;
                self.lame_duck_grace_period = if d.is_zero() {
                    DEFAULT_LAME_DUCK_GRACE_PERIOD
                } else {
                    d
                };
            }
            "no_header_support" => self.no_header_support = want_bool(key, k, v)?,
            "disable_sublist_cache" | "no_sublist_cache" => {
                self.no_sublist_cache = want_bool(key, k, v)?;
            }
            "debug" => self.debug = want_bool(key, k, v)?,
            "trace" => self.trace = want_bool(key, k, v)?,
            "trace_verbose" => {
                // Like nats-server, trace_verbose also sets trace.
                self.trace_verbose = want_bool(key, k, v)?;
                self.trace = self.trace_verbose;
            }
            "trace_headers" => {
                self.trace_headers = want_bool(key, k, v)?;
                self.trace = self.trace_headers;
            }
            "logtime" => self.logtime = want_bool(key, k, v)?,
            "logtime_utc" => self.logtime_utc = want_bool(key, k, v)?,
            "log_file" | "logfile" => self.log_file = Some(want_str(key, k, v)?.into()),
            "log_size_limit" | "logfile_size_limit" => self.log_size_limit = want_int(key, k, v)?,
            "logfile_max_num" | "log_max_num" => self.log_max_num = want_int(key, k, v)?,
            "syslog" => self.syslog = want_bool(key, k, v)?,
            "remote_syslog" => self.remote_syslog = want_str(key, k, v)?.to_owned(),
            "max_traced_msg_len" => self.max_traced_msg_len = want_int(key, k, v)?,
            "max_closed_clients" => {
                let n = want_i32(key, k, v)?;
                self.max_closed_clients = if n == 0 {
                    DEFAULT_MAX_CLOSED_CLIENTS
                } else {
                    n
                };
            }
            "pid_file" | "pidfile" => self.pid_file = Some(want_str(key, k, v)?.into()),
            "ports_file_dir" => self.ports_file_dir = Some(want_str(key, k, v)?.into()),
            "authorization" => self.apply_authorization(key, v, cx)?,
            "accounts" => self.accounts_block = Some(accounts_block(key, v)?),
            "tls" => self.tls_block = Some(want_map(key, k, v)?.clone()),
            "allow_non_tls" => self.allow_non_tls = want_bool(key, k, v)?,
            "mappings" | "maps" => self.mappings_block = Some(want_map(key, k, v)?.clone()),
            "no_auth_user" => self.no_auth_user = Some(want_str(key, k, v)?.to_owned()),
            "system_account" | "system" => {
                let super::Kind::String(name) = &v.kind else {
                    return Err(super::ConfigError::at(
                        &key.pos,
                        k,
                        "system account name must be a string",
                    ));
                };
                self.system_account = Some(name.clone());
            }
            "no_system_account" | "no_system" | "no_sys_acc" => {
                self.no_system_account = want_bool(key, k, v)?;
            }
            "server_tags" => {
                let mut add = |t: &str| {
                    let t = t.trim();
                    if !t.is_empty() && !self.server_tags.iter().any(|x| x == t) {
                        self.server_tags.push(t.to_owned());
                    }
                };
                match &v.kind {
                    super::Kind::String(s) => add(s),
                    super::Kind::Array(items) => {
                        for item in items {
                            match &item.kind {
                                super::Kind::String(s) => add(s),
                                other => {
                                    return Err(super::ConfigError::at(
                                        &key.pos,
                                        k,
                                        format!(
                                            "error parsing tags: unsupported type {} where string is expected",
                                            other.name()
                                        ),
                                    ));
                                }
                            }
                        }
                    }
                    other => {
                        return Err(super::ConfigError::at(
                            &key.pos,
                            k,
                            format!("error parsing tags: unsupported type {}", other.name()),
                        ));
                    }
                }
            }
            "server_metadata" => {
                let m = want_map(key, k, v)?;
                for (mk, mv) in m.iter() {
                    let path = format!("{k}.{}", mk.name);
                    let s = want_str(mk, &path, mv)?;
                    self.server_metadata.insert(mk.name.clone(), s.to_owned());
                }
            }
            _ if PASS_THROUGH_KEYS.contains(&lower.as_str())
                || FEATURE_KEYS.contains(&lower.as_str())
                || crate::trust::is_trust_key(&lower) => {}
            _ if UNSUPPORTED_KEYS.contains(&lower.as_str()) => {
                cx.warnings.push(format!(
                    "{}: field {k:?} is not supported by rnats and is ignored",
                    key.pos
                ));
            }
            _ if cx.is_variable(key) => {}
            _ => {
                return Err(super::ConfigError::new(
                    Some(key.pos.clone()),
                    None,
                    format!("unknown field {k:?}"),
                ));
            }
        }
        Ok(())
    }

    /// `authorization { ... }`: single user/password or token, the auth
    /// timeout, and the raw block for the auth pipeline (users, permissions,
    /// auth callout), with nats-server's conflict checks.
    fn apply_authorization(
        &mut self,
        key: &super::Key,
        v: &super::Value,
        cx: &mut Cx<'_>,
    ) -> Result<(), super::ConfigError> {
        let k = key.name.as_str();
        let block = want_map(key, k, v)?;
        let mut user = None;
        let mut pass = None;
        let mut token = None;
        let mut timeout = None;
        let mut has_users = false;
        for (mk, mv) in block.iter() {
            let lower = mk.name.to_ascii_lowercase();
            let path = format!("{k}.{}", mk.name);
            match lower.as_str() {
                "user" | "username" => user = Some(want_str(mk, &path, mv)?.to_owned()),
                "pass" | "password" => pass = Some(want_str(mk, &path, mv)?.to_owned()),
                "token" => token = Some(want_str(mk, &path, mv)?.to_owned()),
                "timeout" => {
                    let secs = match &mv.kind {
                        super::Kind::Integer(n) => *n as f64,
                        super::Kind::Float(f) => *f,
                        super::Kind::Duration(d) => d.as_secs_f64(),
                        super::Kind::String(s) => super::parser::parse_go_duration(s)
                            .map_err(|e| {
                                super::ConfigError::at(
                                    &mk.pos,
                                    &path,
                                    format!("error parsing authorization config, 'timeout' {e}"),
                                )
                            })?
                            .as_secs_f64(),
                        _ => {
                            return Err(super::ConfigError::at(
                                &mk.pos,
                                &path,
                                "error parsing authorization config, 'timeout' wrong type",
                            ));
                        }
                    };
                    if secs > 60.0 {
                        let shown = match &mv.kind {
                            super::Kind::String(s) => s.clone(),
                            super::Kind::Integer(n) => n.to_string(),
                            _ => secs.to_string(),
                        };
                        cx.warn_field(
                            mk,
                            &mk.name,
                            &format!(
                                "timeout of {shown} ({secs:.6} seconds) is high, consider keeping it under 60 seconds. possibly caused by unquoted duration; use '1m' instead of 1m, for example"
                            ),
                        );
                    }
                    let d = Duration::try_from_secs_f64(secs).map_err(|_| {
                        super::ConfigError::at(
                            &mk.pos,
                            &path,
                            format!("invalid authorization timeout {secs}"),
                        )
                    })?;
                    // 0 means "use the default", as in nats-server.
                    timeout = (!d.is_zero()).then_some(d);
                }
                "users" => {
                    if !matches!(mv.kind, super::Kind::Array(_)) {
                        return Err(crate::auth::users::users_not_an_array(mv, &path));
                    }
                    has_users = true;
                }
                // Read (and their errors reported) by the auth pipeline,
                // `crate::auth::AuthConfig::from_options`.
                "default_permission" | "default_permissions" | "permissions" => {}
                "auth_callout" | "auth_hook" => {
                    want_map(mk, &path, mv)?;
                }
                "proxy_required" => {
                    want_bool(mk, &path, mv)?;
                }
                _ if cx.is_variable(mk) => {}
                _ => {
                    debug_assert!(!AUTHORIZATION_KEYS.contains(&lower.as_str()));
                    return Err(super::ConfigError::new(
                        Some(mk.pos.clone()),
                        None,
                        format!("unknown field {:?}", mk.name),
                    ));
                }
            }
        }
        let conflict = |msg: &str| Err(super::ConfigError::at(&key.pos, k, msg));
        if (user.is_some() || pass.is_some()) && token.is_some() {
            return conflict("Cannot have a user/pass and token");
        }
        if has_users && user.is_some() {
            return conflict("Can not have a single user/pass and a users array");
        }
        if has_users && token.is_some() {
            return conflict("Can not have a token and a users array");
        }
        self.username = user;
        self.password = pass;
        self.authorization = token;
        self.auth_timeout = timeout;
        self.authorization_block = Some(block.clone());
        Ok(())
    }
}

/// `accounts`: a map of account name to definition, or (nats-server's short
/// form) an array of names, turned into a map of empty definitions.
fn accounts_block(key: &super::Key, v: &super::Value) -> Result<super::Map, super::ConfigError> {
    let k = key.name.as_str();
    match &v.kind {
        super::Kind::Map(m) => Ok(m.clone()),
        super::Kind::Array(items) => {
            let mut out = super::Map::default();
            for item in items {
                let super::Kind::String(name) = &item.kind else {
                    return Err(wrong_type(key, k, "an account name", item));
                };
                if out.entries.iter().any(|(k, _)| &k.name == name) {
                    return Err(super::ConfigError::at(
                        &item.pos,
                        k,
                        format!("Duplicate Account Entry: {name}"),
                    ));
                }
                out.entries.push((
                    super::Key {
                        name: name.clone(),
                        pos: item.pos.clone(),
                    },
                    super::Value {
                        kind: super::Kind::Map(super::Map::default()),
                        pos: item.pos.clone(),
                    },
                ));
            }
            Ok(out)
        }
        _ => Err(super::ConfigError::at(
            &key.pos,
            k,
            format!("Expected map to define accounts, got {}", v.kind.name()),
        )),
    }
}

fn log_warnings(warnings: &[String]) {
    for w in warnings {
        log::warn!("{w}");
    }
}

#[cfg(test)]
mod tests {
    use super::super::parser::parse_str_tracked;
    use super::*;
    use std::path::Path;

    fn opts(src: &str) -> (Options, Vec<String>) {
        let parsed = parse_str_tracked(src, Path::new("t.conf")).unwrap_or_else(|e| panic!("{e}"));
        Options::from_parsed(&parsed, Some(Path::new("t.conf"))).unwrap_or_else(|e| panic!("{e}"))
    }

    fn opts_err(src: &str) -> String {
        let parsed = parse_str_tracked(src, Path::new("t.conf")).unwrap_or_else(|e| panic!("{e}"));
        match Options::from_parsed(&parsed, Some(Path::new("t.conf"))) {
            Ok(_) => panic!("expected an error for {src:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn empty_config_gives_defaults_and_a_warning() {
        let (o, w) = opts("# nothing here\n");
        let want = Options {
            config_file: Some("t.conf".into()),
            raw_config: Some(Default::default()),
            ..Default::default()
        };
        assert_eq!(o, want);
        assert_eq!(
            w,
            vec!["t.conf: config has no values or is empty".to_owned()]
        );
    }

    #[test]
    fn listen_forms() {
        let (o, _) = opts("listen: 127.0.0.1:4333");
        assert_eq!((o.host.as_str(), o.port), ("127.0.0.1", 4333));
        let (o, _) = opts("host: 10.0.0.1\nlisten: \":4444\"");
        assert_eq!((o.host.as_str(), o.port), ("0.0.0.0", 4444));
        let (o, _) = opts("host: 10.0.0.1\nlisten: 4555");
        assert_eq!((o.host.as_str(), o.port), ("10.0.0.1", 4555));
        let (o, _) = opts("listen: \"[::1]:4222\"");
        assert_eq!((o.host.as_str(), o.port), ("::1", 4222));
        let (o, _) = opts("listen: localhost:-1");
        assert_eq!(o.port, -1);
        let (o, _) = opts("net: 127.0.0.2\nport: 0");
        assert_eq!(
            (o.host.as_str(), o.port),
            ("127.0.0.2", DEFAULT_PORT as i32)
        );
        assert_eq!(
            opts_err("listen: localhost"),
            "t.conf:1:1: could not parse address string \"localhost\""
        );
        assert!(opts_err("listen: \"host:abc\"").contains("could not parse port \"abc\""));
        assert!(opts_err("port: 70000").contains("out of range"));
        assert!(opts_err("listen: [1]").contains("expected port or host:port"));
    }

    #[test]
    fn monitoring_ports() {
        let (o, _) = opts("http: 127.0.0.1:8222");
        assert_eq!((o.http_host.as_str(), o.http_port), ("127.0.0.1", 8222));
        let (o, _) = opts("http: 8223");
        assert_eq!((o.http_host.as_str(), o.http_port), ("", 8223));
        let (o, _) = opts("monitor_port: 8224");
        assert_eq!(o.http_port, 8224);
        let (o, _) = opts("http_port: -1\nhttps: 0.0.0.0:8443\nhttp_base_path: /mon");
        assert_eq!((o.http_port, o.https_port), (-1, 8443));
        assert_eq!(o.http_host, "0.0.0.0");
        assert_eq!(o.http_base_path, "/mon");
        let (o, _) = opts("https_port: 9443");
        assert_eq!(o.https_port, 9443);
    }

    #[test]
    fn heavy_connection_rate() {
        let (o, _) = opts("max_pending: 1MB");
        assert_eq!(o.heavy_connection_rate, DEFAULT_HEAVY_CONNECTION_RATE);
        let (o, _) = opts("heavy_connection_rate: 50MB");
        assert_eq!(o.heavy_connection_rate, 50 << 20);
        assert_eq!(opts("heavy_connection_rate: 0").0.heavy_connection_rate, 0);
        assert!(opts_err("heavy_connection_rate: -1").contains("can not be negative"));
    }

    #[test]
    fn limits_with_size_suffixes() {
        let (o, _) = opts(
            "max_payload: 2MB\nmax_pending: 128MB\nmax_control_line: 8KB\nmax_connections: 100\nmax_subs: 50\nmax_sub_tokens: 16\nping_max: 5\nmax_closed_clients: 7",
        );
        assert_eq!(o.max_payload, 2 << 20);
        assert_eq!(o.max_pending, 128 << 20);
        assert_eq!(o.max_control_line, 8 << 10);
        assert_eq!(o.max_connections, 100);
        assert_eq!(o.max_subs, 50);
        assert_eq!(o.max_sub_tokens, 16);
        assert_eq!(o.ping_max, 5);
        assert_eq!(o.max_closed_clients, 7);
        let (o, _) = opts("max_conn: 0\nmax_subscriptions: 3\nmax_payload: 0\nping_max: 0");
        assert_eq!(o.max_connections, -1, "0 in a config rejects every client");
        assert_eq!(o.max_subs, 3);
        assert_eq!(o.max_payload, DEFAULT_MAX_PAYLOAD);
        assert_eq!(o.ping_max, DEFAULT_PING_MAX);
        assert_eq!(
            opts_err("max_payload: 3GB"),
            "t.conf:1:1: max_payload value is too big"
        );
        assert!(opts_err("max_sub_tokens: 256").contains("value is too big"));
        assert!(opts_err("max_subscription_tokens: 0").contains("can not be negative"));
        assert!(opts_err("max_pending: -1").contains("can not be negative"));
    }

    #[test]
    fn payload_above_pending_is_rejected() {
        let e = opts_err("max_pending: 1MB\n\nmax_payload: 2MB");
        assert_eq!(
            e,
            "t.conf:3:1: max_payload (2097152) cannot be higher than max_pending (1048576)"
        );
        let (_, w) = opts("max_payload: 16MB");
        assert!(w
            .iter()
            .any(|w| w.contains("Maximum payloads over 8.00 MB")));
    }

    #[test]
    fn wrong_types_name_file_line_and_key() {
        assert_eq!(
            opts_err("\n  max_payload: \"big\""),
            "t.conf:2:3: max_payload: expected an integer, got string"
        );
        assert_eq!(
            opts_err("debug: 1"),
            "t.conf:1:1: debug: expected a boolean, got integer"
        );
        assert_eq!(
            opts_err("server_name: 12"),
            "t.conf:1:1: server_name: expected a string, got integer"
        );
        assert_eq!(
            opts_err("authorization {\n  user: [a]\n}"),
            "t.conf:2:3: authorization.user: expected a string, got array"
        );
        assert!(opts_err("tls: true").contains("tls: expected a map, got boolean"));
    }

    #[test]
    fn durations_and_their_legacy_forms() {
        let (o, w) = opts("ping_interval: \"30s\"\nwrite_deadline: \"2s\"\nlame_duck_duration: \"1m\"\nlame_duck_grace_period: \"5s\"");
        assert_eq!(o.ping_interval, Duration::from_secs(30));
        assert_eq!(o.write_deadline, Duration::from_secs(2));
        assert_eq!(o.lame_duck_duration, Duration::from_secs(60));
        assert_eq!(o.lame_duck_grace_period, Duration::from_secs(5));
        assert!(w.is_empty(), "{w:?}");
        // An integer is seconds, with nats-server's warning.
        let (o, w) = opts("ping_interval: 60\nwrite_deadline: 3");
        assert_eq!(o.ping_interval, Duration::from_secs(60));
        assert_eq!(o.write_deadline, Duration::from_secs(3));
        assert_eq!(
            w[0],
            "t.conf:1:1: invalid use of field \"ping_interval\": ping_interval should be converted to a duration"
        );
        // Unquoted 10s is a string, so it works; unquoted 2m is 2,000,000.
        let (o, _) = opts("ping_interval: 10s");
        assert_eq!(o.ping_interval, Duration::from_secs(10));
        let (o, w) = opts("ping_interval: 2m");
        assert_eq!(o.ping_interval, Duration::from_secs(2_000_000));
        assert_eq!(w.len(), 1);
        assert_eq!(
            opts_err("write_deadline: \"2x\""),
            "t.conf:1:1: error parsing write_deadline: time: unknown unit \"x\" in duration \"2x\""
        );
        assert_eq!(
            opts_err("lame_duck_duration: \"10s\""),
            "t.conf:1:1: invalid lame_duck_duration of 10s, minimum is 30 seconds"
        );
        assert!(opts_err("lame_duck_duration: 60").contains("expected a duration string"));
        assert!(opts_err("lame_duck_grace_period: \"-5s\"").contains("needs to be positive"));
        assert_eq!(
            opts_err("lame_duck_grace_period: \"3m\""),
            "t.conf:1:1: lame duck grace period (3m0s) should be strictly lower than lame duck duration (2m0s)"
        );
    }

    #[test]
    fn authorization_block() {
        let (o, _) = opts("authorization {\n  user: alice\n  password: s3cret\n  timeout: 0.5\n}");
        assert_eq!(o.username.as_deref(), Some("alice"));
        assert_eq!(o.password.as_deref(), Some("s3cret"));
        assert_eq!(o.auth_timeout, Some(Duration::from_millis(500)));
        assert!(o.authorization_block.unwrap().get("user").is_some());
        let (o, _) = opts("authorization { username: bob, pass: pw, timeout: \"3s\" }");
        assert_eq!(o.username.as_deref(), Some("bob"));
        assert_eq!(o.password.as_deref(), Some("pw"));
        assert_eq!(o.auth_timeout, Some(Duration::from_secs(3)));
        let (o, w) = opts("authorization { token: \"abc\", timeout: 120 }");
        assert_eq!(o.authorization.as_deref(), Some("abc"));
        assert_eq!(o.auth_timeout, Some(Duration::from_secs(120)));
        assert!(
            w[0].contains("is high, consider keeping it under 60 seconds"),
            "{w:?}"
        );
        let (o, _) = opts("authorization { timeout: 0 }");
        assert_eq!(o.auth_timeout, None);
        let (o, _) = opts("authorization { users: [ {user: a, password: b} ] }");
        assert!(o.username.is_none());
        assert!(o.authorization_block.is_some());
        assert!(opts_err("authorization { user: a, token: t }")
            .contains("Cannot have a user/pass and token"));
        assert!(opts_err("authorization { user: a, users: [] }")
            .contains("Can not have a single user/pass and a users array"));
        assert!(opts_err("authorization { token: t, users: [] }")
            .contains("Can not have a token and a users array"));
        assert!(
            opts_err("authorization { users: {} }").contains("Expected users field to be an array")
        );
        assert!(opts_err("authorization { timeout: -1 }").contains("invalid authorization timeout"));
        assert_eq!(
            opts_err("authorization {\n  usr: a\n}"),
            "t.conf:2:3: unknown field \"usr\""
        );
        // A variable defined inside the block is not an unknown field.
        let (o, _) = opts("authorization {\n  PASS: x\n  user: a\n  password: $PASS\n}");
        assert_eq!(o.password.as_deref(), Some("x"));
    }

    #[test]
    fn accounts_tls_and_other_blocks() {
        let (o, _) = opts(
            "accounts {\n  A { users = [ {user: a, password: a} ] }\n  B {}\n}\ntls { cert_file: \"c.pem\", key_file: \"k.pem\" }\nmappings { foo: bar }\nsystem_account: SYS\nno_auth_user: a",
        );
        let acc = o.accounts_block.unwrap();
        assert_eq!(acc.len(), 2);
        assert!(acc.get("a").is_some());
        assert_eq!(o.tls_block.unwrap().len(), 2);
        assert_eq!(o.mappings_block.unwrap().len(), 1);
        assert_eq!(o.system_account.as_deref(), Some("SYS"));
        assert_eq!(o.no_auth_user.as_deref(), Some("a"));
        let (o, _) = opts("accounts: [A, B]\nno_sys_acc: true");
        let acc = o.accounts_block.unwrap();
        assert_eq!(acc.len(), 2);
        assert_eq!(
            acc.get("B").unwrap().kind,
            super::super::Kind::Map(Default::default())
        );
        assert!(o.no_system_account);
        assert!(opts_err("accounts: [A, A]").contains("Duplicate Account Entry: A"));
        assert!(opts_err("accounts: 1").contains("Expected map to define accounts"));
    }

    #[test]
    fn flags_logging_and_files() {
        let (o, _) = opts(
            "debug: true\ntrace_verbose: true\nlogtime: false\nlogtime_utc: true\nlogfile: /var/log/rnats.log\nlogfile_size_limit: 1GB\nlog_max_num: 3\npidfile: /run/rnats.pid\nports_file_dir: /run\nno_header_support: true\nno_sublist_cache: true\nsyslog: false\nremote_syslog: \"udp://127.0.0.1:514\"\nmax_traced_msg_len: 64\nserver_name: hub-1\nclient_advertise: \"nats.example.com:4222\"",
        );
        assert!(o.debug && o.trace && o.trace_verbose && !o.logtime && o.logtime_utc);
        assert_eq!(o.log_file.as_deref(), Some(Path::new("/var/log/rnats.log")));
        assert_eq!(o.log_size_limit, 1 << 30);
        assert_eq!(o.log_max_num, 3);
        assert_eq!(o.pid_file.as_deref(), Some(Path::new("/run/rnats.pid")));
        assert_eq!(o.ports_file_dir.as_deref(), Some(Path::new("/run")));
        assert!(o.no_header_support && o.no_sublist_cache);
        assert_eq!(o.remote_syslog, "udp://127.0.0.1:514");
        assert_eq!(o.max_traced_msg_len, 64);
        assert_eq!(o.server_name, "hub-1");
        assert_eq!(o.client_advertise, "nats.example.com:4222");
        let (o, _) = opts("trace_headers: true\ndisable_sublist_cache: false\nlog_file: x.log\npid_file: y.pid\nlog_size_limit: 10");
        assert!(o.trace && o.trace_headers);
        assert_eq!(o.log_file.as_deref(), Some(Path::new("x.log")));
        assert_eq!(o.pid_file.as_deref(), Some(Path::new("y.pid")));
        assert!(opts_err("server_name: \"a b\"").contains("server name cannot contain spaces"));
    }

    #[test]
    fn tags_metadata_write_timeout() {
        let (o, _) = opts("server_tags: [\"az:1\", region, region]\nserver_metadata { team: core }\nwrite_timeout: retry\nallow_non_tls: true");
        assert_eq!(o.server_tags, vec!["az:1".to_owned(), "region".to_owned()]);
        assert_eq!(
            o.server_metadata.get("team").map(String::as_str),
            Some("core")
        );
        assert_eq!(o.write_timeout, WriteTimeoutPolicy::Retry);
        assert!(o.allow_non_tls);
        let (o, _) = opts("server_tags: solo");
        assert_eq!(o.server_tags, vec!["solo".to_owned()]);
        assert!(
            opts_err("write_timeout: sometimes").contains("must be 'default', 'close' or 'retry'")
        );
        assert!(opts_err("server_tags: [1]").contains("error parsing tags"));
    }

    #[test]
    fn unknown_unsupported_and_variable_keys() {
        assert_eq!(
            opts_err("port: 4222\nfoo: 1"),
            "t.conf:2:1: unknown field \"foo\""
        );
        // Keys used as variables are definitions, not options.
        let (o, w) = opts("PORT_VAR = 4333\nport: $PORT_VAR");
        assert_eq!(o.port, 4333);
        assert!(w.is_empty());
        // Tuning of features rnats lacks: accepted, with a warning each.
        let (o, w) = opts("store_dir: /tmp/js\nprof_port: 6060\nport: 4223");
        assert_eq!(o.port, 4223);
        assert_eq!(w.len(), 2, "{w:?}");
        assert_eq!(
            w[0],
            "t.conf:1:1: field \"store_dir\" is not supported by rnats and is ignored"
        );
        // Feature blocks pass the mapper; support::check judges them.
        let (_, w) = opts("cluster { name: c, port: 6222 }\nwebsocket { port: 8080 }");
        assert!(w.is_empty(), "{w:?}");
        // Operator-mode keys are kept for the JWT layer, silently.
        let (o, w) = opts("operator: \"op.jwt\"\nresolver: MEMORY\nresolver_preload { }");
        assert!(w.is_empty(), "{w:?}");
        assert!(o.raw_config.unwrap().get("resolver").is_some());
        // Without variable tracking, from_map cannot tell a definition from a typo.
        let map = super::super::parse_str("X = 1\nport = $X", Path::new("t.conf")).unwrap();
        assert!(Options::from_map(&map, None)
            .unwrap_err()
            .message
            .contains("unknown field"));
    }

    #[test]
    fn validate_after_flags() {
        let mut o = Options::default();
        assert!(o.validate().is_ok());
        o.max_payload = 100;
        o.max_pending = 10;
        assert_eq!(
            o.validate().unwrap_err().to_string(),
            "max_payload (100) cannot be higher than max_pending (10)"
        );
    }

    #[test]
    fn go_split_host_port() {
        assert_eq!(split_host_port("a:1"), Some(("a", "1")));
        assert_eq!(split_host_port(":1"), Some(("", "1")));
        assert_eq!(split_host_port("[::1]:1"), Some(("::1", "1")));
        assert_eq!(split_host_port("::1:1"), None);
        assert_eq!(split_host_port("a"), None);
        assert_eq!(split_host_port("[::1]"), None);
    }
}

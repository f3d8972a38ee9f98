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

/// Everything the server reads from its config file and flags.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Config file this came from, if any (for reload and error messages).
    pub config_file: Option<PathBuf>,
    /// `server_name`; defaults to the server id when empty.
    pub server_name: String,
    /// Client listen host (`host`, `net`, or the host part of `listen`).
    pub host: String,
    /// Client listen port (`port` or the port part of `listen`); 0 = any free
    /// port, -1 = random as in nats-server (`-p -1`).
    pub port: i32,
    /// `client_advertise`: host:port announced instead of the listen address.
    pub client_advertise: String,
    /// Monitoring: `http` / `http_port` / `monitor_port` (HTTP).
    pub http_host: String,
    pub http_port: i32,
    /// Monitoring over HTTPS (`https`, `https_port`).
    pub https_port: i32,
    /// `max_payload`: largest PUB/HPUB total size.
    pub max_payload: i32,
    /// `max_control_line`.
    pub max_control_line: i32,
    /// `max_connections`.
    pub max_connections: i32,
    /// `max_subscriptions` / `max_subs`: per connection, 0 = unlimited.
    pub max_subs: i32,
    /// `max_sub_tokens`: 0 = unlimited (at most 255).
    pub max_sub_tokens: u8,
    /// `max_pending`: per-connection outbound buffer limit.
    pub max_pending: i64,
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
            write_deadline: Duration::from_secs(10),
            ping_interval: Duration::from_secs(120),
            ping_max: 2,
            auth_timeout: None,
            no_header_support: false,
            no_sublist_cache: false,
            lame_duck_duration: Duration::from_secs(120),
            lame_duck_grace_period: Duration::from_secs(10),
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
        }
    }
}

impl Options {
    /// Maps a parsed config onto options. INTERFACE STUB.
    pub fn from_map(map: &super::Map, file: Option<&std::path::Path>) -> Result<Options, super::ConfigError> {
        let _ = (map, file);
        todo!()
    }

    /// Reads and maps a config file.
    pub fn from_file(path: &std::path::Path) -> Result<Options, super::ConfigError> {
        let map = super::parse_file(path)?;
        Self::from_map(&map, Some(path))
    }
}

impl Options {
    /// Cross-option checks nats-server makes before starting, applied after
    /// flags override the file.
    ///
    /// # Errors
    /// The first inconsistency found.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_payload < 0 {
            return Err(format!("max_payload ({}) cannot be negative", self.max_payload));
        }
        if self.max_pending > 0 && self.max_payload as i64 > self.max_pending {
            return Err(format!(
                "max_payload ({}) cannot be higher than max_pending ({})",
                self.max_payload, self.max_pending
            ));
        }
        if !(-1..=65535).contains(&self.port) {
            return Err(format!("port {} is out of range", self.port));
        }
        Ok(())
    }
}

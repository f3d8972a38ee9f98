//! The `cluster {}` block and the cluster command-line flags, read as
//! nats-server's `parseCluster` and `ConfigureOptions` read them: the same
//! keys, defaults and error texts, every error naming file, line and key.
//! What rnats does not implement (S2 compression) stops the server instead
//! of being ignored.
//!
//! As in nats-server, the block (or the flags) only turns routing on with a
//! listen port: `port: 0` (the default) keeps the cluster name (clients see
//! it in INFO) but opens no route listener and solicits no route.

use std::sync::Arc;
use std::time::Duration;

use crate::auth::permissions::{Permissions, SubjectPermission};
use crate::config::{ConfigError, Key, Kind, Map, Options, Pos, Value, WriteTimeoutPolicy};
use crate::tls::{TlsConfig, TlsOptions};

/// nats-server's `DEFAULT_ROUTE_POOL_SIZE`.
pub const DEFAULT_ROUTE_POOL_SIZE: i64 = 3;

/// nats-server's `routeMaxPingInterval`: routes ping at least this often.
pub const ROUTE_MAX_PING_INTERVAL: Duration = Duration::from_secs(30);

/// nats-server's `AUTH_TIMEOUT`, the route auth timeout without TLS.
pub const DEFAULT_ROUTE_AUTH_TIMEOUT: Duration = Duration::from_secs(2);

/// The bind host when none is configured (nats-server's `DEFAULT_HOST`).
const DEFAULT_HOST: &str = "0.0.0.0";

/// nats-server's `DEFAULT_SYSTEM_ACCOUNT`.
const DEFAULT_SYSTEM_ACCOUNT: &str = "$SYS";

/// Route compression. Only the modes without S2 exist here: the `s2_*`
/// modes (and `compression: true`, `on`, `auto`, ...) are refused when the
/// config is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// `off`: announced as `"off"`; never compress.
    Off,
    /// `accept` (the default): do not start compression; follow the peer's
    /// choice. Against a peer that also accepts, or without S2 here, this
    /// runs uncompressed.
    #[default]
    Accept,
    /// `not supported` / `not_supported`: behave as a server that knows
    /// nothing of compression.
    NotSupported,
}

impl Compression {
    /// The mode as nats-server names it (route INFO `compression`,
    /// `/routez`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Compression::Off => "off",
            Compression::Accept => "accept",
            Compression::NotSupported => "not supported",
        }
    }
}

/// A route to solicit (`routes`, `--routes`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteUrl {
    /// The URL as written (surrounding blanks removed); it may carry a
    /// password, so log [`RouteUrl::redacted`] instead.
    pub url: String,
    /// Host name or IP, without IPv6 brackets.
    pub host: String,
    pub port: u16,
    /// From `user:password@` (percent-decoded).
    pub user: Option<String>,
    pub password: Option<String>,
}

impl RouteUrl {
    /// Parses `scheme://[user[:password]@]host:port[/...]` (`nats-route://`,
    /// `nats://`, `tls://`, ...: nats-server does not look at the scheme).
    ///
    /// # Errors
    /// No scheme, no host, no port (nats-server would start and then fail
    /// every dial with `missing port in address`), a bad port or a bad
    /// `%` escape in the credentials. The message shows the URL with its
    /// credentials hidden.
    pub fn parse(s: &str) -> Result<RouteUrl, String> {
        let url = s.trim();
        let parts = split_url(url)
            .map_err(|why| format!("error parsing route url [{:?}]: {why}", redact(url)))?;
        let bad = |why: String| format!("error parsing route url [{:?}]: {why}", redact(url));
        let Some(port) = parts.port else {
            return Err(bad("missing port in address".into()));
        };
        let port: u16 = match port.parse() {
            Ok(p) if p != 0 => p,
            _ => return Err(bad(format!("invalid port {port:?}"))),
        };
        if parts.host.is_empty() {
            return Err(bad("missing host".into()));
        }
        Ok(RouteUrl {
            url: url.to_owned(),
            host: parts.host.to_owned(),
            port,
            user: parts.user,
            password: parts.password,
        })
    }

    /// `host:port` to dial (IPv6 hosts in brackets).
    pub fn addr(&self) -> String {
        join_host_port(&self.host, i64::from(self.port))
    }

    /// The URL with its credentials replaced, for logs.
    pub fn redacted(&self) -> String {
        redact(&self.url)
    }
}

/// `authorization { user, password, timeout }` of the block: what peers must
/// present, and what this server presents on routes it discovers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RouteAuth {
    pub user: Option<String>,
    pub password: Option<String>,
    /// `None` = the default, see [`ClusterConfig::auth_timeout`].
    pub timeout: Option<Duration>,
}

/// `permissions { import, export }`: `import` limits the interest this
/// server sends (so what it receives), `export` the interest it accepts
/// from peers (so what it sends). `None` = not configured (no limit, and
/// left out of the route INFO).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoutePermissions {
    pub import: Option<SubjectPermission>,
    pub export: Option<SubjectPermission>,
}

impl RoutePermissions {
    /// As client permissions (`import` = publish, `export` = subscribe, the
    /// mapping nats-server uses), for their `can_publish`/`can_subscribe`
    /// checks.
    pub fn as_permissions(&self) -> Permissions {
        Permissions {
            publish: self.import.clone(),
            subscribe: self.export.clone(),
            response: None,
        }
    }
}

/// The cluster flags as given on the command line; `None` = not given.
/// [`ClusterConfig::from_options`] lays them over the `cluster` block.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ClusterFlags {
    /// `--cluster` / `--cluster_listen <url>`: `nats://[user:pass@]host:port`
    /// (port `-1` = any free port). `Some("")` turns clustering off.
    pub listen: Option<String>,
    /// `--cluster_name`.
    pub name: Option<String>,
    /// `--routes <url,url,...>`; `Some("")` removes the block's routes.
    pub routes: Option<String>,
    /// `--cluster_advertise <host:port>`.
    pub advertise: Option<String>,
    /// `--no_advertise[=bool]`.
    pub no_advertise: Option<bool>,
    /// `--connect_retries <n>`.
    pub connect_retries: Option<i64>,
}

/// `--cluster <url>` taken apart.
struct ListenFlag {
    host: String,
    port: i32,
    credentials: Option<(String, String)>,
}

impl ClusterFlags {
    /// No cluster flag was given.
    pub fn is_empty(&self) -> bool {
        *self == ClusterFlags::default()
    }

    /// Checks what can be checked without the config file: the URLs and the
    /// name. (Whether `--routes` has a cluster to go with is checked by
    /// [`ClusterConfig::from_options`], as the block may provide it.)
    ///
    /// # Errors
    /// The first bad flag, with nats-server's text where it has one.
    pub fn check(&self) -> Result<(), String> {
        if let Some(l) = self.listen.as_deref().filter(|l| !l.is_empty()) {
            parse_listen_flag(l)?;
        }
        if let Some(r) = &self.routes {
            parse_routes_flag(r)?;
        }
        if let Some(n) = &self.name {
            check_name(n)?;
        }
        Ok(())
    }
}

/// The cluster's settings.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// `name`; `None` = a name is generated at start (a "dynamic" name,
    /// which adopts the name of the first peer that has a fixed one).
    pub name: Option<String>,
    /// Route listen host (`host`, `net`, `listen`); "0.0.0.0" by default.
    pub host: String,
    /// Route listen port (`port`, `listen`): 0 = no route listener and no
    /// routing at all (nats-server's rule, see [`ClusterConfig::routing`]),
    /// -1 = any free port.
    pub port: i32,
    /// `advertise` / `cluster_advertise`: `host:port` announced to peers
    /// instead of the listen address.
    pub advertise: Option<String>,
    /// `no_advertise`: do not give clients the peers' URLs.
    pub no_advertise: bool,
    /// `routes`: the seed routes to solicit.
    pub routes: Vec<RouteUrl>,
    /// `authorization { user, password, timeout }`.
    pub auth: Option<RouteAuth>,
    /// `tls {}`. As nats-server does for routes, a peer certificate is
    /// always required and verified (against `ca_file`).
    pub tls: Option<Arc<TlsConfig>>,
    /// `connect_retries`: how often a route found by gossip is retried (0 by
    /// default); configured routes are retried forever.
    pub connect_retries: i64,
    /// `connect_backoff`: back off (doubling up to 30s) between attempts.
    pub connect_backoff: bool,
    /// `pool_size`: connections per peer; 3 by default (0 in the config
    /// means the default), negative = no pooling (one connection carrying
    /// every account). See [`ClusterConfig::pool_size_effective`].
    pub pool_size: i64,
    /// `accounts`: pinned accounts, each with a dedicated connection, as
    /// configured (nats-server adds the system account, see
    /// [`ClusterConfig::pinned_accounts`]).
    pub accounts: Vec<String>,
    /// `permissions { import, export }` (or, deprecated, the permissions of
    /// `authorization`).
    pub permissions: Option<RoutePermissions>,
    /// `compression`; `accept` by default.
    pub compression: Compression,
    /// `ping_interval` as configured (see
    /// [`ClusterConfig::ping_interval_effective`]).
    pub ping_interval: Option<Duration>,
    /// `ping_max` as configured (see [`ClusterConfig::ping_max_effective`]).
    pub ping_max: Option<i64>,
    /// `write_deadline` for route connections; `None` = the server's.
    pub write_deadline: Option<Duration>,
    /// `write_timeout` for route connections.
    pub write_timeout: WriteTimeoutPolicy,
    /// What nats-server would warn about (duplicate routes, legacy forms,
    /// ...), as `file:line:col: text`, to be logged at startup.
    pub warnings: Vec<String>,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            name: None,
            host: DEFAULT_HOST.to_owned(),
            port: 0,
            advertise: None,
            no_advertise: false,
            routes: Vec::new(),
            auth: None,
            tls: None,
            connect_retries: 0,
            connect_backoff: false,
            pool_size: DEFAULT_ROUTE_POOL_SIZE,
            accounts: Vec::new(),
            permissions: None,
            compression: Compression::Accept,
            ping_interval: None,
            ping_max: None,
            write_deadline: None,
            write_timeout: WriteTimeoutPolicy::Default,
            warnings: Vec::new(),
        }
    }
}

fn path_of(k: &Key) -> String {
    format!("cluster.{}", k.name)
}

fn wrong_type(k: &Key, want: &str, v: &Value) -> ConfigError {
    ConfigError::wrong_type(&k.pos, &path_of(k), want, &v.kind)
}

fn want_str<'a>(k: &Key, v: &'a Value) -> Result<&'a str, ConfigError> {
    match &v.kind {
        Kind::String(s) => Ok(s),
        _ => Err(wrong_type(k, "a string", v)),
    }
}

fn want_bool(k: &Key, v: &Value) -> Result<bool, ConfigError> {
    match v.kind {
        Kind::Bool(b) => Ok(b),
        _ => Err(wrong_type(k, "a boolean", v)),
    }
}

fn want_int(k: &Key, v: &Value) -> Result<i64, ConfigError> {
    match v.kind {
        Kind::Integer(n) => Ok(n),
        _ => Err(wrong_type(k, "an integer", v)),
    }
}

/// A port: -1 (any free port) to 65535.
fn port_number(k: &Key, n: i64) -> Result<i32, ConfigError> {
    if !(-1..=65535).contains(&n) {
        return Err(ConfigError::at(
            &k.pos,
            &path_of(k),
            format!("port {n} is out of range (-1 to 65535)"),
        ));
    }
    Ok(n as i32)
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

/// `host:port`, with IPv6 hosts in brackets (Go's `net.JoinHostPort`).
fn join_host_port(host: &str, port: i64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The URL with any `user:password@` replaced, for messages.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}://xxxxx@{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}

/// `%XX` escapes of a URL's user info, as Go's `url.Parse` decodes them.
fn percent_decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit()))
                .ok_or_else(|| {
                    format!(
                        "invalid URL escape {:?}",
                        s.get(i..i + 3).unwrap_or(&s[i..])
                    )
                })?;
            out.push(u8::from_str_radix(hex, 16).map_err(|e| e.to_string())?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "credentials are not valid UTF-8".to_owned())
}

/// The pieces of `scheme://[user[:password]@]host[:port][/...]`.
struct UrlParts<'a> {
    host: &'a str,
    port: Option<&'a str>,
    user: Option<String>,
    password: Option<String>,
}

fn split_url(url: &str) -> Result<UrlParts<'_>, String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err("expected scheme://host:port".into());
    };
    let mut chars = scheme.chars();
    if !chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        || !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        return Err(format!("invalid scheme {scheme:?}"));
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let (user, password) = match userinfo {
        None => (None, None),
        Some(ui) => match ui.split_once(':') {
            Some((u, p)) => (Some(percent_decode(u)?), Some(percent_decode(p)?)),
            None => (Some(percent_decode(ui)?), None),
        },
    };
    let (host, port) = match split_host_port(hostport) {
        Some((h, p)) => (h, Some(p)),
        None if hostport.contains(':') && !hostport.starts_with('[') => {
            return Err(format!("invalid host {hostport:?}"))
        }
        None => (hostport.trim_start_matches('[').trim_end_matches(']'), None),
    };
    Ok(UrlParts {
        host,
        port,
        user,
        password,
    })
}

/// `--cluster <url>`, as nats-server's `overrideCluster` reads it.
fn parse_listen_flag(s: &str) -> Result<ListenFlag, String> {
    let bad = |why: &str| format!("invalid cluster URL {:?}: {why}", redact(s));
    let parts = split_url(s).map_err(|why| bad(&why))?;
    let Some(port) = parts.port else {
        return Err(bad("missing port in address"));
    };
    let port: i32 = match port.parse() {
        Ok(p) if (-1..=65535).contains(&p) => p,
        _ => return Err(bad(&format!("invalid port {port:?}"))),
    };
    let credentials = match (parts.user, parts.password) {
        (None, _) => None,
        (Some(_), None) => return Err("expected cluster password to be set".into()),
        (Some(u), Some(p)) => Some((u, p)),
    };
    Ok(ListenFlag {
        host: parts.host.to_owned(),
        port,
        credentials,
    })
}

/// `--routes a,b,c` (nats-server's `RoutesFromStr`; empty entries are
/// skipped).
fn parse_routes_flag(s: &str) -> Result<Vec<RouteUrl>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(RouteUrl::parse)
        .collect()
}

fn check_name(name: &str) -> Result<(), String> {
    if name.contains(' ') {
        return Err("cluster name cannot contain spaces".into());
    }
    Ok(())
}

/// A duration as nats-server's `parseDuration` reads it: a Go duration
/// string, or (legacy, with a warning) an integer number of seconds.
fn legacy_duration(
    k: &Key,
    v: &Value,
    warnings: &mut Vec<String>,
) -> Result<Duration, ConfigError> {
    let field = k.name.as_str();
    match &v.kind {
        Kind::String(s) => crate::config::parser::parse_go_duration(s).map_err(|e| {
            ConfigError::at(&k.pos, &path_of(k), format!("error parsing {field}: {e}"))
        }),
        Kind::Duration(d) => Ok(*d),
        Kind::Integer(n) => {
            warnings.push(format!(
                "{}: invalid use of field {field:?}: {field} should be converted to a duration",
                k.pos
            ));
            u64::try_from(*n).map(Duration::from_secs).map_err(|_| {
                ConfigError::at(&k.pos, &path_of(k), format!("{field} can not be negative"))
            })
        }
        _ => Err(wrong_type(k, "a duration", v)),
    }
}

/// `compression`: a mode string, a boolean, or `{ mode, rtt_thresholds }`.
fn parse_compression(k: &Key, v: &Value) -> Result<Compression, ConfigError> {
    let path = path_of(k);
    let err = |pos: &Pos, msg: String| ConfigError::at(pos, &path, msg);
    let mode = match &v.kind {
        Kind::String(s) => s.clone(),
        // `true` is s2_fast for routes.
        Kind::Bool(true) => "s2_fast".to_owned(),
        Kind::Bool(false) => "off".to_owned(),
        Kind::Map(m) => {
            let mut mode = String::new();
            for (mk, mv) in m.iter() {
                let mpath = format!("{path}.{}", mk.name);
                match mk.name.to_ascii_lowercase().as_str() {
                    // An unquoted `off` reads as a boolean (nats-server
                    // fails on it; taken here as the top-level form is).
                    "mode" => match &mv.kind {
                        Kind::String(s) => mode = s.clone(),
                        Kind::Bool(true) => mode = "s2_fast".to_owned(),
                        Kind::Bool(false) => mode = "off".to_owned(),
                        other => {
                            return Err(ConfigError::wrong_type(&mk.pos, &mpath, "a string", other))
                        }
                    },
                    "rtt_thresholds" | "thresholds" | "rtts" | "rtt" => {
                        let Kind::Array(items) = &mv.kind else {
                            return Err(ConfigError::wrong_type(
                                &mk.pos,
                                &mpath,
                                "an array of durations",
                                &mv.kind,
                            ));
                        };
                        for it in items {
                            let ok = match &it.kind {
                                Kind::Duration(_) => Ok(()),
                                Kind::String(s) => crate::config::parser::parse_go_duration(s)
                                    .map(drop)
                                    .map_err(|e| e.to_string()),
                                other => Err(format!("expected a duration, got {}", other.name())),
                            };
                            ok.map_err(|e| err(&mk.pos, e))?;
                        }
                    }
                    _ => return Err(err(&mk.pos, format!("unknown field {:?}", mk.name))),
                }
            }
            mode
        }
        other => {
            return Err(err(
                &k.pos,
                format!(
                    "field {:?} should be a boolean or a structure, got {}",
                    k.name,
                    other.go_type()
                ),
            ))
        }
    };
    compression_mode(&mode).map_err(|e| err(&k.pos, e))
}

/// nats-server's `validateAndNormalizeCompressionOption` for routes, with
/// the S2 modes refused.
fn compression_mode(mode: &str) -> Result<Compression, String> {
    match mode.to_ascii_lowercase().as_str() {
        // Unset: nats-server's baseline makes it "accept".
        "" | "accept" => Ok(Compression::Accept),
        "disabled" | "off" | "false" => Ok(Compression::Off),
        "not supported" | "not_supported" => Ok(Compression::NotSupported),
        "on" | "enabled" | "true" | "auto" | "s2_auto" | "fast" | "s2_fast" | "better"
        | "s2_better" | "best" | "s2_best" | "uncompressed" | "s2_uncompressed" => Err(format!(
            "compression mode {mode:?}: S2 compression is not supported by this version of rnats (use \"accept\" or \"off\")"
        )),
        _ => Err(format!("unsupported compression mode {mode:?}")),
    }
}

/// nats-server's `checkClusterPermissionSubjects`: no queue entries.
fn check_route_perm_subjects(p: &Permissions) -> Result<(), String> {
    let check = |sp: &Option<SubjectPermission>, what: &str| -> Result<(), String> {
        let Some(sp) = sp else {
            return Ok(());
        };
        for (list, which) in [
            (sp.allow.as_deref().unwrap_or(&[]), "allow"),
            (&sp.deny[..], "deny"),
        ] {
            if let Some(e) = list.iter().find(|e| e.queue.is_some()) {
                let written = format!("{} {}", e.subject, e.queue.as_deref().unwrap_or(""));
                return Err(format!(
                    "cluster {what} {which}: subject {written:?} is not a valid subject"
                ));
            }
        }
        Ok(())
    };
    check(&p.publish, "import")?;
    check(&p.subscribe, "export")
}

fn route_permissions(p: &Permissions) -> RoutePermissions {
    RoutePermissions {
        import: p.publish.clone(),
        export: p.subscribe.clone(),
    }
}

impl ClusterConfig {
    /// The cluster settings of `opts`: its last `cluster` block with the
    /// cluster flags ([`Options::cluster_flags`]) laid over it; `None` with
    /// neither. Check [`ClusterConfig::routing`] before opening a route
    /// listener or soliciting routes.
    ///
    /// # Errors
    /// A bad or not supported entry, with file, line and key; a bad flag;
    /// `--routes` without a cluster to solicit them from.
    pub fn from_options(opts: &Options) -> Result<Option<Arc<ClusterConfig>>, ConfigError> {
        let block = opts.raw_config.as_ref().and_then(|raw| {
            raw.entries
                .iter()
                .rev()
                .find(|(k, _)| k.name.eq_ignore_ascii_case("cluster"))
        });
        let flags = &opts.cluster_flags;
        if block.is_none() && flags.is_empty() {
            return Ok(None);
        }
        let mut c = ClusterConfig {
            host: String::new(),
            pool_size: 0,
            ..ClusterConfig::default()
        };
        let mut accounts_key = None;
        if let Some((k, v)) = block {
            let Kind::Map(m) = &v.kind else {
                return Err(ConfigError::at(
                    &k.pos,
                    &k.name,
                    format!("Expected map to define cluster, got {}", v.kind.go_type()),
                ));
            };
            accounts_key = c.parse_block(m)?;
        }
        c.apply_flags(flags)?;
        c.finish(accounts_key.as_ref())?;
        Ok(Some(Arc::new(c)))
    }

    /// Reads the block; returns the `accounts` key (for later errors).
    fn parse_block(&mut self, m: &Map) -> Result<Option<Key>, ConfigError> {
        let mut accounts_key = None;
        let mut auth_perms: Option<Permissions> = None;
        for (k, v) in m.iter() {
            let path = path_of(k);
            match k.name.to_ascii_lowercase().as_str() {
                "name" => {
                    let n = want_str(k, v)?;
                    check_name(n).map_err(|e| ConfigError::at(&k.pos, &path, e))?;
                    self.name = (!n.is_empty()).then(|| n.to_owned());
                }
                "listen" => match &v.kind {
                    // Only a port.
                    Kind::Integer(n) => self.port = port_number(k, *n)?,
                    Kind::String(s) => {
                        let (h, p) = split_host_port(s).ok_or_else(|| {
                            ConfigError::at(
                                &k.pos,
                                &path,
                                format!("could not parse address string {s:?}"),
                            )
                        })?;
                        let n: i64 = p.parse().map_err(|_| {
                            ConfigError::at(&k.pos, &path, format!("could not parse port {p:?}"))
                        })?;
                        self.host = h.to_owned();
                        self.port = port_number(k, n)?;
                    }
                    other => {
                        return Err(ConfigError::at(
                            &k.pos,
                            &path,
                            format!("expected port or host:port, got {}", other.go_type()),
                        ))
                    }
                },
                "port" => self.port = port_number(k, want_int(k, v)?)?,
                "host" | "net" => self.host = want_str(k, v)?.to_owned(),
                "authorization" => {
                    let (auth, perms) = self.parse_auth(k, v)?;
                    self.auth = Some(auth);
                    if perms.is_some() {
                        auth_perms = perms;
                    }
                }
                "routes" => {
                    let items: Vec<&Value> = match &v.kind {
                        Kind::Array(a) => a.iter().collect(),
                        Kind::String(_) => vec![v],
                        _ => return Err(wrong_type(k, "a route URL or an array of them", v)),
                    };
                    let mut routes: Vec<RouteUrl> = Vec::with_capacity(items.len());
                    for it in items {
                        let Kind::String(s) = &it.kind else {
                            return Err(ConfigError::wrong_type(
                                &it.pos,
                                &path,
                                "a route URL",
                                &it.kind,
                            ));
                        };
                        if routes.iter().any(|r| r.url == s.trim()) {
                            self.warnings.push(format!(
                                "{}: invalid use of field {:?}: Duplicate route entry detected",
                                it.pos,
                                redact(s)
                            ));
                            continue;
                        }
                        routes.push(
                            RouteUrl::parse(s).map_err(|e| ConfigError::at(&it.pos, &path, e))?,
                        );
                    }
                    self.routes = routes;
                }
                "tls" => {
                    let Kind::Map(tm) = &v.kind else {
                        return Err(wrong_type(k, "a map", v));
                    };
                    self.tls = Some(Arc::new(build_route_tls(k, tm)?));
                }
                "cluster_advertise" | "advertise" => {
                    let a = want_str(k, v)?;
                    self.advertise = (!a.is_empty()).then(|| a.to_owned());
                }
                "no_advertise" => self.no_advertise = want_bool(k, v)?,
                "connect_retries" => self.connect_retries = want_int(k, v)?,
                "connect_backoff" => self.connect_backoff = want_bool(k, v)?,
                "permissions" => {
                    let p = crate::auth::permissions::parse(v, &path)?;
                    if p.response.is_some() {
                        return Err(ConfigError::at(
                            &k.pos,
                            &path,
                            "Cluster permissions do not support dynamic responses",
                        ));
                    }
                    check_route_perm_subjects(&p).map_err(|e| ConfigError::at(&k.pos, &path, e))?;
                    self.permissions = Some(route_permissions(&p));
                }
                "pool_size" => self.pool_size = want_int(k, v)?,
                "accounts" => {
                    self.accounts = match &v.kind {
                        Kind::String(s) => vec![s.clone()],
                        Kind::Array(items) => items
                            .iter()
                            .map(|it| match &it.kind {
                                Kind::String(s) => Ok(s.clone()),
                                other => Err(ConfigError::at(
                                    &it.pos,
                                    &path,
                                    format!(
                                        "error parsing accounts: unsupported type in array {}",
                                        other.go_type()
                                    ),
                                )),
                            })
                            .collect::<Result<_, _>>()?,
                        other => {
                            return Err(ConfigError::at(
                                &k.pos,
                                &path,
                                format!(
                                    "error parsing accounts: unsupported type {}",
                                    other.go_type()
                                ),
                            ))
                        }
                    };
                    accounts_key = Some(k.clone());
                }
                "compression" => self.compression = parse_compression(k, v)?,
                "ping_interval" => {
                    let d = legacy_duration(k, v, &mut self.warnings)?;
                    if d > ROUTE_MAX_PING_INTERVAL {
                        self.warnings.push(format!(
                            "{}: Cluster 'ping_interval' will reset to 30s which is the max for routes",
                            k.pos
                        ));
                    }
                    self.ping_interval = Some(d);
                }
                "ping_max" => self.ping_max = Some(want_int(k, v)?),
                "write_deadline" => {
                    self.write_deadline = Some(legacy_duration(k, v, &mut self.warnings)?)
                }
                "write_timeout" => {
                    self.write_timeout = match want_str(k, v)? {
                        "default" => WriteTimeoutPolicy::Default,
                        "close" => WriteTimeoutPolicy::Close,
                        "retry" => WriteTimeoutPolicy::Retry,
                        _ => {
                            return Err(ConfigError::at(
                                &k.pos,
                                &path,
                                "write_timeout must be 'default', 'close' or 'retry'",
                            ))
                        }
                    }
                }
                _ => {
                    return Err(ConfigError::at(
                        &k.pos,
                        &path,
                        format!("unknown field {:?}", k.name),
                    ))
                }
            }
        }
        // Permissions of `authorization` apply only when the block has no
        // `permissions` of its own.
        if self.permissions.is_none() {
            if let Some(p) = auth_perms {
                self.permissions = Some(route_permissions(&p));
            }
        }
        Ok(accounts_key)
    }

    /// `authorization { user, password, timeout }`; also returns its
    /// (deprecated) permissions.
    fn parse_auth(
        &mut self,
        k: &Key,
        v: &Value,
    ) -> Result<(RouteAuth, Option<Permissions>), ConfigError> {
        let path = path_of(k);
        let Kind::Map(m) = &v.kind else {
            return Err(ConfigError::at(
                &k.pos,
                &path,
                format!(
                    "Expected authorization to be a map/struct, got {}",
                    v.kind.go_type()
                ),
            ));
        };
        let refuse = |msg: &str| Err(ConfigError::at(&k.pos, &path, msg));
        let mut a = RouteAuth::default();
        let mut perms = None;
        for (ak, av) in m.iter() {
            let apath = format!("{path}.{}", ak.name);
            let want = |what: &str| ConfigError::wrong_type(&ak.pos, &apath, what, &av.kind);
            match ak.name.to_ascii_lowercase().as_str() {
                "user" | "username" => match &av.kind {
                    Kind::String(s) => a.user = Some(s.clone()),
                    _ => return Err(want("a string")),
                },
                "pass" | "password" => match &av.kind {
                    Kind::String(s) => a.password = Some(s.clone()),
                    _ => return Err(want("a string")),
                },
                "timeout" => {
                    let secs = match &av.kind {
                        Kind::Integer(n) => *n as f64,
                        Kind::Float(f) => *f,
                        Kind::Duration(d) => d.as_secs_f64(),
                        Kind::String(s) => crate::config::parser::parse_go_duration(s)
                            .map_err(|e| {
                                ConfigError::at(
                                    &ak.pos,
                                    &apath,
                                    format!("error parsing authorization config, 'timeout' {e}"),
                                )
                            })?
                            .as_secs_f64(),
                        _ => {
                            return Err(ConfigError::at(
                                &ak.pos,
                                &apath,
                                "error parsing authorization config, 'timeout' wrong type",
                            ))
                        }
                    };
                    if secs > 60.0 {
                        let shown = match &av.kind {
                            Kind::String(s) => s.clone(),
                            Kind::Integer(n) => n.to_string(),
                            _ => secs.to_string(),
                        };
                        self.warnings.push(format!(
                            "{}: invalid use of field {:?}: timeout of {shown} ({secs:.6} seconds) is high, consider keeping it under 60 seconds. possibly caused by unquoted duration; use '1m' instead of 1m, for example",
                            ak.pos, ak.name
                        ));
                    }
                    let d = Duration::try_from_secs_f64(secs).map_err(|_| {
                        ConfigError::at(
                            &ak.pos,
                            &apath,
                            format!("invalid authorization timeout {secs}"),
                        )
                    })?;
                    // 0 means the default, as in nats-server.
                    a.timeout = (!d.is_zero()).then_some(d);
                }
                "users" => return refuse("Cluster authorization does not allow multiple users"),
                "token" => return refuse("Cluster authorization does not support tokens"),
                "auth_callout" | "auth_hook" => {
                    return refuse("Cluster authorization does not support callouts")
                }
                "default_permission" | "default_permissions" | "permissions" => {
                    let p = crate::auth::permissions::parse(av, &apath)?;
                    check_route_perm_subjects(&p).map_err(|e| ConfigError::at(&k.pos, &path, e))?;
                    self.warnings.push(format!(
                        "{}: invalid use of field {:?}: setting \"permissions\" within cluster authorization block is deprecated",
                        k.pos, k.name
                    ));
                    perms = Some((*p).clone());
                }
                "proxy_required" => {
                    if !matches!(av.kind, Kind::Bool(_)) {
                        return Err(want("a boolean"));
                    }
                }
                _ => {
                    return Err(ConfigError::at(
                        &ak.pos,
                        &apath,
                        format!("unknown field {:?}", ak.name),
                    ))
                }
            }
        }
        Ok((a, perms))
    }

    /// Lays the command-line flags over the block, as nats-server's
    /// `ConfigureOptions` does.
    fn apply_flags(&mut self, f: &ClusterFlags) -> Result<(), ConfigError> {
        let flag_err = |flag: &str, msg: String| ConfigError::new(None, Some(flag), msg);
        if let Some(l) = &f.listen {
            if l.is_empty() {
                // `--cluster ""` turns clustering off.
                self.port = 0;
            } else {
                let lf = parse_listen_flag(l).map_err(|e| flag_err("--cluster", e))?;
                self.host = lf.host;
                self.port = lf.port;
                // The flag's credentials replace the block's; without any,
                // the block's are dropped (the timeout stays).
                let auth = self.auth.get_or_insert_with(RouteAuth::default);
                match lf.credentials {
                    Some((u, p)) => {
                        auth.user = Some(u);
                        auth.password = Some(p);
                    }
                    None => {
                        auth.user = None;
                        auth.password = None;
                    }
                }
                if *auth == RouteAuth::default() {
                    self.auth = None;
                }
            }
        }
        if let Some(n) = &f.name {
            check_name(n).map_err(|e| flag_err("--cluster_name", e))?;
            self.name = (!n.is_empty()).then(|| n.clone());
        }
        if let Some(a) = &f.advertise {
            self.advertise = (!a.is_empty()).then(|| a.clone());
        }
        if let Some(b) = f.no_advertise {
            self.no_advertise = b;
        }
        if let Some(n) = f.connect_retries {
            self.connect_retries = n;
        }
        if let Some(r) = &f.routes {
            self.routes = parse_routes_flag(r).map_err(|e| flag_err("--routes", e))?;
            // nats-server: routes from the command line need a cluster,
            // from the flags or the file.
            let listen_given = f.listen.as_deref().is_some_and(|l| !l.is_empty());
            if !r.is_empty() && !listen_given && self.host.is_empty() && self.port == 0 {
                return Err(ConfigError::new(
                    None,
                    None,
                    "solicited routes require cluster capabilities, e.g. --cluster",
                ));
            }
        }
        Ok(())
    }

    /// Defaults and the checks of nats-server's `validateCluster`.
    fn finish(&mut self, accounts_key: Option<&Key>) -> Result<(), ConfigError> {
        if self.host.is_empty() {
            self.host = DEFAULT_HOST.to_owned();
        }
        if self.pool_size == 0 {
            self.pool_size = DEFAULT_ROUTE_POOL_SIZE;
        }
        if !self.accounts.is_empty() {
            let err = |msg: String| match accounts_key {
                Some(k) => ConfigError::at(&k.pos, &path_of(k), msg),
                None => ConfigError::new(None, Some("cluster.accounts"), msg),
            };
            if self.pool_size < 0 {
                return Err(err(
                    "pool_size cannot be negative if pinned accounts are specified".into(),
                ));
            }
            for (i, a) in self.accounts.iter().enumerate() {
                if self.accounts[..i].contains(a) {
                    let list: Vec<String> =
                        self.accounts.iter().map(|a| format!("{a:?}")).collect();
                    return Err(err(format!(
                        "found duplicate account name {a:?} in pinned accounts list [{}]",
                        list.join(" ")
                    )));
                }
            }
        }
        if self.port == 0 && !self.routes.is_empty() {
            self.warnings.push(
                "cluster: no listen port (listen/port), so clustering is off and the routes are not solicited"
                    .to_owned(),
            );
        }
        Ok(())
    }

    /// Whether the cluster runs: a route listener is opened and routes are
    /// solicited only with a listen port (nats-server: `Cluster.Port != 0`).
    pub fn routing(&self) -> bool {
        self.port != 0
    }

    /// The route listener's bind address, `host:port` (IPv6 hosts in
    /// brackets; port -1, any free port, as 0).
    pub fn listen_addr(&self) -> String {
        join_host_port(&self.host, i64::from(self.port.max(0)))
    }

    /// Connections per peer: `None` = no pooling (negative `pool_size`:
    /// one connection for every account, nats-server's 2.2-era format),
    /// else the pool size.
    pub fn pool_size_effective(&self) -> Option<usize> {
        usize::try_from(self.pool_size).ok()
    }

    /// The accounts with a dedicated connection: the configured ones plus,
    /// with pooling, the system account (`system_account` = its name, ""
    /// when there is none), as nats-server's baseline adds it.
    pub fn pinned_accounts(&self, system_account: &str) -> Vec<String> {
        let mut v = self.accounts.clone();
        if self.pool_size > 0
            && !system_account.is_empty()
            && !v.iter().any(|a| a == system_account)
        {
            v.push(system_account.to_owned());
        }
        v
    }

    /// The system account of `opts` as nats-server's baseline names it for
    /// [`ClusterConfig::pinned_accounts`].
    pub fn system_account_of(opts: &Options) -> String {
        match (&opts.system_account, opts.no_system_account) {
            (Some(s), _) => s.clone(),
            (None, true) => String::new(),
            (None, false) => DEFAULT_SYSTEM_ACCOUNT.to_owned(),
        }
    }

    /// The route auth timeout: the configured one, else the TLS handshake
    /// timeout + 1s with TLS, else 2s (nats-server's defaults).
    pub fn auth_timeout(&self) -> Duration {
        if let Some(t) = self.auth.as_ref().and_then(|a| a.timeout) {
            return t;
        }
        match &self.tls {
            Some(t) => t.default_auth_timeout(),
            None => DEFAULT_ROUTE_AUTH_TIMEOUT,
        }
    }

    /// The ping interval of route connections: the block's if positive,
    /// else the server's `ping_interval`, at most 30s.
    pub fn ping_interval_effective(&self, server: Duration) -> Duration {
        self.ping_interval
            .filter(|d| !d.is_zero())
            .unwrap_or(server)
            .min(ROUTE_MAX_PING_INTERVAL)
    }

    /// Unanswered pings before a route is stale: the block's if positive,
    /// else the server's `ping_max`.
    pub fn ping_max_effective(&self, server: i32) -> i64 {
        self.ping_max
            .filter(|n| *n > 0)
            .unwrap_or(i64::from(server))
    }
}

/// The block's `tls {}`: as nats-server's `getTLSConfig` for routes, the
/// peer's certificate is always required and verified.
fn build_route_tls(k: &Key, tm: &Map) -> Result<TlsConfig, ConfigError> {
    let mut options = TlsOptions::parse(k, tm)?;
    if options.ca_file.is_none() {
        return Err(ConfigError::at(
            &k.pos,
            &path_of(k),
            "cluster TLS needs 'ca_file': routes require and verify the peer's certificate, and rnats does not verify against the system trust store",
        ));
    }
    options.verify = true;
    TlsConfig::build(options)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn opts(src: &str) -> Options {
        let parsed = crate::config::parser::parse_str_tracked(src, Path::new("t.conf")).unwrap();
        Options::from_parsed(&parsed, Some(Path::new("t.conf")))
            .unwrap()
            .0
    }

    fn cfg(src: &str) -> Arc<ClusterConfig> {
        ClusterConfig::from_options(&opts(src)).unwrap().unwrap()
    }

    fn err(src: &str) -> String {
        ClusterConfig::from_options(&opts(src))
            .unwrap_err()
            .to_string()
    }

    fn with_flags(
        src: &str,
        flags: ClusterFlags,
    ) -> Result<Option<Arc<ClusterConfig>>, ConfigError> {
        let mut o = opts(src);
        o.cluster_flags = flags;
        ClusterConfig::from_options(&o)
    }

    #[test]
    fn no_block_no_flags_no_cluster() {
        assert!(ClusterConfig::from_options(&opts("port: 4222\n"))
            .unwrap()
            .is_none());
        assert!(ClusterConfig::from_options(&Options::default())
            .unwrap()
            .is_none());
    }

    #[test]
    fn defaults() {
        let c = cfg("cluster {}\n");
        assert_eq!(c.name, None);
        assert_eq!(c.host, "0.0.0.0");
        assert_eq!(c.port, 0);
        assert!(!c.routing(), "no port: no routing, as nats-server");
        assert_eq!(c.advertise, None);
        assert!(!c.no_advertise && !c.connect_backoff);
        assert!(c.routes.is_empty() && c.accounts.is_empty());
        assert!(c.auth.is_none() && c.tls.is_none() && c.permissions.is_none());
        assert_eq!(c.connect_retries, 0);
        assert_eq!(c.pool_size, 3);
        assert_eq!(c.pool_size_effective(), Some(3));
        assert_eq!(c.compression, Compression::Accept);
        assert_eq!((c.ping_interval, c.ping_max), (None, None));
        assert_eq!(c.auth_timeout(), Duration::from_secs(2));
        assert_eq!(
            c.ping_interval_effective(Duration::from_secs(120)),
            ROUTE_MAX_PING_INTERVAL
        );
        assert_eq!(c.ping_max_effective(2), 2);
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        // The last block wins.
        let c = cfg("cluster { port: 1 }\ncluster { name: B }\n");
        assert_eq!((c.port, c.name.as_deref()), (0, Some("B")));
    }

    #[test]
    fn listen_host_and_port() {
        let c = cfg("cluster { listen: \"127.0.0.1:4248\", name: C1 }\n");
        assert_eq!((c.host.as_str(), c.port), ("127.0.0.1", 4248));
        assert!(c.routing());
        assert_eq!(c.listen_addr(), "127.0.0.1:4248");
        assert_eq!(c.name.as_deref(), Some("C1"));
        let c = cfg("cluster { listen: 6222 }\n");
        assert_eq!(c.listen_addr(), "0.0.0.0:6222");
        let c = cfg("cluster { listen: \":-1\" }\n");
        assert_eq!((c.port, c.listen_addr().as_str()), (-1, "0.0.0.0:0"));
        let c = cfg("cluster { host: \"::1\", port: 7000 }\n");
        assert_eq!(c.listen_addr(), "[::1]:7000");
        let c = cfg("cluster { net: 10.0.0.1\n port: 6222 }\n");
        assert_eq!(c.listen_addr(), "10.0.0.1:6222");
        let c = cfg("cluster { listen: \"[::1]:6222\" }\n");
        assert_eq!((c.host.as_str(), c.port), ("::1", 6222));
        assert_eq!(
            err("cluster {\n  listen: \"6222\"\n}\n"),
            "t.conf:2:3: could not parse address string \"6222\""
        );
        assert_eq!(
            err("cluster {\n  port: 70000\n}\n"),
            "t.conf:2:3: port 70000 is out of range (-1 to 65535)"
        );
        assert_eq!(
            err("cluster {\n  name: \"a b\"\n}\n"),
            "t.conf:2:3: cluster name cannot contain spaces"
        );
    }

    #[test]
    fn routes_with_credentials() {
        let c = cfg(
            "cluster { port: 6222, routes: [\"nats-route://ruser:p%40ss@host2:6223\", \"nats://host3:6224/\", \"nats://[::1]:6225\"] }\n",
        );
        assert_eq!(c.routes.len(), 3);
        let r = &c.routes[0];
        assert_eq!((r.host.as_str(), r.port), ("host2", 6223));
        assert_eq!(r.user.as_deref(), Some("ruser"));
        assert_eq!(r.password.as_deref(), Some("p@ss"));
        assert_eq!(r.url, "nats-route://ruser:p%40ss@host2:6223");
        assert_eq!(r.redacted(), "nats-route://xxxxx@host2:6223");
        assert_eq!(r.addr(), "host2:6223");
        let r = &c.routes[1];
        assert_eq!(
            (r.host.as_str(), r.port, r.user.as_deref()),
            ("host3", 6224, None)
        );
        assert_eq!(c.routes[2].addr(), "[::1]:6225");
        // A single string.
        let c = cfg("cluster { port: 6222, routes: \"nats://u:p@h:1\" }\n");
        assert_eq!(c.routes.len(), 1);
        assert_eq!(
            (c.routes[0].user.as_deref(), c.routes[0].password.as_deref()),
            (Some("u"), Some("p"))
        );
        // Duplicates are dropped with nats-server's warning.
        let c = cfg("cluster { port: 6222, routes: [\"nats://h:1\", \"nats://h:1\"] }\n");
        assert_eq!(c.routes.len(), 1);
        assert!(
            c.warnings[0].contains("Duplicate route entry detected"),
            "{:?}",
            c.warnings
        );
        // Routes without a port to listen on: clustering is off, said so.
        let c = cfg("cluster { routes: [\"nats://h:1\"] }\n");
        assert!(!c.routing() && c.warnings[0].contains("clustering is off"));
        assert_eq!(
            err("cluster {\n  routes: [\n    \"nats://u:secret@h\"\n  ]\n}\n"),
            "t.conf:3:5: error parsing route url [\"nats://xxxxx@h\"]: missing port in address"
        );
        assert!(err("cluster { routes: [\"h:6222\"] }\n").contains("expected scheme://host:port"));
        assert!(err("cluster { routes: [1] }\n").contains("cluster.routes: expected a route URL"));
    }

    #[test]
    fn authorization() {
        let c = cfg(
            "cluster { port: 1, authorization { user: ruser, password: rpass, timeout: 2.5 } }\n",
        );
        let a = c.auth.as_ref().unwrap();
        assert_eq!(
            (a.user.as_deref(), a.password.as_deref()),
            (Some("ruser"), Some("rpass"))
        );
        assert_eq!(a.timeout, Some(Duration::from_millis(2500)));
        assert_eq!(c.auth_timeout(), Duration::from_millis(2500));
        let c = cfg("cluster { authorization { user: u, pass: p, timeout: \"3s\" } }\n");
        assert_eq!(
            c.auth.as_ref().unwrap().timeout,
            Some(Duration::from_secs(3))
        );
        for (body, msg) in [
            (
                "users: [{user: a, password: b}]",
                "Cluster authorization does not allow multiple users",
            ),
            ("token: t", "Cluster authorization does not support tokens"),
            (
                "auth_callout { issuer: x }",
                "Cluster authorization does not support callouts",
            ),
            ("nope: 1", "unknown field \"nope\""),
        ] {
            let e = err(&format!("cluster {{\n  authorization {{ {body} }}\n}}\n"));
            assert!(e.starts_with("t.conf:2:") && e.ends_with(msg), "{e}");
        }
        // Deprecated permissions inside authorization apply, with a warning,
        // unless the block has its own.
        let c = cfg(
            "cluster { authorization { user: u, password: p, permissions { import: \"a.>\" } } }\n",
        );
        let p = c.permissions.as_ref().unwrap();
        assert_eq!(
            p.import.as_ref().unwrap().allow.as_ref().unwrap()[0].subject,
            "a.>"
        );
        assert!(c.warnings[0].contains("deprecated"), "{:?}", c.warnings);
        let c = cfg("cluster { permissions { import: \"b\" }, authorization { user: u, password: p, permissions { import: \"a\" } } }\n");
        assert_eq!(
            c.permissions
                .as_ref()
                .unwrap()
                .import
                .as_ref()
                .unwrap()
                .allow
                .as_ref()
                .unwrap()[0]
                .subject,
            "b"
        );
    }

    #[test]
    fn pool_size() {
        let c = cfg("cluster { pool_size: -1 }\n");
        assert_eq!((c.pool_size, c.pool_size_effective()), (-1, None));
        assert!(c.pinned_accounts("$SYS").is_empty(), "no pool, no pinning");
        let c = cfg("cluster { pool_size: 5 }\n");
        assert_eq!(c.pool_size_effective(), Some(5));
        let c = cfg("cluster { pool_size: 0 }\n");
        assert_eq!(c.pool_size_effective(), Some(3));
        assert_eq!(
            err("cluster {\n  pool_size: \"3\"\n}\n"),
            "t.conf:2:3: cluster.pool_size: expected an integer, got string"
        );
    }

    #[test]
    fn accounts() {
        let c = cfg("cluster { accounts: [HOT, COLD] }\n");
        assert_eq!(c.accounts, vec!["HOT", "COLD"]);
        assert_eq!(c.pinned_accounts("$SYS"), vec!["HOT", "COLD", "$SYS"]);
        assert_eq!(c.pinned_accounts(""), vec!["HOT", "COLD"]);
        let c = cfg("cluster { accounts: HOT }\n");
        assert_eq!(c.accounts, vec!["HOT"]);
        assert_eq!(
            ClusterConfig::system_account_of(&opts("no_system_account: true\n")),
            ""
        );
        assert_eq!(
            ClusterConfig::system_account_of(&Options::default()),
            "$SYS"
        );
        assert_eq!(
            err("cluster {\n  pool_size: -1\n  accounts: [A]\n}\n"),
            "t.conf:3:3: pool_size cannot be negative if pinned accounts are specified"
        );
        assert_eq!(
            err("cluster {\n  accounts: [A, B, A]\n}\n"),
            "t.conf:2:3: found duplicate account name \"A\" in pinned accounts list [\"A\" \"B\" \"A\"]"
        );
        assert_eq!(
            err("cluster {\n  accounts: [A, 1]\n}\n"),
            "t.conf:2:17: error parsing accounts: unsupported type in array int64"
        );
    }

    #[test]
    fn permissions_as_lists_and_allow_deny() {
        let c = cfg("cluster { permissions { import: [\"a.>\", \"b\"], export: \"c.*\" } }\n");
        let p = c.permissions.as_ref().unwrap();
        let subjects = |sp: &Option<SubjectPermission>| -> Vec<String> {
            sp.as_ref()
                .unwrap()
                .allow
                .as_ref()
                .unwrap()
                .iter()
                .map(|e| e.subject.clone())
                .collect()
        };
        assert_eq!(subjects(&p.import), vec!["a.>", "b"]);
        assert_eq!(subjects(&p.export), vec!["c.*"]);
        let c = cfg("cluster { permissions { import { allow: \"x.>\", deny: [\"x.secret\"] }, export { deny: \"$SYS.>\" } } }\n");
        let p = c.permissions.as_ref().unwrap();
        let imp = p.import.as_ref().unwrap();
        assert_eq!(imp.allow.as_ref().unwrap()[0].subject, "x.>");
        assert_eq!(imp.deny[0].subject, "x.secret");
        let exp = p.export.as_ref().unwrap();
        assert!(exp.allow.is_none());
        assert_eq!(exp.deny[0].subject, "$SYS.>");
        let perms = p.as_permissions();
        assert!(perms.can_publish("x.a") && !perms.can_publish("x.secret"));
        // Only import: export stays unset.
        let c = cfg("cluster { permissions { import: \"a\" } }\n");
        assert!(c.permissions.as_ref().unwrap().export.is_none());
        assert_eq!(
            err("cluster {\n  permissions { export: [\"foo q\"] }\n}\n"),
            "t.conf:2:3: cluster export allow: subject \"foo q\" is not a valid subject"
        );
        assert_eq!(
            err("cluster {\n  permissions { import: \"a\", allow_responses: true }\n}\n"),
            "t.conf:2:3: Cluster permissions do not support dynamic responses"
        );
        assert!(err("cluster {\n  permissions { bogus: \"a\" }\n}\n").starts_with("t.conf:2:"));
    }

    #[test]
    fn compression() {
        assert_eq!(
            cfg("cluster { compression: off }\n").compression,
            Compression::Off
        );
        assert_eq!(
            cfg("cluster { compression: false }\n").compression,
            Compression::Off
        );
        assert_eq!(
            cfg("cluster { compression: \"accept\" }\n").compression,
            Compression::Accept
        );
        assert_eq!(
            cfg("cluster { compression: { mode: off } }\n").compression,
            Compression::Off
        );
        assert_eq!(
            cfg("cluster { compression: not_supported }\n").compression,
            Compression::NotSupported
        );
        assert_eq!(Compression::Accept.as_str(), "accept");
        for v in [
            "s2_fast",
            "s2_best",
            "s2_auto",
            "true",
            "on",
            "{ mode: s2_better }",
        ] {
            let e = err(&format!("port: 4222\ncluster {{\n  compression: {v}\n}}\n"));
            assert!(
                e.starts_with("t.conf:3:3: ")
                    && e.contains("S2 compression is not supported by this version of rnats"),
                "{v}: {e}"
            );
        }
        assert_eq!(
            err("cluster {\n  compression: zstd\n}\n"),
            "t.conf:2:3: unsupported compression mode \"zstd\""
        );
        assert_eq!(
            err("cluster {\n  compression: 1\n}\n"),
            "t.conf:2:3: field \"compression\" should be a boolean or a structure, got int64"
        );
    }

    #[test]
    fn other_keys_and_bad_types() {
        let c = cfg("cluster {\n  advertise: \"10.0.0.1:6222\"\n  no_advertise: true\n  connect_retries: 5\n  connect_backoff: true\n  ping_interval: \"10s\"\n  ping_max: 4\n  write_deadline: \"3s\"\n  write_timeout: close\n}\n");
        assert_eq!(c.advertise.as_deref(), Some("10.0.0.1:6222"));
        assert!(c.no_advertise && c.connect_backoff);
        assert_eq!(c.connect_retries, 5);
        assert_eq!(c.ping_interval, Some(Duration::from_secs(10)));
        assert_eq!(
            c.ping_interval_effective(Duration::from_secs(120)),
            Duration::from_secs(10)
        );
        assert_eq!(c.ping_max_effective(2), 4);
        assert_eq!(c.write_deadline, Some(Duration::from_secs(3)));
        assert_eq!(c.write_timeout, WriteTimeoutPolicy::Close);
        let c = cfg("cluster { cluster_advertise: \"h:1\", ping_interval: \"1m\" }\n");
        assert_eq!(c.advertise.as_deref(), Some("h:1"));
        assert!(
            c.warnings[0].contains("will reset to 30s"),
            "{:?}",
            c.warnings
        );
        let c = cfg("cluster {\n  ping_interval: 5\n}\n");
        assert_eq!(
            c.warnings[0],
            "t.conf:2:3: invalid use of field \"ping_interval\": ping_interval should be converted to a duration"
        );
        for (body, msg) in [
            ("name: 5", "cluster.name: expected a string, got integer"),
            (
                "no_advertise: \"yes\"",
                "cluster.no_advertise: expected a boolean, got string",
            ),
            (
                "connect_retries: true",
                "cluster.connect_retries: expected an integer, got boolean",
            ),
            ("tls: true", "cluster.tls: expected a map, got boolean"),
            (
                "write_timeout: never",
                "write_timeout must be 'default', 'close' or 'retry'",
            ),
            (
                "ping_interval: \"5x\"",
                "error parsing ping_interval: time: unknown unit \"x\" in duration \"5x\"",
            ),
            ("gossip: 1", "unknown field \"gossip\""),
        ] {
            assert_eq!(
                err(&format!("cluster {{\n  {body}\n}}\n")),
                format!("t.conf:2:3: {msg}"),
                "{body}"
            );
        }
        let e = ClusterConfig::from_options(&opts("cluster: 5\n")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.conf:1:1: Expected map to define cluster, got int64"
        );
    }

    #[test]
    fn tls_block_requires_and_verifies_peers() {
        let certs = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/certs");
        let f = |n: &str| certs.join(n).display().to_string();
        let c = cfg(&format!(
            "cluster {{\n  port: 1\n  tls {{ cert_file: \"{}\", key_file: \"{}\", ca_file: \"{}\", timeout: 3 }}\n}}\n",
            f("route.pem"),
            f("route-key.pem"),
            f("ca.pem")
        ));
        let t = c.tls.as_ref().unwrap();
        assert!(t.options.verify);
        assert_eq!(c.auth_timeout(), Duration::from_secs(4));
        assert!(t.connector().is_ok());
        let e = err(&format!(
            "cluster {{\n  tls {{ cert_file: \"{}\", key_file: \"{}\" }}\n}}\n",
            f("server.pem"),
            f("server-key.pem")
        ));
        assert!(
            e.starts_with("t.conf:2:3: cluster TLS needs 'ca_file'"),
            "{e}"
        );
        let e = err("cluster {\n  tls { bogus: 1 }\n}\n");
        assert!(
            e.contains("t.conf:2:") && e.contains("unknown field \"bogus\""),
            "{e}"
        );
    }

    #[test]
    fn flags_alone_make_a_cluster() {
        let flags = ClusterFlags {
            listen: Some("nats://ruser:rpass@127.0.0.1:-1".into()),
            name: Some("C9".into()),
            routes: Some("nats://127.0.0.1:7001, nats://u:p@127.0.0.1:7002".into()),
            advertise: Some("10.1.1.1:7000".into()),
            no_advertise: Some(true),
            connect_retries: Some(7),
        };
        assert!(flags.check().is_ok());
        let c = with_flags("", flags).unwrap().unwrap();
        assert_eq!((c.host.as_str(), c.port), ("127.0.0.1", -1));
        assert!(c.routing());
        assert_eq!(c.name.as_deref(), Some("C9"));
        assert_eq!(c.routes.len(), 2);
        assert_eq!(c.routes[1].user.as_deref(), Some("u"));
        let a = c.auth.as_ref().unwrap();
        assert_eq!(
            (a.user.as_deref(), a.password.as_deref()),
            (Some("ruser"), Some("rpass"))
        );
        assert_eq!(c.advertise.as_deref(), Some("10.1.1.1:7000"));
        assert!(c.no_advertise);
        assert_eq!(c.connect_retries, 7);
        assert_eq!(c.pool_size, 3);
    }

    #[test]
    fn flags_win_over_the_block() {
        let block = "cluster {\n  name: A\n  listen: \"0.0.0.0:6222\"\n  no_advertise: true\n  authorization { user: u, password: p, timeout: 5 }\n  routes: [\"nats://h:1\"]\n}\n";
        // --cluster without credentials drops the block's (not its timeout).
        let c = with_flags(
            block,
            ClusterFlags {
                listen: Some("nats://127.0.0.1:7222".into()),
                name: Some("B".into()),
                no_advertise: Some(false),
                ..Default::default()
            },
        )
        .unwrap()
        .unwrap();
        assert_eq!(c.listen_addr(), "127.0.0.1:7222");
        assert_eq!(c.name.as_deref(), Some("B"));
        assert!(!c.no_advertise);
        let a = c.auth.as_ref().unwrap();
        assert_eq!(
            (a.user.as_deref(), a.timeout),
            (None, Some(Duration::from_secs(5)))
        );
        assert_eq!(c.routes[0].host, "h", "the block's routes stay");
        // --routes replaces the block's routes; the block's port is enough.
        let c = with_flags(
            block,
            ClusterFlags {
                routes: Some("nats://x:2".into()),
                ..Default::default()
            },
        )
        .unwrap()
        .unwrap();
        assert_eq!(c.routes.len(), 1);
        assert_eq!(c.routes[0].host, "x");
        assert_eq!(c.auth.as_ref().unwrap().user.as_deref(), Some("u"));
        // --routes "" removes them.
        let c = with_flags(
            block,
            ClusterFlags {
                routes: Some(String::new()),
                ..Default::default()
            },
        )
        .unwrap()
        .unwrap();
        assert!(c.routes.is_empty());
        // --cluster "" turns clustering off.
        let off = ClusterFlags {
            listen: Some(String::new()),
            ..Default::default()
        };
        assert!(off.check().is_ok());
        let c = with_flags(block, off).unwrap().unwrap();
        assert!(!c.routing());
    }

    #[test]
    fn flag_errors() {
        let only_routes = ClusterFlags {
            routes: Some("nats://127.0.0.1:6222".into()),
            ..Default::default()
        };
        assert_eq!(
            with_flags("", only_routes.clone()).unwrap_err().to_string(),
            "solicited routes require cluster capabilities, e.g. --cluster"
        );
        // A block with a host (even without a port) is a cluster to nats-server.
        assert!(with_flags("cluster { host: 127.0.0.1 }\n", only_routes).is_ok());
        let check = |f: ClusterFlags| f.check().unwrap_err();
        assert_eq!(
            check(ClusterFlags {
                listen: Some("nats://u@127.0.0.1:6222".into()),
                ..Default::default()
            }),
            "expected cluster password to be set"
        );
        assert!(check(ClusterFlags {
            listen: Some("127.0.0.1:6222".into()),
            ..Default::default()
        })
        .contains("expected scheme://host:port"));
        assert!(check(ClusterFlags {
            listen: Some("nats://127.0.0.1".into()),
            ..Default::default()
        })
        .contains("missing port in address"));
        assert!(check(ClusterFlags {
            routes: Some("nats://a:1,nats://b".into()),
            ..Default::default()
        })
        .contains("error parsing route url [\"nats://b\"]"));
        assert_eq!(
            check(ClusterFlags {
                name: Some("a b".into()),
                ..Default::default()
            }),
            "cluster name cannot contain spaces"
        );
        let e = with_flags(
            "",
            ClusterFlags {
                name: Some("a b".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "--cluster_name: cluster name cannot contain spaces"
        );
    }

    #[test]
    fn url_pieces() {
        assert_eq!(redact("nats://u:p@h:1/x"), "nats://xxxxx@h:1/x");
        assert_eq!(redact("nats://h:1"), "nats://h:1");
        assert_eq!(percent_decode("a%20b").unwrap(), "a b");
        assert!(percent_decode("a%2").is_err());
        assert!(percent_decode("a%é").is_err());
        assert!(RouteUrl::parse("nats://u:%zz@h:1").is_err());
        assert!(RouteUrl::parse("nats://h:0").is_err());
        assert!(RouteUrl::parse("nats://:6222")
            .unwrap_err()
            .contains("missing host"));
        let r = RouteUrl::parse("  tls://h:6222  ").unwrap();
        assert_eq!((r.url.as_str(), r.port), ("tls://h:6222", 6222));
    }
}

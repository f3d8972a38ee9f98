//! The `websocket {}` (or `ws {}`) block, with nats-server's keys, defaults
//! and error texts. A key rnats does not implement yet (none at the moment,
//! see `NOT_YET`) stops the server with file, line and key instead of being
//! ignored.

use std::sync::Arc;
use std::time::Duration;

use crate::config::{ConfigError, Key, Kind, Map, Options, Value};
use crate::tls::{TlsConfig, TlsOptions};

/// nats-server's default time for the TLS and WebSocket handshakes.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(2);

/// An origin allowed by `allowed_origins`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedOrigin {
    pub scheme: String,
    pub host: String,
    pub port: u16,
}

/// The WebSocket listener's settings.
#[derive(Debug)]
pub struct WebSocketConfig {
    pub host: String,
    /// -1 = any free port.
    pub port: i32,
    pub advertise: Option<String>,
    /// `None` with `no_tls: true`.
    pub tls: Option<Arc<TlsConfig>>,
    pub handshake_timeout: Duration,
    pub same_origin: bool,
    pub allowed_origins: Vec<AllowedOrigin>,
    pub jwt_cookie: Option<String>,
    pub username_cookie: Option<String>,
    pub password_cookie: Option<String>,
    pub token_cookie: Option<String>,
    /// The server's `max_payload` when the listener was set up (bounds the
    /// size of a WebSocket message).
    pub max_payload: usize,
    /// `compression: true`: permessage-deflate for the clients that offer it.
    pub compression: bool,
    /// The block's own `authorization { user, password, token, timeout }`
    /// and `no_auth_user`, which replace the server's single user, token and
    /// no-auth user for WebSocket clients (nats-server's auth override).
    pub auth: WsAuth,
}

/// The WebSocket auth override.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WsAuth {
    pub user: Option<String>,
    pub password: Option<String>,
    pub token: Option<String>,
    pub timeout: Option<Duration>,
    pub no_auth_user: Option<String>,
}

impl WsAuth {
    /// Whether WebSocket clients authenticate differently from TCP ones.
    pub fn overrides(&self) -> bool {
        self.user.is_some() || self.token.is_some() || self.no_auth_user.is_some()
    }

    /// The options WebSocket clients are authenticated with: the server's,
    /// with the override's single user, token and no-auth user (users
    /// lists and accounts stay the server's).
    pub fn options(&self, opts: &Options) -> Option<Options> {
        if !self.overrides() {
            return None;
        }
        let mut o = opts.clone();
        o.username.clone_from(&self.user);
        o.password.clone_from(&self.password);
        o.authorization.clone_from(&self.token);
        o.no_auth_user.clone_from(&self.no_auth_user);
        if self.timeout.is_some() {
            o.auth_timeout = self.timeout;
        }
        Some(o)
    }
}

/// Keys nats-server has that rnats refuses until it implements them.
const NOT_YET: &[(&str, &str)] = &[];

fn want_str<'a>(k: &Key, v: &'a Value) -> Result<&'a str, ConfigError> {
    match &v.kind {
        Kind::String(s) => Ok(s),
        other => Err(ConfigError::at(
            &k.pos,
            &format!("websocket.{}", k.name),
            format!(
                "websocket.{}: expected a string, got {}",
                k.name,
                other.go_type()
            ),
        )),
    }
}

fn want_bool(k: &Key, v: &Value) -> Result<bool, ConfigError> {
    match v.kind {
        Kind::Bool(b) => Ok(b),
        ref other => Err(ConfigError::at(
            &k.pos,
            &format!("websocket.{}", k.name),
            format!(
                "websocket.{}: expected a boolean, got {}",
                k.name,
                other.go_type()
            ),
        )),
    }
}

impl WebSocketConfig {
    /// The block of `opts`, checked as nats-server checks it; `None` without
    /// one.
    ///
    /// # Errors
    /// A bad or not yet supported entry, with file, line and key.
    pub fn from_options(opts: &Options) -> Result<Option<Arc<WebSocketConfig>>, ConfigError> {
        let Some(raw) = &opts.raw_config else {
            return Ok(None);
        };
        let Some((block_key, block)) = raw.entries.iter().rev().find(|(k, _)| {
            k.name.eq_ignore_ascii_case("websocket") || k.name.eq_ignore_ascii_case("ws")
        }) else {
            return Ok(None);
        };
        let Kind::Map(m) = &block.kind else {
            return Err(ConfigError::at(
                &block_key.pos,
                &block_key.name,
                format!(
                    "Expected websocket to be a map/struct, got {}",
                    block.kind.go_type()
                ),
            ));
        };
        Self::parse(block_key, m, opts).map(|c| Some(Arc::new(c)))
    }

    fn parse(block_key: &Key, m: &Map, opts: &Options) -> Result<WebSocketConfig, ConfigError> {
        let mut c = WebSocketConfig {
            host: String::new(),
            port: 0,
            advertise: None,
            tls: None,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            same_origin: false,
            allowed_origins: Vec::new(),
            jwt_cookie: None,
            username_cookie: None,
            password_cookie: None,
            token_cookie: None,
            max_payload: opts.max_payload.max(0) as usize,
            compression: false,
            auth: WsAuth::default(),
        };
        let mut no_tls = false;
        let mut tls_block = None;
        for (k, v) in m.iter() {
            let name = k.name.to_ascii_lowercase();
            let path = format!("websocket.{}", k.name);
            if let Some((_, what)) = NOT_YET.iter().find(|(n, _)| *n == name) {
                return Err(ConfigError::at(
                    &k.pos,
                    &path,
                    format!("{what} is not supported by this version of rnats"),
                ));
            }
            match name.as_str() {
                "host" | "net" => c.host = want_str(k, v)?.to_owned(),
                "port" => match v.kind {
                    Kind::Integer(n) => c.port = n.clamp(-1, i32::from(u16::MAX) as i64) as i32,
                    ref other => {
                        return Err(ConfigError::at(
                            &k.pos,
                            &path,
                            format!(
                                "websocket.port: expected an integer, got {}",
                                other.go_type()
                            ),
                        ))
                    }
                },
                "listen" => {
                    let s = want_str(k, v)?;
                    let (h, p) = s.rsplit_once(':').unwrap_or(("", s));
                    c.host = h.to_owned();
                    c.port = p.parse().map_err(|_| {
                        ConfigError::at(&k.pos, &path, format!("could not parse port {p:?}"))
                    })?;
                }
                "advertise" => c.advertise = Some(want_str(k, v)?.to_owned()),
                "no_tls" => no_tls = want_bool(k, v)?,
                "tls" => match &v.kind {
                    Kind::Map(tm) => tls_block = Some((k.clone(), tm.clone())),
                    other => {
                        return Err(ConfigError::at(
                            &k.pos,
                            &path,
                            format!("websocket.tls: expected a map, got {}", other.go_type()),
                        ))
                    }
                },
                "handshake_timeout" => {
                    c.handshake_timeout = match &v.kind {
                        Kind::Duration(d) => *d,
                        Kind::String(s) => crate::config::parse_duration(s).ok_or_else(|| {
                            ConfigError::at(
                                &k.pos,
                                &path,
                                format!(
                                    "error parsing handshake timeout: time: invalid duration {s:?}"
                                ),
                            )
                        })?,
                        // nats-server reads a bare number as seconds.
                        Kind::Integer(n) if *n >= 0 => Duration::from_secs(*n as u64),
                        other => {
                            return Err(ConfigError::at(
                                &k.pos,
                                &path,
                                format!(
                                    "error parsing handshake timeout: unexpected type {}",
                                    other.go_type()
                                ),
                            ))
                        }
                    }
                }
                "same_origin" => c.same_origin = want_bool(k, v)?,
                "allowed_origins" | "allowed_origin" | "allow_origins" | "allow_origin"
                | "origins" | "origin" => {
                    let list: Vec<&Value> = match &v.kind {
                        Kind::Array(a) => a.iter().collect(),
                        _ => vec![v],
                    };
                    for o in list {
                        let s = want_str(k, o)?;
                        c.allowed_origins
                            .push(parse_origin(s).map_err(|e| ConfigError::at(&o.pos, &path, e))?);
                    }
                }
                "compression" => c.compression = want_bool(k, v)?,
                "authorization" | "authentication" => c.auth = parse_auth(k, v, &c.auth)?,
                "no_auth_user" => c.auth.no_auth_user = Some(want_str(k, v)?.to_owned()),
                "jwt_cookie" => c.jwt_cookie = Some(want_str(k, v)?.to_owned()),
                "username_cookie" => c.username_cookie = Some(want_str(k, v)?.to_owned()),
                "password_cookie" => c.password_cookie = Some(want_str(k, v)?.to_owned()),
                "token_cookie" => c.token_cookie = Some(want_str(k, v)?.to_owned()),
                _ => {
                    return Err(ConfigError::at(
                        &k.pos,
                        &path,
                        format!("unknown field {:?}", k.name),
                    ))
                }
            }
        }
        match (tls_block, no_tls) {
            (Some((k, tm)), _) => {
                let options = TlsOptions::parse(&k, &tm)?;
                c.tls = Some(Arc::new(TlsConfig::build(options)?));
            }
            (None, true) => {}
            (None, false) => {
                return Err(ConfigError::at(
                    &block_key.pos,
                    &block_key.name,
                    "websocket requires TLS configuration",
                ))
            }
        }
        let has_users = crate::auth::AuthConfig::from_options(opts)
            .map(|a| a.has_users())
            .unwrap_or(false);
        if has_users && c.auth.user.is_some() {
            return Err(ConfigError::at(
                &block_key.pos,
                &block_key.name,
                "websocket authentication username not compatible with presence of users/nkeys",
            ));
        }
        if has_users && c.auth.token.is_some() {
            return Err(ConfigError::at(
                &block_key.pos,
                &block_key.name,
                "websocket authentication token not compatible with presence of users/nkeys",
            ));
        }
        // The override must make a valid auth configuration (a no_auth_user
        // that names a user, ...), checked by the same code as the server's.
        if let Some(o) = c.auth.options(opts) {
            crate::auth::AuthConfig::from_options(&o)?;
        }
        if let Some(name) = &c.jwt_cookie {
            if opts.raw_config.as_ref().is_none_or(|r| {
                !r.iter().any(|(k, _)| {
                    crate::trust::is_trust_key(&k.name.to_ascii_lowercase())
                        && !k.name.eq_ignore_ascii_case("system_account")
                })
            }) {
                return Err(ConfigError::at(
                    &block_key.pos,
                    &block_key.name,
                    format!(
                        "trusted operators or trusted keys configuration is required for JWT authentication via cookie {name:?}"
                    ),
                ));
            }
        }
        Ok(c)
    }

    /// The address to bind.
    pub fn bind_addr(&self) -> String {
        let host = if self.host.is_empty() {
            "0.0.0.0"
        } else {
            &self.host
        };
        let port = if self.port < 0 { 0 } else { self.port as u16 };
        if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        }
    }

    /// nats-server's origin rule: with neither `same_origin` nor
    /// `allowed_origins`, or without an Origin header, anything goes; else
    /// the origin must match the request's host (`same_origin`) and be
    /// listed (scheme, host and port).
    pub fn check_origin(&self, origin: Option<&str>, host: Option<&str>) -> Result<(), String> {
        if !self.same_origin && self.allowed_origins.is_empty() {
            return Ok(());
        }
        let Some(origin) = origin.filter(|o| !o.is_empty()) else {
            return Ok(());
        };
        let o = parse_origin(origin)?;
        if self.same_origin {
            let (rh, rp) = host_port(host.unwrap_or(""), self.tls.is_some())?;
            if o.host != rh || o.port != rp {
                return Err("not same origin".into());
            }
        }
        if !self.allowed_origins.is_empty()
            && !self
                .allowed_origins
                .iter()
                .any(|a| a.host == o.host && a.scheme == o.scheme && a.port == o.port)
        {
            return Err("not in the allowed list".into());
        }
        Ok(())
    }
}

/// `authorization { user, password, token, timeout }` of the block.
fn parse_auth(k: &Key, v: &Value, cur: &WsAuth) -> Result<WsAuth, ConfigError> {
    let Kind::Map(m) = &v.kind else {
        return Err(ConfigError::at(
            &k.pos,
            "websocket.authorization",
            format!(
                "Expected authorization to be a map/struct, got {}",
                v.kind.go_type()
            ),
        ));
    };
    let mut a = cur.clone();
    for (ak, av) in m.iter() {
        match ak.name.to_ascii_lowercase().as_str() {
            "user" | "username" => a.user = Some(want_str(ak, av)?.to_owned()),
            "pass" | "password" => a.password = Some(want_str(ak, av)?.to_owned()),
            "token" => a.token = Some(want_str(ak, av)?.to_owned()),
            "timeout" => {
                let secs = match av.kind {
                    Kind::Integer(n) => n as f64,
                    Kind::Float(f) => f,
                    _ => 1.0,
                };
                a.timeout = Some(Duration::from_secs_f64(secs.max(0.0)));
            }
            _ => {
                return Err(ConfigError::at(
                    &ak.pos,
                    "websocket.authorization",
                    format!("unknown field {:?}", ak.name),
                ))
            }
        }
    }
    Ok(a)
}

/// `scheme://host[:port]`, with nats-server's texts for what it refuses.
fn parse_origin(s: &str) -> Result<AllowedOrigin, String> {
    let Some((scheme, rest)) = s.split_once("://") else {
        return Err(format!(
            "unable to parse allowed origin {s:?}: allowed origins must be absolute URLs with http or https scheme"
        ));
    };
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(format!(
            "unable to parse allowed origin {s:?}: allowed origins must be absolute URLs with http or https scheme"
        ));
    }
    let authority = rest.split('/').next().unwrap_or("");
    if authority.is_empty() {
        return Err(format!(
            "unable to parse allowed origin {s:?}: host is required"
        ));
    }
    let (host, port) = host_port(authority, scheme == "https")?;
    Ok(AllowedOrigin { scheme, host, port })
}

/// Host and port of `authority`, the scheme's default port when absent.
fn host_port(authority: &str, tls: bool) -> Result<(String, u16), String> {
    let default = if tls { 443 } else { 80 };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => {
            if h.contains(':') && !h.starts_with('[') {
                (authority, None)
            } else {
                (h, Some(p))
            }
        }
        _ => (authority, None),
    };
    let port = match port {
        Some(p) => p.parse().map_err(|_| format!("invalid port {p:?}"))?,
        None => default,
    };
    Ok((host.to_ascii_lowercase(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_parse_with_default_ports() {
        let o = parse_origin("https://Example.com").unwrap();
        assert_eq!(
            (o.scheme.as_str(), o.host.as_str(), o.port),
            ("https", "example.com", 443)
        );
        let o = parse_origin("http://localhost:8080/app").unwrap();
        assert_eq!((o.host.as_str(), o.port), ("localhost", 8080));
        assert!(parse_origin("ftp://x")
            .unwrap_err()
            .contains("http or https scheme"));
        assert!(parse_origin("http://")
            .unwrap_err()
            .contains("host is required"));
    }
}

//! Config reload (SIGHUP, `--signal reload`), as nats-server's
//! `Server.Reload`: the config file is read again, flags given on the
//! command line keep overriding it, and the result is checked in full
//! before anything changes. A config that does not parse or validate, or
//! that changes a setting which needs a restart, is refused and the old one
//! stays in force.
//!
//! What a reload changes:
//! - auth (token, user/password, users, nkeys, permissions): every live
//!   connection is checked again with the credentials it logged in with; one
//!   that no longer authenticates is closed with `Authorization Violation`,
//!   one whose permissions changed gets them at once and loses the
//!   subscriptions they no longer allow (each with a `-ERR`);
//! - rate quotas (`msgs_per_sec`, `bytes_per_sec`, `burst` in the `limits {}`
//!   of accounts and users), applied to live publishers at once;
//! - logging (`debug`, `trace`, `logtime`, `logtime_utc`, `log_file`);
//! - `max_connections` (at once: connections over the new limit are
//!   closed), and per-connection limits for new connections
//!   (`max_payload`, `max_control_line`, `ping_interval`, `ping_max`,
//!   `write_deadline`, `authorization.timeout`);
//! - `pid_file`, `client_advertise`, tags, metadata and the other settings
//!   read when used.

use std::sync::Arc;

use super::close::CloseReason;
use super::Server;
use crate::auth::AuthConfig;
use crate::cli::Cli;
use crate::config::parser::format_go_duration;
use crate::config::{Kind, Map, Options, Value};

/// Why a reload was refused; the old configuration stays in force.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The server was started without a config file.
    #[error("can only reload config when a file is provided using -c or --config")]
    NoConfigFile,
    /// The new file does not parse or validate.
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
    /// A setting that needs a restart changed (nats-server's Go field name
    /// and the old and new values).
    #[error("config reload not supported for {0}")]
    NotReloadable(String),
    /// The new log file cannot be opened.
    #[error("cannot open log file {path:?}: {error}")]
    LogFile {
        path: Option<std::path::PathBuf>,
        error: String,
    },
}

/// Reloads the configuration file the server was started with.
///
/// # Errors
/// Why the new configuration was refused (the old one stays in force).
pub async fn reload(server: &Arc<Server>, cli: &Cli) -> Result<(), ReloadError> {
    let cur = server.opts();
    let Some(path) = cur.config_file.clone() else {
        return Err(ReloadError::NoConfigFile);
    };
    let mut new = Options::from_file(&path)?;
    cli.apply(&mut new);
    new.validate()?;
    super::support::check(&new)?;
    let auth = AuthConfig::from_options(&new)?;
    // WebSocket clients' auth override follows the server's users.
    let ws_auth = match server
        .websocket
        .get()
        .and_then(|w| w.config.auth.options(&new))
    {
        Some(o) => Some(Arc::new(AuthConfig::from_options(&o)?)),
        None => None,
    };
    let accounts = crate::tenancy::account_config::AccountsConfig::from_options(&new)?;
    unsupported_change(&cur, &new)?;
    // The cluster block: what can change is checked now, applied below.
    let cluster =
        crate::cluster::config::ClusterConfig::from_options(&new)?.filter(|c| c.routing());
    match (server.cluster.get(), &cluster) {
        (Some(c), Some(n)) => c.can_reload(n).map_err(ReloadError::NotReloadable)?,
        (None, None) => {}
        _ => {
            return Err(ReloadError::NotReloadable(
                "cluster (added or removed)".into(),
            ))
        }
    }
    // The only step that can fail while applying: do it first.
    crate::logging::reconfigure(&new).map_err(|e| ReloadError::LogFile {
        path: new.log_file.clone(),
        error: e.to_string(),
    })?;
    if new.pid_file != cur.pid_file {
        if let Some(p) = &new.pid_file {
            if let Err(e) = std::fs::write(p, std::process::id().to_string()) {
                log::error!("Failed to write pidfile: {e}");
            }
        }
    }
    let changed = changes(&cur, &new);
    let new = Arc::new(new);
    let auth = Arc::new(auth);
    let auth_changed = *auth != *server.auth();
    server.set_opts(new.clone());
    server.set_auth(auth.clone());
    server.set_ws_auth(ws_auth);
    for line in &changed {
        log::info!("Reloaded: {line}");
    }
    if auth_changed {
        log::info!("Reloaded: authorization");
    }
    if let (Some(c), Some(n)) = (server.cluster.get(), cluster) {
        for line in c.reload(n) {
            log::info!("Reloaded: {line}");
        }
    }
    enforce_max_connections(server, new.max_connections);
    if server.operator.is_none() {
        apply_account_quotas(server, &accounts);
    }
    reauthorize(server).await;
    log::info!("Reloaded server configuration");
    Ok(())
}

/// nats-server closes connections over a lowered `max_connections` at once.
fn enforce_max_connections(server: &Server, max: i32) {
    if max < 0 {
        return;
    }
    let clients = server.clients();
    let excess = clients.len().saturating_sub(max as usize);
    if excess == 0 {
        return;
    }
    // Newest first, so the longest-lived connections stay.
    for c in clients.iter().rev().take(excess) {
        c.close_with_error(
            "maximum connections exceeded",
            CloseReason::MaxConnectionsExceeded,
        );
    }
    log::info!("Closed {excess} connections to fall within max_connections");
}

/// Checks every logged-in connection again through the login pipeline
/// that admitted it, now with the reloaded configuration.
async fn reauthorize(server: &Server) {
    for c in server.clients() {
        super::login::recheck(server, &c).await;
    }
}

/// A copy of `m` without the rate quota keys of any `limits {}` map inside
/// it (account and user quotas reload; the rest of the accounts block does
/// not).
fn strip_rate_keys(m: &Map) -> Map {
    fn value(v: &Value, in_limits: bool) -> Value {
        let kind = match &v.kind {
            Kind::Map(m) => Kind::Map(map(m, in_limits)),
            Kind::Array(items) => Kind::Array(items.iter().map(|i| value(i, false)).collect()),
            other => other.clone(),
        };
        Value {
            kind,
            pos: v.pos.clone(),
        }
    }
    fn map(m: &Map, in_limits: bool) -> Map {
        Map {
            entries: m
                .iter()
                .filter(|(k, _)| !(in_limits && crate::quota::is_rate_key(&k.name)))
                .map(|(k, v)| (k.clone(), value(v, k.name.eq_ignore_ascii_case("limits"))))
                .collect(),
        }
    }
    map(m, false)
}

/// Applies the reloaded accounts' rate quotas (config accounts; the rest
/// of the accounts block cannot change on reload).
fn apply_account_quotas(
    server: &Server,
    accounts: &crate::tenancy::account_config::AccountsConfig,
) {
    for def in &accounts.accounts {
        if let Some(acc) = server.accounts.get(&def.name) {
            acc.set_quota(Some(def.rate));
        }
    }
}

/// Two config values alike regardless of where they are in the file.
fn same_value(a: &Value, b: &Value) -> bool {
    match (&a.kind, &b.kind) {
        (Kind::Array(x), Kind::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_value(a, b))
        }
        (Kind::Map(x), Kind::Map(y)) => same_map(x, y),
        (x, y) => x == y,
    }
}

fn same_map(a: &Map, b: &Map) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b.iter())
            .all(|((ka, va), (kb, vb))| ka.name == kb.name && same_value(va, vb))
}

fn same_block(a: &Option<Map>, b: &Option<Map>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => same_map(a, b),
        _ => false,
    }
}

fn opt_str(v: &Option<impl std::fmt::Display>) -> String {
    v.as_ref().map(ToString::to_string).unwrap_or_default()
}

/// The first setting that cannot change without a restart, in
/// nats-server's wording (`config reload not supported for <Field>: old=…,
/// new=…`, with nats-server's Go field names).
fn unsupported_change(cur: &Options, new: &Options) -> Result<(), ReloadError> {
    fn refuse(
        field: &str,
        old: impl std::fmt::Display,
        new: impl std::fmt::Display,
    ) -> ReloadError {
        ReloadError::NotReloadable(format!("{field}: old={old}, new={new}"))
    }
    macro_rules! fixed {
        ($field:ident, $name:literal) => {
            if cur.$field != new.$field {
                return Err(refuse($name, &cur.$field, &new.$field));
            }
        };
    }
    fixed!(host, "Host");
    // A random port (-1) stays the port that was bound.
    if cur.port != new.port && !(cur.port == -1 && new.port == 0) {
        return Err(refuse("Port", cur.port, new.port));
    }
    fixed!(server_name, "ServerName");
    fixed!(http_host, "HTTPHost");
    fixed!(http_port, "HTTPPort");
    fixed!(https_port, "HTTPSPort");
    fixed!(http_base_path, "HTTPBasePath");
    fixed!(max_subs, "MaxSubs");
    fixed!(max_sub_tokens, "MaxSubTokens");
    fixed!(max_pending, "MaxPending");
    fixed!(heavy_connection_rate, "HeavyConnectionRate");
    fixed!(max_closed_clients, "MaxClosedClients");
    fixed!(no_header_support, "NoHeaderSupport");
    fixed!(no_sublist_cache, "NoSublistCache");
    fixed!(no_system_account, "NoSystemAccount");
    fixed!(allow_non_tls, "AllowNonTLS");
    fixed!(log_size_limit, "LogSizeLimit");
    fixed!(log_max_num, "LogMaxFiles");
    if cur.lame_duck_duration != new.lame_duck_duration {
        return Err(refuse(
            "LameDuckDuration",
            format_go_duration(cur.lame_duck_duration),
            format_go_duration(new.lame_duck_duration),
        ));
    }
    if cur.lame_duck_grace_period != new.lame_duck_grace_period {
        return Err(refuse(
            "LameDuckGracePeriod",
            format_go_duration(cur.lame_duck_grace_period),
            format_go_duration(new.lame_duck_grace_period),
        ));
    }
    if cur.write_timeout != new.write_timeout {
        return Err(refuse(
            "WriteTimeout",
            format!("{:?}", cur.write_timeout),
            format!("{:?}", new.write_timeout),
        ));
    }
    // nats-server allows removing no_auth_user (with its user), not setting
    // or changing it.
    if cur.no_auth_user != new.no_auth_user && new.no_auth_user.is_some() {
        return Err(refuse(
            "NoAuthUser",
            opt_str(&cur.no_auth_user),
            opt_str(&new.no_auth_user),
        ));
    }
    if cur.system_account != new.system_account {
        return Err(refuse(
            "SystemAccount",
            opt_str(&cur.system_account),
            opt_str(&new.system_account),
        ));
    }
    if cur.ports_file_dir != new.ports_file_dir {
        return Err(refuse(
            "PortsFileDir",
            opt_str(&cur.ports_file_dir.as_ref().map(|p| p.display().to_string())),
            opt_str(&new.ports_file_dir.as_ref().map(|p| p.display().to_string())),
        ));
    }
    // The WebSocket listener is set up once, as in nats-server.
    let ws_block = |o: &Options| {
        o.raw_config.as_ref().and_then(|r| {
            r.entries
                .iter()
                .rev()
                .find(|(k, _)| {
                    k.name.eq_ignore_ascii_case("websocket") || k.name.eq_ignore_ascii_case("ws")
                })
                .and_then(|(_, v)| match &v.kind {
                    crate::config::Kind::Map(m) => Some(m.clone()),
                    _ => None,
                })
        })
    };
    if !same_block(&ws_block(cur), &ws_block(new)) {
        return Err(ReloadError::NotReloadable("Websocket".into()));
    }
    // rnats loads TLS once at startup (nats-server reloads it).
    if !same_block(&cur.tls_block, &new.tls_block) {
        return Err(ReloadError::NotReloadable(
            "TLSConfig in this version of rnats".into(),
        ));
    }
    // Accounts, their links and operator trust are set up once at start-up;
    // a reload that changed them would leave the running server enforcing
    // something other than its file, so it is refused.
    let without_quotas = |b: &Option<Map>| b.as_ref().map(strip_rate_keys);
    if !same_block(
        &without_quotas(&cur.accounts_block),
        &without_quotas(&new.accounts_block),
    ) {
        return Err(ReloadError::NotReloadable(
            "Accounts in this version of rnats".into(),
        ));
    }
    if cur.system_account != new.system_account {
        return Err(refuse(
            "SystemAccount",
            opt_str(&cur.system_account),
            opt_str(&new.system_account),
        ));
    }
    // Operator trust, resolvers and the global mappings: every alias, in
    // either file.
    let watched = |k: &str| {
        crate::trust::is_trust_key(k)
            || k.eq_ignore_ascii_case("mappings")
            || k.eq_ignore_ascii_case("maps")
    };
    let keys = |o: &Options| -> Vec<String> {
        o.raw_config
            .iter()
            .flat_map(|m| m.iter())
            .map(|(k, _)| k.name.clone())
            .filter(|k| watched(k))
            .collect()
    };
    let mut all = keys(cur);
    all.extend(keys(new));
    for key in all {
        let get = |o: &Options| o.raw_config.as_ref().and_then(|m| m.get(&key).cloned());
        let same = match (get(cur), get(new)) {
            (None, None) => true,
            (Some(x), Some(y)) => same_value(&x, &y),
            _ => false,
        };
        if !same {
            return Err(ReloadError::NotReloadable(format!(
                "{key} in this version of rnats"
            )));
        }
    }
    Ok(())
}

/// The reloadable settings that changed, as nats-server logs them
/// (`Reloaded: <what>`).
fn changes(cur: &Options, new: &Options) -> Vec<String> {
    let mut out = Vec::new();
    macro_rules! plain {
        ($field:ident, $name:literal) => {
            if cur.$field != new.$field {
                out.push(format!("{} = {}", $name, new.$field));
            }
        };
    }
    plain!(trace, "trace");
    plain!(trace_verbose, "trace_verbose");
    plain!(trace_headers, "trace_headers");
    plain!(debug, "debug");
    plain!(logtime, "logtime");
    plain!(logtime_utc, "logtime_utc");
    if cur.log_file != new.log_file {
        out.push(format!(
            "log_file = {}",
            opt_str(&new.log_file.as_ref().map(|p| p.display().to_string()))
        ));
    }
    plain!(max_connections, "max_connections");
    if cur.pid_file != new.pid_file {
        out.push(format!(
            "pid_file = {}",
            opt_str(&new.pid_file.as_ref().map(|p| p.display().to_string()))
        ));
    }
    plain!(max_control_line, "max_control_line");
    plain!(max_payload, "max_payload");
    if cur.ping_interval != new.ping_interval {
        out.push(format!(
            "ping_interval = {}",
            format_go_duration(new.ping_interval)
        ));
    }
    plain!(ping_max, "ping_max");
    if cur.write_deadline != new.write_deadline {
        out.push(format!(
            "write_deadline = {}",
            format_go_duration(new.write_deadline)
        ));
    }
    if cur.auth_timeout != new.auth_timeout {
        out.push(format!(
            "authorization timeout = {}",
            new.auth_timeout
                .map(|d| format!("{}", d.as_secs_f64()))
                .unwrap_or_default()
        ));
    }
    plain!(client_advertise, "client_advertise");
    plain!(max_traced_msg_len, "max_traced_msg_len");
    if cur.server_tags != new.server_tags {
        out.push("tags".into());
    }
    if cur.server_metadata != new.server_metadata {
        out.push("metadata".into());
    }
    out
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

    #[test]
    fn restart_only_settings_are_refused_in_nats_wording() {
        let a = opts("port: 4222\n");
        let b = opts("port: 4333\n");
        assert_eq!(
            unsupported_change(&a, &b).unwrap_err().to_string(),
            "config reload not supported for Port: old=4222, new=4333"
        );
        let b = opts("port: 4222\nserver_name: x\n");
        assert!(unsupported_change(&a, &b)
            .unwrap_err()
            .to_string()
            .starts_with("config reload not supported for ServerName"));
        let b = opts("port: 4222\ndebug: true\nmax_payload: 1024\nmax_connections: 5\n");
        assert!(unsupported_change(&a, &b).is_ok());
        let c = changes(&a, &b);
        assert!(c.contains(&"debug = true".to_string()), "{c:?}");
        assert!(c.contains(&"max_payload = 1024".to_string()), "{c:?}");
    }

    #[test]
    fn account_and_operator_changes_are_refused() {
        let a = opts("accounts { A: { exports: [ {stream: x} ] } }\n");
        let b = opts("accounts { A: { exports: [ {stream: y} ] } }\n");
        assert!(unsupported_change(&a, &b)
            .unwrap_err()
            .to_string()
            .contains("Accounts"));
        let moved = opts("\n# moved\naccounts { A: { exports: [ {stream: x} ] } }\n");
        assert!(unsupported_change(&a, &moved).is_ok());
        let b = opts("accounts { A: { exports: [ {stream: x} ] } }\nsystem_account: A\n");
        assert!(unsupported_change(&a, &b)
            .unwrap_err()
            .to_string()
            .contains("SystemAccount"));
        let b = opts("accounts { A: { exports: [ {stream: x} ] } }\nresolver: MEMORY\n");
        assert!(unsupported_change(&a, &b)
            .unwrap_err()
            .to_string()
            .contains("resolver"));
        // Every alias counts.
        let b = opts("accounts { A: { exports: [ {stream: x} ] } }\naccount_resolver: MEMORY\n");
        assert!(unsupported_change(&a, &b)
            .unwrap_err()
            .to_string()
            .contains("account_resolver"));
        let b = opts("accounts { A: { exports: [ {stream: x} ] } }\nmaps { a: b }\n");
        assert!(unsupported_change(&a, &b)
            .unwrap_err()
            .to_string()
            .contains("maps"));
    }

    #[test]
    fn moved_blocks_are_the_same() {
        let a = opts("tls {\n  timeout: 2\n}\n");
        let b = opts("\n\n# moved\ntls { timeout: 2 }\n");
        assert!(same_block(&a.tls_block, &b.tls_block));
        let c = opts("tls { timeout: 3 }\n");
        assert!(!same_block(&a.tls_block, &c.tls_block));
    }
}

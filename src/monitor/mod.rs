//! HTTP monitoring: nats-server's endpoints with its field names, units,
//! query parameters and error answers, so existing dashboards, `nats-top`
//! and exporters work unchanged, plus Prometheus `/metrics`.
//!
//! - [`http`]: the listener (hyper, HTTP/1.1) and its lifecycle.
//! - [`varz`], [`connz`], [`subsz`], [`accounts`]: the JSON documents.
//! - [`metrics`]: the Prometheus text exposition.
//! - [`format`], [`query`]: Go's formats for times and durations, and its
//!   query-parameter rules.
//!
//! Every endpoint answers from snapshots of the server's state; nothing here
//! runs on the message path.

pub mod accounts;
pub mod connz;
pub mod format;
pub mod http;
pub mod metrics;
pub mod query;
pub mod routez;
pub mod subsz;
pub mod varz;

use parking_lot::Mutex;
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use crate::server::Server;
use format::rfc3339;
use query::{BadRequest, Query};

pub use http::{start, MonitorHandle};

/// The endpoints, relative to `http_base_path`.
pub const ROOT_PATH: &str = "/";
pub const VARZ_PATH: &str = "/varz";
pub const CONNZ_PATH: &str = "/connz";
pub const ROUTEZ_PATH: &str = "/routez";
pub const GATEWAYZ_PATH: &str = "/gatewayz";
pub const LEAFZ_PATH: &str = "/leafz";
pub const SUBSZ_PATH: &str = "/subsz";
pub const SUBSCRIPTIONSZ_PATH: &str = "/subscriptionsz";
pub const ACCOUNTZ_PATH: &str = "/accountz";
pub const ACCSTATZ_PATH: &str = "/accstatz";
pub const JSZ_PATH: &str = "/jsz";
pub const HEALTHZ_PATH: &str = "/healthz";
pub const METRICS_PATH: &str = "/metrics";

/// An answer before it becomes an HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    /// `Access-Control-Allow-Origin: *`, on the monitoring documents.
    pub cors: bool,
}

impl Reply {
    /// Pretty-printed JSON (two-space indent), as nats-server writes it.
    pub fn json<T: Serialize>(v: &T) -> Reply {
        Reply::json_status(200, serde_json::to_vec_pretty(v).unwrap_or_default())
    }

    fn json_status(status: u16, body: Vec<u8>) -> Reply {
        Reply {
            status,
            content_type: "application/json",
            body,
            cors: true,
        }
    }

    /// HTTP 400 with a plain-text reason.
    pub fn bad_request(e: BadRequest) -> Reply {
        Reply {
            status: 400,
            content_type: "text/plain; charset=utf-8",
            body: e.0.into_bytes(),
            cors: false,
        }
    }

    pub fn not_found() -> Reply {
        Reply {
            status: 404,
            content_type: "text/plain; charset=utf-8",
            body: b"404 page not found\n".to_vec(),
            cors: false,
        }
    }

    fn from_result<T: Serialize>(r: Result<T, BadRequest>) -> Reply {
        match r {
            Ok(v) => Reply::json(&v),
            Err(e) => Reply::bad_request(e),
        }
    }
}

/// Endpoints added by a service running beside the server (the streaming
/// engine's `/streaming/...`), answered after the server's own.
pub trait Extension: Send + Sync {
    /// The answer for `endpoint`, or `None` when it is not this extension's.
    fn handle(&self, endpoint: &str, query: &Query) -> Option<Reply>;
    /// Adds the extension's series to `/metrics`.
    fn metrics(&self, e: &mut metrics::Exposition);
}

/// The monitoring side of one server: what the endpoints need besides the
/// server itself.
pub struct Monitor {
    server: Arc<Server>,
    /// The bound monitoring address.
    addr: SocketAddr,
    /// The host monitoring listens on, as `/varz` reports it.
    http_host: String,
    /// `http_base_path`, normalized: `/` or `/prefix` without a trailing slash.
    base_path: String,
    req_stats: Mutex<BTreeMap<&'static str, u64>>,
    activity: connz::Activity,
    counters: accounts::Monotonic,
    proc: Mutex<varz::ProcSample>,
    config: Mutex<varz::ConfigState>,
}

impl std::fmt::Debug for Monitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Monitor").field("addr", &self.addr).finish()
    }
}

/// nats-server's `normalizeBasePath`: a leading slash, cleaned, no trailing
/// slash (`""` → `/`, `mon/` → `/mon`).
pub fn normalize_base_path(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    format!("/{}", parts.join("/"))
}

impl Monitor {
    /// The monitor of `server`, listening (already bound) on `addr`.
    pub fn new(server: Arc<Server>, addr: SocketAddr, http_host: String) -> Monitor {
        let opts = server.opts();
        Monitor {
            base_path: normalize_base_path(&opts.http_base_path),
            config: Mutex::new(varz::ConfigState::new(opts, server.start_time)),
            server,
            addr,
            http_host,
            req_stats: Mutex::new(BTreeMap::new()),
            activity: connz::Activity::default(),
            counters: accounts::Monotonic::default(),
            proc: Mutex::new(varz::ProcSample::new()),
        }
    }

    pub fn server(&self) -> &Arc<Server> {
        &self.server
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Requests served per endpoint (`http_req_stats` in `/varz`).
    pub fn req_stats(&self) -> BTreeMap<String, u64> {
        self.req_stats
            .lock()
            .iter()
            .map(|(k, v)| ((*k).to_owned(), *v))
            .collect()
    }

    fn count(&self, path: &'static str) {
        *self.req_stats.lock().entry(path).or_insert(0) += 1;
    }

    /// Records the connections' activity (the monitor's periodic tick).
    pub fn sample(&self) {
        let clients = self.server.clients();
        let keep = self.server.opts().max_closed_clients.max(0) as usize;
        self.activity.observe(&clients, keep);
    }

    /// The endpoint path of a request path under the base path, or `None`
    /// when it is outside it. The root page answers only the base path itself.
    fn route<'a>(&self, path: &'a str) -> Option<&'a str> {
        if self.base_path == "/" {
            return Some(path);
        }
        if path == self.base_path {
            return Some(ROOT_PATH);
        }
        let rest = path.strip_prefix(self.base_path.as_str())?;
        (rest.starts_with('/') && rest != "/").then_some(rest)
    }

    /// Answers one request (any method, as nats-server's handlers do).
    pub fn handle(&self, path: &str, query: Option<&str>) -> Reply {
        let Some(endpoint) = self.route(path) else {
            return Reply::not_found();
        };
        let q = Query::parse(query);
        match endpoint {
            ROOT_PATH => {
                self.count(ROOT_PATH);
                Reply {
                    status: 200,
                    content_type: "text/html; charset=utf-8",
                    body: self.root_page().into_bytes(),
                    cors: false,
                }
            }
            VARZ_PATH => {
                self.count(VARZ_PATH);
                Reply::json(&self.varz())
            }
            CONNZ_PATH => {
                self.count(CONNZ_PATH);
                Reply::from_result(connz::ConnzOptions::from_query(&q).map(|o| self.connz(&o)))
            }
            ROUTEZ_PATH => {
                self.count(ROUTEZ_PATH);
                Reply::from_result(
                    q.subs()
                        .map(|(subs, detail)| self.routez_with(subs, detail)),
                )
            }
            GATEWAYZ_PATH => {
                self.count(GATEWAYZ_PATH);
                Reply::from_result(
                    q.subs()
                        .and_then(|_| q.bool("accs"))
                        .map(|_| self.gatewayz()),
                )
            }
            LEAFZ_PATH => {
                self.count(LEAFZ_PATH);
                Reply::from_result(q.bool("subs").map(|_| self.leafz()))
            }
            SUBSZ_PATH | SUBSCRIPTIONSZ_PATH => {
                self.count(SUBSZ_PATH);
                Reply::from_result(self.subsz(&q))
            }
            ACCOUNTZ_PATH => {
                self.count(ACCOUNTZ_PATH);
                Reply::from_result(self.accountz(&q))
            }
            ACCSTATZ_PATH => {
                self.count(ACCSTATZ_PATH);
                Reply::from_result(self.accstatz(&q))
            }
            JSZ_PATH => {
                self.count(JSZ_PATH);
                Reply::from_result(self.jsz(&q))
            }
            HEALTHZ_PATH => {
                self.count(HEALTHZ_PATH);
                self.healthz(&q)
            }
            METRICS_PATH => {
                self.count(METRICS_PATH);
                Reply {
                    status: 200,
                    content_type: metrics::CONTENT_TYPE,
                    body: self.metrics().into_bytes(),
                    cors: false,
                }
            }
            other => match self.server.monitor_extension.get() {
                Some(ext) => ext.handle(other, &q).unwrap_or_else(Reply::not_found),
                None => Reply::not_found(),
            },
        }
    }

    /// `/routez`.
    pub fn routez(&self) -> Routez {
        self.routez_with(false, false)
    }

    /// `/routez` with `subs=1` (`subs`) or `subs=detail` (`detail`).
    pub fn routez_with(&self, subs: bool, detail: bool) -> Routez {
        let (top, routes) = routez::routes(&self.server, subs, detail);
        Routez {
            server_id: self.server.id.clone(),
            server_name: self.server.name.clone(),
            now: rfc3339(SystemTime::now()),
            import: top.get("import").cloned(),
            export: top.get("export").cloned(),
            num_routes: routes.len(),
            routes,
        }
    }

    /// `/gatewayz`: no gateways.
    pub fn gatewayz(&self) -> Gatewayz {
        Gatewayz {
            server_id: self.server.id.clone(),
            now: rfc3339(SystemTime::now()),
            outbound_gateways: BTreeMap::new(),
            inbound_gateways: BTreeMap::new(),
        }
    }

    /// `/leafz`: no leaf nodes.
    pub fn leafz(&self) -> Leafz {
        Leafz {
            server_id: self.server.id.clone(),
            now: rfc3339(SystemTime::now()),
            leafnodes: 0,
            leafs: Vec::new(),
        }
    }

    /// `/jsz`: JetStream is not part of this server; the answer is
    /// nats-server's own for a server with JetStream disabled.
    pub fn jsz(&self, q: &Query) -> Result<Jsz, BadRequest> {
        for flag in [
            "accounts",
            "streams",
            "consumers",
            "direct-consumers",
            "config",
            "leader-only",
            "raft",
            "stream-leader-only",
        ] {
            q.bool(flag)?;
        }
        q.int("offset")?;
        q.int("limit")?;
        Ok(Jsz {
            memory: 0,
            storage: 0,
            reserved_memory: 0,
            reserved_storage: 0,
            accounts: 0,
            ha_assets: 0,
            api: JszApi::default(),
            server_id: self.server.id.clone(),
            now: rfc3339(SystemTime::now()),
            disabled: true,
            config: JszConfig::default(),
            streams: 0,
            consumers: 0,
            messages: 0,
            bytes: 0,
            total: 0,
        })
    }

    /// `/healthz`: `{"status":"ok"}` once the client port is bound. The
    /// JetStream options are validated and, with JetStream absent, pass.
    pub fn healthz(&self, q: &Query) -> Reply {
        for flag in [
            "js-enabled",
            "js-enabled-only",
            "js-server-only",
            "js-meta-only",
        ] {
            if let Err(e) = q.bool(flag) {
                return Reply::bad_request(e);
            }
        }
        let details = match q.bool("details") {
            Ok(d) => d,
            Err(e) => return Reply::bad_request(e),
        };
        let (account, stream, consumer) = (q.get("account"), q.get("stream"), q.get("consumer"));
        let problem = if account.is_empty() && !stream.is_empty() {
            Some((
                400,
                "BAD_REQUEST",
                "\"account\" must not be empty when checking stream health",
            ))
        } else if stream.is_empty() && !consumer.is_empty() {
            Some((
                400,
                "BAD_REQUEST",
                "\"stream\" must not be empty when checking consumer health",
            ))
        } else if self.server.listen_addr.get().is_none() {
            Some((500, "CONNECTION", "server not ready for connections"))
        } else {
            None
        };
        let (status, health) = match problem {
            None => (200, HealthStatus::ok()),
            Some((code, kind, text)) => (code, HealthStatus::error(kind, text, details)),
        };
        Reply::json_status(status, serde_json::to_vec(&health).unwrap_or_default())
    }

    /// The root page: links to the endpoints, relative to the base path.
    pub fn root_page(&self) -> String {
        let links = [
            ("General", VARZ_PATH),
            ("JetStream", JSZ_PATH),
            ("Connections", CONNZ_PATH),
            ("Accounts", ACCOUNTZ_PATH),
            ("Account Stats", ACCSTATZ_PATH),
            ("Subscriptions", SUBSZ_PATH),
            ("Routes", ROUTEZ_PATH),
            ("LeafNodes", LEAFZ_PATH),
            ("Gateways", GATEWAYZ_PATH),
            ("Health Probe", HEALTHZ_PATH),
            ("Prometheus Metrics", METRICS_PATH),
        ];
        let base = if self.base_path == "/" {
            ""
        } else {
            self.base_path.as_str()
        };
        let mut html = format!(
            "<html lang=\"en\">\n<head>\n<title>rnats monitoring</title>\n<style type=\"text/css\">\n\
             body {{ font-family: ui-sans-serif,system-ui,sans-serif; margin-left: 32px }}\n\
             a {{ display:block; margin-left: 7px; padding-bottom: 6px; color: rgb(72 72 92); text-decoration: none }}\n\
             a:hover {{ font-weight: 600; color: rgb(59 50 202) }}\n\
             .endpoint {{ font-size: 12px; color: #999; font-family: monospace }}\n\
             </style>\n</head>\n<body>\n<h2>rnats {} <small>(nats-server {} compatible)</small></h2>\n",
            crate::RNATS_VERSION,
            crate::VERSION
        );
        for (label, path) in links {
            html.push_str(&format!(
                "\t<a href=\"{base}{path}\">{label}<span class=\"endpoint\"> {path}</span></a>\n"
            ));
        }
        html.push_str(
            "\t<a href=\"https://docs.nats.io/running-a-nats-service/nats_admin/monitoring\">Help</a>\n</body>\n</html>\n",
        );
        html
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Routez {
    pub server_id: String,
    pub server_name: String,
    pub now: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub import: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export: Option<serde_json::Value>,
    pub num_routes: usize,
    pub routes: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Gatewayz {
    pub server_id: String,
    pub now: String,
    pub outbound_gateways: BTreeMap<String, serde_json::Value>,
    pub inbound_gateways: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Leafz {
    pub server_id: String,
    pub now: String,
    pub leafnodes: usize,
    pub leafs: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct JszApi {
    pub level: u64,
    pub total: u64,
    pub errors: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct JszConfig {
    pub max_memory: u64,
    pub max_storage: u64,
}

/// `/jsz` for a server without JetStream.
#[derive(Debug, Clone, Serialize)]
pub struct Jsz {
    pub memory: u64,
    pub storage: u64,
    pub reserved_memory: u64,
    pub reserved_storage: u64,
    pub accounts: u64,
    pub ha_assets: u64,
    pub api: JszApi,
    pub server_id: String,
    pub now: String,
    pub disabled: bool,
    pub config: JszConfig,
    pub streams: u64,
    pub consumers: u64,
    pub messages: u64,
    pub bytes: u64,
    pub total: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct HealthzError {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub error: String,
}

/// The `/healthz` answer (`status_code` is not part of the HTTP body).
#[derive(Debug, Clone, Serialize)]
pub struct HealthStatus {
    pub status: &'static str,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub error: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<HealthzError>,
}

impl HealthStatus {
    fn ok() -> Self {
        HealthStatus {
            status: "ok",
            error: String::new(),
            errors: Vec::new(),
        }
    }

    fn error(kind: &'static str, text: &str, details: bool) -> Self {
        if details {
            HealthStatus {
                status: "error",
                error: String::new(),
                errors: vec![HealthzError {
                    kind,
                    error: text.to_owned(),
                }],
            }
        } else {
            HealthStatus {
                status: "error",
                error: text.to_owned(),
                errors: Vec::new(),
            }
        }
    }
}

/// A monitor for answers given over the system account (no HTTP listener:
/// its address is the configured monitoring port, if any).
fn detached(server: &Arc<Server>) -> Monitor {
    let opts = server.opts();
    let port = u16::try_from(opts.http_port.max(0)).unwrap_or(0);
    let addr = SocketAddr::from(([0, 0, 0, 0], port));
    Monitor::new(server.clone(), addr, http::monitor_host(&opts))
}

/// What a `$SYS.REQ.SERVER.<id>.<KIND>` request answers: the JSON of the
/// monitoring endpoint of that name, or `None` for an unknown kind.
pub fn endpoint_json(
    server: &Arc<Server>,
    kind: &str,
    query: Option<&str>,
) -> Option<serde_json::Value> {
    let path = match kind {
        "VARZ" => VARZ_PATH,
        "CONNZ" => CONNZ_PATH,
        "SUBSZ" => SUBSZ_PATH,
        "ACCOUNTZ" => ACCOUNTZ_PATH,
        "ACCSTATZ" => ACCSTATZ_PATH,
        "HEALTHZ" => HEALTHZ_PATH,
        _ => return None,
    };
    let reply = detached(server).handle(path, query);
    serde_json::from_slice(&reply.body).ok()
}

/// The server statistics a STATSZ event carries.
#[derive(Debug, Clone, Default)]
pub struct StatsSnapshot {
    pub mem: i64,
    pub cores: usize,
    pub cpu: f64,
    pub connections: usize,
    pub total_connections: u64,
    pub active_accounts: usize,
    pub subscriptions: u64,
    pub in_msgs: u64,
    pub in_bytes: u64,
    pub out_msgs: u64,
    pub out_bytes: u64,
    pub slow_consumers: u64,
}

/// Takes the statistics STATSZ reports.
pub fn stats_snapshot(server: &Arc<Server>) -> StatsSnapshot {
    let v = detached(server).varz();
    StatsSnapshot {
        mem: v.mem,
        cores: v.cores,
        cpu: v.cpu,
        connections: v.connections,
        total_connections: v.total_connections,
        active_accounts: server
            .accounts
            .all()
            .iter()
            .filter(|a| a.conns() > 0)
            .count(),
        subscriptions: v.subscriptions,
        in_msgs: v.in_msgs,
        in_bytes: v.in_bytes,
        out_msgs: v.out_msgs,
        out_bytes: v.out_bytes,
        slow_consumers: v.slow_consumers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Options;

    fn monitor(base: &str) -> Monitor {
        let server = Server::new(
            Options {
                http_base_path: base.into(),
                ..Options::default()
            },
            None,
        )
        .expect("default options are valid");
        let _ = server.listen_addr.set("127.0.0.1:4222".parse().unwrap());
        Monitor::new(
            server,
            "127.0.0.1:8222".parse().unwrap(),
            "127.0.0.1".into(),
        )
    }

    #[test]
    fn base_paths_normalize_like_nats_server() {
        assert_eq!(normalize_base_path(""), "/");
        assert_eq!(normalize_base_path("/"), "/");
        assert_eq!(normalize_base_path("mon"), "/mon");
        assert_eq!(normalize_base_path("/mon/"), "/mon");
        assert_eq!(normalize_base_path("/a//b/../c"), "/a/c");
    }

    #[test]
    fn routing_under_a_base_path() {
        let m = monitor("/mon/");
        assert_eq!(m.handle("/mon/varz", None).status, 200);
        assert_eq!(m.handle("/mon", None).status, 200);
        assert_eq!(m.handle("/mon/", None).status, 404);
        assert_eq!(m.handle("/varz", None).status, 404);
        assert_eq!(m.handle("/monvarz", None).status, 404);
        let m = monitor("");
        assert_eq!(m.handle("/", None).content_type, "text/html; charset=utf-8");
        assert_eq!(m.handle("/varz/x", None).status, 404);
        assert_eq!(m.handle("/subscriptionsz", None).status, 200);
        assert_eq!(m.req_stats().get("/subsz"), Some(&1));
    }

    #[test]
    fn error_answers() {
        let m = monitor("");
        let r = m.handle("/connz", Some("sort=foo"));
        assert_eq!(
            (r.status, r.content_type),
            (400, "text/plain; charset=utf-8")
        );
        assert_eq!(r.body, b"invalid sorting option: foo");
        let r = m.handle("/accountz", Some("acc=nope"));
        assert_eq!(r.body, b"Account nope does not exist");
        let r = m.handle("/subsz", Some("test=a.*"));
        assert_eq!(
            r.body,
            b"invalid test subject, must be valid publish subject: a.*"
        );
        let r = m.handle("/nope", None);
        assert_eq!((r.status, &r.body[..]), (404, &b"404 page not found\n"[..]));
    }

    #[test]
    fn healthz_shapes() {
        let m = monitor("");
        let r = m.handle("/healthz", None);
        assert_eq!((r.status, &r.body[..]), (200, &br#"{"status":"ok"}"#[..]));
        assert!(r.cors);
        let r = m.handle("/healthz", Some("stream=s"));
        assert_eq!(r.status, 400);
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["status"], "error");
        let r = m.handle("/healthz", Some("consumer=c&details=1"));
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["errors"][0]["type"], "BAD_REQUEST");
        assert_eq!(m.handle("/healthz", Some("js-enabled-only=x")).status, 400);
    }

    #[test]
    fn empty_cluster_endpoints() {
        let m = monitor("");
        let v: serde_json::Value = serde_json::from_slice(&m.handle("/routez", None).body).unwrap();
        assert_eq!(
            (
                v["num_routes"].as_u64(),
                v["routes"].as_array().map(Vec::len)
            ),
            (Some(0), Some(0))
        );
        let v: serde_json::Value =
            serde_json::from_slice(&m.handle("/gatewayz", None).body).unwrap();
        assert!(v["outbound_gateways"].as_object().unwrap().is_empty());
        let v: serde_json::Value = serde_json::from_slice(&m.handle("/leafz", None).body).unwrap();
        assert_eq!(v["leafnodes"], 0);
        let v: serde_json::Value = serde_json::from_slice(&m.handle("/jsz", None).body).unwrap();
        assert_eq!(v["disabled"], true);
    }

    #[test]
    fn varz_defaults_and_units() {
        let m = monitor("");
        let v: serde_json::Value = serde_json::from_slice(&m.handle("/varz", None).body).unwrap();
        assert_eq!(v["max_connections"], 65536);
        assert_eq!(v["ping_interval"], 120_000_000_000u64);
        assert_eq!(v["write_deadline"], 10_000_000_000u64);
        assert_eq!(v["auth_timeout"], 2);
        assert_eq!(v["max_pending"], 67_108_864);
        assert_eq!(v["port"], 4222);
        assert_eq!(v["http_port"], 8222);
        assert_eq!(v["system_account"], "$SYS");
        assert!(v["cluster"].as_object().unwrap().is_empty());
        assert!(v.get("auth_required").is_none());
        assert_eq!(v["http_req_stats"]["/varz"], 1);
        assert_eq!(v["slow_consumer_stats"]["clients"], 0);
        assert_eq!(v["stalled_clients"], 0);
    }

    #[test]
    fn stall_counters_in_varz_accounts_and_metrics() {
        use std::sync::atomic::Ordering;
        use std::time::Duration;
        let m = monitor("");
        let s = m.server().clone();
        let g = s.accounts.get("$G").expect("global account");
        g.stalls.fetch_add(2, Ordering::Relaxed);
        g.record_pause(Duration::from_millis(1500));
        g.record_pause(Duration::from_micros(250));
        s.stats.stalls.fetch_add(2, Ordering::Relaxed);

        let v: serde_json::Value = serde_json::from_slice(&m.handle("/varz", None).body).unwrap();
        assert_eq!(v["stalled_clients"], 2);
        let d: serde_json::Value =
            serde_json::from_slice(&m.handle("/accountz", Some("acc=$G")).body).unwrap();
        let d = &d["account_detail"];
        assert_eq!(
            (d["stalls"].as_u64(), d["stalled_ms"].as_u64()),
            (Some(2), Some(1500))
        );
        let st: serde_json::Value =
            serde_json::from_slice(&m.handle("/accstatz", Some("unused=1")).body).unwrap();
        let accs = st["account_statz"].as_array().unwrap();
        let acc = |n: &str| accs.iter().find(|a| a["acc"] == n).unwrap().clone();
        assert_eq!(
            (
                acc("$G")["stalls"].as_u64(),
                acc("$G")["stalled_ms"].as_u64()
            ),
            (Some(2), Some(1500))
        );
        assert_eq!(
            (
                acc("$SYS")["stalls"].as_u64(),
                acc("$SYS")["stalled_ms"].as_u64()
            ),
            (Some(0), Some(0))
        );

        let text = String::from_utf8(m.handle("/metrics", None).body).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for want in [
            "# TYPE rnats_stalls_total counter",
            "rnats_stalls_total 2",
            "# TYPE rnats_account_stalls_total counter",
            "rnats_account_stalls_total{account=\"$G\"} 2",
            "rnats_account_stalls_total{account=\"$SYS\"} 0",
            "# TYPE rnats_account_stalled_seconds_total counter",
            "rnats_account_stalled_seconds_total{account=\"$G\"} 1.50025",
            "rnats_account_stalled_seconds_total{account=\"$SYS\"} 0",
            "rnats_account_slow_consumers_total{account=\"$G\"} 0",
        ] {
            assert!(lines.contains(&want), "{want} missing in:\n{text}");
        }
    }
}

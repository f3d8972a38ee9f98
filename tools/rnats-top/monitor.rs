//! Polling /varz and /connz (nats-server's field names), and the rates
//! between two polls.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;
use ureq::tls::{Certificate, ClientCert, PemItem, RootCerts, TlsConfig};

use crate::sort::{self, SortKey};

/// The /varz fields rnats-top shows. Missing fields read as zero/empty, so
/// a server with fewer fields still works.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Varz {
    pub server_id: String,
    pub server_name: String,
    pub version: String,
    pub uptime: String,
    pub now: String,
    pub mem: i64,
    pub cpu: f64,
    pub cores: i64,
    pub connections: i64,
    pub total_connections: u64,
    pub subscriptions: u64,
    pub in_msgs: i64,
    pub out_msgs: i64,
    pub in_bytes: i64,
    pub out_bytes: i64,
    pub slow_consumers: i64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Connz {
    pub server_id: String,
    pub now: String,
    pub num_connections: usize,
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
    #[serde(deserialize_with = "null_as_empty")]
    pub connections: Vec<ConnInfo>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ConnInfo {
    pub cid: u64,
    pub kind: String,
    #[serde(rename = "type")]
    pub conn_type: String,
    pub ip: String,
    pub port: u16,
    pub start: String,
    pub last_activity: String,
    pub rtt: String,
    pub uptime: String,
    pub idle: String,
    pub pending_bytes: i64,
    pub in_msgs: i64,
    pub out_msgs: i64,
    pub in_bytes: i64,
    pub out_bytes: i64,
    pub subscriptions: u32,
    pub name: String,
    pub lang: String,
    pub version: String,
    pub account: String,
    #[serde(deserialize_with = "null_as_empty")]
    pub subscriptions_list: Vec<String>,
    /// `start`, `last_activity` (Unix ns) and `rtt` (ns), parsed for sorting.
    #[serde(skip)]
    pub start_ns: i64,
    #[serde(skip)]
    pub last_ns: i64,
    #[serde(skip)]
    pub rtt_ns: u64,
}

fn null_as_empty<'de, D, T>(d: D) -> std::result::Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// RFC 3339 time to Unix nanoseconds (0 when absent or unreadable).
pub fn rfc3339_nanos(s: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .and_then(|t| t.timestamp_nanos_opt())
        .unwrap_or(0)
}

/// A Go duration string (`1h2m3.5s`, `958µs`, `0s`) in nanoseconds.
pub fn go_duration_nanos(s: &str) -> Option<u64> {
    let mut rest = s.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let n_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let n: f64 = rest[..n_end].parse().ok()?;
        rest = &rest[n_end..];
        let u_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..u_end] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "d" => 86400e9,
            "" if n == 0.0 => 0.0,
            _ => return None,
        };
        rest = &rest[u_end..];
        total += n * mult;
    }
    Some(total as u64)
}

/// What to ask /connz for.
#[derive(Clone, Debug)]
pub struct Query {
    pub limit: usize,
    pub sort: SortKey,
    pub subs: bool,
}

/// Server-wide rates between the last two polls.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rates {
    pub in_msgs: f64,
    pub out_msgs: f64,
    pub in_bytes: f64,
    pub out_bytes: f64,
}

/// One poll of both endpoints.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub varz: Varz,
    pub connz: Connz,
    pub rates: Rates,
    pub sort: Option<SortKey>,
}

/// An HTTP client for one monitoring URL.
pub struct Monitor {
    base: String,
    agent: ureq::Agent,
}

/// TLS settings from the command line.
#[derive(Default)]
pub struct TlsFiles<'a> {
    pub ca: Option<&'a Path>,
    pub cert: Option<&'a Path>,
    pub key: Option<&'a Path>,
    pub insecure: bool,
}

fn read_pem(path: &Path) -> Result<Vec<PemItem<'static>>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    ureq::tls::parse_pem(&bytes)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| anyhow!("{}: not PEM: {e}", path.display()))
}

fn certs(path: &Path) -> Result<Vec<Certificate<'static>>> {
    let v: Vec<_> = read_pem(path)?
        .into_iter()
        .filter_map(|i| match i {
            PemItem::Certificate(c) => Some(c),
            _ => None,
        })
        .collect();
    if v.is_empty() {
        bail!("{}: no certificate found", path.display());
    }
    Ok(v)
}

impl Monitor {
    pub fn new(base: &str, tls: TlsFiles<'_>) -> Result<Monitor> {
        let mut t = TlsConfig::builder().disable_verification(tls.insecure);
        if let Some(ca) = tls.ca {
            t = t.root_certs(RootCerts::Specific(Arc::new(certs(ca)?)));
        }
        match (tls.cert, tls.key) {
            (Some(c), Some(k)) => {
                let key = read_pem(k)?
                    .into_iter()
                    .find_map(|i| match i {
                        PemItem::PrivateKey(k) => Some(k),
                        _ => None,
                    })
                    .ok_or_else(|| anyhow!("{}: no private key found", k.display()))?;
                t = t.client_cert(Some(ClientCert::new_with_certs(&certs(c)?, key)));
            }
            (None, None) => {}
            _ => bail!("--cert and --key go together"),
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(5)))
            .http_status_as_error(false)
            .tls_config(t.build())
            .build()
            .into();
        Ok(Monitor {
            base: base.trim_end_matches('/').to_string(),
            agent,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn get<T: for<'de> Deserialize<'de>>(&self, path_and_query: &str) -> Result<T> {
        let url = format!("{}{path_and_query}", self.base);
        let mut resp = self.agent.get(&url).call().map_err(|e| match e {
            ureq::Error::Io(io) => anyhow!("cannot reach {url}: {io}"),
            ureq::Error::Timeout(_) => anyhow!("cannot reach {url}: timed out"),
            ureq::Error::HostNotFound => anyhow!("cannot reach {url}: host not found"),
            ureq::Error::Protocol(p) => anyhow!(
                "{url} is not an HTTP monitoring port ({p}); the monitoring port is the server's -m/http_port, not its client port"
            ),
            other => anyhow!("cannot reach {url}: {other}"),
        })?;
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .with_config()
            .limit(256 * 1024 * 1024)
            .read_to_string()
            .with_context(|| format!("cannot read the answer of {url}"))?;
        if status != 200 {
            let first = body
                .lines()
                .next()
                .unwrap_or("")
                .chars()
                .take(80)
                .collect::<String>();
            bail!("{url} answered {status}: {first:?}");
        }
        serde_json::from_str(&body).with_context(|| format!("{url} did not answer monitoring JSON"))
    }

    pub fn varz(&self) -> Result<Varz> {
        self.get("/varz")
    }

    pub fn connz(&self, q: &Query) -> Result<Connz> {
        let mut path = format!("/connz?limit={}&sort={}", q.limit, q.sort.name());
        if q.subs {
            path.push_str("&subs=1");
        }
        let mut c: Connz = self.get(&path)?;
        for ci in &mut c.connections {
            ci.start_ns = rfc3339_nanos(&ci.start);
            ci.last_ns = rfc3339_nanos(&ci.last_activity);
            ci.rtt_ns = go_duration_nanos(&ci.rtt).unwrap_or(0);
        }
        Ok(c)
    }
}

/// Polls and keeps what the rates need from the previous poll.
pub struct Engine {
    pub monitor: Monitor,
    last: Option<(Varz, Instant)>,
}

impl Engine {
    pub fn new(monitor: Monitor) -> Engine {
        Engine {
            monitor,
            last: None,
        }
    }

    pub fn poll(&mut self, q: &Query) -> Result<Snapshot> {
        let varz = self.monitor.varz()?;
        let mut connz = self.monitor.connz(q)?;
        sort::sort(&mut connz.connections, q.sort);
        let now = Instant::now();
        let mut rates = Rates::default();
        if let Some((prev, at)) = &self.last {
            // The server's own clock when it gives one, else ours.
            let dt_server = (rfc3339_nanos(&varz.now) - rfc3339_nanos(&prev.now)) as f64 / 1e9;
            let dt = if dt_server > 0.0 && rfc3339_nanos(&prev.now) != 0 {
                dt_server
            } else {
                now.duration_since(*at).as_secs_f64()
            };
            if dt > 0.0 {
                let r = |a: i64, b: i64| ((a - b).max(0)) as f64 / dt;
                rates = Rates {
                    in_msgs: r(varz.in_msgs, prev.in_msgs),
                    out_msgs: r(varz.out_msgs, prev.out_msgs),
                    in_bytes: r(varz.in_bytes, prev.in_bytes),
                    out_bytes: r(varz.out_bytes, prev.out_bytes),
                };
            }
        }
        self.last = Some((varz.clone(), now));
        Ok(Snapshot {
            varz,
            connz,
            rates,
            sort: Some(q.sort),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(go_duration_nanos("958µs"), Some(958_000));
        assert_eq!(go_duration_nanos("1.5ms"), Some(1_500_000));
        assert_eq!(go_duration_nanos("1h2m3s"), Some(3_723_000_000_000));
        assert_eq!(go_duration_nanos("0s"), Some(0));
        assert_eq!(go_duration_nanos("0"), Some(0));
        assert_eq!(go_duration_nanos("x"), None);
    }

    #[test]
    fn parses_reference_shapes() {
        let c: Connz = serde_json::from_str(
            r#"{"server_id":"N","now":"2026-11-25T19:28:18.185849291Z","num_connections":1,
            "total":1,"offset":0,"limit":2,"connections":[{"cid":5,"kind":"Client","type":"nats",
            "ip":"127.0.0.1","port":52030,"start":"2026-11-25T19:28:17.18396Z",
            "rtt":"958µs","subscriptions":2,"name":"x","lang":"rust","version":"0.51.0",
            "subscriptions_list":["foo"]}]}"#,
        )
        .unwrap();
        assert_eq!(c.connections[0].cid, 5);
        assert_eq!(c.connections[0].subscriptions_list, vec!["foo".to_string()]);
        let c: Connz = serde_json::from_str(r#"{"connections":null}"#).unwrap();
        assert!(c.connections.is_empty());
        assert!(
            rfc3339_nanos("2026-11-25T19:28:17.18396Z")
                < rfc3339_nanos("2026-11-25T19:28:17.183964358Z")
        );
    }
}

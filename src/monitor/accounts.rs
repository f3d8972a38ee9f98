//! Server-wide and per-account totals, `/accountz` and `/accstatz`.
//!
//! Per-account message counters are not kept on the message path. An
//! account's totals are its closed connections' counters (added once per
//! connection when it closes, [`crate::tenancy::account::ClosedTotals`]) plus
//! the live counters of the connections bound to it now. Closed totals are
//! read before the live connections are listed, so a connection closing
//! meanwhile is at worst missed for one look, never counted twice; the
//! [`Monotonic`] guard then keeps every reported counter from stepping back.

use ahash::AHashMap;
use parking_lot::Mutex;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use super::format::{go_float, rfc3339};
use super::query::{BadRequest, Query};
use super::varz::system_account;
use super::Monitor;
use crate::server::Server;
use crate::subject::SublistStats;
use crate::tenancy::account::Account;
use std::sync::Arc;

const NANOS_PER_MILLI: u64 = 1_000_000;

/// Server-wide totals for `/varz` and `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct Totals {
    pub connections: usize,
    pub subscriptions: u64,
    pub in_msgs: u64,
    pub in_bytes: u64,
    pub out_msgs: u64,
    pub out_bytes: u64,
    pub pending_bytes: u64,
}

/// One account as monitoring sees it.
#[derive(Debug, Clone, Default)]
pub struct AccountSnapshot {
    pub name: String,
    pub is_system: bool,
    pub conns: u64,
    pub subscriptions: u64,
    pub in_msgs: u64,
    pub in_bytes: u64,
    pub out_msgs: u64,
    pub out_bytes: u64,
    pub slow_consumers: u64,
    /// Times the account's subscribers were full and made a publisher wait
    /// (flow control), and how long its publishers paused (nanoseconds).
    pub stalls: u64,
    pub stalled_ns: u64,
    /// Time the account's publishers waited on its rate quota and on its
    /// users' quotas (nanoseconds).
    pub throttled_ns: u64,
    pub pending_bytes: u64,
    /// Bytes the connection nearest to `max_pending` may still queue before
    /// it is closed as a slow consumer (none without connections).
    pub pending_headroom: Option<u64>,
    /// Subscriptions the connection nearest to `max_subscriptions` may still
    /// add (none without connections or without that limit).
    pub subs_headroom: Option<u64>,
    pub sublist: SublistStats,
}

/// Keeps counters that are summed from several sources from ever going
/// backwards between two looks.
#[derive(Debug, Default)]
pub struct Monotonic {
    seen: Mutex<AHashMap<(&'static str, String), u64>>,
}

impl Monotonic {
    /// `v`, or the largest value reported before under the same key.
    pub fn clamp(&self, metric: &'static str, scope: &str, v: u64) -> u64 {
        let mut seen = self.seen.lock();
        let e = seen.entry((metric, scope.to_owned())).or_insert(0);
        *e = (*e).max(v);
        *e
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Live {
    in_msgs: u64,
    in_bytes: u64,
    out_msgs: u64,
    out_bytes: u64,
    pending: u64,
    pending_headroom: Option<u64>,
    subs_headroom: Option<u64>,
}

fn min_opt(a: Option<u64>, b: u64) -> Option<u64> {
    Some(a.map_or(b, |a| a.min(b)))
}

impl Monitor {
    /// Server-wide totals.
    pub fn server_totals(&self) -> Totals {
        let s = &self.server;
        // Closed totals first, then the live connections (see module doc).
        let closed_msgs = s.stats.closed_out_msgs.load(Ordering::Relaxed);
        let closed_bytes = s.stats.closed_out_bytes.load(Ordering::Relaxed);
        let clients = s.clients();
        let mut t = Totals {
            connections: clients.len(),
            in_msgs: s.stats.in_msgs.load(Ordering::Relaxed),
            in_bytes: s.stats.in_bytes.load(Ordering::Relaxed),
            out_msgs: closed_msgs,
            out_bytes: closed_bytes,
            ..Totals::default()
        };
        for c in &clients {
            t.out_msgs += c.stats.out_msgs.load(Ordering::Relaxed);
            t.out_bytes += c.stats.out_bytes.load(Ordering::Relaxed);
            t.pending_bytes += c.out.pending() as u64;
        }
        t.subscriptions = s
            .accounts
            .all()
            .iter()
            .map(|a| a.sublist.count() as u64)
            .sum();
        t.out_msgs = self.counters.clamp("out_msgs", "", t.out_msgs);
        t.out_bytes = self.counters.clamp("out_bytes", "", t.out_bytes);
        t
    }

    /// Every account with its totals, by name.
    pub fn account_snapshots(&self) -> Vec<AccountSnapshot> {
        let s = &self.server;
        let opts = s.opts();
        let max_pending = opts.max_pending.max(0) as u64;
        let max_subs = opts.max_subs.max(0) as u64;
        let accounts = s.accounts.all();
        let mut snaps: Vec<AccountSnapshot> = accounts
            .iter()
            .map(|a| AccountSnapshot {
                name: a.name.to_string(),
                is_system: s.is_system_account(a),
                conns: a.conns(),
                subscriptions: a.sublist.count() as u64,
                in_msgs: a.closed.in_msgs.load(Ordering::Relaxed),
                in_bytes: a.closed.in_bytes.load(Ordering::Relaxed),
                out_msgs: a.closed.out_msgs.load(Ordering::Relaxed),
                out_bytes: a.closed.out_bytes.load(Ordering::Relaxed),
                slow_consumers: a.closed.slow_consumers.load(Ordering::Relaxed),
                stalls: a.stalls.load(Ordering::Relaxed),
                stalled_ns: a.stalled_ns.load(Ordering::Relaxed),
                throttled_ns: throttled(a).as_nanos() as u64,
                sublist: a.sublist.stats(),
                ..AccountSnapshot::default()
            })
            .collect();
        let mut live: AHashMap<String, Live> = AHashMap::new();
        for c in s.clients() {
            let acc = c.account.read().name.to_string();
            let l = live.entry(acc).or_default();
            l.in_msgs += c.stats.in_msgs.load(Ordering::Relaxed);
            l.in_bytes += c.stats.in_bytes.load(Ordering::Relaxed);
            l.out_msgs += c.stats.out_msgs.load(Ordering::Relaxed);
            l.out_bytes += c.stats.out_bytes.load(Ordering::Relaxed);
            let pending = c.out.pending() as u64;
            l.pending += pending;
            l.pending_headroom = min_opt(l.pending_headroom, max_pending.saturating_sub(pending));
            if max_subs > 0 {
                let subs = c.num_subs() as u64;
                l.subs_headroom = min_opt(l.subs_headroom, max_subs.saturating_sub(subs));
            }
        }
        for a in &mut snaps {
            if let Some(l) = live.get(&a.name) {
                a.in_msgs += l.in_msgs;
                a.in_bytes += l.in_bytes;
                a.out_msgs += l.out_msgs;
                a.out_bytes += l.out_bytes;
                a.pending_bytes = l.pending;
                a.pending_headroom = l.pending_headroom;
                a.subs_headroom = l.subs_headroom;
            }
            a.in_msgs = self.counters.clamp("acc_in_msgs", &a.name, a.in_msgs);
            a.in_bytes = self.counters.clamp("acc_in_bytes", &a.name, a.in_bytes);
            a.out_msgs = self.counters.clamp("acc_out_msgs", &a.name, a.out_msgs);
            a.out_bytes = self.counters.clamp("acc_out_bytes", &a.name, a.out_bytes);
        }
        snaps
    }

    /// `/accountz`: the account names, or (`acc=`) one account's details.
    pub fn accountz(&self, q: &Query) -> Result<Accountz, BadRequest> {
        let s = &self.server;
        let opts = s.opts();
        let mut az = Accountz {
            server_id: s.id.clone(),
            now: rfc3339(SystemTime::now()),
            system_account: system_account(&opts),
            accounts: None,
            account_detail: None,
        };
        let name = q.get("acc");
        if name.is_empty() {
            az.accounts = Some(
                s.accounts
                    .all()
                    .iter()
                    .map(|a| a.name.to_string())
                    .collect(),
            );
            return Ok(az);
        }
        let Some(acc) = s.accounts.get(name) else {
            return Err(BadRequest(format!("Account {name} does not exist")));
        };
        let claims = acc.claims.read().clone();
        let now = crate::jwt::now();
        az.account_detail = Some(AccountInfo {
            account_name: acc.name.to_string(),
            update_time: rfc3339(s.start_time),
            is_system: s.is_system_account(&acc),
            expired: claims.as_ref().is_some_and(|c| c.exp > 0 && c.exp <= now),
            complete: true,
            jetstream_enabled: false,
            leafnode_connections: 0,
            client_connections: acc.conns(),
            subscriptions: acc.sublist.count() as u64,
            stalls: acc.stalls.load(Ordering::Relaxed),
            stalled_ms: acc.stalled_ns.load(Ordering::Relaxed) / NANOS_PER_MILLI,
            rate_limit: acc.quota().map(|b| RateInfo::of(None, &b)),
            user_rate_limits: acc
                .user_quotas()
                .iter()
                .map(|(u, b)| RateInfo::of(Some(u), b))
                .collect(),
            throttled_ms: throttled(&acc).as_millis() as u64,
            mappings: acc.mappings().describe(),
            exports: exports_of(&acc),
            imports: imports_of(s, &acc),
            jwt: claims
                .as_ref()
                .and_then(|c| s.operator.as_ref()?.lookup(&c.sub))
                .unwrap_or_default(),
            issuer_key: claims.as_ref().map(|c| c.iss.clone()).unwrap_or_default(),
            name_tag: claims
                .as_ref()
                .map(|c| c.name.clone())
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| acc.name.to_string()),
            tags: claims
                .as_ref()
                .map(|c| c.nats.generic.tags.clone())
                .unwrap_or_default(),
            sublist_stats: SublistJson::from(&acc.sublist.stats()),
        });
        Ok(az)
    }

    /// `/accstatz`: traffic per account; accounts without connections only
    /// with `unused=1`.
    pub fn accstatz(&self, q: &Query) -> Result<AccountStatz, BadRequest> {
        let unused = q.bool("unused")?;
        let s = &self.server;
        let account_statz = self
            .account_snapshots()
            .into_iter()
            .filter(|a| unused || a.conns > 0)
            .map(|a| AccountStat {
                acc: a.name.clone(),
                name: a.name,
                conns: a.conns,
                leafnodes: 0,
                total_conns: a.conns,
                num_subscriptions: a.subscriptions,
                sent: DataStats::new(a.out_msgs, a.out_bytes),
                received: DataStats::new(a.in_msgs, a.in_bytes),
                slow_consumers: a.slow_consumers,
                stalls: a.stalls,
                stalled_ms: a.stalled_ns / NANOS_PER_MILLI,
            })
            .collect();
        Ok(AccountStatz {
            server_id: s.id.clone(),
            now: rfc3339(SystemTime::now()),
            account_statz,
        })
    }
}

/// Sublist counters in nats-server's JSON shape.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct SublistJson {
    pub num_subscriptions: u64,
    pub num_cache: u64,
    pub num_inserts: u64,
    pub num_removes: u64,
    pub num_matches: u64,
    #[serde(serialize_with = "go_float")]
    pub cache_hit_rate: f64,
    pub max_fanout: u64,
    #[serde(serialize_with = "go_float")]
    pub avg_fanout: f64,
}

impl From<&SublistStats> for SublistJson {
    fn from(s: &SublistStats) -> Self {
        SublistJson {
            num_subscriptions: s.num_subscriptions.into(),
            num_cache: s.num_cache.into(),
            num_inserts: s.num_inserts,
            num_removes: s.num_removes,
            num_matches: s.num_matches,
            cache_hit_rate: s.cache_hit_rate,
            max_fanout: s.max_fanout.into(),
            avg_fanout: s.avg_fanout,
        }
    }
}

/// Adds up several sublists' counters as nats-server does: the rates are
/// recomputed from the summed hits and fan-outs, not averaged.
#[derive(Debug, Default)]
pub struct SublistSum {
    out: SublistJson,
    hits: f64,
    fanout: f64,
}

impl SublistSum {
    pub fn add(&mut self, s: &SublistStats) {
        let o = &mut self.out;
        o.num_subscriptions += u64::from(s.num_subscriptions);
        o.num_cache += u64::from(s.num_cache);
        o.num_inserts += s.num_inserts;
        o.num_removes += s.num_removes;
        o.num_matches += s.num_matches;
        o.max_fanout = o.max_fanout.max(s.max_fanout.into());
        self.hits += s.cache_hit_rate * s.num_matches as f64;
        self.fanout += s.avg_fanout * f64::from(s.num_cache);
    }

    pub fn finish(mut self) -> SublistJson {
        if self.out.num_matches > 0 {
            self.out.cache_hit_rate = self.hits.round() / self.out.num_matches as f64;
        }
        if self.out.num_cache > 0 {
            self.out.avg_fanout = self.fanout.round() / self.out.num_cache as f64;
        }
        self.out
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Accountz {
    pub server_id: String,
    pub now: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub system_account: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accounts: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_detail: Option<AccountInfo>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Debug, Clone, Serialize)]
pub struct AccountInfo {
    pub account_name: String,
    pub update_time: String,
    #[serde(skip_serializing_if = "is_false")]
    pub is_system: bool,
    pub expired: bool,
    pub complete: bool,
    pub jetstream_enabled: bool,
    pub leafnode_connections: u64,
    pub client_connections: u64,
    pub subscriptions: u64,
    /// Times the account's subscribers were full and made a publisher wait,
    /// and how long its publishers paused, in milliseconds (rnats
    /// extensions).
    pub stalls: u64,
    pub stalled_ms: u64,
    /// The account's rate quota (rnats extension; absent without one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateInfo>,
    /// Its users' rate quotas.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub user_rate_limits: Vec<RateInfo>,
    /// Time its publishers waited on the account's and its users' quotas.
    pub throttled_ms: u64,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub mappings: std::collections::BTreeMap<String, Vec<crate::tenancy::mapping::MapDestInfo>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exports: Vec<ExtExport>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub imports: Vec<ExtImport>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub jwt: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub issuer_key: String,
    pub name_tag: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    pub sublist_stats: SublistJson,
}

/// An export as `/accountz` shows it (nats-server's `ExtExport`).
#[derive(Debug, Clone, Serialize)]
pub struct ExtExport {
    pub subject: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "is_false")]
    pub token_req: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_type: Option<&'static str>,
    /// Nanoseconds, as JWTs write it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_threshold: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_latency: Option<LatencyInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_token_position: Option<usize>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub approved_accounts: Vec<String>,
}

/// Latency tracking of a service export (`sampling` 0 means headers).
#[derive(Debug, Clone, Serialize)]
pub struct LatencyInfo {
    pub sampling: serde_json::Value,
    pub results: String,
}

/// An import as `/accountz` shows it (nats-server's `ExtImport`).
#[derive(Debug, Clone, Serialize)]
pub struct ExtImport {
    /// The subject in the exporting account.
    pub subject: String,
    /// The exporting account.
    pub account: String,
    /// Service imports: the subject in this account.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub to: String,
    /// The subject in this account (streams: when renamed).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub local_subject: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub invalid: bool,
    pub share: bool,
    /// Whether a response mapping is being measured (always false for an
    /// import itself, as nats-server shows it).
    pub tracking: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency: Option<LatencyInfo>,
}

fn latency_info(l: &crate::tenancy::latency::ServiceLatency) -> LatencyInfo {
    use crate::tenancy::latency::Sampling;
    LatencyInfo {
        sampling: match l.sampling {
            Sampling::Headers => "headers".into(),
            Sampling::Percent(p) => p.into(),
        },
        results: l.subject.clone(),
    }
}

fn exports_of(acc: &Account) -> Vec<ExtExport> {
    use crate::tenancy::imports::ExportAuth;
    let ex = acc.exports.read();
    let one = |e: &crate::tenancy::imports::Export, service: bool| ExtExport {
        subject: e.subject.clone(),
        kind: if service { "service" } else { "stream" },
        token_req: matches!(e.auth, ExportAuth::Token),
        response_type: service.then(|| e.response_type.as_str()),
        response_threshold: (service
            && e.response_threshold != crate::tenancy::imports::DEFAULT_RESPONSE_THRESHOLD)
            .then_some(e.response_threshold.as_nanos() as u64),
        service_latency: e.latency.as_deref().map(latency_info),
        account_token_position: match e.auth {
            ExportAuth::TokenPosition(n) => Some(n),
            _ => None,
        },
        approved_accounts: match &e.auth {
            ExportAuth::Accounts(names) => names.clone(),
            _ => Vec::new(),
        },
    };
    ex.streams
        .iter()
        .map(|e| one(e, false))
        .chain(ex.services.iter().map(|e| one(e, true)))
        .collect()
}

/// The account's imports: the stream forwards other accounts hold for it,
/// then its own service forwards (nats-server's order).
fn imports_of(server: &Server, acc: &Arc<Account>) -> Vec<ExtImport> {
    use crate::tenancy::imports::Forward;
    let mut out = Vec::new();
    for other in server.accounts.all() {
        other.for_each_forward(|remote, f| {
            if let Forward::Stream(s) = f {
                if Arc::ptr_eq(&s.importer, acc) {
                    let local = s
                        .transform
                        .as_ref()
                        .map(|t| t.dest_pattern())
                        .unwrap_or_default();
                    out.push(ExtImport {
                        subject: remote.to_owned(),
                        account: other.name.to_string(),
                        to: String::new(),
                        local_subject: if local == remote {
                            String::new()
                        } else {
                            local
                        },
                        kind: "stream",
                        invalid: false,
                        share: false,
                        tracking: false,
                        latency: None,
                    });
                }
            }
        });
    }
    acc.for_each_forward(|local, f| {
        if let Forward::Service(s) = f {
            let remote = s
                .transform
                .as_ref()
                .map(|t| t.dest_pattern())
                .unwrap_or_else(|| local.to_owned());
            out.push(ExtImport {
                subject: remote,
                account: s.exporter.name.to_string(),
                to: local.to_owned(),
                local_subject: local.to_owned(),
                kind: "service",
                invalid: false,
                share: s.share,
                tracking: false,
                latency: s.latency.as_deref().map(latency_info),
            });
        }
    });
    out
}

/// A rate quota and the time publishers waited on it (`/accountz`).
#[derive(Debug, Clone, Serialize)]
pub struct RateInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    pub msgs_per_sec: u64,
    pub bytes_per_sec: u64,
    pub burst_ms: u64,
    pub throttled_ms: u64,
}

impl RateInfo {
    fn of(user: Option<&String>, b: &crate::quota::RateBucket) -> RateInfo {
        let l = b.limit();
        RateInfo {
            user: user.cloned(),
            msgs_per_sec: l.msgs_per_sec,
            bytes_per_sec: l.bytes_per_sec,
            burst_ms: l.burst.as_millis() as u64,
            throttled_ms: b.throttled().as_millis() as u64,
        }
    }
}

/// Time publishers of `acc` waited on its quota and its users' quotas.
fn throttled(acc: &crate::tenancy::account::Account) -> std::time::Duration {
    acc.quota().map(|b| b.throttled()).unwrap_or_default()
        + acc
            .user_quotas()
            .iter()
            .map(|(_, b)| b.throttled())
            .sum::<std::time::Duration>()
}

#[derive(Debug, Clone, Serialize)]
pub struct AccountStatz {
    pub server_id: String,
    pub now: String,
    pub account_statz: Vec<AccountStat>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AccountStat {
    pub acc: String,
    pub name: String,
    pub conns: u64,
    pub leafnodes: u64,
    pub total_conns: u64,
    pub num_subscriptions: u64,
    pub sent: DataStats,
    pub received: DataStats,
    pub slow_consumers: u64,
    /// Times the account's subscribers were full and made a publisher wait,
    /// and how long its publishers paused, in milliseconds (rnats
    /// extensions).
    pub stalls: u64,
    pub stalled_ms: u64,
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct MsgBytes {
    pub msgs: u64,
    pub bytes: u64,
}

/// Messages and bytes, with the per-link split nats-server reports (all
/// client traffic until routes, gateways and leaf nodes exist).
#[derive(Debug, Clone, Serialize)]
pub struct DataStats {
    pub msgs: u64,
    pub bytes: u64,
    pub gateways: MsgBytes,
    pub routes: MsgBytes,
    pub leafs: MsgBytes,
}

impl DataStats {
    fn new(msgs: u64, bytes: u64) -> Self {
        DataStats {
            msgs,
            bytes,
            gateways: MsgBytes::default(),
            routes: MsgBytes::default(),
            leafs: MsgBytes::default(),
        }
    }
}

/// Accounts by name, for lookups in tests and metrics.
pub fn by_name(snaps: &[AccountSnapshot]) -> BTreeMap<&str, &AccountSnapshot> {
    snaps.iter().map(|a| (a.name.as_str(), a)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_never_steps_back() {
        let m = Monotonic::default();
        assert_eq!(m.clamp("x", "a", 5), 5);
        assert_eq!(m.clamp("x", "a", 3), 5);
        assert_eq!(m.clamp("x", "b", 3), 3);
        assert_eq!(m.clamp("x", "a", 9), 9);
    }

    #[test]
    fn sublist_sums_recompute_rates() {
        let a = SublistStats {
            num_subscriptions: 2,
            num_cache: 2,
            num_matches: 4,
            cache_hit_rate: 0.5,
            max_fanout: 3,
            avg_fanout: 2.0,
            ..Default::default()
        };
        let b = SublistStats {
            num_subscriptions: 1,
            num_cache: 2,
            num_matches: 4,
            cache_hit_rate: 0.0,
            max_fanout: 1,
            avg_fanout: 1.0,
            ..Default::default()
        };
        let mut sum = SublistSum::default();
        sum.add(&a);
        sum.add(&b);
        let j = sum.finish();
        assert_eq!(j.num_subscriptions, 3);
        assert_eq!(j.max_fanout, 3);
        assert_eq!(j.cache_hit_rate, 0.25);
        assert_eq!(j.avg_fanout, 1.5);
    }
}

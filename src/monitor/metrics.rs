//! `/metrics`: the Prometheus text exposition format (version 0.0.4), so
//! no separate exporter is needed. Every name starts with `rnats_`;
//! per-account series carry an `account` label.
//!
//! "in" is what clients published to the server, "out" what the server
//! delivered to clients, as in `/varz`.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use super::accounts::SublistSum;
use super::varz::{process_cpu_seconds, resident_memory};
use super::Monitor;

/// The content type of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A value written without a fraction when it is whole.
#[derive(Debug, Clone, Copy)]
pub enum Value {
    Int(u64),
    Float(f64),
}

impl From<u64> for Value {
    fn from(v: u64) -> Self {
        Value::Int(v)
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}

/// Builds the exposition text family by family.
#[derive(Debug, Default)]
pub struct Exposition {
    out: String,
}

impl Exposition {
    /// Starts a metric family: `# HELP` and `# TYPE` lines.
    pub fn family(&mut self, name: &str, kind: &str, help: &str) {
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    /// One sample of the current family.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], v: impl Into<Value>) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, val)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape_label(val));
            }
            self.out.push('}');
        }
        match v.into() {
            Value::Int(n) => {
                let _ = writeln!(self.out, " {n}");
            }
            Value::Float(f) if f.is_nan() => self.out.push_str(" NaN\n"),
            Value::Float(f) if f.is_infinite() => {
                self.out
                    .push_str(if f > 0.0 { " +Inf\n" } else { " -Inf\n" });
            }
            Value::Float(f) => {
                let _ = writeln!(self.out, " {f}");
            }
        }
    }

    /// A family with a single unlabelled sample.
    pub fn single(&mut self, name: &str, kind: &str, help: &str, v: impl Into<Value>) {
        self.family(name, kind, help);
        self.sample(name, &[], v);
    }

    pub fn finish(self) -> String {
        self.out
    }
}

/// Label values escape backslash, double quote and newline.
pub fn escape_label(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

fn unix_seconds(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl Monitor {
    /// The whole exposition.
    pub fn metrics(&self) -> String {
        let s = &self.server;
        let opts = s.opts();
        let totals = self.server_totals();
        let accounts = self.account_snapshots();
        let mut e = Exposition::default();

        e.family(
            "rnats_info",
            "gauge",
            "Server identity; the value is always 1.",
        );
        e.sample(
            "rnats_info",
            &[
                ("server_id", &s.id),
                ("server_name", &s.name),
                ("version", crate::VERSION),
                ("rnats_version", crate::RNATS_VERSION),
            ],
            1u64,
        );
        e.single(
            "rnats_start_time_seconds",
            "gauge",
            "When the server started, in seconds since the Unix epoch.",
            unix_seconds(s.start_time),
        );
        let up = SystemTime::now()
            .duration_since(s.start_time)
            .unwrap_or_default();
        e.single(
            "rnats_uptime_seconds",
            "gauge",
            "Seconds since the server started.",
            up.as_secs_f64(),
        );

        // Connections and their limit.
        e.single(
            "rnats_connections",
            "gauge",
            "Client connections open now.",
            totals.connections as u64,
        );
        e.single(
            "rnats_connections_total",
            "counter",
            "Client connections accepted since start.",
            s.stats.total_connections.load(Ordering::Relaxed),
        );
        let max_conns = opts.max_connections.max(0) as u64;
        e.single(
            "rnats_max_connections",
            "gauge",
            "The max_connections limit.",
            max_conns,
        );
        e.single(
            "rnats_connections_headroom",
            "gauge",
            "Connections that may still open before max_connections is reached.",
            max_conns.saturating_sub(totals.connections as u64),
        );
        e.single(
            "rnats_subscriptions",
            "gauge",
            "Subscriptions in all accounts.",
            totals.subscriptions,
        );

        // Traffic.
        e.single(
            "rnats_in_msgs_total",
            "counter",
            "Messages received from clients.",
            totals.in_msgs,
        );
        e.single(
            "rnats_in_bytes_total",
            "counter",
            "Payload bytes received from clients.",
            totals.in_bytes,
        );
        e.single(
            "rnats_out_msgs_total",
            "counter",
            "Messages delivered to clients.",
            totals.out_msgs,
        );
        e.single(
            "rnats_out_bytes_total",
            "counter",
            "Payload bytes delivered to clients.",
            totals.out_bytes,
        );
        e.single(
            "rnats_pending_bytes",
            "gauge",
            "Bytes queued for clients and not yet written.",
            totals.pending_bytes,
        );
        e.single(
            "rnats_slow_consumers_total",
            "counter",
            "Connections closed as slow consumers.",
            s.stats.slow_consumers.load(Ordering::Relaxed),
        );
        e.single(
            "rnats_stalls_total",
            "counter",
            "Times a subscriber over half its max_pending made a publisher wait \
             (flow control).",
            s.stats.stalls.load(Ordering::Relaxed),
        );
        e.single(
            "rnats_stale_connections_total",
            "counter",
            "Connections closed for not answering PINGs.",
            s.stats.stale_connections.load(Ordering::Relaxed),
        );

        // Limits in force.
        e.single(
            "rnats_max_payload_bytes",
            "gauge",
            "The max_payload limit.",
            opts.max_payload.max(0) as u64,
        );
        e.single(
            "rnats_max_pending_bytes",
            "gauge",
            "The per-connection max_pending limit.",
            opts.max_pending.max(0) as u64,
        );

        // Subscription index.
        let mut sl = SublistSum::default();
        for a in &accounts {
            sl.add(&a.sublist);
        }
        let sl = sl.finish();
        e.single(
            "rnats_sublist_matches_total",
            "counter",
            "Subject lookups in the subscription indexes.",
            sl.num_matches,
        );
        e.single(
            "rnats_sublist_cache_hit_ratio",
            "gauge",
            "Share of lookups answered from the match caches.",
            sl.cache_hit_rate,
        );

        // Per account.
        type Field = fn(&super::accounts::AccountSnapshot) -> Option<Value>;
        let per_account: [(&str, &str, &str, Field); 13] = [
            (
                "rnats_account_connections",
                "gauge",
                "Client connections open now, per account.",
                |a| Some(a.conns.into()),
            ),
            (
                "rnats_account_subscriptions",
                "gauge",
                "Subscriptions, per account.",
                |a| Some(a.subscriptions.into()),
            ),
            (
                "rnats_account_in_msgs_total",
                "counter",
                "Messages received from the account's clients.",
                |a| Some(a.in_msgs.into()),
            ),
            (
                "rnats_account_in_bytes_total",
                "counter",
                "Payload bytes received from the account's clients.",
                |a| Some(a.in_bytes.into()),
            ),
            (
                "rnats_account_out_msgs_total",
                "counter",
                "Messages delivered to the account's clients.",
                |a| Some(a.out_msgs.into()),
            ),
            (
                "rnats_account_out_bytes_total",
                "counter",
                "Payload bytes delivered to the account's clients.",
                |a| Some(a.out_bytes.into()),
            ),
            (
                "rnats_account_slow_consumers_total",
                "counter",
                "The account's connections closed as slow consumers.",
                |a| Some(a.slow_consumers.into()),
            ),
            (
                "rnats_account_stalls_total",
                "counter",
                "Times the account's subscribers were over half their max_pending \
                 and made a publisher wait (flow control).",
                |a| Some(a.stalls.into()),
            ),
            (
                "rnats_account_stalled_seconds_total",
                "counter",
                "Time the account's publishers spent paused by flow control.",
                |a| Some(Value::Float(a.stalled_ns as f64 / 1e9)),
            ),
            (
                "rnats_account_throttled_seconds_total",
                "counter",
                "Time the account's publishers waited on its and its users' rate quotas.",
                |a| Some(Value::Float(a.throttled_ns as f64 / 1e9)),
            ),
            (
                "rnats_account_pending_bytes",
                "gauge",
                "Bytes queued for the account's clients and not yet written.",
                |a| Some(a.pending_bytes.into()),
            ),
            (
                "rnats_account_pending_headroom_bytes",
                "gauge",
                "Bytes the account's connection nearest to max_pending may still queue \
                 before it is closed as a slow consumer (absent without connections).",
                |a| a.pending_headroom.map(Value::from),
            ),
            (
                "rnats_account_subscriptions_headroom",
                "gauge",
                "Subscriptions the account's connection nearest to max_subscriptions may \
                 still add (absent without connections or without that limit).",
                |a| a.subs_headroom.map(Value::from),
            ),
        ];
        for (name, kind, help, field) in per_account {
            if !accounts.iter().any(|a| field(a).is_some()) {
                continue;
            }
            e.family(name, kind, help);
            for a in &accounts {
                if let Some(v) = field(a) {
                    e.sample(name, &[("account", &a.name)], v);
                }
            }
        }

        // The monitor itself and the process.
        let stats = self.req_stats();
        if !stats.is_empty() {
            e.family(
                "rnats_http_requests_total",
                "counter",
                "Requests to the monitoring endpoints, per path.",
            );
            for (path, n) in &stats {
                e.sample("rnats_http_requests_total", &[("path", path)], *n);
            }
        }
        if let Some(cpu) = process_cpu_seconds() {
            e.single(
                "rnats_process_cpu_seconds_total",
                "counter",
                "User and system CPU time of the server process.",
                cpu,
            );
        }
        if let Some(mem) = resident_memory() {
            e.single(
                "rnats_process_resident_memory_bytes",
                "gauge",
                "Resident memory of the server process.",
                mem.max(0) as u64,
            );
        }
        self.route_metrics(&mut e);
        if let Some(ext) = self.server.monitor_extension.get() {
            ext.metrics(&mut e);
        }
        e.finish()
    }

    /// Route connections of the cluster, one series per connection.
    fn route_metrics(&self, e: &mut Exposition) {
        let Some(cluster) = self.server.cluster.get() else {
            return;
        };
        let routes = cluster.routes();
        e.single(
            "rnats_routes",
            "gauge",
            "Route connections to other members of the cluster.",
            routes.len() as u64,
        );
        let series: [(&str, &str, &str); 5] = [
            (
                "rnats_route_in_msgs_total",
                "counter",
                "Messages received over the route.",
            ),
            (
                "rnats_route_out_msgs_total",
                "counter",
                "Messages sent over the route.",
            ),
            (
                "rnats_route_in_bytes_total",
                "counter",
                "Payload bytes received over the route.",
            ),
            (
                "rnats_route_out_bytes_total",
                "counter",
                "Payload bytes sent over the route.",
            ),
            (
                "rnats_route_pending_bytes",
                "gauge",
                "Output queued for the route.",
            ),
        ];
        for (i, (name, kind, help)) in series.iter().enumerate() {
            e.family(name, kind, help);
            for r in &routes {
                let st = &r.shared.stats;
                let v = match i {
                    0 => st.in_msgs.load(Ordering::Relaxed),
                    1 => st.out_msgs.load(Ordering::Relaxed),
                    2 => st.in_bytes.load(Ordering::Relaxed),
                    3 => st.out_bytes.load(Ordering::Relaxed),
                    _ => r.shared.out.pending() as u64,
                };
                let rid = r.shared.id.to_string();
                let remote_id = r.remote_id.get().cloned().unwrap_or_default();
                let remote_name = r.remote_name.get().cloned().unwrap_or_default();
                let account = r.pinned().map(|a| a.to_string()).unwrap_or_default();
                e.sample(
                    name,
                    &[
                        ("rid", &rid),
                        ("remote_id", &remote_id),
                        ("remote_name", &remote_name),
                        ("account", &account),
                    ],
                    v,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_format_lines() {
        let mut e = Exposition::default();
        e.family("rnats_x_total", "counter", "Help with \\ and\nnewline.");
        e.sample("rnats_x_total", &[("account", "a\"b\\c\nd")], 7u64);
        e.sample("rnats_x_total", &[], 0.5);
        e.sample("rnats_x_total", &[("a", "1"), ("b", "2")], f64::NAN);
        assert_eq!(
            e.finish(),
            "# HELP rnats_x_total Help with \\\\ and\\nnewline.\n\
             # TYPE rnats_x_total counter\n\
             rnats_x_total{account=\"a\\\"b\\\\c\\nd\"} 7\n\
             rnats_x_total 0.5\n\
             rnats_x_total{a=\"1\",b=\"2\"} NaN\n"
        );
    }
}

//! Results: per-client samples, per-side groups, the summary text in the
//! shape of `nats bench`, latency percentiles and the CSV file.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// Which side of the benchmark a client was on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Pub,
    Sub,
    Req,
    Rep,
    /// Connection workers of the connect mode: a "message" is one
    /// connection, the latency that of its handshake.
    Conn,
}

impl Side {
    pub fn label(self) -> &'static str {
        match self {
            Side::Pub => "Pub",
            Side::Sub => "Sub",
            Side::Req => "Req",
            Side::Rep => "Rep",
            Side::Conn => "Connect",
        }
    }

    /// What the counts are counted in.
    fn unit(self) -> &'static str {
        match self {
            Side::Conn => "conns",
            _ => "msgs",
        }
    }

    /// What one latency sample is.
    fn latency_of(self) -> &'static str {
        match self {
            Side::Conn => "handshakes",
            _ => "requests",
        }
    }

    /// Client id prefix in the CSV (`P0`, `S0` as `nats bench`; `RQ0`, `RP0`).
    fn csv_prefix(self) -> &'static str {
        match self {
            Side::Pub => "P",
            Side::Sub => "S",
            Side::Req => "RQ",
            Side::Rep => "RP",
            Side::Conn => "C",
        }
    }
}

/// What one client did.
#[derive(Clone, Debug)]
pub struct Sample {
    pub msgs: u64,
    pub bytes: u64,
    pub start: Instant,
    pub end: Instant,
    /// Round-trip times in nanoseconds (requesters), or handshake times
    /// (connection workers).
    pub latency: Option<Histogram<u64>>,
}

impl Sample {
    pub fn duration(&self) -> Duration {
        self.end.saturating_duration_since(self.start)
    }

    fn secs(&self) -> f64 {
        self.duration().as_secs_f64().max(1e-9)
    }

    pub fn rate(&self) -> f64 {
        if self.msgs == 0 {
            return 0.0;
        }
        self.msgs as f64 / self.secs()
    }

    pub fn throughput(&self) -> f64 {
        if self.bytes == 0 {
            return 0.0;
        }
        self.bytes as f64 / self.secs()
    }
}

/// The clients of one side.
#[derive(Clone, Debug)]
pub struct Group {
    pub side: Side,
    pub samples: Vec<Sample>,
}

impl Group {
    pub fn msgs(&self) -> u64 {
        self.samples.iter().map(|s| s.msgs).sum()
    }

    pub fn bytes(&self) -> u64 {
        self.samples.iter().map(|s| s.bytes).sum()
    }

    fn span(&self) -> Option<(Instant, Instant)> {
        let start = self.samples.iter().map(|s| s.start).min()?;
        let end = self.samples.iter().map(|s| s.end).max()?;
        Some((start, end))
    }

    /// Aggregate rate: all messages over the time from the first client's
    /// start to the last client's end.
    pub fn rate(&self) -> f64 {
        span_rate(self.msgs(), self.span())
    }

    pub fn throughput(&self) -> f64 {
        span_rate(self.bytes(), self.span())
    }

    /// min, avg, max and (population) standard deviation of the clients'
    /// message rates.
    pub fn rate_stats(&self) -> (f64, f64, f64, f64) {
        let rates: Vec<f64> = self.samples.iter().map(Sample::rate).collect();
        if rates.is_empty() {
            return (0.0, 0.0, 0.0, 0.0);
        }
        let n = rates.len() as f64;
        let min = rates.iter().cloned().fold(f64::INFINITY, f64::min);
        let max = rates.iter().cloned().fold(0.0, f64::max);
        let avg = rates.iter().sum::<f64>() / n;
        let var = rates.iter().map(|r| (r - avg).powi(2)).sum::<f64>() / n;
        (min, avg, max, var.sqrt())
    }

    pub fn latency(&self) -> Option<Histogram<u64>> {
        let mut all: Option<Histogram<u64>> = None;
        for h in self.samples.iter().filter_map(|s| s.latency.as_ref()) {
            match &mut all {
                None => all = Some(h.clone()),
                Some(a) => {
                    let _ = a.add(h);
                }
            }
        }
        all
    }
}

fn span_rate(n: u64, span: Option<(Instant, Instant)>) -> f64 {
    match span {
        Some((s, e)) if n > 0 => n as f64 / e.saturating_duration_since(s).as_secs_f64().max(1e-9),
        _ => 0.0,
    }
}

/// A finished run.
pub struct Report {
    /// e.g. "Pub/Sub", "Pub", "Req/Rep"
    pub title: String,
    pub groups: Vec<Group>,
    /// Lines printed after the numbers (incomplete runs, drops).
    pub notes: Vec<String>,
    pub incomplete: bool,
}

/// A new latency histogram: 1 ns to 10 minutes, 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000_000, 3).expect("valid histogram bounds")
}

/// `1234567.8` -> `1,234,568`
pub fn commas(v: f64) -> String {
    let n = v.round().max(0.0) as u64;
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Bytes per second in binary units with the `nats bench` labels
/// (`KB`, `MB`, `GB` are powers of 1024).
pub fn human_bytes(v: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut x = v.max(0.0);
    let mut i = 0;
    while x >= 1024.0 && i < UNITS.len() - 1 {
        x /= 1024.0;
        i += 1;
    }
    format!("{x:.2} {}", UNITS[i])
}

/// A duration in nanoseconds, human sized (`850ns`, `45.2µs`, `1.25ms`).
pub fn human_nanos(ns: u64) -> String {
    let n = ns as f64;
    if n < 1_000.0 {
        format!("{ns}ns")
    } else if n < 1_000_000.0 {
        format!("{:.1}µs", n / 1e3)
    } else if n < 1_000_000_000.0 {
        format!("{:.2}ms", n / 1e6)
    } else {
        format!("{:.2}s", n / 1e9)
    }
}

/// `min … | p50 … | p90 … | p99 … | p99.9 … | max … | avg …` of a latency
/// histogram in nanoseconds.
pub fn percentiles(h: &Histogram<u64>) -> String {
    format!(
        "min {} | p50 {} | p90 {} | p99 {} | p99.9 {} | max {} | avg {}",
        human_nanos(h.min()),
        human_nanos(h.value_at_quantile(0.50)),
        human_nanos(h.value_at_quantile(0.90)),
        human_nanos(h.value_at_quantile(0.99)),
        human_nanos(h.value_at_quantile(0.999)),
        human_nanos(h.max()),
        human_nanos(h.mean() as u64)
    )
}

impl Report {
    fn all_span(&self) -> Option<(Instant, Instant)> {
        let spans: Vec<_> = self.groups.iter().filter_map(|g| g.span()).collect();
        let s = spans.iter().map(|s| s.0).min()?;
        let e = spans.iter().map(|s| s.1).max()?;
        Some((s, e))
    }

    /// The summary, in the layout of `nats bench`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let with_samples: Vec<&Group> = self
            .groups
            .iter()
            .filter(|g| !g.samples.is_empty())
            .collect();
        if with_samples.is_empty() {
            return "No publisher or subscribers. Nothing to report.\n".into();
        }
        let mut indent = "";
        if with_samples.len() > 1 {
            let msgs: u64 = with_samples.iter().map(|g| g.msgs()).sum();
            let bytes: u64 = with_samples.iter().map(|g| g.bytes()).sum();
            let span = self.all_span();
            let _ = writeln!(
                out,
                "NATS {} stats: {} msgs/sec ~ {}/sec",
                self.title,
                commas(span_rate(msgs, span)),
                human_bytes(span_rate(bytes, span))
            );
            indent = " ";
        }
        for g in with_samples {
            let title = if indent.is_empty() {
                format!("NATS {}", g.side.label())
            } else {
                g.side.label().to_string()
            };
            let unit = g.side.unit();
            // Connections carry no payload: no bytes/sec for them.
            let bytes = |v: f64| match g.side {
                Side::Conn => String::new(),
                _ => format!(" ~ {}/sec", human_bytes(v)),
            };
            let _ = writeln!(
                out,
                "{indent}{title} stats: {} {unit}/sec{}",
                commas(g.rate()),
                bytes(g.throughput())
            );
            for (i, s) in g.samples.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "{indent} [{}] {} {unit}/sec{} ({} {unit})",
                    i + 1,
                    commas(s.rate()),
                    bytes(s.throughput()),
                    s.msgs
                );
            }
            let (min, avg, max, dev) = g.rate_stats();
            let _ = writeln!(
                out,
                "{indent} min {} | avg {} | max {} | stddev {} {unit}",
                commas(min),
                commas(avg),
                commas(max),
                commas(dev)
            );
            if let Some(h) = g.latency() {
                if !h.is_empty() {
                    let _ = writeln!(
                        out,
                        "{indent} Latency ({} {}): {}",
                        h.len(),
                        g.side.latency_of(),
                        percentiles(&h)
                    );
                }
            }
        }
        for n in &self.notes {
            let _ = writeln!(out, "{n}");
        }
        out
    }

    /// The per-client CSV: `nats bench`'s columns, then latency percentiles
    /// in microseconds for requesters (empty for the other sides).
    pub fn csv(&self, run_id: &str) -> String {
        let mut out = String::from(
            "#RunID,ClientID,MsgCount,MsgBytes,MsgsPerSec,BytesPerSec,DurationSecs,\
             LatencyP50us,LatencyP90us,LatencyP99us,LatencyP999us\n",
        );
        for g in &self.groups {
            for (i, s) in g.samples.iter().enumerate() {
                let lat = match &s.latency {
                    Some(h) if !h.is_empty() => [0.5, 0.9, 0.99, 0.999]
                        .iter()
                        .map(|q| format!("{:.3}", h.value_at_quantile(*q) as f64 / 1e3))
                        .collect::<Vec<_>>()
                        .join(","),
                    _ => ",,,".into(),
                };
                let _ = writeln!(
                    out,
                    "{run_id},{}{i},{},{},{},{:.6},{:.6},{lat}",
                    g.side.csv_prefix(),
                    s.msgs,
                    s.bytes,
                    s.rate().round() as u64,
                    s.throughput(),
                    s.duration().as_secs_f64(),
                );
            }
        }
        out
    }
}

/// A run id for the CSV: time-based and unique enough across runs.
pub fn run_id() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!("{:x}{:04x}", now.as_secs(), std::process::id() & 0xffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(msgs: u64, ms: u64) -> Sample {
        let start = Instant::now();
        Sample {
            msgs,
            bytes: msgs * 100,
            start,
            end: start + Duration::from_millis(ms),
            latency: None,
        }
    }

    #[test]
    fn numbers() {
        assert_eq!(commas(1234567.4), "1,234,567");
        assert_eq!(commas(999.0), "999");
        assert_eq!(commas(1000.0), "1,000");
        assert_eq!(human_bytes(1536.0), "1.50 KB");
        assert_eq!(human_bytes(3.0 * 1048576.0), "3.00 MB");
        assert_eq!(human_nanos(45_200), "45.2µs");
    }

    #[test]
    fn group_stats() {
        let g = Group {
            side: Side::Pub,
            samples: vec![sample(1000, 1000), sample(3000, 1000)],
        };
        assert_eq!(g.msgs(), 4000);
        let (min, avg, max, dev) = g.rate_stats();
        assert!((min - 1000.0).abs() < 1.0 && (max - 3000.0).abs() < 1.0);
        assert!((avg - 2000.0).abs() < 1.0 && (dev - 1000.0).abs() < 1.0);
        let r = Report {
            title: "Pub".into(),
            groups: vec![g],
            notes: vec![],
            incomplete: false,
        };
        let text = r.render();
        assert!(text.starts_with("NATS Pub stats: "), "{text}");
        assert!(text.contains("min 1,000 | avg 2,000 | max 3,000 | stddev 1,000 msgs"));
        let csv = r.csv("x");
        assert_eq!(csv.lines().count(), 3);
        assert!(csv.lines().nth(1).unwrap().starts_with("x,P0,1000,100000,"));
    }
}

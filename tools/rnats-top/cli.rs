//! Command line of rnats-top, with nats-top's flags.
//!
//! nats-top uses Go's flag package, where long flags take one dash
//! (`-sort subs`, `-ms 8443`); those are rewritten to `--sort` before clap
//! parses, so both spellings work.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Parser;

use crate::sort::SortKey;

const AFTER: &str = "\
Keys while running:
  q, Ctrl-C   quit
  s           toggle the SUBSCRIPTIONS column
  o           change the sort key (type it, then Enter)
  n           change the number of connections polled (type it, then Enter)
  b           toggle raw byte and message counts
  ?, h        help (any key returns)

Examples:
  rnats-top                                  # http://127.0.0.1:8222
  rnats-top http://10.0.0.5:8222 -d 2 -sort msgs_to
  rnats-top -s 10.0.0.5 -m 8222 -n 20 -sort pending
  rnats-top --ms 8443 --cacert ca.pem        # https monitor port
  rnats-top --once --subs                    # one text snapshot, then exit";

/// A live terminal view of a NATS server's connections over its
/// monitoring endpoints /varz and /connz (the job of nats-top).
#[derive(Parser, Debug)]
#[command(name = "rnats-top", version, after_help = AFTER)]
pub struct Args {
    /// Monitoring URL, e.g. http://127.0.0.1:8222 (overrides -s/-m/--ms)
    #[arg(value_name = "URL")]
    pub url: Option<String>,
    /// Server host (or a full http:// or https:// monitoring URL)
    #[arg(short = 's', long = "server", default_value = "127.0.0.1")]
    pub host: String,
    /// Monitoring (http) port
    #[arg(short = 'm', long = "port", default_value_t = 8222)]
    pub port: u16,
    /// Secure monitoring (https) port; used instead of -m when set
    #[arg(long = "ms", value_name = "PORT")]
    pub https_port: Option<u16>,
    /// Maximum number of connections to poll
    #[arg(short = 'n', long = "conns", default_value_t = 1024)]
    pub conns: usize,
    /// Refresh interval in seconds
    #[arg(short = 'd', long = "delay", default_value = "1", value_parser = parse_secs)]
    pub delay: Duration,
    /// Sort key: cid, start, subs, pending, msgs_to, msgs_from, bytes_to,
    /// bytes_from, last, idle, uptime, rtt
    #[arg(long = "sort", default_value = "cid")]
    pub sort: SortKey,
    /// Print one snapshot as text and exit (rates are 0 in a first snapshot)
    #[arg(long)]
    pub once: bool,
    /// Save the first snapshot to FILE and exit ('-' for standard output)
    #[arg(short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Exit after this many refreshes
    #[arg(short = 'r', value_name = "MAX")]
    pub max_refreshes: Option<u64>,
    /// Start with the SUBSCRIPTIONS column shown
    #[arg(long)]
    pub subs: bool,
    /// Show raw byte and message counts (no K/M/G)
    #[arg(short = 'b')]
    pub raw: bool,
    /// Root CA certificate (PEM) for an https monitoring port
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// Client certificate (PEM) for an https monitoring port
    #[arg(long, value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// Client private key (PEM) for an https monitoring port
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Skip verifying the https server's certificate
    #[arg(short = 'k')]
    pub insecure: bool,
}

impl Args {
    /// The monitoring base URL, without a trailing slash.
    pub fn base_url(&self) -> Result<String> {
        let url = if let Some(u) = &self.url {
            u.clone()
        } else if self.host.contains("://") {
            self.host.clone()
        } else {
            let host = if self.host.contains(':') && !self.host.starts_with('[') {
                format!("[{}]", self.host)
            } else {
                self.host.clone()
            };
            match self.https_port {
                Some(p) => format!("https://{host}:{p}"),
                None => format!("http://{host}:{}", self.port),
            }
        };
        let url = url.trim_end_matches('/').to_string();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            bail!("monitoring URL {url:?} must start with http:// or https://");
        }
        Ok(url)
    }
}

/// Long flags that nats-top spells with one dash.
const GO_FLAGS: [&str; 10] = [
    "sort", "ms", "cert", "key", "cacert", "once", "subs", "conns", "delay", "help",
];

/// Rewrites Go-style `-sort` / `-sort=subs` into `--sort`.
pub fn normalize_args(args: impl IntoIterator<Item = String>) -> Vec<String> {
    args.into_iter()
        .enumerate()
        .map(|(i, a)| {
            if i == 0 || a.starts_with("--") || !a.starts_with('-') {
                return a;
            }
            let name = a[1..].split('=').next().unwrap_or("");
            if GO_FLAGS.contains(&name) {
                format!("-{a}")
            } else {
                a
            }
        })
        .collect()
}

/// Seconds, fractional allowed (`1`, `0.5`).
fn parse_secs(s: &str) -> Result<Duration> {
    let t = s.trim().trim_end_matches('s');
    let v: f64 = t
        .parse()
        .with_context(|| format!("invalid refresh interval {s:?} (seconds, e.g. 1 or 0.5)"))?;
    if !v.is_finite() || !(0.1..=3600.0).contains(&v) {
        bail!("refresh interval {s:?} must be between 0.1 and 3600 seconds");
    }
    Ok(Duration::from_secs_f64(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Args {
        let v = normalize_args(
            std::iter::once("rnats-top".to_string()).chain(args.iter().map(|s| s.to_string())),
        );
        Args::try_parse_from(v).unwrap()
    }

    #[test]
    fn go_style_flags() {
        let a = parse(&[
            "-s", "10.0.0.1", "-m", "9000", "-sort", "subs", "-n", "5", "-d", "2",
        ]);
        assert_eq!(a.base_url().unwrap(), "http://10.0.0.1:9000");
        assert_eq!(a.sort, SortKey::Subs);
        assert_eq!(a.conns, 5);
        assert_eq!(a.delay, Duration::from_secs(2));
        let a = parse(&["-ms", "8443", "-sort=msgs_to"]);
        assert_eq!(a.base_url().unwrap(), "https://127.0.0.1:8443");
        assert_eq!(a.sort, SortKey::MsgsTo);
    }

    #[test]
    fn urls() {
        assert_eq!(
            parse(&["http://h:1/"]).base_url().unwrap(),
            "http://h:1".to_string()
        );
        assert_eq!(
            parse(&["-s", "https://h:2"]).base_url().unwrap(),
            "https://h:2"
        );
        assert!(parse(&["ftp://h"]).base_url().is_err());
        assert!(Args::try_parse_from(["rnats-top", "--sort", "nope"]).is_err());
    }
}

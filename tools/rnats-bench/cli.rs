//! Command line of rnats-bench: the modes of `nats bench` for core NATS.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};

const EXAMPLES: &str = "\
Examples:
  rnats-bench pub foo --clients 4 --msgs 1000000 --size 128
  rnats-bench pubsub foo --pub 2 --sub 2 --msgs 500000 --csv run.csv
  rnats-bench queue foo --pub 1 --sub 4 --msgs 200000
  rnats-bench reqrep svc --requesters 4 --repliers 2 --msgs 20000
  rnats-bench reply svc --clients 2 &   rnats-bench request svc --clients 4
  rnats-bench -s nats://a:4222,nats://b:4222 --creds user.creds pub foo
  rnats-bench --creds user.creds connect --clients 8 --conns 5000
  rnats-bench stan-pub foo --cluster-id test-cluster --msgs 100000 --inflight 1024
  rnats-bench stan-sub foo --msgs 100000
  rnats-bench disk --dir /var/lib/stan --msgs 2000

Message counts: pub/pubsub/queue publish --msgs in total, split over the
publishers; each plain subscriber expects all --msgs; a queue group expects
--msgs between its members; request/reqrep send --msgs requests in total,
split over the requesters; reply serves --msgs requests in total;
connect makes --conns connections in total (handshake with the given auth,
one PING/PONG round trip, close), C at a time.
Every run also stops at --max-time; an incomplete run prints what it
measured, says so, and exits with status 2.";

/// Benchmark a NATS server (rnats or nats-server): the job of `nats bench`.
#[derive(Parser, Debug)]
#[command(name = "rnats-bench", version, after_help = EXAMPLES)]
pub struct Cli {
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(subcommand)]
    pub mode: Mode,
}

/// Where to connect and how to authenticate.
#[derive(Args, Debug, Clone)]
pub struct ConnArgs {
    /// NATS server URL(s), comma separated
    #[arg(
        short = 's',
        long = "server",
        global = true,
        value_name = "URLS",
        default_value = "nats://127.0.0.1:4222"
    )]
    pub server: String,
    /// User credentials file (JWT and nkey seed)
    #[arg(long, global = true, value_name = "FILE")]
    pub creds: Option<PathBuf>,
    /// User nkey seed file
    #[arg(long, global = true, value_name = "SEED_FILE")]
    pub nkey: Option<PathBuf>,
    /// User name (with --password)
    #[arg(long, global = true)]
    pub user: Option<String>,
    /// Password (with --user)
    #[arg(long, global = true)]
    pub password: Option<String>,
    /// Authentication token
    #[arg(long, global = true)]
    pub token: Option<String>,
    /// CA certificate file to verify a TLS server
    #[arg(long, global = true, value_name = "FILE")]
    pub tlsca: Option<PathBuf>,
    /// Client certificate file for TLS (with --tlskey)
    #[arg(long, global = true, value_name = "FILE")]
    pub tlscert: Option<PathBuf>,
    /// Client private key file for TLS (with --tlscert)
    #[arg(long, global = true, value_name = "FILE")]
    pub tlskey: Option<PathBuf>,
}

/// The STAN modes' arguments.
#[derive(Args, Debug, Clone)]
pub struct StanArgs {
    /// Channel to publish to or read from
    #[arg(default_value = "rnats.bench")]
    pub channel: String,
    /// Streaming cluster ID
    #[arg(long, default_value = "test-cluster")]
    pub cluster_id: String,
    /// Number of messages
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub msgs: u64,
    /// Message size in bytes (suffixes: B, K/KB/KiB, M/MB/MiB)
    #[arg(long, default_value = "128", value_parser = parse_size)]
    pub size: usize,
    /// PubAcks outstanding per publisher (max in flight for stan-sub)
    #[arg(long, default_value_t = 1024)]
    pub inflight: usize,
    /// Save the per-client results to a CSV file
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Stop the run after this long even if the count is not reached
    #[arg(long, default_value = "2m", value_parser = parse_duration)]
    pub max_time: Duration,
}

#[derive(Subcommand, Debug)]
pub enum Mode {
    /// NATS Streaming: publish with PubAcks from N publishers (rate, PubAck latency)
    StanPub {
        #[command(flatten)]
        stan: StanArgs,
        /// Number of concurrent publishers
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
        clients: u32,
    },
    /// NATS Streaming: receive and ack a channel's messages from its first
    StanSub {
        #[command(flatten)]
        stan: StanArgs,
    },
    /// Sequential write+fsync rate of the disk under --dir (the floor of a synced store)
    Disk {
        /// Directory on the disk to measure
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// Number of synced writes
        #[arg(long, default_value_t = 2000)]
        msgs: u64,
        /// Bytes per write
        #[arg(long, default_value = "128", value_parser = parse_size)]
        size: usize,
    },
    /// Publish messages from N publishers
    Pub {
        #[command(flatten)]
        run: RunArgs,
        /// Number of concurrent publishers
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
        clients: u32,
    },
    /// Receive messages with N subscribers (each expects --msgs)
    Sub {
        #[command(flatten)]
        run: RunArgs,
        /// Number of concurrent subscribers
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
        clients: u32,
    },
    /// N publishers and M subscribers in one run
    Pubsub {
        #[command(flatten)]
        run: RunArgs,
        /// Number of concurrent publishers
        #[arg(long = "pub", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
        pubs: u32,
        /// Number of concurrent subscribers (each receives every message)
        #[arg(long = "sub", default_value_t = 1)]
        subs: u32,
    },
    /// N publishers and M subscribers sharing the messages in a queue group
    Queue {
        #[command(flatten)]
        run: RunArgs,
        /// Number of concurrent publishers
        #[arg(long = "pub", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
        pubs: u32,
        /// Number of queue subscribers
        #[arg(long = "sub", default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..))]
        subs: u32,
        /// Queue group name
        #[arg(long, default_value = "rnats-bench")]
        queue: String,
    },
    /// Send requests from N requesters and measure the round trip
    Request {
        #[command(flatten)]
        run: RunArgs,
        /// Number of concurrent requesters
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
        clients: u32,
        /// Timeout of one request
        #[arg(long, default_value = "5s", value_parser = parse_duration)]
        timeout: Duration,
    },
    /// Answer requests with N repliers (a queue group)
    Reply {
        #[command(flatten)]
        run: RunArgs,
        /// Number of concurrent repliers
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
        clients: u32,
        /// Queue group of the repliers
        #[arg(long, default_value = "rnats-bench-reply")]
        queue: String,
    },
    /// Requesters and repliers in one run, with latency percentiles
    Reqrep {
        #[command(flatten)]
        run: RunArgs,
        /// Number of concurrent requesters
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
        requesters: u32,
        /// Number of repliers (a queue group)
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
        repliers: u32,
        /// Timeout of one request
        #[arg(long, default_value = "5s", value_parser = parse_duration)]
        timeout: Duration,
    },
    /// Connection rate: open, authenticate, flush and close connections
    Connect(ConnectArgs),
}

/// The connect mode's flags.
#[derive(Args, Debug, Clone)]
pub struct ConnectArgs {
    /// Number of concurrent workers, each opening one connection at a time
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub clients: u32,
    /// Number of connections in total (handshake + round trip + close each)
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    pub conns: u64,
    /// Save the per-worker results to a CSV file
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Do not show the progress bar
    #[arg(long)]
    pub no_progress: bool,
    /// Stop the run after this long even if the count is not reached
    #[arg(long, default_value = "2m", value_parser = parse_duration)]
    pub max_time: Duration,
}

/// What every mode shares.
#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Subject to use for the benchmark
    #[arg(default_value = "rnats.bench")]
    pub subject: String,
    /// Number of messages (or requests); see the notes below
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub msgs: u64,
    /// Message size in bytes (suffixes: B, K/KB/KiB, M/MB/MiB)
    #[arg(long, default_value = "128", value_parser = parse_size)]
    pub size: usize,
    /// Save the per-client results to a CSV file
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Do not show the progress bars
    #[arg(long)]
    pub no_progress: bool,
    /// Pause between two messages (or requests) of one client, e.g. 1ms
    #[arg(long, value_parser = parse_sleep, default_value = "0s")]
    pub sleep: Duration,
    /// Stop the run after this long even if the count is not reached
    #[arg(long, default_value = "2m", value_parser = parse_duration)]
    pub max_time: Duration,
}

/// `128`, `1K`, `1KB`, `1KiB`, `2MB`: binary units, as `nats bench`.
pub fn parse_size(s: &str) -> Result<usize> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: usize = num
        .parse()
        .with_context(|| format!("invalid size {s:?} (e.g. 128, 1KB, 1MiB)"))?;
    let mult = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1024,
        "m" | "mb" | "mib" => 1024 * 1024,
        other => bail!("invalid size unit {other:?} in {s:?} (use B, KB or MB)"),
    };
    n.checked_mul(mult)
        .with_context(|| format!("size {s:?} is too large"))
}

/// A duration that may be zero (`0s`, `0`).
fn parse_sleep(s: &str) -> Result<Duration> {
    match parse_duration(s) {
        Ok(d) => Ok(d),
        Err(_)
            if s.trim()
                .trim_end_matches(char::is_alphabetic)
                .parse::<f64>()
                == Ok(0.0) =>
        {
            Ok(Duration::ZERO)
        }
        Err(e) => Err(e),
    }
}

/// `500ms`, `10s`, `2m`, `1h`, or a number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .with_context(|| format!("invalid duration {s:?} (e.g. 500ms, 30s, 2m)"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "" | "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        other => bail!("invalid duration unit {other:?} in {s:?} (use ms, s, m or h)"),
    };
    if !secs.is_finite() || secs <= 0.0 {
        bail!("duration {s:?} must be positive");
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("128").unwrap(), 128);
        assert_eq!(parse_size("1KB").unwrap(), 1024);
        assert_eq!(parse_size("2k").unwrap(), 2048);
        assert_eq!(parse_size("1MiB").unwrap(), 1 << 20);
        assert!(parse_size("1GB").is_err());
        assert!(parse_size("x").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("3").unwrap(), Duration::from_secs(3));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("1d").is_err());
        assert_eq!(parse_sleep("0s").unwrap(), Duration::ZERO);
        assert_eq!(parse_sleep("2ms").unwrap(), Duration::from_millis(2));
        assert!(parse_sleep("-1s").is_err());
    }
}

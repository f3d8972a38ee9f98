//! `rnats-streaming-server`: a NATS Streaming server that takes
//! nats-streaming-server's flags and configuration.
//!
//! By default it runs an rnats server in the same process and the
//! streaming engine as a client of it; with `-ns URL` it connects to an
//! external NATS server instead.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use rnats::cli::Cli;
use rnats::config::Options;
use rnats::node::run::{Companion, CompanionStart};
use rnats::streaming::config::{split_args, StreamingOptions};
use rnats::streaming::server::StreamingHandle;

const USAGE: &str = "\
Usage: rnats-streaming-server [options]

Streaming Server Options:
    -cid, --cluster_id  <string>      Cluster ID (default: test-cluster)
    -st,  --store <string>            Store type: MEMORY|FILE|SQL (default: MEMORY)
          --dir <string>              For FILE store type, this is the root directory
    -mc,  --max_channels <int>        Max number of channels (0 for unlimited)
    -msu, --max_subs <int>            Max number of subscriptions per channel (0 for unlimited)
    -mm,  --max_msgs <int>            Max number of messages per channel (0 for unlimited)
    -mb,  --max_bytes <size>          Max messages total size per channel (0 for unlimited)
    -ma,  --max_age <duration>        Max duration a message can be stored (\"0s\" for unlimited)
    -mi,  --max_inactivity <duration> Max inactivity (no new message, no subscription) after which a channel can be garbage collected (0 for unlimited)
    -ns,  --nats_server <string>      Connect to this external NATS Server URL (embedded otherwise)
    -sc,  --stan_config <string>      Streaming server configuration file
    -hbi, --hb_interval <duration>    Interval at which server sends heartbeat to a client
    -hbt, --hb_timeout <duration>     How long server waits for a heartbeat response
    -hbf, --hb_fail_count <int>       Number of failed heartbeats before server closes the client connection
          --ft_group <string>         Name of the FT Group. A group can be 2 or more servers with a single active server and all sharing the same datastore
          --encrypt <bool>            Specify if server should use encryption at rest
          --encryption_cipher <string> Cipher to use for encryption. Currently support AES and CHAHA (ChaChaPoly)
          --encryption_key <string>   Encryption Key. It is recommended to specify it through the NATS_STREAMING_ENCRYPTION_KEY environment variable instead
          --replace_durable <bool>    Replace the existing durable subscription instead of reporting a duplicate durable error
    -SD,  --stan_debug=<bool>         Enable STAN debugging output
    -SV,  --stan_trace=<bool>         Trace the raw STAN protocol
    -SDV                              Debug and trace STAN

Streaming Server File Store Options:
    --file_sync <bool>                Enable File Store Sync (fsync on each flush, default true)
    --file_crc <bool>                 Enable file CRC-32 checksum
    --file_buffer_size <size>         File buffer size (in bytes)
    --file_slice_max_msgs <int>       Maximum number of messages per file slice (subject to channel limits)
    --file_slice_max_bytes <size>     Maximum file slice size - including index file (subject to channel limits)
    --file_slice_max_age <duration>   Maximum file slice duration starting when the first message is stored (subject to channel limits)
    --file_fds_limit <int>            Limit the number of open file descriptors for message slices

Streaming Server SQL Store Options:
    --sql_driver <string>             Name of the SQL Driver (\"postgres\")
    --sql_source <string>             Datasource used when opening an SQL connection to the database
    --sql_no_caching <bool>           Enable/Disable caching for improved performance

NATS server options: those of rnats-server (-a, -p, -m, -c, -l, -D, -V, --user, --pass, --auth, --tls*, --cluster, --routes, ...).
    -h, --help                        Show this message
    -v, --version                     Show version
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (sflags, nats_args) = match split_args(args) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("{e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let cli = match Cli::parse(nats_args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if cli.help {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    if cli.version {
        println!(
            "rnats-streaming-server: v{} (nats-streaming-server 0.25.6 compatible)",
            rnats::RNATS_VERSION
        );
        return ExitCode::SUCCESS;
    }
    let mut sopts = StreamingOptions::default();
    let (mut opts, warnings) = match load_configs(&cli, &sflags, &mut sopts) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("rnats-streaming-server: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = sopts.apply_flags(&sflags) {
        eprintln!("rnats-streaming-server: {e}");
        return ExitCode::from(2);
    }
    if let Ok(k) = std::env::var("NATS_STREAMING_ENCRYPTION_KEY") {
        sopts.encryption.key = k;
    }
    cli.apply(&mut opts);
    if cli.port.is_none() && opts.config_file.is_none() {
        opts.port = 4222;
    }
    // The engine logs in with the streaming credentials, or else with the
    // server's own single user or token (nats-streaming-server's rule).
    if sopts.nats.username.is_none() && sopts.nats.token.is_none() {
        if let (Some(u), Some(p)) = (&opts.username, &opts.password) {
            sopts.nats.username = Some(u.clone());
            sopts.nats.password = Some(p.clone());
        } else if let Some(t) = &opts.authorization {
            sopts.nats.token = Some(t.clone());
        }
    }
    if sopts.debug {
        opts.debug = true;
    }
    if sopts.trace {
        opts.trace = true;
    }
    if let Err(e) = opts
        .validate()
        .map_err(|e| e.to_string())
        .and_then(|()| sopts.validate().map_err(|e| e.to_string()))
    {
        eprintln!("rnats-streaming-server: {e}");
        return ExitCode::FAILURE;
    }
    let warnings: Vec<String> = warnings
        .into_iter()
        .chain(sopts.without_effect.iter().cloned())
        .collect();
    if cli.test_config {
        for w in &warnings {
            eprintln!("rnats-streaming-server: warning: {w}");
        }
        match &cli.config {
            Some(path) => println!(
                "rnats-streaming-server: configuration file {} is valid",
                path.display()
            ),
            None => println!("rnats-streaming-server: configuration is valid"),
        }
        return ExitCode::SUCCESS;
    }
    if let Err(e) = rnats::logging::init(&opts) {
        eprintln!("rnats-streaming-server: cannot open log file: {e}");
        return ExitCode::FAILURE;
    }
    for w in &warnings {
        log::warn!("{w}");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("rnats-streaming-server: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match sopts.nats.url.clone() {
        Some(url) => runtime.block_on(run_external(sopts, url, opts)),
        None => runtime
            .block_on(rnats::node::run::run_with_companion(
                opts,
                cli,
                Some(streaming_companion(sopts)),
            ))
            .map_err(|e| e.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error!("{e}");
            eprintln!("rnats-streaming-server: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Reads `-c` (NATS options, and streaming options from its `streaming`
/// block) and `-sc` (streaming options only).
fn load_configs(
    cli: &Cli,
    sflags: &[(String, String)],
    sopts: &mut StreamingOptions,
) -> Result<(Options, Vec<String>), String> {
    let (opts, warnings) = match &cli.config {
        Some(path) => {
            let mut parsed =
                rnats::config::parser::parse_file_tracked(path).map_err(|e| e.to_string())?;
            sopts
                .take_from_config(&mut parsed.map)
                .map_err(|e| e.to_string())?;
            let (mut o, w) =
                Options::from_parsed(&parsed, Some(path)).map_err(|e| e.to_string())?;
            o.config_file = Some(path.clone());
            (o, w)
        }
        None => (Options::default(), Vec::new()),
    };
    let sc = sflags
        .iter()
        .rev()
        .find(|(n, _)| n == "sc" || n == "stan_config")
        .map(|(_, v)| PathBuf::from(v));
    if let Some(path) = sc {
        read_streaming_config(&path, sopts)?;
    }
    Ok((opts, warnings))
}

fn read_streaming_config(path: &Path, sopts: &mut StreamingOptions) -> Result<(), String> {
    let mut parsed = rnats::config::parser::parse_file_tracked(path).map_err(|e| e.to_string())?;
    sopts
        .take_from_config(&mut parsed.map)
        .map_err(|e| e.to_string())?;
    if let Some((k, _)) = parsed.map.iter().next() {
        return Err(format!("{}: unknown field {:?}", k.pos, k.name));
    }
    Ok(())
}

struct StreamingCompanion(StreamingHandle);

impl Companion for StreamingCompanion {
    fn begin_stop(&self) {
        self.0.begin_stop();
    }

    fn stop(self: Box<Self>) -> futures::future::BoxFuture<'static, ()> {
        Box::pin(self.0.shutdown())
    }
}

/// Starts the engine as a client of the embedded server.
fn streaming_companion(sopts: StreamingOptions) -> CompanionStart {
    Box::new(move |handle| {
        let mut addr = handle.addr;
        if addr.ip().is_unspecified() {
            addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        let scheme = if handle.server.tls.is_some() {
            "tls"
        } else {
            "nats"
        };
        let url = format!("{scheme}://{addr}");
        let server = handle.server.clone();
        Box::pin(async move {
            let h = rnats::streaming::server::start(&sopts, &url)
                .await
                .map_err(|e| e.to_string())?;
            rnats::streaming::monitor::install(&server, h.inspector());
            Ok(Box::new(StreamingCompanion(h)) as Box<dyn Companion>)
        })
    })
}

/// With `-ns`: only the engine, against an external NATS server, until
/// SIGINT or SIGTERM. With `-m`, the monitoring port still serves the
/// `/streaming` endpoints (as nats-streaming-server does, from an idle
/// server that accepts no clients).
async fn run_external(sopts: StreamingOptions, url: String, opts: Options) -> Result<(), String> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut int = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let h = rnats::streaming::server::start(&sopts, &url)
        .await
        .map_err(|e| e.to_string())?;
    let monitor = if opts.http_port != 0 {
        let server = rnats::server::Server::new(opts, None).map_err(|e| e.to_string())?;
        rnats::streaming::monitor::install(&server, h.inspector());
        Some(
            rnats::monitor::start(server)
                .await
                .map_err(|e| e.to_string())?,
        )
    } else {
        None
    };
    tokio::select! {
        _ = int.recv() => log::info!("Trapped \"interrupt\" signal"),
        _ = term.recv() => log::info!("Trapped \"terminated\" signal"),
    }
    if let Some(m) = monitor {
        m.shutdown().await;
    }
    h.shutdown().await;
    Ok(())
}

//! rnats-account-server: an HTTP account JWT server speaking
//! nats-account-server's API, for servers using `resolver: URL(...)` and
//! for `nsc push` / `rnats-nsc push` to http:// URLs.
//!
//! JWTs are kept as `<dir>/<pubkey>.jwt` by the library's full directory
//! resolver, so the store has the same rules as a server's: subject must
//! match, the issuer must be the operator or one of its signing keys,
//! nothing blocking in validation, and claims never roll back. After every
//! accepted POST (and every JWT dropped into the directory by others), the
//! JWT is published on `$SYS.REQ.ACCOUNT.<pubkey>.CLAIMS.UPDATE` when
//! `--nats` is given, so servers apply it without polling.

mod http;
mod notify;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Parser;
use rnats::resolver::{DirResolver, DirResolverConfig, ResolverConfig, ResolverKind};
use rnats::trust::{read_operator_jwt, TrustConfig};

/// Command line.
#[derive(Parser, Debug)]
#[command(
    name = "rnats-account-server",
    version,
    about = "NATS account JWT server (nats-account-server API)"
)]
struct Args {
    /// Operator JWT file (plain or decorated); inline JWTs are accepted too
    #[arg(long)]
    operator: String,
    /// Directory holding <account pubkey>.jwt files (created if missing)
    #[arg(long, default_value = "./jwt")]
    dir: PathBuf,
    /// Address to listen on
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on (0: any free port; the address is printed)
    #[arg(long, default_value_t = 9090)]
    port: u16,
    /// NATS server to notify of updates (nats://host:port)
    #[arg(long)]
    nats: Option<String>,
    /// System account user creds for --nats
    #[arg(long, requires = "nats")]
    creds: Option<PathBuf>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let _ = rnats::logging::init(&rnats::config::Options::default());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(run(args))
}

async fn run(args: Args) -> Result<()> {
    let (op_jwt, op_claims) = read_operator_jwt(&args.operator)
        .map_err(|e| anyhow::anyhow!("error parsing operator JWT: {e}"))?;
    let mut cfg = DirResolverConfig::new(ResolverKind::Full, &args.dir);
    cfg.allow_delete = false;
    let trust = TrustConfig::for_operators(
        vec![(op_jwt.clone(), op_claims)],
        ResolverConfig::Dir(cfg.clone()),
    );
    let store = Arc::new(
        DirResolver::open(&cfg, Some(trust.validator()))
            .with_context(|| format!("cannot open JWT directory {}", args.dir.display()))?,
    );
    let notifier = match &args.nats {
        Some(url) => Some(notify::Notifier::connect(url, args.creds.as_deref()).await?),
        None => None,
    };
    let notifier = Arc::new(notifier);
    // JWTs written into the directory by others are announced too.
    if let Some(mut rx) = rnats::resolver::AccountResolver::subscribe_updates(store.as_ref()) {
        let n = notifier.clone();
        tokio::spawn(async move {
            while let Some(u) = rx.recv().await {
                if let Some(n) = n.as_ref() {
                    n.publish(&u.account, &u.jwt);
                }
            }
        });
    }
    let addr: SocketAddr = tokio::net::lookup_host((args.host.as_str(), args.port))
        .await?
        .next()
        .with_context(|| format!("cannot resolve {}", args.host))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    // Tests and scripts read this line.
    println!("Listening on http://{local}");
    let state = Arc::new(http::State {
        operator_jwt: op_jwt,
        trust,
        store,
        notifier,
    });
    http::serve(listener, state).await
}

//! rnats-top: the job of nats-top — a live terminal view of a NATS
//! server's connections over its monitoring endpoints /varz and /connz,
//! for rnats and nats-server alike.

mod cli;
mod monitor;
mod sort;
mod ui;
mod view;

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;

use cli::{normalize_args, Args};
use monitor::{Engine, Monitor, Query, TlsFiles};
use view::Style;

fn main() -> ExitCode {
    let args = Args::parse_from(normalize_args(std::env::args()));
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rnats-top: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(a: Args) -> Result<()> {
    let base = a.base_url()?;
    let monitor = Monitor::new(
        &base,
        TlsFiles {
            ca: a.cacert.as_deref(),
            cert: a.cert.as_deref(),
            key: a.key.as_deref(),
            insecure: a.insecure,
        },
    )?;
    // Like nats-top: fail at once, with the reason, when the monitoring
    // endpoint cannot be reached.
    monitor.varz().context(
        "/varz smoke test failed (is the server running with monitoring on, e.g. -m 8222?)",
    )?;
    let query = Query {
        limit: a.conns.max(1),
        sort: a.sort,
        subs: a.subs,
    };
    let style = Style {
        raw: a.raw,
        show_subs: a.subs,
    };
    let mut engine = Engine::new(monitor);

    if a.once || a.output.is_some() {
        let snap = engine.poll(&query)?;
        let text = view::render_text(&snap, style);
        match a.output.as_deref() {
            Some(p) if p.as_os_str() != "-" => std::fs::write(p, text)
                .with_context(|| format!("cannot write the snapshot to {}", p.display()))?,
            _ => print!("{text}"),
        }
        return Ok(());
    }
    ui::run(engine, query, a.delay, style, a.max_refreshes)
}

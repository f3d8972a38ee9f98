//! rnats-bench: the job of `nats bench` for core NATS — publishers,
//! subscribers, queue groups, requesters and repliers against rnats or
//! nats-server, with live progress, a summary and CSV output; and the
//! connection rate (handshake, round trip, close) with each auth method.

mod cli;
mod connect;
mod progress;
mod pubsub;
mod reqrep;
mod run;
mod stan;
mod stats;

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;

use cli::{Cli, Mode, RunArgs};
use connect::Connector;
use stats::{commas, Report};

/// Exit status of a run stopped by --max-time (or idle) before its count.
const EXIT_INCOMPLETE: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rnats-bench: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(bench(cli)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(EXIT_INCOMPLETE),
        Err(e) => {
            eprintln!("rnats-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn banner(kind: &str, conn: &Connector, run: &RunArgs, clients: &str) {
    println!(
        "Starting Core NATS {kind} benchmark [server={}, subject={}, {clients}, msgs={}, msgsize={} B, max-time={:?}]",
        conn.servers(),
        run.subject,
        commas(run.msgs as f64),
        run.size,
        run.max_time
    );
}

fn stan_run(a: &cli::StanArgs) -> stan::StanRun<'_> {
    stan::StanRun {
        cluster_id: &a.cluster_id,
        channel: &a.channel,
        msgs: a.msgs,
        size: a.size,
        inflight: a.inflight,
        max_time: a.max_time,
    }
}

/// Runs the mode; `Ok(false)` when the run was incomplete.
async fn bench(cli: Cli) -> Result<bool> {
    let conn = Connector::new(&cli.conn)?;
    let (report, csv): (Report, Option<&std::path::PathBuf>) = match &cli.mode {
        Mode::StanPub { stan: a, clients } => {
            println!(
                "Starting NATS Streaming publish benchmark [server={}, cluster={}, channel={}, pubs={clients}, msgs={}, msgsize={} B, inflight={}]",
                conn.servers(), a.cluster_id, a.channel, commas(a.msgs as f64), a.size, a.inflight
            );
            (
                stan::publish(&conn, &stan_run(a), *clients).await?,
                a.csv.as_ref(),
            )
        }
        Mode::StanSub { stan: a } => {
            println!(
                "Starting NATS Streaming subscribe benchmark [server={}, cluster={}, channel={}, msgs={}]",
                conn.servers(), a.cluster_id, a.channel, commas(a.msgs as f64)
            );
            (stan::subscribe(&conn, &stan_run(a)).await?, a.csv.as_ref())
        }
        Mode::Disk { dir, msgs, size } => {
            println!(
                "Starting disk write+fsync benchmark [dir={}, writes={}, size={size} B]",
                dir.display(),
                commas(*msgs as f64)
            );
            let (dir, msgs, size) = (dir.clone(), *msgs, *size);
            (
                tokio::task::spawn_blocking(move || stan::disk(&dir, msgs, size)).await??,
                None,
            )
        }
        Mode::Connect(args) => {
            println!(
                "Starting Core NATS connect benchmark [server={}, auth={}, clients={}, conns={}, max-time={:?}]",
                conn.servers(),
                conn.auth(),
                args.clients,
                commas(args.conns as f64),
                args.max_time
            );
            (run::connections(&conn, args).await?, args.csv.as_ref())
        }
        Mode::Pub { run, clients } => {
            banner("publish", &conn, run, &format!("pubs={clients}"));
            (
                run::pubsub(&conn, run, *clients, 0, None).await?,
                run.csv.as_ref(),
            )
        }
        Mode::Sub { run, clients } => {
            banner("subscribe", &conn, run, &format!("subs={clients}"));
            (
                run::pubsub(&conn, run, 0, *clients, None).await?,
                run.csv.as_ref(),
            )
        }
        Mode::Pubsub { run, pubs, subs } => {
            banner("pub/sub", &conn, run, &format!("pubs={pubs}, subs={subs}"));
            (
                run::pubsub(&conn, run, *pubs, *subs, None).await?,
                run.csv.as_ref(),
            )
        }
        Mode::Queue {
            run,
            pubs,
            subs,
            queue,
        } => {
            banner(
                "queue group",
                &conn,
                run,
                &format!("pubs={pubs}, queue subs={subs}, queue={queue}"),
            );
            (
                run::pubsub(&conn, run, *pubs, *subs, Some(queue)).await?,
                run.csv.as_ref(),
            )
        }
        Mode::Request {
            run,
            clients,
            timeout,
        } => {
            banner("request", &conn, run, &format!("requesters={clients}"));
            (
                run::reqrep(&conn, run, *clients, 0, "", *timeout).await?,
                run.csv.as_ref(),
            )
        }
        Mode::Reply {
            run,
            clients,
            queue,
        } => {
            banner(
                "reply",
                &conn,
                run,
                &format!("repliers={clients}, queue={queue}"),
            );
            (
                run::reqrep(&conn, run, 0, *clients, queue, std::time::Duration::ZERO).await?,
                run.csv.as_ref(),
            )
        }
        Mode::Reqrep {
            run,
            requesters,
            repliers,
            timeout,
        } => {
            banner(
                "request/reply",
                &conn,
                run,
                &format!("requesters={requesters}, repliers={repliers}"),
            );
            (
                run::reqrep(
                    &conn,
                    run,
                    *requesters,
                    *repliers,
                    "rnats-bench-reply",
                    *timeout,
                )
                .await?,
                run.csv.as_ref(),
            )
        }
    };
    println!();
    print!("{}", report.render());
    if let Some(path) = csv {
        std::fs::write(path, report.csv(&stats::run_id()))
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!();
        println!("Saved metric data in csv file {}", path.display());
    }
    Ok(!report.incomplete)
}

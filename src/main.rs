//! `rnats-server`: flags → config → server, then wait for a signal.

use std::process::ExitCode;

use rnats::cli::{Cli, USAGE};
use rnats::config::Options;

/// Runtime workers per CPU the process may run on.
///
/// Fairness between tenants: tokio schedules tasks cooperatively, so with
/// one worker per CPU a flood (readers whose sockets are always ready,
/// writers copying megabytes) keeps every worker busy and a small request of
/// another account waits in a run queue behind whole batches of flood work,
/// and the network is only looked at between them. With more workers than
/// CPUs there is nearly always a worker parked on the network: it wakes the
/// moment a request arrives and the kernel's preemptive scheduler gives it a
/// CPU at once. Measured with `compare --scenarios noisy-reqrep`, account
/// B's p50 under A's flood went from 2x its solo latency to 0.9x, while the
/// default scenarios stayed within noise.
const WORKERS_PER_CPU: usize = 4;

fn worker_threads() -> usize {
    // Counts the CPUs of the process's affinity mask, so a pinned server
    // gets workers for the CPUs it may use.
    std::thread::available_parallelism().map_or(1, |n| n.get()) * WORKERS_PER_CPU
}

fn main() -> ExitCode {
    let cli = match Cli::parse(std::env::args().skip(1)) {
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
            "rnats-server: v{} (nats-server {} compatible)",
            rnats::RNATS_VERSION,
            rnats::VERSION
        );
        return ExitCode::SUCCESS;
    }
    if let Some(why) = cli.unsupported() {
        eprintln!("rnats-server: {why}");
        return ExitCode::FAILURE;
    }
    if let Some(sig) = &cli.signal {
        return match rnats::node::run::send_signal(sig, cli.pid_file.as_deref()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("rnats-server: {e}");
                ExitCode::FAILURE
            }
        };
    }
    // Warnings are kept until logging is set up, so they reach the log
    // (and `-t` prints them): a setting ignored without a word is a trap.
    let (mut opts, mut warnings) = match &cli.config {
        Some(path) => match Options::from_file_with_warnings(path) {
            Ok(o) => o,
            Err(e) => {
                eprintln!("rnats-server: {e}");
                return ExitCode::FAILURE;
            }
        },
        None => (Options::default(), Vec::new()),
    };
    if let Some(dir) = &cli.store_dir {
        warnings.push(format!(
            "--store_dir {dir:?} is ignored: rnats has no JetStream"
        ));
    }
    cli.apply(&mut opts);
    if let Err(e) = opts.validate() {
        eprintln!("rnats-server: {e}");
        return ExitCode::FAILURE;
    }
    if let Err(e) = rnats::server::support::check(&opts)
        .and_then(|()| rnats::auth::AuthConfig::from_options(&opts).map(drop))
        .and_then(|()| rnats::tenancy::account_config::check(&opts))
    {
        eprintln!("rnats-server: {e}");
        return ExitCode::FAILURE;
    }
    if cli.test_config {
        for w in &warnings {
            eprintln!("rnats-server: warning: {w}");
        }
        match &cli.config {
            Some(path) => println!(
                "rnats-server: configuration file {} is valid",
                path.display()
            ),
            None => println!("rnats-server: configuration is valid"),
        }
        return ExitCode::SUCCESS;
    }
    if let Err(e) = rnats::logging::init(&opts) {
        eprintln!("rnats-server: cannot open log file: {e}");
        return ExitCode::FAILURE;
    }
    for w in &warnings {
        log::warn!("{w}");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .worker_threads(worker_threads())
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("rnats-server: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(rnats::node::run::run_with_cli(opts, cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error!("{e}");
            eprintln!("rnats-server: {e}");
            ExitCode::FAILURE
        }
    }
}

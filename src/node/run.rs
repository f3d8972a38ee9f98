//! Running the server as a process: start-up banner, pid and ports files,
//! and signal handling as nats-server's: SIGINT/SIGTERM shut down
//! gracefully, SIGHUP reloads the config, SIGUSR1 reopens the log file,
//! SIGUSR2 enters lame-duck mode. [`send_signal`] is `--signal`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::cli::Cli;
use crate::config::Options;
use crate::server::close::CloseReason;
use crate::server::Server;

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("HTTPS monitoring is not supported by this version of rnats")]
    HttpsMonitoring,
    /// Binding the client or monitoring port failed.
    #[error("Error listening on port: {0}")]
    Listen(std::io::Error),
    #[error("Could not write pidfile {path}: {error}", path = .0.display(), error = .1)]
    PidFile(PathBuf, std::io::Error),
    #[error("Error writing ports file {path}: {error}", path = .0.display(), error = .1)]
    PortsFile(PathBuf, std::io::Error),
    /// A service started beside the server failed to start.
    #[error("{0}")]
    Companion(String),
}

/// A service that runs in the same process beside the server (the
/// streaming engine of `rnats-streaming-server`): started once the server
/// listens, stopped before it shuts down.
pub trait Companion: Send {
    /// Called before the server starts shutting down.
    fn begin_stop(&self) {}
    fn stop(self: Box<Self>) -> futures::future::BoxFuture<'static, ()>;
}

/// Starts a [`Companion`] for the running server.
pub type CompanionStart = Box<
    dyn FnOnce(
            &super::ServerHandle,
        ) -> futures::future::BoxFuture<'static, Result<Box<dyn Companion>, String>>
        + Send,
>;

/// Why `--signal` could not be delivered.
#[derive(Debug, thiserror::Error)]
pub enum SignalError {
    #[error("invalid signal parameters: {0}")]
    Parameters(String),
    #[error("unknown signal {0:?}")]
    Unknown(String),
    #[error("could not read pid file {path}: {error}", path = .0.display(), error = .1)]
    PidFile(PathBuf, std::io::Error),
    #[error("invalid pid: {0}")]
    InvalidPid(String),
    #[error("signal {command:?} {pid}: {error}")]
    Kill {
        command: String,
        pid: String,
        error: std::io::Error,
    },
    #[error("unable to resolve pid, try providing one")]
    NoPgrep,
    #[error("no rnats-server processes running")]
    NoServer,
    #[error("multiple rnats-server processes running:\n{0}")]
    SeveralServers(String),
}

/// Runs until SIGINT or SIGTERM, then shuts down gracefully.
///
/// # Errors
/// When the client port cannot be bound or a pid file cannot be written.
pub async fn run(opts: Options) -> Result<(), RunError> {
    run_with_cli(opts, Cli::default()).await
}

/// [`run`], with the command-line flags that keep overriding the config
/// file on reload.
///
/// # Errors
/// When the client port cannot be bound or a pid file cannot be written.
pub async fn run_with_cli(opts: Options, cli: Cli) -> Result<(), RunError> {
    run_with_companion(opts, cli, None).await
}

/// [`run_with_cli`] with a service started beside the server once it is
/// ready, and stopped first at shutdown.
///
/// # Errors
/// As [`run_with_cli`], or when the companion does not start.
pub async fn run_with_companion(
    opts: Options,
    cli: Cli,
    companion: Option<CompanionStart>,
) -> Result<(), RunError> {
    log::info!("Starting rnats-server");
    log::info!(
        "  Version:  {} (nats-server {} compatible)",
        crate::RNATS_VERSION,
        crate::VERSION
    );
    if let Some(path) = &opts.config_file {
        log::info!("  Using configuration file: {}", path.display());
    }
    if opts.https_port != 0 {
        return Err(RunError::HttpsMonitoring);
    }
    let pid_file = opts.pid_file.clone();
    let ports_dir = opts.ports_file_dir.clone();
    // Signals are trapped before anything is bound: a SIGINT or SIGTERM
    // sent as soon as the port answers must shut down gracefully, not kill
    // the process with the default action.
    let signals = Signals::install();
    let mut handle = super::start(opts).await.map_err(RunError::Listen)?;
    log::info!("  Name:     {}", handle.server.name);
    log::info!("  ID:       {}", handle.server.id);
    if let Some(p) = &pid_file {
        std::fs::write(p, std::process::id().to_string())
            .map_err(|e| RunError::PidFile(p.clone(), e))?;
    }
    let ports_file = match &ports_dir {
        Some(dir) => Some(write_ports_file(
            dir,
            &handle.client_url(),
            handle.monitor_url().as_deref(),
        )?),
        None => None,
    };
    log::info!("Server is ready");
    let companion = match companion {
        Some(start) => match start(&handle).await {
            Ok(c) => Some(c),
            Err(e) => {
                handle.shutdown().await;
                return Err(RunError::Companion(e));
            }
        },
        None => None,
    };

    handle_signals(signals, &mut handle, &cli).await;
    log::info!("Initiating Shutdown...");
    let last_pid_file = handle.server.opts().pid_file.clone();
    if let Some(c) = companion {
        // Every connection closes at once, as in nats-server's shutdown
        // (what is queued for a client is still flushed): nothing more is
        // routed through this server, to the companion or from it. The
        // listener stays (refusing newcomers) until the companion has
        // stopped and released what it holds (a store's lock), so a
        // successor that binds the port finds them free.
        c.begin_stop();
        handle.server.stop_registrations();
        if let Some(cluster) = handle.server.cluster.get() {
            cluster.close_all();
        }
        for client in handle.server.clients() {
            client.close(CloseReason::ServerShutdown);
        }
        c.stop().await;
    }
    handle.shutdown().await;
    for p in pid_file.iter().chain(last_pid_file.iter()) {
        let _ = std::fs::remove_file(p);
    }
    if let Some(p) = &ports_file {
        let _ = std::fs::remove_file(p);
    }
    log::info!("Server Exiting..");
    Ok(())
}

/// Writes `<exe>_<pid>.ports` with the client (and monitoring) URLs, as
/// nats-server does, so tooling can find a server started on a random port.
fn write_ports_file(dir: &Path, url: &str, monitor: Option<&str>) -> Result<PathBuf, RunError> {
    let path = dir.join(format!("rnats-server_{}.ports", std::process::id()));
    let body = match monitor {
        Some(m) => serde_json::json!({ "nats": [url], "monitoring": [m] }),
        None => serde_json::json!({ "nats": [url] }),
    }
    .to_string();
    std::fs::write(&path, body).map_err(|e| RunError::PortsFile(path.clone(), e))?;
    Ok(path)
}

/// The signals the server handles, trapped from the moment of
/// [`Signals::install`] (deliveries before the loop runs are kept).
struct Signals {
    streams: Option<[tokio::signal::unix::Signal; 5]>,
}

impl Signals {
    fn install() -> Signals {
        use tokio::signal::unix::{signal, SignalKind};
        let streams = match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
            signal(SignalKind::user_defined1()),
            signal(SignalKind::user_defined2()),
        ) {
            (Ok(a), Ok(b), Ok(c), Ok(d), Ok(e)) => Some([a, b, c, d, e]),
            _ => None,
        };
        Signals { streams }
    }
}

/// Serves signals until the server must shut down.
async fn handle_signals(signals: Signals, handle: &mut super::ServerHandle, cli: &Cli) {
    let Some([mut int, mut term, mut hup, mut usr1, mut usr2]) = signals.streams else {
        // Without signal handlers, run until the process is killed.
        std::future::pending::<()>().await;
        return;
    };
    let server = handle.server.clone();
    let (ldm_done_tx, mut ldm_done) = tokio::sync::mpsc::channel::<()>(1);
    loop {
        tokio::select! {
            _ = int.recv() => {
                log::info!("Trapped \"interrupt\" signal");
                return;
            }
            _ = term.recv() => {
                log::info!("Trapped \"terminated\" signal");
                // As nats-server: ignored while lame duck mode runs.
                if !server.is_lame_duck() {
                    return;
                }
            }
            _ = hup.recv() => {
                log::info!("Trapped \"hangup\" signal");
                if let Err(e) = crate::server::reload::reload(&server, cli).await {
                    log::error!("Failed to reload server configuration: {e}");
                }
            }
            _ = usr1.recv() => {
                log::info!("Trapped \"user defined signal 1\" signal");
                reopen_log(&server);
            }
            _ = usr2.recv() => {
                log::info!("Trapped \"user defined signal 2\" signal");
                if server.set_lame_duck() {
                    log::info!("Entering lame duck mode, stop accepting new clients");
                    handle.stop_accepting().await;
                    let server = server.clone();
                    let done = ldm_done_tx.clone();
                    tokio::spawn(async move {
                        lame_duck(&server).await;
                        let _ = done.send(()).await;
                    });
                }
            }
            _ = ldm_done.recv() => return,
        }
    }
}

fn reopen_log(server: &Server) {
    if server.opts().log_file.is_none() {
        log::info!("File log re-open ignored, not a file logger");
        return;
    }
    match crate::logging::reopen() {
        Ok(()) => log::info!("File log re-opened"),
        Err(e) => log::error!("File log re-open failed: {e}"),
    }
}

/// Lame-duck mode after the listener closed, as nats-server's: tell
/// clients (INFO with `ldm`), wait the grace period, then close the clients
/// one by one spread over the rest of `lame_duck_duration` (at most a second
/// apart). Returns when all were closed; the caller shuts down.
async fn lame_duck(server: &Arc<Server>) {
    // The other members drop this server's URLs from their clients'
    // `connect_urls` at once, as nats-server's peers do.
    if let Some(c) = server.cluster.get() {
        c.announce_lame_duck();
    }
    let clients = server.clients();
    if clients.is_empty() {
        return;
    }
    let opts = server.opts();
    let grace = opts.lame_duck_grace_period;
    let mut dur = opts.lame_duck_duration.saturating_sub(grace);
    if dur.is_zero() {
        dur = Duration::from_secs(1);
    }
    let n = clients.len();
    let mut batch = 1usize;
    let mut interval = dur / u32::try_from(n).unwrap_or(u32::MAX);
    if interval.is_zero() {
        interval = Duration::from_nanos(1);
        batch = (n as u128 / dur.as_nanos().max(1)).max(1) as usize;
    } else if interval > Duration::from_secs(1) {
        interval = Duration::from_secs(1);
    }
    for c in &clients {
        if c.wants_async_info() {
            let line = server.ldm_info_line(c.id, c.addr, c.websocket);
            c.out.append(|b| b.extend_from_slice(&line));
            c.out.flush();
        }
    }
    tokio::time::sleep(grace).await;
    log::info!("Closing existing clients");
    for (i, c) in clients.iter().enumerate() {
        c.close(CloseReason::ServerShutdown);
        if i + 1 == n {
            break;
        }
        if batch == 1 || i % batch == 0 {
            use rand::Rng;
            let nanos = interval.as_nanos().max(1) as u64;
            let v = rand::thread_rng().gen_range(nanos / 2..=nanos);
            tokio::time::sleep(Duration::from_nanos(v)).await;
        }
    }
}

/// `--signal <command>[=<pid or pid file>]`: sends the command's signal to
/// a running server, as nats-server's `ProcessSignal`. Without a pid, the
/// `-P` pid file names the process; without either, the one running
/// rnats-server process (found with `pgrep`).
///
/// # Errors
/// An unknown command, an unreadable pid, no or several servers running, or
/// a failed `kill`.
pub fn send_signal(spec: &str, pid_file: Option<&Path>) -> Result<(), SignalError> {
    use rustix::process::{kill_process, Pid, Signal};
    let parts: Vec<&str> = spec.split('=').collect();
    if parts.len() > 2 {
        return Err(SignalError::Parameters(format!("{:?}", &parts[2..])));
    }
    let command = parts[0];
    let sig = match command {
        "stop" => Signal::KILL,
        "quit" => Signal::INT,
        "reopen" => Signal::USR1,
        "reload" => Signal::HUP,
        "ldm" => Signal::USR2,
        "term" => Signal::TERM,
        _ => return Err(SignalError::Unknown(command.to_owned())),
    };
    let pid_str = match (parts.get(1), pid_file) {
        // A pid file if it can be read, else the pid itself.
        (Some(p), _) => std::fs::read_to_string(p).unwrap_or_else(|_| (*p).to_owned()),
        (None, Some(f)) => {
            std::fs::read_to_string(f).map_err(|e| SignalError::PidFile(f.to_path_buf(), e))?
        }
        (None, None) => resolve_pid()?,
    };
    let pid_str = pid_str.trim();
    let pid = pid_str
        .parse::<i32>()
        .ok()
        .and_then(Pid::from_raw)
        .ok_or_else(|| SignalError::InvalidPid(pid_str.to_owned()))?;
    kill_process(pid, sig).map_err(|e| SignalError::Kill {
        command: command.to_owned(),
        pid: pid_str.to_owned(),
        error: e.into(),
    })
}

/// The pid of the single other running rnats-server process.
fn resolve_pid() -> Result<String, SignalError> {
    let out = std::process::Command::new("pgrep")
        .arg("rnats-server")
        .output()
        .map_err(|_| SignalError::NoPgrep)?;
    let me = std::process::id().to_string();
    let pids: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|p| !p.is_empty() && *p != me)
        .map(str::to_owned)
        .collect();
    match pids.len() {
        0 => Err(SignalError::NoServer),
        1 => Ok(pids[0].clone()),
        _ => Err(SignalError::SeveralServers(pids.join("\n"))),
    }
}

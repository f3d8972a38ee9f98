//! Running the server as a process: start-up banner, pid and ports files,
//! and signal handling (SIGINT/SIGTERM shut down gracefully).

use std::path::{Path, PathBuf};

use super::listener;
use crate::config::Options;

/// Runs until SIGINT or SIGTERM, then shuts down gracefully.
///
/// # Errors
/// When the client port cannot be bound or a pid file cannot be written.
pub async fn run(opts: Options) -> Result<(), String> {
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
        return Err("HTTPS monitoring is not supported by this version of rnats".into());
    }
    let pid_file = opts.pid_file.clone();
    let ports_dir = opts.ports_file_dir.clone();
    let handle = listener::start(opts)
        .await
        .map_err(|e| format!("Error listening on port: {e}"))?;
    log::info!("  Name:     {}", handle.server.name);
    log::info!("  ID:       {}", handle.server.id);
    if let Some(p) = &pid_file {
        std::fs::write(p, std::process::id().to_string())
            .map_err(|e| format!("Could not write pidfile {}: {e}", p.display()))?;
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

    wait_for_shutdown_signal().await;
    log::info!("Initiating Shutdown...");
    handle.shutdown().await;
    if let Some(p) = &pid_file {
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
fn write_ports_file(dir: &Path, url: &str, monitor: Option<&str>) -> Result<PathBuf, String> {
    let path = dir.join(format!("rnats-server_{}.ports", std::process::id()));
    let body = match monitor {
        Some(m) => serde_json::json!({ "nats": [url], "monitoring": [m] }),
        None => serde_json::json!({ "nats": [url] }),
    }
    .to_string();
    std::fs::write(&path, body)
        .map_err(|e| format!("Error writing ports file {}: {e}", path.display()))?;
    Ok(path)
}

async fn wait_for_shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        // Without signal handlers, run until the process is killed.
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = int.recv() => log::info!("Trapped \"interrupt\" signal"),
        _ = term.recv() => log::info!("Trapped \"terminated\" signal"),
    }
}

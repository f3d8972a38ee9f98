//! Real WebSocket clients against rnats: nats.ws from Node and from a
//! headless Chromium page (driven by playwright-core), each connecting,
//! subscribing, publishing and doing a request/reply — over plain `ws://`,
//! over `wss://` with the fixture certificates, and with a user JWT in
//! operator mode.
//!
//! Needs Node.js with `tests/js` installed (`npm ci --prefix tests/js`) and,
//! for the browser, Chromium (`/usr/bin/chromium` or `RNATS_CHROMIUM`).
//! `.ci/run` installs all three; without them a test says "skipped".

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::operator::*;
use common::start_conf;
use rnats::nkeys::KeyPair;
use rnats::node::ServerHandle;

fn js_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/js")
}

fn skipped(why: &str) {
    println!("skipped: {why}");
    eprintln!("skipped: {why}");
}

/// Node with the test clients installed, or why not.
fn node_ready() -> Result<(), String> {
    let ok = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        return Err("node not found".into());
    }
    if !js_dir().join("node_modules/nats.ws").is_dir() {
        return Err("tests/js not installed (npm ci --prefix tests/js)".into());
    }
    Ok(())
}

fn chromium() -> Option<PathBuf> {
    std::env::var_os("RNATS_CHROMIUM")
        .map(PathBuf::from)
        .or_else(|| Some(PathBuf::from("/usr/bin/chromium")))
        .filter(|p| p.exists())
}

/// Runs a client script (killed after 90 s); its last line of output.
async fn run(script: &str, args: &[&str], extra_ca: Option<&Path>) -> String {
    let mut cmd = std::process::Command::new("node");
    cmd.current_dir(js_dir())
        .arg(script)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    if let Some(ca) = extra_ca {
        cmd.env("NODE_EXTRA_CA_CERTS", ca);
    }
    let out = tokio::task::spawn_blocking(move || {
        let mut child = cmd.spawn().expect("node runs");
        let deadline = std::time::Instant::now() + Duration::from_secs(90);
        while child.try_wait().unwrap().is_none() {
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or("").trim().to_owned();
    if last != "ok" {
        eprintln!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    }
    last
}

async fn plain_server() -> ServerHandle {
    start_conf("websocket { host: 127.0.0.1, port: -1, no_tls: true }\n").await
}

/// With `compression: true`: Node's `ws` and Chromium both offer
/// permessage-deflate, so the exchange runs compressed.
async fn compressed_server() -> ServerHandle {
    start_conf("websocket { host: 127.0.0.1, port: -1, no_tls: true, compression: true }\n").await
}

async fn tls_server() -> ServerHandle {
    start_conf(&format!(
        "websocket {{ host: 127.0.0.1, port: -1\n{} }}\n",
        common::tls_conf("")
    ))
    .await
}

/// An operator-mode server and a creds file (`{jwt, seed}`) for one user.
async fn jwt_server(dir: &Path) -> (ServerHandle, PathBuf) {
    let op = Op::new();
    let acc = KeyPair::new_account();
    let acc_jwt = account_jwt(&acc, &op.key, |_| {});
    let user = KeyPair::new_user();
    let user_jwt = user_jwt_of(&user, &acc);
    let conf = format!(
        "{}websocket {{ host: 127.0.0.1, port: -1, no_tls: true }}\n",
        op.config("MEMORY", Some(&[&acc_jwt]))
    );
    let h = start_conf(&conf).await;
    let creds = dir.join("creds.json");
    let seed = user.seed().unwrap();
    std::fs::write(
        &creds,
        serde_json::json!({"jwt": user_jwt, "seed": seed.as_str()}).to_string(),
    )
    .unwrap();
    (h, creds)
}

fn ws_url(h: &ServerHandle) -> String {
    format!("ws://{}", h.websocket_addr.unwrap())
}

fn wss_url(h: &ServerHandle) -> String {
    format!("wss://localhost:{}", h.websocket_addr.unwrap().port())
}

#[tokio::test]
async fn nats_ws_from_node() {
    if let Err(why) = node_ready() {
        return skipped(&why);
    }
    let h = plain_server().await;
    assert_eq!(run("node_client.mjs", &[&ws_url(&h)], None).await, "ok");
    let h = compressed_server().await;
    assert_eq!(run("node_client.mjs", &[&ws_url(&h)], None).await, "ok");
    let h = tls_server().await;
    let ca = common::cert("ca.pem");
    assert_eq!(
        run("node_client.mjs", &[&wss_url(&h)], Some(&ca)).await,
        "ok"
    );
    let dir = tempfile::tempdir().unwrap();
    let (h, creds) = jwt_server(dir.path()).await;
    let creds = creds.display().to_string();
    assert_eq!(
        run("node_client.mjs", &[&ws_url(&h), &creds], None).await,
        "ok"
    );
}

#[tokio::test]
async fn nats_ws_from_a_headless_browser() {
    if let Err(why) = node_ready() {
        return skipped(&why);
    }
    let Some(browser) = chromium() else {
        return skipped("Chromium not found (/usr/bin/chromium or RNATS_CHROMIUM)");
    };
    let browser = browser.display().to_string();
    let h = plain_server().await;
    assert_eq!(
        run("browser_client.mjs", &[&browser, &ws_url(&h)], None).await,
        "ok"
    );
    let h = compressed_server().await;
    assert_eq!(
        run("browser_client.mjs", &[&browser, &ws_url(&h)], None).await,
        "ok"
    );
    let h = tls_server().await;
    assert_eq!(
        run("browser_client.mjs", &[&browser, &wss_url(&h)], None).await,
        "ok"
    );
    let dir = tempfile::tempdir().unwrap();
    let (h, creds) = jwt_server(dir.path()).await;
    let creds = creds.display().to_string();
    assert_eq!(
        run("browser_client.mjs", &[&browser, &ws_url(&h), &creds], None).await,
        "ok"
    );
}

//! The README operator-mode walkthrough, run with the real binaries.
//!
//! The command sequence (what this test runs; `$NSC` stands for
//! `rnats-nsc --data-dir ./nsc/stores --keystore-dir ./nsc/keys --config-dir ./nsc/config`,
//! or plain `rnats-nsc` with its default directories):
//!
//! ```sh
//! # 1. Operator, system account + system user, an account and a user.
//! $NSC add operator -n OP --sys
//! $NSC add account -n A
//! $NSC add user -a A -n U
//! $NSC generate creds -a SYS -n sys -o sys.creds
//! $NSC generate creds -a A -n U -o u.creds
//! SYS=$($NSC describe account -n SYS --field sub | tr -d '"')
//!
//! # 2. The account server: stores the account JWTs and tells the NATS
//! #    server about every update, as the system user.
//! rnats-account-server --operator ./nsc/stores/OP/OP.jwt --dir ./jwt \
//!     --host 127.0.0.1 --port 9090 \
//!     --nats nats://127.0.0.1:4222 --creds sys.creds &
//! #   prints: Listening on http://127.0.0.1:9090
//!
//! # 3. Push every account of the operator to it.
//! $NSC push -A -u http://127.0.0.1:9090/jwt/v1
//!
//! # 4. The server, trusting the operator and resolving accounts by URL.
//! cat > server.conf <<EOF
//! listen: 127.0.0.1:4222
//! operator: "./nsc/stores/OP/OP.jwt"
//! system_account: $SYS
//! resolver: URL("http://127.0.0.1:9090/jwt/v1/accounts/")
//! EOF
//! rnats-server -c server.conf &
//!
//! # 5. A client with the user's creds exchanges messages (here async-nats
//! #    with `ConnectOptions::credentials_file("u.creds")`).
//!
//! # 6. Revoke the user and push the account: the account server notifies
//! #    the server, which disconnects the user at once.
//! $NSC revocations add-user -a A -n U
//! $NSC push -a A -u http://127.0.0.1:9090/jwt/v1
//! ```
//!
//! The test uses free ports instead of 4222/9090 and a temporary directory.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;

const NSC: &str = env!("CARGO_BIN_EXE_rnats-nsc");
const ACCOUNT_SERVER: &str = env!("CARGO_BIN_EXE_rnats-account-server");
const SERVER: &str = env!("CARGO_BIN_EXE_rnats-server");

/// Child processes, killed (and reaped) on drop, also when a step panics.
#[derive(Default)]
struct Children(Vec<(&'static str, Child)>);

impl Children {
    fn add(&mut self, name: &'static str, c: Child) {
        self.0.push((name, c));
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        for (_, c) in self.0.iter_mut().rev() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// rnats-nsc on its own directories under `root`.
fn nsc(root: &Path, args: &[&str]) -> String {
    let out = Command::new(NSC)
        .env("HOME", root.join("home"))
        .env_remove("NSC_HOME")
        .env_remove("NKEYS_PATH")
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_DATA_HOME")
        .current_dir(root)
        .arg("--data-dir")
        .arg(root.join("nsc/stores"))
        .arg("--keystore-dir")
        .arg(root.join("nsc/keys"))
        .arg("--config-dir")
        .arg(root.join("nsc/config"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "rnats-nsc {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Waits until a NATS server answers with INFO on `port`.
fn wait_ready(port: u16, what: &mut Child, log: &PathBuf) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(s) = TcpStream::connect(("127.0.0.1", port)) {
            s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
            let mut head = [0u8; 5];
            if (&s).read_exact(&mut head).is_ok() && &head == b"INFO " {
                return;
            }
        }
        if let Ok(Some(st)) = what.try_wait() {
            panic!("rnats-server exited: {st}\n{}", read_log(log));
        }
        assert!(Instant::now() < deadline, "rnats-server did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn read_log(p: &PathBuf) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_walkthrough() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let mut children = Children::default();

    // 1. Operator, system account and user, account A and user U.
    nsc(root, &["add", "operator", "-n", "OP", "--sys"]);
    nsc(root, &["add", "account", "-n", "A"]);
    nsc(root, &["add", "user", "-a", "A", "-n", "U"]);
    nsc(
        root,
        &[
            "generate",
            "creds",
            "-a",
            "SYS",
            "-n",
            "sys",
            "-o",
            "sys.creds",
        ],
    );
    nsc(
        root,
        &["generate", "creds", "-a", "A", "-n", "U", "-o", "u.creds"],
    );
    let sys = nsc(
        root,
        &["describe", "account", "-n", "SYS", "--field", "sub"],
    );
    let sys = sys.trim().trim_matches('"').to_owned();
    assert!(sys.starts_with('A') && sys.len() == 56, "{sys:?}");
    let op_jwt = root.join("nsc/stores/OP/OP.jwt");
    assert!(op_jwt.exists());

    // 2. The account server, notifying the (not yet started) NATS server.
    let nats_port = common::free_port();
    let as_log = root.join("account-server.log");
    let mut acc_srv = Command::new(ACCOUNT_SERVER)
        .current_dir(root)
        .args(["--operator", "./nsc/stores/OP/OP.jwt", "--dir", "./jwt"])
        .args(["--host", "127.0.0.1", "--port", "0"])
        .args(["--nats", &format!("nats://127.0.0.1:{nats_port}")])
        .args(["--creds", "sys.creds"])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&as_log).unwrap())
        .spawn()
        .expect("start rnats-account-server");
    let stdout = acc_srv.stdout.take().unwrap();
    children.add("rnats-account-server", acc_srv);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let http = line
        .trim()
        .strip_prefix("Listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}; log: {}", read_log(&as_log)))
        .to_owned();

    // 3. Push all accounts.
    let push_url = format!("{http}/jwt/v1");
    nsc(root, &["push", "-A", "-u", &push_url]);
    for name in ["SYS", "A"] {
        let key = nsc(root, &["describe", "account", "-n", name, "--field", "sub"]);
        let key = key.trim().trim_matches('"');
        assert!(
            root.join("jwt").join(format!("{key}.jwt")).exists(),
            "{name} not stored by the account server"
        );
    }

    // 4. The NATS server.
    let conf = format!(
        "listen: 127.0.0.1:{nats_port}\n\
         operator: \"./nsc/stores/OP/OP.jwt\"\n\
         system_account: {sys}\n\
         resolver: URL(\"{http}/jwt/v1/accounts/\")\n"
    );
    std::fs::write(root.join("server.conf"), conf).unwrap();
    let srv_log = root.join("server.log");
    let srv = Command::new(SERVER)
        .current_dir(root)
        .args(["-c", "server.conf"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&srv_log).unwrap())
        .spawn()
        .expect("start rnats-server");
    children.add("rnats-server", srv);
    wait_ready(nats_port, &mut children.0.last_mut().unwrap().1, &srv_log);
    let logs = || {
        format!(
            "\n--- server log:\n{}\n--- account server log:\n{}",
            read_log(&srv_log),
            read_log(&as_log)
        )
    };

    // 5. The user's client exchanges a message.
    let (events_tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let client = async_nats::ConnectOptions::new()
        .credentials_file(root.join("u.creds"))
        .await
        .unwrap()
        .event_callback(move |e| {
            let tx = events_tx.clone();
            async move {
                let _ = tx.send(e);
            }
        })
        .connect(format!("nats://127.0.0.1:{nats_port}"))
        .await
        .unwrap_or_else(|e| panic!("user connects: {e}{}", logs()));
    let mut sub = client.subscribe("hello.>").await.unwrap();
    client.flush().await.unwrap();
    client.publish("hello.world", "hi".into()).await.unwrap();
    let m = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .expect("message within 5s")
        .unwrap();
    assert_eq!(
        (m.subject.as_str(), &m.payload[..]),
        ("hello.world", &b"hi"[..])
    );

    // 6. Revoke U and push A: the client is cut.
    nsc(root, &["revocations", "add-user", "-a", "A", "-n", "U"]);
    nsc(root, &["push", "-a", "A", "-u", &push_url]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(async_nats::Event::Disconnected)) => break,
            Ok(Some(e)) => seen.push(e.to_string()),
            Ok(None) => panic!("event stream ended; events {seen:?}{}", logs()),
            Err(_) => panic!(
                "client not disconnected within 10s; events {seen:?}{}",
                logs()
            ),
        }
    }
    // The server says why.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !read_log(&srv_log).contains("User Authentication Revoked") {
        assert!(Instant::now() < deadline, "no revocation logged{}", logs());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // It stays out: reconnecting with the revoked creds fails.
    let again = async_nats::ConnectOptions::new()
        .credentials_file(root.join("u.creds"))
        .await
        .unwrap()
        .connect(format!("nats://127.0.0.1:{nats_port}"))
        .await;
    assert!(again.is_err(), "revoked user logged in again");
    drop(client);
    drop(children);
}

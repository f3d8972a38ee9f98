//! Interop with the reference server: an operator (with `--sys`), accounts
//! and users made by rnats-nsc, and the config from `rnats-nsc generate
//! config`, are accepted by nats-server 2.15.1, and clients connect with the
//! generated creds (async-nats).
//!
//! The reference binary comes from `RNATS_REFERENCE_SERVER` (`.ci/run` sets
//! it from `../shared/bin/reference-server`). Without it every test here
//! prints "skipped: RNATS_REFERENCE_SERVER not set" and passes.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;

const NSC: &str = env!("CARGO_BIN_EXE_rnats-nsc");

fn reference() -> Option<PathBuf> {
    match std::env::var_os("RNATS_REFERENCE_SERVER").filter(|v| !v.is_empty()) {
        Some(p) => Some(PathBuf::from(p)),
        None => {
            println!("skipped: RNATS_REFERENCE_SERVER not set");
            eprintln!("skipped: RNATS_REFERENCE_SERVER not set");
            None
        }
    }
}

struct Nsc {
    dir: tempfile::TempDir,
}

impl Nsc {
    fn new() -> Nsc {
        Nsc {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(NSC)
            .env("HOME", self.path("home"))
            .env_remove("NSC_HOME")
            .env_remove("NKEYS_PATH")
            .arg("--data-dir")
            .arg(self.path("stores"))
            .arg("--keystore-dir")
            .arg(self.path("keys"))
            .arg("--config-dir")
            .arg(self.path("config"))
            .args(args)
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "rnats-nsc {args:?}:\n{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    fn creds(&self, acc: &str, user: &str) -> PathBuf {
        self.path(&format!("keys/creds/OP/{acc}/{user}.creds"))
    }

    /// Writes the server config: rnats-nsc's output plus a listen address.
    fn config(&self, kind: &str, port: u16) -> PathBuf {
        let conf = self.ok(&["generate", "config", kind, "--sys-account", "SYS"]);
        let p = self.path("server.conf");
        std::fs::write(&p, format!("{conf}\nlisten: \"127.0.0.1:{port}\"\n")).unwrap();
        p
    }
}

/// The reference server, killed when dropped.
struct Server {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Server {
    fn start(bin: &Path, conf: &Path, cwd: &Path, port: u16) -> Server {
        let log = cwd.join("server.log");
        let f = std::fs::File::create(&log).unwrap();
        let child = Command::new(bin)
            .arg("-c")
            .arg(conf)
            .current_dir(cwd)
            .stdout(Stdio::null())
            .stderr(f)
            .spawn()
            .unwrap();
        let mut s = Server { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = s.child.try_wait() {
                panic!("reference server exited ({status}):\n{}", s.log_text());
            }
            if let Ok(c) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                let mut line = String::new();
                c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                if BufReader::new(c).read_line(&mut line).is_ok() && line.starts_with("INFO") {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "server did not start:\n{}",
                s.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        s
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn connect(url: &str, creds: &Path) -> Result<async_nats::Client, async_nats::ConnectError> {
    async_nats::ConnectOptions::with_credentials_file(creds)
        .await
        .unwrap()
        .connection_timeout(Duration::from_secs(5))
        .connect(url)
        .await
}

/// Publishes on `subject` with `publisher` and tells whether `subscriber`
/// (subscribed to `sub_subject`) gets it.
///
/// The subscriber first receives its own probe on `sub_subject`: messages of
/// one connection are processed in order, so the subscription is then known
/// to be active on the server (flush only means "written to the socket", and
/// the server does not order two connections).
async fn round_trip(
    subscriber: &async_nats::Client,
    sub_subject: &str,
    publisher: &async_nats::Client,
    subject: &str,
) -> bool {
    let mut sub = subscriber.subscribe(sub_subject.to_string()).await.unwrap();
    let probe = sub_subject.replace(['>', '*'], "probe");
    subscriber.publish(probe, "probe".into()).await.unwrap();
    subscriber.flush().await.unwrap();
    let first = tokio::time::timeout(Duration::from_secs(3), sub.next())
        .await
        .expect("the subscriber's own probe arrives")
        .unwrap();
    assert_eq!(first.payload.as_ref(), b"probe");
    publisher
        .publish(subject.to_string(), "hello".into())
        .await
        .unwrap();
    publisher.flush().await.unwrap();
    match tokio::time::timeout(Duration::from_secs(1), sub.next()).await {
        Ok(Some(m)) => {
            assert_eq!(m.payload.as_ref(), b"hello");
            true
        }
        _ => false,
    }
}

#[tokio::test]
async fn mem_resolver_operator_account_user() {
    let Some(bin) = reference() else { return };
    let nsc = Nsc::new();
    nsc.ok(&["add", "operator", "-n", "OP", "--sys"]);
    nsc.ok(&["add", "account", "-n", "A"]);
    nsc.ok(&["add", "user", "-a", "A", "-n", "U"]);
    let port = common::free_port();
    let conf = nsc.config("--mem-resolver", port);
    let server = Server::start(&bin, &conf, nsc.dir.path(), port);

    let client = connect(&server.url(), &nsc.creds("A", "U"))
        .await
        .expect("user U connects");
    assert!(
        round_trip(&client, "greet.>", &client, "greet.world").await,
        "{}",
        server.log_text()
    );

    // The system account user works too: the server knows SYS as system account.
    let sys = connect(&server.url(), &nsc.creds("SYS", "sys"))
        .await
        .expect("sys connects");
    let reply = tokio::time::timeout(
        Duration::from_secs(3),
        sys.request("$SYS.REQ.SERVER.PING", "".into()),
    )
    .await
    .expect("ping answered in time")
    .expect("ping answered");
    let v: serde_json::Value = serde_json::from_slice(&reply.payload).unwrap();
    assert!(v["server"]["id"].as_str().unwrap().starts_with('N'));

    // A creds file of a user unknown to the account is refused.
    let other = Nsc::new();
    other.ok(&["add", "operator", "-n", "OP"]);
    other.ok(&["add", "account", "-n", "A"]);
    other.ok(&["add", "user", "-a", "A", "-n", "U"]);
    assert!(connect(&server.url(), &other.creds("A", "U"))
        .await
        .is_err());
}

#[tokio::test]
async fn permissions_scoped_keys_and_revocation() {
    let Some(bin) = reference() else { return };
    let nsc = Nsc::new();
    nsc.ok(&["add", "operator", "-n", "OP", "--sys"]);
    nsc.ok(&["add", "account", "-n", "A"]);
    nsc.ok(&["add", "user", "-a", "A", "-n", "admin"]);
    nsc.ok(&[
        "add",
        "user",
        "-a",
        "A",
        "-n",
        "limited",
        "--allow-pub",
        "ok.>",
        "--allow-sub",
        "_INBOX.>",
    ]);
    nsc.ok(&["edit", "account", "-n", "A", "--sk", "generate"]);
    let ac = rnats::jwt::decode_account(
        &std::fs::read_to_string(nsc.path("stores/OP/accounts/A/A.jwt")).unwrap(),
    )
    .unwrap();
    let sk = ac.nats.signing_keys.keys().next().unwrap().to_string();
    nsc.ok(&[
        "edit",
        "signing-key",
        "-a",
        "A",
        "--sk",
        &sk,
        "--role",
        "svc",
        "--allow-pub",
        "svc.{{name()}}.>",
    ]);
    nsc.ok(&["add", "user", "-a", "A", "-n", "worker", "-K", "svc"]);
    nsc.ok(&["add", "user", "-a", "A", "-n", "gone"]);
    nsc.ok(&["revocations", "add-user", "-a", "A", "-n", "gone"]);
    let port = common::free_port();
    let conf = nsc.config("--mem-resolver", port);
    let server = Server::start(&bin, &conf, nsc.dir.path(), port);
    let url = server.url();

    let admin = connect(&url, &nsc.creds("A", "admin")).await.unwrap();
    let limited = connect(&url, &nsc.creds("A", "limited")).await.unwrap();
    assert!(
        round_trip(&admin, "ok.>", &limited, "ok.1").await,
        "{}",
        server.log_text()
    );
    assert!(
        !round_trip(&admin, "no.>", &limited, "no.1").await,
        "publish outside the allow list must not arrive"
    );

    // The scoped user gets the template, with {{name()}} expanded.
    let worker = connect(&url, &nsc.creds("A", "worker"))
        .await
        .expect("scoped user connects");
    assert!(
        round_trip(&admin, "svc.>", &worker, "svc.worker.job").await,
        "{}",
        server.log_text()
    );
    assert!(!round_trip(&admin, "svc.>", &worker, "svc.other.job").await);

    // The revoked user is refused.
    assert!(connect(&url, &nsc.creds("A", "gone")).await.is_err());
}

#[tokio::test]
async fn private_export_with_activation() {
    let Some(bin) = reference() else { return };
    let nsc = Nsc::new();
    nsc.ok(&["add", "operator", "-n", "OP", "--sys"]);
    nsc.ok(&["add", "account", "-n", "A"]);
    nsc.ok(&["add", "account", "-n", "B"]);
    nsc.ok(&["add", "user", "-a", "A", "-n", "pub"]);
    nsc.ok(&["add", "user", "-a", "B", "-n", "sub"]);
    nsc.ok(&["add", "export", "-a", "A", "-s", "feed.>", "--private"]);
    let tok = nsc.path("activation.jwt");
    nsc.ok(&[
        "generate",
        "activation",
        "-a",
        "A",
        "--target-account",
        "B",
        "-s",
        "feed.>",
        "-o",
        tok.to_str().unwrap(),
    ]);
    nsc.ok(&[
        "add",
        "import",
        "-a",
        "B",
        "--token",
        tok.to_str().unwrap(),
        "-s",
        "imported.>",
    ]);
    let port = common::free_port();
    let conf = nsc.config("--mem-resolver", port);
    let server = Server::start(&bin, &conf, nsc.dir.path(), port);
    let a = connect(&server.url(), &nsc.creds("A", "pub"))
        .await
        .unwrap();
    let b = connect(&server.url(), &nsc.creds("B", "sub"))
        .await
        .unwrap();
    assert!(
        round_trip(&b, "imported.>", &a, "feed.x").await,
        "{}",
        server.log_text()
    );
}

#[tokio::test]
async fn push_to_nats_resolver() {
    let Some(bin) = reference() else { return };
    let nsc = Nsc::new();
    nsc.ok(&["add", "operator", "-n", "OP", "--sys"]);
    let port = common::free_port();
    nsc.ok(&[
        "edit",
        "operator",
        "-u",
        &format!("nats://127.0.0.1:{port}"),
    ]);
    let conf = nsc.config("--nats-resolver", port);
    let server = Server::start(&bin, &conf, nsc.dir.path(), port);
    // Accounts made after the server started reach it only by push.
    nsc.ok(&["add", "account", "-n", "C"]);
    nsc.ok(&["add", "user", "-a", "C", "-n", "U"]);
    assert!(connect(&server.url(), &nsc.creds("C", "U")).await.is_err());
    nsc.ok(&["push", "-a", "C"]);
    let c = connect(&server.url(), &nsc.creds("C", "U"))
        .await
        .expect("pushed account is known");
    assert!(round_trip(&c, "x", &c, "x").await);
    // An edit pushed later (revocation) applies too.
    nsc.ok(&["add", "user", "-a", "C", "-n", "V"]);
    nsc.ok(&["revocations", "add-user", "-a", "C", "-n", "V"]);
    nsc.ok(&["push", "--all"]);
    assert!(connect(&server.url(), &nsc.creds("C", "V")).await.is_err());
    assert!(connect(&server.url(), &nsc.creds("C", "U")).await.is_ok());
    assert!(nsc.path("jwt").is_dir(), "{}", server.log_text());
}

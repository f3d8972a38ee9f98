//! The `rnats-server` binary: flags, config testing, start-up, logging and
//! graceful shutdown on SIGTERM/SIGINT.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_rnats-server");

/// Waits until the server accepts connections and sends INFO.
fn wait_ready(port: u16) -> TcpStream {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(s) = TcpStream::connect(("127.0.0.1", port)) {
            s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
            let mut head = [0u8; 5];
            if (&s).read_exact(&mut head).is_ok() && &head == b"INFO " {
                return s;
            }
        }
        assert!(Instant::now() < deadline, "server did not come up");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `rnats-server -t -c <conf>`: what checking the config says.
fn test_config(conf: &std::path::Path) -> std::process::Output {
    Command::new(BIN)
        .arg("-t")
        .arg("-c")
        .arg(conf)
        .output()
        .unwrap()
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        assert!(Instant::now() < deadline, "server did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn version_and_help() {
    let out = Command::new(BIN).arg("--version").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("2.15.1"));
    let out = Command::new(BIN).arg("-h").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--config"));
    let out = Command::new(BIN).arg("--bogus").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("flag provided but not defined: -bogus"));
}

#[test]
fn test_config_flag_reports_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.conf");
    std::fs::write(&good, "port: 4999\nmax_payload: 2KB\n").unwrap();
    let out = test_config(&good);
    assert!(out.status.success(), "{out:?}");

    let bad = dir.path().join("bad.conf");
    std::fs::write(&bad, "port: 4999\n\nmax_payload: \"lots\"\n").unwrap();
    let out = test_config(&bad);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.conf") && err.contains(":3:") && err.contains("max_payload"),
        "{err}"
    );

    let inconsistent = dir.path().join("inc.conf");
    std::fs::write(&inconsistent, "max_payload: 2MB\nmax_pending: 1MB\n").unwrap();
    let out = test_config(&inconsistent);
    assert!(!out.status.success());
}

#[test]
fn flags_override_config_and_sigterm_shuts_down_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let conf = dir.path().join("s.conf");
    // The file asks for another port; the flag wins.
    std::fs::write(
        &conf,
        format!(
            "listen: 127.0.0.1:{}\nmax_payload: 4096\n",
            common::free_port()
        ),
    )
    .unwrap();
    let log = dir.path().join("server.log");
    let pid = dir.path().join("server.pid");
    let mut child = Command::new(BIN)
        .arg("-c")
        .arg(&conf)
        .args(["-p", &port.to_string(), "-D"])
        .arg("-l")
        .arg(&log)
        .arg("-P")
        .arg(&pid)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut s = wait_ready(port);
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut info = String::new();
    r.read_line(&mut info).unwrap();
    assert!(info.contains("\"max_payload\":4096"), "{info}");
    assert_eq!(
        std::fs::read_to_string(&pid).unwrap().trim(),
        child.id().to_string()
    );
    s.write_all(b"CONNECT {\"verbose\":false}\r\nPING\r\n")
        .unwrap();
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    assert_eq!(line, "PONG\r\n");

    signal(&child, "-TERM");
    // The client sees its connection closed, the process exits cleanly and
    // removes its pid file.
    let mut rest = Vec::new();
    let _ = r.read_to_end(&mut rest);
    assert!(wait_exit(&mut child).success());
    assert!(!pid.exists());
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("[INF] Server is ready"), "{logged}");
    assert!(
        logged.contains("[DBG]") && logged.contains("Client connection created"),
        "{logged}"
    );
    assert!(logged.contains("Server Exiting"), "{logged}");
}

#[test]
fn sigint_also_shuts_down() {
    let port = common::free_port();
    let mut child = Command::new(BIN)
        .args(["-a", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_ready(port);
    signal(&child, "-INT");
    assert!(wait_exit(&mut child).success());
}

#[test]
fn every_example_config_passes_the_binary_check() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "conf") {
            let out = test_config(&path);
            assert!(out.status.success(), "{}: {:?}", path.display(), out);
            n += 1;
        }
    }
    assert!(n >= 2);
}

#[test]
fn unenforced_security_settings_stop_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("https.conf");
    std::fs::write(&conf, "port: 4999\nhttps_port: 8443\n").unwrap();
    let out = Command::new(BIN).arg("-c").arg(&conf).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("https.conf:2:") && err.contains("not supported"),
        "{err}"
    );
}

#[test]
fn unusable_tls_settings_stop_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("tls.conf");
    std::fs::write(&conf, "port: 4999\ntls {\n  cert_file: x.pem\n}\n").unwrap();
    let out = Command::new(BIN).arg("-c").arg(&conf).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("tls.conf:2:1: missing 'key_file' in TLS configuration"),
        "{err}"
    );
    std::fs::write(
        &conf,
        "port: 4999\ntls {\n  cert_file: x.pem\n  key_file: y.pem\n}\n",
    )
    .unwrap();
    let out = test_config(&conf);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("tls.conf:3:3: error parsing X509 certificate/key pair: open x.pem"),
        "{err}"
    );
}

#[test]
fn feature_blocks_rnats_does_not_run_stop_the_server() {
    let dir = tempfile::tempdir().unwrap();
    for (body, line, what) in [
        (
            "websocket {\n  port: 8080\n}\n",
            2,
            "websocket requires TLS configuration",
        ),
        ("mqtt { port: 1883 }\n", 2, "MQTT"),
        (
            "cluster {\n  port: 6222\n  tls { bogus: 1 }\n}\n",
            4,
            "unknown field",
        ),
        ("leafnodes { port: 7422 }\n", 2, "leaf nodes"),
        ("jetstream: enabled\n", 2, "JetStream is not available"),
        (
            "jetstream { store_dir: /tmp/x }\n",
            2,
            "JetStream is not available",
        ),
    ] {
        let conf = dir.path().join("f.conf");
        std::fs::write(&conf, format!("port: 4999\n{body}")).unwrap();
        // `-t` says what start-up would.
        for test_only in [true, false] {
            let mut cmd = Command::new(BIN);
            if test_only {
                cmd.arg("-t");
            }
            let out = cmd.arg("-c").arg(&conf).output().unwrap();
            assert!(!out.status.success(), "{body}");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains(&format!("f.conf:{line}:")) && err.contains(what),
                "{body}: {err}"
            );
        }
    }
    // JetStream turned off asks for nothing; an ignored tuning key warns.
    let conf = dir.path().join("ok.conf");
    std::fs::write(&conf, "port: 4999\njetstream: disabled\nprof_port: 6060\n").unwrap();
    let out = test_config(&conf);
    assert!(out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning")
            && err.contains("\"prof_port\" is not supported by rnats and is ignored"),
        "{err}"
    );
}

#[test]
fn jetstream_flag_is_refused_cluster_flags_checked_and_store_dir_ignored() {
    let out = Command::new(BIN).args(["-js", "-t"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("JetStream is not available"));
    // Cluster flags are accepted; their URLs are checked as they are read.
    let out = Command::new(BIN)
        .args([
            "--cluster",
            "nats://127.0.0.1:-1",
            "--routes",
            "nats://127.0.0.1:6222",
            "--cluster_name",
            "C1",
            "-t",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let out = Command::new(BIN)
        .args(["--cluster", "nats://ruser@127.0.0.1:6222", "-t"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected cluster password to be set"));
    let out = Command::new(BIN)
        .args(["-sd", "/tmp/js", "-t"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--store_dir \"/tmp/js\" is ignored"));
    let help = Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--tlscert <file>",
        "--tlsverify",
        "-sd, --store_dir",
        "--routes",
        "--cluster_name",
    ] {
        assert!(help.contains(flag), "{flag} in --help");
    }
}

#[test]
fn tls_flags_replace_the_tls_block() {
    // Without a certificate: nats-server's text.
    let out = Command::new(BIN).args(["--tls", "-t"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("TLS Server certificate must be present and valid"));
    let out = Command::new(BIN)
        .args(["--tlscert", "x.pem", "-t"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("TLS Server private key must be present and valid"));
    // With the fixture certificate a client must speak TLS.
    let cert = |n: &str| {
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/certs")
            .join(n)
            .display()
            .to_string()
    };
    let port = common::free_port();
    let mut child = Command::new(BIN)
        .args(["-a", "127.0.0.1", "-p", &port.to_string(), "--tlscert"])
        .arg(cert("server.pem"))
        .arg("--tlskey")
        .arg(cert("server-key.pem"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let s = wait_ready(port);
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).unwrap();
    assert!(line.contains("\"tls_required\":true"), "{line}");
    let _ = child.kill();
    let _ = child.wait();
}

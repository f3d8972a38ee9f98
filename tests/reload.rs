//! Config reload (SIGHUP, `--signal reload`), log reopen (SIGUSR1) and lame
//! duck mode (SIGUSR2) against the `rnats-server` binary.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use common::process::{Server, BIN};

/// A raw protocol client.
struct Client {
    w: TcpStream,
    r: BufReader<TcpStream>,
}

impl Client {
    /// Connects and logs in (`user`/`pass` when given), protocol 1.
    fn connect(port: u16, user: Option<(&str, &str)>) -> std::io::Result<Client> {
        let w = TcpStream::connect(("127.0.0.1", port))?;
        w.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut c = Client {
            r: BufReader::new(w.try_clone()?),
            w,
        };
        let info = c.line()?;
        assert!(info.starts_with("INFO "), "{info}");
        let creds = match user {
            Some((u, p)) => format!(",\"user\":\"{u}\",\"pass\":\"{p}\""),
            None => String::new(),
        };
        c.send(&format!(
            "CONNECT {{\"verbose\":false,\"pedantic\":false,\"protocol\":1{creds}}}\r\nPING\r\n"
        ));
        Ok(c)
    }

    /// [`Client::connect`], then expects the PONG (and the INFO that
    /// follows the first PING with protocol 1).
    fn login(port: u16, user: Option<(&str, &str)>) -> Client {
        let mut c = Client::connect(port, user).unwrap();
        c.expect("PONG");
        let info = c.expect("INFO");
        assert!(info.contains("\"connect_info\":true"), "{info}");
        c
    }

    fn send(&mut self, s: &str) {
        self.w.write_all(s.as_bytes()).unwrap();
    }

    fn line(&mut self) -> std::io::Result<String> {
        let mut l = String::new();
        if self.r.read_line(&mut l)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        Ok(l.trim_end().to_owned())
    }

    /// Reads lines until one starts with `prefix` (skipping INFO, PING is
    /// answered); panics after 5s.
    fn expect(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            assert!(Instant::now() < deadline, "no {prefix:?}");
            let l = self
                .line()
                .unwrap_or_else(|e| panic!("waiting for {prefix:?}: {e}"));
            if l.starts_with(prefix) {
                return l;
            }
            if l == "PING" {
                self.send("PONG\r\n");
            }
        }
    }

    /// A round trip: every line before the PONG.
    fn ping(&mut self) -> Vec<String> {
        self.send("PING\r\n");
        let mut seen = Vec::new();
        loop {
            let l = self.line().expect("connection alive");
            if l == "PONG" {
                return seen;
            }
            seen.push(l);
        }
    }

    /// Whether the server closes the connection within 5s (lines before
    /// the end are returned).
    fn wait_closed(&mut self) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut seen = Vec::new();
        loop {
            assert!(Instant::now() < deadline, "not closed; saw {seen:?}");
            match self.line() {
                Ok(l) => seen.push(l),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(_) => return seen,
            }
        }
    }
}

const USERS_AB: &str = r#"
authorization {
  users: [
    { user: a, password: a, permissions: { publish: ["foo.>", "bar"], subscribe: ["foo.>", "bar"] } }
    { user: b, password: b }
  ]
}
"#;

#[test]
fn tightened_permissions_remove_subscriptions_and_refuse_publishes() {
    let s = Server::start(USERS_AB, &[]);
    let mut a = Client::login(s.port, Some(("a", "a")));
    let mut b = Client::login(s.port, Some(("b", "b")));
    a.send("SUB foo.x 1\r\nSUB bar 2\r\n");
    assert!(a.ping().is_empty());

    s.write_conf(&USERS_AB.replace(
        r#"publish: ["foo.>", "bar"], subscribe: ["foo.>", "bar"]"#,
        r#"publish: ["foo.>"], subscribe: ["foo.>"]"#,
    ));
    let log = s.reload();
    assert!(log.contains("Reloaded server configuration"), "{log}");
    assert_eq!(
        a.expect("-ERR"),
        r#"-ERR 'Permissions Violation for Subscription to "bar" (sid "2")'"#
    );
    assert!(
        log.contains(r#"Removed sub "bar" (sid "2") for "a" - not authorized"#) || {
            let l = s.wait_log("Removed sub", 1);
            l.contains(r#"Removed sub "bar" (sid "2") for "a" - not authorized"#)
        }
    );

    // Publishing to bar is refused now; foo.> still works both ways.
    a.send("PUB bar 2\r\nhi\r\n");
    assert_eq!(
        a.expect("-ERR"),
        r#"-ERR 'Permissions Violation for Publish to "bar"'"#
    );
    b.send("PUB bar 2\r\nno\r\nPUB foo.x 3\r\nyes\r\n");
    assert!(b.ping().is_empty());
    assert_eq!(a.expect("MSG"), "MSG foo.x 1 3");
    assert_eq!(a.line().unwrap(), "yes");
    // Nothing from bar was delivered to `a`.
    assert!(a.ping().is_empty());
    // A new subscription to bar is refused with the new permissions.
    a.send("SUB bar 3\r\n");
    let seen = a.ping();
    assert!(
        seen.iter()
            .any(|l| l.contains(r#"Permissions Violation for Subscription to "bar""#)),
        "{seen:?}"
    );
}

#[test]
fn removed_user_is_disconnected_others_stay() {
    let s = Server::start(USERS_AB, &[]);
    let mut a = Client::login(s.port, Some(("a", "a")));
    let mut b = Client::login(s.port, Some(("b", "b")));
    b.send("SUB foo.> 1\r\n");
    assert!(b.ping().is_empty());
    s.write_conf(&USERS_AB.replace("{ user: b, password: b }", ""));
    let log = s.reload();
    assert!(log.contains("Reloaded server configuration"), "{log}");
    let seen = b.wait_closed();
    assert!(
        seen.iter().any(|l| l == "-ERR 'Authorization Violation'"),
        "{seen:?}"
    );
    // `a` keeps its connection; `b` can no longer log in.
    assert!(a.ping().is_empty());
    let mut b2 = Client::connect(s.port, Some(("b", "b"))).unwrap();
    let seen = b2.wait_closed();
    assert!(
        seen.iter().any(|l| l == "-ERR 'Authorization Violation'"),
        "{seen:?}"
    );
}

#[test]
fn broken_or_restart_only_config_is_refused_and_old_one_stays() {
    let s = Server::start(USERS_AB, &[]);
    let mut a = Client::login(s.port, Some(("a", "a")));
    a.send("SUB bar 1\r\n");
    assert!(a.ping().is_empty());

    // A syntax error: refused with the file and line, nothing changes.
    std::fs::write(
        s.conf(),
        format!(
            "host: 127.0.0.1\nport: {}\nauthorization {{\n  users: [ {{ user: a password: \n",
            s.port
        ),
    )
    .unwrap();
    let log = s.reload();
    let line = log
        .lines()
        .find(|l| l.contains("Failed to reload server configuration"))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(line.contains("[ERR]"), "{line}");
    assert!(line.contains("server.conf:"), "{line}");
    assert!(a.ping().is_empty());
    a.send("PUB bar 2\r\nok\r\n");
    assert_eq!(a.expect("MSG"), "MSG bar 1 2");
    assert_eq!(a.line().unwrap(), "ok");
    let mut again = Client::login(s.port, Some(("a", "a")));
    assert!(again.ping().is_empty());

    // A port change needs a restart: refused in nats-server's words.
    std::fs::write(
        s.conf(),
        format!(
            "host: 127.0.0.1\nport: {}\n{USERS_AB}\n",
            common::free_port()
        ),
    )
    .unwrap();
    let log = s.reload();
    assert!(
        log.contains(
            "Failed to reload server configuration: config reload not supported for Port: old="
        ),
        "{log}"
    );
    // An invalid users block (checked by the auth pipeline) is refused too.
    s.write_conf("authorization { token: t, users: [ { user: x, password: y } ] }");
    let log = s.reload();
    assert!(
        log.contains("Can not have a token and a users array"),
        "{log}"
    );
    assert!(a.ping().is_empty());
    let mut third = Client::login(s.port, Some(("b", "b")));
    assert!(third.ping().is_empty());
}

#[test]
fn lame_duck_refuses_new_clients_notifies_and_closes_the_rest() {
    let mut s = Server::start(
        "lame_duck_duration: \"30s\"\nlame_duck_grace_period: \"1s\"\n",
        &[],
    );
    let mut c1 = Client::login(s.port, None);
    let mut c2 = Client::login(s.port, None);
    let started = Instant::now();
    s.signal("-USR2");
    for c in [&mut c1, &mut c2] {
        let info = c.expect("INFO");
        assert!(info.contains("\"ldm\":true"), "{info}");
    }
    // The listener is closed: new connections are refused.
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(("127.0.0.1", s.port)).is_ok() {
        assert!(Instant::now() < deadline, "still accepting");
        std::thread::sleep(Duration::from_millis(20));
    }
    // After the 1s grace period, clients are closed at most 1s apart.
    c1.wait_closed();
    c2.wait_closed();
    let status = s.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let log = s.log_text();
    for line in [
        "Entering lame duck mode, stop accepting new clients",
        "Closing existing clients",
        "Server Exiting..",
    ] {
        assert!(log.contains(line), "{line:?} not in\n{log}");
    }
}

#[test]
fn signal_flag_reloads_and_quits_through_the_pid_file() {
    let pid_dir = tempfile::tempdir().unwrap();
    let dir_pid = pid_dir.path().join("rnats.pid");
    let mut s = Server::start("", &["-P", dir_pid.to_str().unwrap()]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::fs::read_to_string(&dir_pid).unwrap_or_default().trim() != s.child.id().to_string() {
        assert!(Instant::now() < deadline, "pid file not written");
        std::thread::sleep(Duration::from_millis(20));
    }
    s.write_conf("debug: true");
    let out = Command::new(BIN)
        .args(["--signal", "reload", "-P", dir_pid.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let log = s.wait_log("Reloaded server configuration", 1);
    assert!(log.contains("Reloaded: debug = true"), "{log}");

    // `=<pid file>` and `=<pid>` name the process too.
    let out = Command::new(BIN)
        .arg(format!("--signal=reload={}", dir_pid.display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    s.wait_log("Reloaded server configuration", 2);
    let out = Command::new(BIN)
        .args(["-sl", "bogus", "-P", dir_pid.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown signal \"bogus\""));
    let out = Command::new(BIN)
        .args(["-sl", &format!("quit={}", s.child.id())])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(s.wait_exit(Duration::from_secs(10)).success());
    assert!(!dir_pid.exists(), "pid file removed on exit");
}

#[test]
fn sigusr1_reopens_the_log_file() {
    let s = Server::start("", &[]);
    let rotated = s.path("server.log.1");
    std::fs::rename(s.log(), &rotated).unwrap();
    s.signal("-USR1");
    let log = s.wait_log("File log re-opened", 1);
    assert!(
        log.contains("Trapped \"user defined signal 1\" signal") || {
            // The trap line went to the old file, before the reopen.
            std::fs::read_to_string(&rotated)
                .unwrap()
                .contains("Trapped \"user defined signal 1\" signal")
        }
    );
    // Later lines go to the new file, not the rotated one.
    let old_len = std::fs::metadata(&rotated).unwrap().len();
    s.reload();
    assert!(s.log_text().contains("Reloaded server configuration"));
    assert_eq!(std::fs::metadata(&rotated).unwrap().len(), old_len);
}

#[test]
fn reload_changes_logging_and_limits_for_new_connections() {
    let s = Server::start("max_payload: 1024", &[]);
    let mut c = Client::login(s.port, None);
    s.write_conf("max_payload: 2048\ndebug: true\nmax_connections: 1");
    let log = s.reload();
    assert!(log.contains("Reloaded: max_payload = 2048"), "{log}");
    assert!(log.contains("Reloaded: debug = true"), "{log}");
    assert!(log.contains("Reloaded: max_connections = 1"), "{log}");
    // The live client stays (it is the one connection allowed) ...
    assert!(c.ping().is_empty());
    // ... a second one is over the new limit.
    let mut extra = Client::connect(s.port, None).unwrap();
    let seen = extra.wait_closed();
    assert!(
        seen.iter()
            .any(|l| l.contains("maximum connections exceeded")),
        "{seen:?}"
    );
    // New connections are told the new max_payload.
    s.write_conf("max_payload: 2048\ndebug: true");
    s.reload();
    let mut fresh = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    fresh
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut r = BufReader::new(fresh.try_clone().unwrap());
    let mut info = String::new();
    r.read_line(&mut info).unwrap();
    assert!(info.contains("\"max_payload\":2048"), "{info}");
    let _ = fresh.write_all(b"PING\r\n");
    // Debug lines now reach the log.
    s.wait_log("[DBG]", 1);
}

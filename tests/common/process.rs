//! An `rnats-server` process for tests that need signals (reload, log
//! reopen, lame duck): started with a config file and a log file on a free
//! loopback port, killed when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_rnats-server");

/// A server process killed when the test ends, whatever happens.
pub struct Server {
    pub child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts the binary with `conf` (the port and a log file are added).
    pub fn start(body: &str, extra: &[&str]) -> Server {
        Server::try_start(body, extra).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Server::start`] for a config the server may refuse: the error
    /// output and log when the process exits before it is ready.
    pub fn try_start(body: &str, extra: &[&str]) -> Result<Server, String> {
        let dir = tempfile::tempdir().unwrap();
        let port = super::free_port();
        let conf = dir.path().join("server.conf");
        let log = dir.path().join("server.log");
        let stderr = std::fs::File::create(dir.path().join("server.stderr")).unwrap();
        write_conf(&conf, port, body);
        let child = Command::new(BIN)
            .arg("-c")
            .arg(&conf)
            .arg("-l")
            .arg(&log)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let mut s = Server { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !s.log_text().contains("Server is ready") {
            if let Some(status) = s.child.try_wait().unwrap() {
                let err = std::fs::read_to_string(s.path("server.stderr")).unwrap_or_default();
                return Err(format!(
                    "server exited ({status}) before it was ready:\n{err}{}",
                    s.log_text()
                ));
            }
            if Instant::now() >= deadline {
                return Err(format!("server not ready after 10s:\n{}", s.log_text()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(s)
    }

    pub fn conf(&self) -> PathBuf {
        self.dir.path().join("server.conf")
    }

    pub fn log(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes the config with `host` and `port` prepended.
    pub fn write_conf(&self, body: &str) {
        write_conf(&self.conf(), self.port, body);
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig}");
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.log()).unwrap_or_default()
    }

    /// Waits until `needle` occurs at least `n` times in the log.
    pub fn wait_log(&self, needle: &str, n: usize) -> String {
        wait_file(&self.log(), needle, n)
    }

    /// Sends SIGHUP and waits for the outcome (`Reloaded server
    /// configuration` or `Failed to reload`); returns the log.
    pub fn reload(&self) -> String {
        let before = self.log_text();
        let ok = before.matches("Reloaded server configuration").count();
        let failed = before.matches("Failed to reload").count();
        self.signal("-HUP");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = self.log_text();
            if log.matches("Reloaded server configuration").count() > ok
                || log.matches("Failed to reload").count() > failed
            {
                return log;
            }
            assert!(Instant::now() < deadline, "no reload outcome:\n{log}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn wait_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "server did not exit:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

pub fn write_conf(path: &Path, port: u16, body: &str) {
    let text = format!("host: 127.0.0.1\nport: {port}\n{body}\n");
    std::fs::write(path, text).unwrap();
}

pub fn wait_file(path: &Path, needle: &str, n: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.matches(needle).count() >= n {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{needle:?} x{n} not in {}:\n{text}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

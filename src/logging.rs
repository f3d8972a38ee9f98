//! Log lines in nats-server's format, to stderr or a file:
//! `[pid] 2006/01/02 15:04:05.000000 [INF] message`.
//!
//! `-D` enables `[DBG]` lines, `-V` `[TRC]` lines, `-T=false` drops the
//! timestamp. Only this crate's records are written: dependencies' internal
//! logging is not part of the server's log.

use parking_lot::Mutex;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use crate::config::Options;

/// Where log lines go.
enum Sink {
    Stderr,
    File { path: PathBuf, file: File },
}

struct Logger {
    pid: u32,
    time: bool,
    utc: bool,
    level: log::LevelFilter,
    sink: Mutex<Sink>,
}

static LOGGER: OnceLock<Arc<Logger>> = OnceLock::new();

struct Forward(Arc<Logger>);

impl log::Log for Forward {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= self.0.level && m.target().starts_with("rnats")
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let tag = match record.level() {
            log::Level::Error => "[ERR]",
            log::Level::Warn => "[WRN]",
            log::Level::Info => "[INF]",
            log::Level::Debug => "[DBG]",
            log::Level::Trace => "[TRC]",
        };
        let line = if self.0.time {
            const FMT: &str = "%Y/%m/%d %H:%M:%S%.6f";
            let ts = if self.0.utc {
                chrono::Utc::now().format(FMT).to_string()
            } else {
                chrono::Local::now().format(FMT).to_string()
            };
            format!("[{}] {ts} {tag} {}\n", self.0.pid, record.args())
        } else {
            format!("[{}] {tag} {}\n", self.0.pid, record.args())
        };
        self.write_line(line);
    }

    fn flush(&self) {
        if let Sink::File { file, .. } = &mut *self.0.sink.lock() {
            let _ = file.flush();
        }
    }
}

impl Forward {
    fn write_line(&self, line: String) {
        match &mut *self.0.sink.lock() {
            Sink::Stderr => {
                let _ = std::io::stderr().write_all(line.as_bytes());
            }
            Sink::File { file, .. } => {
                let _ = file.write_all(line.as_bytes());
            }
        }
    }
}

fn open_log(path: &PathBuf) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// Installs the logger for these options. Later calls only report an error:
/// the level and sink are fixed for the process (use [`reopen`] to rotate).
///
/// # Errors
/// When the log file cannot be opened.
pub fn init(opts: &Options) -> std::io::Result<()> {
    let sink = match &opts.log_file {
        Some(path) => Sink::File {
            path: path.clone(),
            file: open_log(path)?,
        },
        None => Sink::Stderr,
    };
    let level = if opts.trace {
        log::LevelFilter::Trace
    } else if opts.debug {
        log::LevelFilter::Debug
    } else {
        log::LevelFilter::Info
    };
    let logger = Arc::new(Logger {
        pid: std::process::id(),
        time: opts.logtime,
        utc: opts.logtime_utc,
        level,
        sink: Mutex::new(sink),
    });
    if LOGGER.set(logger.clone()).is_ok() {
        log::set_max_level(level);
        let _ = log::set_boxed_logger(Box::new(Forward(logger)));
    }
    Ok(())
}

/// Reopens the log file (after rotation by an external tool).
///
/// # Errors
/// When the file cannot be reopened; the old handle stays in use.
pub fn reopen() -> std::io::Result<()> {
    if let Some(l) = LOGGER.get() {
        if let Sink::File { path, file } = &mut *l.sink.lock() {
            *file = open_log(path)?;
        }
    }
    Ok(())
}

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

/// What can change on reload: the level, the timestamp format and the sink.
struct Settings {
    time: bool,
    utc: bool,
    level: log::LevelFilter,
}

struct Logger {
    pid: u32,
    settings: parking_lot::RwLock<Settings>,
    sink: Mutex<Sink>,
}

static LOGGER: OnceLock<Arc<Logger>> = OnceLock::new();

struct Forward(Arc<Logger>);

impl log::Log for Forward {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= self.0.settings.read().level && m.target().starts_with("rnats")
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
        let (time, utc) = {
            let s = self.0.settings.read();
            (s.time, s.utc)
        };
        let line = if time {
            const FMT: &str = "%Y/%m/%d %H:%M:%S%.6f";
            let ts = if utc {
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

fn sink_for(opts: &Options) -> std::io::Result<Sink> {
    Ok(match &opts.log_file {
        Some(path) => Sink::File {
            path: path.clone(),
            file: open_log(path)?,
        },
        None => Sink::Stderr,
    })
}

fn settings_for(opts: &Options) -> Settings {
    let level = if opts.trace {
        log::LevelFilter::Trace
    } else if opts.debug {
        log::LevelFilter::Debug
    } else {
        log::LevelFilter::Info
    };
    Settings {
        time: opts.logtime,
        utc: opts.logtime_utc,
        level,
    }
}

/// Installs the logger for these options. A second call reconfigures the
/// installed logger, as [`reconfigure`] does.
///
/// # Errors
/// When the log file cannot be opened.
pub fn init(opts: &Options) -> std::io::Result<()> {
    if LOGGER.get().is_some() {
        return reconfigure(opts);
    }
    let sink = sink_for(opts)?;
    let settings = settings_for(opts);
    let level = settings.level;
    let logger = Arc::new(Logger {
        pid: std::process::id(),
        settings: parking_lot::RwLock::new(settings),
        sink: Mutex::new(sink),
    });
    if LOGGER.set(logger.clone()).is_ok() {
        log::set_max_level(level);
        let _ = log::set_boxed_logger(Box::new(Forward(logger)));
    }
    Ok(())
}

/// Applies new logging options (config reload): level (`debug`, `trace`),
/// timestamps and the sink (`log_file`). The new file is opened before
/// anything changes, so on error the old settings stay in force.
///
/// # Errors
/// When the new log file cannot be opened.
pub fn reconfigure(opts: &Options) -> std::io::Result<()> {
    let Some(l) = LOGGER.get() else {
        return init(opts);
    };
    let new_settings = settings_for(opts);
    let mut sink = l.sink.lock();
    let same_file = match (&*sink, &opts.log_file) {
        (Sink::File { path, .. }, Some(p)) => path == p,
        (Sink::Stderr, None) => true,
        _ => false,
    };
    if !same_file {
        let new_sink = sink_for(opts)?;
        if let Sink::File { file, .. } = &mut *sink {
            let _ = file.flush();
        }
        *sink = new_sink;
    }
    drop(sink);
    let level = new_settings.level;
    *l.settings.write() = new_settings;
    log::set_max_level(level);
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

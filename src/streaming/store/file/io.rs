//! The file store's plumbing: the record framing, the scan that tells a torn
//! tail from corruption, buffered append-only files that can read back what
//! they still buffer, crash-safe rewrites, and the cache of read handles.
//!
//! Every file starts with a 4-byte little-endian version. A record is an
//! 8-byte header, then its protobuf payload: a little-endian `u32` holding
//! the payload size (in typed files the top byte is the record type and the
//! size takes the low 24 bits), and the CRC-32 (IEEE) of the payload.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::streaming::store::{Result, StoreError};

pub(super) const FILE_VERSION: u32 = 1;
/// The length of the version every file starts with.
pub(super) const VERSION_LEN: u64 = 4;
pub(super) const HEADER_LEN: u64 = 8;
/// Typed records keep 24 bits for the size.
const MAX_TYPED_SIZE: usize = 0x00FF_FFFF;
/// What a buffer shrinks back to once written out, so a burst does not pin
/// `buffer_size` bytes per file for good.
const KEEP_BUF: usize = 64 * 1024;

pub(super) fn corrupt(path: &Path, detail: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        what: path.display().to_string(),
        detail: detail.into(),
    }
}

/// The error for a record whose checksum passed but whose protobuf does not
/// decode: not a torn write, so corruption wherever it is.
pub(super) fn undecodable(path: &Path) -> impl Fn(prost::DecodeError) -> StoreError + '_ {
    move |e| corrupt(path, format!("undecodable record: {e}"))
}

/// Appends the header and `payload` to `out`. `rtype` 0 is an untyped
/// record (message slices), whose size may use all 32 bits.
pub(super) fn frame(out: &mut Vec<u8>, rtype: u8, payload: &[u8]) -> Result<()> {
    let too_large = || StoreError::Other(format!("record of {} bytes is too large", payload.len()));
    let word = if rtype == 0 {
        u32::try_from(payload.len()).map_err(|_| too_large())?
    } else if payload.len() <= MAX_TYPED_SIZE {
        (u32::from(rtype) << 24) | payload.len() as u32
    } else {
        return Err(too_large());
    };
    out.extend_from_slice(&word.to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
    Ok(())
}

/// A header's (type, size, crc).
pub(super) fn parse_header(h: &[u8; 8], typed: bool) -> (u8, u64, u32) {
    let word = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
    let crc = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
    if typed {
        ((word >> 24) as u8, u64::from(word & 0x00FF_FFFF), crc)
    } else {
        (0, u64::from(word), crc)
    }
}

/// Reads exactly `out.len()` bytes at `off`. Files the store appends to are
/// opened in append mode, so moving the shared cursor here never moves
/// where writes go.
pub(super) fn read_file_at(file: &File, off: u64, out: &mut [u8]) -> io::Result<()> {
    let mut f = file;
    f.seek(SeekFrom::Start(off))?;
    f.read_exact(out)
}

/// Whether every byte of `file` from `off` on is zero: a file system that
/// extended the file but never wrote the data leaves such a tail, which is
/// a torn write, not corruption.
fn zeros_from(file: &File, off: u64) -> io::Result<bool> {
    let mut f = file;
    f.seek(SeekFrom::Start(off))?;
    let mut r = BufReader::new(f);
    let mut buf = [0u8; 8192];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            return Ok(true);
        }
        if buf[..n].iter().any(|&b| b != 0) {
            return Ok(false);
        }
    }
}

/// Reads the records of `file` from `start` to its end, calling
/// `f(offset, type, payload)` for each good one, and returns where the good
/// records end.
///
/// A bad record that can only be the remains of a crash mid-write ends the
/// scan early: a short header or payload, or a checksum mismatch (or a
/// zero header) on the last record or in a tail of zeros. The caller
/// truncates the file there. A bad record followed by more data is
/// [`StoreError::Corrupt`], as is an error returned by `f`.
pub(super) fn scan_records(
    file: &File,
    path: &Path,
    start: u64,
    typed: bool,
    mut f: impl FnMut(u64, u8, &[u8]) -> Result<()>,
) -> Result<u64> {
    let len = file.metadata()?.len();
    let mut r = BufReader::with_capacity(64 * 1024, file);
    r.seek(SeekFrom::Start(start))?;
    let mut pos = start;
    let mut payload = Vec::new();
    while pos < len {
        let rest = len - pos;
        if rest < HEADER_LEN {
            return Ok(pos);
        }
        let mut h = [0u8; 8];
        r.read_exact(&mut h)?;
        let (rtype, size, crc) = parse_header(&h, typed);
        if size > rest - HEADER_LEN {
            return Ok(pos);
        }
        payload.resize(size as usize, 0);
        r.read_exact(&mut payload)?;
        let end = pos + HEADER_LEN + size;
        let zero_header = h[..4] == [0; 4] || (typed && rtype == 0);
        if zero_header || crc32fast::hash(&payload) != crc {
            // `r` is done with: zeros_from moves the shared cursor.
            drop(r);
            if end == len || zeros_from(file, pos)? {
                return Ok(pos);
            }
            return Err(corrupt(path, format!("bad record at offset {pos}")));
        }
        f(pos, rtype, &payload)?;
        pos = end;
    }
    Ok(pos)
}

/// Opens `path` for reading and appending, creating it when missing, and
/// checks its version. A file shorter than its version (a crash right after
/// it was created) starts over. Returns the file and its length.
pub(super) fn open_versioned(path: &Path) -> Result<(File, u64)> {
    let file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)?;
    if has_version(&file, path)? {
        let len = file.metadata()?.len();
        return Ok((file, len));
    }
    file.set_len(0)?;
    (&file).write_all(&FILE_VERSION.to_le_bytes())?;
    Ok((file, VERSION_LEN))
}

/// `false` for a file too short to hold a version; an error for a version
/// this store does not know.
pub(super) fn has_version(file: &File, path: &Path) -> Result<bool> {
    if file.metadata()?.len() < VERSION_LEN {
        return Ok(false);
    }
    let mut v = [0u8; 4];
    read_file_at(file, 0, &mut v)?;
    match u32::from_le_bytes(v) {
        FILE_VERSION => Ok(true),
        other => Err(corrupt(path, format!("unsupported file version {other}"))),
    }
}

/// `path` with `.tmp` appended: where a crash-safe rewrite builds the new
/// contents. Leftovers are removed when the store opens.
pub(super) fn tmp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".tmp");
    PathBuf::from(s)
}

/// Makes renames and new files in `dir` durable.
#[cfg(unix)]
pub(super) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
pub(super) fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

/// Replaces `path` with `contents` so that a crash leaves either the old or
/// the new file whole: written to a temporary file, synced (when `fsync`),
/// renamed over `path`. Returns the new file, open for appending.
pub(super) fn replace_file(path: &Path, contents: &[u8], fsync: bool) -> io::Result<File> {
    let tmp = tmp_path(path);
    let res = (|| {
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&tmp)?;
        file.set_len(0)?;
        (&file).write_all(contents)?;
        if fsync {
            file.sync_data()?;
        }
        fs::rename(&tmp, path)?;
        if fsync {
            if let Some(dir) = path.parent() {
                sync_dir(dir)?;
            }
        }
        Ok(file)
    })();
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res
}

pub(super) fn remove_if_exists(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// A file written at its end through a memory buffer of up to `cap` bytes.
/// Reads at any offset also see what is still buffered, so the store reads
/// back what it has just written without writing it out first.
#[derive(Debug)]
pub(super) struct AppendFile {
    file: File,
    pub path: PathBuf,
    buf: Vec<u8>,
    cap: usize,
    /// Bytes handed to the OS.
    flushed: u64,
    /// Appended to since the data was last synced to the disk.
    unsynced: bool,
}

impl AppendFile {
    /// Wraps a file opened in append mode, `len` bytes long.
    pub fn new(path: PathBuf, file: File, len: u64, cap: usize) -> AppendFile {
        AppendFile {
            file,
            path,
            buf: Vec::new(),
            cap,
            flushed: len,
            unsynced: false,
        }
    }

    /// Creates `path` empty but for its (buffered) version.
    pub fn create(path: PathBuf, cap: usize) -> Result<AppendFile> {
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)?;
        file.set_len(0)?;
        let mut f = AppendFile::new(path, file, 0, cap);
        f.append(&FILE_VERSION.to_le_bytes())?;
        Ok(f)
    }

    pub fn cap(&self) -> usize {
        self.cap
    }

    /// The length including what is buffered.
    pub fn len(&self) -> u64 {
        self.flushed + self.buf.len() as u64
    }

    /// Appends `bytes` whole or not at all.
    pub fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        if !self.buf.is_empty() && self.buf.len() + bytes.len() > self.cap {
            self.write_out()?;
        }
        self.buf.extend_from_slice(bytes);
        self.unsynced = true;
        Ok(())
    }

    /// Cuts what was appended after `len` (an append whose companion write
    /// failed).
    pub fn rollback(&mut self, len: u64) -> io::Result<()> {
        if len >= self.flushed {
            self.buf.truncate((len - self.flushed) as usize);
            return Ok(());
        }
        self.buf.clear();
        self.file.set_len(len)?;
        self.flushed = len;
        Ok(())
    }

    /// Hands the buffer to the OS. A failed write is cut back off the file,
    /// so a retry never leaves a partial record between whole ones; the
    /// buffer stays for that retry.
    pub fn write_out(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        if let Err(e) = (&self.file).write_all(&self.buf) {
            let _ = self.file.set_len(self.flushed);
            return Err(e);
        }
        self.flushed += self.buf.len() as u64;
        self.buf.clear();
        self.buf.shrink_to(KEEP_BUF);
        Ok(())
    }

    /// Writes the buffer out and, with `fsync`, syncs the data if anything
    /// was appended since the last sync.
    pub fn sync(&mut self, fsync: bool) -> io::Result<()> {
        self.write_out()?;
        if fsync && self.unsynced {
            self.file.sync_data()?;
            self.unsynced = false;
        }
        Ok(())
    }

    /// Reads `out.len()` bytes at `off`, from the file and the buffer.
    pub fn read_at(&self, off: u64, out: &mut [u8]) -> io::Result<()> {
        let end = off + out.len() as u64;
        if end > self.len() {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let split = self.flushed.clamp(off, end);
        let from_file = (split - off) as usize;
        if from_file > 0 {
            read_file_at(&self.file, off, &mut out[..from_file])?;
        }
        if from_file < out.len() {
            let b = (split - self.flushed) as usize;
            let n = out.len() - from_file;
            out[from_file..].copy_from_slice(&self.buf[b..b + n]);
        }
        Ok(())
    }
}

/// Read handles of the message slices that are no longer written, at most
/// `limit` of them open (0: no limit); the least recently used is closed
/// first. The engine runs the store on one thread, so a tick counter is
/// enough to order uses.
#[derive(Debug, Default)]
pub(super) struct Readers {
    limit: usize,
    tick: u64,
    pub(super) open: HashMap<PathBuf, (File, u64)>,
}

impl Readers {
    pub fn new(limit: usize) -> Readers {
        Readers {
            limit,
            ..Default::default()
        }
    }

    pub fn read_at(&mut self, path: &Path, off: u64, out: &mut [u8]) -> io::Result<()> {
        self.tick += 1;
        if let Some((f, used)) = self.open.get_mut(path) {
            *used = self.tick;
            return read_file_at(f, off, out);
        }
        if self.limit > 0 && self.open.len() >= self.limit {
            let oldest = self
                .open
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(p, _)| p.clone());
            if let Some(p) = oldest {
                self.open.remove(&p);
            }
        }
        let f = File::open(path)?;
        read_file_at(&f, off, out)?;
        self.open.insert(path.to_owned(), (f, self.tick));
        Ok(())
    }

    /// Closes the handle of a file about to be removed.
    pub fn forget(&mut self, path: &Path) {
        self.open.remove(path);
    }

    /// Closes the handles of every file under `dir`.
    pub fn forget_dir(&mut self, dir: &Path) {
        self.open.retain(|p, _| !p.starts_with(dir));
    }
}

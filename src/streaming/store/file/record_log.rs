//! Append-only files of typed records whose current state the store keeps
//! in memory: `clients.dat`, each channel's `subs.dat` and `channel.dat`.
//! Changes are appended; when more than half the records are dead
//! (superseded), the file is rewritten from the state in memory.

use std::path::PathBuf;

use prost::Message;

use super::io::{frame, open_versioned, replace_file, scan_records, AppendFile, FILE_VERSION};
use crate::streaming::store::Result;

/// The whole contents of a log file (version and records), built in memory
/// to create or rewrite the file in one piece.
pub(super) struct Records {
    bytes: Vec<u8>,
    count: u64,
}

impl Records {
    pub fn new() -> Records {
        Records {
            bytes: FILE_VERSION.to_le_bytes().to_vec(),
            count: 0,
        }
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn push(&mut self, rtype: u8, msg: &impl Message) -> Result<()> {
        frame(&mut self.bytes, rtype, &msg.encode_to_vec())?;
        self.count += 1;
        Ok(())
    }
}

#[derive(Debug)]
pub(super) struct RecordLog {
    file: AppendFile,
    /// Records in the file, live or dead.
    records: u64,
}

impl RecordLog {
    /// Opens `path` (an empty log when missing), passes every record to
    /// `f(type, payload)` in order, and cuts a torn tail off.
    pub fn open(
        path: PathBuf,
        cap: usize,
        mut f: impl FnMut(u8, &[u8]) -> Result<()>,
    ) -> Result<Self> {
        let (file, len) = open_versioned(&path)?;
        let mut records = 0;
        let end = scan_records(&file, &path, super::io::VERSION_LEN, true, |_, t, p| {
            records += 1;
            f(t, p)
        })?;
        if end < len {
            log::warn!(
                "file store: {}: cutting a torn tail of {} bytes",
                path.display(),
                len - end
            );
            file.set_len(end)?;
        }
        Ok(RecordLog {
            file: AppendFile::new(path, file, end, cap),
            records,
        })
    }

    /// Creates `path` with `contents`, replacing any file there.
    pub fn create(path: PathBuf, cap: usize, contents: Records, fsync: bool) -> Result<Self> {
        let file = replace_file(&path, &contents.bytes, fsync)?;
        let len = contents.bytes.len() as u64;
        Ok(RecordLog {
            file: AppendFile::new(path, file, len, cap),
            records: contents.count,
        })
    }

    pub fn append(&mut self, rtype: u8, msg: &impl Message) -> Result<()> {
        let mut rec = Vec::new();
        frame(&mut rec, rtype, &msg.encode_to_vec())?;
        self.file.append(&rec)?;
        self.records += 1;
        Ok(())
    }

    pub fn records(&self) -> u64 {
        self.records
    }

    /// Whether rewriting the file with `live` records pays: more than half
    /// its records are dead and it is at least `min_size` bytes long.
    pub fn wants_compaction(&self, live: u64, min_size: u64) -> bool {
        self.records.saturating_sub(live) > live && self.file.len() >= min_size
    }

    /// Replaces the file with `contents`, the live state. Always synced, so
    /// the rename never exposes a file whose data the disk does not have;
    /// what was still buffered is superseded by `contents`.
    pub fn rewrite(&mut self, contents: Records) -> Result<()> {
        let cap = self.file.cap();
        *self = RecordLog::create(self.file.path.clone(), cap, contents, true)?;
        Ok(())
    }

    /// Writes out what is buffered and, with `fsync`, syncs it.
    pub fn sync(&mut self, fsync: bool) -> Result<()> {
        Ok(self.file.sync(fsync)?)
    }
}

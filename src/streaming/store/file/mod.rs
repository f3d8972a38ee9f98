//! The file store: the layout of nats-streaming-server's, crash-safe.
//!
//! ```text
//! <dir>/.rootdir.lck          held locked while the store is open
//! <dir>/server.dat            ServerInfo, replaced whole
//! <dir>/clients.dat           client added / deleted records
//! <dir>/<channel>/channel.dat the channel's name, then its first valid sequence
//! <dir>/<channel>/subs.dat    subscription created / updated / deleted,
//!                             sequence pending / acknowledged records
//! <dir>/<channel>/msgs.<n>.dat, msgs.<n>.idx   message slices
//! ```
//!
//! Every file starts with a 4-byte version; records are framed and
//! checksummed as `io.rs` describes. Files are only appended to, through
//! memory buffers, except for crash-safe rewrites (temporary file, sync,
//! rename): `server.dat`, and the compaction of the record logs once most
//! of their records are dead.
//!
//! Opening recovers everything into memory (all but the messages, which
//! stay on disk): what a crash tore at the end of a file is cut off, while
//! damage before the end is [`StoreError::Corrupt`]. [`Store::flush`]
//! writes the buffers out and, with [`FileOptions::sync`], syncs them.

mod channel;
mod io;
mod record_log;
mod slice;
mod state;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::Duration;

use self::channel::{Channel, CHANNEL_FILE, DELETED_PREFIX};
use self::io::{
    has_version, remove_if_exists, replace_file, scan_records, sync_dir, tmp_path, undecodable,
    Readers,
};
use self::record_log::Records;
use self::state::ClientLog;
use super::{
    ChannelLimits, ChannelStats, ClientInfo, Recovered, RecoveredChannel, Result, ServerInfo,
    Store, StoreError, StoreKind, SubState,
};
use crate::streaming::proto::MsgProto;
use prost::Message;

const LOCK_FILE: &str = ".rootdir.lck";
const SERVER_FILE: &str = "server.dat";
const CLIENTS_FILE: &str = "clients.dat";
const SERVER_REC: u8 = 1;

/// How the file store writes; the defaults are nats-streaming-server's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileOptions {
    /// Sync the files written since the last flush at every flush
    /// (`file_sync`, on by default upstream). Off, a crash of the machine
    /// may lose what was acknowledged; a crash of the process does not.
    pub sync: bool,
    /// Messages per slice file (0: no limit).
    pub slice_max_msgs: u64,
    /// Bytes per slice, data and index together (0: no limit).
    pub slice_max_bytes: u64,
    /// Time a slice covers from its first message (zero: no limit), so
    /// that age limits remove whole files.
    pub slice_max_age: Duration,
    /// Run as `script CHANNEL DAT.bak IDX.bak` for each slice the limits
    /// remove, after its files are renamed with a `.bak` suffix, instead of
    /// deleting them (upstream's `file_slice_archive_script`).
    pub slice_archive_script: Option<PathBuf>,
    /// The write buffer of each file.
    pub buffer_size: usize,
    /// Verify the checksum of each message read.
    pub crc: bool,
    /// Message slice files kept open for reading (0: no limit); the least
    /// recently used is closed first.
    pub fds_limit: usize,
    /// Rewrite `clients.dat` and `subs.dat` once most of their records are
    /// dead.
    pub compact: bool,
    /// ... and they are at least this long.
    pub compact_min_file_size: u64,
}

impl Default for FileOptions {
    fn default() -> Self {
        FileOptions {
            sync: true,
            slice_max_msgs: 0,
            slice_max_bytes: 64 * 1024 * 1024,
            slice_max_age: Duration::ZERO,
            slice_archive_script: None,
            buffer_size: 2 * 1024 * 1024,
            crc: true,
            fds_limit: 0,
            compact: true,
            compact_min_file_size: 1024 * 1024,
        }
    }
}

/// [`Store`] in a directory.
#[derive(Debug)]
pub struct FileStore {
    dir: PathBuf,
    opts: FileOptions,
    info: Option<ServerInfo>,
    clients: ClientLog,
    channels: BTreeMap<String, Channel>,
    readers: Readers,
    /// Entries of `dir` changed since the last flush.
    dir_dirty: bool,
    /// A graceful drop flushes; tests that simulate a crash turn it off.
    flush_on_drop: bool,
    /// Held locked (advisory) for as long as the store is open; the last
    /// field, so it is released after the files are closed.
    _lock: File,
}

impl FileStore {
    /// Opens (creating) the store in `dir` and recovers its state.
    ///
    /// Never waits for the lock: when another process (or another open in
    /// this one) holds `dir`, this fails at once with
    /// [`StoreError::Locked`], so a
    /// fault-tolerance standby can retry on its own schedule.
    ///
    /// # Errors
    /// The lock is held, a file cannot be read or repaired, or a file is
    /// damaged other than at its end ([`StoreError::Corrupt`]).
    pub fn open(dir: &Path, opts: FileOptions) -> Result<FileStore> {
        fs::create_dir_all(dir)?;
        let lock = lock_dir(dir)?;
        let mut readers = Readers::new(opts.fds_limit);
        remove_leftovers(dir)?;
        let info = read_server_info(&dir.join(SERVER_FILE))?;
        let clients = ClientLog::open(dir.join(CLIENTS_FILE), opts.buffer_size)?;
        let channels = recover_channels(dir, &opts, &mut readers)?;
        Ok(FileStore {
            dir: dir.to_owned(),
            opts,
            _lock: lock,
            info,
            clients,
            channels,
            readers,
            dir_dirty: false,
            flush_on_drop: true,
        })
    }

    pub fn options(&self) -> &FileOptions {
        &self.opts
    }

    fn parts(&mut self, name: &str) -> Result<(&mut Channel, &mut Readers, &FileOptions)> {
        let ch = self
            .channels
            .get_mut(name)
            .ok_or_else(|| StoreError::Other(format!("channel {name:?} not found")))?;
        Ok((ch, &mut self.readers, &self.opts))
    }
}

/// Takes the lock on `dir` without waiting.
fn lock_dir(dir: &Path) -> Result<File> {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(dir.join(LOCK_FILE))?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(TryLockError::WouldBlock) => Err(StoreError::Locked),
        Err(TryLockError::Error(e)) => Err(e.into()),
    }
}

/// Removes what interrupted rewrites and channel deletions left.
fn remove_leftovers(dir: &Path) -> Result<()> {
    for f in [SERVER_FILE, CLIENTS_FILE] {
        remove_if_exists(&tmp_path(&dir.join(f)))?;
    }
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with(DELETED_PREFIX)
        {
            fs::remove_dir_all(entry.path())?;
        }
    }
    Ok(())
}

/// The last ServerInfo record of `path`, `None` when there is none (a new
/// store, or a first write torn by a crash).
fn read_server_info(path: &Path) -> Result<Option<ServerInfo>> {
    let file = match File::open(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        r => r?,
    };
    if !has_version(&file, path)? {
        return Ok(None);
    }
    let mut info = None;
    scan_records(&file, path, io::VERSION_LEN, true, |_, t, p| {
        if t != SERVER_REC {
            return Err(io::corrupt(path, format!("unknown record type {t}")));
        }
        info = Some(ServerInfo::decode(p).map_err(undecodable(path))?);
        Ok(())
    })?;
    Ok(info)
}

/// Every directory of `dir` with a channel.dat is a channel.
fn recover_channels(
    dir: &Path,
    opts: &FileOptions,
    readers: &mut Readers,
) -> Result<BTreeMap<String, Channel>> {
    let mut channels = BTreeMap::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if hidden || !entry.file_type()?.is_dir() {
            continue;
        }
        if let Some(ch) = Channel::recover(entry.path(), opts, readers)? {
            channels.insert(ch.name.clone(), ch);
        }
    }
    Ok(channels)
}

/// Channel names are valid subjects (checked by the engine) and become
/// directory names: refuse the few that would not be safe as such.
fn check_channel_name(name: &str) -> Result<()> {
    let reserved = [SERVER_FILE, CLIENTS_FILE, LOCK_FILE, CHANNEL_FILE];
    let bad = name.is_empty()
        || name.starts_with('.')
        || name.contains(['/', '\\', '\0'])
        || name.ends_with(".tmp")
        || reserved.contains(&name);
    if bad {
        return Err(StoreError::Other(format!(
            "channel name {name:?} cannot be a file store directory"
        )));
    }
    Ok(())
}

impl Store for FileStore {
    fn kind(&self) -> StoreKind {
        StoreKind::File
    }

    /// The state recovered when the store was opened (with any change made
    /// since), `None` when no server identity was ever recorded (whatever
    /// else a crash before [`Store::init`] left stays, and a channel of that
    /// name created later finds its messages).
    fn recover(&mut self) -> Result<Option<Recovered>> {
        let Some(info) = &self.info else {
            return Ok(None);
        };
        Ok(Some(Recovered {
            info: info.clone(),
            clients: self.clients.clients.values().cloned().collect(),
            channels: self
                .channels
                .values()
                .map(|c| RecoveredChannel {
                    name: c.name.clone(),
                    subs: c.subs.recovered(),
                })
                .collect(),
        }))
    }

    /// Replaces server.dat whole, synced: the identity is rarely written.
    fn init(&mut self, info: &ServerInfo) -> Result<()> {
        let mut r = Records::new();
        r.push(SERVER_REC, info)?;
        replace_file(&self.dir.join(SERVER_FILE), r.bytes(), true)?;
        self.info = Some(info.clone());
        Ok(())
    }

    fn add_client(&mut self, client: &ClientInfo) -> Result<()> {
        self.clients.add(client)
    }

    fn delete_client(&mut self, id: &str) -> Result<()> {
        self.clients.delete(id, &self.opts)
    }

    /// A recovered channel takes `limits` and drops at once the messages
    /// over its count and size limits.
    fn create_channel(&mut self, name: &str, limits: &ChannelLimits) -> Result<()> {
        if let Ok((ch, readers, opts)) = self.parts(name) {
            return ch.set_limits(*limits, opts, readers);
        }
        check_channel_name(name)?;
        let ch = Channel::create(&self.dir, name, *limits, &self.opts)?;
        self.channels.insert(name.to_owned(), ch);
        self.dir_dirty = true;
        Ok(())
    }

    fn delete_channel(&mut self, name: &str) -> Result<()> {
        let Some(ch) = self.channels.remove(name) else {
            return Ok(());
        };
        self.dir_dirty = true;
        ch.delete(&self.dir, &mut self.readers)
    }

    fn store_msg(&mut self, channel: &str, msg: &MsgProto) -> Result<()> {
        let (ch, readers, opts) = self.parts(channel)?;
        ch.store_msg(msg, opts, readers)
    }

    fn lookup(&mut self, channel: &str, seq: u64) -> Result<Option<MsgProto>> {
        let (ch, readers, opts) = self.parts(channel)?;
        ch.lookup(seq, opts, readers)
    }

    fn stats(&self, channel: &str) -> ChannelStats {
        self.channels
            .get(channel)
            .map(Channel::stats)
            .unwrap_or_default()
    }

    fn first_seq_at_or_after(&mut self, channel: &str, timestamp: i64) -> Result<u64> {
        let (ch, readers, _) = self.parts(channel)?;
        ch.first_at_or_after(timestamp, readers)
    }

    fn expire(&mut self, channel: &str, now: i64) -> Result<()> {
        let (ch, readers, opts) = self.parts(channel)?;
        ch.expire(now, opts, readers)
    }

    fn create_sub(&mut self, channel: &str, sub: &SubState) -> Result<()> {
        self.parts(channel)?.0.subs.create_sub(sub)
    }

    fn update_sub(&mut self, channel: &str, sub: &SubState) -> Result<()> {
        self.parts(channel)?.0.subs.update_sub(sub)
    }

    fn delete_sub(&mut self, channel: &str, sub_id: u64) -> Result<()> {
        let (ch, _, opts) = self.parts(channel)?;
        ch.subs.delete_sub(sub_id, opts)
    }

    fn add_pending(&mut self, channel: &str, sub_id: u64, seq: u64) -> Result<()> {
        self.parts(channel)?.0.subs.add_pending(sub_id, seq)
    }

    fn ack(&mut self, channel: &str, sub_id: u64, seq: u64) -> Result<()> {
        let (ch, _, opts) = self.parts(channel)?;
        ch.subs.ack(sub_id, seq, opts)
    }

    /// Writes every buffer out; with `sync`, syncs each file written since
    /// the last flush and the directories that gained or lost entries.
    fn flush(&mut self) -> Result<()> {
        let fsync = self.opts.sync;
        self.clients.sync(fsync)?;
        for ch in self.channels.values_mut() {
            ch.flush(fsync)?;
        }
        if fsync && self.dir_dirty {
            sync_dir(&self.dir)?;
        }
        self.dir_dirty = false;
        Ok(())
    }
}

impl Drop for FileStore {
    /// A graceful close writes out what is buffered; errors are lost here,
    /// so callers that care call [`Store::flush`] first.
    fn drop(&mut self) {
        if self.flush_on_drop {
            if let Err(e) = self.flush() {
                log::warn!("file store: flush on close failed: {e}");
            }
        }
    }
}

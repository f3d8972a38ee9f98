//! One channel: its directory holds `channel.dat` (the channel's name and
//! the first sequence still valid), `subs.dat`, and the message slices.
//!
//! Memory holds where each slice's sequences are, not the messages: lookups,
//! the limits and the time searches read the index and data files. Only
//! whole slices are removed; the messages of a slice that the limits
//! dropped are hidden by `first`, which channel.dat records so that a
//! restart does not bring them back. The newest slice is never removed, so
//! the last sequence survives even when every message is gone.

use std::collections::{BTreeSet, VecDeque};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prost::Message;

use super::io::{
    corrupt, frame, remove_if_exists, sync_dir, tmp_path, undecodable, AppendFile, Readers,
    HEADER_LEN,
};
use super::record_log::{RecordLog, Records};
use super::slice::{
    decode_msg, idx_offset, parse_slice_name, recover_slice, IdxEntry, Slice, Writer,
    IDX_ENTRY_LEN, MAX_SEQ,
};
use super::state::SubLog;
use super::FileOptions;
use crate::streaming::proto::MsgProto;
use crate::streaming::store::{ChannelLimits, ChannelStats, Result, StoreError};

pub(super) const CHANNEL_FILE: &str = "channel.dat";
const SUBS_FILE: &str = "subs.dat";
/// What a deleted channel's directory is renamed to before it is removed;
/// channel names never start with a dot.
pub(super) const DELETED_PREFIX: &str = ".deleted.";

const CHANNEL_REC: u8 = 1;
/// channel.dat gets a record at each flush after `first` moved; past this
/// many records it is rewritten with one.
const CHANNEL_MAX_RECORDS: u64 = 1024;

#[derive(Clone, PartialEq, Message)]
struct ChannelRecord {
    #[prost(string, tag = "1")]
    name: String,
    /// The first sequence still in the log: those below are gone even if a
    /// slice still holds them.
    #[prost(uint64, tag = "2")]
    first: u64,
}

#[derive(Debug)]
pub(super) struct Channel {
    pub name: String,
    dir: PathBuf,
    limits: ChannelLimits,
    meta: RecordLog,
    /// The `first` channel.dat last recorded.
    meta_first: u64,
    pub subs: SubLog,
    /// Oldest first; the last one is being written.
    slices: VecDeque<Slice>,
    /// The files of the last slice.
    writer: Option<Writer>,
    first: u64,
    last: u64,
    /// Payload bytes of the messages from `first` to `last`.
    bytes: u64,
    /// Files were created in `dir` since the last flush.
    dir_dirty: bool,
}

impl Channel {
    /// Creates the channel's directory. One already there has no
    /// channel.dat (else it was recovered): what a crash during an earlier
    /// creation left, so it is replaced.
    pub fn create(
        root: &Path,
        name: &str,
        limits: ChannelLimits,
        opts: &FileOptions,
    ) -> Result<Channel> {
        let dir = root.join(name);
        if dir.exists() {
            fs::remove_dir_all(&dir)?;
        }
        fs::create_dir(&dir)?;
        let mut r = Records::new();
        let rec = ChannelRecord {
            name: name.to_owned(),
            first: 1,
        };
        r.push(CHANNEL_REC, &rec)?;
        let meta = RecordLog::create(dir.join(CHANNEL_FILE), opts.buffer_size, r, opts.sync)?;
        let subs = SubLog::create(dir.join(SUBS_FILE), opts.buffer_size, false)?;
        Ok(Channel {
            name: name.to_owned(),
            dir,
            limits,
            meta,
            meta_first: 1,
            subs,
            slices: VecDeque::new(),
            writer: None,
            first: 1,
            last: 0,
            bytes: 0,
            dir_dirty: true,
        })
    }

    /// Recovers the channel in `dir`, `None` when it has no channel.dat (not
    /// a channel). Its limits stay unlimited until the engine sets them.
    pub fn recover(
        dir: PathBuf,
        opts: &FileOptions,
        readers: &mut Readers,
    ) -> Result<Option<Channel>> {
        let meta_path = dir.join(CHANNEL_FILE);
        let Some(dir_name) = dir.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            return Ok(None);
        };
        if !meta_path.exists() {
            return Ok(None);
        }
        remove_if_exists(&tmp_path(&meta_path))?;
        remove_if_exists(&tmp_path(&dir.join(SUBS_FILE)))?;
        let mut rec = None;
        let meta = RecordLog::open(meta_path.clone(), opts.buffer_size, |t, p| {
            if t != CHANNEL_REC {
                return Err(corrupt(&meta_path, format!("unknown record type {t}")));
            }
            rec = Some(ChannelRecord::decode(p).map_err(undecodable(&meta_path))?);
            Ok(())
        })?;
        if let Some(r) = rec.as_ref().filter(|r| r.name != dir_name) {
            return Err(corrupt(&meta_path, format!("names channel {:?}", r.name)));
        }
        let meta_first = rec.map_or(1, |r| r.first).max(1);
        if meta_first >= MAX_SEQ {
            return Err(corrupt(
                &meta_path,
                format!("first sequence {meta_first} out of range"),
            ));
        }
        let subs = SubLog::open(dir.join(SUBS_FILE), opts.buffer_size)?;
        let mut ch = Channel {
            name: dir_name,
            dir,
            limits: ChannelLimits::default(),
            meta,
            meta_first,
            subs,
            slices: VecDeque::new(),
            writer: None,
            first: meta_first,
            last: meta_first - 1,
            bytes: 0,
            dir_dirty: false,
        };
        ch.recover_slices(opts)?;
        ch.remove_dead_slices(opts, readers)?;
        Ok(Some(ch))
    }

    /// Recovers the slices in order, each continuing the one before, and
    /// derives `first`, `last` and `bytes` from them and channel.dat's
    /// `first`.
    fn recover_slices(&mut self, opts: &FileOptions) -> Result<()> {
        let ns = self.slice_numbers()?;
        // One past the last sequence found so far.
        let mut end: Option<u64> = None;
        let mut present_first = None;
        for (i, &n) in ns.iter().enumerate() {
            let r = recover_slice(&self.dir, n, end, self.meta_first)?;
            let mut s = Slice::new(&self.dir, n, r.first.or(end).unwrap_or(0));
            s.count = r.count;
            s.dat_len = r.dat.1;
            s.first_timestamp = r.first_timestamp;
            let is_last = i + 1 == ns.len();
            if s.count == 0 && !is_last {
                drop(r);
                remove_if_exists(&s.idx)?;
                remove_if_exists(&s.dat)?;
                continue;
            }
            present_first = present_first.or(r.first);
            if s.count > 0 {
                end = Some(s.end_seq());
            }
            self.bytes += r.live_bytes;
            if is_last {
                let ((dat, dat_len), (idx, idx_len)) = (r.dat, r.idx);
                let cap = opts.buffer_size;
                self.writer = Some(Writer {
                    dat: AppendFile::new(s.dat.clone(), dat, dat_len, cap),
                    idx: AppendFile::new(s.idx.clone(), idx, idx_len, cap),
                });
            }
            self.slices.push_back(s);
        }
        self.last = self.last.max(end.map_or(0, |e| e - 1));
        self.first = self.meta_first.max(present_first.unwrap_or(0));
        if let Some(s) = self.slices.back_mut().filter(|s| s.count == 0) {
            s.first_seq = self.last + 1;
        }
        Ok(())
    }

    /// The slice numbers in the directory, in order.
    fn slice_numbers(&self) -> Result<BTreeSet<u64>> {
        let mut ns = BTreeSet::new();
        for entry in fs::read_dir(&self.dir)? {
            if let Some(n) = entry?.file_name().to_str().and_then(parse_slice_name) {
                ns.insert(n);
            }
        }
        Ok(ns)
    }

    pub fn stats(&self) -> ChannelStats {
        ChannelStats {
            first: self.first,
            last: self.last,
            msgs: self.msgs(),
            bytes: self.bytes,
        }
    }

    fn msgs(&self) -> u64 {
        self.last + 1 - self.first
    }

    /// Takes new limits and applies the count and size ones at once.
    pub fn set_limits(
        &mut self,
        limits: ChannelLimits,
        opts: &FileOptions,
        readers: &mut Readers,
    ) -> Result<()> {
        self.limits = limits;
        self.enforce_limits(opts, readers)
    }

    /// Appends `m`, which must be the next sequence: a slice's sequences
    /// are consecutive, which is how its index is addressed.
    pub fn store_msg(
        &mut self,
        m: &MsgProto,
        opts: &FileOptions,
        readers: &mut Readers,
    ) -> Result<()> {
        let seq = self.last + 1;
        if m.sequence != seq {
            return Err(StoreError::Other(format!(
                "channel {:?}: message sequence {} is not the next one ({seq})",
                self.name, m.sequence
            )));
        }
        let payload = m.encode_to_vec();
        let mut rec = Vec::with_capacity(HEADER_LEN as usize + payload.len());
        frame(&mut rec, 0, &payload)?;
        self.prepare_slice(seq, rec.len() as u64, m.timestamp, opts)?;
        let (Some(w), Some(s)) = (self.writer.as_mut(), self.slices.back_mut()) else {
            return Err(StoreError::Other("no message slice to write".into()));
        };
        let offset = w.dat.len();
        let e = IdxEntry {
            seq,
            offset,
            timestamp: m.timestamp,
            size: payload.len() as u32,
        };
        w.dat.append(&rec)?;
        if let Err(err) = w.idx.append(&e.encode()) {
            w.dat.rollback(offset)?;
            return Err(err.into());
        }
        s.count += 1;
        s.dat_len = w.dat.len();
        s.first_timestamp.get_or_insert(m.timestamp);
        self.last = seq;
        self.bytes += u64::from(e.size);
        self.enforce_limits(opts, readers)
    }

    /// Starts a new slice when there is none, the last one is full (count,
    /// size, or the time since its first message at `timestamp`, the new
    /// message's), or it does not end right before `seq`.
    fn prepare_slice(
        &mut self,
        seq: u64,
        rec_len: u64,
        timestamp: i64,
        opts: &FileOptions,
    ) -> Result<()> {
        let lim = self.slice_limits(opts);
        let max_age = i64::try_from(lim.max_age.as_nanos()).unwrap_or(i64::MAX);
        let full = match (self.slices.back(), &self.writer) {
            (Some(s), Some(w)) => {
                let size = w.dat.len() + w.idx.len() + rec_len + IDX_ENTRY_LEN;
                // Set by the slice's first message, so never on an empty one.
                let aged = max_age > 0
                    && s.first_timestamp
                        .is_some_and(|t| timestamp.saturating_sub(t) >= max_age);
                s.end_seq() != seq
                    || (lim.max_msgs > 0 && s.count >= lim.max_msgs)
                    || (lim.max_bytes > 0 && s.count > 0 && size > lim.max_bytes)
                    || aged
            }
            _ => true,
        };
        if !full {
            return Ok(());
        }
        // Only the last slice is synced at flush: the one left behind is
        // written out, and synced, now.
        if let Some(w) = &mut self.writer {
            w.sync(opts.sync)?;
        }
        let n = self.slices.back().map_or(1, |s| s.n + 1);
        let s = Slice::new(&self.dir, n, seq);
        self.writer = Some(Writer::create(&s, opts.buffer_size)?);
        self.slices.push_back(s);
        self.dir_dirty = true;
        Ok(())
    }

    /// The slice limits in force: the configured ones, or, when none is
    /// configured, a quarter of the channel's own limits (upstream's rule,
    /// at least one message, one byte and one second), so that the
    /// channel's limits can remove whole files.
    fn slice_limits(&self, opts: &FileOptions) -> SliceLimits {
        let configured = SliceLimits {
            max_msgs: opts.slice_max_msgs,
            max_bytes: opts.slice_max_bytes,
            max_age: opts.slice_max_age,
        };
        if configured.max_msgs > 0 || configured.max_bytes > 0 || !configured.max_age.is_zero() {
            return configured;
        }
        let l = self.limits;
        let quarter = |n: u64| if n > 0 { (n / 4).max(1) } else { 0 };
        SliceLimits {
            max_msgs: quarter(l.max_msgs),
            max_bytes: quarter(l.max_bytes),
            max_age: if l.max_age.is_zero() {
                Duration::ZERO
            } else {
                (l.max_age / 4).max(Duration::from_secs(1))
            },
        }
    }

    fn over_limits(&self) -> bool {
        let l = self.limits;
        let msgs = self.msgs();
        (l.max_msgs > 0 && msgs > l.max_msgs)
            || (l.max_bytes > 0 && self.bytes > l.max_bytes && msgs > 1)
    }

    /// Drops the oldest messages over `max_msgs` or `max_bytes`, keeping at
    /// least one for the bytes (as the memory store does).
    fn enforce_limits(&mut self, opts: &FileOptions, readers: &mut Readers) -> Result<()> {
        if self.over_limits() {
            self.drop_front(readers, |c, _| c.over_limits())?;
        }
        self.remove_dead_slices(opts, readers)
    }

    /// Drops the messages older than `max_age` at `now`.
    pub fn expire(&mut self, now: i64, opts: &FileOptions, readers: &mut Readers) -> Result<()> {
        let age = i64::try_from(self.limits.max_age.as_nanos()).unwrap_or(i64::MAX);
        if age == 0 {
            return Ok(());
        }
        let cutoff = now.saturating_sub(age);
        self.drop_front(readers, |_, e| e.timestamp <= cutoff)?;
        self.remove_dead_slices(opts, readers)
    }

    /// Moves `first` past the oldest messages while `should_drop` says so, reading
    /// their index entries in growing batches (usually one is dropped).
    fn drop_front(
        &mut self,
        readers: &mut Readers,
        mut should_drop: impl FnMut(&Channel, &IdxEntry) -> bool,
    ) -> Result<()> {
        let mut batch = 1;
        while self.first <= self.last {
            for e in self.read_entries(readers, self.first, batch)? {
                if !should_drop(self, &e) {
                    return Ok(());
                }
                self.first += 1;
                self.bytes = self.bytes.saturating_sub(u64::from(e.size));
            }
            batch = (batch * 4).min(1024);
        }
        Ok(())
    }

    /// Removes the oldest slices that hold no message at or after `first`,
    /// never the last one.
    fn remove_dead_slices(&mut self, opts: &FileOptions, readers: &mut Readers) -> Result<()> {
        let dead = self
            .slices
            .iter()
            .take(self.slices.len().saturating_sub(1))
            .take_while(|s| s.count == 0 || s.end_seq() <= self.first)
            .count();
        if dead == 0 {
            return Ok(());
        }
        // The record that puts these messages below `first` reaches the
        // disk before they go: when the last slice is new and not flushed,
        // a crash would otherwise take the last sequence along.
        self.persist_first()?;
        self.meta.sync(opts.sync)?;
        for _ in 0..dead {
            let Some(s) = self.slices.front() else { break };
            readers.forget(&s.dat);
            readers.forget(&s.idx);
            match &opts.slice_archive_script {
                Some(script) if s.count > 0 => archive_slice(script, &self.name, s),
                _ => {
                    remove_if_exists(&s.idx)?;
                    remove_if_exists(&s.dat)?;
                }
            }
            self.slices.pop_front();
        }
        Ok(())
    }

    /// Records `first` in channel.dat if it moved since the last record.
    fn persist_first(&mut self) -> Result<()> {
        if self.first == self.meta_first {
            return Ok(());
        }
        let rec = ChannelRecord {
            name: self.name.clone(),
            first: self.first,
        };
        if self.meta.records() >= CHANNEL_MAX_RECORDS {
            let mut r = Records::new();
            r.push(CHANNEL_REC, &rec)?;
            self.meta.rewrite(r)?;
        } else {
            self.meta.append(CHANNEL_REC, &rec)?;
        }
        self.meta_first = self.first;
        Ok(())
    }

    /// The index of the slice holding `seq`.
    fn locate(&self, seq: u64) -> Result<usize> {
        let i = self.slices.partition_point(|s| s.first_seq <= seq);
        i.checked_sub(1)
            .filter(|&i| self.slices[i].contains(seq))
            .ok_or_else(|| corrupt(&self.dir, format!("message {seq} is in no slice")))
    }

    /// Reads from slice `i`'s index (`idx`) or data file: the last slice
    /// through its writer (which may still buffer it), the others through
    /// the read handles.
    fn read(
        &self,
        readers: &mut Readers,
        i: usize,
        idx: bool,
        off: u64,
        out: &mut [u8],
    ) -> Result<()> {
        let s = &self.slices[i];
        match self.writer.as_ref().filter(|_| i + 1 == self.slices.len()) {
            Some(w) if idx => w.idx.read_at(off, out)?,
            Some(w) => w.dat.read_at(off, out)?,
            None => readers.read_at(if idx { &s.idx } else { &s.dat }, off, out)?,
        }
        Ok(())
    }

    /// Up to `max` consecutive index entries from `seq`, within its slice.
    fn read_entries(&self, readers: &mut Readers, seq: u64, max: u64) -> Result<Vec<IdxEntry>> {
        let i = self.locate(seq)?;
        let s = &self.slices[i];
        let n = max.min(s.end_seq() - seq);
        let mut buf = vec![0u8; (n * IDX_ENTRY_LEN) as usize];
        self.read(readers, i, true, idx_offset(seq - s.first_seq), &mut buf)?;
        buf.chunks_exact(IDX_ENTRY_LEN as usize)
            .zip(seq..)
            .map(|(b, want)| match IdxEntry::decode(b) {
                Some(e) if e.seq == want => Ok(e),
                _ => Err(corrupt(
                    &s.idx,
                    format!("bad index entry for message {want}"),
                )),
            })
            .collect()
    }

    fn entry(&self, readers: &mut Readers, seq: u64) -> Result<IdxEntry> {
        self.read_entries(readers, seq, 1)?
            .pop()
            .ok_or_else(|| corrupt(&self.dir, format!("no index entry for message {seq}")))
    }

    pub fn lookup(
        &self,
        seq: u64,
        opts: &FileOptions,
        readers: &mut Readers,
    ) -> Result<Option<MsgProto>> {
        if seq < self.first || seq > self.last {
            return Ok(None);
        }
        let e = self.entry(readers, seq)?;
        let i = self.locate(seq)?;
        if e.end() > self.slices[i].dat_len {
            return Err(corrupt(
                &self.slices[i].idx,
                format!("entry of message {seq} points past the data"),
            ));
        }
        let mut rec = vec![0u8; (e.end() - e.offset) as usize];
        self.read(readers, i, false, e.offset, &mut rec)?;
        decode_msg(&self.slices[i].dat, &e, &rec, opts.crc).map(Some)
    }

    /// Binary search on the index timestamps, which grow with the sequence.
    pub fn first_at_or_after(&self, ts: i64, readers: &mut Readers) -> Result<u64> {
        let (mut lo, mut hi) = (self.first, self.last + 1);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.entry(readers, mid)?.timestamp < ts {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(lo)
    }

    /// Writes out every buffer and, with `fsync`, syncs what was written
    /// since the last flush, but for channel.dat's `first`: it is synced
    /// only before slices are removed. A machine crash that loses a later
    /// record brings back messages the limits had dropped from the slices
    /// still there (and will drop again, but for lowered limits), never a
    /// sequence; the price of that is not worth a third sync per flush.
    pub fn flush(&mut self, fsync: bool) -> Result<()> {
        self.persist_first()?;
        self.meta.sync(false)?;
        self.subs.sync(fsync)?;
        if let Some(w) = &mut self.writer {
            w.sync(fsync)?;
        }
        if fsync && self.dir_dirty {
            sync_dir(&self.dir)?;
        }
        self.dir_dirty = false;
        Ok(())
    }

    /// Removes the channel's directory, renamed out of the way first so a
    /// crash midway leaves no half-removed channel to recover.
    pub fn delete(self, root: &Path, readers: &mut Readers) -> Result<()> {
        readers.forget_dir(&self.dir);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let trash = root.join(format!("{DELETED_PREFIX}{}.{nanos}", self.name));
        let dir = self.dir.clone();
        drop(self);
        fs::rename(&dir, &trash)?;
        if let Err(e) = fs::remove_dir_all(&trash) {
            log::warn!("file store: removing {}: {e}", trash.display());
        }
        Ok(())
    }

    #[cfg(test)]
    pub fn slice_count(&self) -> usize {
        self.slices.len()
    }
}

/// Hands a removed slice to the archive script: its files are renamed with
/// a `.bak` suffix (which recovery does not read) and the script runs as
/// `script CHANNEL DAT.bak IDX.bak` on its own thread, so the store never
/// waits for it; what it prints is logged. When a rename fails the files
/// are deleted as without a script, as upstream does.
fn archive_slice(script: &Path, channel: &str, s: &Slice) {
    let bak = |p: &Path| {
        let mut name = p.as_os_str().to_owned();
        name.push(".bak");
        PathBuf::from(name)
    };
    let (dat, idx) = (bak(&s.dat), bak(&s.idx));
    if let Err(e) = fs::rename(&s.dat, &dat).and_then(|()| fs::rename(&s.idx, &idx)) {
        log::error!(
            "STREAM: cannot rename slice {} for the archive script, removing it: {e}",
            s.dat.display()
        );
        for p in [&s.dat, &s.idx, &dat, &idx] {
            let _ = fs::remove_file(p);
        }
        return;
    }
    let (script, channel) = (script.to_path_buf(), channel.to_string());
    std::thread::spawn(move || {
        match std::process::Command::new(&script)
            .arg(&channel)
            .arg(&dat)
            .arg(&idx)
            .output()
        {
            Ok(out) if out.status.success() => log::info!(
                "STREAM: output of archive script for {channel} ({} and {}): {}",
                dat.display(),
                idx.display(),
                String::from_utf8_lossy(&out.stdout).trim_end()
            ),
            Ok(out) => log::error!(
                "STREAM: error invoking archive script {}: {} (output={})",
                script.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim_end()
            ),
            Err(e) => log::error!(
                "STREAM: error invoking archive script {}: {e}",
                script.display()
            ),
        }
    });
}

/// When a slice is full; zero is no limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct SliceLimits {
    max_msgs: u64,
    max_bytes: u64,
    max_age: Duration,
}

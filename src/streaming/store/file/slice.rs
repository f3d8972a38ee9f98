//! Message slices: `msgs.<n>.dat` holds a channel's messages as untyped
//! records, `msgs.<n>.idx` one 32-byte entry per message (sequence, offset
//! of the record in the .dat, timestamp, payload size, and the CRC-32 of
//! the entry's first 28 bytes). A slice holds consecutive sequences, so
//! the entry of a sequence is found by arithmetic.
//!
//! The two files are written side by side, so after a crash either may be
//! ahead: recovery keeps what both agree on and rebuilds missing index
//! entries from the data file.

use std::fs::File;
use std::path::{Path, PathBuf};

use prost::Message;

use super::io::{
    corrupt, open_versioned, parse_header, read_file_at, scan_records, undecodable, AppendFile,
    HEADER_LEN, VERSION_LEN,
};
use crate::streaming::proto::MsgProto;
use crate::streaming::store::Result;

pub(super) const IDX_ENTRY_LEN: u64 = 32;
/// Sequences recovered from disk above this are corruption.
pub(super) const MAX_SEQ: u64 = 1 << 62;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct IdxEntry {
    pub seq: u64,
    /// Where the message's record (header included) starts in the .dat.
    pub offset: u64,
    pub timestamp: i64,
    /// The payload size: what the message counts for in `max_bytes`.
    pub size: u32,
}

impl IdxEntry {
    pub fn encode(&self) -> [u8; 32] {
        let mut b = [0u8; 32];
        b[..8].copy_from_slice(&self.seq.to_le_bytes());
        b[8..16].copy_from_slice(&self.offset.to_le_bytes());
        b[16..24].copy_from_slice(&self.timestamp.to_le_bytes());
        b[24..28].copy_from_slice(&self.size.to_le_bytes());
        let crc = crc32fast::hash(&b[..28]);
        b[28..].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// `None` when the entry's checksum does not match (a torn write).
    pub fn decode(b: &[u8]) -> Option<IdxEntry> {
        let b: &[u8; 32] = b.try_into().ok()?;
        let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap_or_default());
        let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap_or_default());
        if crc32fast::hash(&b[..28]) != u32_at(28) {
            return None;
        }
        Some(IdxEntry {
            seq: u64_at(0),
            offset: u64_at(8),
            timestamp: u64_at(16) as i64,
            size: u32_at(24),
        })
    }

    /// The end of the record in the .dat.
    pub fn end(&self) -> u64 {
        self.offset
            .saturating_add(HEADER_LEN)
            .saturating_add(u64::from(self.size))
    }

    /// Whether `self` can follow `prev` in an index. Sequences stay far
    /// from overflowing: a slice's end is computed by adding its count.
    fn follows(&self, prev: Option<&IdxEntry>) -> bool {
        self.seq > 0
            && self.seq < MAX_SEQ
            && match prev {
                Some(p) => self.seq == p.seq + 1 && self.offset == p.end(),
                None => self.offset == VERSION_LEN,
            }
    }
}

/// The position of entry `i` in an index file.
pub(super) fn idx_offset(i: u64) -> u64 {
    VERSION_LEN + i * IDX_ENTRY_LEN
}

/// `msgs.<n>.dat` → `n` (and the same for `.idx`).
pub(super) fn parse_slice_name(name: &str) -> Option<u64> {
    let rest = name.strip_prefix("msgs.")?;
    let n = rest
        .strip_suffix(".dat")
        .or_else(|| rest.strip_suffix(".idx"))?;
    n.parse().ok()
}

/// One slice as its channel tracks it.
#[derive(Debug)]
pub(super) struct Slice {
    pub n: u64,
    /// The sequence of its first entry (of its next one while empty).
    pub first_seq: u64,
    /// Entries in the files, including those below the channel's first.
    pub count: u64,
    /// The length of the .dat, which no index entry may point past.
    pub dat_len: u64,
    /// The timestamp of its first message (nanoseconds since the epoch),
    /// where `slice_max_age` counts from.
    pub first_timestamp: Option<i64>,
    pub dat: PathBuf,
    pub idx: PathBuf,
}

impl Slice {
    pub fn new(dir: &Path, n: u64, first_seq: u64) -> Slice {
        Slice {
            n,
            first_seq,
            count: 0,
            dat_len: VERSION_LEN,
            first_timestamp: None,
            dat: dir.join(format!("msgs.{n}.dat")),
            idx: dir.join(format!("msgs.{n}.idx")),
        }
    }

    /// One past its last sequence.
    pub fn end_seq(&self) -> u64 {
        self.first_seq + self.count
    }

    pub fn contains(&self, seq: u64) -> bool {
        (self.first_seq..self.end_seq()).contains(&seq)
    }
}

/// The buffered files of the slice being written.
#[derive(Debug)]
pub(super) struct Writer {
    pub dat: AppendFile,
    pub idx: AppendFile,
}

impl Writer {
    pub fn create(s: &Slice, cap: usize) -> Result<Writer> {
        Ok(Writer {
            dat: AppendFile::create(s.dat.clone(), cap)?,
            idx: AppendFile::create(s.idx.clone(), cap)?,
        })
    }

    /// Writes out and, with `fsync`, syncs both files.
    pub fn sync(&mut self, fsync: bool) -> Result<()> {
        self.dat.sync(fsync)?;
        self.idx.sync(fsync)?;
        Ok(())
    }
}

/// Decodes the message record `rec` (header and payload) that `e` indexes,
/// checking the payload's CRC when `crc` is set.
pub(super) fn decode_msg(path: &Path, e: &IdxEntry, rec: &[u8], crc: bool) -> Result<MsgProto> {
    let bad = |what: &str| {
        corrupt(
            path,
            format!("message {} at offset {}: {what}", e.seq, e.offset),
        )
    };
    let (Some(h), Some(payload)) = (rec.first_chunk::<8>(), rec.get(HEADER_LEN as usize..)) else {
        return Err(bad("short record"));
    };
    let (_, size, sum) = parse_header(h, false);
    if size != u64::from(e.size) {
        return Err(bad("size differs from the index"));
    }
    if crc && crc32fast::hash(payload) != sum {
        return Err(bad("checksum mismatch"));
    }
    let m = MsgProto::decode(payload).map_err(undecodable(path))?;
    if m.sequence != e.seq {
        return Err(bad("sequence differs from the index"));
    }
    Ok(m)
}

/// What recovery found in one slice; its files are open for appending.
pub(super) struct RecoveredSlice {
    /// The sequence of its first entry, `None` when empty.
    pub first: Option<u64>,
    pub count: u64,
    /// The timestamp of its first entry.
    pub first_timestamp: Option<i64>,
    /// The payload bytes of its entries at or after the `live_from` given.
    pub live_bytes: u64,
    pub dat: (File, u64),
    pub idx: (File, u64),
}

/// Recovers slice `n` of `dir`. `expect_first` is where the previous slice
/// ended: the first entry must continue it. Entries the data file does not
/// back are dropped, torn records at the end of the data file are cut, and
/// records the index lacks are indexed again.
pub(super) fn recover_slice(
    dir: &Path,
    n: u64,
    expect_first: Option<u64>,
    live_from: u64,
) -> Result<RecoveredSlice> {
    let s = Slice::new(dir, n, 0);
    let (dat, file_dat_len) = open_versioned(&s.dat)?;
    let (idx, idx_len) = open_versioned(&s.idx)?;
    let mut entries = read_index(&idx, &s.idx, idx_len)?;
    let mut dat_len = file_dat_len;
    // Entries written out before their records were.
    while entries.last().is_some_and(|e| e.end() > dat_len) {
        entries.pop();
    }
    // Records torn at the end of the data file.
    while let Some(e) = entries.last() {
        if record_ok(&dat, e)? {
            break;
        }
        if e.end() != dat_len {
            return Err(corrupt(
                &s.dat,
                format!("bad record at offset {}", e.offset),
            ));
        }
        dat_len = e.offset;
        entries.pop();
    }
    let kept = entries.len();
    let next_off = entries.last().map_or(VERSION_LEN, IdxEntry::end);
    if dat_len > next_off {
        dat_len = index_tail(&dat, &s.dat, next_off, &mut entries)?;
    }
    if let (Some(x), Some(e)) = (expect_first, entries.first()) {
        if e.seq != x {
            return Err(corrupt(
                &s.idx,
                format!("starts at sequence {}, expected {x}", e.seq),
            ));
        }
    }
    if dat_len < file_dat_len {
        log::warn!(
            "file store: {}: cutting a torn tail of {} bytes",
            s.dat.display(),
            file_dat_len - dat_len
        );
        dat.set_len(dat_len)?;
    }
    let idx_len = fix_index(&idx, idx_len, kept, &entries[kept..])?;
    let live_bytes = entries
        .iter()
        .filter(|e| e.seq >= live_from)
        .map(|e| u64::from(e.size))
        .sum();
    Ok(RecoveredSlice {
        first: entries.first().map(|e| e.seq),
        count: entries.len() as u64,
        first_timestamp: entries.first().map(|e| e.timestamp),
        live_bytes,
        dat: (dat, dat_len),
        idx: (idx, idx_len),
    })
}

/// The valid entries of an index file. A torn last entry (or a tail of
/// zeros) ends the list; a bad entry before others, or entries that do not
/// follow each other, are corruption.
fn read_index(idx: &File, path: &Path, len: u64) -> Result<Vec<IdxEntry>> {
    let n = (len - VERSION_LEN) / IDX_ENTRY_LEN;
    let mut bytes = vec![0u8; (n * IDX_ENTRY_LEN) as usize];
    read_file_at(idx, VERSION_LEN, &mut bytes)?;
    let mut entries: Vec<IdxEntry> = Vec::with_capacity(n as usize);
    for (i, b) in bytes.chunks_exact(IDX_ENTRY_LEN as usize).enumerate() {
        match IdxEntry::decode(b) {
            Some(e) if e.follows(entries.last()) => entries.push(e),
            Some(_) => {
                return Err(corrupt(
                    path,
                    format!("entry {i} does not follow the one before"),
                ))
            }
            None if i as u64 == n - 1
                || bytes[i * IDX_ENTRY_LEN as usize..].iter().all(|&b| b == 0) =>
            {
                break
            }
            None => return Err(corrupt(path, format!("bad entry {i}"))),
        }
    }
    Ok(entries)
}

/// Whether the record `e` indexes is whole: its size and checksum match.
fn record_ok(dat: &File, e: &IdxEntry) -> Result<bool> {
    let mut rec = vec![0u8; (e.end() - e.offset) as usize];
    read_file_at(dat, e.offset, &mut rec)?;
    let (Some(h), Some(payload)) = (rec.first_chunk::<8>(), rec.get(HEADER_LEN as usize..)) else {
        return Ok(false);
    };
    let (_, size, crc) = parse_header(h, false);
    Ok(size == u64::from(e.size) && crc32fast::hash(payload) == crc)
}

/// Indexes the records of `dat` from `from` on (the index lost them),
/// appending to `entries`; returns where the good records end.
fn index_tail(dat: &File, path: &Path, from: u64, entries: &mut Vec<IdxEntry>) -> Result<u64> {
    scan_records(dat, path, from, false, |offset, _, payload| {
        let m = MsgProto::decode(payload).map_err(undecodable(path))?;
        let e = IdxEntry {
            seq: m.sequence,
            offset,
            timestamp: m.timestamp,
            size: payload.len() as u32,
        };
        if !e.follows(entries.last()) {
            return Err(corrupt(
                path,
                format!("message {} at offset {offset} out of sequence", m.sequence),
            ));
        }
        entries.push(e);
        Ok(())
    })
}

/// Cuts the index after its first `kept` entries and appends `rebuilt`;
/// returns its new length.
fn fix_index(idx: &File, len: u64, kept: usize, rebuilt: &[IdxEntry]) -> Result<u64> {
    let keep_len = idx_offset(kept as u64);
    if len != keep_len {
        idx.set_len(keep_len)?;
    }
    if rebuilt.is_empty() {
        return Ok(keep_len);
    }
    log::warn!("file store: rebuilding {} index entries", rebuilt.len());
    let bytes: Vec<u8> = rebuilt.iter().flat_map(|e| e.encode()).collect();
    std::io::Write::write_all(&mut &*idx, &bytes)?;
    Ok(keep_len + bytes.len() as u64)
}

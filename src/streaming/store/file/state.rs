//! The clients (`clients.dat`) and a channel's subscriptions (`subs.dat`):
//! state in memory, every change appended as a record, replayed in order on
//! recovery.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use prost::Message;

use super::io::{corrupt, undecodable};
use super::record_log::{RecordLog, Records};
use super::FileOptions;
use crate::streaming::store::{ClientInfo, RecoveredSub, Result, StoreError, SubState};

const CLIENT_ADD: u8 = 1;
const CLIENT_DEL: u8 = 2;

const SUB_NEW: u8 = 1;
const SUB_UPDATE: u8 = 2;
const SUB_DEL: u8 = 3;
/// A sequence sent to the subscription (pending until acknowledged).
const SUB_PENDING: u8 = 4;
const SUB_ACK: u8 = 5;

#[derive(Clone, PartialEq, Message)]
struct ClientDelete {
    #[prost(string, tag = "1")]
    id: String,
}

#[derive(Clone, PartialEq, Message)]
struct SubDelete {
    #[prost(uint64, tag = "1")]
    id: u64,
}

/// A pending sequence or an acknowledgement.
#[derive(Clone, PartialEq, Message)]
struct SubSeq {
    #[prost(uint64, tag = "1")]
    id: u64,
    #[prost(uint64, tag = "2")]
    seq: u64,
}

fn unknown_type(path: &Path, rtype: u8) -> StoreError {
    corrupt(path, format!("unknown record type {rtype}"))
}

/// Rewrites `log` when it is mostly dead records. A failed rewrite leaves
/// the old file whole, so it is only logged: the change that triggered it
/// is already recorded.
fn compact(
    log: &mut RecordLog,
    live: u64,
    opts: &FileOptions,
    contents: impl FnOnce() -> Result<Records>,
) {
    if !opts.compact || !log.wants_compaction(live, opts.compact_min_file_size) {
        return;
    }
    if let Err(e) = contents().and_then(|c| log.rewrite(c)) {
        log::warn!("file store: compaction failed: {e}");
    }
}

/// The registered clients, by id.
#[derive(Debug)]
pub(super) struct ClientLog {
    log: RecordLog,
    pub clients: BTreeMap<String, ClientInfo>,
}

impl ClientLog {
    pub fn open(path: PathBuf, cap: usize) -> Result<ClientLog> {
        let mut clients = BTreeMap::new();
        let log = RecordLog::open(path.clone(), cap, |rtype, p| {
            match rtype {
                CLIENT_ADD => {
                    let c = ClientInfo::decode(p).map_err(undecodable(&path))?;
                    clients.insert(c.id.clone(), c);
                }
                CLIENT_DEL => {
                    let d = ClientDelete::decode(p).map_err(undecodable(&path))?;
                    clients.remove(&d.id);
                }
                t => return Err(unknown_type(&path, t)),
            }
            Ok(())
        })?;
        Ok(ClientLog { log, clients })
    }

    pub fn add(&mut self, client: &ClientInfo) -> Result<()> {
        self.log.append(CLIENT_ADD, client)?;
        self.clients.insert(client.id.clone(), client.clone());
        Ok(())
    }

    pub fn delete(&mut self, id: &str, opts: &FileOptions) -> Result<()> {
        if self.clients.remove(id).is_none() {
            return Ok(());
        }
        self.log
            .append(CLIENT_DEL, &ClientDelete { id: id.to_owned() })?;
        let clients = &self.clients;
        compact(&mut self.log, clients.len() as u64, opts, || {
            let mut r = Records::new();
            for c in clients.values() {
                r.push(CLIENT_ADD, c)?;
            }
            Ok(r)
        });
        Ok(())
    }

    pub fn sync(&mut self, fsync: bool) -> Result<()> {
        self.log.sync(fsync)
    }
}

#[derive(Debug, Default)]
pub(super) struct SubEntry {
    pub state: SubState,
    pub pending: BTreeSet<u64>,
}

/// The subscriptions in memory; the same changes apply live and on replay.
#[derive(Debug, Default)]
struct Subs {
    subs: BTreeMap<u64, SubEntry>,
    /// Pending sequences over all subscriptions: with the subscriptions,
    /// the records a rewrite keeps.
    pending: u64,
}

impl Subs {
    fn live(&self) -> u64 {
        self.subs.len() as u64 + self.pending
    }

    fn create(&mut self, state: SubState) {
        let old = self.subs.insert(
            state.id,
            SubEntry {
                state,
                pending: BTreeSet::new(),
            },
        );
        self.pending -= old.map_or(0, |e| e.pending.len() as u64);
    }

    fn update(&mut self, state: SubState) {
        let id = state.id;
        self.subs.entry(id).or_default().state = state;
    }

    fn delete(&mut self, id: u64) -> bool {
        let old = self.subs.remove(&id);
        self.pending -= old.as_ref().map_or(0, |e| e.pending.len() as u64);
        old.is_some()
    }

    /// Whether it changed anything.
    fn add_pending(&mut self, id: u64, seq: u64) -> bool {
        let Some(e) = self.subs.get_mut(&id) else {
            return false;
        };
        let raised = seq > e.state.last_sent;
        e.state.last_sent = e.state.last_sent.max(seq);
        let added = e.pending.insert(seq);
        self.pending += u64::from(added);
        raised || added
    }

    fn ack(&mut self, id: u64, seq: u64) -> bool {
        let removed = self
            .subs
            .get_mut(&id)
            .is_some_and(|e| e.pending.remove(&seq));
        self.pending -= u64::from(removed);
        removed
    }

    fn replay(&mut self, path: &Path, rtype: u8, p: &[u8]) -> Result<()> {
        let seq = || SubSeq::decode(p).map_err(undecodable(path));
        match rtype {
            SUB_NEW => self.create(SubState::decode(p).map_err(undecodable(path))?),
            SUB_UPDATE => self.update(SubState::decode(p).map_err(undecodable(path))?),
            SUB_DEL => {
                self.delete(SubDelete::decode(p).map_err(undecodable(path))?.id);
            }
            SUB_PENDING => {
                let s = seq()?;
                self.add_pending(s.id, s.seq);
            }
            SUB_ACK => {
                let s = seq()?;
                self.ack(s.id, s.seq);
            }
            t => return Err(unknown_type(path, t)),
        }
        Ok(())
    }

    /// The records that rebuild this state.
    fn records(&self) -> Result<Records> {
        let mut r = Records::new();
        for (&id, e) in &self.subs {
            r.push(SUB_NEW, &e.state)?;
            for &seq in &e.pending {
                r.push(SUB_PENDING, &SubSeq { id, seq })?;
            }
        }
        Ok(r)
    }
}

/// A channel's subscriptions with their pending sequences.
#[derive(Debug)]
pub(super) struct SubLog {
    log: RecordLog,
    subs: Subs,
}

impl SubLog {
    /// Recovers `path`: pending sets are what was sent minus what was
    /// acknowledged, `last_sent` the highest of the recorded one and the
    /// pending sequences.
    pub fn open(path: PathBuf, cap: usize) -> Result<SubLog> {
        let mut subs = Subs::default();
        let log = RecordLog::open(path.clone(), cap, |t, p| subs.replay(&path, t, p))?;
        Ok(SubLog { log, subs })
    }

    pub fn create(path: PathBuf, cap: usize, fsync: bool) -> Result<SubLog> {
        Ok(SubLog {
            log: RecordLog::create(path, cap, Records::new(), fsync)?,
            subs: Subs::default(),
        })
    }

    pub fn recovered(&self) -> Vec<RecoveredSub> {
        self.subs
            .subs
            .values()
            .map(|e| RecoveredSub {
                state: e.state.clone(),
                pending: e.pending.clone(),
            })
            .collect()
    }

    pub fn create_sub(&mut self, sub: &SubState) -> Result<()> {
        self.log.append(SUB_NEW, sub)?;
        self.subs.create(sub.clone());
        Ok(())
    }

    pub fn update_sub(&mut self, sub: &SubState) -> Result<()> {
        self.log.append(SUB_UPDATE, sub)?;
        self.subs.update(sub.clone());
        Ok(())
    }

    pub fn delete_sub(&mut self, id: u64, opts: &FileOptions) -> Result<()> {
        if !self.subs.subs.contains_key(&id) {
            return Ok(());
        }
        self.log.append(SUB_DEL, &SubDelete { id })?;
        self.subs.delete(id);
        self.compact(opts);
        Ok(())
    }

    pub fn add_pending(&mut self, id: u64, seq: u64) -> Result<()> {
        let Some(e) = self.subs.subs.get(&id) else {
            return Ok(());
        };
        if e.pending.contains(&seq) && e.state.last_sent >= seq {
            return Ok(());
        }
        self.log.append(SUB_PENDING, &SubSeq { id, seq })?;
        self.subs.add_pending(id, seq);
        Ok(())
    }

    pub fn ack(&mut self, id: u64, seq: u64, opts: &FileOptions) -> Result<()> {
        if !self
            .subs
            .subs
            .get(&id)
            .is_some_and(|e| e.pending.contains(&seq))
        {
            return Ok(());
        }
        self.log.append(SUB_ACK, &SubSeq { id, seq })?;
        self.subs.ack(id, seq);
        self.compact(opts);
        Ok(())
    }

    fn compact(&mut self, opts: &FileOptions) {
        let subs = &self.subs;
        compact(&mut self.log, subs.live(), opts, || subs.records());
    }

    pub fn sync(&mut self, fsync: bool) -> Result<()> {
        self.log.sync(fsync)
    }

    #[cfg(test)]
    pub fn records(&self) -> u64 {
        self.log.records()
    }
}

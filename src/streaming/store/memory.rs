//! The memory store: the message logs and subscription state live in the
//! process and are gone when it ends. Also the in-memory half of the
//! persistent stores' bookkeeping, through [`MsgLog`].

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use super::{
    ChannelLimits, ChannelStats, ClientInfo, Recovered, Result, ServerInfo, Store, StoreError,
    StoreKind, SubState,
};
use crate::streaming::proto::MsgProto;

/// The size a message counts for in `max_bytes` and the byte totals: its
/// encoded record, as nats-streaming-server counts it.
pub fn msg_size(m: &MsgProto) -> u64 {
    prost::Message::encoded_len(m) as u64
}

/// One channel's messages in memory with the limits applied on append.
#[derive(Debug, Default)]
pub struct MsgLog {
    msgs: VecDeque<MsgProto>,
    bytes: u64,
    /// The sequence of the next message: `last + 1`.
    next: u64,
    pub limits: ChannelLimits,
}

impl MsgLog {
    pub fn new(limits: ChannelLimits) -> MsgLog {
        MsgLog {
            next: 1,
            limits,
            ..Default::default()
        }
    }

    pub fn stats(&self) -> ChannelStats {
        let first = self.msgs.front().map_or(self.next, |m| m.sequence);
        ChannelStats {
            first,
            last: self.next - 1,
            msgs: self.msgs.len() as u64,
            bytes: self.bytes,
        }
    }

    pub fn append(&mut self, m: MsgProto) {
        self.next = m.sequence + 1;
        self.bytes += msg_size(&m);
        self.msgs.push_back(m);
        let l = self.limits;
        while (l.max_msgs > 0 && self.msgs.len() as u64 > l.max_msgs)
            || (l.max_bytes > 0 && self.bytes > l.max_bytes && self.msgs.len() > 1)
        {
            self.pop_front();
        }
    }

    fn pop_front(&mut self) {
        if let Some(m) = self.msgs.pop_front() {
            self.bytes -= msg_size(&m);
        }
    }

    pub fn get(&self, seq: u64) -> Option<&MsgProto> {
        let first = self.msgs.front()?.sequence;
        let i = usize::try_from(seq.checked_sub(first)?).ok()?;
        self.msgs.get(i)
    }

    pub fn first_at_or_after(&self, ts: i64) -> u64 {
        let i = self.msgs.partition_point(|m| m.timestamp < ts);
        self.msgs.get(i).map_or(self.next, |m| m.sequence)
    }

    pub fn expire(&mut self, now: i64) {
        let age = self.limits.max_age.as_nanos() as i64;
        if age == 0 {
            return;
        }
        while self.msgs.front().is_some_and(|m| m.timestamp <= now - age) {
            self.pop_front();
        }
    }
}

#[derive(Debug, Default)]
struct MemChannel {
    log: MsgLog,
    subs: BTreeMap<u64, (SubState, BTreeSet<u64>)>,
}

/// [`Store`] in memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    channels: HashMap<String, MemChannel>,
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn channel(&mut self, name: &str) -> Result<&mut MemChannel> {
        self.channels
            .get_mut(name)
            .ok_or_else(|| StoreError::Other(format!("channel {name:?} not found")))
    }
}

impl Store for MemoryStore {
    fn kind(&self) -> StoreKind {
        StoreKind::Memory
    }

    fn recover(&mut self) -> Result<Option<Recovered>> {
        Ok(None)
    }

    fn init(&mut self, _info: &ServerInfo) -> Result<()> {
        Ok(())
    }

    fn add_client(&mut self, _client: &ClientInfo) -> Result<()> {
        Ok(())
    }

    fn delete_client(&mut self, _id: &str) -> Result<()> {
        Ok(())
    }

    fn create_channel(&mut self, name: &str, limits: &ChannelLimits) -> Result<()> {
        self.channels
            .entry(name.to_owned())
            .or_insert_with(|| MemChannel {
                log: MsgLog::new(*limits),
                subs: BTreeMap::new(),
            })
            .log
            .limits = *limits;
        Ok(())
    }

    fn delete_channel(&mut self, name: &str) -> Result<()> {
        self.channels.remove(name);
        Ok(())
    }

    fn store_msg(&mut self, channel: &str, msg: &MsgProto) -> Result<()> {
        self.channel(channel)?.log.append(msg.clone());
        Ok(())
    }

    fn lookup(&mut self, channel: &str, seq: u64) -> Result<Option<MsgProto>> {
        Ok(self.channel(channel)?.log.get(seq).cloned())
    }

    fn stats(&self, channel: &str) -> ChannelStats {
        self.channels
            .get(channel)
            .map(|c| c.log.stats())
            .unwrap_or_default()
    }

    fn first_seq_at_or_after(&mut self, channel: &str, timestamp: i64) -> Result<u64> {
        Ok(self.channel(channel)?.log.first_at_or_after(timestamp))
    }

    fn expire(&mut self, channel: &str, now: i64) -> Result<()> {
        self.channel(channel)?.log.expire(now);
        Ok(())
    }

    fn create_sub(&mut self, channel: &str, sub: &SubState) -> Result<()> {
        self.channel(channel)?
            .subs
            .insert(sub.id, (sub.clone(), BTreeSet::new()));
        Ok(())
    }

    fn update_sub(&mut self, channel: &str, sub: &SubState) -> Result<()> {
        let c = self.channel(channel)?;
        c.subs.entry(sub.id).or_default().0 = sub.clone();
        Ok(())
    }

    fn delete_sub(&mut self, channel: &str, sub_id: u64) -> Result<()> {
        self.channel(channel)?.subs.remove(&sub_id);
        Ok(())
    }

    fn add_pending(&mut self, channel: &str, sub_id: u64, seq: u64) -> Result<()> {
        if let Some((s, p)) = self.channel(channel)?.subs.get_mut(&sub_id) {
            s.last_sent = s.last_sent.max(seq);
            p.insert(seq);
        }
        Ok(())
    }

    fn ack(&mut self, channel: &str, sub_id: u64, seq: u64) -> Result<()> {
        if let Some((_, p)) = self.channel(channel)?.subs.get_mut(&sub_id) {
            p.remove(&seq);
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use crate::streaming::store::test_records::msg;

    #[test]
    fn limits_drop_the_oldest_and_sequences_go_on() {
        let mut s = MemoryStore::new();
        let limits = ChannelLimits {
            max_msgs: 2,
            ..Default::default()
        };
        s.create_channel("foo", &limits).unwrap();
        assert_eq!(s.stats("foo").first, 1);
        for i in 1..=3 {
            s.store_msg("foo", &msg(i, i as i64, b"x")).unwrap();
        }
        let st = s.stats("foo");
        assert_eq!((st.first, st.last, st.msgs), (2, 3, 2));
        assert!(s.lookup("foo", 1).unwrap().is_none());
        assert_eq!(s.lookup("foo", 3).unwrap().unwrap().sequence, 3);
        assert_eq!(s.first_seq_at_or_after("foo", 3).unwrap(), 3);
        assert_eq!(s.first_seq_at_or_after("foo", 9).unwrap(), 4);
    }

    #[test]
    fn max_age_expires() {
        let mut s = MemoryStore::new();
        let limits = ChannelLimits {
            max_age: Duration::from_nanos(10),
            ..Default::default()
        };
        s.create_channel("foo", &limits).unwrap();
        s.store_msg("foo", &msg(1, 100, b"a")).unwrap();
        s.store_msg("foo", &msg(2, 105, b"b")).unwrap();
        s.expire("foo", 112).unwrap();
        let st = s.stats("foo");
        assert_eq!((st.first, st.last, st.msgs), (2, 2, 1));
        s.expire("foo", 200).unwrap();
        let st = s.stats("foo");
        assert_eq!((st.first, st.last, st.msgs), (3, 2, 0));
    }
}

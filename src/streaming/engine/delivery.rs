//! Sending messages to subscribers: new messages in order up to each
//! subscription's max in flight, queue groups one member per message,
//! redelivery after the ack wait, and the timed work of a tick.

use std::time::{Duration, Instant};

use super::state::Pending;
use super::{now_nanos, Engine, Out, Token};
use crate::streaming::proto::{encode, MsgProto};

impl Engine {
    /// Sends what each subscription of `channel` may take now.
    pub(super) fn dispatch(&mut self, channel: &str) {
        let Some(ch) = self.channels.get(channel) else {
            return;
        };
        let plain = ch.plain.clone();
        let groups: Vec<String> = ch.queues.keys().cloned().collect();
        for id in plain {
            self.dispatch_plain(channel, id);
        }
        for g in groups {
            self.dispatch_group(channel, &g);
        }
    }

    fn dispatch_plain(&mut self, channel: &str, id: u64) {
        let stats = self.store.stats(channel);
        loop {
            let Some(sub) = self.subs.get(&id) else {
                return;
            };
            if !sub.online() || sub.stalled() || sub.state.last_sent >= stats.last {
                return;
            }
            let seq = (sub.state.last_sent + 1).max(stats.first);
            if seq > stats.last {
                return;
            }
            match self.store.lookup(channel, seq) {
                Ok(Some(m)) => self.send_new(id, &m),
                Ok(None) => {
                    if let Some(s) = self.subs.get_mut(&id) {
                        s.state.last_sent = seq;
                    }
                }
                Err(e) => {
                    log::error!("streaming: cannot read {channel:?} #{seq}: {e}");
                    return;
                }
            }
        }
    }

    /// The member a queue group's next message goes to: online, not
    /// stalled, answering heartbeats, with the fewest in flight; ties go
    /// round.
    fn pick_member(&self, members: &[u64], start: usize) -> Option<(usize, u64)> {
        let n = members.len();
        let mut best: Option<(usize, u64, usize)> = None;
        for k in 0..n {
            let i = (start + k) % n;
            let id = members[i];
            let Some(s) = self.subs.get(&id) else {
                continue;
            };
            let failing = self
                .clients
                .get(&s.state.client_id)
                .is_none_or(|c| c.missed_hb > 0);
            if !s.online() || s.stalled() || failing {
                continue;
            }
            if best.is_none_or(|(_, _, p)| s.pending.len() < p) {
                best = Some((i, id, s.pending.len()));
            }
        }
        best.map(|(i, id, _)| (i, id))
    }

    fn dispatch_group(&mut self, channel: &str, group: &str) {
        let stats = self.store.stats(channel);
        loop {
            let Some(q) = self.channels.get(channel).and_then(|c| c.queues.get(group)) else {
                return;
            };
            if q.last_sent >= stats.last {
                return;
            }
            let seq = (q.last_sent + 1).max(stats.first);
            if seq > stats.last {
                return;
            }
            let Some((i, member)) = self.pick_member(&q.members, q.next) else {
                return;
            };
            let msg = match self.store.lookup(channel, seq) {
                Ok(m) => m,
                Err(e) => {
                    log::error!("streaming: cannot read {channel:?} #{seq}: {e}");
                    return;
                }
            };
            if let Some(q) = self
                .channels
                .get_mut(channel)
                .and_then(|c| c.queues.get_mut(group))
            {
                q.last_sent = seq;
                q.next = i + 1;
            }
            match msg {
                Some(m) => self.send_new(member, &m),
                None => {
                    if let Some(s) = self.subs.get_mut(&member) {
                        s.state.last_sent = s.state.last_sent.max(seq);
                    }
                }
            }
        }
    }

    /// First delivery of `m` to subscription `id`.
    fn send_new(&mut self, id: u64, m: &MsgProto) {
        let Some(sub) = self.subs.get_mut(&id) else {
            return;
        };
        sub.state.last_sent = sub.state.last_sent.max(m.sequence);
        sub.pending.insert(
            m.sequence,
            Pending {
                due: Instant::now() + sub.ack_wait(),
                redeliveries: 0,
            },
        );
        let inbox = sub.state.inbox.clone();
        let channel = sub.channel.clone();
        if let Err(e) = self.store.add_pending(&channel, id, m.sequence) {
            log::error!("streaming: cannot record pending message: {e}");
        }
        self.send(&inbox, encode(m));
    }

    /// Sends `id`'s unacknowledged messages again: all of them (`due` =
    /// `None`, a resumed durable) or those whose ack wait ran out.
    fn redeliver(&mut self, id: u64, due: Option<Instant>) {
        let Some(sub) = self.subs.get(&id) else {
            return;
        };
        if !sub.online() {
            return;
        }
        let seqs: Vec<u64> = sub
            .pending
            .iter()
            .filter(|(_, p)| due.is_none_or(|t| p.due <= t))
            .map(|(s, _)| *s)
            .collect();
        let channel = sub.channel.clone();
        let inbox = sub.state.inbox.clone();
        let wait = sub.ack_wait();
        for seq in seqs {
            let msg = match self.store.lookup(&channel, seq) {
                Ok(m) => m,
                Err(e) => {
                    log::error!("streaming: cannot read {channel:?} #{seq}: {e}");
                    continue;
                }
            };
            let Some(sub) = self.subs.get_mut(&id) else {
                return;
            };
            let Some(mut m) = msg else {
                // Removed by limits: as good as acknowledged.
                sub.pending.remove(&seq);
                if let Err(e) = self.store.ack(&channel, id, seq) {
                    log::error!("streaming: cannot record ack: {e}");
                }
                continue;
            };
            let Some(p) = sub.pending.get_mut(&seq) else {
                continue;
            };
            p.redeliveries += 1;
            p.due = Instant::now() + wait;
            m.redelivered = true;
            m.redelivery_count = p.redeliveries;
            self.send(&inbox, encode(&m));
        }
    }

    /// A resumed durable gets its unacknowledged messages first.
    pub(super) fn resend_all(&mut self, id: u64) {
        self.redeliver(id, None);
    }

    pub(super) fn on_tick(&mut self, now: Instant) {
        // Ack-wait redeliveries, except to clients missing heartbeats.
        let due: Vec<u64> = self
            .subs
            .iter()
            .filter(|(_, s)| {
                s.online()
                    && s.pending.values().any(|p| p.due <= now)
                    && self
                        .clients
                        .get(&s.state.client_id)
                        .is_some_and(|c| c.missed_hb == 0)
            })
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            self.redeliver(id, Some(now));
        }
        // Heartbeats.
        let hb: Vec<String> = self
            .clients
            .iter()
            .filter(|(_, c)| !c.hb_in_flight && c.next_hb <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in hb {
            let Some(c) = self.clients.get_mut(&id) else {
                continue;
            };
            c.hb_in_flight = true;
            c.hb_round += 1;
            let out = Out::Request {
                subject: c.info.hb_inbox.clone(),
                timeout: self.cfg.hb_timeout,
                token: Token::Heartbeat {
                    client: id,
                    round: c.hb_round,
                },
            };
            self.out.push(out);
        }
        if now.duration_since(self.last_expiry) >= Duration::from_millis(500) {
            self.last_expiry = now;
            if self.cfg.lock_renewal {
                match self.store.renew_lock() {
                    Ok(true) => {}
                    Ok(false) => {
                        // Another server took the store: serving on would
                        // make two active servers.
                        log::error!("STREAM: lost the store lock to another server, exiting");
                        std::process::exit(1);
                    }
                    Err(e) => log::error!("STREAM: cannot renew the store lock: {e}"),
                }
            }
            self.expire_and_prune(now);
        }
    }

    /// `max_age` and `max_inactivity`.
    fn expire_and_prune(&mut self, now: Instant) {
        let ns = now_nanos();
        let names: Vec<String> = self.channels.keys().cloned().collect();
        for name in names {
            let limits = self.cfg.limits.for_channel(&name);
            if !limits.max_age.is_zero() {
                if let Err(e) = self.store.expire(&name, ns) {
                    log::error!("streaming: cannot expire {name:?}: {e}");
                }
            }
            if limits.max_inactivity.is_zero() {
                continue;
            }
            let Some(ch) = self.channels.get(&name) else {
                continue;
            };
            let active = ch
                .sub_ids()
                .any(|id| self.subs.get(&id).is_some_and(|s| s.online()));
            if active || now.duration_since(ch.last_activity) < limits.max_inactivity {
                continue;
            }
            self.delete_channel(&name);
        }
    }

    fn delete_channel(&mut self, name: &str) {
        let Some(ch) = self.channels.remove(name) else {
            return;
        };
        for id in ch.sub_ids().collect::<Vec<_>>() {
            self.subs.remove(&id);
        }
        self.folded.remove(&name.to_lowercase());
        if let Err(e) = self.store.delete_channel(name) {
            log::error!("streaming: cannot delete channel {name:?}: {e}");
        }
        log::debug!("streaming: channel {name:?} deleted after inactivity");
    }

    pub(super) fn on_answered(&mut self, token: Token, answered: bool) {
        match token {
            Token::DuplicateCheck { client } => self.on_duplicate_checked(client, answered),
            Token::Heartbeat { client, round } => {
                let fail_count = self.cfg.hb_fail_count;
                let interval = self.cfg.hb_interval;
                let Some(c) = self.clients.get_mut(&client) else {
                    return;
                };
                if c.hb_round != round {
                    return;
                }
                c.hb_in_flight = false;
                c.next_hb = Instant::now() + interval;
                if answered {
                    let recovered = c.missed_hb > 0;
                    c.missed_hb = 0;
                    if recovered {
                        // Its queue groups may take messages again.
                        let chans: Vec<String> = c
                            .subs
                            .iter()
                            .filter_map(|s| self.subs.get(s).map(|s| s.channel.clone()))
                            .collect();
                        self.dirty.extend(chans);
                    }
                    return;
                }
                c.missed_hb += 1;
                if c.missed_hb > fail_count {
                    log::debug!("streaming: client {client:?} missed too many heartbeats");
                    self.close_client(&client);
                }
            }
        }
    }
}

//! The protocol's requests: connect, ping, publish, subscribe,
//! unsubscribe, subscription close, connection close and acks, each checked
//! in nats-streaming-server's order and answered with its error texts.

use bytes::Bytes;
use prost::Message;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::names::{valid_channel, valid_client_id};
use super::state::{durable_key, Channel, Client, Pending};
use super::{now_nanos, Engine, Kind, PendingConnect, Token};
use crate::streaming::proto::{
    encode, Ack, CloseRequest, CloseResponse, ConnectRequest, ConnectResponse, MsgProto, Ping,
    PingResponse, PubAck, PubMsg, StartPosition, SubscriptionRequest, SubscriptionResponse,
    UnsubscribeRequest,
};
use crate::streaming::store::SubState;

pub const ERR_INVALID_CONN_REQ: &str = "stan: invalid connection request";
pub const ERR_INVALID_CLIENT_ID: &str =
    "stan: invalid clientID: only alphanumeric and `-` or `_` characters allowed";
pub const ERR_CLIENT_REGISTERED: &str = "stan: clientID already registered";
pub const ERR_INVALID_PUB_REQ: &str = "stan: invalid publish request";
pub const ERR_INVALID_SUB_REQ: &str = "stan: invalid subscription request";
pub const ERR_MISSING_CLIENT: &str = "stan: clientID missing";
pub const ERR_INVALID_ACK_WAIT: &str = "stan: invalid ack wait time, should be >= 1s";
pub const ERR_INVALID_MAX_INFLIGHT: &str = "stan: invalid MaxInflight, should be >= 1";
pub const ERR_INVALID_START: &str = "stan: invalid start position";
pub const ERR_INVALID_SUBJECT: &str = "stan: invalid subject";
pub const ERR_UNKNOWN_CLIENT: &str = "stan: unknown clientID";
pub const ERR_DUR_QUEUE_COLON: &str =
    "stan: durable name of a durable queue subscriber can't contain the character ':'";
pub const ERR_DUP_DURABLE: &str = "stan: duplicate durable registration";
pub const ERR_TOO_MANY_SUBS: &str = "too many subscriptions per channel";
pub const ERR_TOO_MANY_CHANNELS: &str = "too many channels";
pub const ERR_INVALID_UNSUB_REQ: &str = "stan: invalid unsubscribe request";
pub const ERR_UNKNOWN_CHANNEL: &str = "stan: unknown channel";
pub const ERR_INVALID_SUB: &str = "stan: invalid subscription";
pub const ERR_INVALID_CLOSE_REQ: &str = "stan: invalid close request";
pub const ERR_CLIENT_REPLACED: &str = "client has been replaced or is no longer registered";
pub const ERR_NO_CHANNEL: &str = "stan: no configured channel";

impl Engine {
    pub(super) fn on_msg(&mut self, kind: Kind, subject: &str, reply: Option<String>, p: &Bytes) {
        match kind {
            Kind::Discover => self.on_connect(reply, p),
            Kind::Ping => self.on_ping(reply, p),
            Kind::Publish => self.on_publish(subject, reply, p),
            Kind::Subscribe => self.on_subscribe(reply, p),
            Kind::Unsubscribe => self.on_unsubscribe(reply, p, false),
            Kind::SubClose => self.on_unsubscribe(reply, p, true),
            Kind::Close => self.on_close(reply, p),
            Kind::Ack => self.on_ack(subject, p),
        }
    }

    fn connect_error(&mut self, reply: Option<String>, error: &str) {
        let r = ConnectResponse {
            error: error.to_owned(),
            ..Default::default()
        };
        self.reply(reply, encode(&r));
    }

    fn on_connect(&mut self, reply: Option<String>, p: &Bytes) {
        let Ok(req) = ConnectRequest::decode(p.as_ref()) else {
            return self.connect_error(reply, ERR_INVALID_CONN_REQ);
        };
        if req.heartbeat_inbox.is_empty() {
            return self.connect_error(reply, ERR_INVALID_CONN_REQ);
        }
        if !valid_client_id(&req.client_id) {
            return self.connect_error(reply, ERR_INVALID_CLIENT_ID);
        }
        let Some(reply) = reply.filter(|r| !r.is_empty()) else {
            return;
        };
        if self.checking.contains_key(&req.client_id) {
            return self.connect_error(Some(reply), ERR_CLIENT_REGISTERED);
        }
        if let Some(old) = self.clients.get(&req.client_id) {
            // Is the registered one still there? It answers heartbeats.
            let subject = old.info.hb_inbox.clone();
            self.out.push(super::Out::Request {
                subject,
                timeout: self.cfg.client_check_timeout,
                token: Token::DuplicateCheck {
                    client: req.client_id.clone(),
                },
            });
            self.checking.insert(
                req.client_id.clone(),
                PendingConnect {
                    request: req,
                    reply,
                },
            );
            return;
        }
        self.register(req, reply);
    }

    /// The answer to a duplicate check: a live client keeps its ID, a dead
    /// one is closed and replaced.
    pub(super) fn on_duplicate_checked(&mut self, client: String, answered: bool) {
        let Some(pc) = self.checking.remove(&client) else {
            return;
        };
        if answered {
            return self.connect_error(Some(pc.reply), ERR_CLIENT_REGISTERED);
        }
        log::debug!("streaming: replacing client {client:?} that did not answer");
        self.close_client(&client);
        self.register(pc.request, pc.reply);
    }

    fn register(&mut self, req: ConnectRequest, reply: String) {
        let info = crate::streaming::store::ClientInfo {
            id: req.client_id.clone(),
            hb_inbox: req.heartbeat_inbox.clone(),
            conn_id: req.conn_id.clone(),
            protocol: req.protocol,
            ping_interval: req.ping_interval,
            ping_max_out: req.ping_max_out,
        };
        if let Err(e) = self.store.add_client(&info) {
            return self.connect_error(Some(reply), &e.to_string());
        }
        if !info.conn_id.is_empty() {
            self.conn_ids.insert(info.conn_id.clone(), info.id.clone());
        }
        self.clients.insert(
            info.id.clone(),
            Client {
                info,
                subs: Vec::new(),
                missed_hb: 0,
                hb_in_flight: false,
                hb_round: 0,
                next_hb: Instant::now() + self.cfg.hb_interval,
            },
        );
        let mut r = ConnectResponse {
            pub_prefix: self.info.publish.clone(),
            sub_requests: self.info.subscribe.clone(),
            unsub_requests: self.info.unsubscribe.clone(),
            close_requests: self.info.close.clone(),
            sub_close_requests: self.info.sub_close.clone(),
            protocol: 1,
            ..Default::default()
        };
        if req.protocol >= 1 {
            r.ping_requests = self.info.ping.clone();
            r.ping_interval = req.ping_interval;
            r.ping_max_out = req.ping_max_out;
        }
        log::debug!("streaming: client {:?} connected", req.client_id);
        self.reply(Some(reply), encode(&r));
    }

    fn on_ping(&mut self, reply: Option<String>, p: &Bytes) {
        let Ok(ping) = Ping::decode(p.as_ref()) else {
            return;
        };
        if ping.conn_id.is_empty() {
            return;
        }
        let known = self
            .conn_ids
            .get(&ping.conn_id)
            .and_then(|id| self.clients.get_mut(id));
        let error = match known {
            Some(c) => {
                if c.missed_hb > 0 {
                    c.next_hb = Instant::now();
                }
                String::new()
            }
            None => ERR_CLIENT_REPLACED.to_owned(),
        };
        let payload = if error.is_empty() {
            Vec::new()
        } else {
            encode(&PingResponse { error })
        };
        self.reply(reply, payload);
    }

    fn client_of_publish(&self, m: &PubMsg) -> bool {
        if m.conn_id.is_empty() {
            self.clients.contains_key(&m.client_id)
        } else {
            self.conn_ids.contains_key(&m.conn_id)
        }
    }

    fn on_publish(&mut self, _subject: &str, reply: Option<String>, p: &Bytes) {
        self.counters.in_msgs += 1;
        self.counters.in_bytes += p.len() as u64;
        let Ok(m) = PubMsg::decode(p.as_ref()) else {
            return self.pub_ack(reply, String::new(), ERR_INVALID_PUB_REQ);
        };
        if self.cfg.partitioning && !self.cfg.limits.lists(&m.subject) {
            return;
        }
        if m.guid.is_empty() || !valid_channel(&m.subject) || !self.client_of_publish(&m) {
            return self.pub_ack(reply, m.guid, ERR_INVALID_PUB_REQ);
        }
        if let Err(e) = self.channel_or_create(&m.subject) {
            return self.pub_ack(reply, m.guid, &e);
        }
        let stats = self.store.stats(&m.subject);
        let last_ts = if stats.last >= stats.first && stats.last > 0 {
            self.store
                .lookup(&m.subject, stats.last)
                .ok()
                .flatten()
                .map_or(0, |l| l.timestamp)
        } else {
            0
        };
        let msg = MsgProto {
            sequence: stats.last + 1,
            subject: m.subject.clone(),
            reply: m.reply,
            data: m.data,
            timestamp: now_nanos().max(last_ts),
            ..Default::default()
        };
        if let Err(e) = self.store.store_msg(&m.subject, &msg) {
            return self.pub_ack(reply, m.guid, &e.to_string());
        }
        if let Some(ch) = self.channels.get_mut(&m.subject) {
            ch.last_activity = Instant::now();
        }
        self.dirty.insert(m.subject);
        self.pub_ack(reply, m.guid, "");
    }

    fn pub_ack(&mut self, reply: Option<String>, guid: String, error: &str) {
        if let Some(reply) = reply.filter(|r| !r.is_empty()) {
            self.pub_acks.push((
                reply,
                PubAck {
                    guid,
                    error: error.to_owned(),
                },
            ));
        }
    }

    /// The channel, created (with its limits) on first use.
    ///
    /// # Errors
    /// The protocol's text when the channel may not be created.
    fn channel_or_create(&mut self, name: &str) -> Result<(), String> {
        if self.channels.contains_key(name) {
            return Ok(());
        }
        if self.cfg.partitioning && !self.cfg.limits.lists(name) {
            return Err(ERR_NO_CHANNEL.to_owned());
        }
        let folded = name.to_lowercase();
        if let Some(existing) = self.folded.get(&folded) {
            return Err(format!(
                "rejecting channel {name:?} because channel {existing:?} alreay exists (different cases not allowed)"
            ));
        }
        let max = self.cfg.limits.max_channels;
        if max > 0 && self.channels.len() as u64 >= max {
            return Err(ERR_TOO_MANY_CHANNELS.to_owned());
        }
        let limits = self.cfg.limits.for_channel(name);
        self.store
            .create_channel(name, &limits)
            .map_err(|e| e.to_string())?;
        self.folded.insert(folded, name.to_owned());
        self.channels
            .insert(name.to_owned(), Channel::new(Instant::now()));
        Ok(())
    }

    fn sub_reply(&mut self, reply: Option<String>, ack_inbox: String, error: &str) {
        let r = SubscriptionResponse {
            ack_inbox,
            error: error.to_owned(),
        };
        let payload = if r.ack_inbox.is_empty() && r.error.is_empty() {
            Vec::new()
        } else {
            encode(&r)
        };
        self.reply(reply, payload);
    }

    fn on_subscribe(&mut self, reply: Option<String>, p: &Bytes) {
        let Ok(req) = SubscriptionRequest::decode(p.as_ref()) else {
            return self.sub_reply(reply, String::new(), ERR_INVALID_SUB_REQ);
        };
        if self.cfg.partitioning && !self.cfg.limits.lists(&req.subject) {
            return;
        }
        let check = if req.client_id.is_empty() {
            Some(ERR_MISSING_CLIENT)
        } else if req.ack_wait_in_secs <= 0 {
            Some(ERR_INVALID_ACK_WAIT)
        } else if req.max_in_flight <= 0 {
            Some(ERR_INVALID_MAX_INFLIGHT)
        } else if StartPosition::try_from(req.start_position).is_err() {
            Some(ERR_INVALID_START)
        } else if !valid_channel(&req.subject) {
            Some(ERR_INVALID_SUBJECT)
        } else if !self.clients.contains_key(&req.client_id) {
            Some(ERR_UNKNOWN_CLIENT)
        } else {
            None
        };
        if let Some(e) = check {
            return self.sub_reply(reply, String::new(), e);
        }
        if let Err(e) = self.channel_or_create(&req.subject) {
            return self.sub_reply(reply, String::new(), &e);
        }
        if !req.durable_name.is_empty() && !req.q_group.is_empty() && req.durable_name.contains(':')
        {
            return self.sub_reply(reply, String::new(), ERR_DUR_QUEUE_COLON);
        }
        match self.subscribe(&req) {
            Ok(ack_inbox) => {
                if let Some(ch) = self.channels.get_mut(&req.subject) {
                    ch.last_activity = Instant::now();
                }
                self.dirty.insert(req.subject.clone());
                self.sub_reply(reply, ack_inbox, "");
            }
            Err(e) => self.sub_reply(reply, String::new(), &e),
        }
    }

    fn ack_inbox(&self, id: u64) -> String {
        format!("{}.{id}", self.info.acks)
    }

    /// Creates, resumes or joins; answers the ack inbox.
    fn subscribe(&mut self, req: &SubscriptionRequest) -> Result<String, String> {
        let channel = req.subject.as_str();
        let durable = !req.durable_name.is_empty();
        let group = if req.q_group.is_empty() {
            None
        } else if durable {
            Some(format!("{}:{}", req.durable_name, req.q_group))
        } else {
            Some(req.q_group.clone())
        };
        // A durable (outside queue groups) that exists is resumed.
        if durable && group.is_none() {
            let key = durable_key(&req.client_id, channel, &req.durable_name);
            let existing = self
                .channels
                .get(channel)
                .and_then(|c| c.durables.get(&key).copied());
            if let Some(id) = existing {
                let online = self.subs.get(&id).is_some_and(|s| s.online());
                if online {
                    if !self.cfg.replace_durable {
                        return Err(ERR_DUP_DURABLE.to_owned());
                    }
                    self.remove_sub(id, false);
                }
                return self.resume(id, req);
            }
        }
        let ch = self.channels.get(channel).ok_or(ERR_INVALID_SUBJECT)?;
        // Joining a group with a closed durable state takes that state over.
        if let Some(g) = &group {
            if let Some(shadow) = ch.queues.get(g).and_then(|q| q.shadow) {
                if let Some(q) = self
                    .channels
                    .get_mut(channel)
                    .and_then(|c| c.queues.get_mut(g))
                {
                    q.shadow = None;
                    q.members.push(shadow);
                }
                return self.resume(shadow, req);
            }
        }
        let max_subs = self.cfg.limits.for_channel(channel).max_subs;
        if max_subs > 0 && ch.sub_ids().count() as u64 >= max_subs {
            return Err(ERR_TOO_MANY_SUBS.to_owned());
        }
        let last_sent = match group.as_ref().and_then(|g| ch.queues.get(g)) {
            Some(q) => q.last_sent,
            None => self.start_position(req).map_err(|e| e.to_string())?,
        };
        let id = self.next_sub_id;
        self.next_sub_id += 1;
        let st = SubState {
            id,
            client_id: req.client_id.clone(),
            q_group: group.unwrap_or_default(),
            inbox: req.inbox.clone(),
            ack_inbox: self.ack_inbox(id),
            max_in_flight: req.max_in_flight,
            ack_wait_secs: req.ack_wait_in_secs,
            durable_name: req.durable_name.clone(),
            last_sent,
            is_durable: durable,
            is_closed: false,
        };
        self.store
            .create_sub(channel, &st)
            .map_err(|e| e.to_string())?;
        let ack_inbox = st.ack_inbox.clone();
        self.attach(channel, st, BTreeMap::new());
        Ok(ack_inbox)
    }

    /// Brings a closed durable (or a durable queue group's kept state) back
    /// online for `req`: new inbox and limits, its unacknowledged messages
    /// sent again first.
    fn resume(&mut self, id: u64, req: &SubscriptionRequest) -> Result<String, String> {
        let ack_inbox = self.ack_inbox(id);
        let Some(sub) = self.subs.get_mut(&id) else {
            return Err(ERR_INVALID_SUB.to_owned());
        };
        sub.state.client_id = req.client_id.clone();
        sub.state.inbox = req.inbox.clone();
        sub.state.ack_inbox = ack_inbox.clone();
        sub.state.max_in_flight = req.max_in_flight;
        sub.state.ack_wait_secs = req.ack_wait_in_secs;
        sub.state.is_closed = false;
        let st = sub.state.clone();
        let channel = sub.channel.clone();
        self.store
            .update_sub(&channel, &st)
            .map_err(|e| e.to_string())?;
        if let Some(c) = self.clients.get_mut(&req.client_id) {
            c.subs.push(id);
        }
        self.resend.push(id);
        Ok(ack_inbox)
    }

    /// `lastSent` of a new subscription from its start position.
    fn start_position(
        &mut self,
        req: &SubscriptionRequest,
    ) -> crate::streaming::store::Result<u64> {
        let ch = req.subject.as_str();
        let s = self.store.stats(ch);
        let empty = s.msgs == 0;
        Ok(match StartPosition::try_from(req.start_position) {
            Ok(StartPosition::LastReceived) => {
                if empty {
                    s.last
                } else {
                    s.last - 1
                }
            }
            Ok(StartPosition::TimeDeltaStart) => {
                let at = now_nanos().saturating_sub(req.start_time_delta);
                let seq = self.store.first_seq_at_or_after(ch, at)?;
                seq.saturating_sub(1).min(s.last)
            }
            Ok(StartPosition::SequenceStart) => {
                if empty {
                    s.last
                } else if req.start_sequence < s.first {
                    s.first - 1
                } else if req.start_sequence > s.last {
                    s.last
                } else {
                    req.start_sequence - 1
                }
            }
            Ok(StartPosition::First) => s.first.saturating_sub(1).min(s.last),
            Ok(StartPosition::NewOnly) | Err(_) => s.last,
        })
    }

    fn on_unsubscribe(&mut self, reply: Option<String>, p: &Bytes, close: bool) {
        let Ok(req) = UnsubscribeRequest::decode(p.as_ref()) else {
            return self.sub_reply(reply, String::new(), ERR_INVALID_UNSUB_REQ);
        };
        if self.cfg.partitioning && !self.cfg.limits.lists(&req.subject) {
            return;
        }
        let Some(ch) = self.channels.get(&req.subject) else {
            return self.sub_reply(reply, String::new(), ERR_UNKNOWN_CHANNEL);
        };
        let found = ch.sub_ids().find(|id| {
            self.subs.get(id).is_some_and(|s| {
                s.online()
                    && s.state.client_id == req.client_id
                    && (s.state.ack_inbox == req.inbox || s.state.inbox == req.inbox)
            })
        });
        let Some(id) = found else {
            let e = if self.clients.contains_key(&req.client_id) {
                ERR_INVALID_SUB
            } else {
                ERR_UNKNOWN_CLIENT
            };
            return self.sub_reply(reply, String::new(), e);
        };
        self.remove_sub(id, !close);
        if let Some(ch) = self.channels.get_mut(&req.subject) {
            ch.last_activity = Instant::now();
        }
        self.sub_reply(reply, String::new(), "");
    }

    fn on_close(&mut self, reply: Option<String>, p: &Bytes) {
        let Ok(req) = CloseRequest::decode(p.as_ref()) else {
            let r = CloseResponse {
                error: ERR_INVALID_CLOSE_REQ.into(),
            };
            return self.reply(reply, encode(&r));
        };
        if !self.clients.contains_key(&req.client_id) {
            let r = CloseResponse {
                error: ERR_UNKNOWN_CLIENT.into(),
            };
            return self.reply(reply, encode(&r));
        }
        self.close_client(&req.client_id);
        self.reply(reply, Vec::new());
    }

    /// Removes a client: plain subscriptions end, durables go offline.
    pub(super) fn close_client(&mut self, id: &str) {
        let Some(c) = self.clients.remove(id) else {
            return;
        };
        for sub in c.subs {
            self.remove_sub(sub, false);
        }
        if !c.info.conn_id.is_empty() {
            self.conn_ids.remove(&c.info.conn_id);
        }
        if let Err(e) = self.store.delete_client(id) {
            log::error!("streaming: cannot delete client {id:?}: {e}");
        }
        log::debug!("streaming: client {id:?} closed");
    }

    /// Takes a subscription off line. With `unsubscribe` (or when it is not
    /// durable) its state is deleted; a durable closed by its client is kept.
    pub(super) fn remove_sub(&mut self, id: u64, unsubscribe: bool) {
        let Some(sub) = self.subs.get(&id) else {
            return;
        };
        let channel = sub.channel.clone();
        let client = sub.state.client_id.clone();
        let group = sub.group.clone();
        let durable = sub.state.is_durable;
        if let Some(c) = self.clients.get_mut(&client) {
            c.subs.retain(|s| *s != id);
        }
        let keep = durable && !unsubscribe;
        match group {
            None => {
                if keep {
                    if let Some(s) = self.subs.get_mut(&id) {
                        s.state.is_closed = true;
                        let st = s.state.clone();
                        self.store_update(&channel, &st);
                    }
                    return;
                }
                if let Some(ch) = self.channels.get_mut(&channel) {
                    ch.plain.retain(|s| *s != id);
                    ch.durables.retain(|_, s| *s != id);
                }
            }
            Some(g) => {
                let others: Vec<u64> = self
                    .channels
                    .get(&channel)
                    .and_then(|c| c.queues.get(&g))
                    .map(|q| q.members.iter().copied().filter(|m| *m != id).collect())
                    .unwrap_or_default();
                if let Some(q) = self
                    .channels
                    .get_mut(&channel)
                    .and_then(|c| c.queues.get_mut(&g))
                {
                    q.members.retain(|m| *m != id);
                }
                if others.is_empty() && keep {
                    // The last member of a durable group closed: its state
                    // waits for the next member.
                    if let Some(s) = self.subs.get_mut(&id) {
                        s.state.is_closed = true;
                        let st = s.state.clone();
                        self.store_update(&channel, &st);
                    }
                    if let Some(q) = self
                        .channels
                        .get_mut(&channel)
                        .and_then(|c| c.queues.get_mut(&g))
                    {
                        q.shadow = Some(id);
                    }
                    return;
                }
                if others.is_empty() {
                    if let Some(ch) = self.channels.get_mut(&channel) {
                        ch.queues.remove(&g);
                    }
                } else {
                    self.hand_over(id, &others);
                }
            }
        }
        if let Err(e) = self.store.delete_sub(&channel, id) {
            log::error!("streaming: cannot delete subscription: {e}");
        }
        self.subs.remove(&id);
    }

    /// Spreads a leaving queue member's unacknowledged messages over the
    /// remaining members, to be sent again at the next tick.
    fn hand_over(&mut self, from: u64, to: &[u64]) {
        let Some(leaving) = self.subs.get_mut(&from) else {
            return;
        };
        let channel = leaving.channel.clone();
        let pending = std::mem::take(&mut leaving.pending);
        let soon = Instant::now() + Duration::from_millis(100);
        for (seq, p) in pending {
            let Some(target) = to
                .iter()
                .copied()
                .min_by_key(|m| self.subs.get(m).map_or(usize::MAX, |s| s.pending.len()))
            else {
                break;
            };
            if let Some(t) = self.subs.get_mut(&target) {
                t.pending.insert(
                    seq,
                    Pending {
                        due: soon,
                        redeliveries: p.redeliveries,
                    },
                );
            }
            if let Err(e) = self.store.add_pending(&channel, target, seq) {
                log::error!("streaming: cannot record pending message: {e}");
            }
        }
    }

    fn store_update(&mut self, channel: &str, st: &SubState) {
        if let Err(e) = self.store.update_sub(channel, st) {
            log::error!("streaming: cannot update subscription: {e}");
        }
    }

    fn on_ack(&mut self, subject: &str, p: &Bytes) {
        let Some(id) = subject
            .rsplit('.')
            .next()
            .and_then(|t| t.parse::<u64>().ok())
        else {
            return;
        };
        let Ok(ack) = Ack::decode(p.as_ref()) else {
            return;
        };
        let Some(sub) = self.subs.get_mut(&id) else {
            return;
        };
        if sub.channel != ack.subject {
            return;
        }
        let was_stalled = sub.stalled();
        if sub.pending.remove(&ack.sequence).is_none() {
            return;
        }
        let channel = sub.channel.clone();
        if let Err(e) = self.store.ack(&channel, id, ack.sequence) {
            log::error!("streaming: cannot record ack: {e}");
        }
        if was_stalled {
            self.dirty.insert(channel);
        }
    }
}

//! The streaming engine: a state machine over the requests of STAN clients.
//!
//! It runs on one thread of its own and owns every piece of streaming
//! state, so nothing in it is locked: the NATS side ([`crate::streaming::io`])
//! turns the messages of its subscriptions into [`Event`]s and publishes the
//! [`Out`]s it gets back. Events are taken in batches: a batch's changes are
//! made durable with one [`Store::flush`] before any reply to them leaves,
//! then messages are dispatched to subscribers, then PubAcks are sent, as
//! nats-streaming-server orders them.
//!
//! A periodic [`Event::Tick`] drives everything timed: ack-wait
//! redeliveries, heartbeats to clients, `max_age` and `max_inactivity`.

mod delivery;
mod handlers;
pub mod names;
pub mod state;

use bytes::Bytes;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant, SystemTime};

use crate::streaming::store::{Recovered, ServerInfo, Store, StoreLimits};
use state::{Channel, Client, Sub};

/// What the engine is told.
pub enum Event {
    /// A message on one of the engine's subscriptions.
    Msg {
        kind: Kind,
        subject: String,
        reply: Option<String>,
        payload: Bytes,
    },
    /// The outcome of a request the engine asked for ([`Out::Request`]):
    /// `true` when someone answered before the timeout.
    Answered {
        token: Token,
        answered: bool,
    },
    Tick,
    /// Runs a function on the engine's state (monitoring snapshots).
    Inspect(Box<dyn FnOnce(&Engine) + Send>),
    Stop,
}

/// Which of the engine's subscriptions a message came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Discover,
    Ping,
    Publish,
    Subscribe,
    Unsubscribe,
    SubClose,
    Close,
    Ack,
}

/// What a request the engine sent was for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Token {
    Heartbeat {
        client: String,
        round: u64,
    },
    /// Is the client already registered under this ID still alive?
    DuplicateCheck {
        client: String,
    },
}

/// What the engine asks the NATS side to do.
#[derive(Debug, PartialEq)]
pub enum Out {
    Publish {
        subject: String,
        payload: Vec<u8>,
    },
    /// An empty request with a timeout; the outcome comes back as
    /// [`Event::Answered`].
    Request {
        subject: String,
        timeout: Duration,
        token: Token,
    },
}

/// The engine's settings.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub cluster_id: String,
    pub limits: StoreLimits,
    pub hb_interval: Duration,
    pub hb_timeout: Duration,
    pub hb_fail_count: u32,
    pub replace_durable: bool,
    /// The most events taken in one batch (one store flush).
    pub io_batch_size: usize,
    /// Serve only the channels listed in the limits.
    pub partitioning: bool,
    /// How long a client with the ID of a new connect has to answer before
    /// it is replaced.
    pub client_check_timeout: Duration,
    /// Renew the store's lock every second (fault tolerance); a lost lock
    /// ends the process.
    pub lock_renewal: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            cluster_id: "test-cluster".into(),
            limits: StoreLimits::default(),
            hb_interval: Duration::from_secs(30),
            hb_timeout: Duration::from_secs(10),
            hb_fail_count: 10,
            replace_durable: false,
            io_batch_size: 1024,
            partitioning: false,
            client_check_timeout: Duration::from_millis(500),
            lock_renewal: false,
        }
    }
}

/// Counters for `/streaming/serverz` and `/metrics`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counters {
    pub in_msgs: u64,
    pub in_bytes: u64,
    pub out_msgs: u64,
    pub out_bytes: u64,
}

/// A connect waiting for the duplicate check of its client ID.
struct PendingConnect {
    request: crate::streaming::proto::ConnectRequest,
    reply: String,
}

/// The streaming state machine.
pub struct Engine {
    cfg: EngineConfig,
    info: ServerInfo,
    store: Box<dyn Store>,
    clients: BTreeMap<String, Client>,
    /// Protocol-1 connection IDs → client ID.
    conn_ids: HashMap<Vec<u8>, String>,
    channels: BTreeMap<String, Channel>,
    /// Lower-cased channel names, to refuse names that differ only in case.
    folded: HashMap<String, String>,
    subs: HashMap<u64, Sub>,
    next_sub_id: u64,
    checking: HashMap<String, PendingConnect>,
    counters: Counters,
    start: SystemTime,
    // The batch being built.
    replies: Vec<Out>,
    pub_acks: Vec<(String, crate::streaming::proto::PubAck)>,
    /// Channels with something new to dispatch.
    dirty: BTreeSet<String>,
    /// Subscriptions whose pending messages go out again right after the
    /// replies (resumed durables).
    resend: Vec<u64>,
    out: Vec<Out>,
    last_expiry: Instant,
}

/// Nanoseconds since the Unix epoch.
pub fn now_nanos() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

impl Engine {
    /// A new server's subjects for `cluster_id` under `discover_prefix`.
    pub fn new_server_info(cluster_id: &str, discover_prefix: &str) -> ServerInfo {
        let discovery = format!("{discover_prefix}.{cluster_id}");
        ServerInfo {
            cluster_id: cluster_id.to_owned(),
            ping: format!("{discovery}.pings"),
            discovery,
            publish: format!("_STAN.pub.{cluster_id}"),
            subscribe: format!("_STAN.sub.{cluster_id}"),
            unsubscribe: format!("_STAN.unsub.{cluster_id}"),
            close: format!("_STAN.close.{cluster_id}"),
            sub_close: format!("_STAN.subclose.{cluster_id}"),
            acks: format!("_INBOX.{}", nuid::next()),
            node_id: String::new(),
        }
    }

    /// An engine over `store`, with the state `recovered` from it (if any).
    ///
    /// # Errors
    /// When the store fails while recovered state is re-applied.
    pub fn new(
        cfg: EngineConfig,
        info: ServerInfo,
        store: Box<dyn Store>,
        recovered: Option<Recovered>,
    ) -> crate::streaming::store::Result<Engine> {
        let now = Instant::now();
        let mut e = Engine {
            cfg,
            info,
            store,
            clients: BTreeMap::new(),
            conn_ids: HashMap::new(),
            channels: BTreeMap::new(),
            folded: HashMap::new(),
            subs: HashMap::new(),
            next_sub_id: 1,
            checking: HashMap::new(),
            counters: Counters::default(),
            start: SystemTime::now(),
            replies: Vec::new(),
            pub_acks: Vec::new(),
            dirty: BTreeSet::new(),
            resend: Vec::new(),
            out: Vec::new(),
            last_expiry: now,
        };
        e.store.init(&e.info)?;
        if let Some(r) = recovered {
            e.restore(r, now)?;
        }
        e.store.flush()?;
        Ok(e)
    }

    fn restore(&mut self, r: Recovered, now: Instant) -> crate::streaming::store::Result<()> {
        for c in r.clients {
            if !c.conn_id.is_empty() {
                self.conn_ids.insert(c.conn_id.clone(), c.id.clone());
            }
            self.clients.insert(
                c.id.clone(),
                Client {
                    info: c,
                    subs: Vec::new(),
                    missed_hb: 0,
                    hb_in_flight: false,
                    hb_round: 0,
                    next_hb: now + self.cfg.hb_interval,
                },
            );
        }
        for ch in r.channels {
            let limits = self.cfg.limits.for_channel(&ch.name);
            self.store.create_channel(&ch.name, &limits)?;
            self.folded.insert(ch.name.to_lowercase(), ch.name.clone());
            self.channels.insert(ch.name.clone(), Channel::new(now));
            for rs in ch.subs {
                let mut st = rs.state;
                self.next_sub_id = self.next_sub_id.max(st.id + 1);
                let client_known = self.clients.contains_key(&st.client_id);
                if !st.is_durable && !client_known {
                    // Its client is gone: a plain subscription ends with it.
                    self.store.delete_sub(&ch.name, st.id)?;
                    continue;
                }
                if st.is_durable && !client_known && !st.is_closed {
                    st.is_closed = true;
                    self.store.update_sub(&ch.name, &st)?;
                }
                if let Some(p) = rs.pending.last() {
                    st.last_sent = st.last_sent.max(*p);
                }
                let wait = Duration::from_secs(st.ack_wait_secs.max(1) as u64);
                let pending = rs
                    .pending
                    .iter()
                    .map(|s| {
                        (
                            *s,
                            state::Pending {
                                due: now + wait,
                                redeliveries: 0,
                            },
                        )
                    })
                    .collect();
                self.attach(&ch.name, st, pending);
            }
        }
        Ok(())
    }

    /// Puts a subscription (new, recovered or resumed) into its channel's
    /// structures and its client's list.
    fn attach(
        &mut self,
        channel: &str,
        st: crate::streaming::store::SubState,
        pending: BTreeMap<u64, state::Pending>,
    ) {
        let id = st.id;
        let online = !st.is_closed;
        let group = (!st.q_group.is_empty()).then(|| st.q_group.clone());
        let Some(ch) = self.channels.get_mut(channel) else {
            return;
        };
        match &group {
            Some(g) => {
                let q = ch.queues.entry(g.clone()).or_default();
                q.last_sent = q.last_sent.max(st.last_sent);
                if online {
                    q.members.push(id);
                } else {
                    q.shadow = Some(id);
                }
            }
            None => {
                ch.plain.push(id);
                if st.is_durable {
                    ch.durables.insert(
                        state::durable_key(&st.client_id, channel, &st.durable_name),
                        id,
                    );
                }
            }
        }
        if online {
            if let Some(c) = self.clients.get_mut(&st.client_id) {
                c.subs.push(id);
            }
        }
        self.subs.insert(
            id,
            Sub {
                state: st,
                channel: channel.to_owned(),
                pending,
                group,
            },
        );
    }

    pub fn info(&self) -> &ServerInfo {
        &self.info
    }

    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    pub fn counters(&self) -> Counters {
        self.counters
    }

    pub fn start_time(&self) -> SystemTime {
        self.start
    }

    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    pub fn clients(&self) -> &BTreeMap<String, Client> {
        &self.clients
    }

    pub fn channel_names(&self) -> impl Iterator<Item = &String> {
        self.channels.keys()
    }

    pub fn channel(&self, name: &str) -> Option<&Channel> {
        self.channels.get(name)
    }

    pub fn sub(&self, id: u64) -> Option<&Sub> {
        self.subs.get(&id)
    }

    pub fn num_subs(&self) -> usize {
        self.subs.len()
    }

    /// Takes one event into the current batch.
    pub fn handle(&mut self, ev: Event) {
        match ev {
            Event::Msg {
                kind,
                subject,
                reply,
                payload,
            } => self.on_msg(kind, &subject, reply, &payload),
            Event::Answered { token, answered } => self.on_answered(token, answered),
            Event::Tick => self.on_tick(Instant::now()),
            Event::Inspect(f) => f(self),
            Event::Stop => {}
        }
    }

    /// Ends the batch: flushes the store, then returns the replies, the
    /// dispatched messages and the PubAcks, in that order.
    pub fn finish_batch(&mut self) -> Vec<Out> {
        if let Err(e) = self.store.flush() {
            log::error!("streaming: store flush failed: {e}");
            let text = e.to_string();
            for (_, ack) in self.pub_acks.iter_mut() {
                if ack.error.is_empty() {
                    ack.error.clone_from(&text);
                }
            }
        }
        let mut out = std::mem::take(&mut self.out);
        out.append(&mut self.replies);
        for id in std::mem::take(&mut self.resend) {
            self.resend_all(id);
        }
        for ch in std::mem::take(&mut self.dirty) {
            self.dispatch(&ch);
        }
        out.append(&mut self.out);
        for (reply, ack) in std::mem::take(&mut self.pub_acks) {
            out.push(Out::Publish {
                subject: reply,
                payload: crate::streaming::proto::encode(&ack),
            });
        }
        if let Err(e) = self.store.flush() {
            log::error!("streaming: store flush failed: {e}");
        }
        out
    }

    /// Runs the engine on the current thread until [`Event::Stop`] or until
    /// every sender is gone, sending each batch's output to `out`.
    pub fn run(
        mut self,
        mut events: tokio::sync::mpsc::Receiver<Event>,
        out: tokio::sync::mpsc::UnboundedSender<Vec<Out>>,
    ) {
        while let Some(first) = events.blocking_recv() {
            let mut next = Some(first);
            let mut taken = 0;
            let mut stop = false;
            while let Some(ev) = next {
                if matches!(ev, Event::Stop) {
                    stop = true;
                    break;
                }
                self.handle(ev);
                taken += 1;
                if taken >= self.cfg.io_batch_size {
                    break;
                }
                next = events.try_recv().ok();
            }
            let batch = self.finish_batch();
            if !batch.is_empty() && out.send(batch).is_err() {
                break;
            }
            if stop {
                break;
            }
        }
        if let Err(e) = self.store.flush() {
            log::error!("streaming: store flush failed: {e}");
        }
    }

    fn reply(&mut self, subject: Option<String>, payload: Vec<u8>) {
        if let Some(subject) = subject.filter(|s| !s.is_empty()) {
            self.replies.push(Out::Publish { subject, payload });
        }
    }

    fn send(&mut self, subject: &str, payload: Vec<u8>) {
        self.counters.out_msgs += 1;
        self.counters.out_bytes += payload.len() as u64;
        self.out.push(Out::Publish {
            subject: subject.to_owned(),
            payload,
        });
    }
}

#[cfg(test)]
mod tests;

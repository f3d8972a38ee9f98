//! Fan-out: from a publish in one account to every subscriber it
//! reaches, in that account and, through imports, in others.
//!
//! A [`Fanout`] is owned by whoever publishes (a client's reader task, or a
//! short-lived one for the server's own messages). It appends MSG frames to
//! subscribers' outbound buffers and remembers whom it appended to, so each
//! is woken once per read batch ([`Fanout::flush`]). Inside one account a
//! publish costs one index lookup (cached by the caller); crossing an import
//! costs one more lookup in the other account and no payload copy, except
//! that a service request gets its `Nats-Request-Info` header stamped.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::client::ClientShared;
use super::client_info::ClientInfo;
use super::close::CloseReason;
use super::outbound::Appended;
use super::subscription::SubRef;
use crate::protocol::encode::{self, Message};
use crate::subject::SublistResult;
use crate::tenancy::account::Account;
use crate::tenancy::imports::{push_random_token, Forward, ResponseForward, ServiceForward};
use crate::tenancy::latency::{LatencySample, Status, Tracking};
use crate::tenancy::mapping::Mapped;

/// How many imports one message may cross (stops chains that loop).
const MAX_HOPS: u8 = 8;

/// The header nats-server stamps on requests crossing a service import.
pub const REQUEST_INFO_HEADER: &str = "Nats-Request-Info";

/// Who published a message.
#[derive(Debug, Clone, Copy, Default)]
pub struct Origin<'a> {
    /// The publishing connection (0 for the server itself).
    pub client_id: u64,
    /// Whether the publisher receives its own messages.
    pub echo: bool,
    /// The publisher's round-trip time, for `Nats-Request-Info`.
    pub rtt_ns: u64,
    /// The publishing connection, for latency reports (requestor and
    /// responder); `None` for the server.
    pub client: Option<&'a Arc<ClientShared>>,
}

impl Origin<'_> {
    /// The server publishing on its own behalf.
    pub fn server() -> Origin<'static> {
        Origin {
            client_id: 0,
            echo: true,
            rtt_ns: 0,
            client: None,
        }
    }
}

/// A route picked for a message, with the queue groups it was picked for
/// (ranges of the fan-out's queue name buffer).
type RoutePick = (Arc<ClientShared>, Vec<(usize, usize)>);

/// Routing state of one publisher.
pub struct Fanout {
    rng: SmallRng,
    /// Connections appended to since the last flush.
    pcd: Vec<Arc<ClientShared>>,
    /// The (account, subject) pairs the message being forwarded passed through
    /// on its way across imports: entering one of them again would deliver
    /// the same message to the same subscribers once more (an account that
    /// imports its own export, or a chain of imports leading back), so that
    /// branch stops there.
    path: ImportPath,
    /// Subscribers this batch pushed over their stall threshold.
    stalled: Vec<Arc<ClientShared>>,
    /// Latency measurements made while routing, for the owner to publish
    /// ([`Fanout::take_latency`]) once no routing is under way.
    latency: Vec<LatencySample>,
    /// The server's name (shared requestor details) and its hash (the
    /// token of tracked reply subjects).
    server_name: Arc<str>,
    server_hash: Arc<str>,
    /// Whether matching routes get the message: not for a message that came
    /// from a route (the sender reached every server itself) nor one that
    /// crossed a stream import (the other servers cross it themselves).
    to_routes: bool,
    /// For a message from a route: the queue groups the sending server
    /// picked this server for (names separated by spaces); others are
    /// served elsewhere.
    routed_queues: Vec<u8>,
    /// The message being delivered came from a route.
    routed: bool,
    /// Routes picked for the message being delivered, each with the queue
    /// groups it was picked for (ranges of `route_qnames`).
    route_picks: Vec<RoutePick>,
    route_qnames: Vec<u8>,
}

/// A stack of (account, subject) pairs, kept in reused buffers so crossing
/// an import allocates nothing once warm.
#[derive(Default)]
struct ImportPath {
    entries: Vec<(usize, usize, usize)>,
    subjects: Vec<u8>,
}

impl ImportPath {
    fn start(&mut self, acc: &Arc<Account>, subject: &[u8]) {
        self.entries.clear();
        self.subjects.clear();
        self.push(acc, subject);
    }

    /// Enters (`acc`, `subject`); false when the path already went through
    /// it.
    fn enter(&mut self, acc: &Arc<Account>, subject: &[u8]) -> bool {
        let id = Arc::as_ptr(acc) as usize;
        let seen = self
            .entries
            .iter()
            .any(|&(a, from, to)| a == id && &self.subjects[from..to] == subject);
        if !seen {
            self.push(acc, subject);
        }
        !seen
    }

    fn push(&mut self, acc: &Arc<Account>, subject: &[u8]) {
        let from = self.subjects.len();
        self.subjects.extend_from_slice(subject);
        self.entries
            .push((Arc::as_ptr(acc) as usize, from, self.subjects.len()));
    }

    fn leave(&mut self) {
        if let Some((_, from, _)) = self.entries.pop() {
            self.subjects.truncate(from);
        }
    }
}

impl Fanout {
    /// The router of one publisher on the server named `server_name`.
    pub fn new(server_name: &Arc<str>, server_hash: &Arc<str>) -> Fanout {
        Fanout {
            rng: SmallRng::from_entropy(),
            pcd: Vec::new(),
            path: ImportPath::default(),
            stalled: Vec::new(),
            latency: Vec::new(),
            server_name: server_name.clone(),
            server_hash: server_hash.clone(),
            to_routes: true,
            routed_queues: Vec::new(),
            routed: false,
            route_picks: Vec::new(),
            route_qnames: Vec::new(),
        }
    }

    /// Delivers a message that arrived from a route in `acc`: to local
    /// subscribers only, and in queue groups only to those of `queues` (the
    /// groups the sending server picked this server for, as listed on the
    /// RMSG line). Returns whether anyone received it.
    pub fn publish_routed(
        &mut self,
        acc: &Arc<Account>,
        msg: &Message<'_>,
        queues: &[u8],
        origin: &Origin,
    ) -> bool {
        self.to_routes = false;
        self.routed = true;
        self.routed_queues.clear();
        self.routed_queues.extend_from_slice(queues);
        let delivered = self.publish_in(acc, msg, origin, 0, false);
        self.routed = false;
        self.to_routes = true;
        delivered
    }

    /// The latency measurements made since the last call.
    pub fn take_latency(&mut self) -> Vec<LatencySample> {
        std::mem::take(&mut self.latency)
    }

    /// Forwards a message published in `acc`, whose local subscribers are
    /// `local` (looked up by the caller, usually from its cache). Returns
    /// whether anyone received it.
    #[inline]
    pub fn publish(
        &mut self,
        acc: &Arc<Account>,
        local: &SublistResult<SubRef>,
        msg: &Message<'_>,
        origin: &Origin,
    ) -> bool {
        self.fan_out(acc, local, msg, origin, 0, false)
    }

    /// Forwards a message in `acc` without a cached lookup (server messages,
    /// and messages arriving through an import).
    pub fn publish_in(
        &mut self,
        acc: &Arc<Account>,
        msg: &Message<'_>,
        origin: &Origin,
        depth: u8,
        from_stream: bool,
    ) -> bool {
        let Ok(subject) = std::str::from_utf8(msg.subject) else {
            return false;
        };
        let local = acc.sublist.match_subject(subject);
        self.fan_out(acc, &local, msg, origin, depth, from_stream)
    }

    /// Delivers to the local subscribers, then follows the forwards; a
    /// message published here (depth 0) starts a new import path.
    #[inline]
    fn fan_out(
        &mut self,
        acc: &Arc<Account>,
        local: &SublistResult<SubRef>,
        msg: &Message<'_>,
        origin: &Origin,
        depth: u8,
        from_stream: bool,
    ) -> bool {
        let routed = depth == 0 && self.routed;
        let mut delivered = self.deliver_result(acc, local, msg, origin, routed);
        if acc.may_forward(msg.subject) || acc.has_responses() {
            if depth == 0 {
                self.path.start(acc, msg.subject);
            }
            delivered |= self.cross(acc, msg, origin, depth, from_stream);
        }
        delivered
    }

    /// Follows the forwards of `acc` that match the message: stream exports,
    /// service imports, server handlers, and responses to requests that came
    /// in through a service import.
    fn cross(
        &mut self,
        acc: &Arc<Account>,
        msg: &Message<'_>,
        origin: &Origin,
        depth: u8,
        from_stream: bool,
    ) -> bool {
        if depth >= MAX_HOPS {
            return false;
        }
        let Ok(subject) = std::str::from_utf8(msg.subject) else {
            return false;
        };
        let mut delivered = false;
        if acc.may_forward(msg.subject) {
            let forwards = acc.forwards().match_subject(subject);
            for forward in &forwards.psubs {
                match forward {
                    Forward::Stream(s) => {
                        let renamed;
                        let subject = match &s.transform {
                            Some(t) => match t.apply(subject) {
                                Some(n) => {
                                    renamed = n;
                                    renamed.as_bytes()
                                }
                                None => continue,
                            },
                            None => msg.subject,
                        };
                        if !self.path.enter(&s.importer, subject) {
                            continue;
                        }
                        let m = Message { subject, ..*msg };
                        // Other servers cross this import themselves.
                        let to_routes = std::mem::replace(&mut self.to_routes, false);
                        delivered |= self.publish_in(&s.importer, &m, origin, depth + 1, true);
                        self.to_routes = to_routes;
                        self.path.leave();
                    }
                    Forward::Service(s) if !from_stream => {
                        delivered |= self.service_request(acc, s, subject, msg, origin, depth);
                    }
                    Forward::Service(_) => {}
                    Forward::Internal(h) => {
                        let body = match msg.header_len {
                            Some(h) => &msg.payload[h.min(msg.payload.len())..],
                            None => msg.payload,
                        };
                        (h.handler)(subject, msg.reply, body, origin.client_id);
                        delivered = true;
                    }
                }
            }
        }
        if acc.has_responses() && msg.subject.starts_with(acc.reply_prefix.as_bytes()) {
            if let Some(resp) = acc.take_response(msg.subject) {
                if let Some(t) = &resp.tracking {
                    if t.claim_report() {
                        self.latency.push(t.answered(acc, origin.client.cloned()));
                    }
                }
                delivered |= self.respond(&resp, msg, origin, depth);
            }
        }
        delivered
    }

    /// Sends a request from `importer` into the exporting account, with a
    /// reply subject that maps back to the requester.
    fn service_request(
        &mut self,
        importer: &Arc<Account>,
        s: &ServiceForward,
        subject: &str,
        msg: &Message<'_>,
        origin: &Origin,
        depth: u8,
    ) -> bool {
        let renamed;
        let subject = match &s.transform {
            Some(t) => match t.apply(subject) {
                Some(n) => {
                    renamed = n;
                    renamed.as_bytes()
                }
                None => return false,
            },
            None => msg.subject,
        };
        let exporter = &s.exporter;
        // The exporter's own mappings apply to what arrives through the
        // import, as nats-server applies them to a service import's subject.
        let mapped;
        let subject = if exporter.has_mappings() {
            let Ok(to) = std::str::from_utf8(subject) else {
                return false;
            };
            match exporter.map_subject(to) {
                Mapped::Unchanged => subject,
                Mapped::To(s) => {
                    mapped = s;
                    mapped.as_bytes()
                }
                Mapped::Dropped => return false,
            }
        } else {
            subject
        };
        if !self.path.enter(exporter, subject) {
            // The request came back to where it already was: the
            // subscribers there have it.
            return false;
        }
        let header = msg
            .header_len
            .map(|h| &msg.payload[..h.min(msg.payload.len())]);
        let sampled = s
            .latency
            .as_ref()
            .and_then(|l| l.sample(header, &mut self.rng).map(|h| (l, h)));
        let mut reply_buf = Vec::new();
        if let Some(r) = msg.reply {
            reply_buf.reserve(exporter.reply_prefix.len() + 6);
            reply_buf.extend_from_slice(exporter.reply_prefix.as_bytes());
            push_random_token(&mut reply_buf, &mut self.rng, 6);
            let mut resp =
                ResponseForward::new(importer.clone(), r, s.response_type, s.response_threshold);
            if let Some((latency, header)) = sampled {
                // nats-server marks a measured request's reply subject with
                // its server's hash and `.T`, so the measurement returns to
                // the server that holds it.
                reply_buf.push(b'.');
                reply_buf.extend_from_slice(self.server_hash.as_bytes());
                reply_buf.extend_from_slice(b".T");
                if let Some(c) = origin.client {
                    c.request_rtt();
                }
                resp = resp.tracked(Tracking::new(
                    latency.clone(),
                    origin.client.cloned(),
                    s.share,
                    header,
                ));
            }
            exporter.add_response(reply_buf.as_slice().into(), Arc::new(resp));
        } else if let Some((latency, header)) = sampled {
            self.latency.push(LatencySample::bad_request(
                exporter,
                latency,
                origin.client.cloned(),
                s.share,
                header,
            ));
        }
        // The requestor as nats-server shares it with the service: account
        // and round-trip time, or every detail when the import `share`s.
        let info = match origin.client {
            Some(c) if s.share => {
                serde_json::to_string(&ClientInfo::detailed(c, &self.server_name))
            }
            _ => serde_json::to_string(&ClientInfo {
                account: importer.name.to_string(),
                rtt: origin.rtt_ns,
                ..ClientInfo::default()
            }),
        }
        .unwrap_or_default();
        let (payload, header_len) = stamp_request_info(msg, &info);
        let m = Message {
            subject,
            reply: msg.reply.map(|_| reply_buf.as_slice()),
            header_len: Some(header_len),
            payload: &payload,
        };
        let delivered = self.publish_in(exporter, &m, origin, depth + 1, false);
        self.path.leave();
        if !delivered && msg.reply.is_some() {
            let resp = exporter.remove_response(&reply_buf);
            if let Some(t) = resp.as_ref().and_then(|r| r.tracking.as_ref()) {
                if t.claim_report() {
                    self.latency
                        .push(t.failed(exporter, Status::ServiceUnavailable));
                }
            }
        }
        delivered
    }

    /// Delivers a response to the requester's own reply subject, in its
    /// account.
    fn respond(
        &mut self,
        resp: &ResponseForward,
        msg: &Message<'_>,
        origin: &Origin,
        depth: u8,
    ) -> bool {
        let m = Message {
            subject: &resp.reply,
            reply: None,
            ..*msg
        };
        self.publish_in(&resp.requester, &m, origin, depth + 1, false)
    }

    /// Delivers to every plain subscriber and one member of each queue
    /// group, counting another server's group by its weight; routes get
    /// one RMSG each ([`Fanout::send_to_routes`]). With `routed` (a message
    /// from a route) only local subscribers are served, and only the queue
    /// groups the sender picked this server for. Returns whether anyone
    /// received the message.
    pub fn deliver_result(
        &mut self,
        acc: &Arc<Account>,
        r: &SublistResult<SubRef>,
        msg: &Message<'_>,
        origin: &Origin,
        routed: bool,
    ) -> bool {
        let mut delivered = false;
        let skip_self = !origin.echo;
        let to_routes = self.to_routes;
        for sub in &r.psubs {
            if sub.client.is_route {
                if to_routes {
                    self.pick_route(&sub.client, None);
                }
                continue;
            }
            if skip_self && sub.client.id == origin.client_id {
                continue;
            }
            delivered |= self.deliver(sub, msg);
        }
        for (name, members) in &r.qsubs {
            let n = members.len();
            if n == 0 {
                continue;
            }
            if routed && !queue_listed(&self.routed_queues, name.as_bytes()) {
                continue;
            }
            let start = self.pick_member(members, to_routes);
            for i in 0..n {
                let sub = &members[(start + i) % n];
                if sub.client.is_route {
                    if !to_routes {
                        continue;
                    }
                    self.pick_route(&sub.client, Some(name.as_bytes()));
                    delivered = true;
                    break;
                }
                if skip_self && sub.client.id == origin.client_id {
                    continue;
                }
                if self.deliver(sub, msg) {
                    delivered = true;
                    break;
                }
            }
        }
        if !self.route_picks.is_empty() {
            delivered |= self.send_to_routes(acc, msg);
        }
        delivered
    }

    /// Where the search for a queue group's member starts: a random member,
    /// each weighing 1, except another server's group, which weighs its
    /// number of members there (so a server with 3 members gets 3 times the
    /// share of a server with 1, as nats-server spreads). Routes weigh
    /// nothing when the message may not go to routes.
    #[inline]
    fn pick_member(&mut self, members: &[SubRef], to_routes: bool) -> usize {
        let n = members.len();
        if n == 1 {
            return 0;
        }
        if !members.iter().any(|m| m.client.is_route) {
            return self.rng.gen_range(0..n);
        }
        let weight = |m: &SubRef| -> u64 {
            match (m.client.is_route, to_routes) {
                (false, _) => 1,
                (true, true) => u64::from(m.weight.load(Ordering::Relaxed).max(1)),
                (true, false) => 0,
            }
        };
        let total: u64 = members.iter().map(weight).sum();
        if total == 0 {
            return 0;
        }
        let mut at = self.rng.gen_range(0..total);
        for (i, m) in members.iter().enumerate() {
            let w = weight(m);
            if at < w {
                return i;
            }
            at -= w;
        }
        0
    }

    /// Notes that `route` gets the message being delivered (for the queue
    /// group `queue`, or for its plain interest).
    fn pick_route(&mut self, route: &Arc<ClientShared>, queue: Option<&[u8]>) {
        let at = match self.route_picks.iter().position(|(r, _)| r.id == route.id) {
            Some(i) => i,
            None => {
                self.route_picks.push((route.clone(), Vec::new()));
                self.route_picks.len() - 1
            }
        };
        if let Some(q) = queue {
            let from = self.route_qnames.len();
            self.route_qnames.extend_from_slice(q);
            self.route_picks[at].1.push((from, self.route_qnames.len()));
        }
    }

    /// Sends the message once to each route picked, as RMSG/HMSG naming the
    /// queue groups that route was picked for. Routes are not cut for
    /// being slow, they make the publisher wait like a full subscriber.
    fn send_to_routes(&mut self, acc: &Arc<Account>, msg: &Message<'_>) -> bool {
        let picks = std::mem::take(&mut self.route_picks);
        let mut qnames = std::mem::take(&mut self.route_qnames);
        let mut sent = false;
        let mut names: Vec<&[u8]> = Vec::new();
        for (route, ranges) in &picks {
            names.clear();
            names.extend(ranges.iter().map(|&(a, b)| &qnames[a..b]));
            let account = match route.pinned.get() {
                Some(_) => None,
                None => Some(&*acc.name),
            };
            let headers = route.headers.load(Ordering::Relaxed);
            match route
                .out
                .append(|b| crate::cluster::proto::rmsg(b, account, msg, &names, headers))
            {
                Appended::Ok => {}
                Appended::Stalled => self.note_stalled(route),
                Appended::Closed => continue,
                Appended::SlowConsumer => {
                    log::warn!(
                        "{} - rid:{} - Slow route: pending output over {} bytes",
                        route.addr,
                        route.id,
                        route.out.max_pending
                    );
                    route.close(CloseReason::SlowConsumerPendingBytes);
                    continue;
                }
            }
            route.stats.out_msgs.fetch_add(1, Ordering::Relaxed);
            route
                .stats
                .out_bytes
                .fetch_add(msg.payload.len() as u64, Ordering::Relaxed);
            sent = true;
            self.mark(route.clone());
        }
        drop(names);
        let mut picks = picks;
        for (_, r) in picks.iter_mut() {
            r.clear();
        }
        picks.clear();
        self.route_picks = picks;
        qnames.clear();
        self.route_qnames = qnames;
        sent
    }

    /// Appends one MSG/HMSG to the subscriber's outbound buffer.
    #[inline]
    pub fn deliver(&mut self, sub: &SubRef, msg: &Message<'_>) -> bool {
        let target = &sub.client;
        if target.withholds(msg.subject, sub.queue.as_deref()) {
            return false;
        }
        let Some(last) = sub.count_delivery() else {
            // Past its `UNSUB` limit (set while other deliveries were under
            // way): the subscription goes now.
            target.remove_sub(sub);
            return false;
        };
        let headers = target.headers.load(Ordering::Relaxed);
        match target
            .out
            .append(|b| encode::msg(b, msg, &sub.sid, headers))
        {
            Appended::Ok => {}
            Appended::Stalled => self.note_stalled(target),
            Appended::Closed => return false,
            Appended::SlowConsumer => {
                log::info!(
                    "{} - cid:{} - Slow Consumer Detected: MaxPending of {} Exceeded",
                    target.addr,
                    target.id,
                    target.out.max_pending
                );
                target.close(CloseReason::SlowConsumerPendingBytes);
                return false;
            }
        }
        if let Some(reply) = msg.reply {
            target.grant_reply(reply);
            // A responder to a request through a service import: latency
            // reports need its round-trip time, measured as nats-server
            // does with a PING when unknown.
            if reply.starts_with(crate::tenancy::account::REPLY_PREFIX_ROOT) {
                target.request_rtt();
            }
        }
        target.stats.out_msgs.fetch_add(1, Ordering::Relaxed);
        target
            .stats
            .out_bytes
            .fetch_add(msg.payload.len() as u64, Ordering::Relaxed);
        if last {
            target.remove_sub(sub);
        }
        let target = target.clone();
        self.mark(target);
        true
    }

    /// Remembers a subscriber whose pending output went over the stall
    /// threshold: the publisher pauses for it after this batch.
    #[cold]
    fn note_stalled(&mut self, c: &Arc<ClientShared>) {
        if !self.stalled.iter().any(|s| s.id == c.id) {
            self.stalled.push(c.clone());
        }
    }

    /// Whether this batch filled some subscriber past the stall threshold.
    #[inline]
    pub fn has_stalled(&self) -> bool {
        !self.stalled.is_empty()
    }

    /// The subscribers this batch stalled (the list is emptied).
    pub fn take_stalled(&mut self) -> Vec<Arc<ClientShared>> {
        std::mem::take(&mut self.stalled)
    }

    /// Remembers a connection to flush at the end of this batch.
    #[inline]
    pub fn mark(&mut self, c: Arc<ClientShared>) {
        if self.pcd.len() <= 16 {
            if self.pcd.iter().any(|p| p.id == c.id) {
                return;
            }
        } else if self.pcd.last().is_some_and(|p| p.id == c.id) {
            return;
        }
        self.pcd.push(c);
    }

    /// Wakes the writer of every connection appended to, once.
    pub fn flush(&mut self) {
        for c in self.pcd.drain(..) {
            c.out.flush();
        }
    }
}

/// Whether `name` is one of the space-separated queue names of an RMSG.
fn queue_listed(list: &[u8], name: &[u8]) -> bool {
    list.split(|&b| b == b' ' || b == b'\t').any(|q| q == name)
}

/// The payload of a request crossing a service import: the requester's
/// headers without any copy of `Nats-Request-Info` (matched without regard
/// to case, so a client cannot forge it in another spelling), then the
/// server's own, then the body. Returns the payload and its header length.
pub fn stamp_request_info(msg: &Message<'_>, info: &str) -> (Vec<u8>, usize) {
    let (headers, body) = match msg.header_len {
        Some(h) => {
            let h = h.min(msg.payload.len());
            (&msg.payload[..h], &msg.payload[h..])
        }
        None => (&b""[..], msg.payload),
    };
    let mut out = Vec::with_capacity(headers.len() + info.len() + body.len() + 48);
    let mut lines = headers.split(|&b| b == b'\n');
    match lines.next() {
        Some(status) if status.starts_with(b"NATS/") => {
            out.extend_from_slice(status);
            out.push(b'\n');
        }
        _ => out.extend_from_slice(b"NATS/1.0\r\n"),
    }
    for line in lines {
        let trimmed = line.strip_suffix(b"\r").unwrap_or(line);
        if trimmed.is_empty() {
            continue;
        }
        let name = trimmed.split(|&b| b == b':').next().unwrap_or(b"");
        if name
            .trim_ascii()
            .eq_ignore_ascii_case(REQUEST_INFO_HEADER.as_bytes())
        {
            continue;
        }
        out.extend_from_slice(trimmed);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(REQUEST_INFO_HEADER.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(info.as_bytes());
    out.extend_from_slice(b"\r\n\r\n");
    let header_len = out.len();
    out.extend_from_slice(body);
    (out, header_len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(payload: &[u8], header_len: Option<usize>) -> (String, usize) {
        let msg = Message {
            subject: b"s",
            reply: None,
            header_len,
            payload,
        };
        let (p, h) = stamp_request_info(&msg, r#"{"acc":"B","rtt":5}"#);
        (String::from_utf8(p).unwrap(), h)
    }

    #[test]
    fn stamps_a_header_on_a_plain_message() {
        let (p, h) = stamp(b"body", None);
        assert_eq!(
            p,
            "NATS/1.0\r\nNats-Request-Info: {\"acc\":\"B\",\"rtt\":5}\r\n\r\nbody"
        );
        assert_eq!(&p[h..], "body");
    }

    #[test]
    fn keeps_other_headers_and_drops_forged_copies_in_any_case() {
        let hdr = "NATS/1.0\r\nX-A: 1\r\nnats-request-info: {\"acc\":\"EVIL\"}\r\nNATS-REQUEST-INFO : x\r\n\r\n";
        let payload = format!("{hdr}data");
        let (p, h) = stamp(payload.as_bytes(), Some(hdr.len()));
        assert_eq!(
            p,
            "NATS/1.0\r\nX-A: 1\r\nNats-Request-Info: {\"acc\":\"B\",\"rtt\":5}\r\n\r\ndata"
        );
        assert!(!p.contains("EVIL"));
        assert_eq!(&p[h..], "data");
    }
}

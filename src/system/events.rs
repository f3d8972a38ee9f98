//! The system account's events and requests: what an operator subscribed in
//! the system account sees and can ask, with the subjects and JSON shapes
//! nats-server uses.
//!
//! Events are published only when someone in the system account listens on
//! the subject, so a server nobody monitors builds no JSON. Requests are
//! served by [`InternalForward`]s in the system account's route index; each
//! answers from a spawned task so the publisher's reader never waits on it.

use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant, SystemTime};

use super::request_options::{self, Decision};
use crate::monitor::format::rfc3339;
use crate::protocol::encode::Message;
use crate::server::client::ClientShared;
use crate::server::client_info::ClientInfo;
use crate::server::close::CloseReason;
use crate::server::fanout::Origin;
use crate::server::Server;
use crate::tenancy::account::Account;
use crate::tenancy::imports::{random_token, Forward, InternalForward};

/// Sequence of server-info stamps in events.
static SEQ: AtomicU64 = AtomicU64::new(0);

/// Publishes `payload` on `subject` in `acc` as the server.
pub fn publish(
    server: &Server,
    acc: &Arc<Account>,
    subject: &str,
    reply: Option<&str>,
    payload: &[u8],
) {
    let msg = Message {
        subject: subject.as_bytes(),
        reply: reply.map(str::as_bytes),
        header_len: None,
        payload,
    };
    let mut fanout = server.fanout();
    fanout.publish_in(acc, &msg, &Origin::server(), 0, false);
    fanout.flush();
    // A server answer can be the response of a measured request.
    for sample in fanout.take_latency() {
        super::latency::report(server, &sample);
    }
}

/// Publishes a JSON event in the system account when someone listens.
fn emit(server: &Server, subject: &str, event: impl FnOnce() -> Value) {
    let Some(sys) = server.accounts.system() else {
        return;
    };
    if !sys.sublist.has_interest(subject) {
        return;
    }
    publish(server, &sys, subject, None, event().to_string().as_bytes());
}

/// The `server` object of every event and reply.
pub fn server_info(server: &Server) -> Value {
    json!({
        "name": server.name,
        "host": server.opts().host,
        "id": server.id,
        "ver": crate::VERSION,
        // nats-server 2.15's JetStream feature flags; rnats runs none.
        "feature_flags": {
            "js_ack_fc_v2": false,
            "js_api_reply_v2": false,
            "js_raft_delete_range": false,
            "js_snapshot_sources": false,
        },
        "jetstream": false,
        "flags": 0,
        "seq": SEQ.fetch_add(1, Ordering::Relaxed) + 1,
        "time": rfc3339(SystemTime::now()),
    })
}

/// The `name_tag` advisories give an account: its JWT's name, else its
/// own name.
fn name_tag(acc: &Account) -> String {
    match acc.claims.read().as_ref() {
        Some(c) if !c.name.is_empty() => c.name.clone(),
        _ => acc.name.to_string(),
    }
}

fn typed(kind: &str) -> (String, String, String) {
    (
        kind.to_owned(),
        random_token(22),
        rfc3339(SystemTime::now()),
    )
}

/// `$SYS.ACCOUNT.<acc>.CONNECT` after a client logged in (after the
/// account's connection count, in nats-server's order).
pub fn client_connected(server: &Server, c: &ClientShared) {
    let acc = c.account.read().clone();
    account_conns(server, &acc);
    let subject = format!("$SYS.ACCOUNT.{}.CONNECT", acc.name);
    emit(server, &subject, || {
        let (t, id, ts) = typed("io.nats.server.advisory.v1.client_connect");
        json!({
            "type": t, "id": id, "timestamp": ts,
            "server": server_info(server),
            "client": ClientInfo::event(c, &name_tag(&acc), None),
        })
    });
}

/// A `client_disconnect` event; its `timestamp` is the client's `stop`.
fn closed_event(server: &Server, c: &ClientShared, reason: &str) -> Value {
    let now = SystemTime::now();
    let acc = c.account.read().clone();
    json!({
        "type": "io.nats.server.advisory.v1.client_disconnect",
        "id": random_token(22),
        "timestamp": rfc3339(now),
        "server": server_info(server),
        "client": ClientInfo::event(c, &name_tag(&acc), Some(now)),
        "sent": {
            "msgs": c.stats.in_msgs.load(Ordering::Relaxed),
            "bytes": c.stats.in_bytes.load(Ordering::Relaxed),
        },
        "received": {
            "msgs": c.stats.out_msgs.load(Ordering::Relaxed),
            "bytes": c.stats.out_bytes.load(Ordering::Relaxed),
        },
        "reason": reason,
    })
}

/// `$SYS.ACCOUNT.<acc>.DISCONNECT` when a client connection is gone, as
/// nats-server sends it for every client connection, logged in or not
/// (one that never logged in is in the global account); the account's
/// connection count follows when it had logged in.
pub fn client_disconnected(
    server: &Server,
    c: &ClientShared,
    reason: CloseReason,
    was_connected: bool,
) {
    let acc = c.account.read().clone();
    let subject = format!("$SYS.ACCOUNT.{}.DISCONNECT", acc.name);
    emit(server, &subject, || {
        closed_event(server, c, reason.as_str())
    });
    if was_connected {
        account_conns(server, &acc);
    }
}

/// A refused login: `$SYS.ACCOUNT.CLIENT.AUTH.ERR` in the account the
/// connection is in (the global one, for the account's owners), then
/// `$SYS.SERVER.<id>.CLIENT.AUTH.ERR` in the system account.
pub fn auth_error(server: &Server, c: &ClientShared, reason: &str) {
    let acc = c.account.read().clone();
    let account_subject = "$SYS.ACCOUNT.CLIENT.AUTH.ERR";
    if acc.sublist.has_interest(account_subject) {
        let body = closed_event(server, c, reason).to_string();
        publish(server, &acc, account_subject, None, body.as_bytes());
    }
    let subject = format!("$SYS.SERVER.{}.CLIENT.AUTH.ERR", server.id);
    emit(server, &subject, || closed_event(server, c, reason));
}

/// The account's connection counts, as `SERVER.CONNS` events carry them.
fn account_stat(acc: &Account) -> Value {
    let conns = acc.conns();
    json!({
        "acc": &*acc.name,
        "name": &*acc.name,
        "conns": conns,
        "leafnodes": 0,
        "total_conns": conns,
        "num_subscriptions": acc.sublist.count(),
        // Routes, gateways and leaf nodes carry nothing on a single server.
        "sent": {
            "msgs": acc.closed.out_msgs.load(Ordering::Relaxed),
            "bytes": acc.closed.out_bytes.load(Ordering::Relaxed),
            "gateways": {"msgs": 0, "bytes": 0},
            "routes": {"msgs": 0, "bytes": 0},
            "leafs": {"msgs": 0, "bytes": 0},
        },
        "received": {
            "msgs": acc.closed.in_msgs.load(Ordering::Relaxed),
            "bytes": acc.closed.in_bytes.load(Ordering::Relaxed),
            "gateways": {"msgs": 0, "bytes": 0},
            "routes": {"msgs": 0, "bytes": 0},
            "leafs": {"msgs": 0, "bytes": 0},
        },
        "slow_consumers": acc.closed.slow_consumers.load(Ordering::Relaxed),
    })
}

/// `$SYS.ACCOUNT.<acc>.SERVER.CONNS` (and the older
/// `$SYS.SERVER.ACCOUNT.<acc>.CONNS`).
pub fn account_conns(server: &Server, acc: &Account) {
    if server.accounts.is_system(acc) {
        return;
    }
    for subject in [
        format!("$SYS.ACCOUNT.{}.SERVER.CONNS", acc.name),
        format!("$SYS.SERVER.ACCOUNT.{}.CONNS", acc.name),
    ] {
        emit(server, &subject, || {
            let (t, id, ts) = typed("io.nats.server.advisory.v1.account_connections");
            let mut v = json!({
                "type": t, "id": id, "timestamp": ts,
                "server": server_info(server),
            });
            if let (Some(o), Value::Object(stat)) = (v.as_object_mut(), account_stat(acc)) {
                o.extend(stat);
            }
            v
        });
    }
}

/// `SERVER.CONNS` for every account with connections (a new member must
/// count them against the accounts' `max_connections`).
pub fn all_account_conns(server: &Server) {
    for acc in server.accounts.all() {
        if acc.conns() > 0 {
            account_conns(server, &acc);
        }
    }
}

/// Another member's `SERVER.CONNS` event: its connections of the account
/// now count against the account's `max_connections`; when the total is
/// over it, this server's newest connections of the account go, as
/// nats-server closes them.
pub fn remote_account_conns(server: &Server, body: &[u8]) {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    let (Some(id), Some(name)) = (v["server"]["id"].as_str(), v["acc"].as_str()) else {
        return;
    };
    if id == server.id {
        return;
    }
    let Some(acc) = server.accounts.get(name) else {
        return;
    };
    acc.set_remote_conns(id, v["conns"].as_u64().unwrap_or(0));
    let max = acc.limits().max_connections;
    if max < 0 {
        return;
    }
    let total = acc.conns() + acc.remote_conns();
    let excess = total.saturating_sub(max as u64) as usize;
    if excess == 0 {
        return;
    }
    let mut mine: Vec<_> = server
        .clients()
        .into_iter()
        .filter(|c| c.connect_seen() && Arc::ptr_eq(&c.account.read(), &acc))
        .collect();
    mine.sort_by_key(|c| c.start);
    for c in mine.iter().rev().take(excess) {
        c.close_with_error(
            "maximum account active connections exceeded",
            CloseReason::MaxAccountConnectionsExceeded,
        );
    }
}

/// The STATSZ message: server info and its statistics.
pub fn statsz(server: &Arc<Server>) -> Value {
    let totals = crate::monitor::stats_snapshot(server);
    json!({
        "server": server_info(server),
        "statsz": {
            "start": rfc3339(server.start_time),
            "mem": totals.mem,
            "cores": totals.cores,
            "cpu": totals.cpu,
            "connections": totals.connections,
            "total_connections": totals.total_connections,
            "active_accounts": totals.active_accounts,
            "subscriptions": totals.subscriptions,
            "sent": {"msgs": totals.out_msgs, "bytes": totals.out_bytes},
            "sent_to_clients": {"msgs": totals.out_msgs, "bytes": totals.out_bytes},
            "received": {"msgs": totals.in_msgs, "bytes": totals.in_bytes},
            "received_from_clients": {"msgs": totals.in_msgs, "bytes": totals.in_bytes},
            "slow_consumers": totals.slow_consumers,
        }
    })
}

/// A `{"server":…,"data":…}` reply.
fn api_reply(server: &Server, data: Value) -> Value {
    json!({ "server": server_info(server), "data": data })
}

/// A `{"server":…,"error":{code, description}}` reply.
fn api_error(server: &Server, code: u16, description: String) -> Value {
    json!({
        "server": server_info(server),
        "error": {"code": code, "description": description},
    })
}

/// A request to one of the server's handlers.
struct Request<'a> {
    subject: &'a str,
    /// JSON options (nats-server's request options), possibly empty.
    body: &'a [u8],
    /// The id of the connection that sent it (0: the server itself).
    client: u64,
}

/// One request kind the server answers; `None` sends no reply.
type Answer = fn(&Arc<Server>, &Request<'_>) -> Option<Value>;

fn answer_idz(s: &Arc<Server>, _: &Request<'_>) -> Option<Value> {
    Some(api_reply(
        s,
        json!({"name": s.name, "host": s.opts().host, "id": s.id}),
    ))
}

fn answer_statsz(s: &Arc<Server>, _: &Request<'_>) -> Option<Value> {
    Some(statsz(s))
}

fn answer_monitor(s: &Arc<Server>, req: &Request<'_>) -> Option<Value> {
    let kind = req.subject.rsplit('.').next().unwrap_or("");
    let query = match request_options::decide(s, kind, req.body, None) {
        Decision::Answer(q) => q,
        Decision::NotForUs => return None,
        Decision::Invalid(e) => return Some(api_error(s, 400, e)),
    };
    Some(match crate::monitor::endpoint_json(s, kind, Some(&query)) {
        Some(data) => api_reply(s, data),
        None => api_error(s, 400, format!("unknown request {kind:?}")),
    })
}

/// `$SYS.REQ.ACCOUNT.<acc>.{CONNZ,SUBSZ,INFO,STATZ,CONNS}`: the monitoring
/// views of one account. Every other account reaches its own through the
/// imports [`import_account_requests`] installs, so a tenant sees its own
/// connections and nobody else's.
fn answer_account(s: &Arc<Server>, req: &Request<'_>) -> Option<Value> {
    let subject = req.subject;
    let toks: Vec<&str> = subject.split('.').collect();
    let [_, _, _, acc, kind] = toks.as_slice() else {
        return Some(api_error(
            s,
            500,
            format!("subject {subject:?} is malformed"),
        ));
    };
    let query = match request_options::decide(s, kind, req.body, Some(acc)) {
        Decision::Answer(q) => q,
        Decision::NotForUs => return None,
        Decision::Invalid(e) => return Some(api_error(s, 400, e)),
    };
    match *kind {
        "CONNZ" | "SUBSZ" => {
            crate::monitor::endpoint_json(s, kind, Some(&query)).map(|d| api_reply(s, d))
        }
        "INFO" => Some(match s.accounts.get(acc) {
            Some(_) => {
                let az = crate::monitor::endpoint_json(s, "ACCOUNTZ", Some(&query))?;
                api_reply(s, az.get("account_detail").cloned().unwrap_or(Value::Null))
            }
            None => {
                let mut v = api_error(s, 500, format!("Account {acc} does not exist"));
                v["data"] = Value::Null;
                v
            }
        }),
        // Like nats-server: no reply for an account without connections, nor
        // for the PING subject, which has a handler of its own.
        "STATZ" if *acc == "PING" => None,
        "STATZ" => account_statz(s, Some(acc)),
        "CONNS" => {
            let a = s.accounts.get(acc).filter(|a| a.conns() > 0)?;
            let (t, id, ts) = typed("io.nats.server.advisory.v1.account_connections");
            let mut v = json!({"type": t, "id": id, "timestamp": ts, "server": server_info(s)});
            if let (Some(o), Value::Object(stat)) = (v.as_object_mut(), account_stat(&a)) {
                o.extend(stat);
            }
            Some(v)
        }
        _ => Some(api_error(s, 400, format!("unknown request {kind:?}"))),
    }
}

/// `$SYS.REQ.USER.INFO`: who the requesting connection is: its user, its
/// account, its permissions and how long its credentials still last.
fn answer_user_info(s: &Arc<Server>, req: &Request<'_>) -> Option<Value> {
    let Some(c) = s.client(req.client) else {
        return Some(json!({"server": server_info(s), "error": {"code": 400}}));
    };
    let acc = c.account.read().clone();
    let claims = acc.claims.read().clone();
    let account_name = match &claims {
        Some(cl) if !cl.name.is_empty() => cl.name.clone(),
        _ => acc.name.to_string(),
    };
    let mut data = json!({
        "user": c.meta.lock().user.clone(),
        "account": &*acc.name,
        "account_name": account_name,
    });
    let login = c.credentials.lock().clone();
    let user_claims = login
        .as_ref()
        .and_then(|l| l.connect.jwt.as_deref())
        .and_then(|j| crate::jwt::decode_user(j).ok());
    if let Some(u) = &user_claims {
        if !u.name.is_empty() {
            data["user_name"] = json!(u.name);
        }
        if u.exp > 0 {
            let left = (u.exp - crate::jwt::now()).max(0);
            data["expires"] = json!(left.saturating_mul(1_000_000_000));
        }
    }
    if let Some(p) = c.delivery.read().clone() {
        data["permissions"] = public_permissions(&p);
    }
    Some(api_reply(s, data))
}

/// A connection's permissions as nats-server shows them to their holder.
fn public_permissions(p: &crate::auth::Permissions) -> Value {
    fn side(sp: Option<&crate::auth::permissions::SubjectPermission>) -> Value {
        let mut v = json!({});
        let Some(sp) = sp else {
            return v;
        };
        let text = |e: &crate::auth::permissions::Entry| match &e.queue {
            Some(q) => format!("{} {q}", e.subject),
            None => e.subject.clone(),
        };
        if let Some(allow) = &sp.allow {
            v["allow"] = json!(allow.iter().map(text).collect::<Vec<_>>());
        }
        if !sp.deny.is_empty() {
            v["deny"] = json!(sp.deny.iter().map(text).collect::<Vec<_>>());
        }
        v
    }
    let mut v = json!({
        "publish": side(p.publish.as_ref()),
        "subscribe": side(p.subscribe.as_ref()),
    });
    if let Some(r) = p.response {
        v["responses"] = json!({"max": r.max, "ttl": r.expires.as_nanos() as u64});
    }
    v
}

/// `$SYS.REQ.ACCOUNT.PING.STATZ`: every account with connections.
fn answer_account_ping_statz(s: &Arc<Server>, _: &Request<'_>) -> Option<Value> {
    account_statz(s, None)
}

/// The `/accstatz` view of one account (or all), as a reply; `None` when
/// no account in it has connections.
fn account_statz(s: &Arc<Server>, acc: Option<&str>) -> Option<Value> {
    let mut v = crate::monitor::endpoint_json(s, "ACCSTATZ", None)?;
    let list = v.get_mut("account_statz")?.as_array_mut()?;
    if let Some(acc) = acc {
        list.retain(|a| a.get("acc").and_then(Value::as_str) == Some(acc));
    }
    if list.is_empty() {
        return None;
    }
    Some(api_reply(s, v))
}

/// The service imports nats-server gives every account besides the
/// system account, so its users can ask about their own account:
/// `$SYS.REQ.USER.INFO` answers who the requester is,
/// `$SYS.REQ.SERVER.PING.CONNZ` and `$SYS.REQ.ACCOUNT.PING.CONNZ` answer
/// with the account's connections, `$SYS.REQ.ACCOUNT.PING.STATZ` with its
/// statistics. An import the account already has is left alone.
pub fn import_account_requests(server: &Server, acc: &Arc<Account>) {
    let Some(sys) = server.accounts.system() else {
        return;
    };
    if Arc::ptr_eq(&sys, acc) {
        return;
    }
    let name = &acc.name;
    // The name becomes one token of the system subjects: a name that is not
    // a plain token, or is `PING` (whose STATZ subject answers for every
    // account), would reach more than the account's own data.
    if &**name == "PING" || !crate::subject::is_valid_literal_subject(name) || name.contains('.') {
        log::warn!("account {name}: no system imports for this account name");
        return;
    }
    // Check and install as one step: claims updates may run concurrently.
    static INSTALLING: parking_lot::Mutex<()> = parking_lot::Mutex::new(());
    let _one_at_a_time = INSTALLING.lock();
    for (local, remote) in [
        ("$SYS.REQ.USER.INFO", format!("$SYS.REQ.USER.{name}.INFO")),
        (
            "$SYS.REQ.SERVER.PING.CONNZ",
            format!("$SYS.REQ.ACCOUNT.{name}.CONNZ"),
        ),
        (
            "$SYS.REQ.ACCOUNT.PING.CONNZ",
            format!("$SYS.REQ.ACCOUNT.{name}.CONNZ"),
        ),
        (
            "$SYS.REQ.ACCOUNT.PING.STATZ",
            format!("$SYS.REQ.ACCOUNT.{name}.STATZ"),
        ),
    ] {
        let mut exists = false;
        acc.for_each_forward(|s, r| {
            exists |= s == local && matches!(r, Forward::Service(_));
        });
        if exists {
            continue;
        }
        if let Err(e) = crate::tenancy::account_config::install_service_import(
            crate::tenancy::account_config::ImportPlan::automatic(),
            &server.accounts,
            acc,
            &sys,
            local,
            &remote,
        ) {
            log::warn!("account {name}: system import {local}: {e}");
        }
    }
}

/// System requests answered at the same time; more are dropped.
const MAX_REQUESTS_IN_FLIGHT: usize = 64;

/// Installs the request handlers in the system account and starts the
/// periodic work (STATSZ, account connection heartbeats, response sweeps).
pub fn install(server: &Arc<Server>) {
    let Some(sys) = server.accounts.system() else {
        return;
    };
    let id = server.id.clone();
    let mut handlers: Vec<(String, &'static str, Answer)> = vec![
        ("$SYS.REQ.SERVER.PING".into(), "ping", answer_statsz),
        (
            "$SYS.REQ.SERVER.PING.STATSZ".into(),
            "statsz",
            answer_statsz,
        ),
        ("$SYS.REQ.SERVER.PING.IDZ".into(), "idz", answer_idz),
        (
            format!("$SYS.REQ.SERVER.{id}.STATSZ"),
            "statsz",
            answer_statsz,
        ),
        (format!("$SYS.REQ.SERVER.{id}.IDZ"), "idz", answer_idz),
    ];
    for kind in ["CONNZ", "SUBSZ", "INFO", "STATZ", "CONNS"] {
        handlers.push((
            format!("$SYS.REQ.ACCOUNT.*.{kind}"),
            "account",
            answer_account,
        ));
    }
    handlers.push((
        "$SYS.REQ.ACCOUNT.PING.STATZ".into(),
        "account",
        answer_account_ping_statz,
    ));
    // Users of other accounts reach the first through their imports.
    handlers.push(("$SYS.REQ.USER.*.INFO".into(), "user", answer_user_info));
    handlers.push(("$SYS.REQ.USER.INFO".into(), "user", answer_user_info));
    for kind in ["VARZ", "SUBSZ", "CONNZ", "HEALTHZ", "ACCOUNTZ"] {
        handlers.push((
            format!("$SYS.REQ.SERVER.PING.{kind}"),
            "monitor",
            answer_monitor,
        ));
        handlers.push((
            format!("$SYS.REQ.SERVER.{id}.{kind}"),
            "monitor",
            answer_monitor,
        ));
    }
    // Other members' connection counts (cluster-wide max_connections).
    let weak = Arc::downgrade(server);
    let conns = Forward::Internal(Arc::new(InternalForward {
        name: "conns",
        handler: Box::new(move |_: &str, _: Option<&[u8]>, body: &[u8], _: u64| {
            let (weak, body) = (weak.clone(), body.to_vec());
            tokio::spawn(async move {
                if let Some(server) = weak.upgrade() {
                    remote_account_conns(&server, &body);
                }
            });
        }),
        cluster_wide: true,
    }));
    if let Err(e) = sys.add_forward("$SYS.ACCOUNT.*.SERVER.CONNS", conns) {
        log::warn!("account connections: {e}");
    }
    let weak = Arc::downgrade(server);
    server.accounts.on_create(Arc::new(move |acc| {
        if let Some(server) = weak.upgrade() {
            import_account_requests(&server, acc);
        }
    }));
    // Every account can send some of these requests, and each builds a
    // monitoring view: a few run at a time and the rest are dropped
    // unanswered, as a busy nats-server drops them from its full queue.
    let busy = Arc::new(tokio::sync::Semaphore::new(MAX_REQUESTS_IN_FLIGHT));
    for (subject, name, answer) in handlers {
        let weak = Arc::downgrade(server);
        let sys2 = Arc::downgrade(&sys);
        let busy = busy.clone();
        let handler = move |subject: &str, reply: Option<&[u8]>, body: &[u8], client: u64| {
            let Some(reply) = reply.and_then(|r| std::str::from_utf8(r).ok()) else {
                return;
            };
            let Ok(permit) = busy.clone().try_acquire_owned() else {
                log::debug!("system request {subject} dropped: too many in flight");
                return;
            };
            let (weak, sys, subject, reply, body) = (
                weak.clone(),
                sys2.clone(),
                subject.to_owned(),
                reply.to_owned(),
                body.to_vec(),
            );
            tokio::spawn(async move {
                let _permit = permit;
                let (Some(server), Some(sys)) = (weak.upgrade(), sys.upgrade()) else {
                    return;
                };
                // Every monitoring request honours nats-server's server
                // filters in its body (the user-info request has no body).
                if name != "user" {
                    match request_options::decide(&server, "", &body, None) {
                        Decision::NotForUs => return,
                        Decision::Invalid(e) => {
                            let v = api_error(&server, 400, e);
                            publish(&server, &sys, &reply, None, v.to_string().as_bytes());
                            return;
                        }
                        Decision::Answer(_) => {}
                    }
                }
                let req = Request {
                    subject: &subject,
                    body: &body,
                    client,
                };
                if let Some(v) = answer(&server, &req) {
                    publish(&server, &sys, &reply, None, v.to_string().as_bytes());
                }
            });
        };
        let route = Forward::Internal(Arc::new(InternalForward {
            name,
            handler: Box::new(handler),
            // As in nats-server, a user's own info is answered by its
            // server only; the rest by every member.
            cluster_wide: name != "user",
        }));
        if let Err(e) = sys.add_forward(&subject, route) {
            log::warn!("system request {subject}: {e}");
        }
    }
}

/// The periodic work of the events system; runs until the server is gone.
pub async fn run_periodic(server: Weak<Server>) {
    let mut statsz_every = Duration::from_millis(250);
    let mut next_statsz = Instant::now() + statsz_every;
    let mut next_conns = Instant::now() + Duration::from_secs(30);
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tick.tick().await;
        let Some(server) = server.upgrade() else {
            return;
        };
        let now = Instant::now();
        let unix_now = crate::jwt::now();
        for acc in server.accounts.all() {
            for (resp, status) in acc.sweep_responses(now) {
                if let Some(t) = resp.tracking.as_ref().filter(|t| t.claim_report()) {
                    super::latency::report(&server, &t.failed(&acc, status));
                }
            }
            super::claims::close_if_expired(&server, &acc, unix_now);
            if acc.activation_due(unix_now) {
                crate::tenancy::jwt_account::reinstall_imports(&server.accounts, &acc);
            }
        }
        if now >= next_statsz {
            let subject = format!("$SYS.SERVER.{}.STATSZ", server.id);
            emit(&server, &subject, || statsz(&server));
            statsz_every = (statsz_every * 2).min(Duration::from_secs(10));
            next_statsz = now + statsz_every;
        }
        if now >= next_conns {
            next_conns = now + Duration::from_secs(30);
            for acc in server.accounts.all() {
                if acc.conns() > 0 {
                    account_conns(&server, &acc);
                }
            }
        }
    }
}

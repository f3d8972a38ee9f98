//! Live account claim updates in operator mode: the `$SYS` requests that
//! push, look up and list account JWTs, and what an update does to the
//! connections of the account at once (revoked users cut, lowered limits and
//! changed default permissions applied).

use serde_json::{json, Value};
use std::sync::{Arc, Weak};
use tokio::sync::mpsc;

use super::events::{publish, server_info};
use crate::jwt::AccountClaims;
use crate::server::close::CloseReason;
use crate::server::Server;
use crate::tenancy::account::Account;
use crate::tenancy::imports::{Forward, InternalForward};
use crate::tenancy::jwt_account;
use crate::tenancy::operator::ClaimsError;

fn update_reply(server: &Server, account: &str, result: Result<&str, ClaimsError>) -> Value {
    match result {
        Ok(msg) => json!({
            "server": server_info(server),
            "data": {"account": account, "code": 200, "message": msg},
        }),
        Err(e) => error_reply(server, account, "jwt update resulted in error", &e),
    }
}

/// nats-server's claim update error: `{"error": {account, code 500,
/// description: "<message> - <why>"}}`.
fn error_reply(
    server: &Server,
    account: &str,
    message: &str,
    why: &dyn std::fmt::Display,
) -> Value {
    json!({
        "server": server_info(server),
        "error": {
            "account": account,
            "code": 500,
            "description": format!("{message} - {why}"),
        },
    })
}

/// Applies a pushed account JWT. `subject_key` is the account named by the
/// request subject (`None` for `$SYS.REQ.CLAIMS.UPDATE`).
pub async fn update(server: &Server, subject_key: Option<&str>, body: &[u8]) -> Value {
    let Some(op) = &server.operator else {
        return Value::Null;
    };
    let jwt = String::from_utf8_lossy(body).trim().to_owned();
    // As nats-server answers: the account resolvers that keep no directory
    // refuse an empty body as such; a body that does not decode is refused
    // with the subject's account there, and with "n/a" by a directory
    // resolver (which names the account only once it has decoded the JWT).
    if jwt.is_empty() && !op.is_dir() {
        if let Some(k) = subject_key {
            return error_reply(server, k, "jwt update error", &"request body is empty");
        }
    }
    if let Err(e) = crate::jwt::decode_account(&jwt) {
        let account = match subject_key {
            Some(k) if !op.is_dir() => k,
            _ => "n/a",
        };
        return error_reply(server, account, "jwt update resulted in error", &e);
    }
    let claims = op.storable(&jwt);
    let key = match (subject_key, &claims) {
        (Some(k), _) => k.to_owned(),
        (None, Ok(c)) => c.sub.clone(),
        (None, Err(_)) => String::new(),
    };
    let claims = match claims {
        Ok(c) if c.sub != key => {
            return update_reply(server, &key, Err(ClaimsError::SubjectMismatch))
        }
        Ok(c) => c,
        Err(e) => return update_reply(server, &key, Err(e)),
    };
    let known = server
        .accounts
        .get(&key)
        .filter(|a| a.claims.read().is_some());
    if known.is_none() && !op.stores_unknown() {
        return update_reply(server, &key, Ok("jwt update skipped"));
    }
    if let Err(e) = op.store(&key, &jwt).await {
        return update_reply(server, &key, Err(e));
    }
    if let Some(acc) = known {
        // A `full` resolver stores what no trusted operator signed; such
        // claims never replace the ones in force.
        if let Err(e) = op.validate(&jwt) {
            log::error!("account {key}: stored claims not applied: {e}");
            return update_reply(server, &key, Ok("jwt updated"));
        }
        let before = acc.claims.read().clone();
        let acc = jwt_account::apply_claims(&server.accounts, op, &claims);
        enforce(server, &acc, before.as_deref()).await;
    }
    log::info!("account {key}: claims updated");
    update_reply(server, &key, Ok("jwt updated"))
}

/// Makes the live connections of `acc` obey its new claims. As nats-server
/// does, users issued by a signing key that was removed or whose scope
/// changed (`before` holds the claims replaced) are disconnected, to log in
/// again under the new template; every other connection is checked again
/// through the login pipeline (revoked users, bearer users of an account
/// that now disallows them, are cut; new permissions and limits apply at
/// once); then connections over a lowered connection limit are closed,
/// newest first.
pub async fn enforce(server: &Server, acc: &Arc<Account>, before: Option<&AccountClaims>) {
    let limits = acc.limits();
    let changed_signers = before
        .map(|old| changed_signers(old, acc))
        .unwrap_or_default();
    let mut live = Vec::new();
    for c in server.clients() {
        if !Arc::ptr_eq(&c.account.read(), acc) {
            continue;
        }
        if !changed_signers.is_empty() {
            let issuer = c
                .credentials
                .lock()
                .as_ref()
                .and_then(|l| l.connect.jwt.as_deref().and_then(jwt_account::user_claims))
                .map(|u| u.iss);
            if issuer.is_some_and(|k| changed_signers.contains(&k)) {
                log::info!(
                    "{} - cid:{} - signing key of the user changed, disconnecting",
                    c.addr,
                    c.id
                );
                c.close(CloseReason::AuthenticationViolation);
                continue;
            }
        }
        if crate::server::login::recheck(server, &c).await {
            live.push(c);
        }
    }
    if limits.max_connections >= 0 {
        let max = limits.max_connections as usize;
        live.sort_by_key(|c| c.id);
        for c in live.iter().skip(max) {
            c.close_with_error(
                "maximum account active connections exceeded",
                CloseReason::MaxAccountConnectionsExceeded,
            );
        }
    }
}

/// The signing keys of `old` that the account's claims now in force removed
/// or gave another scope.
fn changed_signers(old: &AccountClaims, acc: &Account) -> Vec<String> {
    let Some(new) = acc.claims.read().clone() else {
        return Vec::new();
    };
    old.nats
        .signing_keys
        .keys()
        .filter(|k| new.nats.signing_keys.get(k) != old.nats.signing_keys.get(k))
        .map(str::to_owned)
        .collect()
}

/// When an account's JWT expires, nats-server ends every connection of the
/// account with `Account Authentication Expired`; new logins are refused by
/// the login pipeline. Called by the periodic system tick.
pub fn close_if_expired(server: &Server, acc: &Arc<Account>, now: i64) {
    if acc.conns() == 0 {
        return;
    }
    let expired = acc
        .claims
        .read()
        .as_ref()
        .is_some_and(|c| c.exp > 0 && c.exp <= now);
    if !expired {
        return;
    }
    for c in server.clients() {
        if Arc::ptr_eq(&c.account.read(), acc) && c.out.closing().is_none() {
            log::info!("{} - cid:{} - Account Authentication Expired", c.addr, c.id);
            c.close_with_error(
                "Account Authentication Expired",
                CloseReason::AuthenticationExpired,
            );
        }
    }
}

/// The claim requests the system account answers.
#[derive(Debug, Clone, Copy)]
enum Request {
    /// `$SYS.REQ.ACCOUNT.<key>.CLAIMS.UPDATE`.
    Update,
    /// `$SYS.ACCOUNT.<key>.CLAIMS.UPDATE` (older form).
    UpdateOld,
    /// `$SYS.REQ.CLAIMS.UPDATE` (directory resolvers; key from the JWT).
    UpdateAny,
    List,
    Lookup,
    /// `$SYS.REQ.CLAIMS.PACK`: every `pubkey|jwt`, one per message, then an
    /// empty message (nothing but the empty message when the caller's store
    /// hash, the body, equals ours).
    Pack,
    /// `$SYS.REQ.CLAIMS.DELETE` (with `allow_delete`).
    Delete,
}

fn token(subject: &str, i: usize) -> Option<&str> {
    subject.split('.').nth(i)
}

async fn answer(server: &Server, req: Request, subject: &str, body: &[u8]) -> Vec<Vec<u8>> {
    let Some(op) = server.operator.as_ref() else {
        return Vec::new();
    };
    let v = match req {
        Request::Update => update(server, token(subject, 3), body).await,
        Request::UpdateOld => update(server, token(subject, 2), body).await,
        Request::UpdateAny => update(server, None, body).await,
        Request::List => json!({"server": server_info(server), "data": op.list()}),
        // LOOKUP answers with the raw JWT (empty when unknown).
        Request::Lookup => {
            let jwt = token(subject, 3).and_then(|k| op.lookup(k));
            return vec![jwt.unwrap_or_default().into_bytes()];
        }
        Request::Pack => {
            let mut out = Vec::new();
            if body != op.resolver.hash().as_slice() {
                for (key, jwt) in op.resolver.pack() {
                    out.push(format!("{key}|{jwt}").into_bytes());
                }
            }
            out.push(Vec::new());
            return out;
        }
        Request::Delete => delete(server, op, body),
    };
    vec![v.to_string().into_bytes()]
}

/// Deletes accounts named in a generic JWT self-signed by a trusted
/// operator key (`nats.accounts`), as nats-server's directory resolver does;
/// their connections are closed.
fn delete(server: &Server, op: &crate::tenancy::operator::OperatorMode, body: &[u8]) -> Value {
    let text = String::from_utf8_lossy(body);
    let mut requester = String::new();
    let result = (|| -> Result<Vec<String>, String> {
        let gk = crate::jwt::decode_generic(text.trim()).map_err(|e| e.to_string())?;
        requester.clone_from(&gk.sub);
        if gk.sub != gk.iss {
            return Err("not self signed".into());
        }
        if !op.trust.is_trusted_issuer(&gk.iss) {
            return Err("not trusted".into());
        }
        let list = gk
            .nats
            .0
            .get("accounts")
            .and_then(|v| v.as_array())
            .ok_or("malformed request")?;
        let mut keys = Vec::new();
        for v in list {
            let k = v
                .as_str()
                .filter(|k| crate::nkeys::is_valid_public_key(k, crate::nkeys::KeyKind::Account));
            let k = k.ok_or("malformed request")?;
            if op.system_account.as_deref() == Some(k) {
                return Err("not allowed to delete system account".into());
            }
            keys.push(k.to_owned());
        }
        Ok(keys)
    })();
    let keys = match result {
        Ok(k) => k,
        Err(e) => return delete_reply(server, &requester, Err(e)),
    };
    match op.resolver.delete(&keys) {
        Ok(n) => {
            for key in &keys {
                if let Some(acc) = server.accounts.get(key) {
                    // Under the account's claims lock, like every other
                    // change of its claims.
                    let owner = acc.claims_owner.lock();
                    *acc.claims.write() = None;
                    drop(owner);
                    for c in server.clients() {
                        if Arc::ptr_eq(&c.account.read(), &acc) {
                            c.close_with_error(
                                "User Authentication Expired",
                                CloseReason::AuthenticationExpired,
                            );
                        }
                    }
                }
            }
            delete_reply(server, &requester, Ok(format!("deleted {n} accounts")))
        }
        Err(e) => delete_reply(server, &requester, Err(e.to_string())),
    }
}

fn delete_reply(server: &Server, requester: &str, r: Result<String, String>) -> Value {
    match r {
        Ok(msg) => json!({"server": server_info(server), "data": {"code": 200, "message": msg}}),
        Err(e) => json!({
            "server": server_info(server),
            "error": {
                "code": 500,
                "description": format!("delete accounts request by {requester} failed - {e}"),
            },
        }),
    }
}

/// Installs the claim requests in the system account.
pub fn install(server: &Arc<Server>) {
    let (Some(op), Some(sys)) = (&server.operator, server.accounts.system()) else {
        return;
    };
    let mut routes = vec![
        ("$SYS.REQ.ACCOUNT.*.CLAIMS.UPDATE", Request::Update),
        ("$SYS.ACCOUNT.*.CLAIMS.UPDATE", Request::UpdateOld),
    ];
    if op.is_dir() {
        routes.push(("$SYS.REQ.CLAIMS.UPDATE", Request::UpdateAny));
        routes.push(("$SYS.REQ.CLAIMS.LIST", Request::List));
        routes.push(("$SYS.REQ.ACCOUNT.*.CLAIMS.LOOKUP", Request::Lookup));
        routes.push(("$SYS.REQ.CLAIMS.PACK", Request::Pack));
        routes.push(("$SYS.REQ.CLAIMS.DELETE", Request::Delete));
    }
    let (queue, work) = mpsc::channel(MAX_QUEUED);
    tokio::spawn(worker(Arc::downgrade(server), Arc::downgrade(&sys), work));
    for (subject, req) in routes {
        add(&sys, subject, req, &queue);
    }
}

/// Claim requests waiting for the worker; more are dropped (and logged).
const MAX_QUEUED: usize = 1024;

/// One claim request, as it arrived.
struct Work {
    req: Request,
    subject: String,
    body: Vec<u8>,
    reply: Option<String>,
}

fn add(sys: &Arc<Account>, subject: &str, req: Request, queue: &mpsc::Sender<Work>) {
    let queue = queue.clone();
    let handler = move |subj: &str, reply: Option<&[u8]>, body: &[u8], _client: u64| {
        let work = Work {
            req,
            subject: subj.to_owned(),
            body: body.to_vec(),
            reply: reply
                .and_then(|r| std::str::from_utf8(r).ok())
                .map(str::to_owned),
        };
        if queue.try_send(work).is_err() {
            log::warn!("claim request on {subj} dropped: too many queued");
        }
    };
    let route = Forward::Internal(Arc::new(InternalForward {
        name: "claims",
        handler: Box::new(handler),
        cluster_wide: true,
    }));
    if let Err(e) = sys.add_forward(subject, route) {
        log::warn!("system request {subject}: {e}");
    }
}

/// Answers claim requests one at a time, in the order they arrived: two
/// updates of one account pushed one after the other are applied in that
/// order, even when both carry the same `iat` (which the no-rollback rule
/// cannot tell apart).
async fn worker(server: Weak<Server>, sys: Weak<Account>, mut queue: mpsc::Receiver<Work>) {
    while let Some(w) = queue.recv().await {
        let (Some(server), Some(sys)) = (server.upgrade(), sys.upgrade()) else {
            return;
        };
        let out = {
            let _one_at_a_time = match &server.operator {
                Some(op) => Some(op.updates.lock().await),
                None => None,
            };
            answer(&server, w.req, &w.subject, &w.body).await
        };
        if let Some(reply) = w.reply {
            for msg in out {
                publish(&server, &sys, &reply, None, &msg);
            }
        }
    }
}

/// Starts operator mode once the runtime runs: checks the resolver (a URL
/// resolver must answer), loads the system account, and applies JWTs that
/// change outside the server (directory watcher) as they arrive.
///
/// # Errors
/// The resolver's start-up check failed.
pub async fn start(server: &Arc<Server>) -> Result<(), crate::resolver::ResolverError> {
    let Some(op) = server.operator.clone() else {
        return Ok(());
    };
    op.resolver.start().await?;
    if let Some(sys) = &op.system_account {
        let loaded = server
            .accounts
            .get(sys)
            .is_some_and(|a| a.claims.read().is_some());
        if !loaded {
            match op.fetch_claims(sys).await {
                Ok(c) => {
                    let acc = jwt_account::apply_claims(&server.accounts, &op, &c);
                    server.accounts.set_system(Some(acc));
                }
                Err(e) => log::warn!("system account {sys}: {e}"),
            }
        }
    }
    if let Some(mut updates) = op.resolver.subscribe_updates() {
        let weak = Arc::downgrade(server);
        tokio::spawn(async move {
            while let Some(u) = updates.recv().await {
                let Some(server) = weak.upgrade() else {
                    return;
                };
                let Some(op) = server.operator.clone() else {
                    return;
                };
                let known = server
                    .accounts
                    .get(&u.account)
                    .filter(|a| a.claims.read().is_some());
                if known.is_none() {
                    continue;
                }
                let _one_at_a_time = op.updates.lock().await;
                match op.validate(&u.jwt) {
                    Ok(c) if c.sub == u.account => {
                        let before = known.as_ref().and_then(|a| a.claims.read().clone());
                        let acc = jwt_account::apply_claims(&server.accounts, &op, &c);
                        enforce(&server, &acc, before.as_deref()).await;
                        log::info!("account {}: claims updated from the resolver", u.account);
                    }
                    Ok(_) => {
                        log::warn!("account {}: subject does not match jwt content", u.account)
                    }
                    Err(e) => log::warn!("account {}: {e}", u.account),
                }
            }
        });
    }
    Ok(())
}

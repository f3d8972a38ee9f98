//! Live account claim updates in operator mode: the `$SYS` requests that
//! push, look up and list account JWTs, and what an update does to the
//! connections of the account at once (revoked users cut, lowered limits and
//! changed default permissions applied).

use serde_json::{json, Value};
use std::sync::Arc;

use super::account::Account;
use super::close::CloseReason;
use super::events::{publish, server_info};
use super::imports::{InternalRoute, Route};
use super::jwt_account;
use super::Server;

fn update_reply(server: &Server, account: &str, result: Result<&str, String>) -> Value {
    match result {
        Ok(msg) => json!({
            "server": server_info(server),
            "data": {"account": account, "code": 200, "message": msg},
        }),
        Err(e) => json!({
            "server": server_info(server),
            "error": {
                "account": account,
                "code": 500,
                "description": format!("jwt update resulted in error - {e}"),
            },
        }),
    }
}

/// Applies a pushed account JWT. `subject_key` is the account named by the
/// request subject (`None` for `$SYS.REQ.CLAIMS.UPDATE`).
pub fn update(server: &Server, subject_key: Option<&str>, body: &[u8]) -> Value {
    let Some(op) = &server.operator else {
        return Value::Null;
    };
    let jwt = String::from_utf8_lossy(body).trim().to_owned();
    let claims = op.validate(&jwt);
    let key = match (subject_key, &claims) {
        (Some(k), _) => k.to_owned(),
        (None, Ok(c)) => c.sub.clone(),
        (None, Err(_)) => String::new(),
    };
    let claims = match claims {
        Ok(c) if c.sub != key => {
            return update_reply(
                server,
                &key,
                Err("subject does not match jwt content".into()),
            )
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
    if let Err(e) = op.store(&key, &jwt) {
        return update_reply(server, &key, Err(e));
    }
    if known.is_some() {
        let acc = jwt_account::apply_claims(&server.accounts, op, &claims);
        enforce(server, &acc);
    }
    log::info!("account {key}: claims updated");
    update_reply(server, &key, Ok("jwt updated"))
}

/// Makes the live connections of `acc` obey its new claims.
pub fn enforce(server: &Server, acc: &Arc<Account>) {
    let limits = acc.limits();
    let defaults = acc
        .claims
        .read()
        .as_ref()
        .and_then(|c| jwt_account::permissions_from_jwt(&c.nats.default_permissions));
    let mut live = Vec::new();
    for c in server.clients() {
        if !Arc::ptr_eq(&c.account.read(), acc) {
            continue;
        }
        let jwt = c.login.lock().as_ref().and_then(|l| l.connect.jwt.clone());
        let Some(jwt) = jwt else { continue };
        if jwt_account::is_revoked(acc, &jwt) {
            log::info!("{} - cid:{} - User Authentication Revoked", c.addr, c.id);
            c.close_with_error(
                "User Authentication Revoked",
                CloseReason::AuthenticationRevoked,
            );
            continue;
        }
        if let Some(user) = jwt_account::user_claims(&jwt) {
            let own = jwt_account::permissions_from_jwt(&user.nats.permission_limits.permissions);
            if own.is_none()
                && acc
                    .claims
                    .read()
                    .as_ref()
                    .and_then(|cl| cl.signer_scope(&user))
                    .is_none()
            {
                super::reload::adopt_permissions(&c, &user.sub, defaults.clone());
            }
        }
        c.set_payload_limit(limits.max_payload);
        live.push(c);
    }
    if limits.max_connections != 0 {
        let max = limits.max_connections.max(0) as usize;
        live.sort_by_key(|c| c.id);
        for c in live.iter().skip(max) {
            c.close_with_error(
                "maximum account active connections exceeded",
                CloseReason::MaxAccountConnectionsExceeded,
            );
        }
    }
}

type Handler = fn(&Server, &str, &[u8]) -> Option<Value>;

fn token(subject: &str, i: usize) -> Option<&str> {
    subject.split('.').nth(i)
}

fn h_update_req(s: &Server, subject: &str, body: &[u8]) -> Option<Value> {
    Some(update(s, token(subject, 3), body))
}

fn h_update_old(s: &Server, subject: &str, body: &[u8]) -> Option<Value> {
    Some(update(s, token(subject, 2), body))
}

fn h_update_any(s: &Server, _: &str, body: &[u8]) -> Option<Value> {
    Some(update(s, None, body))
}

fn h_list(s: &Server, _: &str, _: &[u8]) -> Option<Value> {
    let op = s.operator.as_ref()?;
    Some(json!({"server": server_info(s), "data": op.list()}))
}

/// Installs the claim requests in the system account.
pub fn install(server: &Arc<Server>) {
    let (Some(op), Some(sys)) = (&server.operator, server.accounts.system()) else {
        return;
    };
    let mut routes: Vec<(&str, Handler)> = vec![
        ("$SYS.REQ.ACCOUNT.*.CLAIMS.UPDATE", h_update_req),
        ("$SYS.ACCOUNT.*.CLAIMS.UPDATE", h_update_old),
    ];
    if op.is_dir() {
        routes.push(("$SYS.REQ.CLAIMS.UPDATE", h_update_any));
        routes.push(("$SYS.REQ.CLAIMS.LIST", h_list));
    }
    for (subject, handler) in routes {
        add(server, &sys, subject, move |s, subj, body| {
            handler(s, subj, body).map(|v| v.to_string().into_bytes())
        });
    }
    if op.is_dir() {
        // LOOKUP answers with the raw JWT (empty when unknown).
        add(
            server,
            &sys,
            "$SYS.REQ.ACCOUNT.*.CLAIMS.LOOKUP",
            |s, subj, _| {
                let key = token(subj, 3)?;
                Some(
                    s.operator
                        .as_ref()?
                        .lookup(key)
                        .unwrap_or_default()
                        .into_bytes(),
                )
            },
        );
    }
}

fn add(
    server: &Arc<Server>,
    sys: &Arc<Account>,
    subject: &str,
    answer: impl Fn(&Server, &str, &[u8]) -> Option<Vec<u8>> + Send + Sync + Copy + 'static,
) {
    let weak = Arc::downgrade(server);
    let sys_weak = Arc::downgrade(sys);
    let handler = move |subj: &str, reply: Option<&[u8]>, body: &[u8]| {
        let reply = reply
            .and_then(|r| std::str::from_utf8(r).ok())
            .map(str::to_owned);
        let (weak, sys_weak, subj, body) = (
            weak.clone(),
            sys_weak.clone(),
            subj.to_owned(),
            body.to_vec(),
        );
        tokio::spawn(async move {
            let (Some(server), Some(sys)) = (weak.upgrade(), sys_weak.upgrade()) else {
                return;
            };
            let out = answer(&server, &subj, &body);
            if let (Some(reply), Some(out)) = (reply, out) {
                publish(&sys, &reply, None, &out);
            }
        });
    };
    let route = Route::Internal(Arc::new(InternalRoute {
        name: "claims",
        handler: Box::new(handler),
    }));
    if let Err(e) = sys.add_route(subject, route) {
        log::warn!("system request {subject}: {e}");
    }
}

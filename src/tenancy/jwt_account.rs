//! JWT accounts and users: an account's claims turned into the running
//! account (limits, exports, imports with activation checks), and a user
//! JWT turned into an identity bound to it.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use super::account::{Account, AccountLimits, Registry};
use super::account_config::{
    plan_service_import, plan_stream_import, ImportError, ImportPlan, StreamImport,
};
use super::imports::{Export, ExportAuth, Exports, ResponseType, DEFAULT_RESPONSE_THRESHOLD};
use super::latency::{Sampling, ServiceLatency};
use super::mapping::{MapDest, Mappings};
use super::operator::OperatorMode;
use crate::auth::permissions::{Entry, ResponsePermission, SubjectPermission};
use crate::auth::Permissions;
use crate::jwt::{self, AccountClaims, ExportType, UserClaims};
use crate::protocol::messages::Connect;
use crate::server::login::{Login, LoginError};

/// Nesting of imports followed when loading an account (each import may
/// need its exporter loaded first).
const MAX_IMPORT_DEPTH: usize = 8;

/// Converts JWT permissions; `None` when they restrict nothing.
pub fn permissions_from_jwt(p: &jwt::Permissions) -> Option<Arc<Permissions>> {
    fn side(p: &jwt::Permission, queues: bool) -> Option<SubjectPermission> {
        if p.allow.is_empty() && p.deny.is_empty() {
            return None;
        }
        let entry = |s: &String| {
            let (subject, queue) = match s.split_once(' ') {
                Some((a, b)) if queues => (a.trim().to_owned(), Some(b.trim().to_owned())),
                _ => (s.clone(), None),
            };
            Entry { subject, queue }
        };
        Some(SubjectPermission {
            allow: (!p.allow.is_empty()).then(|| p.allow.iter().map(entry).collect()),
            deny: p.deny.iter().map(entry).collect(),
        })
    }
    let publish = side(&p.publish, false);
    let subscribe = side(&p.subscribe, true);
    let response = p.resp.as_ref().map(|r| {
        let d = ResponsePermission::default();
        ResponsePermission {
            max: if r.max_msgs == 0 { d.max } else { r.max_msgs },
            expires: if r.expires_ns <= 0 {
                d.expires
            } else {
                Duration::from_nanos(r.expires_ns as u64)
            },
        }
    });
    if publish.is_none() && subscribe.is_none() && response.is_none() {
        return None;
    }
    let publish = match (publish, &response) {
        // allow_responses without publish rules: everything else is denied
        // to publish, as nats-server does.
        (None, Some(_)) => Some(SubjectPermission {
            allow: Some(Vec::new()),
            deny: Vec::new(),
        }),
        (p, _) => p,
    };
    Some(Arc::new(Permissions {
        publish,
        subscribe,
        response,
    }))
}

/// Loads or refreshes the account described by `claims`. Exporters it
/// imports from are loaded through `op` as needed.
pub fn apply_claims(reg: &Registry, op: &OperatorMode, claims: &AccountClaims) -> Arc<Account> {
    apply_at_depth(reg, op, claims, 0)
}

fn apply_at_depth(
    reg: &Registry,
    op: &OperatorMode,
    claims: &AccountClaims,
    depth: usize,
) -> Arc<Account> {
    // Exporters this account imports from are loaded first, before this
    // account's claims lock is taken, so no two claim locks are ever held
    // at once.
    for imp in &claims.nats.imports {
        let loaded = reg
            .get(&imp.account)
            .is_some_and(|a| a.claims.read().is_some());
        if !loaded && depth < MAX_IMPORT_DEPTH && imp.account != claims.sub {
            match op.account_claims(&imp.account) {
                Ok(c) => {
                    apply_at_depth(reg, op, &c, depth + 1);
                }
                Err(e) => log::warn!("account {}: import from {}: {e}", claims.sub, imp.account),
            }
        }
    }
    let acc = reg.get_or_create(&claims.sub);
    {
        // The account's one owner: updates apply one at a time, and an
        // older JWT never replaces a newer one, whatever order concurrent
        // updates arrive in.
        let mut owner = acc.claims_owner.lock();
        if claims.iat < owner.iat {
            log::info!(
                "account {}: claims issued at {} ignored, {} is in force",
                claims.sub,
                claims.iat,
                owner.iat
            );
            drop(owner);
            return acc;
        }
        owner.iat = claims.iat;
        let l = &claims.nats.limits;
        // As nats-server reads them: absent (0) allows nothing, -1 is
        // unlimited.
        *acc.limits.write() = AccountLimits {
            max_connections: l.account.conn,
            max_subscriptions: l.nats.subs,
            max_payload: l.nats.payload,
            max_leafnodes: l.account.leaf_node_conn,
        };
        acc.set_quota(l.rate.to_limit());
        *acc.exports.write() = exports_from_claims(claims);
        acc.set_mappings(Arc::new(mappings_from_claims(claims)));
        *acc.claims.write() = Some(Arc::new(claims.clone()));
        install_imports(reg, &acc, claims);
    }
    // Accounts importing from this one re-check their imports against its
    // new exports: a withdrawn export or a revoked activation stops at once.
    for other in reg.all() {
        if Arc::ptr_eq(&other, &acc) {
            continue;
        }
        let imports_from_here = other
            .claims
            .read()
            .as_ref()
            .is_some_and(|c| c.nats.imports.iter().any(|i| i.account == *acc.name));
        if imports_from_here {
            reinstall_imports(reg, &other);
        }
    }
    acc
}

/// Installs the imports of `claims` into `acc`, replacing the ones it had in
/// one step per forward table, and notes when the first activation expires.
/// The caller holds `acc`'s claims lock.
fn install_imports(reg: &Registry, acc: &Arc<Account>, claims: &AccountClaims) {
    let mut plan = ImportPlan::replacing(acc);
    let mut expiry = 0i64;
    for imp in &claims.nats.imports {
        let exporter = reg.get_or_create(&imp.account);
        match plan_import(&mut plan, reg, acc, &exporter, imp) {
            Ok(Some(exp)) => {
                expiry = if expiry == 0 { exp } else { expiry.min(exp) };
            }
            Ok(None) => {}
            Err(e) => log::warn!(
                "account {}: import {:?} from {}: {e}",
                claims.sub,
                imp.subject,
                imp.account
            ),
        }
    }
    if let Err(e) = plan.commit(reg) {
        log::warn!("account {}: imports: {e}", claims.sub);
    }
    acc.set_activation_expiry(expiry);
}

/// Checks the imports of `acc` again against its exporters' current claims
/// and the clock (an exporter's update, an activation that expired).
pub fn reinstall_imports(reg: &Registry, acc: &Arc<Account>) {
    let _owner = acc.claims_owner.lock();
    let Some(claims) = acc.claims.read().clone() else {
        return;
    };
    install_imports(reg, acc, &claims);
}

/// The claims' subject mappings. As in nats-server, a mapping that cannot
/// be added is left out (and logged) rather than failing the account.
fn mappings_from_claims(claims: &AccountClaims) -> Mappings {
    let mut out = Mappings::default();
    for (source, targets) in &claims.nats.mappings {
        let dests: Vec<MapDest> = targets
            .iter()
            .map(|t| MapDest {
                subject: t.subject.clone(),
                weight: t.weight(),
                cluster: (!t.cluster.is_empty()).then(|| t.cluster.clone()),
            })
            .collect();
        if let Err(e) = out.add(source, &dests) {
            log::warn!("account {}: mapping {source:?}: {e}", claims.sub);
        }
    }
    out
}

fn exports_from_claims(claims: &AccountClaims) -> Exports {
    let mut out = Exports::default();
    for e in &claims.nats.exports {
        let auth = if e.account_token_position > 0 {
            ExportAuth::TokenPosition(e.account_token_position as usize)
        } else if e.token_req {
            ExportAuth::Token
        } else {
            ExportAuth::Public
        };
        let response_type = ResponseType::parse(&e.response_type).unwrap_or_default();
        let ex = Export {
            latency: export_latency(claims, e, response_type),
            subject: e.subject.clone(),
            auth,
            response_type,
            response_threshold: if e.response_threshold > 0 {
                Duration::from_nanos(e.response_threshold as u64)
            } else {
                DEFAULT_RESPONSE_THRESHOLD
            },
        };
        match e.export_type {
            Some(ExportType::Service) => out.services.push(ex),
            _ => out.streams.push(ex),
        }
    }
    out
}

/// The latency tracking of a JWT service export, when nats-server would
/// accept it (a literal results subject outside the account's services, a
/// sampling of 1..=100 or headers, singleton responses); otherwise none,
/// with a warning.
fn export_latency(
    claims: &AccountClaims,
    e: &jwt::Export,
    response_type: ResponseType,
) -> Option<Arc<ServiceLatency>> {
    let l = e.latency.as_ref()?;
    if !matches!(e.export_type, Some(ExportType::Service)) {
        return None;
    }
    let loops = claims.nats.exports.iter().any(|x| {
        matches!(x.export_type, Some(ExportType::Service))
            && crate::subject::subject_is_subset(&l.results, &x.subject)
    });
    let why = if !crate::subject::is_valid_literal_subject(&l.results) || loops {
        "invalid publish subject"
    } else if response_type != ResponseType::Singleton {
        "bad service response type"
    } else {
        match Sampling::from_jwt(l.sampling) {
            Some(sampling) => {
                return Some(Arc::new(ServiceLatency {
                    sampling,
                    subject: l.results.clone(),
                }))
            }
            None => "bad sampling percentage, should be 1-100",
        }
    };
    log::warn!(
        "account {}: latency tracking of {:?} on {:?}: {why}",
        claims.sub,
        e.subject,
        l.results
    );
    None
}

/// Checks an import against the exporter's claims (activation tokens for
/// private exports) and adds it to `plan`. Returns when the activation
/// that grants it expires, if it does.
fn plan_import(
    plan: &mut ImportPlan,
    reg: &Registry,
    acc: &Arc<Account>,
    exporter: &Arc<Account>,
    imp: &jwt::Import,
) -> Result<Option<i64>, ImportError> {
    let service = matches!(imp.import_type, Some(ExportType::Service));
    let ex_claims = exporter
        .claims
        .read()
        .clone()
        .ok_or(ImportError::ExporterUnknown)?;
    let export = ex_claims
        .nats
        .exports
        .iter()
        .find(|e| {
            matches!(e.export_type, Some(ExportType::Service)) == service
                && crate::subject::subject_is_subset(&imp.subject, &e.subject)
        })
        .ok_or(ImportError::NotExported)?;
    let mut check_auth = true;
    let mut expires = None;
    if export.token_req {
        expires = check_activation(&ex_claims, export, &acc.name, imp)
            .map_err(ImportError::Activation)?;
        check_auth = false;
    }
    if service {
        let (local, remote) = if !imp.local_subject.is_empty() {
            (imp.local_subject.as_str(), imp.subject.as_str())
        } else if !imp.to.is_empty() {
            (imp.subject.as_str(), imp.to.as_str())
        } else {
            (imp.subject.as_str(), imp.subject.as_str())
        };
        plan_service_import(plan, acc, exporter, (local, remote), check_auth, imp.share)?;
    } else {
        let (prefix, to) = if !imp.local_subject.is_empty() {
            (None, Some(imp.local_subject.as_str()))
        } else if !imp.to.is_empty() {
            (Some(imp.to.as_str()), None)
        } else {
            (None, None)
        };
        plan_stream_import(
            plan,
            reg,
            acc,
            exporter,
            StreamImport {
                subject: &imp.subject,
                prefix,
                to,
            },
            check_auth,
        )?;
    }
    Ok(expires)
}

/// An activation token: signed by the exporter (or its signing key), for
/// this importer, covering the import, unexpired and not revoked. Returns
/// when it expires, if it does.
fn check_activation(
    exporter: &AccountClaims,
    export: &jwt::Export,
    importer: &str,
    imp: &jwt::Import,
) -> Result<Option<i64>, String> {
    if imp.token.is_empty() {
        return Err("activation token required".into());
    }
    let act = jwt::decode_activation(&imp.token).map_err(|e| format!("activation: {e}"))?;
    if act.sub != importer {
        return Err("activation is for another account".into());
    }
    if !exporter.did_sign_activation(&act) {
        return Err("activation not issued by the exporter".into());
    }
    act.check_times(jwt::now())
        .map_err(|e| format!("activation: {e}"))?;
    if !crate::subject::subject_is_subset(&imp.subject, &act.nats.import_subject)
        && act.nats.import_subject != imp.subject
    {
        return Err("activation does not cover the import".into());
    }
    if export.revocations.is_revoked(importer, act.iat) {
        return Err("activation revoked".into());
    }
    Ok((act.exp > 0).then_some(act.exp))
}

/// Authenticates a CONNECT carrying a user JWT: the account must be trusted
/// and know the user, the nonce must be signed by the user's key (unless
/// bearer), and the user's restrictions must admit this connection. Part
/// of the login pipeline ([`crate::server::login::Authenticator`]).
pub fn login(
    reg: &Registry,
    op: &OperatorMode,
    c: &Connect,
    nonce: &[u8],
    peer: IpAddr,
) -> Result<Login, LoginError> {
    let token = c.jwt.as_deref().ok_or("no user JWT")?;
    let user = jwt::decode_user(token).map_err(|e| format!("user JWT: {e}"))?;
    let acc_id = user.account_id().to_owned();
    let acc = match reg.get(&acc_id).filter(|a| a.claims.read().is_some()) {
        Some(a) => a,
        None => {
            let claims = op
                .account_claims(&acc_id)
                .map_err(|e| LoginError::Refused(e.to_string()))?;
            apply_claims(reg, op, &claims)
        }
    };
    let claims = acc.claims.read().clone().ok_or("account has no claims")?;
    let now = jwt::now();
    // The account counts as expired from its `exp` second on, as
    // nats-server's expiry timer marks it, so no login slips in between
    // the disconnect of its users and the next second.
    if claims.exp > 0 && claims.exp <= now {
        return Err(LoginError::AccountExpired(format!(
            "account {} expired",
            claims.sub
        )));
    }
    claims
        .check_times(now)
        .map_err(|e| LoginError::AccountExpired(format!("account {}: {e}", claims.sub)))?;
    // An operator with `strict_signing_key_usage` takes users only from
    // the account's signing keys, not its identity key.
    if user.iss == claims.sub && op.trust.strict_signer(&claims.iss) {
        return Err(LoginError::Refused(format!(
            "user {}: signed by the account's identity key, but its operator requires signing keys",
            user.sub
        )));
    }
    let scope = claims.check_user(&user, now).map_err(|e| {
        let why = format!("user {}: {e}", user.sub);
        match e {
            jwt::Error::Revoked | jwt::Error::NotIssuedByAccount => LoginError::Revoked(why),
            jwt::Error::Expired { .. } => LoginError::Expired(why),
            _ => LoginError::Refused(why),
        }
    })?;
    let limits = match scope {
        Some(s) => s.template.clone(),
        None => user.nats.permission_limits.clone(),
    };
    if !limits.bearer_token {
        let sig = c.sig.as_deref().ok_or("missing signature")?;
        crate::nkeys::verify_nonce_signature(&user.sub, nonce, sig)
            .map_err(|e| format!("nonce signature: {e}"))?;
    }
    if !limits.allowed_connection_types.is_empty()
        && !limits
            .allowed_connection_types
            .iter()
            .any(|t| t.eq_ignore_ascii_case("STANDARD"))
    {
        return Err("connection type not allowed".into());
    }
    if !limits.src.is_empty() && !limits.src.iter().any(|n| cidr_contains(n, peer)) {
        return Err("source network not allowed".into());
    }
    if !limits.times.is_empty() {
        let now = time_of_day(&limits.locale)?;
        if !limits.times.iter().any(|r| in_range(&r.start, &r.end, now)) {
            return Err("user not allowed to connect at this time".into());
        }
    }
    let permissions = permissions_from_jwt(&limits.permissions)
        .or_else(|| permissions_from_jwt(&claims.nats.default_permissions));
    Ok(Login {
        name: user.sub.clone(),
        account: acc,
        permissions,
        expires: (user.exp > 0).then_some(user.exp),
        max_payload: limits.limits.payload,
        max_subs: limits.limits.subs,
        rate: limits.rate.to_limit(),
    })
}

/// Seconds since midnight now, in the user's `times_location` (the
/// server's local time when empty). Zones other than UTC cannot be
/// evaluated without a time-zone database, so such a user is refused
/// rather than admitted at the wrong hours.
fn time_of_day(location: &str) -> Result<u32, String> {
    use chrono::Timelike;
    let t = match location {
        "" | "Local" => chrono::Local::now().time(),
        "UTC" | "Etc/UTC" | "Z" => chrono::Utc::now().time(),
        other => {
            return Err(format!(
                "time zone {other:?} not supported for connect times"
            ))
        }
    };
    Ok(t.num_seconds_from_midnight())
}

fn parse_hms(s: &str) -> Option<u32> {
    let mut it = s.split(':').map(|p| p.parse::<u32>().ok());
    let h = it.next()??;
    let m = it.next()??;
    let sec = it.next().unwrap_or(Some(0))?;
    (h < 24 && m < 60 && sec < 60).then_some(h * 3600 + m * 60 + sec)
}

/// Whether `now` lies in the window; a window whose end is before its start
/// crosses midnight.
fn in_range(start: &str, end: &str, now: u32) -> bool {
    let (Some(s), Some(e)) = (parse_hms(start), parse_hms(end)) else {
        return false;
    };
    if s <= e {
        (s..=e).contains(&now)
    } else {
        now >= s || now <= e
    }
}

/// Whether `ip` lies in the network `cidr` (`10.0.0.0/8`, `::1/128`, or a
/// bare address).
pub fn cidr_contains(cidr: &str, ip: IpAddr) -> bool {
    let (addr, bits) = match cidr.trim().split_once('/') {
        Some((a, b)) => (a, b.parse::<u32>().ok()),
        None => (cidr.trim(), None),
    };
    let Ok(net) = addr.parse::<IpAddr>() else {
        return false;
    };
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            let bits = bits.unwrap_or(32).min(32);
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => {
            let bits = bits.unwrap_or(128).min(128);
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

/// The user claims of a JWT already verified at login.
pub fn user_claims(user_jwt: &str) -> Option<UserClaims> {
    jwt::decode_user(user_jwt).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_time_windows() {
        assert!(in_range("08:00:00", "17:00:00", 9 * 3600));
        assert!(!in_range("08:00:00", "17:00:00", 18 * 3600));
        assert!(in_range("22:00:00", "02:00:00", 23 * 3600));
        assert!(in_range("22:00:00", "02:00:00", 3600));
        assert!(!in_range("22:00:00", "02:00:00", 12 * 3600));
        assert!(!in_range("bad", "02:00:00", 0));
        assert!(time_of_day("UTC").is_ok());
        assert!(time_of_day("Europe/Berlin").is_err());
    }

    #[test]
    fn cidrs() {
        let ip = "10.1.2.3".parse().unwrap();
        assert!(cidr_contains("10.0.0.0/8", ip));
        assert!(!cidr_contains("11.0.0.0/8", ip));
        assert!(cidr_contains("10.1.2.3", ip));
        assert!(cidr_contains("0.0.0.0/0", ip));
        assert!(!cidr_contains("::1/128", ip));
        assert!(cidr_contains("::1/128", "::1".parse().unwrap()));
    }

    #[test]
    fn jwt_permissions_convert() {
        let mut p = jwt::Permissions::default();
        assert!(permissions_from_jwt(&p).is_none());
        p.publish.allow = vec!["a.>".into()];
        p.subscribe.deny = vec!["b.* q".into()];
        let c = permissions_from_jwt(&p).unwrap();
        assert!(c.can_publish("a.x"));
        assert!(!c.can_publish("b"));
        let sub = c.subscribe.as_ref().unwrap();
        assert_eq!(sub.deny[0].queue.as_deref(), Some("q"));
    }
}

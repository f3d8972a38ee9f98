//! Content validation of claims, as nats' `Validate(vr)` methods do: what a
//! server or a tool must refuse (blocking), what it should warn about, and
//! time problems (reported separately because a server may load an expired
//! account and fail its users later).
//!
//! Decoding already guarantees signature, roles and JSON structure; this
//! looks inside: subjects, keys in lists, limits against counts, CIDRs,
//! time windows, mapping weights.

use std::fmt;

use super::account::{Account, Export, Import};
use super::claims::{AccountClaims, ActivationClaims, Claims, OperatorClaims, UserClaims};
use super::types::{parse_time_of_day, Permission, Permissions, UserPermissionLimits, NO_LIMIT};
use crate::nkeys::{self, KeyKind};

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// What is wrong.
    pub description: String,
    /// The claim must not be used.
    pub blocking: bool,
    /// An expiry / not-before problem.
    pub time_check: bool,
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.blocking {
            "error"
        } else if self.time_check {
            "time"
        } else {
            "warning"
        };
        write!(f, "{kind}: {}", self.description)
    }
}

/// All findings about one claim.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidationResults {
    /// In the order found.
    pub issues: Vec<Issue>,
}

impl ValidationResults {
    fn error(&mut self, d: impl Into<String>) {
        self.issues.push(Issue {
            description: d.into(),
            blocking: true,
            time_check: false,
        });
    }

    fn warning(&mut self, d: impl Into<String>) {
        self.issues.push(Issue {
            description: d.into(),
            blocking: false,
            time_check: false,
        });
    }

    fn time(&mut self, d: impl Into<String>) {
        self.issues.push(Issue {
            description: d.into(),
            blocking: false,
            time_check: true,
        });
    }

    /// True when nothing was found.
    pub fn is_empty(&self) -> bool {
        self.issues.is_empty()
    }

    /// True when some finding forbids using the claim.
    pub fn is_blocking(&self, include_time_checks: bool) -> bool {
        self.issues
            .iter()
            .any(|i| i.blocking || (include_time_checks && i.time_check))
    }

    /// The blocking findings.
    pub fn errors(&self) -> impl Iterator<Item = &Issue> {
        self.issues.iter().filter(|i| i.blocking)
    }
}

/// Checks a subject as nats' `Subject.Validate`: not empty, no spaces, no
/// empty tokens; plus `>` only as the last token.
pub fn subject_problem(s: &str) -> Option<String> {
    if s.is_empty() {
        return Some("subject cannot be empty".into());
    }
    if s.chars().any(char::is_whitespace) {
        return Some(format!("subject {s:?} cannot have spaces"));
    }
    if s.starts_with('.') || s.ends_with('.') {
        return Some(format!("subject {s:?} cannot start or end with a `.`"));
    }
    if s.contains("..") {
        return Some(format!("subject {s:?} cannot contain consecutive `.`"));
    }
    let tokens: Vec<&str> = s.split('.').collect();
    if let Some(pos) = tokens.iter().position(|t| *t == ">") {
        if pos != tokens.len() - 1 {
            return Some(format!("subject {s:?}: `>` must be the last token"));
        }
    }
    None
}

/// True when `s` has a `*` or `>` token.
pub fn has_wildcards(s: &str) -> bool {
    s.split('.').any(|t| t == "*" || t == ">")
}

fn check_subject(vr: &mut ValidationResults, s: &str) {
    if let Some(p) = subject_problem(s) {
        vr.error(p);
    }
}

fn check_times<N>(vr: &mut ValidationResults, c: &Claims<N>, now: i64) {
    if c.exp > 0 && now > c.exp {
        vr.time("claim is expired");
    }
    if c.nbf > 0 && c.nbf > now {
        vr.time("claim is not yet valid");
    }
}

fn check_permission(vr: &mut ValidationResults, p: &Permission, allow_queue: bool) {
    for entry in p.allow.iter().chain(p.deny.iter()) {
        let parts: Vec<&str> = entry.split(' ').collect();
        match parts.as_slice() {
            [s] => check_subject(vr, s),
            [s, q] => {
                check_subject(vr, s);
                check_subject(vr, q);
                if !allow_queue {
                    vr.error(format!(
                        "permission subject {entry:?} is not allowed to contain a queue"
                    ));
                }
            }
            _ => vr.error(format!(
                "permission subject {entry:?} contains too many spaces"
            )),
        }
    }
}

fn check_permissions(vr: &mut ValidationResults, p: &Permissions) {
    check_permission(vr, &p.subscribe, true);
    check_permission(vr, &p.publish, false);
}

/// Parses `a.b.c.d/n` or an IPv6 CIDR.
fn valid_cidr(s: &str) -> bool {
    let Some((ip, bits)) = s.split_once('/') else {
        return false;
    };
    let Ok(bits) = bits.parse::<u8>() else {
        return false;
    };
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => bits <= 32,
        Ok(std::net::IpAddr::V6(_)) => bits <= 128,
        Err(_) => false,
    }
}

fn check_user_limits(vr: &mut ValidationResults, u: &UserPermissionLimits) {
    check_permissions(vr, &u.permissions);
    for cidr in &u.src {
        if !valid_cidr(cidr) {
            vr.error(format!("invalid cidr {cidr:?} in user src limits"));
        }
    }
    for t in &u.times {
        if t.start.is_empty() {
            vr.error("time ranges start must contain a start");
        } else if parse_time_of_day(&t.start).is_none() {
            vr.error(format!("start in time range is invalid {:?}", t.start));
        }
        if t.end.is_empty() {
            vr.error("time ranges end must contain an end");
        } else if parse_time_of_day(&t.end).is_none() {
            vr.error(format!("end in time range is invalid {:?}", t.end));
        }
    }
    for ct in &u.allowed_connection_types {
        if !super::types::connection_type::ALL.contains(&ct.as_str()) {
            // Newer servers may know more types: warn, do not block.
            vr.warning(format!("unknown connection type {ct:?}"));
        }
    }
}

fn check_export(vr: &mut ValidationResults, e: &Export) {
    check_subject(vr, &e.subject);
    if e.export_type.is_none() {
        vr.error(format!("export {:?} has no type", e.subject));
    }
    if !e.response_type.is_empty() {
        if !e.is_service() {
            vr.error(format!(
                "invalid response type for a stream export: {:?}",
                e.response_type
            ));
        } else if !matches!(e.response_type.as_str(), "Singleton" | "Stream" | "Chunked") {
            vr.error(format!("unknown response type {:?}", e.response_type));
        }
    }
    if let Some(l) = &e.latency {
        if !e.is_service() {
            vr.error("latency tracking only permitted for services");
        }
        if l.sampling != 0 && !(1..=100).contains(&l.sampling) {
            vr.error("sampling percentage needs to be between 1-100");
        }
        check_subject(vr, &l.results);
        if has_wildcards(&l.results) {
            vr.error("results subject can not contain wildcards");
        }
    }
    if e.account_token_position > 0 {
        let tokens: Vec<&str> = e.subject.split('.').collect();
        let pos = e.account_token_position as usize;
        if pos > tokens.len() {
            vr.error(format!(
                "account token position {pos} exceeds length of subject {:?}",
                e.subject
            ));
        } else if tokens[pos - 1] != "*" {
            vr.error(format!(
                "account token position {pos} of subject {:?} must be `*`",
                e.subject
            ));
        }
    }
}

fn check_import(vr: &mut ValidationResults, i: &Import, own_key: &str) {
    check_subject(vr, &i.subject);
    if i.import_type.is_none() {
        vr.error(format!("import {:?} has no type", i.subject));
    }
    if !nkeys::is_valid_public_key(&i.account, KeyKind::Account) {
        vr.error(format!(
            "account to import from {:?} is not a valid account key",
            i.account
        ));
    } else if i.account == own_key {
        vr.error("an account cannot import from itself");
    }
    if !i.local_subject.is_empty() {
        check_subject(vr, &i.local_subject);
        if !i.to.is_empty() {
            vr.error("local_subject and to are mutually exclusive");
        }
    }
    if !i.token.is_empty() {
        match super::claims::decode_activation(&i.token) {
            Err(e) => vr.error(format!(
                "import {:?} has an invalid activation token: {e}",
                i.subject
            )),
            Ok(act) => {
                if act.sub != own_key {
                    vr.error(format!(
                        "activation token of import {:?} is for another account",
                        i.subject
                    ));
                }
                if act.account_id() != i.account {
                    vr.error(format!(
                        "activation token of import {:?} was not issued by the exporting account",
                        i.subject
                    ));
                }
                if let Err(e) = act.check_times(super::claims::now()) {
                    vr.time(format!("activation token of import {:?}: {e}", i.subject));
                }
            }
        }
    }
}

fn check_account_body(vr: &mut ValidationResults, a: &Account, sub: &str) {
    for e in &a.exports {
        check_export(vr, e);
    }
    for i in &a.imports {
        check_import(vr, i, sub);
    }
    // Overlapping service imports from the same account are ambiguous.
    for (n, x) in a.imports.iter().enumerate() {
        for y in &a.imports[n + 1..] {
            if x.is_service()
                && y.is_service()
                && x.account == y.account
                && x.subject == y.subject
                && x.local_subject == y.local_subject
            {
                vr.error(format!("duplicate service import {:?}", x.subject));
            }
        }
    }
    // Same rules as nats (`Account.Validate`): any value but -1 is a limit,
    // even 0 when the limits are absent.
    let lim = &a.limits;
    if lim.account.imports != NO_LIMIT && a.imports.len() as i64 > lim.account.imports {
        vr.error("the account contains more imports than allowed by the operator");
    }
    if lim.account.exports != NO_LIMIT {
        if a.exports.len() as i64 > lim.account.exports {
            vr.error("the account contains more exports than allowed by the operator");
        }
        if !lim.account.wildcard_exports && a.exports.iter().any(|e| has_wildcards(&e.subject)) {
            vr.error("the account contains wildcard exports that are not allowed by the operator");
        }
    }
    if lim.tiered_limits.contains_key("") {
        vr.error("Tiered JetStream Limits can not contain a blank \"\" tier name");
    }
    check_permissions(vr, &a.default_permissions);
    for (k, scope) in a.signing_keys.iter() {
        if !nkeys::is_valid_public_key(k, KeyKind::Account) {
            vr.error(format!("{k:?} is not a valid account signing key"));
        }
        if let Some(s) = scope {
            check_user_limits(vr, &s.template);
        }
    }
    for (subject, targets) in &a.mappings {
        check_subject(vr, subject);
        let mut total: u32 = 0;
        for t in targets {
            check_subject(vr, &t.subject);
            if t.weight > 100 {
                vr.error(format!("mapping weight {} is greater than 100", t.weight));
            }
            if t.cluster.is_empty() {
                total += u32::from(t.weight());
            }
        }
        if total > 100 {
            vr.error(format!(
                "mapping {subject:?} exceeds 100% among all of its mappings"
            ));
        }
    }
    for u in &a.authorization.auth_users {
        if !nkeys::is_valid_public_key(u, KeyKind::User) {
            vr.error(format!("AuthUser {u:?} is not a valid user public key"));
        }
    }
    for acc in &a.authorization.allowed_accounts {
        if acc != "*" && !nkeys::is_valid_public_key(acc, KeyKind::Account) {
            vr.error(format!(
                "AllowedAccount {acc:?} is not a valid account public key"
            ));
        }
    }
    if !a.authorization.xkey.is_empty()
        && !nkeys::is_valid_public_key(&a.authorization.xkey, KeyKind::Curve)
    {
        vr.error(format!(
            "XKey {:?} is not a valid public xkey",
            a.authorization.xkey
        ));
    }
    if let Some(t) = &a.trace {
        check_subject(vr, &t.destination);
        if has_wildcards(&t.destination) {
            vr.error("the account Trace.Destination subject is not a valid publish subject");
        }
        if !(0..=100).contains(&t.sampling) {
            vr.error(
                "the account Trace.Sampling value is not valid, should be in the range [1..100]",
            );
        }
    }
    if !matches!(a.cluster_traffic.as_str(), "" | "system" | "owner") {
        vr.error(format!(
            "unknown cluster traffic option: {:?}",
            a.cluster_traffic
        ));
    }
}

impl OperatorClaims {
    /// Validates content at time `now` (unix seconds).
    pub fn validate(&self, now: i64) -> ValidationResults {
        let mut vr = ValidationResults::default();
        check_times(&mut vr, self, now);
        let o = &self.nats;
        for k in &o.signing_keys {
            if !nkeys::is_valid_public_key(k, KeyKind::Operator) {
                vr.error(format!("{k:?} is not an operator public key"));
            }
        }
        if !o.system_account.is_empty()
            && !nkeys::is_valid_public_key(&o.system_account, KeyKind::Account)
        {
            vr.error(format!(
                "{:?} is not an account public key",
                o.system_account
            ));
        }
        if !o.assert_server_version.is_empty()
            && super::operator::parse_server_version(&o.assert_server_version).is_none()
        {
            vr.error(format!(
                "assert_server_version {:?} is not a valid version",
                o.assert_server_version
            ));
        }
        if !o.account_server_url.is_empty() && !o.account_server_url.contains("://") {
            vr.error(format!(
                "account server url {:?} is not a URL",
                o.account_server_url
            ));
        }
        for u in &o.operator_service_urls {
            let scheme = u.split("://").next().unwrap_or("").to_ascii_lowercase();
            if !u.contains("://") || !matches!(scheme.as_str(), "nats" | "tls" | "ws" | "wss") {
                vr.error(format!(
                    "operator service url {u:?} must use nats, tls, ws or wss"
                ));
            }
        }
        vr
    }
}

impl AccountClaims {
    /// Validates content at time `now`: blocking findings are those that make
    /// nats-server reject the account JWT.
    pub fn validate(&self, now: i64) -> ValidationResults {
        let mut vr = ValidationResults::default();
        check_times(&mut vr, self, now);
        check_account_body(&mut vr, &self.nats, &self.sub);
        if nkeys::is_valid_public_key(&self.iss, KeyKind::Account) && !self.nats.limits.is_empty() {
            vr.warning("self-signed account JWTs shouldn't contain operator limits");
        }
        vr
    }
}

impl UserClaims {
    /// Validates content at time `now`.
    pub fn validate(&self, now: i64) -> ValidationResults {
        let mut vr = ValidationResults::default();
        check_times(&mut vr, self, now);
        check_user_limits(&mut vr, &self.nats.permission_limits);
        if !self.nats.issuer_account.is_empty()
            && !nkeys::is_valid_public_key(&self.nats.issuer_account, KeyKind::Account)
        {
            vr.error("issuer_account is not an account public key");
        }
        vr
    }
}

impl ActivationClaims {
    /// Validates content at time `now`.
    pub fn validate(&self, now: i64) -> ValidationResults {
        let mut vr = ValidationResults::default();
        check_times(&mut vr, self, now);
        check_subject(&mut vr, &self.nats.import_subject);
        if self.nats.import_type.is_none() {
            vr.error("activation has no kind (stream or service)");
        }
        vr
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects() {
        assert_eq!(subject_problem("a.b.*"), None);
        assert_eq!(subject_problem("a.>"), None);
        assert_eq!(subject_problem(">"), None);
        for bad in ["", "a b", ".a", "a.", "a..b", "a.>.b"] {
            assert!(subject_problem(bad).is_some(), "{bad:?}");
        }
        assert!(has_wildcards("a.*.b"));
        assert!(has_wildcards(">"));
        assert!(!has_wildcards("a*.b"));
    }

    #[test]
    fn cidrs() {
        assert!(valid_cidr("10.0.0.0/8"));
        assert!(valid_cidr("::1/128"));
        for bad in ["10.0.0.0", "10.0.0.0/33", "x/8", "::1/129", ""] {
            assert!(!valid_cidr(bad), "{bad}");
        }
    }
}

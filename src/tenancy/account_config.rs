//! The `accounts {}` block: exports, imports and limits of config-file
//! accounts, checked and installed as nats-server does (exports first, then
//! stream imports, then service imports), with its error texts and the file
//! and line of the offending entry. Users of the block are read by the auth
//! pipeline ([`crate::auth`]).

use std::sync::Arc;

use super::account::{Account, AccountLimits, Registry, GLOBAL_ACCOUNT};
use super::imports::{
    Export, ExportAuth, Exports, Forward, ResponseType, ServiceForward, StreamForward,
    DEFAULT_RESPONSE_THRESHOLD,
};
use super::latency::{Sampling, ServiceLatency};
use super::mapping::Mappings;
use super::mapping_config::{parse_map, parse_mappings};
use super::transform::Transform;
use crate::config::{ConfigError, Kind, Map, Options, Pos, Value};
use crate::quota::RateLimit;

/// One import as written in the config.
#[derive(Debug, Clone)]
pub struct ImportDef {
    pub importer: String,
    pub account: String,
    pub subject: String,
    pub stream: bool,
    pub prefix: Option<String>,
    pub to: Option<String>,
    /// Service imports: share requestor details with latency reports.
    pub share: bool,
    pub pos: Pos,
}

/// One account of the block.
#[derive(Debug, Clone)]
pub struct AccountDef {
    pub name: String,
    pub exports: Exports,
    pub limits: AccountLimits,
    /// The account's rate quota (`limits { msgs_per_sec, bytes_per_sec,
    /// burst }`).
    pub rate: RateLimit,
    pub mappings: Option<Arc<Mappings>>,
    /// Where a `jetstream` value enabling JetStream for the account was
    /// written (rnats only validates it; see [`AccountsConfig::apply`]).
    pub jetstream: Option<Pos>,
    pub pos: Pos,
}

/// The parsed block.
#[derive(Debug, Clone, Default)]
pub struct AccountsConfig {
    pub accounts: Vec<AccountDef>,
    pub imports: Vec<ImportDef>,
    /// The top-level `mappings` block: mappings of the global account.
    pub global_mappings: Option<Arc<Mappings>>,
}

/// Keys of an account definition read by the auth pipeline
/// ([`crate::auth`]).
const AUTH_KEYS: &[&str] = &["users", "default_permissions"];

/// Keys of an account definition for nats-server features rnats does not
/// have; refused as not supported rather than silently ignored.
const UNSUPPORTED_KEYS: &[(&str, &str)] = &[
    ("msg_trace", "account message tracing"),
    ("trace_dest", "account message tracing"),
];

impl AccountsConfig {
    /// Reads the `accounts` block of `opts`.
    ///
    /// # Errors
    /// Malformed entries, with file, line and key.
    pub fn from_options(opts: &Options) -> Result<AccountsConfig, ConfigError> {
        let mut cfg = AccountsConfig::default();
        if let Some(m) = &opts.mappings_block {
            cfg.global_mappings = Some(parse_map(m, "mappings")?);
        }
        let Some(block) = &opts.accounts_block else {
            return Ok(cfg);
        };
        for (k, v) in block.iter() {
            let name = k.name.clone();
            if name == GLOBAL_ACCOUNT {
                return Err(ConfigError::at(
                    &k.pos,
                    "accounts",
                    format!("{name:?} is a Reserved Account"),
                ));
            }
            let Kind::Map(m) = &v.kind else {
                return Err(ConfigError::at(
                    &v.pos,
                    "accounts",
                    "Expected map entries for accounts",
                ));
            };
            let mut def = AccountDef {
                name: name.clone(),
                exports: Exports::default(),
                limits: AccountLimits::default(),
                rate: RateLimit::default(),
                mappings: None,
                jetstream: None,
                pos: k.pos.clone(),
            };
            for (key, val) in m.iter() {
                let lk = key.name.to_ascii_lowercase();
                let path = format!("accounts.{name}.{}", key.name);
                match lk.as_str() {
                    "exports" => parse_exports(val, &path, &mut def.exports)?,
                    "imports" => parse_imports(val, &path, &name, &mut cfg.imports)?,
                    "limits" => (def.limits, def.rate) = parse_limits(val, &path)?,
                    "mappings" | "maps" => def.mappings = Some(parse_mappings(val, &path)?),
                    "nkey" => check_account_nkey(val, &path)?,
                    "jetstream" => {
                        def.jetstream =
                            parse_account_jetstream(val, &path)?.then(|| val.pos.clone());
                    }
                    _ if AUTH_KEYS.contains(&lk.as_str()) => {}
                    _ => {
                        if let Some((_, what)) = UNSUPPORTED_KEYS.iter().find(|(k, _)| *k == lk) {
                            return Err(ConfigError::at(
                                &key.pos,
                                &path,
                                format!(
                                    "{:?}: {what} is not supported by this version of rnats",
                                    key.name
                                ),
                            ));
                        }
                        return Err(unknown_field(key, &path));
                    }
                }
            }
            cfg.accounts.push(def);
        }
        cfg.check_export_accounts()?;
        Ok(cfg)
    }

    /// An export restricted to accounts must name defined ones, as
    /// nats-server checks (`"ZZ" account not defined for stream export`).
    fn check_export_accounts(&self) -> Result<(), ConfigError> {
        let defined = |n: &str| self.accounts.iter().any(|d| d.name == n);
        for def in &self.accounts {
            for (exports, what) in [
                (&def.exports.streams, "stream"),
                (&def.exports.services, "service"),
            ] {
                for e in exports {
                    let ExportAuth::Accounts(names) = &e.auth else {
                        continue;
                    };
                    if let Some(missing) = names.iter().find(|n| !defined(n)) {
                        return Err(ConfigError::new(
                            Some(def.pos.clone()),
                            Some(&format!("accounts.{}.exports", def.name)),
                            format!("{missing:?} account not defined for {what} export"),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Creates the accounts in `reg` and installs their exports, limits and
    /// imports; picks the system account.
    ///
    /// # Errors
    /// Imports that are not authorized, refer to unknown accounts or form a
    /// cycle, with nats-server's text.
    pub fn apply(
        &self,
        reg: &Registry,
        opts: &Options,
        operator_mode: bool,
    ) -> Result<(), ConfigError> {
        for def in &self.accounts {
            let acc = reg.get_or_create(&def.name);
            *acc.exports.write() = def.exports.clone();
            *acc.limits.write() = def.limits;
            acc.set_quota(Some(def.rate));
            if let Some(m) = &def.mappings {
                acc.set_mappings(m.clone());
            }
        }
        if let Some(m) = &self.global_mappings {
            reg.get_or_create(GLOBAL_ACCOUNT).set_mappings(m.clone());
        }
        if opts.no_system_account {
            reg.set_system(None);
        } else if operator_mode {
            // The operator's system account is loaded from its JWT.
        } else if let Some(name) = &opts.system_account {
            let Some(acc) = reg.get(name) else {
                // nats-server's words (its lookup fails with
                // `ErrMissingAccount`).
                return Err(ConfigError::new(
                    system_account_pos(opts),
                    Some("system_account"),
                    "error resolving system account: account missing",
                ));
            };
            reg.set_system(Some(acc));
            // nats-server stops at start-up when JetStream is on and the
            // system account enables it.
            let js = self.accounts.iter().find(|d| d.name == *name);
            if let Some(pos) = js.and_then(|d| d.jetstream.as_ref()) {
                if server_jetstream_enabled(opts) {
                    return Err(ConfigError::at(
                        pos,
                        "jetstream",
                        "Not allowed to enable JetStream on the system account",
                    ));
                }
            }
        }
        for imp in self.imports.iter().filter(|i| i.stream) {
            add_stream_import(reg, imp)?;
        }
        for imp in self.imports.iter().filter(|i| !i.stream) {
            add_service_import(reg, imp)?;
        }
        Ok(())
    }
}

/// Where `system_account` (or `system`) was written.
fn system_account_pos(opts: &Options) -> Option<Pos> {
    let raw = opts.raw_config.as_ref()?;
    ["system_account", "system"].iter().find_map(|name| {
        raw.iter()
            .find(|(k, _)| k.name.eq_ignore_ascii_case(name))
            .map(|(k, _)| k.pos.clone())
    })
}

/// Checks the accounts and mappings of `opts` without starting anything:
/// the whole set-up runs against a scratch registry, so `-t` and start-up
/// report the same errors.
///
/// # Errors
/// What [`AccountsConfig::from_options`] or [`AccountsConfig::apply`]
/// would refuse.
pub fn check(opts: &Options) -> Result<(), ConfigError> {
    let operator_mode = crate::trust::TrustConfig::from_options(opts)?.is_some();
    AccountsConfig::from_options(opts)?.apply(&Registry::new(false), opts, operator_mode)
}

/// The check of the `config` fuzz target past parsing, also run on its
/// seeds by `cargo test`: the options mapping, then the accounts, imports
/// and mappings set up on a scratch registry, then a few publishes through
/// the global mappings. Nothing may panic. Operator trust is left out: it
/// reads files named in the config.
#[doc(hidden)]
pub fn fuzz_check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // `include` reads files relative to the working directory; the fuzzer
    // must not wander the file system (or read /dev/zero).
    if text.to_ascii_lowercase().contains("include") {
        return;
    }
    let file = std::path::Path::new("fuzz.conf");
    let Ok(parsed) = crate::config::parser::parse_str_tracked(text, file) else {
        return;
    };
    let Ok((opts, _)) = Options::from_parsed(&parsed, Some(file)) else {
        return;
    };
    let Ok(cfg) = AccountsConfig::from_options(&opts) else {
        return;
    };
    let _ = cfg.apply(&Registry::new(false), &opts, false);
    if let Some(m) = &cfg.global_mappings {
        for subject in ["a", "a.b", "a.b.c.d", "foo", "x.yz", "orders.k1"] {
            let _ = m.select(subject);
        }
    }
}

fn kind(stream: bool) -> &'static str {
    if stream {
        "stream"
    } else {
        "service"
    }
}

fn import_err(imp: &ImportDef, why: impl std::fmt::Display) -> ConfigError {
    ConfigError::at(
        &imp.pos,
        &format!("accounts.{}.imports", imp.importer),
        format!(
            "Error adding {} import {:?}: {why}",
            kind(imp.stream),
            imp.subject
        ),
    )
}

fn accounts_of(
    reg: &Registry,
    imp: &ImportDef,
) -> Result<(Arc<Account>, Arc<Account>), ConfigError> {
    let Some(exporter) = reg.get(&imp.account) else {
        return Err(ConfigError::at(
            &imp.pos,
            &format!("accounts.{}.imports", imp.importer),
            format!(
                "{:?} account not defined for {} import",
                imp.account,
                kind(imp.stream)
            ),
        ));
    };
    let importer = reg.get_or_create(&imp.importer);
    Ok((importer, exporter))
}

/// Installs a stream import: a forward in the exporter on the imported
/// subject, renaming into the importer.
pub fn add_stream_import(reg: &Registry, imp: &ImportDef) -> Result<(), ConfigError> {
    let (importer, exporter) = accounts_of(reg, imp)?;
    let mut plan = ImportPlan::default();
    plan_stream_import(
        &mut plan,
        reg,
        &importer,
        &exporter,
        StreamImport {
            subject: &imp.subject,
            prefix: imp.prefix.as_deref(),
            to: imp.to.as_deref(),
        },
        true,
    )
    .and_then(|()| plan.commit(reg))
    .map_err(|e| import_err(imp, e))
}

/// What a stream import takes: `subject` in the exporter, renamed into the
/// importer with a `prefix` or to a `to` subject (neither: the same).
#[derive(Debug, Clone, Copy)]
pub struct StreamImport<'a> {
    pub subject: &'a str,
    pub prefix: Option<&'a str>,
    pub to: Option<&'a str>,
}

/// Checks a stream import from `exporter` into `importer` and adds it to
/// `plan`. `check_auth` is false when the caller already verified the
/// import (an activation token).
pub fn plan_stream_import(
    plan: &mut ImportPlan,
    reg: &Registry,
    importer: &Arc<Account>,
    exporter: &Arc<Account>,
    import: StreamImport<'_>,
    check_auth: bool,
) -> Result<(), ImportError> {
    let StreamImport {
        subject,
        prefix,
        to,
    } = import;
    if check_auth
        && exporter
            .exports
            .read()
            .stream_for(&importer.name, subject)
            .is_none()
    {
        return Err(ImportError::StreamNotAuthorized);
    }
    let transform = match (prefix, to) {
        (Some(p), _) if !p.is_empty() => Some(Transform::prefix(subject, p).map_err(|e| ImportError::Transform(e.0))?),
        (_, Some(t)) if !t.is_empty() && t != subject => Some(
            Transform::new(subject, t).map_err(|e| {
                ImportError::Transform(format!("failed to create mapping transform for stream import subject from {subject:?} to {t:?}: {e}"))
            })?,
        ),
        _ => None,
    };
    let same = |s: &str, r: &Forward| matches!(r, Forward::Stream(sr) if s == subject && Arc::ptr_eq(&sr.importer, importer));
    let mut duplicate = plan.holds(exporter, same);
    if !plan.replaces(importer) {
        exporter.for_each_forward(|s, r| duplicate |= same(s, r));
    }
    if duplicate {
        return Err(ImportError::DuplicateStream);
    }
    let local = transform
        .as_ref()
        .map_or_else(|| subject.to_owned(), Transform::dest_pattern);
    let mut visited = vec![importer.name.to_string()];
    if stream_forms_cycle(reg, exporter, &local, &mut visited)
        || stream_forms_cycle(reg, exporter, subject, &mut vec![importer.name.to_string()])
    {
        return Err(ImportError::Cycle);
    }
    plan.add(
        exporter,
        subject,
        Forward::Stream(Arc::new(StreamForward {
            importer: importer.clone(),
            transform,
        })),
    );
    Ok(())
}

/// The stream imports of `acc`: (exporting account, subject there, subject
/// in `acc`).
fn stream_imports_of(reg: &Registry, acc: &Arc<Account>) -> Vec<(Arc<Account>, String, String)> {
    let mut out = Vec::new();
    for other in reg.all() {
        other.for_each_forward(|subject, r| {
            if let Forward::Stream(s) = r {
                if Arc::ptr_eq(&s.importer, acc) {
                    let local = s
                        .transform
                        .as_ref()
                        .map_or_else(|| subject.to_owned(), Transform::dest_pattern);
                    out.push((other.clone(), subject.to_owned(), local));
                }
            }
        });
    }
    out
}

/// Whether messages on `subject` exported by `acc` would, through `acc`'s
/// own stream imports, come back from an account already on the path
/// (nats-server's `checkStreamImportsForCycles`).
fn stream_forms_cycle(
    reg: &Registry,
    acc: &Arc<Account>,
    subject: &str,
    visited: &mut Vec<String>,
) -> bool {
    if visited.len() > 64 {
        return true;
    }
    let exports_it = acc
        .exports
        .read()
        .streams
        .iter()
        .any(|e| crate::subject::subject_is_subset(subject, &e.subject));
    if !exports_it {
        return false;
    }
    for (source, remote, local) in stream_imports_of(reg, acc) {
        if !subjects_collide(subject, &local) {
            continue;
        }
        if visited.iter().any(|v| **v == *source.name) {
            return true;
        }
        visited.push(acc.name.to_string());
        let next = if crate::subject::subject_is_subset(&local, subject) {
            remote
        } else {
            subject.to_owned()
        };
        if stream_forms_cycle(reg, &source, &next, visited) {
            return true;
        }
    }
    false
}

/// Installs a service import: a forward in the importer on its local subject,
/// forwarding into the exporter.
pub fn add_service_import(reg: &Registry, imp: &ImportDef) -> Result<(), ConfigError> {
    let (importer, exporter) = accounts_of(reg, imp)?;
    let local = imp.to.clone().unwrap_or_else(|| imp.subject.clone());
    let mut plan = ImportPlan::default();
    plan_service_import(
        &mut plan,
        &importer,
        &exporter,
        (&local, &imp.subject),
        true,
        imp.share,
    )
    .and_then(|()| plan.commit(reg))
    .map_err(|e| import_err(imp, e))
}

/// Checks and installs a service import: requests published on `local` in
/// `importer` go to `remote` in `exporter`.
pub fn plan_service_import(
    plan: &mut ImportPlan,
    importer: &Arc<Account>,
    exporter: &Arc<Account>,
    (local, remote): (&str, &str),
    check_auth: bool,
    share: bool,
) -> Result<(), ImportError> {
    if !crate::subject::is_valid_subject(local) || !crate::subject::is_valid_subject(remote) {
        return Err(ImportError::InvalidSubject);
    }
    let (response_type, response_threshold, latency) = {
        let ex = exporter.exports.read();
        let found = if check_auth {
            ex.service_for(&importer.name, remote)
        } else {
            ex.service_covering(remote)
        };
        match found {
            Some(e) => (e.response_type, e.response_threshold, e.latency.clone()),
            None if check_auth => return Err(ImportError::ServiceNotAuthorized),
            None => (ResponseType::Singleton, DEFAULT_RESPONSE_THRESHOLD, None),
        }
    };
    let mut previous = None;
    let mut find = |s: &str, r: &Forward| {
        if let Forward::Service(sr) = r {
            if s == local && previous.is_none() {
                previous = Some(sr.exporter.name.to_string());
            }
        }
    };
    if !plan.replaces(importer) {
        importer.for_each_forward(&mut find);
    }
    for (owner, s, r) in &plan.entries {
        if Arc::ptr_eq(owner, importer) {
            find(s, r);
        }
    }
    if let Some(acc) = previous {
        return Err(ImportError::DuplicateService {
            local: local.to_owned(),
            account: acc,
            remote: remote.to_owned(),
        });
    }
    if forms_cycle(exporter, remote, &mut vec![importer.name.to_string()]) {
        return Err(ImportError::Cycle);
    }
    let transform = if local == remote {
        None
    } else {
        // nats-server builds this transform from the exporter's subject to
        // the local one and reverses it; its errors name that direction.
        let refused = |e: super::transform::TransformError| {
            ImportError::Transform(format!(
                "failed to create mapping transform for service import subject from {local:?} to {remote:?}: {e}"
            ))
        };
        if !crate::subject::is_literal(remote) {
            Transform::new(remote, local).map_err(refused)?;
        }
        Some(Transform::new(local, remote).map_err(refused)?)
    };
    plan.add(
        importer,
        local,
        Forward::Service(Arc::new(ServiceForward {
            exporter: exporter.clone(),
            transform,
            response_type,
            response_threshold,
            latency,
            share,
            automatic: plan.automatic,
        })),
    );
    Ok(())
}

/// Why an import cannot be installed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    #[error("stream import not authorized")]
    StreamNotAuthorized,
    #[error("service import not authorized")]
    ServiceNotAuthorized,
    /// The exporter's claims export nothing covering the import.
    #[error("import not authorized")]
    NotExported,
    /// The exporter's claims are not loaded.
    #[error("exporter unknown")]
    ExporterUnknown,
    /// The activation token is missing, foreign, expired, revoked or does
    /// not cover the import.
    #[error("{0}")]
    Activation(String),
    #[error("import forms a cycle")]
    Cycle,
    #[error("stream import already exists")]
    DuplicateStream,
    #[error("Duplicate service import subject {local:?}, previously used in import for account {account:?}, subject {remote:?}")]
    DuplicateService {
        local: String,
        account: String,
        remote: String,
    },
    /// nats-server's `ErrInvalidSubject`.
    #[error("sublist: invalid subject")]
    InvalidSubject,
    /// The renaming the import asks for is not a valid transform.
    #[error("{0}")]
    Transform(String),
    /// A forward table refused a subject.
    #[error("{0}")]
    Forward(String),
}

/// Import forwards checked and waiting to be installed together, so the
/// tables they go into change in one step each ([`Account::edit_forwards`]):
/// re-applied claims replace an account's imports without a moment in
/// which neither the old nor the new ones deliver.
#[derive(Default)]
pub struct ImportPlan {
    /// The importer whose own imports this plan replaces (claims applied
    /// again); `None` adds to what is there.
    replacing: Option<Arc<Account>>,
    /// Forwards marked as the server's own (see [`ServiceForward::automatic`]).
    automatic: bool,
    /// (account whose table gets it, subject, forward).
    entries: Vec<(Arc<Account>, Box<str>, Forward)>,
}

impl ImportPlan {
    /// A plan that replaces every import of `importer`.
    pub fn replacing(importer: &Arc<Account>) -> ImportPlan {
        ImportPlan {
            replacing: Some(importer.clone()),
            ..ImportPlan::default()
        }
    }

    /// A plan for the imports the server gives every account.
    pub fn automatic() -> ImportPlan {
        ImportPlan {
            automatic: true,
            ..ImportPlan::default()
        }
    }

    fn replaces(&self, acc: &Arc<Account>) -> bool {
        self.replacing.as_ref().is_some_and(|r| Arc::ptr_eq(r, acc))
    }

    fn holds(&self, owner: &Arc<Account>, mut f: impl FnMut(&str, &Forward) -> bool) -> bool {
        self.entries
            .iter()
            .any(|(o, s, r)| Arc::ptr_eq(o, owner) && f(s, r))
    }

    fn add(&mut self, owner: &Arc<Account>, subject: &str, route: Forward) {
        self.entries.push((owner.clone(), subject.into(), route));
    }

    /// Whether `r`, in some account's table, is one of the imports of the
    /// account this plan replaces.
    fn is_replaced(&self, r: &Forward) -> bool {
        let Some(importer) = &self.replacing else {
            return false;
        };
        match r {
            Forward::Stream(s) => Arc::ptr_eq(&s.importer, importer),
            _ => false,
        }
    }

    /// Installs the planned forwards: each table that changes is edited once,
    /// dropping the replaced imports and adding the new ones in one swap.
    ///
    /// # Errors
    /// A subject a forward table refuses (that table stays as it was).
    pub fn commit(self, reg: &Registry) -> Result<(), ImportError> {
        let mut owners: Vec<Arc<Account>> = Vec::new();
        if let Some(importer) = &self.replacing {
            owners = reg.all();
            if !owners.iter().any(|o| Arc::ptr_eq(o, importer)) {
                owners.push(importer.clone());
            }
        }
        for (o, _, _) in &self.entries {
            if !owners.iter().any(|x| Arc::ptr_eq(x, o)) {
                owners.push(o.clone());
            }
        }
        let mut result = Ok(());
        for owner in owners {
            let own_imports = self.replaces(&owner);
            let mut touched = self.entries.iter().any(|(o, _, _)| Arc::ptr_eq(o, &owner));
            if !touched {
                owner.for_each_forward(|_, r| touched |= self.is_replaced(r));
            }
            if !touched && !own_imports {
                continue;
            }
            let edit = owner.edit_forwards(|list| {
                list.retain(|(_, r)| {
                    let own = own_imports && matches!(r, Forward::Service(s) if !s.automatic);
                    !own && !self.is_replaced(r)
                });
                for (o, s, r) in &self.entries {
                    if Arc::ptr_eq(o, &owner) {
                        list.push((s.clone(), r.clone()));
                    }
                }
            });
            if let Err(e) = edit {
                result = Err(ImportError::Forward(e.to_string()));
            }
        }
        result
    }
}

/// Checks and installs one service import on its own (the server's
/// automatic imports use [`ImportPlan::automatic`]).
///
/// # Errors
/// Why the import is refused.
pub fn install_service_import(
    plan: ImportPlan,
    reg: &Registry,
    importer: &Arc<Account>,
    exporter: &Arc<Account>,
    local: &str,
    remote: &str,
) -> Result<(), ImportError> {
    let mut plan = plan;
    plan_service_import(&mut plan, importer, exporter, (local, remote), false, false)?;
    plan.commit(reg)
}

/// Whether a request on `subject` in `acc` would, through `acc`'s own
/// service imports, reach an account already on the path.
fn forms_cycle(acc: &Arc<Account>, subject: &str, visited: &mut Vec<String>) -> bool {
    if visited.len() > 64 {
        return true;
    }
    let mut next = Vec::new();
    acc.for_each_forward(|local, r| {
        if let Forward::Service(s) = r {
            if subjects_collide(subject, local) {
                next.push((s.exporter.clone(), local.to_owned(), s.transform.clone()));
            }
        }
    });
    for (exporter, local, transform) in next {
        if visited.iter().any(|v| **v == *exporter.name) {
            return true;
        }
        visited.push(acc.name.to_string());
        let remote = match &transform {
            Some(t) => t.apply(subject).unwrap_or_else(|| t.dest_pattern()),
            None => local,
        };
        if forms_cycle(&exporter, &remote, visited) {
            return true;
        }
    }
    false
}

/// Whether some subject matches both patterns.
pub fn subjects_collide(a: &str, b: &str) -> bool {
    let ta: Vec<&str> = a.split('.').collect();
    let tb: Vec<&str> = b.split('.').collect();
    let (mut i, mut j) = (0, 0);
    while i < ta.len() && j < tb.len() {
        if ta[i] == ">" || tb[j] == ">" {
            return true;
        }
        if ta[i] != "*" && tb[j] != "*" && ta[i] != tb[j] {
            return false;
        }
        i += 1;
        j += 1;
    }
    i == ta.len() && j == tb.len()
}

fn want_string<'a>(v: &'a Value, key: &str, what: &str) -> Result<&'a str, ConfigError> {
    match &v.kind {
        Kind::String(s) => Ok(s),
        _ => Err(ConfigError::at(
            &v.pos,
            key,
            format!("Expected {what} to be string"),
        )),
    }
}

/// A boolean where nats-server panics on anything else (`share`,
/// `allow_trace`).
fn want_bool(v: &Value, key: &str, what: &str) -> Result<bool, ConfigError> {
    match v.kind {
        Kind::Bool(b) => Ok(b),
        _ => Err(ConfigError::at(
            &v.pos,
            key,
            format!("Expected {what} to be a boolean"),
        )),
    }
}

/// nats-server's text for a key it does not know.
fn unknown_field(k: &crate::config::Key, key: &str) -> ConfigError {
    ConfigError::at(&k.pos, key, format!("unknown field {:?}", k.name))
}

/// nats-server's `Expected WHAT, got TYPE` for a value of the wrong type,
/// with the Go type name.
fn wrong_go_type(v: &Value, key: &str, what: &str) -> ConfigError {
    ConfigError::at(&v.pos, key, format!("{what}, got {}", v.kind.go_type()))
}

fn parse_exports(v: &Value, key: &str, out: &mut Exports) -> Result<(), ConfigError> {
    let Kind::Array(items) = &v.kind else {
        return Err(wrong_go_type(v, key, "Exports should be an array"));
    };
    for item in items {
        let Kind::Map(m) = &item.kind else {
            return Err(wrong_go_type(
                item,
                key,
                "Export Items should be a map with type entry",
            ));
        };
        parse_export(m, item, key, out)?;
    }
    Ok(())
}

/// One export. Directives are checked in the order written, as
/// nats-server does (`{response: stream, stream: foo}` is refused at
/// `stream` for the response directive seen before it).
fn parse_export(m: &Map, item: &Value, key: &str, out: &mut Exports) -> Result<(), ConfigError> {
    let mut subject: Option<(bool, String)> = None;
    let mut auth = ExportAuth::Public;
    let mut response_type: Option<(ResponseType, &Pos)> = None;
    let mut threshold = None;
    let mut latency: Option<(ServiceLatency, &Pos)> = None;
    let mut allow_trace: Option<&Pos> = None;
    let mut token_position = 0;
    let is_stream = |subject: &Option<(bool, String)>| matches!(subject, Some((true, _)));
    let on_non_service = |what: &str, pos: &Pos| {
        ConfigError::at(
            pos,
            key,
            format!("Detected {what} directive on non-service"),
        )
    };
    for (k, v) in m.iter() {
        match k.name.to_ascii_lowercase().as_str() {
            "stream" | "service" => {
                let stream = k.name.eq_ignore_ascii_case("stream");
                if subject.is_some() {
                    return Err(ConfigError::at(
                        &v.pos,
                        key,
                        format!(
                            "Detected {} {} but already saw a {}",
                            kind(stream),
                            v.kind.go_quoted(),
                            kind(!stream)
                        ),
                    ));
                }
                if stream {
                    if let Some((_, pos)) = &response_type {
                        return Err(on_non_service("response", pos));
                    }
                    if let Some((_, pos)) = &latency {
                        return Err(on_non_service("latency", pos));
                    }
                    if let Some(pos) = allow_trace {
                        return Err(on_non_service("allow_trace", pos));
                    }
                }
                let Kind::String(s) = &v.kind else {
                    return Err(wrong_go_type(
                        v,
                        key,
                        &format!("Expected {} name to be string", kind(stream)),
                    ));
                };
                if !crate::subject::is_valid_subject(s) {
                    return Err(ConfigError::at(
                        &v.pos,
                        key,
                        format!(
                            "Error adding {} export {s:?}: invalid subject",
                            kind(stream)
                        ),
                    ));
                }
                subject = Some((stream, s.clone()));
            }
            "accounts" => {
                let Kind::Array(names) = &v.kind else {
                    return Err(ConfigError::at(
                        &v.pos,
                        key,
                        "Expected accounts to be an array",
                    ));
                };
                let mut list = Vec::new();
                for n in names {
                    list.push(want_string(n, key, "account name")?.to_owned());
                }
                auth = ExportAuth::Accounts(list);
            }
            "response" | "response_type" => {
                if response_type.is_some() {
                    return Err(ConfigError::at(
                        &v.pos,
                        key,
                        "Duplicate response type definition",
                    ));
                }
                let Kind::String(s) = &v.kind else {
                    return Err(wrong_go_type(v, key, "Expected response type to be string"));
                };
                let rt = ResponseType::parse(s).ok_or_else(|| {
                    ConfigError::at(&v.pos, key, format!("Unknown response type: {s:?}"))
                })?;
                if is_stream(&subject) {
                    return Err(on_non_service("response", &v.pos));
                }
                response_type = Some((rt, &v.pos));
            }
            "threshold" | "response_threshold" | "response_max_time" | "response_time" => {
                if threshold.is_some() {
                    return Err(ConfigError::at(
                        &v.pos,
                        key,
                        "Duplicate response threshold detected",
                    ));
                }
                const WHAT: &str = "Expected response threshold to be a parseable time duration";
                let d = match &v.kind {
                    // An unquoted `5s` is a string to nats-server.
                    Kind::Duration(d) => *d,
                    Kind::String(s) => crate::config::parser::parse_go_duration(s)
                        .map_err(|_| ConfigError::at(&v.pos, key, format!("{WHAT}, got {s:?}")))?,
                    _ => return Err(wrong_go_type(v, key, WHAT)),
                };
                if is_stream(&subject) {
                    return Err(on_non_service("response", &v.pos));
                }
                threshold = Some(d);
            }
            "account_token_position" => {
                // nats-server panics on anything but a non-negative integer.
                match v.kind {
                    Kind::Integer(n) if n >= 0 => token_position = n as usize,
                    Kind::Integer(n) => {
                        return Err(ConfigError::at(
                            &v.pos,
                            key,
                            format!(
                                "account_token_position: expected a non-negative integer, got {n}"
                            ),
                        ))
                    }
                    _ => {
                        return Err(ConfigError::wrong_type(
                            &v.pos,
                            "account_token_position",
                            "an integer",
                            &v.kind,
                        ))
                    }
                }
            }
            "latency" => {
                let l = parse_latency(v, key)?;
                if is_stream(&subject) {
                    return Err(on_non_service("latency", &v.pos));
                }
                latency = Some((l, &v.pos));
            }
            "allow_trace" => {
                // Validated only: rnats does not trace messages.
                want_bool(v, key, "allow_trace")?;
                if is_stream(&subject) {
                    return Err(on_non_service("allow_trace", &v.pos));
                }
                allow_trace = Some(&v.pos);
            }
            _ => return Err(unknown_field(k, key)),
        }
    }
    let Some((stream, subject)) = subject else {
        return Err(ConfigError::at(
            &item.pos,
            key,
            "Export Items should be a map with type entry",
        ));
    };
    if token_position > 0 {
        // nats-server's `setExportAuth`: the position must hold a `*`.
        let tokens: Vec<&str> = subject.split('.').collect();
        if tokens.get(token_position - 1) != Some(&"*") {
            return Err(ConfigError::at(
                &item.pos,
                key,
                format!(
                    "Error adding {} export {subject:?}: sublist: invalid subject",
                    kind(stream)
                ),
            ));
        }
        auth = ExportAuth::TokenPosition(token_position);
    }
    let response_type = response_type.map(|(rt, _)| rt).unwrap_or_default();
    let latency = latency.map(|(l, _)| l);
    if let Some(l) = &latency {
        let refuse = |why: &str| {
            ConfigError::at(
                &item.pos,
                key,
                format!(
                    "Error adding service latency sampling for {subject:?} on subject {:?}: {why}",
                    l.subject
                ),
            )
        };
        // Results must not loop back into a service of the account.
        let is_service = |s: &str| crate::subject::subject_is_subset(&l.subject, s);
        if !crate::subject::is_valid_literal_subject(&l.subject)
            || is_service(&subject)
            || out.services.iter().any(|e| is_service(&e.subject))
        {
            return Err(refuse("invalid publish subject"));
        }
        if response_type != ResponseType::Singleton {
            return Err(refuse("bad service response type"));
        }
    }
    let export = Export {
        subject,
        auth,
        response_type,
        response_threshold: threshold.unwrap_or(DEFAULT_RESPONSE_THRESHOLD),
        latency: latency.map(Arc::new),
    };
    if stream {
        out.streams.push(export);
    } else {
        out.services.push(export);
    }
    Ok(())
}

/// `latency: "subject"` or `latency { sampling: 1..100 | "50%" | "headers",
/// subject }`, with nats-server's texts.
fn parse_latency(v: &Value, key: &str) -> Result<ServiceLatency, ConfigError> {
    let m = match &v.kind {
        Kind::String(s) => {
            return Ok(ServiceLatency {
                sampling: Sampling::DEFAULT,
                subject: s.clone(),
            })
        }
        Kind::Map(m) => m,
        other => {
            return Err(ConfigError::at(
                &v.pos,
                key,
                format!(
                    "Expected latency entry to be a map/struct or string, got {}",
                    other.go_type()
                ),
            ))
        }
    };
    let mut sampling = Sampling::DEFAULT;
    if let Some(s) = m.get("sampling") {
        let n = match &s.kind {
            Kind::Integer(n) => *n,
            Kind::String(t) if t.trim().eq_ignore_ascii_case("headers") => 0,
            Kind::String(t) => t.trim_end_matches('%').parse::<i64>().map_err(|_| {
                ConfigError::at(
                    &s.pos,
                    key,
                    format!(
                        "Failed to parse latency sample: strconv.Atoi: parsing {:?}: invalid syntax",
                        t.trim_end_matches('%')
                    ),
                )
            })?,
            other => {
                return Err(ConfigError::at(
                    &s.pos,
                    key,
                    format!(
                        "Expected latency sample to be a string or map/struct, got {}",
                        other.go_type()
                    ),
                ))
            }
        };
        let headers =
            matches!(&s.kind, Kind::String(t) if t.trim().eq_ignore_ascii_case("headers"));
        sampling = if headers {
            Sampling::Headers
        } else if (1..=100).contains(&n) {
            Sampling::Percent(n as u8)
        } else {
            return Err(ConfigError::at(
                &s.pos,
                key,
                "bad sampling percentage, should be 1-100",
            ));
        };
    }
    let Some(subject) = m.get("subject") else {
        return Err(ConfigError::at(
            &v.pos,
            key,
            "Latency subject required, but missing",
        ));
    };
    let Kind::String(subject) = &subject.kind else {
        return Err(ConfigError::at(
            &subject.pos,
            key,
            "Expected latency subject to be a string, got string",
        ));
    };
    Ok(ServiceLatency {
        sampling,
        subject: subject.clone(),
    })
}

fn parse_imports(
    v: &Value,
    key: &str,
    importer: &str,
    out: &mut Vec<ImportDef>,
) -> Result<(), ConfigError> {
    let Kind::Array(items) = &v.kind else {
        return Err(wrong_go_type(v, key, "Imports should be an array"));
    };
    let first = out.len();
    for item in items {
        let Kind::Map(m) = &item.kind else {
            return Err(wrong_go_type(
                item,
                key,
                "Import Items should be a map with type entry",
            ));
        };
        let def = parse_import(m, item, key, importer)?;
        // nats-server refuses a second service import of the same local
        // subject from the same account while reading the list.
        if !def.stream {
            let local = |d: &ImportDef| d.to.clone().unwrap_or_else(|| d.subject.clone());
            if let Some(dup) = out[first..]
                .iter()
                .find(|d| !d.stream && d.account == def.account && local(d) == local(&def))
            {
                return Err(ConfigError::at(
                    &item.pos,
                    key,
                    format!(
                        "Duplicate service import subject {:?}, previously used in import for account {:?}, subject {:?}",
                        local(&def),
                        dup.account,
                        dup.subject
                    ),
                ));
            }
        }
        out.push(def);
    }
    Ok(())
}

/// One import. Directives are checked in the order written, as
/// nats-server does.
fn parse_import(
    m: &Map,
    item: &Value,
    key: &str,
    importer: &str,
) -> Result<ImportDef, ConfigError> {
    let mut def: Option<ImportDef> = None;
    let mut prefix = None;
    let mut to = None;
    let mut share = false;
    let mut allow_trace: Option<&Pos> = None;
    for (k, v) in m.iter() {
        match k.name.to_ascii_lowercase().as_str() {
            "stream" | "service" => {
                let stream = k.name.eq_ignore_ascii_case("stream");
                if def.is_some() {
                    return Err(ConfigError::at(
                        &v.pos,
                        key,
                        format!(
                            "Detected {} but already saw a {}",
                            kind(stream),
                            kind(!stream)
                        ),
                    ));
                }
                if let (false, Some(pos)) = (stream, allow_trace) {
                    return Err(ConfigError::at(
                        pos,
                        key,
                        "Detected allow_trace directive on a non-stream",
                    ));
                }
                let Kind::Map(spec) = &v.kind else {
                    let what = if stream { "Stream" } else { "Service" };
                    return Err(wrong_go_type(
                        v,
                        key,
                        &format!("{what} entry should be an account map"),
                    ));
                };
                let (account, subject) = parse_import_source(spec, key)?;
                if account.is_empty() || subject.is_empty() {
                    return Err(ConfigError::at(
                        &v.pos,
                        key,
                        "Expect an account name and a subject",
                    ));
                }
                def = Some(ImportDef {
                    importer: importer.to_owned(),
                    account,
                    subject,
                    stream,
                    prefix: None,
                    to: None,
                    share: false,
                    pos: item.pos.clone(),
                });
            }
            "prefix" => prefix = Some(want_string(v, key, "prefix")?.to_owned()),
            "to" => to = Some(want_string(v, key, "to")?.to_owned()),
            "share" => share = want_bool(v, key, "share")?,
            "allow_trace" => {
                if def.as_ref().is_some_and(|d| !d.stream) {
                    return Err(ConfigError::at(
                        &v.pos,
                        key,
                        "Detected allow_trace directive on a non-stream",
                    ));
                }
                // Validated only: rnats does not trace messages.
                want_bool(v, key, "allow_trace")?;
                allow_trace = Some(&v.pos);
            }
            _ => return Err(unknown_field(k, key)),
        }
    }
    let Some(mut def) = def else {
        return Err(ConfigError::at(
            &item.pos,
            key,
            "Import Items should be a map with type entry",
        ));
    };
    if def.stream && prefix.is_some() && to.is_some() {
        return Err(ConfigError::at(
            &item.pos,
            key,
            "Stream import can not have a 'prefix' and a 'to' property",
        ));
    }
    if !def.stream && prefix.is_some() {
        return Err(ConfigError::at(
            &item.pos,
            key,
            "Detected prefix directive on a service import",
        ));
    }
    if def.stream && share {
        return Err(ConfigError::at(
            &item.pos,
            key,
            "Detected share directive on non-service",
        ));
    }
    def.prefix = prefix;
    def.to = to;
    def.share = share;
    Ok(def)
}

/// The `{account, subject}` map of an import (nats-server's
/// `parseAccount`); a missing entry is empty.
fn parse_import_source(spec: &Map, key: &str) -> Result<(String, String), ConfigError> {
    let (mut account, mut subject) = (String::new(), String::new());
    for (k, v) in spec.iter() {
        let slot = match k.name.to_ascii_lowercase().as_str() {
            "account" => &mut account,
            "subject" => &mut subject,
            _ => return Err(unknown_field(k, key)),
        };
        // nats-server panics on anything but a string.
        *slot = want_string(v, key, &k.name)?.to_owned();
    }
    Ok((account, subject))
}

fn parse_limits(v: &Value, key: &str) -> Result<(AccountLimits, RateLimit), ConfigError> {
    let Kind::Map(m) = &v.kind else {
        return Err(ConfigError::at(
            &v.pos,
            key,
            format!(
                "Expected account limits to be a map/struct, got {}",
                v.kind.go_value()
            ),
        ));
    };
    let mut l = AccountLimits::default();
    let mut rate = RateLimit::default();
    for (k, v) in m.iter() {
        if crate::quota::is_rate_key(&k.name) {
            crate::quota::parse_rate_key(&mut rate, &k.name, v, &format!("{key}.{}", k.name))?;
            continue;
        }
        let Kind::Integer(n) = v.kind else {
            return Err(ConfigError::at(
                &v.pos,
                key,
                format!("Expected {:?} to be an integer", k.name),
            ));
        };
        match k.name.to_ascii_lowercase().as_str() {
            "max_connections" | "max_conn" => l.max_connections = n,
            "max_subscriptions" | "max_subs" => l.max_subscriptions = n,
            "max_payload" | "max_pay" => l.max_payload = n,
            "max_leafnodes" | "max_leafs" => l.max_leafnodes = n,
            other => {
                return Err(ConfigError::at(
                    &k.pos,
                    key,
                    format!("Unknown field {other:?} parsing account limits"),
                ))
            }
        }
    }
    Ok((l, rate))
}

/// An account's `nkey`, checked as nats-server checks it.
fn check_account_nkey(v: &Value, key: &str) -> Result<(), ConfigError> {
    match &v.kind {
        Kind::String(nk)
            if crate::nkeys::is_valid_public_key(nk, crate::nkeys::KeyKind::Account) =>
        {
            Ok(())
        }
        other => Err(ConfigError::at(
            &v.pos,
            key,
            format!(
                "Not a valid public nkey for an account: {}",
                other.go_quoted()
            ),
        )),
    }
}

/// JetStream limits that must be integers (sizes and counts).
const JS_SIZE_KEYS: &[&str] = &[
    "max_memory",
    "max_mem",
    "mem",
    "memory",
    "max_store",
    "max_file",
    "max_disk",
    "store",
    "disk",
    "max_streams",
    "streams",
    "max_consumers",
    "consumers",
    "mem_max_stream_bytes",
    "memory_max_stream_bytes",
    "disk_max_stream_bytes",
    "store_max_stream_bytes",
    "max_ack_pending",
];

/// JetStream limits that must be booleans.
const JS_BOOL_KEYS: &[&str] = &["max_bytes_required", "max_stream_bytes", "max_bytes"];

/// An account's `jetstream` value, checked with nats-server's texts
/// (`parseJetStreamForAccount`). rnats has no JetStream: the value is only
/// validated. Returns whether it enables JetStream for the account.
fn parse_account_jetstream(v: &Value, key: &str) -> Result<bool, ConfigError> {
    let m = match &v.kind {
        Kind::Bool(b) => return Ok(*b),
        Kind::String(s) => {
            return match s.to_ascii_lowercase().as_str() {
                "enabled" | "enable" => Ok(true),
                "disabled" | "disable" => Ok(false),
                _ => Err(ConfigError::at(
                    &v.pos,
                    key,
                    format!("Expected 'enabled' or 'disabled' for string value, got '{s}'"),
                )),
            }
        }
        Kind::Map(m) => m,
        _ => {
            return Err(wrong_go_type(
                v,
                key,
                "Expected map, bool or string to define JetStream",
            ))
        }
    };
    for (k, val) in m.iter() {
        let lower = k.name.to_ascii_lowercase();
        let expected = |what: &str| {
            ConfigError::at(
                &val.pos,
                key,
                format!(
                    "Expected {what} for {:?}, got {}",
                    k.name,
                    val.kind.go_value()
                ),
            )
        };
        match (lower.as_str(), &val.kind) {
            (l, Kind::Integer(_)) if JS_SIZE_KEYS.contains(&l) => {}
            (l, _) if JS_SIZE_KEYS.contains(&l) => return Err(expected("a parseable size")),
            (l, Kind::Bool(_)) if JS_BOOL_KEYS.contains(&l) => {}
            (l, _) if JS_BOOL_KEYS.contains(&l) => return Err(expected("a parseable bool")),
            ("cluster_traffic", Kind::String(s))
                if matches!(s.as_str(), "system" | "owner" | "") => {}
            ("cluster_traffic", Kind::String(_)) => {
                return Err(expected("'system' or 'owner' string value"))
            }
            ("cluster_traffic", _) => {
                return Err(expected("either 'system' or 'owner' string value"))
            }
            _ => return Err(unknown_field(k, key)),
        }
    }
    Ok(true)
}

/// Whether the top-level `jetstream` option enables JetStream, as
/// nats-server reads it.
fn server_jetstream_enabled(opts: &Options) -> bool {
    let Some(v) = opts.raw_config.as_ref().and_then(|m| m.get("jetstream")) else {
        return false;
    };
    match &v.kind {
        Kind::Bool(b) => *b,
        Kind::String(s) => matches!(s.to_ascii_lowercase().as_str(), "enabled" | "enable"),
        Kind::Map(m) => !["enable", "enabled"]
            .iter()
            .any(|k| matches!(m.get(k).map(|v| &v.kind), Some(Kind::Bool(false)))),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::time::Duration;

    fn opts(src: &str) -> Options {
        let parsed = crate::config::parser::parse_str_tracked(src, Path::new("t.conf")).unwrap();
        Options::from_parsed(&parsed, Some(Path::new("t.conf")))
            .unwrap()
            .0
    }

    fn apply(src: &str) -> Result<Registry, String> {
        let o = opts(src);
        let cfg = AccountsConfig::from_options(&o).map_err(|e| e.to_string())?;
        let reg = Registry::new(true);
        cfg.apply(&reg, &o, false).map_err(|e| e.to_string())?;
        Ok(reg)
    }

    #[test]
    fn exports_and_imports_install_forwards() {
        let reg = apply(
            r#"accounts {
              A: { exports: [ {stream: "events.>"}, {service: "svc.>", response_type: stream, threshold: "5s"} ] }
              B: { imports: [ {stream: {account: A, subject: "events.>"}, prefix: p},
                              {service: {account: A, subject: "svc.echo"}, to: "echo"} ] }
            }"#,
        )
        .unwrap();
        let a = reg.get("A").unwrap();
        let b = reg.get("B").unwrap();
        assert!(a.has_forwards() && b.has_forwards());
        assert_eq!(a.forwards().match_subject("events.x").psubs.len(), 1);
        match &b.forwards().match_subject("echo").psubs[0] {
            Forward::Service(s) => {
                assert_eq!(s.response_type, ResponseType::Stream);
                assert_eq!(s.response_threshold, Duration::from_secs(5));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn refusals_use_nats_server_texts() {
        let e = apply(
            r#"accounts { A: { exports: [ {stream: "x", accounts: [B]} ] }, B: {}, C: { imports: [ {stream: {account: A, subject: x}} ] } }"#,
        )
        .unwrap_err();
        assert!(
            e.contains("Error adding stream import \"x\": stream import not authorized"),
            "{e}"
        );
        assert!(e.contains("t.conf:"), "{e}");
        let e = apply(r#"accounts { B: { imports: [ {service: {account: NOPE, subject: x}} ] } }"#)
            .unwrap_err();
        assert!(
            e.contains("\"NOPE\" account not defined for service import"),
            "{e}"
        );
        let e = apply(r#"accounts { "$G": {} }"#).unwrap_err();
        assert!(e.contains("Reserved Account"), "{e}");
        let e = apply(r#"accounts { A: { limits: { max_bogus: 1 } } }"#).unwrap_err();
        assert!(
            e.contains("Unknown field \"max_bogus\" parsing account limits"),
            "{e}"
        );
    }

    #[test]
    fn service_import_cycles_are_refused() {
        let e = apply(
            r#"accounts {
              A: { exports: [ {service: "q"} ], imports: [ {service: {account: B, subject: q}} ] }
              B: { exports: [ {service: "q"} ], imports: [ {service: {account: A, subject: q}} ] }
            }"#,
        )
        .unwrap_err();
        assert!(e.contains("import forms a cycle"), "{e}");
    }

    #[test]
    fn jetstream_is_validated_and_refused_only_for_a_system_account_under_jetstream() {
        let cfg = AccountsConfig::from_options(&opts(
            "accounts { A { jetstream: { max_mem: 1G, cluster_traffic: owner } }, B { jetstream: disable } }",
        ))
        .unwrap();
        assert!(cfg.accounts[0].jetstream.is_some());
        assert!(cfg.accounts[1].jetstream.is_none());
        assert!(apply("system_account: S\naccounts { S { jetstream: true } }").is_ok());
        assert!(
            apply("jetstream: false\nsystem_account: S\naccounts { S { jetstream: true } }")
                .is_ok()
        );
        let e = apply("jetstream: enabled\nsystem_account: S\naccounts { S { jetstream: true } }")
            .unwrap_err();
        assert_eq!(
            e,
            "t.conf:3:27: Not allowed to enable JetStream on the system account"
        );
    }

    #[test]
    fn service_import_transform_errors_name_nats_server_direction() {
        let e = apply(
            r#"accounts { A { exports: [ {service: "foo.*"} ] }, B { imports: [ {service: {account: A, subject: "foo.*"}, to: "bar"} ] } }"#,
        )
        .unwrap_err();
        assert!(e.ends_with("Error adding service import \"foo.*\": failed to create mapping transform for service import subject from \"bar\" to \"foo.*\": invalid mapping destination: not using all of the token wildcard(s) in bar"), "{e}");
    }

    #[test]
    fn subjects_collide_like_nats_server() {
        assert!(subjects_collide("a.*", "a.b"));
        assert!(subjects_collide("a.>", "a.b.c"));
        assert!(!subjects_collide("a.b", "a.c"));
        assert!(!subjects_collide("a.*", "a.b.c"));
    }

    #[test]
    fn limits_and_system_account() {
        let reg = apply(
            "system_account: S\naccounts { S: {}, A: { limits: { max_connections: 2, max_subs: 3, max_payload: 100 } } }",
        )
        .unwrap();
        let a = reg.get("A").unwrap();
        assert_eq!(a.limits().max_connections, 2);
        assert_eq!(a.limits().max_subscriptions, 3);
        assert_eq!(a.limits().max_payload, 100);
        assert_eq!(&*reg.system().unwrap().name, "S");
        let e = apply("system_account: NOPE\naccounts { A: {} }").unwrap_err();
        assert!(
            e.contains("error resolving system account: account missing"),
            "{e}"
        );
        let e = apply("accounts { A: { exports: [ {stream: x, accounts: [ZZ]} ] } }").unwrap_err();
        assert!(
            e.contains("\"ZZ\" account not defined for stream export"),
            "{e}"
        );
        let e = apply("accounts { A: { exports: [ {service: x, accounts: [B, ZZ]} ] }, B: {} }")
            .unwrap_err();
        assert!(
            e.contains("\"ZZ\" account not defined for service export"),
            "{e}"
        );
        assert!(
            apply("accounts { A: { exports: [ {stream: x, accounts: [B]} ] }, B: {} }").is_ok()
        );
    }
}

//! `add operator|account|user|export|import`.

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand};
use rnats::jwt::{
    self, AccountClaims, ExportType, OperatorClaims, ServiceLatency, User, UserClaims,
};
use rnats::nkeys::{self, KeyKind, KeyPair};

use crate::env::Ctx;
use crate::params::{parse_duration_ns, PermFlags, TagFlags, TimeFlags, UserLimitFlags};
use crate::store::{self, ok, KeyStore, Store};

/// `add` subcommands.
// Parsed once per process: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum AddCmd {
    /// Add an operator (and with --sys its system account and user)
    Operator(AddOperator),
    /// Add an account signed by the operator
    Account(AddAccount),
    /// Add a user signed by the account (or one of its signing keys)
    User(AddUser),
    /// Add a stream or service export to an account
    Export(AddExport),
    /// Add a stream or service import to an account
    Import(AddImport),
}

/// `add operator`.
#[derive(Args, Debug)]
pub struct AddOperator {
    /// Operator name
    #[arg(short = 'n', long = "name")]
    pub name: Option<String>,
    /// Operator name (same as --name)
    #[arg(value_name = "NAME", conflicts_with = "name")]
    pub name_arg: Option<String>,
    /// Generate the system account "SYS" and its user "sys" with the operator
    #[arg(short = 's', long = "sys")]
    pub sys: bool,
    /// Generate a signing key with the operator (it signs the system account)
    #[arg(long = "generate-signing-key")]
    pub generate_signing_key: bool,
    #[command(flatten)]
    pub time: TimeFlags,
}

/// `add account`.
#[derive(Args, Debug)]
pub struct AddAccount {
    /// Account name
    #[arg(short = 'n', long = "name")]
    pub name: Option<String>,
    /// Account name (same as --name)
    #[arg(value_name = "NAME", conflicts_with = "name")]
    pub name_arg: Option<String>,
    /// Public key (or seed) identifying the account; a new key is generated when absent
    #[arg(short = 'k', long = "public-key")]
    pub public_key: Option<String>,
    #[command(flatten)]
    pub time: TimeFlags,
}

/// `add user`.
#[derive(Args, Debug)]
pub struct AddUser {
    /// Account name
    #[arg(short = 'a', long = "account")]
    pub account: Option<String>,
    /// User name
    #[arg(short = 'n', long = "name")]
    pub name: Option<String>,
    /// User name (same as --name)
    #[arg(value_name = "NAME", conflicts_with = "name")]
    pub name_arg: Option<String>,
    /// Public key (or seed) identifying the user; a new key is generated when absent
    #[arg(short = 'k', long = "public-key")]
    pub public_key: Option<String>,
    #[command(flatten)]
    pub perms: PermFlags,
    #[command(flatten)]
    pub limits: UserLimitFlags,
    #[command(flatten)]
    pub tags: TagFlags,
    #[command(flatten)]
    pub time: TimeFlags,
}

/// `add export`.
#[derive(Args, Debug)]
pub struct AddExport {
    /// Account name
    #[arg(short = 'a', long = "account")]
    pub account: Option<String>,
    /// Export name (defaults to the subject)
    #[arg(short = 'n', long = "name")]
    pub name: Option<String>,
    /// Exported subject
    #[arg(short = 's', long = "subject")]
    pub subject: String,
    /// Export a service (default: a stream)
    #[arg(short = 'r', long = "service")]
    pub service: bool,
    /// Private export: importers need an activation token
    #[arg(short = 'p', long = "private")]
    pub private: bool,
    /// Response type of a service: Singleton, Stream or Chunked
    #[arg(long = "response-type")]
    pub response_type: Option<String>,
    /// Latency metrics subject (services only)
    #[arg(long = "latency")]
    pub latency: Option<String>,
    /// Latency sampling percentage [1-100] or "header" (services only)
    #[arg(long = "sampling")]
    pub sampling: Option<String>,
    /// Response threshold duration, e.g. 5s (services only)
    #[arg(long = "response-threshold")]
    pub response_threshold: Option<String>,
    /// Subject token position (1-based) that must be the importer's account key (public exports only)
    #[arg(long = "account-token-position")]
    pub account_token_position: Option<u64>,
    /// Advertise the export
    #[arg(long = "advertise")]
    pub advertise: bool,
    /// Allow trace requests
    #[arg(long = "allow-trace")]
    pub allow_trace: bool,
    /// Description of the export
    #[arg(long = "description")]
    pub description: Option<String>,
    /// Link for more info on the export
    #[arg(long = "info-url")]
    pub info_url: Option<String>,
}

/// `add import`.
#[derive(Args, Debug)]
pub struct AddImport {
    /// Account name (the importer)
    #[arg(short = 'a', long = "account")]
    pub account: Option<String>,
    /// Import name (defaults to the remote subject)
    #[arg(short = 'n', long = "name")]
    pub name: Option<String>,
    /// Exporting account: public key, or name in this operator
    #[arg(long = "src-account")]
    pub src_account: Option<String>,
    /// Subject as exported by the source account
    #[arg(long = "remote-subject")]
    pub remote_subject: Option<String>,
    /// Subject in this account (defaults to the remote subject)
    #[arg(short = 's', long = "local-subject")]
    pub local_subject: Option<String>,
    /// Import a service (default: a stream)
    #[arg(long = "service")]
    pub service: bool,
    /// Activation token (a file holding it, or the token itself) for private exports
    #[arg(short = 'u', long = "token")]
    pub token: Option<String>,
    /// Share the requester's identity for latency tracking (services only)
    #[arg(long = "share")]
    pub share: bool,
    /// Allow trace requests
    #[arg(long = "allow-trace")]
    pub allow_trace: bool,
}

/// Runs `add`.
pub fn run(ctx: &mut Ctx, cmd: &AddCmd) -> Result<()> {
    match cmd {
        AddCmd::Operator(a) => add_operator(ctx, a),
        AddCmd::Account(a) => add_account(ctx, a),
        AddCmd::User(a) => add_user(ctx, a),
        AddCmd::Export(a) => add_export(ctx, a),
        AddCmd::Import(a) => add_import(ctx, a),
    }
}

fn name_of(flag: &Option<String>, arg: &Option<String>, kind: &str) -> Result<String> {
    let n = flag
        .as_ref()
        .or(arg.as_ref())
        .ok_or_else(|| anyhow!("{kind} name is required (-n/--name)"))?;
    store::validate_name(kind, n)?;
    Ok(n.clone())
}

/// Fails with every blocking finding of nats' validation rules.
pub fn check_blocking(what: &str, vr: &jwt::ValidationResults) -> Result<()> {
    let errors: Vec<String> = vr.errors().map(|i| i.description.clone()).collect();
    if !errors.is_empty() {
        bail!("{what} is not valid:\n  - {}", errors.join("\n  - "));
    }
    Ok(())
}

/// Signs and stores an account JWT with a key of the operator.
pub fn sign_account(
    ctx: &Ctx,
    store: &Store,
    acc: &str,
    claims: &mut AccountClaims,
) -> Result<String> {
    let (_, oc) = store.read_operator()?;
    check_blocking(&format!("account {acc:?}"), &claims.validate(jwt::now()))?;
    let ks = ctx.keystore();
    let signer = store::pick_signer(
        &ks,
        ctx.signer.as_deref(),
        &store::operator_signers(&oc),
        "accounts",
    )?;
    let token = claims.encode(&signer)?;
    store.write_account(acc, &token)?;
    Ok(token)
}

/// The system account nsc creates with `add operator --sys`: a signing key,
/// the account monitoring exports, and a user `sys` signed by the signing key.
fn create_system_account(ks: &KeyStore, store: &Store, signer: &KeyPair) -> Result<String> {
    let acc = store::new_stored_key(ks, KeyKind::Account)?;
    let sk = store::new_stored_key(ks, KeyKind::Account)?;
    let mut ac = AccountClaims::new(acc.public_key());
    ac.name = "SYS".into();
    ac.nats.signing_keys.add(&sk.public_key());
    ac.nats.exports = vec![
        jwt::Export {
            name: "account-monitoring-services".into(),
            subject: "$SYS.REQ.ACCOUNT.*.*".into(),
            export_type: Some(ExportType::Service),
            response_type: jwt::account::response_type::STREAM.into(),
            account_token_position: 4,
            info: jwt::Info {
                description: "Request account specific monitoring services for: SUBSZ, CONNZ, LEAFZ, JSZ and INFO".into(),
                info_url: "https://docs.nats.io/nats-server/configuration/sys_accounts".into(),
            },
            ..Default::default()
        },
        jwt::Export {
            name: "account-monitoring-streams".into(),
            subject: "$SYS.ACCOUNT.*.>".into(),
            export_type: Some(ExportType::Stream),
            account_token_position: 3,
            info: jwt::Info {
                description: "Account specific monitoring stream".into(),
                info_url: "https://docs.nats.io/nats-server/configuration/sys_accounts".into(),
            },
            ..Default::default()
        },
    ];
    let token = ac.encode(signer)?;
    store.write_account("SYS", &token)?;
    ok(format!(
        "created system_account: name:SYS id:{}",
        acc.public_key()
    ));

    let user = store::new_stored_key(ks, KeyKind::User)?;
    let mut uc = UserClaims::new(user.public_key());
    uc.name = "sys".into();
    uc.nats.issuer_account = acc.public_key();
    let utoken = uc.encode(&sk)?;
    store.write_user("SYS", "sys", &utoken)?;
    let creds = rnats::creds::format_user_creds(&utoken, &user)?;
    let p = ks.store_creds(&store.name, "SYS", "sys", &creds)?;
    ok(format!(
        "created system account user: name:sys id:{}",
        user.public_key()
    ));
    ok(format!(
        "system account user creds file stored in {}",
        p.display()
    ));
    Ok(acc.public_key())
}

fn add_operator(ctx: &mut Ctx, a: &AddOperator) -> Result<()> {
    let name = name_of(&a.name, &a.name_arg, "operator")?;
    let ks = ctx.keystore();
    let store = Store::create(&ctx.data_dir, &name)?;
    let op = store::new_stored_key(&ks, KeyKind::Operator)?;
    ok(format!(
        "generated and stored operator key {:?}",
        op.public_key()
    ));
    let mut oc = OperatorClaims::new(op.public_key());
    oc.name = name.clone();
    a.time.apply(&mut oc)?;
    let mut sys_signer = op.clone();
    if a.generate_signing_key {
        let sk = store::new_stored_key(&ks, KeyKind::Operator)?;
        oc.nats.add_signing_key(&sk.public_key());
        ok(format!(
            "generated and stored operator signing key {:?}",
            sk.public_key()
        ));
        sys_signer = sk;
    }
    if a.sys {
        oc.nats.system_account = create_system_account(&ks, &store, &sys_signer)?;
    }
    let token = oc.encode(&op)?;
    store.write_operator(&token)?;
    ok(format!("added operator {name:?}"));
    ctx.select_operator(&name);
    if a.sys {
        ctx.select_account("SYS");
    }
    ctx.save()?;
    Ok(())
}

/// A key pair from `-k`: a public key (JWT only, no seed) or a seed.
fn key_from_flag(v: &str, kind: KeyKind) -> Result<KeyPair> {
    let v = v.trim();
    let kp = if v.starts_with('S') {
        KeyPair::from_seed(v)?
    } else if std::path::Path::new(v).is_file() {
        nkeys::parse_key_text(&std::fs::read_to_string(v)?)?
    } else {
        KeyPair::from_public_key(v)?
    };
    kp.expect_kind(kind)
        .with_context(|| format!("{} is not an {kind} key", kp.public_key()))?;
    Ok(kp)
}

fn add_account(ctx: &mut Ctx, a: &AddAccount) -> Result<()> {
    let name = name_of(&a.name, &a.name_arg, "account")?;
    let store = ctx.store()?;
    if store.has_account(&name) {
        bail!("account {name:?} already exists");
    }
    let ks = ctx.keystore();
    let key = match &a.public_key {
        Some(v) => {
            let kp = key_from_flag(v, KeyKind::Account)?;
            if kp.has_seed() {
                ks.store(&kp)?;
            }
            kp
        }
        None => {
            let kp = store::new_stored_key(&ks, KeyKind::Account)?;
            ok(format!(
                "generated and stored account key {:?}",
                kp.public_key()
            ));
            kp
        }
    };
    if store.account_name_by_key(&key.public_key()).is_some() {
        bail!("an account with key {} already exists", key.public_key());
    }
    let mut ac = AccountClaims::new(key.public_key());
    ac.name = name.clone();
    a.time.apply(&mut ac)?;
    sign_account(ctx, &store, &name, &mut ac)?;
    ok(format!("added account {name:?}"));
    ctx.select_account(&name);
    ctx.save()?;
    Ok(())
}

/// How a user is signed.
pub struct UserSigner {
    /// The key that signs.
    pub key: KeyPair,
    /// True when it is a scoped signing key (user carries no permissions).
    pub scoped: bool,
}

/// Picks the key that signs users of `ac`: `-K` (a key, or the role of a
/// scoped key), else the account key, else a plain signing key, else a
/// scoped one, whichever has its seed in the keystore.
pub fn user_signer(ctx: &Ctx, ac: &AccountClaims) -> Result<UserSigner> {
    let ks = ctx.keystore();
    let sks = &ac.nats.signing_keys;
    if let Some(v) = ctx.signer.as_deref() {
        let key = if let Some(scope) = sks.by_role(v) {
            ks.get(&scope.key)?.ok_or_else(|| {
                anyhow!(
                    "the seed of the {v:?} signing key {} is not in the keystore",
                    scope.key
                )
            })?
        } else {
            store::resolve_seed(&ks, v)?
        };
        let pk = key.public_key();
        if pk != ac.sub && !sks.contains(&pk) {
            bail!("{pk} is neither the account key nor one of its signing keys");
        }
        let scoped = sks.scope(&pk).is_some();
        return Ok(UserSigner { key, scoped });
    }
    let mut candidates: Vec<(String, bool)> = vec![(ac.sub.clone(), false)];
    for (k, scope) in sks.iter() {
        if scope.is_none() {
            candidates.push((k.to_string(), false));
        }
    }
    for (k, scope) in sks.iter() {
        if scope.is_some() {
            candidates.push((k.to_string(), true));
        }
    }
    for (k, scoped) in candidates {
        if let Some(key) = ks.get(&k)? {
            return Ok(UserSigner { key, scoped });
        }
    }
    bail!("no key to sign users of account {:?}: no seed of the account or its signing keys in the keystore - pass one with -K", ac.name)
}

/// Signs a user JWT: sets `issuer_account` when a signing key signs.
pub fn sign_user(signer: &UserSigner, ac: &AccountClaims, uc: &mut UserClaims) -> Result<String> {
    if signer.scoped && !uc.has_empty_permissions() {
        bail!("scoped users require no permissions or limits set: the scope of signing key {} defines them", signer.key.public_key());
    }
    if signer.key.public_key() == ac.sub {
        uc.nats.issuer_account.clear();
    } else {
        uc.nats.issuer_account = ac.sub.clone();
    }
    check_blocking("user", &uc.validate(jwt::now()))?;
    Ok(uc.encode(&signer.key)?)
}

/// Writes the user's creds file into the keystore when its seed is there.
pub fn refresh_creds(
    ctx: &Ctx,
    store: &Store,
    acc: &str,
    user: &str,
    token: &str,
    sub: &str,
) -> Result<Option<std::path::PathBuf>> {
    let ks = ctx.keystore();
    match ks.get(sub)? {
        Some(kp) => {
            let text = rnats::creds::format_user_creds(token, &kp)?;
            Ok(Some(ks.store_creds(&store.name, acc, user, &text)?))
        }
        None => Ok(None),
    }
}

fn add_user(ctx: &mut Ctx, a: &AddUser) -> Result<()> {
    let name = name_of(&a.name, &a.name_arg, "user")?;
    let store = ctx.store()?;
    let acc = ctx.account_name(&store, a.account.as_deref())?;
    if store.has_user(&acc, &name) {
        bail!("user {name:?} already exists in account {acc:?}");
    }
    let (_, ac) = store.read_account(&acc)?;
    let signer = user_signer(ctx, &ac)?;
    let ks = ctx.keystore();
    let key = match &a.public_key {
        Some(v) => {
            let kp = key_from_flag(v, KeyKind::User)?;
            if kp.has_seed() {
                ks.store(&kp)?;
            }
            kp
        }
        None => {
            let kp = store::new_stored_key(&ks, KeyKind::User)?;
            ok(format!(
                "generated and stored user key {:?}",
                kp.public_key()
            ));
            kp
        }
    };
    let mut uc = UserClaims::new(key.public_key());
    uc.name = name.clone();
    if signer.scoped {
        if a.perms.any() || a.limits.any() {
            bail!("scoped users require no permissions or limits set: signing key {} is scoped, its template defines them", signer.key.public_key());
        }
        uc.nats = User::new_scoped();
    } else {
        a.perms.apply(&mut uc.nats.permission_limits.permissions)?;
        a.limits.apply(&mut uc.nats.permission_limits)?;
    }
    a.tags.apply(&mut uc.nats.generic);
    a.time.apply(&mut uc)?;
    let token = sign_user(&signer, &ac, &mut uc)?;
    store.write_user(&acc, &name, &token)?;
    if let Some(p) = refresh_creds(ctx, &store, &acc, &name, &token, &key.public_key())? {
        ok(format!("generated user creds file {}", p.display()));
    }
    ok(format!("added user {name:?} to account {acc:?}"));
    Ok(())
}

fn parse_response_type(s: &str) -> Result<String> {
    let t = match s.to_ascii_lowercase().as_str() {
        "singleton" => "Singleton",
        "stream" => "Stream",
        "chunked" => "Chunked",
        _ => bail!("unknown response type {s:?}: expected Singleton, Stream or Chunked"),
    };
    Ok(t.to_string())
}

/// Parses `--sampling`: 1..=100 or `header(s)` (0).
pub fn parse_sampling(s: &str) -> Result<i64> {
    if s.eq_ignore_ascii_case("header") || s.eq_ignore_ascii_case("headers") {
        return Ok(0);
    }
    let n: i64 = s
        .trim_end_matches('%')
        .parse()
        .map_err(|_| anyhow!("sampling must be 1-100 or \"header\", got {s:?}"))?;
    if !(1..=100).contains(&n) {
        bail!("sampling must be 1-100 or \"header\", got {s:?}");
    }
    Ok(n)
}

fn add_export(ctx: &mut Ctx, a: &AddExport) -> Result<()> {
    let store = ctx.store()?;
    let acc = ctx.account_name(&store, a.account.as_deref())?;
    let (_, mut ac) = store.read_account(&acc)?;
    if let Some(e) = jwt::validate::subject_problem(&a.subject) {
        bail!("invalid export subject: {e}");
    }
    if ac.nats.exports.iter().any(|e| e.subject == a.subject) {
        bail!("account {acc:?} already exports {:?}", a.subject);
    }
    let mut e = jwt::Export {
        name: a.name.clone().unwrap_or_else(|| a.subject.clone()),
        subject: a.subject.clone(),
        export_type: Some(if a.service {
            ExportType::Service
        } else {
            ExportType::Stream
        }),
        token_req: a.private,
        advertise: a.advertise,
        allow_trace: a.allow_trace,
        ..Default::default()
    };
    if !a.service
        && (a.response_type.is_some()
            || a.latency.is_some()
            || a.sampling.is_some()
            || a.response_threshold.is_some())
    {
        bail!("--response-type, --latency, --sampling and --response-threshold apply to services only (add --service)");
    }
    if let Some(rt) = &a.response_type {
        e.response_type = parse_response_type(rt)?;
    }
    if let Some(t) = &a.response_threshold {
        e.response_threshold = parse_duration_ns(t)?;
    }
    if a.latency.is_some() || a.sampling.is_some() {
        let results = a
            .latency
            .clone()
            .ok_or_else(|| anyhow!("--sampling needs --latency <subject>"))?;
        let sampling = parse_sampling(a.sampling.as_deref().unwrap_or("header"))?;
        e.latency = Some(ServiceLatency { sampling, results });
    }
    if let Some(p) = a.account_token_position {
        if a.private {
            bail!("--account-token-position applies to public exports only");
        }
        e.account_token_position = p;
    }
    if let Some(d) = &a.description {
        e.info.description = d.clone();
    }
    if let Some(u) = &a.info_url {
        e.info.info_url = u.clone();
    }
    let kind = if a.service { "service" } else { "stream" };
    ac.nats.exports.push(e);
    sign_account(ctx, &store, &acc, &mut ac)?;
    ok(format!(
        "added {} {kind} export {:?}",
        if a.private { "private" } else { "public" },
        a.subject
    ));
    Ok(())
}

/// Reads an activation token given inline or in a file.
fn read_token_arg(v: &str) -> Result<String> {
    let p = std::path::Path::new(v);
    let text = if p.is_file() {
        std::fs::read_to_string(p).with_context(|| format!("cannot read {v}"))?
    } else {
        v.to_string()
    };
    Ok(rnats::creds::parse_jwt(&text)?)
}

fn add_import(ctx: &mut Ctx, a: &AddImport) -> Result<()> {
    let store = ctx.store()?;
    let acc = ctx.account_name(&store, a.account.as_deref())?;
    let (_, mut ac) = store.read_account(&acc)?;
    let mut imp = jwt::Import {
        share: a.share,
        allow_trace: a.allow_trace,
        ..Default::default()
    };
    if let Some(t) = &a.token {
        let token = read_token_arg(t)?;
        let act = jwt::decode_activation(&token).context("the activation token is not valid")?;
        if act.sub != ac.sub {
            bail!(
                "the activation token is for account {}, not {acc:?} ({})",
                act.sub,
                ac.sub
            );
        }
        act.check_times(jwt::now())
            .context("the activation token")?;
        let remote = a
            .remote_subject
            .clone()
            .unwrap_or_else(|| act.nats.import_subject.clone());
        imp.account = act.account_id().to_string();
        imp.subject = remote;
        imp.import_type = act.nats.import_type;
        imp.token = token;
    } else {
        let src = a.src_account.as_deref().ok_or_else(|| {
            anyhow!("--src-account is required for a public import (or give --token)")
        })?;
        imp.account = if nkeys::is_valid_public_key(src, KeyKind::Account) {
            src.to_string()
        } else {
            let (_, sc) = store.read_account(src)?;
            sc.sub
        };
        imp.subject = a
            .remote_subject
            .clone()
            .ok_or_else(|| anyhow!("--remote-subject is required"))?;
        imp.import_type = Some(if a.service {
            ExportType::Service
        } else {
            ExportType::Stream
        });
        // When the exporter is in this store, check the export exists and is public.
        if let Some(name) = store.account_name_by_key(&imp.account) {
            let (_, ec) = store.read_account(&name)?;
            let export = ec
                .nats
                .exports
                .iter()
                .find(|e| {
                    e.export_type == imp.import_type && subject_covers(&e.subject, &imp.subject)
                })
                .ok_or_else(|| {
                    anyhow!(
                        "account {name:?} has no {} export matching {:?}",
                        if a.service { "service" } else { "stream" },
                        imp.subject
                    )
                })?;
            if export.token_req {
                bail!("export {:?} of account {name:?} is private: an activation token is required (--token)", export.subject);
            }
        }
    }
    if imp.account == ac.sub {
        bail!("an account cannot import from itself");
    }
    imp.name = a.name.clone().unwrap_or_else(|| imp.subject.clone());
    if let Some(l) = &a.local_subject {
        imp.local_subject = l.clone();
    }
    if ac.nats.imports.iter().any(|i| {
        i.account == imp.account && i.subject == imp.subject && i.local_subject == imp.local_subject
    }) {
        bail!(
            "account {acc:?} already imports {:?} from {}",
            imp.subject,
            imp.account
        );
    }
    let subject = imp.subject.clone();
    ac.nats.imports.push(imp);
    sign_account(ctx, &store, &acc, &mut ac)?;
    ok(format!("added import {subject:?} to account {acc:?}"));
    Ok(())
}

/// True when subject `s` (possibly with wildcards) matches everything `t`
/// matches (e.g. `a.>` covers `a.b.*`).
pub fn subject_covers(s: &str, t: &str) -> bool {
    let st: Vec<&str> = s.split('.').collect();
    let tt: Vec<&str> = t.split('.').collect();
    for (i, a) in st.iter().enumerate() {
        if *a == ">" {
            return i < tt.len();
        }
        let Some(b) = tt.get(i) else { return false };
        if *b == ">" {
            return false;
        }
        if *a != "*" && a != b {
            return false;
        }
        if *a != "*" && *b == "*" {
            return false;
        }
    }
    st.len() == tt.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covers() {
        assert!(subject_covers("a.>", "a.b"));
        assert!(subject_covers("a.>", "a.b.*"));
        assert!(subject_covers("a.*", "a.b"));
        assert!(subject_covers("a.*", "a.*"));
        assert!(!subject_covers("a.b", "a.*"));
        assert!(!subject_covers("a.*", "a.b.c"));
        assert!(!subject_covers("a.>", "a"));
        assert!(!subject_covers("a.*", "a.>"));
        assert!(subject_covers("a.b", "a.b"));
    }

    #[test]
    fn sampling() {
        assert_eq!(parse_sampling("header").unwrap(), 0);
        assert_eq!(parse_sampling("50").unwrap(), 50);
        assert!(parse_sampling("0").is_err());
        assert!(parse_sampling("101").is_err());
    }
}

//! `edit operator|account|user|signing-key`.

use anyhow::{anyhow, bail, Result};
use clap::{Args, Subcommand};
use rnats::jwt::{self, UserScope};
use rnats::nkeys::{self, KeyKind};

use crate::add::{check_blocking, refresh_creds, sign_account, sign_user, user_signer, UserSigner};
use crate::env::Ctx;
use crate::params::{parse_number, PermFlags, RateFlags, TagFlags, TimeFlags, UserLimitFlags};
use crate::store::{self, ok, KeyStore};

/// `edit` subcommands.
#[derive(Subcommand, Debug)]
pub enum EditCmd {
    /// Edit the operator (signing keys, system account, account server URL, ...)
    Operator(EditOperator),
    /// Edit an account (limits, signing keys, default permissions, ...)
    Account(EditAccount),
    /// Edit a user (permissions, limits, source networks, times, bearer, expiry, ...)
    User(EditUser),
    /// Make a signing key scoped, or edit its scope (role and user template)
    #[command(name = "signing-key")]
    SigningKey(EditSigningKey),
}

/// `edit operator`.
#[derive(Args, Debug)]
pub struct EditOperator {
    /// Add signing keys: a public key, a seed or a key file, or "generate" - comma separated list or option can be specified multiple times
    #[arg(long = "sk", value_delimiter = ',')]
    pub sk: Vec<String>,
    /// Remove signing keys - comma separated list or option can be specified multiple times
    #[arg(long = "rm-sk", value_delimiter = ',')]
    pub rm_sk: Vec<String>,
    /// Set the account JWT server URL (http(s):// for an account server, nats:// for a nats-resolver server)
    #[arg(short = 'u', long = "account-jwt-server-url")]
    pub account_jwt_server_url: Option<String>,
    /// Clear the account JWT server URL
    #[arg(long = "rm-account-jwt-server-url")]
    pub rm_account_jwt_server_url: bool,
    /// Set the system account, by name or public key
    #[arg(long = "system-account")]
    pub system_account: Option<String>,
    /// Add operator service URLs (nats, tls, ws, wss) - comma separated list or option can be specified multiple times
    #[arg(short = 'n', long = "service-url", value_delimiter = ',')]
    pub service_url: Vec<String>,
    /// Remove operator service URLs - comma separated list or option can be specified multiple times
    #[arg(long = "rm-service-url", value_delimiter = ',')]
    pub rm_service_url: Vec<String>,
    /// Require accounts to be signed with a signing key (--require-signing-keys=false to clear)
    #[arg(long = "require-signing-keys", num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub require_signing_keys: Option<bool>,
    /// Minimum nats-server version (major.minor.patch)
    #[arg(long = "assert-server-version")]
    pub assert_server_version: Option<String>,
    #[command(flatten)]
    pub tags: TagFlags,
    #[command(flatten)]
    pub time: TimeFlags,
}

/// `edit account`.
#[derive(Args, Debug)]
pub struct EditAccount {
    /// Account to edit
    #[arg(short = 'n', long = "name")]
    pub name: Option<String>,
    /// Account to edit (same as --name)
    #[arg(value_name = "NAME", conflicts_with = "name")]
    pub name_arg: Option<String>,
    /// Set maximum active connections (-1 is unlimited)
    #[arg(long, allow_hyphen_values = true)]
    pub conns: Option<String>,
    /// Set maximum active leaf node connections (-1 is unlimited)
    #[arg(long = "leaf-conns", allow_hyphen_values = true)]
    pub leaf_conns: Option<String>,
    /// Set maximum data in bytes (-1 is unlimited; units k/m/g/t, kib/mib/gib/tib)
    #[arg(long, allow_hyphen_values = true)]
    pub data: Option<String>,
    /// Set maximum number of exports (-1 is unlimited)
    #[arg(long, allow_hyphen_values = true)]
    pub exports: Option<String>,
    /// Set maximum number of imports (-1 is unlimited)
    #[arg(long, allow_hyphen_values = true)]
    pub imports: Option<String>,
    /// Set maximum message payload in bytes (-1 is unlimited)
    #[arg(long, allow_hyphen_values = true)]
    pub payload: Option<String>,
    /// Set maximum subscriptions (-1 is unlimited)
    #[arg(long, allow_hyphen_values = true)]
    pub subscriptions: Option<String>,
    #[command(flatten)]
    pub rate: RateFlags,
    /// Exports may contain wildcards (--wildcard-exports=false to forbid)
    #[arg(long = "wildcard-exports", num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub wildcard_exports: Option<bool>,
    /// Require user JWTs not to be bearer tokens (--disallow-bearer=false to clear)
    #[arg(long = "disallow-bearer", num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub disallow_bearer: Option<bool>,
    /// Add signing keys: a public key, a seed or a key file, or "generate" - comma separated list or option can be specified multiple times
    #[arg(long = "sk", value_delimiter = ',')]
    pub sk: Vec<String>,
    /// Remove signing keys - comma separated list or option can be specified multiple times
    #[arg(long = "rm-sk", value_delimiter = ',')]
    pub rm_sk: Vec<String>,
    /// Description of the account
    #[arg(long)]
    pub description: Option<String>,
    /// Link for more info on the account
    #[arg(long = "info-url")]
    pub info_url: Option<String>,
    /// JetStream: maximum memory storage in bytes (-1 unlimited, 0 disabled)
    #[arg(long = "js-mem-storage", allow_hyphen_values = true)]
    pub js_mem_storage: Option<String>,
    /// JetStream: maximum disk storage in bytes (-1 unlimited, 0 disabled)
    #[arg(long = "js-disk-storage", allow_hyphen_values = true)]
    pub js_disk_storage: Option<String>,
    /// JetStream: maximum streams (-1 unlimited)
    #[arg(long = "js-streams", allow_hyphen_values = true)]
    pub js_streams: Option<String>,
    /// JetStream: maximum consumers (-1 unlimited)
    #[arg(long = "js-consumer", allow_hyphen_values = true)]
    pub js_consumer: Option<String>,
    /// JetStream: maximum size of a memory stream (-1 unlimited, 0 disabled)
    #[arg(long = "js-max-mem-stream", allow_hyphen_values = true)]
    pub js_max_mem_stream: Option<String>,
    /// JetStream: maximum size of a disk stream (-1 unlimited, 0 disabled)
    #[arg(long = "js-max-disk-stream", allow_hyphen_values = true)]
    pub js_max_disk_stream: Option<String>,
    /// JetStream: maximum ack pending per consumer
    #[arg(long = "js-max-ack-pending", allow_hyphen_values = true)]
    pub js_max_ack_pending: Option<String>,
    /// JetStream: streams must set a maximum size
    #[arg(long = "js-max-bytes-required", num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub js_max_bytes_required: Option<bool>,
    /// JetStream: replication tier the --js-* limits apply to (0: all, untiered)
    #[arg(long = "js-tier", default_value_t = 0)]
    pub js_tier: u32,
    /// JetStream: remove all JetStream limits (disables JetStream)
    #[arg(long = "js-disable")]
    pub js_disable: bool,
    #[command(flatten)]
    pub perms: PermFlags,
    #[command(flatten)]
    pub tags: TagFlags,
    #[command(flatten)]
    pub time: TimeFlags,
}

/// `edit user`.
#[derive(Args, Debug)]
pub struct EditUser {
    /// Account name
    #[arg(short = 'a', long = "account")]
    pub account: Option<String>,
    /// User name
    #[arg(short = 'n', long = "name")]
    pub name: Option<String>,
    /// User name (same as --name)
    #[arg(value_name = "NAME", conflicts_with = "name")]
    pub name_arg: Option<String>,
    #[command(flatten)]
    pub perms: PermFlags,
    #[command(flatten)]
    pub limits: UserLimitFlags,
    #[command(flatten)]
    pub tags: TagFlags,
    #[command(flatten)]
    pub time: TimeFlags,
}

/// `edit signing-key`.
#[derive(Args, Debug)]
pub struct EditSigningKey {
    /// Account name
    #[arg(short = 'a', long = "account")]
    pub account: Option<String>,
    /// The signing key (public key) to scope
    #[arg(long = "sk")]
    pub sk: String,
    /// Role associated with the signing key scope (users pick the key with -K <role>)
    #[arg(long)]
    pub role: Option<String>,
    /// Description of the role
    #[arg(long)]
    pub description: Option<String>,
    #[command(flatten)]
    pub perms: PermFlags,
    #[command(flatten)]
    pub limits: UserLimitFlags,
}

/// Runs `edit`.
pub fn run(ctx: &mut Ctx, cmd: &EditCmd) -> Result<()> {
    match cmd {
        EditCmd::Operator(a) => edit_operator(ctx, a),
        EditCmd::Account(a) => edit_account(ctx, a),
        EditCmd::User(a) => edit_user(ctx, a),
        EditCmd::SigningKey(a) => edit_signing_key(ctx, a),
    }
}

/// Resolves `--sk` values: "generate" makes and stores a new key; otherwise
/// a public key, seed or key file of the right kind.
fn signing_keys(ks: &KeyStore, values: &[String], kind: KeyKind) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for v in values {
        let v = v.trim();
        if v.is_empty() {
            continue;
        }
        if v == "generate" {
            let kp = store::new_stored_key(ks, kind)?;
            ok(format!(
                "generated and stored signing key {:?}",
                kp.public_key()
            ));
            out.push(kp.public_key());
            continue;
        }
        let pk = if nkeys::is_valid_public_key_any(v) {
            v.to_string()
        } else {
            let kp = store::resolve_seed(ks, v)?;
            ks.store(&kp)?;
            kp.public_key()
        };
        if !nkeys::is_valid_public_key(&pk, kind) {
            bail!("{pk} is not a {kind} public key");
        }
        out.push(pk);
    }
    Ok(out)
}

fn edit_operator(ctx: &mut Ctx, a: &EditOperator) -> Result<()> {
    let nothing = a.sk.is_empty()
        && a.rm_sk.is_empty()
        && a.account_jwt_server_url.is_none()
        && !a.rm_account_jwt_server_url
        && a.system_account.is_none()
        && a.service_url.is_empty()
        && a.rm_service_url.is_empty()
        && a.require_signing_keys.is_none()
        && a.assert_server_version.is_none()
        && !a.tags.any()
        && !a.time.any();
    if nothing {
        bail!("specify an edit option (see --help)");
    }
    let store = ctx.store()?;
    let (_, mut oc) = store.read_operator()?;
    let ks = ctx.keystore();
    for k in signing_keys(&ks, &a.sk, KeyKind::Operator)? {
        oc.nats.add_signing_key(&k);
    }
    for k in &a.rm_sk {
        let before = oc.nats.signing_keys.len();
        oc.nats.signing_keys.retain(|x| x != k.trim());
        if before == oc.nats.signing_keys.len() {
            bail!("{k} is not a signing key of operator {:?}", oc.name);
        }
    }
    if a.rm_account_jwt_server_url {
        oc.nats.account_server_url.clear();
    }
    if let Some(u) = &a.account_jwt_server_url {
        let scheme = u.split("://").next().unwrap_or("").to_ascii_lowercase();
        if !u.contains("://")
            || !matches!(
                scheme.as_str(),
                "http" | "https" | "nats" | "tls" | "ws" | "wss"
            )
        {
            bail!("account jwt server url {u:?} must be an http(s) or nats (nats/tls/ws/wss) URL");
        }
        oc.nats.account_server_url = u.clone();
    }
    if let Some(s) = &a.system_account {
        oc.nats.system_account = if nkeys::is_valid_public_key(s, KeyKind::Account) {
            s.clone()
        } else {
            store.read_account(s)?.1.sub
        };
    }
    for u in &a.rm_service_url {
        oc.nats.operator_service_urls.retain(|x| x != u.trim());
    }
    for u in &a.service_url {
        let u = u.trim();
        if !oc.nats.operator_service_urls.iter().any(|x| x == u) {
            oc.nats.operator_service_urls.push(u.to_string());
        }
    }
    if let Some(b) = a.require_signing_keys {
        if b && oc.nats.signing_keys.is_empty() {
            bail!(
                "requiring signing keys needs an operator signing key: add one with --sk generate"
            );
        }
        oc.nats.strict_signing_key_usage = b;
    }
    if let Some(v) = &a.assert_server_version {
        oc.nats.assert_server_version = v.clone();
    }
    a.tags.apply(&mut oc.nats.generic);
    a.time.apply(&mut oc)?;
    check_blocking("operator", &oc.validate(jwt::now()))?;
    // The operator JWT is self-signed by the identity key.
    let key = ks.get(&oc.sub)?.ok_or_else(|| {
        anyhow!(
            "the operator key {} is not in the keystore {}",
            oc.sub,
            ks.dir.display()
        )
    })?;
    let token = oc.encode(&key)?;
    store.write_operator(&token)?;
    ok(format!("edited operator {:?}", oc.name));
    if a.require_signing_keys == Some(true) {
        eprintln!("note: accounts signed with the operator identity key must be re-signed with a signing key (edit each account)");
    }
    Ok(())
}

fn num(v: &Option<String>, field: &mut i64) -> Result<()> {
    if let Some(s) = v {
        *field = parse_number(s)?;
    }
    Ok(())
}

fn edit_account(ctx: &mut Ctx, a: &EditAccount) -> Result<()> {
    let store = ctx.store()?;
    let acc = ctx.account_name(&store, a.name.as_deref().or(a.name_arg.as_deref()))?;
    let (_, mut ac) = store.read_account(&acc)?;
    let before = ac.clone();
    let ks = ctx.keystore();
    let l = &mut ac.nats.limits;
    num(&a.conns, &mut l.account.conn)?;
    num(&a.leaf_conns, &mut l.account.leaf_node_conn)?;
    num(&a.data, &mut l.nats.data)?;
    num(&a.exports, &mut l.account.exports)?;
    num(&a.imports, &mut l.account.imports)?;
    num(&a.payload, &mut l.nats.payload)?;
    num(&a.subscriptions, &mut l.nats.subs)?;
    a.rate.apply(&mut l.rate)?;
    if let Some(b) = a.wildcard_exports {
        l.account.wildcard_exports = b;
    }
    if let Some(b) = a.disallow_bearer {
        l.account.disallow_bearer = b;
    }
    if a.js_disable {
        l.jetstream = Default::default();
        l.tiered_limits.clear();
    }
    let js_flags = [
        &a.js_mem_storage,
        &a.js_disk_storage,
        &a.js_streams,
        &a.js_consumer,
        &a.js_max_mem_stream,
        &a.js_max_disk_stream,
        &a.js_max_ack_pending,
    ];
    if js_flags.iter().any(|f| f.is_some()) || a.js_max_bytes_required.is_some() {
        let js = if a.js_tier == 0 {
            if !l.tiered_limits.is_empty() {
                bail!("the account has tiered JetStream limits: use --js-tier <n>");
            }
            &mut l.jetstream
        } else {
            if l.jetstream != Default::default() {
                bail!("the account has untiered JetStream limits: remove them with --js-disable first");
            }
            l.tiered_limits
                .entry(format!("R{}", a.js_tier))
                .or_default()
        };
        num(&a.js_mem_storage, &mut js.memory_storage)?;
        num(&a.js_disk_storage, &mut js.disk_storage)?;
        num(&a.js_streams, &mut js.streams)?;
        num(&a.js_consumer, &mut js.consumer)?;
        num(&a.js_max_mem_stream, &mut js.memory_max_stream_bytes)?;
        num(&a.js_max_disk_stream, &mut js.disk_max_stream_bytes)?;
        num(&a.js_max_ack_pending, &mut js.max_ack_pending)?;
        if let Some(b) = a.js_max_bytes_required {
            js.max_bytes_required = b;
        }
    }
    for k in signing_keys(&ks, &a.sk, KeyKind::Account)? {
        ac.nats.signing_keys.add(&k);
    }
    for k in &a.rm_sk {
        if !ac.nats.signing_keys.remove(k.trim()) {
            bail!("{k} is not a signing key of account {acc:?}");
        }
    }
    if let Some(d) = &a.description {
        ac.nats.info.description = d.clone();
    }
    if let Some(u) = &a.info_url {
        ac.nats.info.info_url = u.clone();
    }
    a.perms.apply(&mut ac.nats.default_permissions)?;
    a.tags.apply(&mut ac.nats.generic);
    a.time.apply(&mut ac)?;
    if ac == before && !a.time.any() {
        bail!("specify an edit option (see --help)");
    }
    sign_account(ctx, &store, &acc, &mut ac)?;
    ok(format!("edited account {acc:?}"));
    Ok(())
}

/// Re-signs with the key that issued the user when its seed is at hand (so a
/// user of a signing key stays one), else as `add user` would.
fn resign_user_signer(
    ctx: &Ctx,
    ac: &jwt::AccountClaims,
    uc: &jwt::UserClaims,
) -> Result<UserSigner> {
    if ctx.signer.is_none() && (uc.iss == ac.sub || ac.nats.signing_keys.contains(&uc.iss)) {
        if let Some(key) = ctx.keystore().get(&uc.iss)? {
            let scoped = ac.nats.signing_keys.scope(&uc.iss).is_some();
            return Ok(UserSigner { key, scoped });
        }
    }
    user_signer(ctx, ac)
}

fn edit_user(ctx: &mut Ctx, a: &EditUser) -> Result<()> {
    if !(a.perms.any() || a.limits.any() || a.tags.any() || a.time.any()) {
        bail!("specify an edit option (see --help)");
    }
    let store = ctx.store()?;
    let acc = ctx.account_name(&store, a.account.as_deref())?;
    let name = match a.name.as_ref().or(a.name_arg.as_ref()) {
        Some(n) => store.user_name(&acc, n)?,
        None => match store.users(&acc).as_slice() {
            [only] => only.clone(),
            _ => bail!("user name is required (-n/--name)"),
        },
    };
    let (_, ac) = store.read_account(&acc)?;
    let (_, mut uc) = store.read_user(&acc, &name)?;
    let signer = resign_user_signer(ctx, &ac, &uc)?;
    if signer.scoped && (a.perms.any() || a.limits.any()) {
        bail!("user {name:?} is issued by a scoped signing key: edit the scope with `edit signing-key` instead");
    }
    a.perms.apply(&mut uc.nats.permission_limits.permissions)?;
    a.limits.apply(&mut uc.nats.permission_limits)?;
    a.tags.apply(&mut uc.nats.generic);
    a.time.apply(&mut uc)?;
    let token = sign_user(&signer, &ac, &mut uc)?;
    store.write_user(&acc, &name, &token)?;
    if let Some(p) = refresh_creds(ctx, &store, &acc, &name, &token, &uc.sub)? {
        ok(format!("updated user creds file {}", p.display()));
    }
    ok(format!("edited user {name:?}"));
    Ok(())
}

fn edit_signing_key(ctx: &mut Ctx, a: &EditSigningKey) -> Result<()> {
    let store = ctx.store()?;
    let acc = ctx.account_name(&store, a.account.as_deref())?;
    let (_, mut ac) = store.read_account(&acc)?;
    let sk = a.sk.trim();
    let mut scope = match ac.nats.signing_keys.get(sk) {
        None => {
            bail!("{sk} is not a signing key of account {acc:?} (add it with `edit account --sk`)")
        }
        Some(Some(s)) => s.clone(),
        Some(None) => {
            let role = a
                .role
                .as_deref()
                .ok_or_else(|| anyhow!("--role is required to make {sk} a scoped signing key"))?;
            UserScope::new(sk, role)
        }
    };
    if let Some(r) = &a.role {
        if let Some(other) = ac.nats.signing_keys.by_role(r) {
            if other.key != sk {
                bail!("role {r:?} is already used by signing key {}", other.key);
            }
        }
        scope.role = r.clone();
    }
    if let Some(d) = &a.description {
        scope.description = d.clone();
    }
    a.perms.apply(&mut scope.template.permissions)?;
    a.limits.apply(&mut scope.template)?;
    let role = scope.role.clone();
    ac.nats.signing_keys.add_scope(scope);
    sign_account(ctx, &store, &acc, &mut ac)?;
    ok(format!(
        "edited signing key {sk} (role {role:?}) of account {acc:?}"
    ));
    Ok(())
}

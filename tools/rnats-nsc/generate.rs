//! `generate creds|config|activation|nkey`.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand};
use rnats::jwt::{ActivationClaims, ExportType};
use rnats::nkeys::{self, KeyKind, KeyPair};

use crate::add::subject_covers;
use crate::env::Ctx;
use crate::params::TimeFlags;
use crate::store::{self, ok, Store};

/// `generate` subcommands.
#[derive(Subcommand, Debug)]
pub enum GenerateCmd {
    /// Generate a creds file for a user
    Creds(GenCreds),
    /// Generate a server configuration for the operator's accounts
    Config(GenConfig),
    /// Generate an activation token for a private export
    Activation(GenActivation),
    /// Generate an nkey (printed, or stored with --store)
    Nkey(GenNkey),
}

/// `generate creds`.
#[derive(Args, Debug)]
pub struct GenCreds {
    /// Account name
    #[arg(short = 'a', long = "account")]
    pub account: Option<String>,
    /// User name
    #[arg(short = 'n', long = "name")]
    pub name: Option<String>,
    /// Output file, '--' is stdout (files are written with mode 0600)
    #[arg(short = 'o', long = "output-file", default_value = "--")]
    pub output_file: String,
    /// Replace the output file if it exists
    #[arg(short = 'F', long = "force")]
    pub force: bool,
}

/// `generate config`.
#[derive(Args, Debug)]
pub struct GenConfig {
    /// Generate a memory-resolver configuration (every account JWT preloaded)
    #[arg(long = "mem-resolver")]
    pub mem_resolver: bool,
    /// Generate a full nats-resolver configuration
    #[arg(long = "nats-resolver")]
    pub nats_resolver: bool,
    /// Generate a cache nats-resolver configuration
    #[arg(long = "nats-resolver-cache")]
    pub nats_resolver_cache: bool,
    /// System account, by name or public key (default: the operator's system account)
    #[arg(long = "sys-account")]
    pub sys_account: Option<String>,
    /// Output configuration file, '--' is stdout
    #[arg(long = "config-file", default_value = "--")]
    pub config_file: String,
    /// Output directory: the operator and account JWTs as files and resolver.conf (mem-resolver only)
    #[arg(long = "dir")]
    pub dir: Option<String>,
    /// Overwrite output files if they exist
    #[arg(short = 'F', long = "force")]
    pub force: bool,
}

/// `generate activation`.
#[derive(Args, Debug)]
pub struct GenActivation {
    /// The exporting account
    #[arg(short = 'a', long = "account")]
    pub account: Option<String>,
    /// The importing account: public key, or name in this operator
    #[arg(short = 't', long = "target-account")]
    pub target_account: String,
    /// The export subject (or a subject it contains)
    #[arg(short = 's', long = "subject")]
    pub subject: String,
    /// Output file, '--' is stdout
    #[arg(short = 'o', long = "output-file", default_value = "--")]
    pub output_file: String,
    #[command(flatten)]
    pub time: TimeFlags,
}

/// `generate nkey`.
#[derive(Args, Debug)]
pub struct GenNkey {
    /// Generate an operator key
    #[arg(short = 'o', long = "operator")]
    pub operator: bool,
    /// Generate an account key
    #[arg(short = 'a', long = "account")]
    pub account: bool,
    /// Generate a user key
    #[arg(short = 'u', long = "user")]
    pub user: bool,
    /// Generate a server key
    #[arg(long = "server")]
    pub server: bool,
    /// Generate a cluster key
    #[arg(long = "cluster")]
    pub cluster: bool,
    /// Generate a curve (xkey) key
    #[arg(long = "curve")]
    pub curve: bool,
    /// Store the seed in the keystore instead of printing it
    #[arg(short = 'S', long = "store")]
    pub store: bool,
}

/// Runs `generate`.
pub fn run(ctx: &Ctx, cmd: &GenerateCmd) -> Result<()> {
    match cmd {
        GenerateCmd::Creds(a) => gen_creds(ctx, a),
        GenerateCmd::Config(a) => gen_config(ctx, a),
        GenerateCmd::Activation(a) => gen_activation(ctx, a),
        GenerateCmd::Nkey(a) => gen_nkey(ctx, a),
    }
}

fn gen_creds(ctx: &Ctx, a: &GenCreds) -> Result<()> {
    let store = ctx.store()?;
    let acc = ctx.account_name(&store, a.account.as_deref())?;
    let user = match &a.name {
        Some(n) => store.user_name(&acc, n)?,
        None => match store.users(&acc).as_slice() {
            [only] => only.clone(),
            [] => bail!("account {acc:?} has no users"),
            _ => bail!("user is required (-n/--name)"),
        },
    };
    let (token, uc) = store.read_user(&acc, &user)?;
    let kp = ctx.keystore().get(&uc.sub)?.ok_or_else(|| {
        anyhow!(
            "the seed of user {user:?} ({}) is not in the keystore - creds need it",
            uc.sub
        )
    })?;
    let text = rnats::creds::format_user_creds(&token, &kp)?;
    if a.output_file == "--" {
        print!("{text}");
    } else {
        let p = Path::new(&a.output_file);
        rnats::creds::write_file(p, &text, a.force).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                anyhow!("{} already exists - use --force to replace it", p.display())
            } else {
                anyhow!("cannot write {}: {e}", p.display())
            }
        })?;
        ok(format!("wrote credentials to {}", p.display()));
    }
    Ok(())
}

fn sys_account_key(store: &Store, explicit: Option<&str>) -> Result<Option<(String, String)>> {
    let v = match explicit {
        Some(v) => v.to_string(),
        None => {
            let (_, oc) = store.read_operator()?;
            if oc.nats.system_account.is_empty() {
                return Ok(None);
            }
            oc.nats.system_account
        }
    };
    if nkeys::is_valid_public_key(&v, KeyKind::Account) {
        let name = store.account_name_by_key(&v).unwrap_or_default();
        Ok(Some((v, name)))
    } else {
        let (_, ac) = store
            .read_account(&v)
            .with_context(|| format!("system account {v:?}"))?;
        Ok(Some((ac.sub, v)))
    }
}

/// Writes generated output to stdout or a file (refusing to replace unless forced).
fn write_out(file: &str, text: &str, force: bool) -> Result<()> {
    if file == "--" {
        print!("{text}");
        return Ok(());
    }
    let p = Path::new(file);
    if p.exists() && !force {
        bail!("{} already exists - use --force to replace it", p.display());
    }
    std::fs::write(p, text).with_context(|| format!("cannot write {}", p.display()))?;
    ok(format!("wrote server configuration to {}", p.display()));
    Ok(())
}

/// The memory-resolver configuration, as nsc writes it.
pub fn mem_resolver_config(store: &Store, sys: Option<&str>) -> Result<String> {
    let (op_token, oc) = store.read_operator()?;
    let mut accounts = Vec::new();
    for a in store.accounts() {
        let (t, c) = store.read_account(&a)?;
        accounts.push((c.sub, a, t));
    }
    if accounts.is_empty() {
        bail!("operator {:?} has no accounts", store.name);
    }
    accounts.sort();
    let mut out = String::new();
    let _ = writeln!(out, "// Operator {:?}", oc.name);
    let _ = writeln!(out, "operator: {op_token}\n");
    if let Some(s) = sys {
        let _ = writeln!(out, "system_account: {s}\n");
    }
    out.push_str("resolver: MEMORY\n\n");
    out.push_str("resolver_preload: {\n");
    for (key, name, token) in accounts {
        let _ = writeln!(out, "  // Account {name:?}");
        let _ = writeln!(out, "  {key}: {token}\n");
    }
    out.push_str("}\n");
    Ok(out)
}

/// A nats-resolver (full or cache) configuration, as nsc writes it.
fn nats_resolver_config(store: &Store, sys: &(String, String), cache: bool) -> Result<String> {
    let (op_token, oc) = store.read_operator()?;
    let sys_name = if sys.1.is_empty() {
        store
            .account_name_by_key(&sys.0)
            .ok_or_else(|| anyhow!("system account {} is not in this store", sys.0))?
    } else {
        sys.1.clone()
    };
    let (sys_token, _) = store.read_account(&sys_name)?;
    let resolver = if cache {
        "# configuration of the nats based cache resolver\nresolver {\n    type: cache\n    # Directory in which the account jwt will be stored\n    dir: './jwt'\n    # ttl after which the file will be removed from the cache. Set to a large value in order to disable.\n    ttl: \"1h\"\n    # Timeout for lookup requests in case an account does not exist locally.\n    timeout: \"1.9s\"\n}\n"
    } else {
        "# configuration of the nats based resolver\nresolver {\n    type: full\n    # Directory in which the account jwt will be stored\n    dir: './jwt'\n    # In order to support jwt deletion, set to true\n    # If the resolver type is full delete will rename the jwt.\n    # This is to allow manual restoration in case of inadvertent deletion.\n    # To restore a jwt, remove the added suffix .delete and restart or send a reload signal.\n    # To free up storage you must manually delete files with the suffix .delete.\n    allow_delete: false\n    # Interval at which a nats-server with a nats based account resolver will compare\n    # it's state with one random nats based account resolver in the cluster and if needed, \n    # exchange jwt and converge on the same set of jwt.\n    interval: \"2m\"\n    # Timeout for lookup requests in case an account does not exist locally.\n    timeout: \"1.9s\"\n}\n"
    };
    Ok(format!(
        "# Operator named {}\noperator: {op_token}\n# System Account named {sys_name}\nsystem_account: {}\n\n{resolver}\n\n# Preload the nats based resolver with the system account jwt.\n# This is not necessary but avoids a bootstrapping system account. \n# This only applies to the system account. Therefore other account jwt are not included here.\n# To populate the resolver:\n# 1) make sure that your operator has the account server URL pointing at your nats servers.\n#    The url must start with: \"nats://\" \n#    rnats-nsc edit operator --account-jwt-server-url nats://localhost:4222\n# 2) push your accounts using: rnats-nsc push --all\n#    The argument to push -u is optional if your account server url is set as described.\n# Later changes to the system account take precedence over the system account jwt listed here.\nresolver_preload: {{\n\t{}: {sys_token},\n}}\n",
        oc.name, sys.0, sys.0
    ))
}

fn gen_config(ctx: &Ctx, a: &GenConfig) -> Result<()> {
    let kinds = [a.mem_resolver, a.nats_resolver, a.nats_resolver_cache]
        .iter()
        .filter(|b| **b)
        .count();
    if kinds == 0 {
        bail!("specify a config type option: --mem-resolver, --nats-resolver or --nats-resolver-cache");
    }
    if kinds > 1 {
        bail!("can only generate one config at a time");
    }
    let store = ctx.store()?;
    let sys = sys_account_key(&store, a.sys_account.as_deref())?;
    if let Some(dir) = &a.dir {
        if !a.mem_resolver {
            bail!("--dir is only valid with --mem-resolver");
        }
        if a.config_file != "--" {
            bail!("--dir is exclusive of --config-file");
        }
        return mem_resolver_dir(
            &store,
            sys.as_ref().map(|s| s.0.as_str()),
            Path::new(dir),
            a.force,
        );
    }
    let text = if a.mem_resolver {
        mem_resolver_config(&store, sys.as_ref().map(|s| s.0.as_str()))?
    } else {
        let sys = sys.ok_or_else(|| {
            anyhow!("a nats-resolver configuration needs a system account (--sys-account)")
        })?;
        nats_resolver_config(&store, &sys, a.nats_resolver_cache)?
    };
    write_out(&a.config_file, &text, a.force)
}

/// nsc's `--dir` output: JWT files and a resolver.conf referring to them.
fn mem_resolver_dir(store: &Store, sys: Option<&str>, dir: &Path, force: bool) -> Result<()> {
    if dir.exists() && !force {
        bail!(
            "{} already exists - use --force to write into it",
            dir.display()
        );
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let (op_token, oc) = store.read_operator()?;
    std::fs::write(dir.join(format!("{}.jwt", oc.name)), &op_token)?;
    let mut out = format!(
        "// Operator {:?}\noperator: \"./{}.jwt\"\n\n",
        oc.name, oc.name
    );
    if let Some(s) = sys {
        let _ = writeln!(out, "system_account: {s}\n");
    }
    out.push_str("resolver: MEMORY\n\nresolver_preload: {\n");
    let mut accounts = Vec::new();
    for a in store.accounts() {
        let (t, c) = store.read_account(&a)?;
        accounts.push((c.sub, a, t));
    }
    accounts.sort();
    for (key, name, token) in accounts {
        std::fs::write(dir.join(format!("{name}.jwt")), &token)?;
        let _ = writeln!(out, "  // Account {name:?}\n  {key}: \"{name}.jwt\"\n");
    }
    out.push_str("}\n");
    std::fs::write(dir.join("resolver.conf"), out)?;
    ok(format!(
        "wrote server configuration to {}",
        dir.join("resolver.conf").display()
    ));
    Ok(())
}

fn gen_activation(ctx: &Ctx, a: &GenActivation) -> Result<()> {
    let store = ctx.store()?;
    let acc = ctx.account_name(&store, a.account.as_deref())?;
    let (_, ac) = store.read_account(&acc)?;
    let target = if nkeys::is_valid_public_key(&a.target_account, KeyKind::Account) {
        a.target_account.clone()
    } else {
        store.read_account(&a.target_account)?.1.sub
    };
    let export = ac
        .nats
        .exports
        .iter()
        .find(|e| e.subject == a.subject)
        .or_else(|| {
            ac.nats
                .exports
                .iter()
                .find(|e| subject_covers(&e.subject, &a.subject))
        })
        .ok_or_else(|| anyhow!("account {acc:?} has no export matching {:?}", a.subject))?;
    if !export.token_req {
        bail!(
            "export {:?} is public: it needs no activation token",
            export.subject
        );
    }
    let mut act = ActivationClaims::new(target.clone());
    act.name = a.subject.clone();
    act.nats.import_subject = a.subject.clone();
    act.nats.import_type = Some(export.export_type.unwrap_or(ExportType::Stream));
    a.time.apply(&mut act)?;
    // Signed by the account key, or a (plain) signing key of the account.
    let ks = ctx.keystore();
    let mut allowed = vec![ac.sub.clone()];
    allowed.extend(
        ac.nats
            .signing_keys
            .iter()
            .filter(|(_, s)| s.is_none())
            .map(|(k, _)| k.to_string()),
    );
    let signer = store::pick_signer(&ks, ctx.signer.as_deref(), &allowed, "activations")?;
    if signer.public_key() != ac.sub {
        act.nats.issuer_account = ac.sub.clone();
    }
    let token = act.encode(&signer)?;
    let text = rnats::creds::decorate_jwt("activation", &token);
    if a.output_file == "--" {
        print!("{text}");
    } else {
        std::fs::write(&a.output_file, &text)
            .with_context(|| format!("cannot write {}", a.output_file))?;
        ok(format!("wrote activation token to {}", a.output_file));
    }
    ok(format!(
        "generated {:?} activation for account {target} (expires {})",
        a.subject,
        if act.exp == 0 {
            "never".to_string()
        } else {
            crate::params::format_unix(act.exp)
        }
    ));
    Ok(())
}

fn gen_nkey(ctx: &Ctx, a: &GenNkey) -> Result<()> {
    let kinds: Vec<KeyKind> = [
        (a.operator, KeyKind::Operator),
        (a.account, KeyKind::Account),
        (a.user, KeyKind::User),
        (a.server, KeyKind::Server),
        (a.cluster, KeyKind::Cluster),
        (a.curve, KeyKind::Curve),
    ]
    .iter()
    .filter(|(b, _)| *b)
    .map(|(_, k)| *k)
    .collect();
    if kinds.is_empty() {
        bail!("specify a key type: --operator, --account, --user, --server, --cluster or --curve");
    }
    for kind in kinds {
        let kp = KeyPair::new(kind);
        if a.store {
            let p = ctx.keystore().store(&kp)?;
            println!("{}", kp.public_key());
            ok(format!("stored {kind} key in {}", p.display()));
        } else {
            println!("{}", kp.seed()?.as_str());
            println!("{}", kp.public_key());
        }
    }
    Ok(())
}

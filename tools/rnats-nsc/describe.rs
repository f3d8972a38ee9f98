//! `describe operator|account|user|jwt` and `list operators|accounts|users|keys`.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand};
use rnats::jwt::{self, AccountClaims, AnyClaims, OperatorClaims, UserClaims};

use crate::env::Ctx;
use crate::params::format_unix;

/// Output options shared by the describe commands.
#[derive(Args, Debug, Clone)]
pub struct Output {
    /// Describe as JSON (the decoded claims)
    #[arg(short = 'J', long = "json", global = true)]
    pub json: bool,
    /// Output the raw JWT
    #[arg(short = 'R', long = "raw", global = true)]
    pub raw: bool,
    /// Print only this field of the JSON claims (e.g. nats.limits.conn)
    #[arg(short = 'F', long = "field", global = true)]
    pub field: Option<String>,
    /// Output file, '--' is stdout
    #[arg(short = 'o', long = "output-file", global = true, default_value = "--")]
    pub output_file: String,
}

/// `describe`.
#[derive(Args, Debug)]
pub struct DescribeArgs {
    #[command(subcommand)]
    pub cmd: DescribeCmd,
    #[command(flatten)]
    pub out: Output,
}

/// `describe` subcommands.
#[derive(Subcommand, Debug)]
pub enum DescribeCmd {
    /// Describe the operator
    Operator {
        /// Operator name (default: the current operator)
        #[arg(short = 'n', long = "name")]
        name: Option<String>,
    },
    /// Describe an account
    Account {
        /// Account name
        #[arg(short = 'n', long = "name")]
        name: Option<String>,
        /// Account name (same as --name)
        #[arg(value_name = "NAME", conflicts_with = "name")]
        name_arg: Option<String>,
    },
    /// Describe a user
    User {
        /// Account name
        #[arg(short = 'a', long = "account")]
        account: Option<String>,
        /// User name
        #[arg(short = 'n', long = "name")]
        name: Option<String>,
        /// User name (same as --name)
        #[arg(value_name = "NAME", conflicts_with = "name")]
        name_arg: Option<String>,
    },
    /// Describe a JWT (or creds) file: decode, verify and show it
    Jwt {
        /// A file holding the token
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
    },
}

/// `list` subcommands.
#[derive(Subcommand, Debug)]
pub enum ListCmd {
    /// List operators in the data dir
    #[command(alias = "operator")]
    Operators,
    /// List accounts of the current operator
    #[command(alias = "account")]
    Accounts,
    /// List users of an account
    #[command(alias = "user")]
    Users {
        /// Account name
        #[arg(short = 'a', long = "account")]
        account: Option<String>,
    },
    /// List the keys of the current operator and whether their seeds are stored
    Keys {
        /// Account name (default: all accounts)
        #[arg(short = 'a', long = "account")]
        account: Option<String>,
    },
}

fn emit(out: &Output, text: &str) -> Result<()> {
    if out.output_file == "--" {
        print!("{text}");
        if !text.ends_with('\n') {
            println!();
        }
        Ok(())
    } else {
        std::fs::write(&out.output_file, text)
            .with_context(|| format!("cannot write {}", out.output_file))
    }
}

fn field(v: &serde_json::Value, path: &str) -> Result<String> {
    let mut cur = v;
    for p in path.split('.').filter(|p| !p.is_empty()) {
        cur = match cur {
            serde_json::Value::Array(a) => p.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => cur.get(p),
        }
        .ok_or_else(|| anyhow!("field {path:?} not found"))?;
    }
    Ok(match cur {
        serde_json::Value::String(s) => s.clone(),
        other => serde_json::to_string_pretty(other)?,
    })
}

/// Renders a claim according to the output flags, or with `human`.
fn render<T: serde::Serialize>(
    out: &Output,
    token: &str,
    claims: &T,
    human: impl FnOnce() -> String,
) -> Result<()> {
    if out.raw {
        return emit(out, token);
    }
    let v = serde_json::to_value(claims)?;
    if let Some(f) = &out.field {
        return emit(out, &field(&v, f)?);
    }
    if out.json {
        return emit(out, &serde_json::to_string_pretty(&v)?);
    }
    emit(out, &human())
}

/// Runs `describe`.
pub fn run(ctx: &Ctx, a: &DescribeArgs) -> Result<()> {
    match &a.cmd {
        DescribeCmd::Operator { name } => {
            let store = match name {
                Some(n) => crate::store::Store::open(&ctx.data_dir, n)?,
                None => ctx.store()?,
            };
            let (t, oc) = store.read_operator()?;
            let names = account_names(&store);
            render(&a.out, &t, &oc, || describe_operator(&oc, &names))
        }
        DescribeCmd::Account { name, name_arg } => {
            let store = ctx.store()?;
            let acc = ctx.account_name(&store, name.as_deref().or(name_arg.as_deref()))?;
            let (t, ac) = store.read_account(&acc)?;
            let names = account_names(&store);
            render(&a.out, &t, &ac, || describe_account(&ac, &names))
        }
        DescribeCmd::User {
            account,
            name,
            name_arg,
        } => {
            let store = ctx.store()?;
            let acc = ctx.account_name(&store, account.as_deref())?;
            let user = match name.as_ref().or(name_arg.as_ref()) {
                Some(n) => store.user_name(&acc, n)?,
                None => match store.users(&acc).as_slice() {
                    [only] => only.clone(),
                    _ => bail!("user name is required (-n/--name)"),
                },
            };
            let (t, uc) = store.read_user(&acc, &user)?;
            let names = account_names(&store);
            render(&a.out, &t, &uc, || describe_user(&uc, &names))
        }
        DescribeCmd::Jwt { file } => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let token = rnats::creds::parse_jwt(&text)?;
            let any = jwt::decode(&token).context("the token does not verify")?;
            let names = Vec::new();
            match &any {
                AnyClaims::Operator(c) => {
                    render(&a.out, &token, c, || describe_operator(c, &names))
                }
                AnyClaims::Account(c) => {
                    render(&a.out, &token, c.as_ref(), || describe_account(c, &names))
                }
                AnyClaims::User(c) => render(&a.out, &token, c, || describe_user(c, &names)),
                AnyClaims::Activation(c) => render(&a.out, &token, c, || c.to_json_pretty()),
                AnyClaims::Generic(c) => render(&a.out, &token, c, || c.to_json_pretty()),
            }
        }
    }
}

/// (public key, name) of every account in the store, to show names.
fn account_names(store: &crate::store::Store) -> Vec<(String, String)> {
    store
        .accounts()
        .into_iter()
        .filter_map(|a| store.read_account(&a).ok().map(|(_, c)| (c.sub, a)))
        .collect()
}

fn with_name(key: &str, names: &[(String, String)]) -> String {
    match names.iter().find(|(k, _)| k == key) {
        Some((_, n)) => format!("{key} ({n})"),
        None => key.to_string(),
    }
}

fn limit(v: i64) -> String {
    if v < 0 {
        "Unlimited".into()
    } else {
        v.to_string()
    }
}

fn date(v: i64) -> String {
    if v == 0 {
        String::new()
    } else {
        format_unix(v)
    }
}

struct Table(String);

impl Table {
    fn new(title: &str) -> Table {
        Table(format!("{title}\n"))
    }
    fn row(&mut self, k: &str, v: impl AsRef<str>) {
        let _ = writeln!(self.0, "  {k:<28} {}", v.as_ref());
    }
    fn list(&mut self, k: &str, vs: &[String]) {
        if vs.is_empty() {
            return;
        }
        for (i, v) in vs.iter().enumerate() {
            self.row(if i == 0 { k } else { "" }, v);
        }
    }
    fn section(&mut self, title: &str) {
        let _ = writeln!(self.0, "\n{title}");
    }
}

fn common<N>(t: &mut Table, c: &jwt::Claims<N>, id_label: &str, names: &[(String, String)]) {
    t.row("Name", &c.name);
    t.row(id_label, &c.sub);
    t.row("Issuer ID", with_name(&c.iss, names));
    t.row("Issued", date(c.iat));
    t.row("Expires", date(c.exp));
    if c.nbf != 0 {
        t.row("Not Before", date(c.nbf));
    }
    t.row("ID (jti)", &c.jti);
}

fn describe_operator(oc: &OperatorClaims, names: &[(String, String)]) -> String {
    let mut t = Table::new("Operator Details");
    common(&mut t, oc, "Operator ID", names);
    let n = &oc.nats;
    t.row("Account JWT Server", &n.account_server_url);
    t.list("Operator Service URLs", &n.operator_service_urls);
    t.row("System Account", with_name(&n.system_account, names));
    t.row(
        "Require Signing Keys",
        n.strict_signing_key_usage.to_string(),
    );
    if !n.assert_server_version.is_empty() {
        t.row("Assert Server Version", &n.assert_server_version);
    }
    t.list("Signing Keys", &n.signing_keys);
    t.list("Tags", &n.generic.tags);
    t.0
}

fn describe_account(ac: &AccountClaims, names: &[(String, String)]) -> String {
    let mut t = Table::new("Account Details");
    common(&mut t, ac, "Account ID", names);
    let n = &ac.nats;
    if !n.info.description.is_empty() {
        t.row("Description", &n.info.description);
    }
    if !n.info.info_url.is_empty() {
        t.row("Info Url", &n.info.info_url);
    }
    let l = &n.limits;
    t.row("Max Connections", limit(l.account.conn));
    t.row("Max Leaf Node Connections", limit(l.account.leaf_node_conn));
    t.row("Max Data", limit(l.nats.data));
    t.row("Max Exports", limit(l.account.exports));
    t.row("Max Imports", limit(l.account.imports));
    t.row("Max Msg Payload", limit(l.nats.payload));
    t.row("Max Subscriptions", limit(l.nats.subs));
    t.row(
        "Exports Allows Wildcards",
        l.account.wildcard_exports.to_string(),
    );
    t.row(
        "Disallow Bearer Token",
        l.account.disallow_bearer.to_string(),
    );
    if l.is_jetstream_enabled() {
        let js = |t: &mut Table, tier: &str, j: &jwt::JetStreamLimits| {
            t.row(&format!("JetStream {tier}Memory"), limit(j.memory_storage));
            t.row(&format!("JetStream {tier}Disk"), limit(j.disk_storage));
            t.row(&format!("JetStream {tier}Streams"), limit(j.streams));
            t.row(&format!("JetStream {tier}Consumers"), limit(j.consumer));
        };
        if l.tiered_limits.is_empty() {
            js(&mut t, "", &l.jetstream);
        } else {
            for (tier, j) in &l.tiered_limits {
                js(&mut t, &format!("{tier} "), j);
            }
        }
    } else {
        t.row("JetStream", "Disabled");
    }
    let pubs = &n.default_permissions.publish;
    let subs = &n.default_permissions.subscribe;
    t.list("Default Pub Allow", &pubs.allow);
    t.list("Default Pub Deny", &pubs.deny);
    t.list("Default Sub Allow", &subs.allow);
    t.list("Default Sub Deny", &subs.deny);
    let sks: Vec<String> = n
        .signing_keys
        .iter()
        .map(|(k, s)| match s {
            Some(scope) => format!("{k} (scoped, role {:?})", scope.role),
            None => k.to_string(),
        })
        .collect();
    t.list("Signing Keys", &sks);
    t.row("Revocations", n.revocations.0.len().to_string());
    t.list("Tags", &n.generic.tags);
    if !n.exports.is_empty() {
        t.section("Exports");
        for e in &n.exports {
            let kind = e.export_type.map(|k| k.to_string()).unwrap_or_default();
            let vis = if e.token_req { "private" } else { "public" };
            let mut line = format!("{:<24} {:<8} {:<8} {}", e.name, kind, vis, e.subject);
            if !e.response_type.is_empty() {
                let _ = write!(line, " response:{}", e.response_type);
            }
            if e.account_token_position > 0 {
                let _ = write!(line, " account-token-position:{}", e.account_token_position);
            }
            let _ = writeln!(t.0, "  {line}");
        }
    }
    if !n.imports.is_empty() {
        t.section("Imports");
        for i in &n.imports {
            let kind = i.import_type.map(|k| k.to_string()).unwrap_or_default();
            let local = if i.local_subject.is_empty() {
                &i.subject
            } else {
                &i.local_subject
            };
            let _ = writeln!(
                t.0,
                "  {:<24} {:<8} {} -> {} from {}{}",
                i.name,
                kind,
                i.subject,
                local,
                with_name(&i.account, names),
                if i.token.is_empty() {
                    ""
                } else {
                    " (activation token)"
                }
            );
        }
    }
    for (k, scope) in n.signing_keys.iter() {
        if let Some(s) = scope {
            t.section(&format!("Scoped signing key {k}"));
            t.row("Role", &s.role);
            if !s.description.is_empty() {
                t.row("Description", &s.description);
            }
            user_limits(&mut t, &s.template);
        }
    }
    t.0
}

fn user_limits(t: &mut Table, u: &jwt::UserPermissionLimits) {
    let p = &u.permissions;
    t.list("Pub Allow", &p.publish.allow);
    t.list("Pub Deny", &p.publish.deny);
    t.list("Sub Allow", &p.subscribe.allow);
    t.list("Sub Deny", &p.subscribe.deny);
    if let Some(r) = &p.resp {
        let ttl = if r.expires_ns == 0 {
            "no ttl".to_string()
        } else {
            format!("{}ms", r.expires_ns / 1_000_000)
        };
        t.row(
            "Response Permission",
            format!("max {} msgs, {ttl}", r.max_msgs),
        );
    }
    t.row("Max Msg Payload", limit_or_zero(u.limits.payload));
    t.row("Max Data", limit_or_zero(u.limits.data));
    t.row("Max Subs", limit_or_zero(u.limits.subs));
    t.list("Source Networks", &u.src);
    let times: Vec<String> = u
        .times
        .iter()
        .map(|r| format!("{}-{}", r.start, r.end))
        .collect();
    t.list("Time Ranges", &times);
    if !u.locale.is_empty() {
        t.row("Locale", &u.locale);
    }
    t.list("Allowed Connection Types", &u.allowed_connection_types);
    t.row("Bearer Token", u.bearer_token.to_string());
}

fn limit_or_zero(v: i64) -> String {
    if v == 0 {
        "not set".into()
    } else {
        limit(v)
    }
}

fn describe_user(uc: &UserClaims, names: &[(String, String)]) -> String {
    let mut t = Table::new("User Details");
    common(&mut t, uc, "User ID", names);
    if !uc.nats.issuer_account.is_empty() {
        t.row("Issuer Account", with_name(&uc.nats.issuer_account, names));
    }
    if uc.has_empty_permissions() && !uc.nats.issuer_account.is_empty() {
        t.row("Permissions", "from the scope of the signing key");
    } else {
        user_limits(&mut t, &uc.nats.permission_limits);
    }
    t.list("Tags", &uc.nats.generic.tags);
    t.0
}

/// Runs `list`.
pub fn run_list(ctx: &Ctx, cmd: &ListCmd) -> Result<()> {
    match cmd {
        ListCmd::Operators => {
            let current = ctx.operator_name().ok();
            for op in ctx.operators() {
                let key = crate::store::Store::open(&ctx.data_dir, &op)
                    .and_then(|s| s.read_operator())
                    .map(|(_, c)| c.sub)
                    .unwrap_or_else(|e| format!("error: {e}"));
                let mark = if current.as_deref() == Some(op.as_str()) {
                    "*"
                } else {
                    " "
                };
                println!("{mark} {op:<24} {key}");
            }
        }
        ListCmd::Accounts => {
            let store = ctx.store()?;
            let current = ctx.account_name(&store, None).ok();
            for a in store.accounts() {
                let key = store
                    .read_account(&a)
                    .map(|(_, c)| c.sub)
                    .unwrap_or_else(|e| format!("error: {e}"));
                let mark = if current.as_deref() == Some(a.as_str()) {
                    "*"
                } else {
                    " "
                };
                println!("{mark} {a:<24} {key}");
            }
        }
        ListCmd::Users { account } => {
            let store = ctx.store()?;
            let acc = ctx.account_name(&store, account.as_deref())?;
            for u in store.users(&acc) {
                let key = store
                    .read_user(&acc, &u)
                    .map(|(_, c)| c.sub)
                    .unwrap_or_else(|e| format!("error: {e}"));
                println!("  {u:<24} {key}");
            }
        }
        ListCmd::Keys { account } => {
            let store = ctx.store()?;
            let ks = ctx.keystore();
            let stored = |k: &str| if ks.has(k) { "*" } else { " " };
            let (_, oc) = store.read_operator()?;
            println!("{:<10} {:<20} {:<56} stored", "kind", "entity", "key");
            println!(
                "{:<10} {:<20} {} {}",
                "operator",
                oc.name,
                oc.sub,
                stored(&oc.sub)
            );
            for k in &oc.nats.signing_keys {
                println!("{:<10} {:<20} {} {}", "op-sk", oc.name, k, stored(k));
            }
            let accounts = match account {
                Some(a) => vec![ctx.account_name(&store, Some(a))?],
                None => store.accounts(),
            };
            for a in accounts {
                let (_, ac) = store.read_account(&a)?;
                println!("{:<10} {:<20} {} {}", "account", a, ac.sub, stored(&ac.sub));
                for k in ac.nats.signing_keys.keys() {
                    println!("{:<10} {:<20} {} {}", "acc-sk", a, k, stored(k));
                }
                for u in store.users(&a) {
                    if let Ok((_, uc)) = store.read_user(&a, &u) {
                        println!("{:<10} {:<20} {} {}", "user", u, uc.sub, stored(&uc.sub));
                    }
                }
            }
        }
    }
    Ok(())
}

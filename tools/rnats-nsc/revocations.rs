//! `revocations add-user|delete-user|list-users|add-activation|delete-activation|list-activations`.

use anyhow::{anyhow, bail, Result};
use clap::{Args, Subcommand};
use rnats::jwt::{self, REVOKE_ALL};
use rnats::nkeys::{self, KeyKind};

use crate::add::sign_account;
use crate::env::Ctx;
use crate::params::{format_unix, parse_at};
use crate::store::{ok, Store};

/// `revocations` subcommands.
#[derive(Subcommand, Debug)]
pub enum RevocationsCmd {
    /// Revoke a user's credentials issued at or before a time (default now)
    #[command(name = "add-user", alias = "add_user")]
    AddUser(UserRev),
    /// Remove a user revocation
    #[command(name = "delete-user", alias = "delete_user")]
    DeleteUser(UserRev),
    /// List the user revocations of an account
    #[command(name = "list-users", alias = "list_users")]
    ListUsers(AccountOnly),
    /// Revoke an importing account's activations of an export
    #[command(name = "add-activation", alias = "add_activation")]
    AddActivation(ActivationRev),
    /// Remove an activation revocation
    #[command(name = "delete-activation", alias = "delete_activation")]
    DeleteActivation(ActivationRev),
    /// List the activation revocations of an account's exports
    #[command(name = "list-activations", alias = "list_activations")]
    ListActivations(AccountOnly),
}

/// A user revocation.
#[derive(Args, Debug)]
pub struct UserRev {
    /// Account name
    #[arg(short = 'a', long = "account")]
    pub account: Option<String>,
    /// User name
    #[arg(short = 'n', long = "name")]
    pub name: Option<String>,
    /// User public key, or "*" for all users
    #[arg(short = 'u', long = "user-public-key")]
    pub user_public_key: Option<String>,
    /// Revoke credentials created at or before this time: RFC3339 or seconds since epoch ('0' is now)
    #[arg(long = "at")]
    pub at: Option<String>,
}

/// An activation revocation.
#[derive(Args, Debug)]
pub struct ActivationRev {
    /// The exporting account
    #[arg(short = 'a', long = "account")]
    pub account: Option<String>,
    /// The export subject
    #[arg(short = 's', long = "subject")]
    pub subject: String,
    /// The importing account's public key (or name), or "*" for all
    #[arg(short = 't', long = "target-account")]
    pub target_account: String,
    /// The export is a service (default: stream)
    #[arg(long = "service")]
    pub service: bool,
    /// Revoke activations created at or before this time ('0' is now)
    #[arg(long = "at")]
    pub at: Option<String>,
}

/// Only an account.
#[derive(Args, Debug)]
pub struct AccountOnly {
    /// Account name
    #[arg(short = 'a', long = "account")]
    pub account: Option<String>,
}

/// Runs `revocations`.
pub fn run(ctx: &Ctx, cmd: &RevocationsCmd) -> Result<()> {
    match cmd {
        RevocationsCmd::AddUser(a) => user(ctx, a, true),
        RevocationsCmd::DeleteUser(a) => user(ctx, a, false),
        RevocationsCmd::ListUsers(a) => list_users(ctx, a),
        RevocationsCmd::AddActivation(a) => activation(ctx, a, true),
        RevocationsCmd::DeleteActivation(a) => activation(ctx, a, false),
        RevocationsCmd::ListActivations(a) => list_activations(ctx, a),
    }
}

fn user_key(store: &Store, acc: &str, a: &UserRev) -> Result<String> {
    match (&a.name, &a.user_public_key) {
        (Some(_), Some(_)) => bail!("--name and --user-public-key are mutually exclusive"),
        (Some(n), None) => Ok(store.read_user(acc, &store.user_name(acc, n)?)?.1.sub),
        (None, Some(k)) => {
            if k != REVOKE_ALL && !nkeys::is_valid_public_key(k, KeyKind::User) {
                bail!("{k:?} is not a user public key (or \"*\")");
            }
            Ok(k.clone())
        }
        (None, None) => match store.users(acc).as_slice() {
            [only] => Ok(store.read_user(acc, only)?.1.sub),
            _ => Err(anyhow!("specify the user with --name or --user-public-key")),
        },
    }
}

fn user(ctx: &Ctx, a: &UserRev, add: bool) -> Result<()> {
    let store = ctx.store()?;
    let acc = ctx.account_name(&store, a.account.as_deref())?;
    let key = user_key(&store, &acc, a)?;
    let (_, mut ac) = store.read_account(&acc)?;
    if add {
        let at = parse_at(a.at.as_deref(), jwt::now())?;
        ac.nats.revocations.revoke(&key, at);
        sign_account(ctx, &store, &acc, &mut ac)?;
        ok(format!(
            "revoked user {key:?} in account {acc:?}: credentials issued at or before {}",
            format_unix(ac.nats.revocations.0[&key])
        ));
    } else {
        if !ac.nats.revocations.0.contains_key(&key) {
            bail!("user {key:?} is not revoked in account {acc:?}");
        }
        ac.nats.revocations.clear(&key);
        sign_account(ctx, &store, &acc, &mut ac)?;
        ok(format!(
            "deleted the revocation of user {key:?} in account {acc:?}"
        ));
    }
    eprintln!("note: push the account (or update the server config) for servers to see the change");
    Ok(())
}

fn list_users(ctx: &Ctx, a: &AccountOnly) -> Result<()> {
    let store = ctx.store()?;
    let acc = ctx.account_name(&store, a.account.as_deref())?;
    let (_, ac) = store.read_account(&acc)?;
    let names: Vec<(String, String)> = store
        .users(&acc)
        .into_iter()
        .filter_map(|u| store.read_user(&acc, &u).ok().map(|(_, c)| (c.sub, u)))
        .collect();
    if ac.nats.revocations.is_empty() {
        println!("account {acc:?} has no revoked users");
        return Ok(());
    }
    println!("Revoked users of account {acc:?}");
    for (k, at) in &ac.nats.revocations.0 {
        let name = names
            .iter()
            .find(|(s, _)| s == k)
            .map(|(_, n)| n.as_str())
            .unwrap_or(if k == REVOKE_ALL { "(all users)" } else { "" });
        println!("  {k:<56} {:<24} {}", format_unix(*at), name);
    }
    Ok(())
}

fn activation(ctx: &Ctx, a: &ActivationRev, add: bool) -> Result<()> {
    let store = ctx.store()?;
    let acc = ctx.account_name(&store, a.account.as_deref())?;
    let (_, mut ac) = store.read_account(&acc)?;
    let target = if a.target_account == REVOKE_ALL
        || nkeys::is_valid_public_key(&a.target_account, KeyKind::Account)
    {
        a.target_account.clone()
    } else {
        store.read_account(&a.target_account)?.1.sub
    };
    let kind = if a.service {
        jwt::ExportType::Service
    } else {
        jwt::ExportType::Stream
    };
    let export = ac
        .nats
        .exports
        .iter_mut()
        .find(|e| e.subject == a.subject && e.export_type == Some(kind))
        .ok_or_else(|| anyhow!("account {acc:?} has no {kind} export {:?}", a.subject))?;
    if add {
        let at = parse_at(a.at.as_deref(), jwt::now())?;
        export.revocations.revoke(&target, at);
    } else {
        if !export.revocations.0.contains_key(&target) {
            bail!("{target:?} has no revoked activation for {:?}", a.subject);
        }
        export.revocations.clear(&target);
    }
    sign_account(ctx, &store, &acc, &mut ac)?;
    ok(format!(
        "{} activation revocation of {target:?} for export {:?}",
        if add { "added" } else { "deleted" },
        a.subject
    ));
    Ok(())
}

fn list_activations(ctx: &Ctx, a: &AccountOnly) -> Result<()> {
    let store = ctx.store()?;
    let acc = ctx.account_name(&store, a.account.as_deref())?;
    let (_, ac) = store.read_account(&acc)?;
    let mut any = false;
    for e in &ac.nats.exports {
        for (k, at) in &e.revocations.0 {
            any = true;
            println!("  {:<24} {k:<56} {}", e.subject, format_unix(*at));
        }
    }
    if !any {
        println!("account {acc:?} has no revoked activations");
    }
    Ok(())
}

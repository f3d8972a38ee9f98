//! `delete user`.

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use rnats::jwt;

use crate::add::sign_account;
use crate::env::Ctx;
use crate::store::ok;

/// `delete` subcommands.
#[derive(Subcommand, Debug)]
pub enum DeleteCmd {
    /// Delete users of an account
    User(DeleteUser),
}

/// `delete user`.
#[derive(Args, Debug)]
pub struct DeleteUser {
    /// Account name
    #[arg(short = 'a', long = "account")]
    pub account: Option<String>,
    /// Names of the users to delete - comma separated list or option can be specified multiple times
    #[arg(short = 'n', long = "name", value_delimiter = ',', required = true)]
    pub names: Vec<String>,
    /// Revoke the users before deleting them
    #[arg(short = 'R', long = "revoke")]
    pub revoke: bool,
    /// Delete the users' seeds from the keystore
    #[arg(short = 'D', long = "rm-nkey")]
    pub rm_nkey: bool,
    /// Delete the users' creds files from the keystore
    #[arg(short = 'C', long = "rm-creds")]
    pub rm_creds: bool,
}

/// Runs `delete`.
pub fn run(ctx: &Ctx, cmd: &DeleteCmd) -> Result<()> {
    let DeleteCmd::User(a) = cmd;
    let store = ctx.store()?;
    let acc = ctx.account_name(&store, a.account.as_deref())?;
    let mut users = Vec::new();
    for n in &a.names {
        let name = store.user_name(&acc, n)?;
        let (_, uc) = store.read_user(&acc, &name)?;
        users.push((name, uc.sub));
    }
    if users.is_empty() {
        bail!("no user given");
    }
    if a.revoke {
        let (_, mut ac) = store.read_account(&acc)?;
        let now = jwt::now();
        for (_, key) in &users {
            ac.nats.revocations.revoke(key, now);
        }
        sign_account(ctx, &store, &acc, &mut ac)?;
        ok(format!(
            "revoked {} user(s) in account {acc:?}",
            users.len()
        ));
    }
    let ks = ctx.keystore();
    for (name, key) in &users {
        std::fs::remove_file(store.user_path(&acc, name))?;
        if a.rm_nkey && ks.remove(key)? {
            ok(format!("deleted the seed of user {name:?}"));
        }
        if a.rm_creds {
            let p = ks.creds_path(&store.name, &acc, name);
            if p.exists() {
                std::fs::remove_file(&p)?;
                ok(format!("deleted {}", p.display()));
            }
        }
        ok(format!("deleted user {name:?}"));
    }
    Ok(())
}

//! rnats-nsc: creates NATS operators, accounts and users and manages their
//! permissions, with nsc's command syntax and on-disk layout, so nsc users'
//! habits and scripts carry over.
//!
//! One file per command group: `add`, `edit`, `describe` (with `list`),
//! `generate`, `revocations`, `push`, `delete`, `env` (with `select`).
//! Signing, JWTs and creds come from the rnats library; this binary only
//! reads flags and files.

mod add;
mod delete;
mod describe;
mod edit;
mod env;
mod generate;
mod params;
mod push;
mod revocations;
mod store;

use clap::{Parser, Subcommand};

/// Creates NATS operators, accounts and users and manages their permissions (nsc-compatible).
#[derive(Parser, Debug)]
#[command(name = "rnats-nsc", version, propagate_version = true)]
struct Cli {
    #[command(flatten)]
    global: env::GlobalArgs,
    #[command(subcommand)]
    cmd: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Add operators, accounts, users, exports and imports
    #[command(subcommand)]
    Add(add::AddCmd),
    /// Edit operators, accounts, users and signing key scopes
    #[command(subcommand)]
    Edit(edit::EditCmd),
    /// Describe operators, accounts, users and JWT files
    Describe(describe::DescribeArgs),
    /// List operators, accounts, users and keys
    #[command(subcommand)]
    List(describe::ListCmd),
    /// Generate creds files, server configurations, activation tokens and nkeys
    #[command(subcommand)]
    Generate(generate::GenerateCmd),
    /// Manage user and activation revocations
    #[command(subcommand, alias = "revoke")]
    Revocations(revocations::RevocationsCmd),
    /// Push account JWTs to an account server (http://) or a nats-resolver server (nats://)
    Push(push::PushArgs),
    /// Delete users
    #[command(subcommand)]
    Delete(delete::DeleteCmd),
    /// Select the current operator or account
    #[command(subcommand)]
    Select(env::SelectCmd),
    /// Show the directories and the current context
    Env,
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let mut ctx = env::Ctx::new(&cli.global)?;
    match &cli.cmd {
        Command::Add(c) => add::run(&mut ctx, c),
        Command::Edit(c) => edit::run(&mut ctx, c),
        Command::Describe(c) => describe::run(&ctx, c),
        Command::List(c) => describe::run_list(&ctx, c),
        Command::Generate(c) => generate::run(&ctx, c),
        Command::Revocations(c) => revocations::run(&ctx, c),
        Command::Push(c) => push::run(&ctx, c),
        Command::Delete(c) => delete::run(&ctx, c),
        Command::Select(c) => env::run_select(&mut ctx, c),
        Command::Env => env::run_env(&ctx),
    }
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        eprintln!("Error: {e:#}");
        std::process::exit(1);
    }
}

//! Where things live (nsc's home.go/defaults.go rules), the current
//! operator/account context (`nsc.json`), and the `env` and `select`
//! commands.
//!
//! Directories, first match wins:
//! - config: `--config-dir`, `-H`, `$NSC_HOME`, legacy `~/.nsc` if it has an
//!   `nsc.json` and the new one does not, `$XDG_CONFIG_HOME/nats/nsc`,
//!   `~/.config/nats/nsc`.
//! - data (stores): `--data-dir`, `-H`, `store_root` saved in `nsc.json`,
//!   legacy `~/.nsc/nats` if the new one is absent,
//!   `$XDG_DATA_HOME/nats/nsc/stores`, `~/.local/share/nats/nsc/stores`.
//! - keystore: `--keystore-dir`, `-H`, `$NKEYS_PATH`, legacy `~/.nkeys` if the
//!   new one is absent, `$XDG_DATA_HOME/nats/nsc/keys`,
//!   `~/.local/share/nats/nsc/keys`.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand};
use serde_json::{Map, Value};

use crate::store::{KeyStore, Store};

/// Global flags of every command.
#[derive(Args, Clone, Default)]
pub struct GlobalArgs {
    /// nsc config directory (holds nsc.json, the current context)
    #[arg(long = "config-dir", global = true, value_name = "DIR")]
    pub config_dir: Option<PathBuf>,
    /// nsc data store directory (operators, accounts, users JWTs)
    #[arg(long = "data-dir", global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// nsc keystore directory (seeds and creds)
    #[arg(long = "keystore-dir", global = true, value_name = "DIR")]
    pub keystore_dir: Option<PathBuf>,
    /// Sets --config-dir, --data-dir and --keystore-dir to the same value
    #[arg(short = 'H', long = "all-dirs", global = true, value_name = "DIR")]
    pub all_dirs: Option<PathBuf>,
    /// Key used to sign: a public key (its seed is taken from the keystore), a seed, a path to a key file, or the role of a scoped signing key
    #[arg(short = 'K', long = "private-key", global = true, value_name = "KEY")]
    pub private_key: Option<String>,
}

/// `-K` may hold a seed: it never appears in `Debug` output.
impl std::fmt::Debug for GlobalArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GlobalArgs")
            .field("config_dir", &self.config_dir)
            .field("data_dir", &self.data_dir)
            .field("keystore_dir", &self.keystore_dir)
            .field("all_dirs", &self.all_dirs)
            .field(
                "private_key",
                &self.private_key.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Everything a command needs to find the store and keys.
pub struct Ctx {
    /// Config directory (nsc.json).
    pub config_dir: PathBuf,
    /// Stores root: one directory per operator.
    pub data_dir: PathBuf,
    /// Keystore root (`keys/`, `creds/`).
    pub keys_dir: PathBuf,
    /// `-K`.
    pub signer: Option<String>,
    /// nsc.json content (unknown fields kept).
    config: Map<String, Value>,
}

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn env_dir(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// `~` expansion and absolute paths, as nsc's `Expand`.
fn expand(p: &Path) -> PathBuf {
    let s = p.to_string_lossy();
    let p = if let Some(rest) = s.strip_prefix("~/") {
        home().join(rest)
    } else if s == "~" {
        home()
    } else {
        p.to_path_buf()
    };
    if p.is_absolute() {
        p
    } else {
        std::env::current_dir().map(|d| d.join(&p)).unwrap_or(p)
    }
}

impl Ctx {
    /// Resolves directories and loads the context.
    pub fn new(g: &GlobalArgs) -> Result<Ctx> {
        let all = g.all_dirs.as_deref();
        let config_home = env_dir("XDG_CONFIG_HOME").unwrap_or_else(|| home().join(".config"));
        let data_home = env_dir("XDG_DATA_HOME").unwrap_or_else(|| home().join(".local/share"));

        let config_dir = match g.config_dir.as_deref().or(all) {
            Some(d) => expand(d),
            None => match env_dir("NSC_HOME") {
                Some(d) => expand(&d),
                None => {
                    let new = config_home.join("nats/nsc");
                    let old = home().join(".nsc");
                    if !new.join("nsc.json").exists() && old.join("nsc.json").exists() {
                        old
                    } else {
                        new
                    }
                }
            },
        };
        std::fs::create_dir_all(&config_dir)
            .with_context(|| format!("cannot create config dir {}", config_dir.display()))?;
        let config_file = config_dir.join("nsc.json");
        let config: Map<String, Value> = if config_file.exists() {
            let text = std::fs::read_to_string(&config_file)
                .with_context(|| format!("cannot read {}", config_file.display()))?;
            serde_json::from_str(&text)
                .with_context(|| format!("{} is not valid JSON", config_file.display()))?
        } else {
            Map::new()
        };

        let saved_root = config
            .get("store_root")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(PathBuf::from);
        let data_dir = match g.data_dir.as_deref().or(all) {
            Some(d) => expand(d),
            None => match saved_root {
                Some(d) => d,
                None => {
                    let new = data_home.join("nats/nsc/stores");
                    let old = home().join(".nsc/nats");
                    if !new.exists() && old.exists() {
                        old
                    } else {
                        new
                    }
                }
            },
        };
        let keys_dir = match g.keystore_dir.as_deref().or(all) {
            Some(d) => expand(d),
            None => match env_dir("NKEYS_PATH") {
                Some(d) => expand(&d),
                None => {
                    let new = data_home.join("nats/nsc/keys");
                    let old = home().join(".nkeys");
                    if !new.exists() && old.exists() {
                        old
                    } else {
                        new
                    }
                }
            },
        };
        let mut ctx = Ctx {
            config_dir,
            data_dir,
            keys_dir,
            signer: g.private_key.clone(),
            config,
        };
        let root = ctx.data_dir.to_string_lossy().into_owned();
        ctx.set("store_root", &root);
        Ok(ctx)
    }

    fn get(&self, k: &str) -> Option<&str> {
        self.config
            .get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }

    fn set(&mut self, k: &str, v: &str) {
        self.config.insert(k.to_string(), Value::from(v));
    }

    /// Writes nsc.json.
    pub fn save(&self) -> Result<()> {
        let p = self.config_dir.join("nsc.json");
        let text = serde_json::to_string_pretty(&Value::Object(self.config.clone()))?;
        std::fs::write(&p, text + "\n").with_context(|| format!("cannot write {}", p.display()))
    }

    /// The keystore.
    pub fn keystore(&self) -> KeyStore {
        KeyStore::new(&self.keys_dir)
    }

    /// Names of the operators in the data dir.
    pub fn operators(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Ok(rd) = std::fs::read_dir(&self.data_dir) {
            for e in rd.flatten() {
                let p = e.path();
                if p.join(".nsc").is_file() {
                    if let Some(n) = p.file_name().and_then(|n| n.to_str()) {
                        out.push(n.to_string());
                    }
                }
            }
        }
        out.sort();
        out
    }

    /// The current operator: the one in nsc.json if it exists, else the
    /// only one in the data dir.
    pub fn operator_name(&self) -> Result<String> {
        let ops = self.operators();
        if let Some(op) = self.get("operator") {
            if ops.iter().any(|o| o == op) {
                return Ok(op.to_string());
            }
        }
        match ops.as_slice() {
            [only] => Ok(only.clone()),
            [] => bail!(
                "no operator found in {} - add one with `add operator -n <name>`",
                self.data_dir.display()
            ),
            _ => bail!(
                "several operators in {} ({}) - choose one with `select operator <name>`",
                self.data_dir.display(),
                ops.join(", ")
            ),
        }
    }

    /// The store of the current operator.
    pub fn store(&self) -> Result<Store> {
        Store::open(&self.data_dir, &self.operator_name()?)
    }

    /// Makes `op` the current operator (and forgets the current account).
    pub fn select_operator(&mut self, op: &str) {
        self.set("operator", op);
        self.set("account", "");
    }

    /// Makes `acc` the current account.
    pub fn select_account(&mut self, acc: &str) {
        self.set("account", acc);
    }

    /// The account to act on: `explicit`, else the current one if it exists,
    /// else the only account.
    pub fn account_name(&self, store: &Store, explicit: Option<&str>) -> Result<String> {
        let accounts = store.accounts();
        if let Some(a) = explicit {
            if accounts.iter().any(|x| x == a) {
                return Ok(a.to_string());
            }
            // Also accept the account's public key.
            if let Some(n) = store.account_name_by_key(a) {
                return Ok(n);
            }
            bail!("account {a:?} not found in operator {:?}", store.name);
        }
        if let Some(a) = self.get("account") {
            if accounts.iter().any(|x| x == a) {
                return Ok(a.to_string());
            }
        }
        match accounts.as_slice() {
            [only] => Ok(only.clone()),
            [] => bail!(
                "operator {:?} has no accounts - add one with `add account -n <name>`",
                store.name
            ),
            _ => Err(anyhow!(
                "several accounts ({}) - specify one with --account/-a or `select account <name>`",
                accounts.join(", ")
            )),
        }
    }
}

/// `select operator|account NAME`: sets the current context.
#[derive(Subcommand, Debug)]
pub enum SelectCmd {
    /// Make NAME the current operator
    Operator {
        /// Operator name
        name: String,
    },
    /// Make NAME the current account
    Account {
        /// Account name
        name: String,
    },
}

/// Runs `select`.
pub fn run_select(ctx: &mut Ctx, cmd: &SelectCmd) -> Result<()> {
    match cmd {
        SelectCmd::Operator { name } => {
            if !ctx.operators().contains(name) {
                bail!("operator {name:?} not found in {}", ctx.data_dir.display());
            }
            ctx.select_operator(name);
            ctx.save()?;
            eprintln!("[ OK ] operator {name:?} selected");
        }
        SelectCmd::Account { name } => {
            let store = ctx.store()?;
            let n = ctx.account_name(&store, Some(name))?;
            ctx.select_account(&n);
            ctx.save()?;
            eprintln!("[ OK ] account {n:?} selected");
        }
    }
    Ok(())
}

/// `env`: prints the directories and the context.
pub fn run_env(ctx: &Ctx) -> Result<()> {
    println!("config dir:   {}", ctx.config_dir.display());
    println!("data dir:     {}", ctx.data_dir.display());
    println!("keystore dir: {}", ctx.keys_dir.display());
    for v in ["NSC_HOME", "NKEYS_PATH", "XDG_CONFIG_HOME", "XDG_DATA_HOME"] {
        if let Some(val) = env_dir(v) {
            println!("${v}: {}", val.display());
        }
    }
    println!(
        "current operator: {}",
        ctx.operator_name().unwrap_or_default()
    );
    if let Ok(store) = ctx.store() {
        println!(
            "current account:  {}",
            ctx.account_name(&store, None).unwrap_or_default()
        );
    }
    Ok(())
}

//! The on-disk store and keystore, laid out as nsc lays them out, so nsc and
//! rnats-nsc can work on the same directories:
//!
//! ```text
//! <data-dir>/<OP>/.nsc                          {"managed":false,"name":"OP","kind":"operator","version":"1"}
//! <data-dir>/<OP>/<OP>.jwt
//! <data-dir>/<OP>/accounts/<ACC>/<ACC>.jwt
//! <data-dir>/<OP>/accounts/<ACC>/users/<USER>.jwt
//! <keystore>/keys/<K>/<2 chars>/<PUBKEY>.nk       the seed (mode 0600)
//! <keystore>/creds/<OP>/<ACC>/<USER>.creds        (mode 0600)
//! ```
//!
//! JWTs are public and rewritten on every edit; seeds are secret and never
//! replaced by a different seed.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use rnats::jwt::{self, AccountClaims, OperatorClaims, UserClaims};
use rnats::nkeys::{self, KeyKind, KeyPair};

/// One operator's JWT store.
pub struct Store {
    /// `<data-dir>/<OP>`.
    pub root: PathBuf,
    /// Operator name.
    pub name: String,
}

fn check_name(kind: &str, name: &str) -> Result<()> {
    if name.trim().is_empty() {
        bail!("{kind} name is required (-n/--name)");
    }
    if name.contains('/')
        || name.contains('\\')
        || name == "."
        || name == ".."
        || name.starts_with('.')
    {
        bail!("{kind} name {name:?} is not usable as a file name");
    }
    Ok(())
}

/// Reads a JWT file (tolerating decoration and whitespace).
fn read_token(path: &Path) -> Result<String> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    rnats::creds::parse_jwt(&text).map_err(|e| anyhow!("{}: {e}", path.display()))
}

fn write_public(path: &Path, data: &str) -> Result<()> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
    }
    std::fs::write(path, data).with_context(|| format!("cannot write {}", path.display()))
}

fn subdirs(p: &Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            if e.path().is_dir() {
                if let Some(n) = e.file_name().to_str() {
                    out.push(n.to_string());
                }
            }
        }
    }
    out.sort();
    out
}

impl Store {
    /// Creates the store directory of a new operator.
    pub fn create(data_dir: &Path, name: &str) -> Result<Store> {
        check_name("operator", name)?;
        let root = data_dir.join(name);
        if root.exists()
            && std::fs::read_dir(&root)
                .map(|mut d| d.next().is_some())
                .unwrap_or(true)
        {
            bail!("operator {name:?} already exists in {}", data_dir.display());
        }
        std::fs::create_dir_all(root.join("accounts"))
            .with_context(|| format!("cannot create {}", root.display()))?;
        let info =
            serde_json::json!({"managed": false, "name": name, "kind": "operator", "version": "1"});
        write_public(&root.join(".nsc"), &info.to_string())?;
        Ok(Store {
            root,
            name: name.to_string(),
        })
    }

    /// Opens an existing operator store.
    pub fn open(data_dir: &Path, name: &str) -> Result<Store> {
        let root = data_dir.join(name);
        if !root.join(".nsc").is_file() {
            bail!("operator {name:?} not found in {}", data_dir.display());
        }
        Ok(Store {
            root,
            name: name.to_string(),
        })
    }

    /// Path of the operator JWT.
    pub fn operator_path(&self) -> PathBuf {
        self.root.join(format!("{}.jwt", self.name))
    }

    /// Path of an account JWT.
    pub fn account_path(&self, acc: &str) -> PathBuf {
        self.root
            .join("accounts")
            .join(acc)
            .join(format!("{acc}.jwt"))
    }

    /// Path of a user JWT.
    pub fn user_path(&self, acc: &str, user: &str) -> PathBuf {
        self.root
            .join("accounts")
            .join(acc)
            .join("users")
            .join(format!("{user}.jwt"))
    }

    /// The operator JWT and its claims.
    pub fn read_operator(&self) -> Result<(String, OperatorClaims)> {
        let t = read_token(&self.operator_path())?;
        let c = jwt::decode_operator(&t).with_context(|| format!("operator {:?}", self.name))?;
        Ok((t, c))
    }

    /// Writes the operator JWT.
    pub fn write_operator(&self, token: &str) -> Result<()> {
        write_public(&self.operator_path(), token)
    }

    /// Account names, sorted.
    pub fn accounts(&self) -> Vec<String> {
        subdirs(&self.root.join("accounts"))
            .into_iter()
            .filter(|a| self.account_path(a).is_file())
            .collect()
    }

    /// True when the account exists.
    pub fn has_account(&self, acc: &str) -> bool {
        self.account_path(acc).is_file()
    }

    /// An account JWT and its claims.
    pub fn read_account(&self, acc: &str) -> Result<(String, AccountClaims)> {
        let p = self.account_path(acc);
        if !p.is_file() {
            bail!("account {acc:?} not found in operator {:?}", self.name);
        }
        let t = read_token(&p)?;
        let c = jwt::decode_account(&t).with_context(|| format!("account {acc:?}"))?;
        Ok((t, c))
    }

    /// Writes an account JWT (creates the account directory).
    pub fn write_account(&self, acc: &str, token: &str) -> Result<()> {
        check_name("account", acc)?;
        write_public(&self.account_path(acc), token)?;
        std::fs::create_dir_all(self.root.join("accounts").join(acc).join("users"))?;
        Ok(())
    }

    /// The name of the account with public key `key`.
    pub fn account_name_by_key(&self, key: &str) -> Option<String> {
        self.accounts().into_iter().find(|a| {
            self.read_account(a)
                .map(|(_, c)| c.sub == key)
                .unwrap_or(false)
        })
    }

    /// User names of an account, sorted.
    pub fn users(&self, acc: &str) -> Vec<String> {
        let dir = self.root.join("accounts").join(acc).join("users");
        let mut out = Vec::new();
        if let Ok(rd) = std::fs::read_dir(dir) {
            for e in rd.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                if let Some(u) = n.strip_suffix(".jwt") {
                    out.push(u.to_string());
                }
            }
        }
        out.sort();
        out
    }

    /// True when the user exists.
    pub fn has_user(&self, acc: &str, user: &str) -> bool {
        self.user_path(acc, user).is_file()
    }

    /// A user JWT and its claims.
    pub fn read_user(&self, acc: &str, user: &str) -> Result<(String, UserClaims)> {
        let p = self.user_path(acc, user);
        if !p.is_file() {
            bail!("user {user:?} not found in account {acc:?}");
        }
        let t = read_token(&p)?;
        let c = jwt::decode_user(&t).with_context(|| format!("user {user:?}"))?;
        Ok((t, c))
    }

    /// Writes a user JWT.
    pub fn write_user(&self, acc: &str, user: &str, token: &str) -> Result<()> {
        check_name("user", user)?;
        write_public(&self.user_path(acc, user), token)
    }

    /// The user of `acc` whose name or public key is `v`.
    pub fn user_name(&self, acc: &str, v: &str) -> Result<String> {
        if self.has_user(acc, v) {
            return Ok(v.to_string());
        }
        for u in self.users(acc) {
            if let Ok((_, c)) = self.read_user(acc, &u) {
                if c.sub == v {
                    return Ok(u);
                }
            }
        }
        bail!("user {v:?} not found in account {acc:?}")
    }
}

/// Checks a new entity name.
pub fn validate_name(kind: &str, name: &str) -> Result<()> {
    check_name(kind, name)
}

/// The keystore: seeds by public key, creds by operator/account/user.
pub struct KeyStore {
    /// Keystore root.
    pub dir: PathBuf,
}

impl KeyStore {
    /// A keystore rooted at `dir`.
    pub fn new(dir: &Path) -> KeyStore {
        KeyStore {
            dir: dir.to_path_buf(),
        }
    }

    /// `keys/<first char>/<chars 2-3>/<pubkey>.nk`.
    pub fn key_path(&self, public: &str) -> PathBuf {
        let kind = public.get(0..1).unwrap_or("_");
        let shard = public.get(1..3).unwrap_or("__");
        self.dir
            .join("keys")
            .join(kind)
            .join(shard)
            .join(format!("{public}.nk"))
    }

    /// Stores a seed. Storing the same seed again is fine; a different seed
    /// at the same path (impossible unless the file was tampered with) is an
    /// error, never an overwrite.
    pub fn store(&self, kp: &KeyPair) -> Result<PathBuf> {
        let public = kp.public_key();
        let path = self.key_path(&public);
        let seed = kp.seed()?;
        if path.exists() {
            let existing =
                std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            if nkeys::ct_eq(existing.trim_ascii(), seed.as_bytes()) {
                return Ok(path);
            }
            bail!("key {} already exists and is different", path.display());
        }
        if let Some(d) = path.parent() {
            create_private_dir(d)?;
        }
        nkeys::write_secret_file(&path, seed.as_bytes(), false)
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(path)
    }

    /// The key pair of `public` if its seed is in the keystore.
    pub fn get(&self, public: &str) -> Result<Option<KeyPair>> {
        let path = self.key_path(public);
        if !path.exists() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let kp = nkeys::parse_key_text(&text).with_context(|| format!("{}", path.display()))?;
        if kp.public_key() != public || !kp.has_seed() {
            bail!("{} does not hold the seed of {public}", path.display());
        }
        Ok(Some(kp))
    }

    /// True when the seed of `public` is stored.
    pub fn has(&self, public: &str) -> bool {
        self.key_path(public).exists()
    }

    /// Removes the seed of `public`.
    pub fn remove(&self, public: &str) -> Result<bool> {
        let p = self.key_path(public);
        if p.exists() {
            std::fs::remove_file(&p).with_context(|| format!("cannot remove {}", p.display()))?;
            return Ok(true);
        }
        Ok(false)
    }

    /// `creds/<OP>/<ACC>/<USER>.creds`.
    pub fn creds_path(&self, op: &str, acc: &str, user: &str) -> PathBuf {
        self.dir
            .join("creds")
            .join(op)
            .join(acc)
            .join(format!("{user}.creds"))
    }

    /// Writes (or refreshes) a user's creds file in the keystore. It holds the
    /// same seed as the key file, so replacing it replaces no key.
    pub fn store_creds(&self, op: &str, acc: &str, user: &str, text: &str) -> Result<PathBuf> {
        let p = self.creds_path(op, acc, user);
        if let Some(d) = p.parent() {
            create_private_dir(d)?;
        }
        rnats::creds::write_file(&p, text, true)
            .with_context(|| format!("cannot write {}", p.display()))?;
        Ok(p)
    }
}

/// Creates a directory (and parents) readable by the owner only.
pub fn create_private_dir(d: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(d)
        .with_context(|| format!("cannot create {}", d.display()))
}

/// Resolves a `-K`-style key reference to a key pair with a seed: a seed, a
/// path to a file holding one, or a public key whose seed is in the keystore.
pub fn resolve_seed(ks: &KeyStore, v: &str) -> Result<KeyPair> {
    let v = v.trim();
    if v.starts_with('S') && v.len() == nkeys::SEED_LEN {
        return Ok(KeyPair::from_seed(v)?);
    }
    if v.len() == nkeys::PUBLIC_KEY_LEN && nkeys::is_valid_public_key_any(v) {
        return ks.get(v)?.ok_or_else(|| {
            anyhow!(
                "the seed of {v} is not in the keystore {}",
                ks.dir.display()
            )
        });
    }
    let p = Path::new(v);
    if p.is_file() {
        let text = std::fs::read_to_string(p).with_context(|| format!("cannot read {v}"))?;
        let kp = nkeys::parse_key_text(&text).with_context(|| v.to_string())?;
        if !kp.has_seed() {
            bail!("{v} holds a public key, not a seed");
        }
        return Ok(kp);
    }
    bail!("{v:?} is not a seed, a public key in the keystore, nor a key file")
}

/// Picks the key that signs, among `allowed` public keys (in order of
/// preference): `-K` if given (it must be one of them), else the first whose
/// seed is in the keystore.
pub fn pick_signer(
    ks: &KeyStore,
    flag: Option<&str>,
    allowed: &[String],
    what: &str,
) -> Result<KeyPair> {
    if let Some(v) = flag {
        let kp = resolve_seed(ks, v)?;
        if !allowed.iter().any(|a| *a == kp.public_key()) {
            bail!(
                "{} is not allowed to sign {what} (allowed: {})",
                kp.public_key(),
                allowed.join(", ")
            );
        }
        return Ok(kp);
    }
    for a in allowed {
        if let Some(kp) = ks.get(a)? {
            return Ok(kp);
        }
    }
    bail!(
        "no key to sign {what}: none of the seeds of {} is in the keystore {} - pass one with -K",
        allowed.join(", "),
        ks.dir.display()
    )
}

/// Keys that may sign accounts of this operator, preferred first: the
/// identity key (unless signing keys are required), then signing keys.
pub fn operator_signers(oc: &OperatorClaims) -> Vec<String> {
    let mut v = Vec::new();
    if !oc.nats.strict_signing_key_usage {
        v.push(oc.sub.clone());
    }
    v.extend(oc.nats.signing_keys.iter().cloned());
    v
}

/// Generates a key of `kind` and stores it.
pub fn new_stored_key(ks: &KeyStore, kind: KeyKind) -> Result<KeyPair> {
    let kp = KeyPair::new(kind);
    ks.store(&kp)?;
    Ok(kp)
}

/// Prints a progress line the way nsc reports (to stderr, so stdout stays
/// clean for JWTs, creds and configs).
pub fn ok(msg: impl AsRef<str>) {
    eprintln!("[ OK ] {}", msg.as_ref());
}

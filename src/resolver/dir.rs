//! `resolver { type: full|cache, dir: … }`: one `<pubkey>.jwt` file per
//! account in a directory, mirrored in memory.
//!
//! - `full` (the nats resolver) keeps every account it is given, refuses
//!   new ones past `limit` and deletes only with `allow_delete` (renaming to
//!   `<pubkey>.jwt.deleted` unless `hard_delete`).
//! - `cache` keeps at most `limit` (default 1000), evicting the least
//!   recently used, and forgets entries after `ttl` or when the JWT expires.
//!
//! The directory is loaded at open (files that do not verify are skipped)
//! and watched ([`super::watch`]): a JWT written there by someone else is
//! checked like a store and, when accepted, sent on the update stream. A
//! file that would roll an account back is rewritten with the JWT in force.
//!
//! Writes go to a hidden temporary file renamed over `<pubkey>.jwt`, so
//! readers (and the watcher) never see half a token. File I/O is
//! synchronous: the files are small and the OS caches them.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use tokio::sync::mpsc;

use super::{
    check_update, AccountResolver, AccountUpdate, BoxFuture, Decision, DirResolverConfig, Held,
    ResolverError, ResolverKind, StoreOutcome, Validator, DEFAULT_CACHE_LIMIT,
};
use crate::jwt;
use crate::nkeys::{self, KeyKind};

const EXT: &str = ".jwt";

struct Entry {
    held: Held,
    /// When stored (for `ttl`).
    stored: Instant,
    /// Use counter value at the last fetch or store (for LRU eviction).
    used: u64,
}

#[derive(Default)]
struct State {
    entries: HashMap<String, Entry>,
    clock: u64,
}

/// What the watcher thread shares with the resolver.
pub(super) struct DirInner {
    cfg: DirResolverConfig,
    validator: Option<Validator>,
    state: Mutex<State>,
}

/// The directory resolver (full or cache).
pub struct DirResolver {
    inner: Arc<DirInner>,
    /// Dropping it stops the watcher thread.
    _watcher: Option<super::watch::Watcher>,
    updates: Mutex<Option<mpsc::UnboundedReceiver<AccountUpdate>>>,
}

impl DirResolver {
    /// Creates the directory when missing, loads its JWTs and starts
    /// watching it. `validator` checks every JWT loaded or stored.
    pub fn open(
        cfg: &DirResolverConfig,
        validator: Option<Validator>,
    ) -> Result<Self, ResolverError> {
        if !matches!(cfg.kind, ResolverKind::Full | ResolverKind::Cache) {
            return Err(ResolverError::Unsupported(
                "a directory resolver is full or cache".into(),
            ));
        }
        std::fs::create_dir_all(&cfg.dir).map_err(|e| io_err(&cfg.dir, e))?;
        let inner = Arc::new(DirInner {
            cfg: cfg.clone(),
            validator,
            state: Mutex::new(State::default()),
        });
        inner.load()?;
        let (tx, rx) = mpsc::unbounded_channel();
        let watcher = match super::watch::Watcher::start(inner.clone(), tx) {
            Ok(w) => Some(w),
            Err(e) => {
                log::warn!(
                    "cannot watch {} for JWT changes ({e}); files written there are read at restart only",
                    cfg.dir.display()
                );
                None
            }
        };
        Ok(DirResolver {
            inner,
            _watcher: watcher,
            updates: Mutex::new(Some(rx)),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.inner.cfg.dir
    }

    /// [`AccountResolver::store`] without the future.
    pub fn store_sync(&self, account: &str, jwt: &str) -> Result<StoreOutcome, ResolverError> {
        self.inner.store(account, jwt)
    }
}

impl DirInner {
    pub(super) fn dir(&self) -> &Path {
        &self.cfg.dir
    }

    fn limit(&self) -> u64 {
        match self.cfg.kind {
            ResolverKind::Cache => self
                .cfg
                .limit
                .filter(|l| *l > 0)
                .unwrap_or(DEFAULT_CACHE_LIMIT),
            _ => self.cfg.limit.filter(|l| *l > 0).unwrap_or(u64::MAX),
        }
    }

    fn path(&self, account: &str) -> PathBuf {
        self.cfg.dir.join(format!("{account}{EXT}"))
    }

    fn load(&self) -> Result<(), ResolverError> {
        let rd = std::fs::read_dir(&self.cfg.dir).map_err(|e| io_err(&self.cfg.dir, e))?;
        let mut st = self.state.lock();
        for ent in rd.flatten() {
            let path = ent.path();
            let Some(account) = account_of(&path) else {
                continue;
            };
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let token = text.trim();
            match check_update(&account, token, None, self.validator.as_ref()) {
                Ok(Decision::Store { iat, exp }) => {
                    st.clock += 1;
                    let used = st.clock;
                    st.entries.insert(
                        account,
                        Entry {
                            held: Held::new(token, iat, exp),
                            stored: Instant::now(),
                            used,
                        },
                    );
                }
                Ok(Decision::Same) => {}
                Err(e) => log::warn!("skipping {}: {e}", path.display()),
            }
        }
        Ok(())
    }

    /// Drops cache entries past their ttl or JWT expiry (cache only).
    fn expire(&self, st: &mut State) {
        if self.cfg.kind != ResolverKind::Cache {
            return;
        }
        let now = jwt::now();
        let ttl = self.cfg.ttl;
        let dead: Vec<String> = st
            .entries
            .iter()
            .filter(|(_, e)| {
                (e.held.exp > 0 && now > e.held.exp) || ttl.is_some_and(|t| e.stored.elapsed() >= t)
            })
            .map(|(k, _)| k.clone())
            .collect();
        for k in dead {
            st.entries.remove(&k);
            let _ = std::fs::remove_file(self.path(&k));
        }
    }

    fn store(&self, account: &str, jwt: &str) -> Result<StoreOutcome, ResolverError> {
        let mut st = self.state.lock();
        self.expire(&mut st);
        let current = st.entries.get(account).map(|e| &e.held);
        match check_update(account, jwt, current, self.validator.as_ref())? {
            Decision::Same => {
                st.clock += 1;
                let clock = st.clock;
                if let Some(e) = st.entries.get_mut(account) {
                    e.used = clock;
                }
                Ok(StoreOutcome::Unchanged)
            }
            Decision::Store { iat, exp } => {
                let is_new = !st.entries.contains_key(account);
                if is_new && st.entries.len() as u64 >= self.limit() {
                    if self.cfg.kind != ResolverKind::Cache {
                        return Err(ResolverError::Full);
                    }
                    let lru = st
                        .entries
                        .iter()
                        .min_by_key(|(_, e)| e.used)
                        .map(|(k, _)| k.clone());
                    if let Some(k) = lru {
                        st.entries.remove(&k);
                        let _ = std::fs::remove_file(self.path(&k));
                    }
                }
                self.write(account, jwt)?;
                st.clock += 1;
                let used = st.clock;
                st.entries.insert(
                    account.to_string(),
                    Entry {
                        held: Held::new(jwt, iat, exp),
                        stored: Instant::now(),
                        used,
                    },
                );
                Ok(StoreOutcome::Updated)
            }
        }
    }

    /// Writes `<account>.jwt` through a temporary file and a rename.
    fn write(&self, account: &str, jwt: &str) -> Result<(), ResolverError> {
        let path = self.path(account);
        let tmp = self.cfg.dir.join(format!(".{account}{EXT}.tmp"));
        let res = (|| {
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o640);
            let mut f = opts.open(&tmp)?;
            f.write_all(jwt.as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)
        })();
        res.map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            io_err(&path, e)
        })
    }

    /// The watcher saw `path` change: returns the update when it is a JWT
    /// that passes the store checks and differs from the one in force.
    pub(super) fn file_changed(&self, path: &Path) -> Option<AccountUpdate> {
        let account = account_of(path)?;
        let text = std::fs::read_to_string(path).ok()?;
        let token = text.trim();
        if token.is_empty() {
            return None;
        }
        let mut st = self.state.lock();
        let current = st.entries.get(&account).map(|e| &e.held);
        match check_update(&account, token, current, self.validator.as_ref()) {
            Ok(Decision::Same) => None,
            Ok(Decision::Store { iat, exp }) => {
                st.clock += 1;
                let used = st.clock;
                st.entries.insert(
                    account.clone(),
                    Entry {
                        held: Held::new(token, iat, exp),
                        stored: Instant::now(),
                        used,
                    },
                );
                log::info!("account {account} updated from {}", path.display());
                Some(AccountUpdate {
                    account,
                    jwt: token.to_string(),
                })
            }
            Err(ResolverError::Rollback) => {
                log::warn!(
                    "{}: jwt update refused: older than the one in force; restoring it",
                    path.display()
                );
                let in_force = st.entries.get(&account).map(|e| e.held.jwt.clone());
                if let Some(j) = in_force {
                    if let Err(e) = self.write(&account, &j) {
                        log::error!("cannot restore {}: {e}", path.display());
                    }
                }
                None
            }
            // Possibly a file still being written: a later event re-reads it.
            Err(e) => {
                log::debug!("ignoring {}: {e}", path.display());
                None
            }
        }
    }
}

impl AccountResolver for DirResolver {
    fn kind(&self) -> ResolverKind {
        self.inner.cfg.kind
    }

    fn fetch<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Result<String, ResolverError>> {
        let res = self
            .lookup(account)
            .ok_or_else(|| ResolverError::NotFound(account.to_string()));
        Box::pin(async move { res })
    }

    fn store<'a>(
        &'a self,
        account: &'a str,
        jwt: &'a str,
    ) -> BoxFuture<'a, Result<StoreOutcome, ResolverError>> {
        let res = self.inner.store(account, jwt);
        Box::pin(async move { res })
    }

    fn lookup(&self, account: &str) -> Option<String> {
        let mut st = self.inner.state.lock();
        self.inner.expire(&mut st);
        st.clock += 1;
        let clock = st.clock;
        let e = st.entries.get_mut(account)?;
        e.used = clock;
        Some(e.held.jwt.clone())
    }

    fn list(&self) -> Vec<String> {
        let mut st = self.inner.state.lock();
        self.inner.expire(&mut st);
        let mut v: Vec<String> = st.entries.keys().cloned().collect();
        v.sort();
        v
    }

    fn pack(&self) -> Vec<(String, String)> {
        let mut st = self.inner.state.lock();
        self.inner.expire(&mut st);
        let mut v: Vec<(String, String)> = st
            .entries
            .iter()
            .map(|(k, e)| (k.clone(), e.held.jwt.clone()))
            .collect();
        v.sort();
        v
    }

    fn delete(&self, accounts: &[String]) -> Result<usize, ResolverError> {
        let cfg = &self.inner.cfg;
        if cfg.kind != ResolverKind::Full || !cfg.allow_delete {
            return Err(ResolverError::Unsupported(
                "delete must be enabled in server config".into(),
            ));
        }
        if let Some(bad) = accounts
            .iter()
            .find(|a| !nkeys::is_valid_public_key(a, KeyKind::Account))
        {
            return Err(ResolverError::InvalidKey(bad.clone()));
        }
        let mut st = self.inner.state.lock();
        let mut n = 0;
        for a in accounts {
            if st.entries.remove(a).is_some() {
                n += 1;
            }
            let path = self.inner.path(a);
            let res = if cfg.hard_delete {
                std::fs::remove_file(&path)
            } else {
                std::fs::rename(&path, path.with_extension("jwt.deleted"))
            };
            match res {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io_err(&path, e)),
                _ => {}
            }
        }
        Ok(n)
    }

    fn subscribe_updates(&self) -> Option<mpsc::UnboundedReceiver<AccountUpdate>> {
        self.updates.lock().take()
    }
}

/// `<dir>/<account key>.jwt` → the key; anything else (temporary files,
/// `.deleted`, other names) → `None`.
fn account_of(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    let key = name.strip_suffix(EXT)?;
    nkeys::is_valid_public_key(key, KeyKind::Account).then(|| key.to_string())
}

fn io_err(path: &Path, e: std::io::Error) -> ResolverError {
    ResolverError::Io(format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::super::testutil::account_jwt;
    use super::*;
    use crate::nkeys::KeyPair;
    use std::time::Duration;

    fn full(dir: &Path) -> DirResolverConfig {
        DirResolverConfig::new(ResolverKind::Full, dir)
    }

    #[tokio::test]
    async fn full_stores_files_and_refuses_rollback() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("jwt");
        let op = KeyPair::new_operator();
        let acc = KeyPair::new_account().public_key();
        let r = DirResolver::open(&full(&dir), None).unwrap();
        assert!(dir.is_dir(), "dir created");
        let old = account_jwt(&op, &acc, 1000, "old");
        let new = account_jwt(&op, &acc, 2000, "new");
        assert_eq!(r.store(&acc, &new).await.unwrap(), StoreOutcome::Updated);
        let file = dir.join(format!("{acc}.jwt"));
        assert_eq!(std::fs::read_to_string(&file).unwrap(), new);
        assert_eq!(r.store(&acc, &new).await.unwrap(), StoreOutcome::Unchanged);
        assert_eq!(
            r.store(&acc, &old).await.unwrap_err(),
            ResolverError::Rollback
        );
        assert_eq!(std::fs::read_to_string(&file).unwrap(), new);
        assert_eq!(r.fetch(&acc).await.unwrap(), new);
        assert_eq!(r.list(), vec![acc.clone()]);
        assert_eq!(
            r.hash(),
            super::super::store_hash([new.as_str()].into_iter())
        );
        // No temporary files left behind.
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        drop(r);
        // Reopened: loaded from the directory, rule still holds.
        let r = DirResolver::open(&full(&dir), None).unwrap();
        assert_eq!(r.lookup(&acc).unwrap(), new);
        assert_eq!(
            r.store(&acc, &old).await.unwrap_err(),
            ResolverError::Rollback
        );
    }

    #[tokio::test]
    async fn full_limit_and_delete() {
        let tmp = tempfile::tempdir().unwrap();
        let op = KeyPair::new_operator();
        let (a, b) = (
            KeyPair::new_account().public_key(),
            KeyPair::new_account().public_key(),
        );
        let mut cfg = full(tmp.path());
        cfg.limit = Some(1);
        let r = DirResolver::open(&cfg, None).unwrap();
        r.store(&a, &account_jwt(&op, &a, 1, "a")).await.unwrap();
        assert_eq!(
            r.store(&b, &account_jwt(&op, &b, 1, "b"))
                .await
                .unwrap_err(),
            ResolverError::Full
        );
        assert!(
            r.delete(std::slice::from_ref(&a)).is_err(),
            "allow_delete off"
        );
        cfg.limit = None;
        cfg.allow_delete = true;
        drop(r);
        let r = DirResolver::open(&cfg, None).unwrap();
        assert_eq!(r.delete(std::slice::from_ref(&a)).unwrap(), 1);
        assert!(r.lookup(&a).is_none());
        assert!(tmp.path().join(format!("{a}.jwt.deleted")).exists());
        assert!(r.delete(&["bad".to_string()]).is_err());
    }

    #[tokio::test]
    async fn cache_evicts_lru_and_expires() {
        let tmp = tempfile::tempdir().unwrap();
        let op = KeyPair::new_operator();
        let keys: Vec<String> = (0..3)
            .map(|_| KeyPair::new_account().public_key())
            .collect();
        let mut cfg = DirResolverConfig::new(ResolverKind::Cache, tmp.path());
        cfg.limit = Some(2);
        let r = DirResolver::open(&cfg, None).unwrap();
        r.store(&keys[0], &account_jwt(&op, &keys[0], 1, "0"))
            .await
            .unwrap();
        r.store(&keys[1], &account_jwt(&op, &keys[1], 1, "1"))
            .await
            .unwrap();
        r.fetch(&keys[0]).await.unwrap(); // keys[1] is now least recently used
        r.store(&keys[2], &account_jwt(&op, &keys[2], 1, "2"))
            .await
            .unwrap();
        assert!(r.lookup(&keys[1]).is_none());
        assert!(!tmp.path().join(format!("{}.jwt", keys[1])).exists());
        assert!(r.lookup(&keys[0]).is_some() && r.lookup(&keys[2]).is_some());
        assert!(r.delete(std::slice::from_ref(&keys[0])).is_err());
        drop(r);

        cfg.ttl = Some(Duration::from_millis(50));
        let r = DirResolver::open(&cfg, None).unwrap();
        assert!(r.lookup(&keys[0]).is_some());
        std::thread::sleep(Duration::from_millis(80));
        assert!(r.lookup(&keys[0]).is_none());
    }

    #[test]
    fn load_skips_bad_files() {
        let tmp = tempfile::tempdir().unwrap();
        let op = KeyPair::new_operator();
        let (a, b) = (
            KeyPair::new_account().public_key(),
            KeyPair::new_account().public_key(),
        );
        std::fs::write(tmp.path().join(format!("{a}.jwt")), "garbage").unwrap();
        // b's file holds a's JWT: subject mismatch.
        std::fs::write(
            tmp.path().join(format!("{b}.jwt")),
            account_jwt(&op, &a, 1, "a"),
        )
        .unwrap();
        std::fs::write(tmp.path().join("notes.txt"), "x").unwrap();
        let r = DirResolver::open(&full(tmp.path()), None).unwrap();
        assert!(r.list().is_empty());
    }

    /// Waits (bounded) for the next update on the stream.
    async fn next_update(
        rx: &mut mpsc::UnboundedReceiver<AccountUpdate>,
        within: Duration,
    ) -> Option<AccountUpdate> {
        tokio::time::timeout(within, rx.recv()).await.ok().flatten()
    }

    #[tokio::test]
    async fn watcher_delivers_new_files_and_refuses_rollback() {
        let tmp = tempfile::tempdir().unwrap();
        let op = KeyPair::new_operator();
        let acc = KeyPair::new_account().public_key();
        let r = DirResolver::open(&full(tmp.path()), None).unwrap();
        let mut rx = r.subscribe_updates().expect("stream");
        assert!(r.subscribe_updates().is_none(), "only once");
        let file = tmp.path().join(format!("{acc}.jwt"));

        // Our own store is not reported.
        let v1 = account_jwt(&op, &acc, 1000, "v1");
        r.store(&acc, &v1).await.unwrap();
        assert!(next_update(&mut rx, Duration::from_millis(400))
            .await
            .is_none());

        // Written by someone else (in two steps, like a slow writer).
        let v2 = account_jwt(&op, &acc, 2000, "v2");
        let (head, tail) = v2.split_at(v2.len() / 2);
        std::fs::write(&file, head).unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(&file)
            .unwrap()
            .write_all(tail.as_bytes())
            .unwrap();
        let u = next_update(&mut rx, Duration::from_secs(5))
            .await
            .expect("update");
        assert_eq!(
            u,
            AccountUpdate {
                account: acc.clone(),
                jwt: v2.clone()
            }
        );
        assert_eq!(r.lookup(&acc).unwrap(), v2);

        // An older JWT dropped in is refused and the file restored.
        std::fs::write(&file, &v1).unwrap();
        assert!(next_update(&mut rx, Duration::from_millis(600))
            .await
            .is_none());
        assert_eq!(r.lookup(&acc).unwrap(), v2);
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::fs::read_to_string(&file).unwrap() != v2 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(std::fs::read_to_string(&file).unwrap(), v2);

        // A new account appearing (via rename, as tools write) is delivered.
        let other = KeyPair::new_account().public_key();
        let o1 = account_jwt(&op, &other, 5, "o");
        let tmpfile = tmp.path().join("staging");
        std::fs::write(&tmpfile, &o1).unwrap();
        std::fs::rename(&tmpfile, tmp.path().join(format!("{other}.jwt"))).unwrap();
        let u = next_update(&mut rx, Duration::from_secs(5))
            .await
            .expect("update");
        assert_eq!(u.account, other);
    }
}

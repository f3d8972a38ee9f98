//! `resolver: MEMORY`: the accounts of `resolver_preload` plus the updates
//! the server stores, all in memory. Nothing is fetched; an account that was
//! never stored is unknown.

use std::collections::HashMap;

use parking_lot::RwLock;

use super::{
    check_update, AccountResolver, BoxFuture, Decision, Held, ResolverError, ResolverKind,
    StoreOutcome, Validator,
};

/// In-memory resolver.
pub struct MemoryResolver {
    held: RwLock<HashMap<String, Held>>,
    validator: Option<Validator>,
}

impl MemoryResolver {
    /// An empty resolver; `validator` checks every stored JWT.
    pub fn new(validator: Option<Validator>) -> Self {
        MemoryResolver {
            held: RwLock::new(HashMap::new()),
            validator,
        }
    }

    /// [`AccountResolver::store`] without the future (preloads, tests).
    pub fn store_sync(&self, account: &str, jwt: &str) -> Result<StoreOutcome, ResolverError> {
        // The check runs under the write lock so two concurrent updates
        // cannot both pass against the same old `iat`.
        let mut held = self.held.write();
        match check_update(account, jwt, held.get(account), self.validator.as_ref())? {
            Decision::Same => Ok(StoreOutcome::Unchanged),
            Decision::Store { iat, exp } => {
                held.insert(account.to_string(), Held::new(jwt, iat, exp));
                Ok(StoreOutcome::Updated)
            }
        }
    }
}

impl AccountResolver for MemoryResolver {
    fn kind(&self) -> ResolverKind {
        ResolverKind::Memory
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
        let res = self.store_sync(account, jwt);
        Box::pin(async move { res })
    }

    fn lookup(&self, account: &str) -> Option<String> {
        self.held.read().get(account).map(|h| h.jwt.clone())
    }

    fn list(&self) -> Vec<String> {
        let mut v: Vec<String> = self.held.read().keys().cloned().collect();
        v.sort();
        v
    }

    fn pack(&self) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = self
            .held
            .read()
            .iter()
            .map(|(k, h)| (k.clone(), h.jwt.clone()))
            .collect();
        v.sort();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::account_jwt;
    use super::*;
    use crate::nkeys::KeyPair;

    #[tokio::test]
    async fn fetch_store_and_no_rollback() {
        let op = KeyPair::new_operator();
        let acc = KeyPair::new_account().public_key();
        let r = MemoryResolver::new(None);
        assert_eq!(
            r.fetch(&acc).await.unwrap_err(),
            ResolverError::NotFound(acc.clone())
        );
        let old = account_jwt(&op, &acc, 1000, "old");
        let new = account_jwt(&op, &acc, 2000, "new");
        assert_eq!(r.store(&acc, &old).await.unwrap(), StoreOutcome::Updated);
        assert_eq!(r.store(&acc, &new).await.unwrap(), StoreOutcome::Updated);
        assert_eq!(r.store(&acc, &new).await.unwrap(), StoreOutcome::Unchanged);
        assert_eq!(
            r.store(&acc, &old).await.unwrap_err(),
            ResolverError::Rollback
        );
        assert_eq!(r.fetch(&acc).await.unwrap(), new);
        assert_eq!(r.list(), vec![acc.clone()]);
        assert_eq!(r.pack(), vec![(acc.clone(), new.clone())]);
        assert!(r.subscribe_updates().is_none());
        assert!(r.delete(std::slice::from_ref(&acc)).is_err());
    }

    #[tokio::test]
    async fn merge_skips_older_and_bad_lines() {
        let op = KeyPair::new_operator();
        let a = KeyPair::new_account().public_key();
        let b = KeyPair::new_account().public_key();
        let r = MemoryResolver::new(None);
        r.store_sync(&a, &account_jwt(&op, &a, 2000, "a2")).unwrap();
        let pack = format!(
            "{a}|{}\n{b}|{}\n{b}|garbage\n",
            account_jwt(&op, &a, 1000, "a1"),
            account_jwt(&op, &b, 1000, "b1")
        );
        assert_eq!(r.merge(&pack).await.unwrap(), 1);
        assert!(r.lookup(&a).unwrap().contains('.'));
        assert_eq!(
            crate::jwt::decode_account(&r.lookup(&a).unwrap())
                .unwrap()
                .name,
            "a2"
        );
        assert!(r.merge("no separator").await.is_err());
    }
}

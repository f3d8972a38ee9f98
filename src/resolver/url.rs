//! `resolver: URL("http://host/jwt/v1/accounts/")`: account JWTs fetched
//! from an account server with `GET <base><pubkey>`, kept in memory.
//!
//! As nats-server: HTTP 200 means the body is the JWT, anything else is a
//! lookup error; fetches time out after 1.9s; at start the base URL itself
//! must answer 200 ("is anyone home"). There is no TTL by default: a cached
//! JWT is served until it expires (`exp`) or a claim update replaces it
//! (the account server publishes one on every POST). A TTL can be set for
//! servers that want polling.
//!
//! Concurrency: the cache lock is never held across a request, and requests
//! are serialised per account only, so a slow or failing account server
//! delays neither cached accounts nor other accounts' fetches. When a
//! refresh fails and an unexpired JWT is cached, that one is served.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};

use super::{
    check_update, AccountResolver, BoxFuture, Decision, Held, ResolverError, ResolverKind,
    StoreOutcome, Validator, DEFAULT_FETCH_TIMEOUT,
};
use crate::jwt::{self, MAX_TOKEN_SIZE};
use crate::nkeys::{self, KeyKind};

/// Timeouts and caching of a [`UrlResolver`].
#[derive(Debug, Clone)]
pub struct UrlResolverOptions {
    /// TCP (and TLS) connect timeout.
    pub connect_timeout: Duration,
    /// Whole-request timeout (nats-server: 1.9s).
    pub timeout: Duration,
    /// Re-fetch a cached JWT after this long; `None` (nats-server's
    /// behaviour): only when it expires.
    pub ttl: Option<Duration>,
}

impl Default for UrlResolverOptions {
    fn default() -> Self {
        UrlResolverOptions {
            connect_timeout: DEFAULT_FETCH_TIMEOUT,
            timeout: DEFAULT_FETCH_TIMEOUT,
            ttl: None,
        }
    }
}

struct Cached {
    held: Held,
    fetched: Instant,
}

/// The URL resolver.
pub struct UrlResolver {
    base: String,
    client: reqwest::Client,
    opts: UrlResolverOptions,
    cache: RwLock<HashMap<String, Cached>>,
    /// One lock per account being fetched, so concurrent fetches of the same
    /// account make one request; removed when the fetch ends.
    inflight: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    validator: Option<Validator>,
}

impl UrlResolver {
    /// A resolver for `base` (a `/` is appended when missing). Does not
    /// contact the server: [`AccountResolver::start`] does.
    pub fn new(
        base: &str,
        opts: UrlResolverOptions,
        validator: Option<Validator>,
    ) -> Result<Self, ResolverError> {
        let scheme = base.split("://").next().unwrap_or("").to_ascii_lowercase();
        if !base.contains("://") || !matches!(scheme.as_str(), "http" | "https") {
            return Err(ResolverError::Fetch(format!(
                "account resolver URL {:?} must be http:// or https://",
                redact(base)
            )));
        }
        let mut base = base.to_string();
        if !base.ends_with('/') {
            base.push('/');
        }
        let client = reqwest::Client::builder()
            .connect_timeout(opts.connect_timeout)
            .timeout(opts.timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(10)
            .user_agent(concat!("rnats/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ResolverError::Fetch(format!("cannot build HTTP client: {e}")))?;
        Ok(UrlResolver {
            base,
            client,
            opts,
            cache: RwLock::new(HashMap::new()),
            inflight: Mutex::new(HashMap::new()),
            validator,
        })
    }

    /// The base URL (with its trailing `/`).
    pub fn base(&self) -> &str {
        &self.base
    }

    /// GET `<base><name>`: the body on 200, `NotFound` on 404, else an error
    /// naming the (redacted) URL and the status.
    async fn get(&self, name: &str) -> Result<String, ResolverError> {
        let url = format!("{}{}", self.base, name);
        let shown = redact(&url);
        let fail =
            |why: String| ResolverError::Fetch(format!("could not fetch <{shown:?}>: {why}"));
        let mut resp = self
            .client
            .get(&url)
            .send()
            .await
            .map_err(|e| fail(without_url(e).to_string()))?;
        let status = resp.status();
        if status == reqwest::StatusCode::NOT_FOUND && !name.is_empty() {
            return Err(ResolverError::NotFound(name.to_string()));
        }
        if status != reqwest::StatusCode::OK {
            return Err(fail(status.to_string()));
        }
        if resp.content_length().unwrap_or(0) > MAX_TOKEN_SIZE as u64 {
            return Err(fail("response too large".into()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| fail(without_url(e).to_string()))?
        {
            if body.len() + chunk.len() > MAX_TOKEN_SIZE {
                return Err(fail("response too large".into()));
            }
            body.extend_from_slice(&chunk);
        }
        String::from_utf8(body)
            .map(|s| s.trim().to_string())
            .map_err(|_| fail("response is not UTF-8".into()))
    }

    /// The cached JWT of `account` if it may be served without a request.
    fn fresh(&self, account: &str, now: i64) -> Option<String> {
        let cache = self.cache.read();
        let c = cache.get(account)?;
        let expired = c.held.exp > 0 && now > c.held.exp;
        let stale = self.opts.ttl.is_some_and(|ttl| c.fetched.elapsed() >= ttl);
        (!expired && !stale).then(|| c.held.jwt.clone())
    }

    /// Stores `jwt` under the rollback rule; the cache lock is held for the
    /// check and the insert only.
    fn store_sync(&self, account: &str, jwt: &str) -> Result<StoreOutcome, ResolverError> {
        let mut cache = self.cache.write();
        let current = cache.get(account).map(|c| &c.held);
        match check_update(account, jwt, current, self.validator.as_ref())? {
            Decision::Same => {
                if let Some(c) = cache.get_mut(account) {
                    c.fetched = Instant::now();
                }
                Ok(StoreOutcome::Unchanged)
            }
            Decision::Store { iat, exp } => {
                cache.insert(
                    account.to_string(),
                    Cached {
                        held: Held::new(jwt, iat, exp),
                        fetched: Instant::now(),
                    },
                );
                Ok(StoreOutcome::Updated)
            }
        }
    }

    async fn fetch_inner(&self, account: &str) -> Result<String, ResolverError> {
        if !nkeys::is_valid_public_key(account, KeyKind::Account) {
            return Err(ResolverError::InvalidKey(account.to_string()));
        }
        if let Some(j) = self.fresh(account, jwt::now()) {
            return Ok(j);
        }
        let gate = self
            .inflight
            .lock()
            .entry(account.to_string())
            .or_default()
            .clone();
        let res = {
            let _turn = gate.lock().await;
            // Another fetch of this account may have finished meanwhile.
            match self.fresh(account, jwt::now()) {
                Some(j) => Ok(j),
                None => self.refresh(account).await,
            }
        };
        {
            let mut inflight = self.inflight.lock();
            // Only the map and this function hold it: nobody is waiting.
            if Arc::strong_count(&gate) == 2 {
                inflight.remove(account);
            }
        }
        res
    }

    /// Fetches `account` and caches it, serving the cached JWT when the
    /// fetched one would roll it back or the fetch fails.
    async fn refresh(&self, account: &str) -> Result<String, ResolverError> {
        let cached_unexpired = || {
            let now = jwt::now();
            self.cache
                .read()
                .get(account)
                .filter(|c| c.held.exp == 0 || now <= c.held.exp)
                .map(|c| c.held.jwt.clone())
        };
        match self.get(account).await {
            Ok(token) => {
                match self.store_sync(account, &token) {
                    Ok(_) => Ok(token),
                    Err(ResolverError::Rollback) => {
                        log::warn!("account server sent an older JWT for {account}; keeping the one in force");
                        if let Some(c) = self.cache.write().get_mut(account) {
                            c.fetched = Instant::now();
                        }
                        cached_unexpired().ok_or(ResolverError::Rollback)
                    }
                    Err(e) => Err(e),
                }
            }
            Err(e) => match cached_unexpired() {
                Some(j) if !matches!(e, ResolverError::NotFound(_)) => {
                    log::warn!("refreshing account {account} failed ({e}); serving the cached JWT");
                    Ok(j)
                }
                _ => Err(e),
            },
        }
    }
}

impl AccountResolver for UrlResolver {
    fn kind(&self) -> ResolverKind {
        ResolverKind::Url
    }

    fn start(&self) -> BoxFuture<'_, Result<(), ResolverError>> {
        Box::pin(async move { self.get("").await.map(|_| ()) })
    }

    fn fetch<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Result<String, ResolverError>> {
        Box::pin(self.fetch_inner(account))
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
        self.cache.read().get(account).map(|c| c.held.jwt.clone())
    }

    fn list(&self) -> Vec<String> {
        let mut v: Vec<String> = self.cache.read().keys().cloned().collect();
        v.sort();
        v
    }

    fn pack(&self) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = self
            .cache
            .read()
            .iter()
            .map(|(k, c)| (k.clone(), c.held.jwt.clone()))
            .collect();
        v.sort();
        v
    }
}

/// reqwest errors print the URL, which may carry credentials.
fn without_url(e: reqwest::Error) -> reqwest::Error {
    e.without_url()
}

/// The URL with any `user:password@` replaced, for messages.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let auth_end = rest.find('/').unwrap_or(rest.len());
    match rest[..auth_end].rfind('@') {
        Some(at) => format!("{scheme}://xxxxx@{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

#[cfg(test)]
pub(crate) mod test_http {
    //! A tiny HTTP/1.1 server on 127.0.0.1 for resolver tests: fixed
    //! responses per path, optional delay, request log. Its accept loop ends
    //! when dropped or after a minute.
    use std::collections::HashMap;
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    #[derive(Clone)]
    pub struct Reply {
        pub status: u16,
        pub body: String,
        pub delay: Duration,
    }

    #[derive(Default)]
    pub struct State {
        pub routes: HashMap<String, Reply>,
        pub requests: Vec<String>,
    }

    pub struct TestHttp {
        pub port: u16,
        pub state: Arc<Mutex<State>>,
        stop: Arc<AtomicBool>,
    }

    impl TestHttp {
        pub fn start() -> TestHttp {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.set_nonblocking(true).unwrap();
            let port = l.local_addr().unwrap().port();
            let state = Arc::new(Mutex::new(State::default()));
            let stop = Arc::new(AtomicBool::new(false));
            let (st, sp) = (state.clone(), stop.clone());
            std::thread::spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(60);
                while !sp.load(Ordering::Relaxed) && Instant::now() < deadline {
                    match l.accept() {
                        Ok((mut s, _)) => {
                            let st = st.clone();
                            std::thread::spawn(move || {
                                let _ = s.set_nonblocking(false);
                                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                                let mut buf = Vec::new();
                                let mut b = [0u8; 1024];
                                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                                    match s.read(&mut b) {
                                        Ok(0) | Err(_) => return,
                                        Ok(n) => buf.extend_from_slice(&b[..n]),
                                    }
                                }
                                let head = String::from_utf8_lossy(&buf).to_string();
                                let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
                                let reply = {
                                    let mut g = st.lock().unwrap();
                                    g.requests.push(path.clone());
                                    g.routes.get(&path).cloned()
                                };
                                let reply = reply.unwrap_or(Reply {
                                    status: 404,
                                    body: "not found".into(),
                                    delay: Duration::ZERO,
                                });
                                std::thread::sleep(reply.delay);
                                let _ = write!(
                                    s,
                                    "HTTP/1.1 {} X\r\nContent-Type: application/jwt\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
                                    reply.status,
                                    reply.body.len(),
                                    reply.body
                                );
                            });
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            });
            TestHttp { port, state, stop }
        }

        pub fn route(&self, path: &str, status: u16, body: &str, delay: Duration) {
            self.state.lock().unwrap().routes.insert(
                path.to_string(),
                Reply {
                    status,
                    body: body.to_string(),
                    delay,
                },
            );
        }

        pub fn count(&self, path: &str) -> usize {
            self.state
                .lock()
                .unwrap()
                .requests
                .iter()
                .filter(|p| *p == path)
                .count()
        }
    }

    impl Drop for TestHttp {
        fn drop(&mut self) {
            self.stop.store(true, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::account_jwt;
    use super::test_http::TestHttp;
    use super::*;
    use crate::nkeys::KeyPair;

    const BASE: &str = "/jwt/v1/accounts/";

    fn resolver(h: &TestHttp, ttl: Option<Duration>) -> UrlResolver {
        let opts = UrlResolverOptions {
            ttl,
            ..Default::default()
        };
        UrlResolver::new(
            &format!("http://127.0.0.1:{}/jwt/v1/accounts", h.port),
            opts,
            None,
        )
        .unwrap()
    }

    #[tokio::test]
    async fn start_checks_base_url() {
        let h = TestHttp::start();
        let r = resolver(&h, None);
        assert_eq!(r.base(), format!("http://127.0.0.1:{}{BASE}", h.port));
        assert!(r.start().await.is_err(), "404 on the base URL fails start");
        h.route(BASE, 200, "", Duration::ZERO);
        r.start().await.unwrap();
        assert!(UrlResolver::new("ftp://x/", Default::default(), None).is_err());
    }

    #[tokio::test]
    async fn fetch_caches_and_refuses_rollback() {
        let h = TestHttp::start();
        let op = KeyPair::new_operator();
        let acc = KeyPair::new_account().public_key();
        let path = format!("{BASE}{acc}");
        let r = resolver(&h, Some(Duration::ZERO));
        assert_eq!(
            r.fetch(&acc).await.unwrap_err(),
            ResolverError::NotFound(acc.clone())
        );
        let new = account_jwt(&op, &acc, 2000, "new");
        let old = account_jwt(&op, &acc, 1000, "old");
        h.route(&path, 200, &new, Duration::ZERO);
        assert_eq!(r.fetch(&acc).await.unwrap(), new);
        // TTL zero: every fetch asks; the server now sends an older JWT,
        // which must not replace the one in force.
        h.route(&path, 200, &old, Duration::ZERO);
        assert_eq!(r.fetch(&acc).await.unwrap(), new);
        assert_eq!(r.lookup(&acc).unwrap(), new);
        assert_eq!(
            r.store(&acc, &old).await.unwrap_err(),
            ResolverError::Rollback
        );
        assert_eq!(r.store(&acc, &new).await.unwrap(), StoreOutcome::Unchanged);
        let newer = account_jwt(&op, &acc, 3000, "newer");
        assert_eq!(r.store(&acc, &newer).await.unwrap(), StoreOutcome::Updated);
        // The server failing: the cached JWT is served.
        h.route(&path, 500, "boom", Duration::ZERO);
        assert_eq!(r.fetch(&acc).await.unwrap(), newer);
        assert!(r.fetch("not-a-key").await.is_err());
    }

    #[tokio::test]
    async fn without_ttl_cached_accounts_are_not_refetched() {
        let h = TestHttp::start();
        let op = KeyPair::new_operator();
        let acc = KeyPair::new_account().public_key();
        let path = format!("{BASE}{acc}");
        h.route(
            &path,
            200,
            &account_jwt(&op, &acc, 1000, "a"),
            Duration::ZERO,
        );
        let r = resolver(&h, None);
        for _ in 0..3 {
            r.fetch(&acc).await.unwrap();
        }
        assert_eq!(h.count(&path), 1);
    }

    #[tokio::test]
    async fn slow_account_server_blocks_neither_cached_nor_other_accounts() {
        let h = TestHttp::start();
        let op = KeyPair::new_operator();
        let (a, b, c) = (
            KeyPair::new_account().public_key(),
            KeyPair::new_account().public_key(),
            KeyPair::new_account().public_key(),
        );
        h.route(
            &format!("{BASE}{a}"),
            200,
            &account_jwt(&op, &a, 1, "a"),
            Duration::ZERO,
        );
        let r = Arc::new(resolver(&h, None));
        r.fetch(&a).await.unwrap();
        // b hangs past the timeout; c answers after 300ms.
        h.route(
            &format!("{BASE}{b}"),
            200,
            &account_jwt(&op, &b, 1, "b"),
            Duration::from_secs(4),
        );
        h.route(
            &format!("{BASE}{c}"),
            200,
            &account_jwt(&op, &c, 1, "c"),
            Duration::from_millis(300),
        );
        let rb = r.clone();
        let kb = b.clone();
        let slow = tokio::spawn(async move { rb.fetch(&kb).await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        let t = Instant::now();
        r.fetch(&a).await.unwrap();
        assert!(
            t.elapsed() < Duration::from_millis(100),
            "cached fetch waited"
        );
        let t = Instant::now();
        r.fetch(&c).await.unwrap();
        assert!(
            t.elapsed() < Duration::from_millis(1500),
            "other account waited"
        );
        let t = Instant::now();
        assert!(matches!(slow.await.unwrap(), Err(ResolverError::Fetch(_))));
        assert!(t.elapsed() < Duration::from_secs(3), "timeout not applied");
    }

    #[test]
    fn redacts_credentials() {
        assert_eq!(redact("http://u:p@h:1/x"), "http://xxxxx@h:1/x");
        assert_eq!(redact("http://h/x@y"), "http://h/x@y");
    }
}

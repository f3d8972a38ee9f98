//! `push`: sends account JWTs to where servers resolve them.
//!
//! - `http(s)://` account server URL (nats-account-server,
//!   rnats-account-server, or anything speaking its API):
//!   `POST <url>/accounts/<account public key>` with the JWT as body, with
//!   reqwest (rustls).
//! - `nats://` / `tls://` URL of a server: a request per account on
//!   `$SYS.REQ.ACCOUNT.<pubkey>.CLAIMS.UPDATE`, which servers with any
//!   resolver handle, as a system account user (the one given with
//!   `--system-user`, else a temporary user signed by the system account
//!   key), with async-nats. Replies from every server that answers are
//!   reported.
//!
//! Both run on a small single-threaded tokio runtime: the CLI stays
//! synchronous.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use futures::StreamExt;
use rnats::jwt::{self, UserClaims};
use rnats::nkeys::KeyPair;

use crate::env::Ctx;
use crate::store::{ok, Store};

/// `push`.
#[derive(Args, Debug)]
pub struct PushArgs {
    /// Account to push (default: the current account)
    #[arg(short = 'a', long = "account")]
    pub account: Option<String>,
    /// Push all accounts of the operator
    #[arg(short = 'A', long = "all", conflicts_with = "account")]
    pub all: bool,
    /// Account JWT server URL (default: the operator's account_server_url); http:// or nats://
    #[arg(short = 'u', long = "account-jwt-server-url")]
    pub url: Option<String>,
    /// Push even if the account JWT has validation errors
    #[arg(short = 'F', long = "force")]
    pub force: bool,
    /// System account for nats:// pushes (default: the operator's system account)
    #[arg(long = "system-account")]
    pub system_account: Option<String>,
    /// System account user for nats:// pushes (default: a temporary user)
    #[arg(long = "system-user")]
    pub system_user: Option<String>,
    /// Seconds to wait for responses
    #[arg(long = "timeout", default_value_t = 2)]
    pub timeout: u64,
}

/// A parsed `scheme://host[:port][/path]` URL.
#[derive(Debug, PartialEq)]
pub struct Url {
    /// Lower-case scheme.
    pub scheme: String,
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// Port (scheme default when absent).
    pub port: u16,
    /// Path without trailing `/` (may be empty).
    pub path: String,
}

/// Parses the URLs push accepts.
pub fn parse_url(s: &str) -> Result<Url> {
    let (scheme, rest) = s
        .split_once("://")
        .ok_or_else(|| anyhow!("{s:?} is not a URL (scheme://host[:port][/path])"))?;
    let scheme = scheme.to_ascii_lowercase();
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let hostport = hostport
        .rsplit_once('@')
        .map(|(_, h)| h)
        .unwrap_or(hostport);
    let default_port = match scheme.as_str() {
        "http" | "ws" => 80,
        "https" | "wss" => 443,
        "nats" | "tls" => 4222,
        _ => bail!("unsupported URL scheme {scheme:?} in {s:?}"),
    };
    let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
        let (h, after) = h
            .split_once(']')
            .ok_or_else(|| anyhow!("bad IPv6 host in {s:?}"))?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| anyhow!("bad port in {s:?}"))?,
            None => default_port,
        };
        (h.to_string(), port)
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (
                h.to_string(),
                p.parse().map_err(|_| anyhow!("bad port in {s:?}"))?,
            ),
            None => (hostport.to_string(), default_port),
        }
    };
    if host.is_empty() {
        bail!("no host in {s:?}");
    }
    Ok(Url {
        scheme,
        host,
        port,
        path: path.trim_end_matches('/').to_string(),
    })
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// `POST <base>/accounts/<key>` per token; returns `(status, body)` each.
async fn http_push(
    base: &str,
    tokens: &[(String, String, String)],
    timeout: Duration,
) -> Result<Vec<(u16, String)>> {
    let client = reqwest::Client::builder()
        .connect_timeout(timeout)
        .timeout(timeout)
        .http1_title_case_headers()
        .user_agent("rnats-nsc")
        .build()
        .context("cannot build the HTTP client")?;
    let base = base
        .split(['?', '#'])
        .next()
        .unwrap_or(base)
        .trim_end_matches('/');
    let mut out = Vec::new();
    for (name, key, token) in tokens {
        let url = format!("{base}/accounts/{key}");
        let resp = client
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/jwt")
            .body(token.clone())
            .send()
            .await
            .map_err(|e| anyhow!("pushing {name:?} to {url}: {}", e.without_url()))?;
        let status = resp.status().as_u16();
        let body = resp.text().await.unwrap_or_default();
        out.push((status, body.trim().to_string()));
    }
    Ok(out)
}

/// Connects as `user_jwt`/`key` and requests a claim update per token,
/// collecting the replies that arrive before `wait` (several servers may
/// answer each).
async fn nats_push(
    url: &str,
    user_jwt: String,
    key: KeyPair,
    tokens: &[(String, String, String)],
    wait: Duration,
) -> Result<Vec<Vec<String>>> {
    let key = Arc::new(key);
    let client = async_nats::ConnectOptions::with_jwt(user_jwt, move |nonce| {
        let key = key.clone();
        async move {
            key.sign(&nonce)
                .map(|s| s.to_vec())
                .map_err(async_nats::AuthError::new)
        }
    })
    .name("rnats-nsc push")
    .connection_timeout(wait)
    .max_reconnects(Some(1))
    .connect(url)
    .await
    .map_err(|e| anyhow!("cannot connect to {url}: {e}"))?;
    let inbox = client.new_inbox();
    let mut sub = client
        .subscribe(format!("{inbox}.*"))
        .await
        .context("cannot subscribe for replies")?;
    for (i, (_, key, token)) in tokens.iter().enumerate() {
        client
            .publish_with_reply(
                format!("$SYS.REQ.ACCOUNT.{key}.CLAIMS.UPDATE"),
                format!("{inbox}.{i}"),
                token.clone().into(),
            )
            .await
            .context("cannot send the update")?;
    }
    client.flush().await.context("cannot send the update")?;
    let mut out = vec![Vec::new(); tokens.len()];
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        // Once every request has an answer, wait a little for other servers.
        let left = if out.iter().all(|r: &Vec<String>| !r.is_empty()) {
            left.min(Duration::from_millis(300))
        } else {
            left
        };
        if left.is_zero() {
            break;
        }
        let Ok(Some(msg)) = tokio::time::timeout(left, sub.next()).await else {
            break;
        };
        let idx = msg
            .subject
            .rsplit('.')
            .next()
            .and_then(|i| i.parse::<usize>().ok());
        if let Some(i) = idx.filter(|i| *i < out.len()) {
            out[i].push(String::from_utf8_lossy(&msg.payload).into_owned());
        }
    }
    Ok(out)
}

/// A temporary system account user allowed only what push needs.
fn temp_system_user(ctx: &Ctx, store: &Store, sys_acc: &str) -> Result<(String, KeyPair)> {
    let (_, ac) = store.read_account(sys_acc)?;
    let ks = ctx.keystore();
    let mut signer = None;
    for k in std::iter::once(ac.sub.as_str()).chain(
        ac.nats
            .signing_keys
            .iter()
            .filter(|(_, s)| s.is_none())
            .map(|(k, _)| k),
    ) {
        if let Some(kp) = ks.get(k)? {
            signer = Some(kp);
            break;
        }
    }
    let signer = signer.ok_or_else(|| {
        anyhow!("no seed of system account {sys_acc:?} or its signing keys in the keystore - pass --system-user")
    })?;
    let user = KeyPair::new_user();
    let mut uc = UserClaims::new(user.public_key());
    uc.name = "rnats-nsc push".into();
    uc.exp = jwt::now() + 120;
    let p = &mut uc.nats.permission_limits.permissions;
    p.publish.allow = vec![
        "$SYS.REQ.ACCOUNT.*.CLAIMS.UPDATE".into(),
        "$SYS.REQ.CLAIMS.UPDATE".into(),
        "$SYS.REQ.CLAIMS.LIST".into(),
    ];
    p.subscribe.allow = vec!["_INBOX.>".into()];
    if signer.public_key() != ac.sub {
        uc.nats.issuer_account = ac.sub.clone();
    }
    Ok((uc.encode(&signer)?, user))
}

/// Runs `push`.
pub fn run(ctx: &Ctx, a: &PushArgs) -> Result<()> {
    let store = ctx.store()?;
    let (_, oc) = store.read_operator()?;
    let url = match &a.url {
        Some(u) => u.clone(),
        None if !oc.nats.account_server_url.is_empty() => oc.nats.account_server_url.clone(),
        None => bail!("no account server URL: pass -u/--account-jwt-server-url or set it with `edit operator -u <url>`"),
    };
    let accounts = if a.all {
        store.accounts()
    } else {
        vec![ctx.account_name(&store, a.account.as_deref())?]
    };
    if accounts.is_empty() {
        bail!("operator {:?} has no accounts", store.name);
    }
    let mut tokens = Vec::new();
    for acc in &accounts {
        let (t, ac) = store.read_account(acc)?;
        let vr = ac.validate(jwt::now());
        if vr.is_blocking(false) && !a.force {
            let errs: Vec<String> = vr.errors().map(|i| i.description.clone()).collect();
            bail!(
                "account {acc:?} is not valid (use --force to push anyway):\n  - {}",
                errs.join("\n  - ")
            );
        }
        tokens.push((acc.clone(), ac.sub, t));
    }
    let u = parse_url(&url)?;
    let timeout = Duration::from_secs(a.timeout.max(1));
    match u.scheme.as_str() {
        "http" | "https" => {
            let replies = runtime()?.block_on(http_push(&url, &tokens, timeout))?;
            let mut failed = 0;
            for ((name, _, _), (status, body)) in tokens.iter().zip(replies) {
                if (200..300).contains(&status) {
                    ok(format!(
                        "pushed {name:?} to account server {url} ({status})"
                    ));
                } else {
                    failed += 1;
                    eprintln!("[ERR ] pushing {name:?} to {url}: HTTP {status}: {body}");
                }
            }
            if failed > 0 {
                bail!("{failed} account(s) were not pushed");
            }
        }
        "nats" | "tls" => {
            let sys_name = match &a.system_account {
                Some(s) => s.clone(),
                None => store
                    .account_name_by_key(&oc.nats.system_account)
                    .ok_or_else(|| anyhow!("the operator has no system account in this store - pass --system-account"))?,
            };
            let (user_jwt, key) = match &a.system_user {
                Some(u) => {
                    let name = store.user_name(&sys_name, u)?;
                    let (t, uc) = store.read_user(&sys_name, &name)?;
                    let kp = ctx.keystore().get(&uc.sub)?.ok_or_else(|| {
                        anyhow!("the seed of system user {name:?} is not in the keystore")
                    })?;
                    (t, kp)
                }
                None => temp_system_user(ctx, &store, &sys_name)?,
            };
            let replies = runtime()?.block_on(nats_push(&url, user_jwt, key, &tokens, timeout))?;
            let mut failed = 0;
            for ((name, _, _), reps) in tokens.iter().zip(replies) {
                if reps.is_empty() {
                    failed += 1;
                    eprintln!("[ERR ] no server answered the update of {name:?} (is the nats resolver configured?)");
                }
                for r in reps {
                    let v: serde_json::Value = serde_json::from_str(&r).unwrap_or_default();
                    let srv = v["server"]["name"].as_str().unwrap_or("server");
                    if let Some(e) = v.get("error") {
                        failed += 1;
                        eprintln!(
                            "[ERR ] {srv} refused {name:?}: {}",
                            e["description"].as_str().unwrap_or(&r)
                        );
                    } else {
                        ok(format!(
                            "pushed {name:?} to nats-server {srv}: {}",
                            v["data"]["message"].as_str().unwrap_or(&r)
                        ));
                    }
                }
            }
            if failed > 0 {
                bail!("{failed} update(s) failed");
            }
        }
        s => bail!("unsupported account server URL scheme {s:?}: use http(s):// or nats://"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = parse_url("http://localhost:9090/jwt/v1/").unwrap();
        assert_eq!(
            u,
            Url {
                scheme: "http".into(),
                host: "localhost".into(),
                port: 9090,
                path: "/jwt/v1".into()
            }
        );
        assert_eq!(parse_url("nats://127.0.0.1").unwrap().port, 4222);
        assert_eq!(parse_url("nats://u:p@h:1").unwrap().host, "h");
        assert_eq!(parse_url("http://[::1]:8080").unwrap().host, "::1");
        assert!(parse_url("localhost:4222").is_err());
        assert!(parse_url("ftp://x").is_err());
        assert!(parse_url("http://:80").is_err());
    }
}

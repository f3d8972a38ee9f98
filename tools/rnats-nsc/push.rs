//! `push`: sends account JWTs to where servers resolve them.
//!
//! - `http://` account server URL (nats-account-server, or any server that
//!   speaks its API): `POST <url>/accounts/<account public key>` with the JWT
//!   as body, over plain HTTP/1.1 on a `std::net::TcpStream`. The crate has
//!   no HTTP client dependency; `https://` is refused with a clear error.
//! - `nats://` URL of a server with the nats resolver: a request on
//!   `$SYS.REQ.CLAIMS.UPDATE` per account, as a system account user (the one
//!   given with `--system-user`, else a temporary user signed by the system
//!   account key), over a minimal client on a `TcpStream` (no TLS).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use rnats::jwt::{self, UserClaims};
use rnats::nkeys::{self, KeyPair};

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

fn connect(u: &Url, timeout: Duration) -> Result<TcpStream> {
    let addrs = (u.host.as_str(), u.port)
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve {}", u.host))?;
    let mut last = None;
    for a in addrs {
        match TcpStream::connect_timeout(&a, timeout) {
            Ok(s) => {
                s.set_read_timeout(Some(timeout))?;
                s.set_write_timeout(Some(timeout))?;
                return Ok(s);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(anyhow!(
        "cannot connect to {}:{}: {}",
        u.host,
        u.port,
        last.map(|e| e.to_string())
            .unwrap_or_else(|| "no address".into())
    ))
}

/// Decodes a chunked HTTP body (best effort, for messages).
fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            return body.to_string();
        };
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}

/// `POST` over HTTP/1.1; returns the status and body.
pub fn http_post(u: &Url, path: &str, body: &str, timeout: Duration) -> Result<(u16, String)> {
    let mut s = connect(u, timeout)?;
    let host = if u.port == 80 {
        u.host.clone()
    } else {
        format!("{}:{}", u.host, u.port)
    };
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: rnats-nsc\r\nContent-Type: application/jwt\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes())?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp)
        .with_context(|| format!("no response from {}:{}", u.host, u.port))?;
    let text = String::from_utf8_lossy(&resp);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or_else(|| anyhow!("not an HTTP response from {}:{}", u.host, u.port))?;
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase().starts_with("transfer-encoding:")
            && l.to_ascii_lowercase().contains("chunked")
    });
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Ok((status, body.trim().to_string()))
}

/// A minimal NATS client connection: enough to authenticate with a user JWT
/// and make requests.
pub struct NatsConn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl NatsConn {
    /// Connects and authenticates with `jwt` and `key` (nonce signature).
    pub fn connect(u: &Url, user_jwt: &str, key: &KeyPair, timeout: Duration) -> Result<NatsConn> {
        if u.scheme != "nats" {
            bail!("only nats:// URLs are supported for pushing to a nats-resolver server (no TLS)");
        }
        let s = connect(u, timeout)?;
        let mut c = NatsConn {
            reader: BufReader::new(s.try_clone()?),
            writer: s,
        };
        let line = c.line()?;
        let info = line
            .strip_prefix("INFO ")
            .ok_or_else(|| anyhow!("not a NATS server: {line:?}"))?;
        let info: serde_json::Value = serde_json::from_str(info).context("bad INFO from server")?;
        if info["tls_required"].as_bool() == Some(true) {
            bail!("the server requires TLS, which rnats-nsc push does not support");
        }
        let mut connect = serde_json::json!({
            "verbose": false, "pedantic": false, "lang": "rust", "name": "rnats-nsc push",
            "version": env!("CARGO_PKG_VERSION"), "protocol": 1, "jwt": user_jwt,
        });
        if let Some(nonce) = info["nonce"].as_str() {
            connect["sig"] = serde_json::Value::from(nkeys::sign_nonce(key, nonce.as_bytes())?);
        }
        c.send(&format!("CONNECT {connect}\r\nPING\r\n"))?;
        loop {
            let l = c.line()?;
            if l == "PONG" {
                return Ok(c);
            }
            if let Some(e) = l.strip_prefix("-ERR") {
                bail!("server refused the connection:{e}");
            }
        }
    }

    fn send(&mut self, s: &str) -> Result<()> {
        self.writer.write_all(s.as_bytes())?;
        Ok(())
    }

    fn line(&mut self) -> Result<String> {
        let mut l = String::new();
        let n = self.reader.read_line(&mut l)?;
        if n == 0 {
            bail!("connection closed by the server");
        }
        Ok(l.trim_end_matches(['\r', '\n']).to_string())
    }

    /// Sends `payload` to `subject` once per item and collects the replies
    /// that arrive before `wait` (replies from several servers are all kept).
    pub fn requests(
        &mut self,
        subject: &str,
        payloads: &[String],
        wait: Duration,
    ) -> Result<Vec<Vec<String>>> {
        let mut rnd = [0u8; 8];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut rnd);
        let inbox = format!("_INBOX.{}", data_encoding::HEXUPPER.encode(&rnd));
        self.send(&format!("SUB {inbox}.* 1\r\n"))?;
        for (i, p) in payloads.iter().enumerate() {
            self.send(&format!("PUB {subject} {inbox}.{i} {}\r\n{p}\r\n", p.len()))?;
        }
        self.send("PING\r\n")?;
        let mut out = vec![Vec::new(); payloads.len()];
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            // Once every request has an answer, wait a little for other servers.
            let all = out.iter().all(|r: &Vec<String>| !r.is_empty());
            let left = if all {
                left.min(Duration::from_millis(300))
            } else {
                left
            };
            if left.is_zero() {
                break;
            }
            self.writer.set_read_timeout(Some(left))?;
            self.reader.get_ref().set_read_timeout(Some(left))?;
            let l = match self.line() {
                Ok(l) => l,
                Err(e) => {
                    let timed_out = e.downcast_ref::<std::io::Error>().is_some_and(|io| {
                        matches!(
                            io.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        )
                    });
                    if timed_out {
                        break;
                    }
                    return Err(e);
                }
            };
            if l == "PING" {
                self.send("PONG\r\n")?;
            } else if let Some(e) = l.strip_prefix("-ERR") {
                bail!("server error:{e}");
            } else if let Some(args) = l.strip_prefix("MSG ") {
                let parts: Vec<&str> = args.split_whitespace().collect();
                let len: usize = parts
                    .last()
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(|| anyhow!("bad MSG line {l:?}"))?;
                let mut buf = vec![0u8; len + 2];
                self.reader.read_exact(&mut buf)?;
                buf.truncate(len);
                let idx = parts[0]
                    .rsplit('.')
                    .next()
                    .and_then(|i| i.parse::<usize>().ok());
                if let Some(i) = idx.filter(|i| *i < out.len()) {
                    out[i].push(String::from_utf8_lossy(&buf).into_owned());
                }
            }
        }
        Ok(out)
    }
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
        "http" => {
            let mut failed = 0;
            for (name, key, token) in &tokens {
                let path = format!("{}/accounts/{key}", u.path);
                let (status, body) = http_post(&u, &path, token, timeout)?;
                if (200..300).contains(&status) {
                    ok(format!("pushed {name:?} to account server {url} ({status})"));
                } else {
                    failed += 1;
                    eprintln!("[ERR ] pushing {name:?} to {url}: HTTP {status}: {body}");
                }
            }
            if failed > 0 {
                bail!("{failed} account(s) were not pushed");
            }
        }
        "https" => bail!("https:// account servers are not supported by rnats-nsc push (no TLS client); use http:// or a nats:// resolver URL"),
        "nats" => {
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
                    let kp = ctx
                        .keystore()
                        .get(&uc.sub)?
                        .ok_or_else(|| anyhow!("the seed of system user {name:?} is not in the keystore"))?;
                    (t, kp)
                }
                None => temp_system_user(ctx, &store, &sys_name)?,
            };
            let mut conn = NatsConn::connect(&u, &user_jwt, &key, timeout)?;
            let payloads: Vec<String> = tokens.iter().map(|(_, _, t)| t.clone()).collect();
            let replies = conn.requests("$SYS.REQ.CLAIMS.UPDATE", &payloads, timeout)?;
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
                        eprintln!("[ERR ] {srv} refused {name:?}: {}", e["description"].as_str().unwrap_or(&r));
                    } else {
                        ok(format!("pushed {name:?} to nats-server {srv}: {}", v["data"]["message"].as_str().unwrap_or(&r)));
                    }
                }
            }
            if failed > 0 {
                bail!("{failed} update(s) failed");
            }
        }
        s => bail!("unsupported account server URL scheme {s:?}: use http:// or nats://"),
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

    #[test]
    fn chunked() {
        assert_eq!(
            dechunk("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"),
            "hello world"
        );
    }
}

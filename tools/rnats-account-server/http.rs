//! The HTTP API (nats-account-server's `/jwt/v1` paths) over hyper.
//!
//! Request bodies are capped at the JWT size limit and header reads time
//! out, so a slow or hostile client costs one task and little memory.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use rnats::jwt;
use rnats::nkeys::{self, KeyKind};
use rnats::resolver::{AccountResolver, DirResolver, ResolverError, StoreOutcome};
use rnats::trust::TrustConfig;

use crate::notify::Notifier;

const ACCOUNTS: &str = "/jwt/v1/accounts";
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
const HELP: &str = "rnats-account-server (nats-account-server API)\n\
GET  /jwt/v1/accounts/<pubkey>   account JWT (?check=true: 404 if expired, ?text=true: text/plain)\n\
POST /jwt/v1/accounts/<pubkey>   store an account JWT (body), notify servers\n\
GET  /jwt/v1/operator            operator JWT\n\
GET  /healthz                    health\n";

/// What handlers share.
pub struct State {
    pub operator_jwt: String,
    pub trust: TrustConfig,
    pub store: Arc<DirResolver>,
    pub notifier: Arc<Option<Notifier>>,
}

/// Accepts connections until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, state: Arc<State>) -> Result<()> {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                log::error!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let state = state.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(handle(&state, req).await) }
            });
            if let Err(e) = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), svc)
                .await
            {
                log::debug!("http: {e}");
            }
        });
    }
}

fn reply(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn text(status: StatusCode, body: impl Into<String>) -> Response<Full<Bytes>> {
    let mut b = body.into();
    b.push('\n');
    reply(status, "text/plain; charset=utf-8", b)
}

async fn handle(state: &State, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let method = req.method().clone();
    match (method, path.as_str()) {
        (Method::GET, "/healthz") => {
            reply(StatusCode::OK, "application/json", r#"{"status":"ok"}"#)
        }
        (Method::GET, "/jwt/v1/help") => text(StatusCode::OK, HELP.trim_end()),
        (Method::GET, "/jwt/v1/operator") => reply(
            StatusCode::OK,
            "application/jwt",
            state.operator_jwt.clone(),
        ),
        // Servers probe the base URL at start.
        (Method::GET, p) if p == ACCOUNTS || p == "/jwt/v1/accounts/" => {
            reply(StatusCode::OK, "text/plain; charset=utf-8", "")
        }
        (m, p) if p.starts_with("/jwt/v1/accounts/") => {
            let key = &p["/jwt/v1/accounts/".len()..];
            match m {
                Method::GET => get_account(state, key, &query, &req),
                Method::POST => post_account(state, key, req).await,
                _ => text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
            }
        }
        _ => text(StatusCode::NOT_FOUND, "not found"),
    }
}

fn flag(query: &str, name: &str) -> bool {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .any(|(k, v)| k == name && v.eq_ignore_ascii_case("true"))
}

fn get_account(
    state: &State,
    key: &str,
    query: &str,
    req: &Request<Incoming>,
) -> Response<Full<Bytes>> {
    let not_found = || text(StatusCode::NOT_FOUND, "no matching account JWT");
    if !nkeys::is_valid_public_key(key, KeyKind::Account) {
        return not_found();
    }
    let Some(token) = state.store.lookup(key) else {
        return not_found();
    };
    // The store only holds JWTs that decoded when stored.
    let claims = jwt::decode_account(&token).ok();
    if flag(query, "check")
        && claims
            .as_ref()
            .is_none_or(|c| c.check_times(jwt::now()).is_err())
    {
        return not_found();
    }
    let etag = claims.map(|c| format!("\"{}\"", c.jti));
    if let (Some(tag), Some(inm)) = (&etag, req.headers().get(IF_NONE_MATCH)) {
        if inm.as_bytes() == tag.as_bytes() {
            return reply(StatusCode::NOT_MODIFIED, "application/jwt", "");
        }
    }
    let ct = if flag(query, "text") {
        "text/plain; charset=utf-8"
    } else {
        "application/jwt"
    };
    let mut r = reply(StatusCode::OK, ct, token);
    if let Some(v) = etag.and_then(|t| HeaderValue::from_str(&t).ok()) {
        r.headers_mut().insert(ETAG, v);
    }
    r
}

async fn post_account(state: &State, key: &str, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let body = match Limited::new(req.into_body(), jwt::MAX_TOKEN_SIZE)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return text(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request body too large or unreadable",
            )
        }
    };
    let Ok(token) = std::str::from_utf8(&body) else {
        return text(StatusCode::BAD_REQUEST, "bad JWT in request");
    };
    let token = token.trim();
    let claims = match jwt::decode_account(token) {
        Ok(c) => c,
        Err(e) => return text(StatusCode::BAD_REQUEST, format!("bad JWT in request: {e}")),
    };
    if claims.sub != key {
        return text(StatusCode::BAD_REQUEST, "pub keys don't match");
    }
    if !state.trust.is_trusted_issuer(&claims.iss) {
        return text(StatusCode::BAD_REQUEST, "untrusted issuer in request");
    }
    if let Err(e) = state.trust.verify_account_jwt(token) {
        return text(StatusCode::BAD_REQUEST, e.to_string());
    }
    match state.store.store(key, token).await {
        Ok(StoreOutcome::Updated) => {
            log::info!("stored account {key} ({})", claims.name);
            if let Some(n) = state.notifier.as_ref() {
                n.publish(key, token);
            }
            text(StatusCode::OK, "jwt updated")
        }
        Ok(StoreOutcome::Unchanged) => text(StatusCode::OK, "jwt unchanged"),
        Err(ResolverError::Rollback) => {
            text(StatusCode::CONFLICT, ResolverError::Rollback.to_string())
        }
        Err(e @ ResolverError::Io(_)) | Err(e @ ResolverError::Full) => {
            log::error!("storing account {key}: {e}");
            text(StatusCode::INTERNAL_SERVER_ERROR, "cannot store the JWT")
        }
        Err(e) => text(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

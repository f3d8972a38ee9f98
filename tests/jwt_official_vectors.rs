//! JWTs and a creds file made by the official NATS JavaScript libraries
//! (fixtures/jwt/, see its README) decode and verify in rnats.

use data_encoding::BASE64URL_NOPAD;
use rnats::creds;
use rnats::jwt::{self, AnyClaims};
use rnats::nkeys::KeyPair;
use serde_json::Value;

fn vectors() -> Value {
    let path = format!("{}/fixtures/jwt/vectors.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

fn find<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == name)
        .unwrap_or_else(|| panic!("no vector {name}"))
}

fn token<'a>(v: &'a Value, name: &str) -> &'a str {
    find(v, name)["jwt"].as_str().unwrap()
}

fn payload(token: &str) -> Value {
    let p = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&BASE64URL_NOPAD.decode(p.as_bytes()).unwrap()).unwrap()
}

/// Go omits zero values; the JS library writes some (`"locale":""`,
/// `"bearer_token":false`). Both mean "not set".
fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_i64() == Some(0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.values().all(is_empty),
    }
}

/// Every non-empty value of `theirs` is in `ours` (rnats' re-serialisation).
fn assert_covers(ours: &Value, theirs: &Value, path: &str) {
    match theirs {
        Value::Object(t) => {
            for (k, tv) in t {
                if is_empty(tv) {
                    continue;
                }
                let ov = ours
                    .get(k)
                    .unwrap_or_else(|| panic!("rnats lost {path}.{k} = {tv}\nours: {ours}"));
                assert_covers(ov, tv, &format!("{path}.{k}"));
            }
        }
        Value::Array(t) => {
            let mut o = ours
                .as_array()
                .unwrap_or_else(|| panic!("{path}: not an array: {ours}"))
                .clone();
            let mut t = t.clone();
            if path.ends_with(".signing_keys") {
                // rnats (like Go) writes signing keys sorted by key.
                let key = |v: &Value| v.as_str().or(v["key"].as_str()).unwrap_or("").to_string();
                o.sort_by_key(key);
                t.sort_by_key(key);
            }
            assert_eq!(o.len(), t.len(), "{path}");
            for (i, (ov, tv)) in o.iter().zip(&t).enumerate() {
                assert_covers(ov, tv, &format!("{path}[{i}]"));
            }
        }
        _ => assert_eq!(ours, theirs, "{path}"),
    }
}

#[test]
fn every_vector_decodes_and_verifies() {
    let v = vectors();
    for vec in v["vectors"].as_array().unwrap() {
        let name = vec["name"].as_str().unwrap();
        let tok = vec["jwt"].as_str().unwrap();
        let any = jwt::decode(tok).unwrap_or_else(|e| panic!("{name}: {e}"));
        let ty = vec["type"].as_str().unwrap();
        match ty {
            "generic" => assert_eq!(any.claim_type(), "my-type", "{name}"),
            t => assert_eq!(any.claim_type(), t, "{name}"),
        }
        if let Some(iss) = vec["iss"].as_str() {
            assert_eq!(any.issuer(), iss, "{name}");
        }
        if let Some(sub) = vec["sub"].as_str() {
            assert_eq!(any.subject(), sub, "{name}");
        }
        // Typed re-serialisation keeps every field the library wrote (v1
        // tokens are moved to the v2 layout, so compare those by hand).
        if vec["v1"].as_bool() != Some(true) {
            let ours = match &any {
                AnyClaims::Operator(c) => serde_json::to_value(c),
                AnyClaims::Account(c) => serde_json::to_value(c),
                AnyClaims::User(c) => serde_json::to_value(c),
                AnyClaims::Activation(c) => serde_json::to_value(c),
                AnyClaims::Generic(c) => serde_json::to_value(c),
            }
            .unwrap();
            assert_covers(&ours, &payload(tok), name);
        }
        if let Some(ia) = vec["issuer_account"].as_str() {
            match &any {
                AnyClaims::User(u) => assert_eq!(u.account_id(), ia),
                AnyClaims::Activation(a) => assert_eq!(a.account_id(), ia),
                other => panic!("{name}: {other:?}"),
            }
        }
    }
}

#[test]
fn tampered_copies_are_refused() {
    let v = vectors();
    for vec in v["vectors"].as_array().unwrap() {
        let name = vec["name"].as_str().unwrap();
        let tok = vec["jwt"].as_str().unwrap();
        let parts: Vec<&str> = tok.split('.').collect();
        let mut p = payload(tok);
        p["name"] = Value::from("mallory");
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            BASE64URL_NOPAD.encode(p.to_string().as_bytes()),
            parts[2]
        );
        assert_eq!(
            jwt::decode(&forged).unwrap_err(),
            jwt::Error::InvalidSignature,
            "{name}"
        );
        // Re-signed by another key but still claiming the original issuer.
        let other = KeyPair::new_account();
        let input = format!("{}.{}", parts[0], parts[1]);
        let sig = BASE64URL_NOPAD.encode(&other.sign(input.as_bytes()).unwrap());
        if vec["v1"].as_bool() != Some(true) {
            assert_eq!(
                jwt::decode(&format!("{input}.{sig}")).unwrap_err(),
                jwt::Error::InvalidSignature,
                "{name}"
            );
        }
    }
}

#[test]
fn account_fields_and_trust() {
    let v = vectors();
    let op = jwt::decode_operator(token(&v, "operator")).unwrap();
    let acc = jwt::decode_account(token(&v, "account with everything")).unwrap();
    let sys = jwt::decode_account(token(&v, "system account")).unwrap();
    assert_eq!(op.nats.system_account, sys.sub);
    assert!(op.validate(jwt::now()).errors().next().is_none());
    // Signed by the operator's signing key; the system account by the
    // identity key.
    assert!(op.did_sign(&acc));
    assert!(op.did_sign(&sys));
    assert!(!acc.is_self_signed());

    let n = &acc.nats;
    assert_eq!(n.limits.account.conn, 50);
    assert_eq!(n.limits.account.leaf_node_conn, 2);
    assert_eq!(n.limits.nats.subs, 1000);
    assert_eq!(n.limits.nats.data, -1);
    assert_eq!(n.limits.jetstream.memory_storage, -1);
    assert!(n.limits.is_jetstream_enabled());
    assert_eq!(n.exports.len(), 3);
    let svc = n.export_by_subject("svc.req").unwrap();
    assert!(svc.is_service());
    assert_eq!(svc.response_type, "Stream");
    assert_eq!(svc.latency.as_ref().unwrap().sampling, 0);
    assert_eq!(svc.response_threshold, 5_000_000_000);
    let private = n.export_by_subject("private.*").unwrap();
    assert!(private.token_req);
    assert_eq!(private.account_token_position, 2);
    assert_eq!(n.imports.len(), 2);
    assert!(n.imports.iter().any(|i| i.local_subject == "from-b.events"));
    assert_eq!(n.signing_keys.len(), 2);
    let scope = n.signing_keys.by_role("ops").unwrap();
    assert_eq!(scope.template.permissions.publish.allow, vec!["ops.>"]);
    assert_eq!(scope.template.limits.subs, -1);
    assert_eq!(n.revocations.0.get("*"), Some(&500));
    assert_eq!(n.default_permissions.publish.allow, vec!["public.>"]);
    let vr = acc.validate(jwt::now());
    assert!(!vr.is_blocking(false), "{vr:?}");

    // Users: direct, via a signing key, scoped; the revocation applies to
    // the listed user only when issued at or before it.
    let u = jwt::decode_user(token(&v, "user with permissions")).unwrap();
    assert!(acc.did_sign(&u));
    assert!(!acc.is_revoked(&u));
    let pl = &u.nats.permission_limits;
    assert_eq!(pl.permissions.subscribe.allow, vec!["a.>", "q.* workers"]);
    assert_eq!(pl.permissions.resp.as_ref().unwrap().max_msgs, 5);
    assert_eq!(pl.src, vec!["10.0.0.0/8", "192.168.1.0/24"]);
    assert_eq!(pl.times[0].end, "17:30:00");
    assert_eq!(pl.locale, "Europe/Berlin");
    assert_eq!(pl.allowed_connection_types, vec!["STANDARD", "WEBSOCKET"]);
    assert!(u.exp > u.iat);
    assert!(
        u.validate(jwt::now()).is_empty(),
        "{:?}",
        u.validate(jwt::now())
    );

    let via_sk = jwt::decode_user(token(&v, "user signed by signing key")).unwrap();
    assert!(acc.did_sign(&via_sk));
    assert!(acc.signer_scope(&via_sk).is_none());
    let scoped = jwt::decode_user(token(&v, "scoped user")).unwrap();
    assert!(acc.did_sign(&scoped));
    assert!(scoped.has_empty_permissions());
    assert_eq!(acc.signer_scope(&scoped).unwrap().role, "ops");
    let bearer = jwt::decode_user(token(&v, "bearer user")).unwrap();
    assert!(bearer.is_bearer());

    let act = jwt::decode_activation(token(&v, "activation")).unwrap();
    assert!(acc.did_sign_activation(&act));
    assert_eq!(act.nats.import_subject, "private.*");
    let act2 = jwt::decode_activation(token(&v, "activation by signing key")).unwrap();
    assert!(acc.did_sign_activation(&act2));
    assert_eq!(act2.nats.import_type, Some(jwt::ExportType::Service));
}

#[test]
fn v1_user() {
    let v = vectors();
    let u = jwt::decode_user(token(&v, "v1 user")).unwrap();
    assert_eq!(u.nats.generic.version, 1);
    assert_eq!(
        u.nats.permission_limits.permissions.publish.allow,
        vec!["v1.>"]
    );
    let (h, _) = jwt::decode_unverified(token(&v, "v1 user")).unwrap();
    assert_eq!(h.alg, "ed25519");
}

#[test]
fn creds_from_fmt_creds() {
    let v = vectors();
    let text = v["creds"]["text"].as_str().unwrap();
    let c = creds::parse(text).unwrap();
    assert_eq!(c.jwt, v["creds"]["jwt"].as_str().unwrap());
    assert_eq!(
        c.key.public_key(),
        v["creds"]["public_key"].as_str().unwrap()
    );
    creds::check(&c).unwrap();
}

#[test]
fn reencode_with_rnats() {
    // Official-library content signed again by rnats decodes to the same
    // claims (what `nsc edit` does with an imported JWT).
    let v = vectors();
    let acc_key = KeyPair::from_seed(v["keys"]["account"].as_str().unwrap()).unwrap();
    let op_key = KeyPair::from_seed(v["keys"]["operator"].as_str().unwrap()).unwrap();
    let mut u = jwt::decode_user(token(&v, "user with permissions")).unwrap();
    let t = u.encode(&acc_key).unwrap();
    assert_eq!(jwt::decode_user(&t).unwrap(), u);
    let mut a = jwt::decode_account(token(&v, "account with everything")).unwrap();
    let t = a.encode(&op_key).unwrap();
    assert_eq!(jwt::decode_account(&t).unwrap(), a);
}

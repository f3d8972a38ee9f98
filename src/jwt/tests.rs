//! Unit tests of the JWT module: round trips and every rejection path.

use data_encoding::BASE64URL_NOPAD;
use serde_json::json;

use super::*;
use crate::nkeys::{KeyKind, KeyPair};

const NOW: i64 = 1_700_000_000;

/// Builds a token from raw JSON, signed by `signer` over the v2 input
/// (`header.payload`) or, with `v1`, the payload only.
fn raw_token(
    header: &serde_json::Value,
    payload: &serde_json::Value,
    signer: &KeyPair,
    v1: bool,
) -> String {
    let h = BASE64URL_NOPAD.encode(header.to_string().as_bytes());
    let p = BASE64URL_NOPAD.encode(payload.to_string().as_bytes());
    let input = if v1 { p.clone() } else { format!("{h}.{p}") };
    let sig = signer.sign(input.as_bytes()).unwrap();
    format!("{h}.{p}.{}", BASE64URL_NOPAD.encode(&sig))
}

fn header() -> serde_json::Value {
    json!({"typ":"JWT","alg":"ed25519-nkey"})
}

fn user_payload(iss: &KeyPair, sub: &KeyPair) -> serde_json::Value {
    json!({
        "jti": "X", "iat": NOW, "iss": iss.public_key(), "name": "u", "sub": sub.public_key(),
        "nats": {"pub":{},"sub":{},"subs":-1,"data":-1,"payload":-1,"type":"user","version":2}
    })
}

fn payload_of(token: &str) -> serde_json::Value {
    decode_unverified(token).unwrap().1
}

#[test]
fn operator_round_trip() {
    let op = KeyPair::new_operator();
    let sk = KeyPair::new_operator();
    let sys = KeyPair::new_account();
    let mut c = OperatorClaims::new(op.public_key());
    c.name = "OP".into();
    c.nats.add_signing_key(&sk.public_key());
    c.nats.system_account = sys.public_key();
    c.nats.account_server_url = "http://localhost:9090/jwt/v1".into();
    c.nats.strict_signing_key_usage = true;
    c.nats.generic.add_tag("Prod");
    let token = c.encode_at(&op, NOW).unwrap();
    let d = decode_operator(&token).unwrap();
    assert_eq!(d, c);
    assert_eq!(d.iss, op.public_key());
    assert_eq!(d.iat, NOW);
    assert_eq!(d.nats.generic.claim_type, "operator");
    assert_eq!(d.nats.generic.version, 2);
    assert!(d.is_self_signed());
    assert!(d.validate(NOW).is_empty());
    // The header is exactly what nats writes.
    let (h, _) = decode_unverified(&token).unwrap();
    assert_eq!(h, Header::v2());
    let raw_h = BASE64URL_NOPAD
        .decode(token.split('.').next().unwrap().as_bytes())
        .unwrap();
    assert_eq!(raw_h, br#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
}

#[test]
fn account_round_trip_with_everything() {
    let op = KeyPair::new_operator();
    let acc = KeyPair::new_account();
    let other = KeyPair::new_account();
    let sk = KeyPair::new_account();
    let scoped = KeyPair::new_account();
    let user = KeyPair::new_user();
    let mut c = AccountClaims::new(acc.public_key());
    c.name = "A".into();
    c.nats.limits.account.conn = 10;
    c.nats.limits.jetstream.memory_storage = -1;
    c.nats.exports.push(Export {
        name: "svc".into(),
        subject: "svc.>".into(),
        export_type: Some(ExportType::Service),
        token_req: true,
        response_type: "Stream".into(),
        latency: Some(ServiceLatency {
            sampling: 0,
            results: "lat.results".into(),
        }),
        ..Default::default()
    });
    c.nats.exports.push(Export {
        name: "events".into(),
        subject: "events.*".into(),
        export_type: Some(ExportType::Stream),
        account_token_position: 2,
        ..Default::default()
    });
    c.nats.imports.push(Import {
        name: "theirs".into(),
        subject: "their.stream".into(),
        account: other.public_key(),
        local_subject: "mine.stream".into(),
        import_type: Some(ExportType::Stream),
        ..Default::default()
    });
    c.nats.signing_keys.add(&sk.public_key());
    let mut scope = UserScope::new(&scoped.public_key(), "ops");
    scope
        .template
        .permissions
        .publish
        .allow
        .push("ops.{{name()}}.>".into());
    c.nats.signing_keys.add_scope(scope);
    c.nats.revocations.revoke(&user.public_key(), NOW - 10);
    c.nats
        .default_permissions
        .subscribe
        .allow
        .push("public.>".into());
    c.nats.mappings.insert(
        "old".into(),
        vec![WeightedMapping {
            subject: "new".into(),
            weight: 100,
            cluster: String::new(),
        }],
    );
    c.nats.info.description = "an account".into();
    let token = c.encode_at(&op, NOW).unwrap();
    let d = decode_account(&token).unwrap();
    assert_eq!(d, c);
    // Exports are sorted by subject on encode, as nats does.
    assert_eq!(d.nats.exports[0].subject, "events.*");
    let v = payload_of(&token);
    assert_eq!(
        v["nats"]["exports"][1]["service_latency"]["sampling"],
        "headers"
    );
    assert_eq!(v["nats"]["limits"]["conn"], 10);
    assert_eq!(v["nats"]["limits"]["wildcards"], true);
    assert_eq!(v["nats"]["limits"]["mem_storage"], -1);
    // Signing keys are an array of strings and scope objects.
    let sks = v["nats"]["signing_keys"].as_array().unwrap();
    assert_eq!(sks.len(), 2);
    assert!(sks.iter().any(|x| x == &json!(sk.public_key())));
    assert!(sks
        .iter()
        .any(|x| x["kind"] == "user_scope" && x["role"] == "ops"));
    assert!(d.nats.signing_keys.scope(&scoped.public_key()).is_some());
    assert_eq!(
        d.nats.signing_keys.by_role("ops").unwrap().key,
        scoped.public_key()
    );
    let vr = d.validate(NOW);
    assert!(!vr.is_blocking(true), "{vr:?}");
}

#[test]
fn default_account_shape_is_nsc_shape() {
    let op = KeyPair::new_operator();
    let acc = KeyPair::new_account();
    let mut c = AccountClaims::new(acc.public_key());
    let token = c.encode_at(&op, NOW).unwrap();
    let v = payload_of(&token);
    assert_eq!(
        v["nats"]["limits"],
        json!({"subs":-1,"data":-1,"payload":-1,"imports":-1,"exports":-1,"wildcards":true,"conn":-1,"leaf":-1})
    );
    assert_eq!(v["nats"]["default_permissions"], json!({"pub":{},"sub":{}}));
    assert_eq!(v["nats"]["type"], "account");
    assert_eq!(v["nats"]["version"], 2);
}

#[test]
fn user_round_trip_and_shape() {
    let acc = KeyPair::new_account();
    let u = KeyPair::new_user();
    let mut c = UserClaims::new(u.public_key());
    c.name = "bob".into();
    c.exp = NOW + 3600;
    let pl = &mut c.nats.permission_limits;
    pl.permissions.publish.allow.push("a.>".into());
    pl.permissions.subscribe.deny.push("b.* q1".into());
    pl.permissions.resp = Some(ResponsePermission {
        max_msgs: 1,
        expires_ns: 5_000_000_000,
    });
    pl.src = vec!["10.0.0.0/8".into()];
    pl.times = vec![TimeRange {
        start: "08:00:00".into(),
        end: "17:00:00".into(),
    }];
    pl.locale = "Europe/Berlin".into();
    pl.bearer_token = true;
    pl.allowed_connection_types = vec![connection_type::STANDARD.into()];
    c.nats.generic.add_tag("team-a");
    let token = c.encode_at(&acc, NOW).unwrap();
    let d = decode_user(&token).unwrap();
    assert_eq!(d, c);
    assert!(d.is_bearer());
    assert_eq!(d.account_id(), acc.public_key());
    assert!(d.validate(NOW).is_empty(), "{:?}", d.validate(NOW));
    let v = payload_of(&token);
    assert_eq!(v["nats"]["resp"], json!({"max":1,"ttl":5_000_000_000i64}));
    assert_eq!(v["nats"]["times_location"], "Europe/Berlin");

    // Default user body: what nsc writes.
    let mut c = UserClaims::new(u.public_key());
    let token = c.encode_at(&acc, NOW).unwrap();
    assert_eq!(
        payload_of(&token)["nats"],
        json!({"pub":{},"sub":{},"subs":-1,"data":-1,"payload":-1,"type":"user","version":2})
    );
}

#[test]
fn scoped_user_shape() {
    let sk = KeyPair::new_account();
    let acc = KeyPair::new_account();
    let u = KeyPair::new_user();
    let mut c = Claims::<User> {
        sub: u.public_key(),
        nats: User::new_scoped(),
        ..Default::default()
    };
    c.nats.issuer_account = acc.public_key();
    let token = c.encode_at(&sk, NOW).unwrap();
    let d = decode_user(&token).unwrap();
    assert!(d.has_empty_permissions());
    assert_eq!(d.account_id(), acc.public_key());
    let v = payload_of(&token);
    let nats = v["nats"].as_object().unwrap();
    for f in ["subs", "data", "payload", "src", "times", "bearer_token"] {
        assert!(!nats.contains_key(f), "{f} present");
    }
    // did_sign through the scoped key, with the template as the scope.
    let mut a = AccountClaims::new(acc.public_key());
    a.nats
        .signing_keys
        .add_scope(UserScope::new(&sk.public_key(), "r"));
    assert!(a.did_sign(&d));
    assert_eq!(a.signer_scope(&d).unwrap().role, "r");
    // Without issuer_account the account does not claim it.
    let mut c2 = d.clone();
    c2.nats.issuer_account.clear();
    assert!(!a.did_sign(&c2));
}

#[test]
fn activation_round_trip() {
    let exporter = KeyPair::new_account();
    let importer = KeyPair::new_account();
    let mut c = ActivationClaims::new(importer.public_key());
    c.nats.import_subject = "private.>".into();
    c.nats.import_type = Some(ExportType::Stream);
    let token = c.encode_at(&exporter, NOW).unwrap();
    let d = decode_activation(&token).unwrap();
    assert_eq!(d, c);
    assert_eq!(d.account_id(), exporter.public_key());
    assert_eq!(payload_of(&token)["nats"]["kind"], "stream");
    let mut a = AccountClaims::new(exporter.public_key());
    assert!(a.did_sign_activation(&d));
    a.sub = importer.public_key();
    assert!(!a.did_sign_activation(&d));
    assert!(d.validate(NOW).is_empty());
}

#[test]
fn generic_decode_dispatch() {
    let op = KeyPair::new_operator();
    let acc = KeyPair::new_account();
    let u = KeyPair::new_user();
    let ut = UserClaims::new(u.public_key())
        .encode_at(&acc, NOW)
        .unwrap();
    let at = AccountClaims::new(acc.public_key())
        .encode_at(&op, NOW)
        .unwrap();
    let ot = OperatorClaims::new(op.public_key())
        .encode_at(&op, NOW)
        .unwrap();
    assert!(matches!(decode(&ut).unwrap(), AnyClaims::User(_)));
    assert!(matches!(decode(&at).unwrap(), AnyClaims::Account(_)));
    assert!(matches!(decode(&ot).unwrap(), AnyClaims::Operator(_)));
    assert_eq!(decode(&ut).unwrap().claim_type(), "user");
    assert_eq!(decode(&ut).unwrap().subject(), u.public_key());
    // A custom type decodes generically, its body kept.
    let p = json!({"iat":NOW,"iss":acc.public_key(),"sub":"anything","nats":{"type":"mine","version":2,"x":1}});
    let t = raw_token(&header(), &p, &acc, false);
    let g = decode(&t).unwrap();
    assert_eq!(g.claim_type(), "mine");
    match g {
        AnyClaims::Generic(g) => assert_eq!(g.nats.0["x"], 1),
        other => panic!("{other:?}"),
    }
    let g = decode_generic(&ut).unwrap();
    assert_eq!(g.nats.0["type"], "user");
}

#[test]
fn jti_is_hash_of_claims() {
    let acc = KeyPair::new_account();
    let u = KeyPair::new_user();
    let mut a = UserClaims::new(u.public_key());
    let mut b = a.clone();
    b.nats.permission_limits.bearer_token = true;
    a.encode_at(&acc, NOW).unwrap();
    b.encode_at(&acc, NOW).unwrap();
    // Same registered claims, same second, different body: different IDs.
    assert_ne!(a.jti, b.jti);
    assert_eq!(a.jti.len(), 52);
    // Deterministic for the same content.
    let mut a2 = UserClaims::new(u.public_key());
    a2.encode_at(&acc, NOW).unwrap();
    assert_eq!(a.jti, a2.jti);
}

#[test]
fn unknown_fields_and_nulls_tolerated() {
    let acc = KeyPair::new_account();
    let u = KeyPair::new_user();
    let mut p = user_payload(&acc, &u);
    p["future_top"] = json!({"x": [1, 2]});
    p["nats"]["future_field"] = json!("hello");
    p["nats"]["tags"] = json!(null);
    p["nats"]["src"] = json!(null);
    p["aud"] = json!(null);
    let t = raw_token(&header(), &p, &acc, false);
    let d = decode_user(&t).unwrap();
    assert_eq!(d.limits(), NatsLimits::UNLIMITED);
}

#[test]
fn header_variants_accepted() {
    let acc = KeyPair::new_account();
    let u = KeyPair::new_user();
    let p = user_payload(&acc, &u);
    for h in [
        json!({"typ":"jwt","alg":"ED25519-NKEY"}),
        json!({"typ":"JWT","alg":"ed25519"}),
        json!({"alg":"ed25519-nkey","typ":"JWT","kid":"ignored"}),
    ] {
        let t = raw_token(&h, &p, &acc, false);
        decode_user(&t).unwrap_or_else(|e| panic!("{h}: {e}"));
    }
}

#[test]
fn v1_token_decodes() {
    let acc = KeyPair::new_account();
    let u = KeyPair::new_user();
    let p = json!({
        "jti":"X","iat":NOW,"iss":acc.public_key(),"sub":u.public_key(),"type":"user",
        "tags":["a"],"nats":{"pub":{"allow":["x"]}}
    });
    let t = raw_token(&json!({"typ":"jwt","alg":"ed25519"}), &p, &acc, true);
    let d = decode_user(&t).unwrap();
    assert_eq!(d.nats.generic.version, 1);
    assert_eq!(d.nats.generic.tags, vec!["a"]);
    assert_eq!(d.limits(), NatsLimits::UNLIMITED);
    assert_eq!(
        d.nats.permission_limits.permissions.publish.allow,
        vec!["x"]
    );
    // A v1 claim signed like v2 does not verify.
    let t2 = raw_token(&json!({"typ":"jwt","alg":"ed25519"}), &p, &acc, false);
    assert_eq!(decode_user(&t2).unwrap_err(), Error::InvalidSignature);
}

// ---- rejections ---------------------------------------------------------

#[test]
fn rejects_too_large() {
    let big = "a".repeat(MAX_TOKEN_SIZE + 1);
    assert!(matches!(decode(&big), Err(Error::TooLarge { .. })));
}

#[test]
fn rejects_wrong_chunk_count() {
    assert_eq!(decode("a.b").unwrap_err(), Error::Chunks(2));
    assert_eq!(decode("a.b.c.d").unwrap_err(), Error::Chunks(4));
    assert_eq!(decode("").unwrap_err(), Error::Chunks(1));
}

#[test]
fn rejects_bad_base64_in_each_part() {
    let acc = KeyPair::new_account();
    let u = KeyPair::new_user();
    let t = raw_token(&header(), &user_payload(&acc, &u), &acc, false);
    let parts: Vec<&str> = t.split('.').collect();
    assert_eq!(
        decode(&format!("!!.{}.{}", parts[1], parts[2])).unwrap_err(),
        Error::Base64("header")
    );
    assert_eq!(
        decode(&format!("{}.!!.{}", parts[0], parts[2])).unwrap_err(),
        Error::Base64("claims")
    );
    assert_eq!(
        decode(&format!("{}.{}.!!", parts[0], parts[1])).unwrap_err(),
        Error::Base64("signature")
    );
    // Padding is not base64url-without-padding.
    assert_eq!(
        decode(&format!("{}=.{}.{}", parts[0], parts[1], parts[2])).unwrap_err(),
        Error::Base64("header")
    );
}

#[test]
fn rejects_bad_json() {
    let acc = KeyPair::new_account();
    let h = BASE64URL_NOPAD.encode(b"not json");
    let p = BASE64URL_NOPAD.encode(b"{}");
    assert!(matches!(
        decode(&format!("{h}.{p}.AA")).unwrap_err(),
        Error::Json { part: "header", .. }
    ));
    let h = BASE64URL_NOPAD.encode(header().to_string().as_bytes());
    let p = BASE64URL_NOPAD.encode(b"[1,2]");
    assert!(matches!(
        decode(&format!("{h}.{p}.AA")).unwrap_err(),
        Error::Json { part: "claims", .. }
    ));
    // Right JSON syntax, wrong types inside the body.
    let u = KeyPair::new_user();
    let mut p = user_payload(&acc, &u);
    p["nats"]["subs"] = json!("lots");
    let t = raw_token(&header(), &p, &acc, false);
    assert!(matches!(
        decode_user(&t).unwrap_err(),
        Error::Json { part: "claims", .. }
    ));
}

#[test]
fn rejects_bad_header_fields() {
    let acc = KeyPair::new_account();
    let u = KeyPair::new_user();
    let p = user_payload(&acc, &u);
    let t = raw_token(&json!({"typ":"JWS","alg":"ed25519-nkey"}), &p, &acc, false);
    assert_eq!(
        decode(&t).unwrap_err(),
        Error::UnsupportedType("JWS".into())
    );
    let t = raw_token(&json!({"alg":"ed25519-nkey"}), &p, &acc, false);
    assert_eq!(
        decode(&t).unwrap_err(),
        Error::UnsupportedType(String::new())
    );
    for alg in ["HS256", "none", "ed25519-nkeyx", "EdDSA", ""] {
        let t = raw_token(&json!({"typ":"JWT","alg":alg}), &p, &acc, false);
        assert_eq!(
            decode(&t).unwrap_err(),
            Error::UnsupportedAlgorithm(alg.into())
        );
    }
}

#[test]
fn rejects_newer_version() {
    let acc = KeyPair::new_account();
    let u = KeyPair::new_user();
    let mut p = user_payload(&acc, &u);
    p["nats"]["version"] = json!(3);
    let t = raw_token(&header(), &p, &acc, false);
    assert_eq!(decode(&t).unwrap_err(), Error::NewerVersion(3));
}

#[test]
fn rejects_bad_signatures() {
    let acc = KeyPair::new_account();
    let u = KeyPair::new_user();
    let p = user_payload(&acc, &u);
    // Signed by someone else than iss.
    let other = KeyPair::new_account();
    let t = raw_token(&header(), &p, &other, false);
    assert_eq!(decode(&t).unwrap_err(), Error::InvalidSignature);
    // Payload changed after signing.
    let t = raw_token(&header(), &p, &acc, false);
    let parts: Vec<&str> = t.split('.').collect();
    let mut p2 = p.clone();
    p2["nats"]["bearer_token"] = json!(true);
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        BASE64URL_NOPAD.encode(p2.to_string().as_bytes()),
        parts[2]
    );
    assert_eq!(decode(&tampered).unwrap_err(), Error::InvalidSignature);
    // Header changed after signing (v2 signs it too).
    let h2 = BASE64URL_NOPAD.encode(br#"{"typ":"jwt","alg":"ed25519-nkey"}"#);
    let tampered = format!("{h2}.{}.{}", parts[1], parts[2]);
    assert_eq!(decode(&tampered).unwrap_err(), Error::InvalidSignature);
    // Truncated signature.
    let tampered = format!("{}.{}.{}", parts[0], parts[1], &parts[2][..20]);
    assert_eq!(decode(&tampered).unwrap_err(), Error::InvalidSignature);
    // Empty signature.
    let tampered = format!("{}.{}.", parts[0], parts[1]);
    assert_eq!(decode(&tampered).unwrap_err(), Error::InvalidSignature);
}

#[test]
fn rejects_bad_issuer() {
    let acc = KeyPair::new_account();
    let u = KeyPair::new_user();
    let mut p = user_payload(&acc, &u);
    p["iss"] = json!("not-a-key");
    let t = raw_token(&header(), &p, &acc, false);
    assert!(matches!(decode(&t).unwrap_err(), Error::InvalidIssuer(_)));
    p.as_object_mut().unwrap().remove("iss");
    let t = raw_token(&header(), &p, &acc, false);
    assert!(matches!(decode(&t).unwrap_err(), Error::InvalidIssuer(_)));
}

#[test]
fn rejects_wrong_issuer_kind() {
    let u = KeyPair::new_user();
    // A user JWT signed by an operator key.
    let op = KeyPair::new_operator();
    let t = raw_token(&header(), &user_payload(&op, &u), &op, false);
    assert_eq!(
        decode_user(&t).unwrap_err(),
        Error::IssuerKind {
            claim: "user",
            actual: KeyKind::Operator
        }
    );
    // A user JWT signed by a user key.
    let t = raw_token(&header(), &user_payload(&u, &u), &u, false);
    assert!(matches!(decode(&t).unwrap_err(), Error::IssuerKind { .. }));
    // An account JWT signed by a user key.
    let acc = KeyPair::new_account();
    let p = json!({"iat":NOW,"iss":u.public_key(),"sub":acc.public_key(),"nats":{"type":"account","version":2}});
    let t = raw_token(&header(), &p, &u, false);
    assert!(matches!(
        decode_account(&t).unwrap_err(),
        Error::IssuerKind { .. }
    ));
    // An operator JWT signed by an account key.
    let p = json!({"iat":NOW,"iss":acc.public_key(),"sub":op.public_key(),"nats":{"type":"operator","version":2}});
    let t = raw_token(&header(), &p, &acc, false);
    assert!(matches!(
        decode_operator(&t).unwrap_err(),
        Error::IssuerKind { .. }
    ));
    // Encoding refuses the same.
    let mut c = UserClaims::new(u.public_key());
    assert!(matches!(
        c.encode_at(&op, NOW),
        Err(Error::IssuerKind { .. })
    ));
}

#[test]
fn rejects_wrong_subject() {
    let acc = KeyPair::new_account();
    let mut p = user_payload(&acc, &acc);
    let t = raw_token(&header(), &p, &acc, false);
    assert_eq!(
        decode_user(&t).unwrap_err(),
        Error::SubjectKind {
            claim: "user",
            expected: KeyKind::User
        }
    );
    p.as_object_mut().unwrap().remove("sub");
    let t = raw_token(&header(), &p, &acc, false);
    assert_eq!(decode_user(&t).unwrap_err(), Error::NoSubject);
    let mut c = UserClaims::new(acc.public_key());
    assert!(matches!(
        c.encode_at(&acc, NOW),
        Err(Error::SubjectKind { .. })
    ));
    let mut c = UserClaims::new("");
    assert_eq!(c.encode_at(&acc, NOW).unwrap_err(), Error::NoSubject);
}

#[test]
fn rejects_bad_issuer_account() {
    let acc = KeyPair::new_account();
    let u = KeyPair::new_user();
    let mut p = user_payload(&acc, &u);
    p["nats"]["issuer_account"] = json!(u.public_key());
    let t = raw_token(&header(), &p, &acc, false);
    assert_eq!(decode_user(&t).unwrap_err(), Error::InvalidIssuerAccount);
    let mut c = UserClaims::new(u.public_key());
    c.nats.issuer_account = "bogus".into();
    assert_eq!(
        c.encode_at(&acc, NOW).unwrap_err(),
        Error::InvalidIssuerAccount
    );
}

#[test]
fn rejects_wrong_claim_type() {
    let op = KeyPair::new_operator();
    let acc = KeyPair::new_account();
    let at = AccountClaims::new(acc.public_key())
        .encode_at(&op, NOW)
        .unwrap();
    assert_eq!(
        decode_user(&at).unwrap_err(),
        Error::WrongClaimType {
            expected: "user",
            actual: "account".into()
        }
    );
    assert!(matches!(
        decode_operator(&at),
        Err(Error::WrongClaimType { .. })
    ));
    assert!(matches!(
        decode_activation(&at),
        Err(Error::WrongClaimType { .. })
    ));
    let u = KeyPair::new_user();
    let ut = UserClaims::new(u.public_key())
        .encode_at(&acc, NOW)
        .unwrap();
    assert!(matches!(
        decode_account(&ut),
        Err(Error::WrongClaimType { .. })
    ));
}

#[test]
fn rejects_cluster_and_server_claims() {
    let acc = KeyPair::new_account();
    for t in ["cluster", "server"] {
        let p = json!({"iat":NOW,"iss":acc.public_key(),"sub":"x","nats":{"type":t,"version":2}});
        let tok = raw_token(&header(), &p, &acc, false);
        assert_eq!(
            decode(&tok).unwrap_err(),
            Error::UnsupportedClaimType(t.into())
        );
    }
}

#[test]
fn rejects_unknown_scope_kind() {
    let op = KeyPair::new_operator();
    let acc = KeyPair::new_account();
    let p = json!({"iat":NOW,"iss":op.public_key(),"sub":acc.public_key(),
        "nats":{"type":"account","version":2,"signing_keys":[{"kind":"other_scope","key":"A"}]}});
    let t = raw_token(&header(), &p, &op, false);
    assert!(matches!(
        decode_account(&t).unwrap_err(),
        Error::Json { .. }
    ));
}

#[test]
fn rejects_unsigned_encode() {
    let acc = KeyPair::from_public_key(&KeyPair::new_account().public_key()).unwrap();
    let u = KeyPair::new_user();
    let mut c = UserClaims::new(u.public_key());
    assert!(matches!(c.encode_at(&acc, NOW), Err(Error::Signer(_))));
}

#[test]
fn times() {
    let acc = KeyPair::new_account();
    let u = KeyPair::new_user();
    let mut c = UserClaims::new(u.public_key());
    c.exp = NOW + 10;
    c.nbf = NOW - 10;
    let d = decode_user(&c.encode_at(&acc, NOW).unwrap()).unwrap();
    d.check_times(NOW).unwrap();
    d.check_times(NOW + 10).unwrap();
    assert_eq!(
        d.check_times(NOW + 11).unwrap_err(),
        Error::Expired {
            exp: NOW + 10,
            now: NOW + 11
        }
    );
    assert_eq!(
        d.check_times(NOW - 11).unwrap_err(),
        Error::NotYetValid {
            nbf: NOW - 10,
            now: NOW - 11
        }
    );
    assert!(d.validate(NOW + 11).issues[0].time_check);
    // Decoding itself does not check times (servers must see expired
    // accounts to report them).
    let mut c = UserClaims::new(u.public_key());
    c.exp = 1;
    let t = c.encode_at(&acc, NOW).unwrap();
    assert!(decode_user(&t).is_ok());
    assert!(matches!(
        decode(&t).unwrap().check_times(NOW),
        Err(Error::Expired { .. })
    ));
}

// ---- trust helpers ------------------------------------------------------

#[test]
fn operator_did_sign() {
    let op = KeyPair::new_operator();
    let sk = KeyPair::new_operator();
    let acc = KeyPair::new_account();
    let mut oc = OperatorClaims::new(op.public_key());
    oc.nats.add_signing_key(&sk.public_key());
    let mut by_op = AccountClaims::new(acc.public_key());
    by_op.encode_at(&op, NOW).unwrap();
    let mut by_sk = AccountClaims::new(acc.public_key());
    by_sk.encode_at(&sk, NOW).unwrap();
    let mut by_other = AccountClaims::new(acc.public_key());
    by_other.encode_at(&KeyPair::new_operator(), NOW).unwrap();
    assert!(oc.did_sign(&by_op));
    assert!(oc.did_sign(&by_sk));
    assert!(!oc.did_sign(&by_other));
    oc.nats.strict_signing_key_usage = true;
    assert!(!oc.did_sign(&by_op));
    assert!(oc.did_sign(&by_sk));
}

#[test]
fn account_did_sign_and_revocation() {
    let acc = KeyPair::new_account();
    let sk = KeyPair::new_account();
    let u = KeyPair::new_user();
    let mut ac = AccountClaims::new(acc.public_key());
    let mut direct = UserClaims::new(u.public_key());
    direct.encode_at(&acc, NOW).unwrap();
    let mut via_sk = UserClaims::new(u.public_key());
    via_sk.nats.issuer_account = acc.public_key();
    via_sk.encode_at(&sk, NOW).unwrap();
    assert!(ac.did_sign(&direct));
    assert!(!ac.did_sign(&via_sk));
    ac.nats.signing_keys.add(&sk.public_key());
    assert!(ac.did_sign(&via_sk));
    // Signed by a key that is not the account's, claiming the account.
    let mut forged = UserClaims::new(u.public_key());
    forged.nats.issuer_account = acc.public_key();
    forged.encode_at(&KeyPair::new_account(), NOW).unwrap();
    assert!(!ac.did_sign(&forged));

    // Revocation: issued at or before the revocation time is revoked.
    assert!(!ac.is_revoked(&direct));
    ac.nats.revocations.revoke(&u.public_key(), NOW);
    assert!(ac.is_revoked(&direct));
    let mut newer = direct.clone();
    newer.iat = NOW + 1;
    assert!(!ac.is_revoked(&newer));
    // Revocations only move later.
    ac.nats.revocations.revoke(&u.public_key(), NOW - 100);
    assert_eq!(ac.nats.revocations.0[&u.public_key()], NOW);
    ac.nats.revocations.clear(&u.public_key());
    assert!(!ac.is_revoked(&direct));
    // `*` revokes everyone issued up to then, and compacts older entries.
    ac.nats.revocations.revoke("UOTHER", NOW - 5);
    ac.nats.revocations.revoke(REVOKE_ALL, NOW);
    assert!(ac.is_revoked(&direct));
    assert!(!ac.is_revoked(&newer));
    assert_eq!(
        ac.nats.revocations.compact(),
        vec![("UOTHER".to_string(), NOW - 5)]
    );
    // No iat at all counts as revoked.
    let mut no_iat = newer.clone();
    no_iat.iat = 0;
    assert!(ac.is_revoked(&no_iat));
}

#[test]
fn scope_template_defaults_to_unlimited() {
    let scope: UserScope = serde_json::from_value(json!({
        "kind":"user_scope","key":"AKEY","role":"r","template":{"pub":{"allow":["a"]}}
    }))
    .unwrap();
    assert_eq!(scope.template.limits, NatsLimits::UNLIMITED);
    let scope: UserScope =
        serde_json::from_value(json!({"kind":"user_scope","key":"AKEY","template":{"subs":5}}))
            .unwrap();
    assert_eq!(scope.template.limits.subs, 5);
    assert_eq!(scope.template.limits.data, -1);
}

#[test]
fn validation_blocking_errors() {
    let acc = KeyPair::new_account();
    let other = KeyPair::new_account();
    let mut ac = AccountClaims::new(acc.public_key());
    ac.nats.limits.account.exports = 1;
    ac.nats.limits.account.wildcard_exports = false;
    for s in ["a.*", "b"] {
        ac.nats.exports.push(Export {
            subject: s.into(),
            export_type: Some(ExportType::Stream),
            ..Default::default()
        });
    }
    ac.nats.signing_keys.add("not-a-key");
    ac.nats.imports.push(Import {
        subject: "x".into(),
        account: acc.public_key(),
        import_type: Some(ExportType::Stream),
        ..Default::default()
    });
    ac.nats.imports.push(Import {
        subject: "bad subject".into(),
        account: other.public_key(),
        import_type: Some(ExportType::Stream),
        ..Default::default()
    });
    ac.nats.mappings.insert(
        "m".into(),
        vec![
            WeightedMapping {
                subject: "m1".into(),
                weight: 60,
                cluster: String::new(),
            },
            WeightedMapping {
                subject: "m2".into(),
                weight: 60,
                cluster: String::new(),
            },
        ],
    );
    let vr = ac.validate(NOW);
    let text: Vec<String> = vr.errors().map(|i| i.description.clone()).collect();
    let has = |s: &str| text.iter().any(|t| t.contains(s));
    assert!(has("more exports"), "{text:?}");
    assert!(has("wildcard exports"), "{text:?}");
    assert!(has("not a valid account signing key"), "{text:?}");
    assert!(has("cannot import from itself"), "{text:?}");
    assert!(has("cannot have spaces"), "{text:?}");
    assert!(has("exceeds 100%"), "{text:?}");

    let u = KeyPair::new_user();
    let mut uc = UserClaims::new(u.public_key());
    uc.nats.permission_limits.src = vec!["nope".into()];
    uc.nats.permission_limits.times = vec![TimeRange {
        start: "25:00:00".into(),
        end: String::new(),
    }];
    uc.nats.permission_limits.permissions.publish.allow = vec!["a q".into()];
    let vr = uc.validate(NOW);
    assert_eq!(vr.errors().count(), 4, "{vr:?}");
}

#[test]
fn check_user_rules() {
    let acc = KeyPair::new_account();
    let sk = KeyPair::new_account();
    let scoped_key = KeyPair::new_account();
    let u = KeyPair::new_user();
    let mut ac = AccountClaims::new(acc.public_key());
    ac.nats.signing_keys.add(&sk.public_key());
    ac.nats
        .signing_keys
        .add_scope(UserScope::new(&scoped_key.public_key(), "r"));
    ac.encode_at(&KeyPair::new_operator(), NOW).unwrap();

    let mut direct = UserClaims::new(u.public_key());
    direct.encode_at(&acc, NOW).unwrap();
    assert_eq!(ac.check_user(&direct, NOW).unwrap(), None);

    let mut via_sk = UserClaims::new(u.public_key());
    via_sk.nats.issuer_account = acc.public_key();
    via_sk.encode_at(&sk, NOW).unwrap();
    assert_eq!(ac.check_user(&via_sk, NOW).unwrap(), None);

    // Scoped: the scope comes back; permissions on the user are refused.
    let mut scoped = Claims::<User> {
        sub: u.public_key(),
        ..Default::default()
    };
    scoped.nats.issuer_account = acc.public_key();
    scoped.encode_at(&scoped_key, NOW).unwrap();
    assert_eq!(ac.check_user(&scoped, NOW).unwrap().unwrap().role, "r");
    let mut scoped_limits = scoped.clone();
    scoped_limits.nats.permission_limits.limits.subs = -1;
    scoped_limits.encode_at(&scoped_key, NOW).unwrap();
    assert_eq!(
        ac.check_user(&scoped_limits, NOW).unwrap_err(),
        Error::ScopedUserHasPermissions
    );

    // Another account's user.
    let mut stranger = UserClaims::new(u.public_key());
    stranger.encode_at(&KeyPair::new_account(), NOW).unwrap();
    assert_eq!(
        ac.check_user(&stranger, NOW).unwrap_err(),
        Error::NotIssuedByAccount
    );

    // Bearer users when the account disallows them.
    let mut bearer = direct.clone();
    bearer.nats.permission_limits.bearer_token = true;
    bearer.encode_at(&acc, NOW).unwrap();
    assert!(ac.check_user(&bearer, NOW).is_ok());
    let mut strict = ac.clone();
    strict.nats.limits.account.disallow_bearer = true;
    assert_eq!(
        strict.check_user(&bearer, NOW).unwrap_err(),
        Error::BearerNotAllowed
    );

    // Revoked, expired user, expired account.
    let mut revoking = ac.clone();
    revoking.nats.revocations.revoke(&u.public_key(), NOW);
    assert_eq!(
        revoking.check_user(&direct, NOW).unwrap_err(),
        Error::Revoked
    );
    let mut expiring = direct.clone();
    expiring.exp = NOW + 5;
    assert!(matches!(
        ac.check_user(&expiring, NOW + 6),
        Err(Error::Expired { .. })
    ));
    let mut old_account = ac.clone();
    old_account.exp = NOW - 1;
    assert!(matches!(
        old_account.check_user(&direct, NOW),
        Err(Error::Expired { .. })
    ));
}

//! JWT claim semantics as nats-server 2.15.1 reads them: absent user limits
//! mean zero, `strict_signing_key_usage`, what a claims update does to live
//! connections (a changed scoped-key template, `disallow_bearer`, account
//! expiry), imports and exports changing live in both directions, and a
//! `full` directory resolver storing an account JWT no trusted operator
//! signed. Each behaviour was observed on nats-server 2.15.1 with the same
//! JWTs. Every wait is bounded.

mod common;

use std::time::Duration;

use common::operator::*;
use common::{start_conf, Raw};
use rnats::jwt::{self, Export, ExportType, Import, NatsLimits, OperatorClaims, User, UserScope};
use rnats::nkeys::KeyPair;
use rnats::node::ServerHandle;
use serde_json::Value;

const T: Duration = Duration::from_secs(5);

async fn frame(r: &mut Raw) -> String {
    Box::pin(r.frame()).await.expect("a frame in time")
}

/// Logs in with `jwt` signed by `key`; the connection and its first line.
async fn login(h: &ServerHandle, jwt: &str, key: &KeyPair) -> (Raw, String) {
    jwt_login(h, jwt, Some(key), Value::Null).await
}

/// Reads until the server closes `c`; everything it sent on the way.
async fn until_closed(c: &mut Raw) -> Vec<String> {
    assert!(
        Box::pin(c.closed_within(T)).await,
        "not closed; got {:?}",
        c.lines()
    );
    c.lines()
}

// ------------------------------------------------------------ user limits --

#[tokio::test]
async fn a_user_jwt_without_limits_may_not_subscribe() {
    let s = Setup::new();
    let h = s.start().await;
    let u = KeyPair::new_user();
    // No `subs`, `data` or `payload`: nats-server reads them as 0.
    let bare = user_jwt(&u, &s.acc, |c| {
        c.nats.permission_limits.limits = NatsLimits::default()
    });
    let (mut c, first) = login(&h, &bare, &u).await;
    assert_eq!(first, "PONG", "the login itself is accepted");
    let rest = until_closed(&mut c).await;
    assert!(
        rest.iter()
            .any(|l| l == "-ERR 'maximum subscriptions exceeded'"),
        "{rest:?}"
    );
    let closed = monitor_closed_reason(&h).await;
    assert!(
        closed.contains(&"Maximum Subscriptions Exceeded".to_owned()),
        "{closed:?}"
    );

    // -1 is unlimited; an absent payload still allows only empty payloads.
    let u2 = KeyPair::new_user();
    let subs_only = user_jwt(&u2, &s.acc, |c| {
        c.nats.permission_limits.limits = NatsLimits {
            subs: -1,
            ..Default::default()
        }
    });
    let (mut c2, first) = login(&h, &subs_only, &u2).await;
    assert_eq!(first, "PONG");
    c2.send("SUB foo 1\r\nPUB foo 0\r\n\r\n").await;
    assert_eq!(frame(&mut c2).await, "MSG foo 1 ");
    c2.send("PUB foo 5\r\nhello\r\n").await;
    let rest = until_closed(&mut c2).await;
    assert!(
        rest.iter().any(|l| l == "-ERR 'Maximum Payload Violation'"),
        "{rest:?}"
    );

    // nsc's defaults (-1 everywhere) leave the user unrestricted.
    let u3 = KeyPair::new_user();
    let (mut c3, first) = login(&h, &user_jwt_of(&u3, &s.acc), &u3).await;
    assert_eq!(first, "PONG");
    c3.send("SUB foo 1\r\nPUB foo 5\r\nhello\r\n").await;
    assert_eq!(frame(&mut c3).await, "MSG foo 1 hello");
}

/// The close reasons of the server's closed connections (what
/// `/connz?state=closed` shows).
async fn monitor_closed_reason(h: &ServerHandle) -> Vec<String> {
    for _ in 0..50 {
        let reasons: Vec<String> = h
            .server
            .closed_clients()
            .iter()
            .map(|c| c.reason.as_str().to_owned())
            .collect();
        if !reasons.is_empty() {
            return reasons;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Vec::new()
}

// ------------------------------------------------- strict signing keys --

#[tokio::test]
async fn strict_signing_key_usage_refuses_identity_signed_jwts() {
    let op_key = KeyPair::new_operator();
    let op_signer = KeyPair::new_operator();
    let sys = KeyPair::new_account();
    let mut oc = OperatorClaims::new(op_key.public_key());
    oc.nats.system_account = sys.public_key();
    oc.nats.signing_keys.push(op_signer.public_key());
    oc.nats.strict_signing_key_usage = true;
    let op_jwt = oc.encode(&op_key).unwrap();
    let sys_jwt = account_jwt(&sys, &op_signer, |_| {});
    let acc = KeyPair::new_account();
    let acc_signer = KeyPair::new_account();
    let acc_jwt = account_jwt(&acc, &op_signer, |c| {
        c.nats.signing_keys.add(&acc_signer.public_key())
    });
    let by_identity = KeyPair::new_account();
    let identity_jwt = account_jwt(&by_identity, &op_key, |_| {});
    let conf = format!(
        "operator: {op_jwt}\nsystem_account: {}\nresolver: MEMORY\nresolver_preload: {{ {}: \"{sys_jwt}\", {}: \"{acc_jwt}\", {}: \"{identity_jwt}\" }}\n",
        sys.public_key(),
        sys.public_key(),
        acc.public_key(),
        by_identity.public_key()
    );
    let h = start_conf(&conf).await;

    // A user issued by the account's signing key is admitted.
    let u = KeyPair::new_user();
    let good = user_jwt(&u, &acc_signer, |c| {
        c.nats.issuer_account = acc.public_key()
    });
    let (_c, first) = login(&h, &good, &u).await;
    assert_eq!(first, "PONG");
    // One issued by the account's identity key is not.
    let u2 = KeyPair::new_user();
    let (_c2, first) = login(&h, &user_jwt_of(&u2, &acc), &u2).await;
    assert_eq!(first, AUTH_VIOLATION);
    // Nor is any user of an account the operator's identity key signed.
    let u3 = KeyPair::new_user();
    let (_c3, first) = login(&h, &user_jwt_of(&u3, &by_identity), &u3).await;
    assert_eq!(first, AUTH_VIOLATION);
}

// ------------------------------------------ claims updates, live clients --

fn scoped(key: &KeyPair, allow_pub: &str) -> UserScope {
    let mut s = UserScope::new(&key.public_key(), "app");
    s.template.permissions.publish.allow = vec![allow_pub.into()];
    s
}

#[tokio::test]
async fn a_changed_scope_template_disconnects_its_users_only() {
    let sk = KeyPair::new_account();
    let plain = KeyPair::new_account();
    let s = Setup::with(|c| {
        c.nats.signing_keys.add_scope(scoped(&sk, "a.>"));
        c.nats.signing_keys.add(&plain.public_key());
    });
    let h = s.start().await;
    let u = KeyPair::new_user();
    let scoped_user = user_jwt(&u, &sk, |c| {
        c.nats = User::new_scoped();
        c.nats.issuer_account = s.acc.public_key();
    });
    let (mut scoped_conn, first) = login(&h, &scoped_user, &u).await;
    assert_eq!(first, "PONG");
    let other = KeyPair::new_user();
    let other_jwt = user_jwt(&other, &plain, |c| {
        c.nats.issuer_account = s.acc.public_key()
    });
    let (mut other_conn, first) = login(&h, &other_jwt, &other).await;
    assert_eq!(first, "PONG");

    let update = s.update(|c| {
        c.nats.signing_keys.add_scope(scoped(&sk, "b.>"));
        c.nats.signing_keys.add(&plain.public_key());
    });
    let reply = push_claims(&h, &s.op, &update).await;
    assert_eq!(reply["data"]["code"], 200, "{reply}");
    until_closed(&mut scoped_conn).await;
    // The user logs in again and runs under the new template.
    let (mut again, first) = login(&h, &scoped_user, &u).await;
    assert_eq!(first, "PONG");
    again.send("PUB a.x 0\r\n\r\nPING\r\n").await;
    assert_eq!(
        frame(&mut again).await,
        "-ERR 'Permissions Violation for Publish to \"a.x\"'"
    );
    // The user of the unchanged key stays.
    assert_eq!(other_conn.sync().await, Vec::<String>::new());
}

#[tokio::test]
async fn disallow_bearer_disconnects_connected_bearer_users() {
    let s = Setup::new();
    let h = s.start().await;
    let b = KeyPair::new_user();
    let bearer = user_jwt(&b, &s.acc, |c| c.nats.permission_limits.bearer_token = true);
    let (mut bearer_conn, first) = jwt_login(&h, &bearer, None, Value::Null).await;
    assert_eq!(first, "PONG");
    let (mut normal, first) = login(&h, &s.user_jwt, &s.user).await;
    assert_eq!(first, "PONG");

    let update = s.update(|c| c.nats.limits.account.disallow_bearer = true);
    assert_eq!(push_claims(&h, &s.op, &update).await["data"]["code"], 200);
    let rest = until_closed(&mut bearer_conn).await;
    assert!(rest.iter().any(|l| l == AUTH_VIOLATION), "{rest:?}");
    assert_eq!(normal.sync().await, Vec::<String>::new());
    let (_c, first) = jwt_login(&h, &bearer, None, Value::Null).await;
    assert_eq!(first, AUTH_VIOLATION);
}

#[tokio::test]
async fn an_expiring_account_disconnects_its_users() {
    let s = Setup::new();
    let h = s.start().await;
    let (mut c, first) = login(&h, &s.user_jwt, &s.user).await;
    assert_eq!(first, "PONG");
    // The account is re-issued to expire in a second.
    let update = s.update(|c| c.exp = jwt::now() + 1);
    assert_eq!(push_claims(&h, &s.op, &update).await["data"]["code"], 200);
    let rest = until_closed(&mut c).await;
    assert!(
        rest.iter()
            .any(|l| l == "-ERR 'Account Authentication Expired'"),
        "{rest:?}"
    );
    let (_c, first) = login(&h, &s.user_jwt, &s.user).await;
    assert_eq!(first, AUTH_VIOLATION);
}

// ------------------------------------------------ imports, exports live --

#[tokio::test]
async fn imports_and_exports_change_live_in_both_directions() {
    let op = Op::new();
    let (exp, imp) = (KeyPair::new_account(), KeyPair::new_account());
    let feed = Export {
        subject: "feed.>".into(),
        export_type: Some(ExportType::Stream),
        ..Default::default()
    };
    let exp_jwt = account_jwt_at(&exp, &op.key, jwt::now() - 60, |c| {
        c.nats.exports.push(feed.clone())
    });
    let imp_jwt = account_jwt_at(&imp, &op.key, jwt::now() - 60, |_| {});
    let h = op.start(&[&exp_jwt, &imp_jwt]).await;
    let eu = KeyPair::new_user();
    let (mut publisher, _) = login(&h, &user_jwt_of(&eu, &exp), &eu).await;
    let iu = KeyPair::new_user();
    let (mut sub, _) = login(&h, &user_jwt_of(&iu, &imp), &iu).await;
    sub.send("SUB feed.> 1\r\n").await;
    assert_eq!(sub.sync().await, Vec::<String>::new());

    // Before the import exists nothing crosses, and nothing is replayed.
    publisher.send("PUB feed.a 6\r\nbefore\r\n").await;
    publisher.sync().await;
    let with_import = account_jwt(&imp, &op.key, |c| {
        c.nats.imports.push(Import {
            subject: "feed.>".into(),
            account: exp.public_key(),
            import_type: Some(ExportType::Stream),
            ..Default::default()
        })
    });
    assert_eq!(
        push_claims(&h, &op, &with_import).await["data"]["code"],
        200
    );
    publisher.send("PUB feed.a 5\r\nafter\r\n").await;
    assert_eq!(frame(&mut sub).await, "MSG feed.a 1 after");

    // The exporter withdraws the export: the flow stops at once.
    let without_export = account_jwt(&exp, &op.key, |_| {});
    assert_eq!(
        push_claims(&h, &op, &without_export).await["data"]["code"],
        200
    );
    publisher.send("PUB feed.a 4\r\ngone\r\n").await;
    publisher.sync().await;
    // A message the subscriber publishes itself proves nothing came before.
    sub.send("PUB feed.self 4\r\nself\r\n").await;
    assert_eq!(frame(&mut sub).await, "MSG feed.self 1 self");

    // And restored, it flows again.
    let restored = account_jwt(&exp, &op.key, |c| c.nats.exports.push(feed.clone()));
    assert_eq!(push_claims(&h, &op, &restored).await["data"]["code"], 200);
    publisher.send("PUB feed.a 4\r\nback\r\n").await;
    assert_eq!(frame(&mut sub).await, "MSG feed.a 1 back");
}

// ------------------------------------------------ full resolver storage --

#[tokio::test]
async fn a_full_resolver_stores_untrusted_jwts_that_admit_nobody() {
    let dir = tempfile::tempdir().unwrap();
    let op = Op::new();
    let resolver = format!("{{ type: full, dir: \"{}\" }}", dir.path().display());
    let h = start_conf(&op.config(&resolver, Some(&[]))).await;
    let stranger = KeyPair::new_operator();
    let acc = KeyPair::new_account();
    let untrusted = account_jwt(&acc, &stranger, |_| {});
    let reply = push_claims(&h, &op, &untrusted).await;
    assert_eq!(reply["data"]["code"], 200, "{reply}");
    assert_eq!(reply["data"]["message"], "jwt updated", "{reply}");
    let stored = std::fs::read_to_string(dir.path().join(format!("{}.jwt", acc.public_key())))
        .expect("stored");
    assert_eq!(stored.trim(), untrusted);
    let u = KeyPair::new_user();
    let (_c, first) = login(&h, &user_jwt_of(&u, &acc), &u).await;
    assert_eq!(first, AUTH_VIOLATION);
}

// ------------------------------------------------------------ advisories --

/// The next message's JSON payload on a raw connection.
async fn event(c: &mut Raw) -> Value {
    let f = frame(c).await;
    let body = f.splitn(4, ' ').nth(3).unwrap_or_else(|| panic!("{f}"));
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {f}"))
}

#[tokio::test]
async fn advisories_describe_jwt_users_as_nats_server_does() {
    let sk = KeyPair::new_account();
    let s = Setup::with(|c| {
        c.name = "Tenant".into();
        c.nats.signing_keys.add(&sk.public_key());
    });
    let h = s.start().await;
    let mut sys = accepted(&h, &s.op.sys_user_jwt, &s.op.sys_user).await;
    let acc = s.acc.public_key();
    sys.send(format!(
        "SUB $SYS.ACCOUNT.{acc}.CONNECT 1\r\nSUB $SYS.SERVER.*.CLIENT.AUTH.ERR 2\r\n"
    ))
    .await;
    sys.sync().await;

    let u = KeyPair::new_user();
    let tagged = user_jwt(&u, &sk, |c| {
        c.name = "worker".into();
        c.nats.issuer_account = acc.clone();
        c.nats.generic.tags = vec!["t1".into(), "t2".into()];
    });
    let (_c, first) = login(&h, &tagged, &u).await;
    assert_eq!(first, "PONG");
    let e = event(&mut sys).await;
    let c = &e["client"];
    assert_eq!(c["acc"], acc.as_str(), "{e}");
    assert_eq!(c["user"], u.public_key(), "{e}");
    assert_eq!(c["issuer_key"], sk.public_key(), "the signing key: {e}");
    assert_eq!(c["name_tag"], "Tenant", "the account JWT's name: {e}");
    assert_eq!(c["tags"], serde_json::json!(["t1", "t2"]), "{e}");
    assert_eq!(c["jwt"], tagged.as_str(), "{e}");

    // A refused JWT login: the JWT it presented, no user key or issuer yet.
    let stranger = KeyPair::new_user();
    let (_c2, first) = login(&h, &tagged, &stranger).await;
    assert_eq!(first, AUTH_VIOLATION);
    let e = event(&mut sys).await;
    assert_eq!(e["reason"], "Authentication Failure", "{e}");
    assert_eq!(e["client"]["jwt"], tagged.as_str(), "{e}");
    assert!(e["client"].get("user").is_none(), "{e}");
    assert!(e["client"].get("issuer_key").is_none(), "{e}");
}

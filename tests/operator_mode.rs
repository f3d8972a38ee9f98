//! Operator (JWT) mode end to end on in-process servers: user login with
//! nonce signatures and every refusal, signing keys and scopes, user
//! permissions and restrictions, live claim updates over `$SYS` (revocation,
//! no rollback), the URL and directory resolvers, JWT account limits and
//! cross-account exports/imports with activation tokens.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::operator::*;
use common::{start_conf, Raw};
use futures::StreamExt;
use parking_lot::Mutex;
use rnats::jwt::{
    self, AccountClaims, ActivationClaims, Export, ExportType, Import, OperatorClaims, User,
    UserScope, WeightedMapping,
};
use rnats::nkeys::KeyPair;
use rnats::node::ServerHandle;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

// ---------------------------------------------------- MEMORY resolver --

#[tokio::test]
async fn creds_user_connects_and_exchanges_messages() {
    let st = Setup::new();
    let h = st.start().await;
    let nc = nats_client(&h, &st.user_jwt, &st.user).await;
    let mut sub = nc.subscribe("greet.*").await.unwrap();
    nc.flush().await.unwrap();
    nc.publish("greet.joe", "hello".into()).await.unwrap();
    let m = recv(&mut sub).await;
    assert_eq!(
        (m.subject.as_str(), &m.payload[..]),
        ("greet.joe", &b"hello"[..])
    );

    // Raw, with the nonce signed by hand.
    let mut c = accepted(&h, &st.user_jwt, &st.user).await;
    assert_eq!(c.info["auth_required"], true);
    c.send("SUB t 1\r\nPUB t 2\r\nok\r\n").await;
    assert_eq!(next(&mut c).await, "MSG t 1 ok");
}

#[tokio::test]
async fn bad_logins_are_refused() {
    let st = Setup::new();
    let rogue_acc = KeyPair::new_account();
    let rogue_jwt = account_jwt(&rogue_acc, &KeyPair::new_operator(), |_| {});
    let bad = KeyPair::new_user();
    let bad_jwt = user_jwt(&bad, &st.acc, |_| {});
    // A is preloaded revoking `bad`; the rogue account is preloaded too, but
    // no trusted operator signed it (the server skips it with a warning).
    let acc_jwt = st.update(|c| c.nats.revocations.revoke(&bad.public_key(), jwt::now() + 1));
    let conf = st.op.config("MEMORY", Some(&[&acc_jwt]));
    let conf = conf.replace(
        "resolver_preload: {\n",
        &format!(
            "resolver_preload: {{\n  {}: \"{rogue_jwt}\"\n",
            rogue_acc.public_key()
        ),
    );
    let h = start_conf(&conf).await;

    // The good user logs in.
    let good_jwt = user_jwt(&st.user, &st.acc, |_| {});
    accepted(&h, &good_jwt, &st.user).await;
    // Nonce signed by another key.
    refused(&h, &good_jwt, &KeyPair::new_user()).await;
    // No signature at all.
    refused_with(&h, &good_jwt, None, Value::Null).await;
    // Unknown account.
    let ghost = KeyPair::new_account();
    let u = KeyPair::new_user();
    refused(&h, &user_jwt_of(&u, &ghost), &u).await;
    // Account issued by an untrusted operator.
    refused(&h, &user_jwt_of(&u, &rogue_acc), &u).await;
    // Expired user JWT; the same user unexpired is fine.
    let expired = user_jwt(&u, &st.acc, |c| c.exp = jwt::now() - 5);
    refused(&h, &expired, &u).await;
    let later = user_jwt(&u, &st.acc, |c| c.exp = jwt::now() + 3600);
    accepted(&h, &later, &u).await;
    // Revoked user.
    refused(&h, &bad_jwt, &bad).await;
    // Signed by a key A does not list, even when claiming to be A's.
    let stranger = KeyPair::new_account();
    let forged = user_jwt(&u, &stranger, |c| {
        c.nats.issuer_account = st.acc.public_key()
    });
    refused(&h, &forged, &u).await;
    // Tampered: the payload widened after signing.
    let restricted = user_jwt(&u, &st.acc, |c| {
        c.nats.permission_limits.permissions.publish.allow = vec!["only.this".into()]
    });
    let mut parts: Vec<String> = restricted.split('.').map(str::to_owned).collect();
    let body = data_encoding::BASE64URL_NOPAD
        .decode(parts[1].as_bytes())
        .unwrap();
    let widened = String::from_utf8(body).unwrap().replace("only.this", ">");
    parts[1] = data_encoding::BASE64URL_NOPAD.encode(widened.as_bytes());
    refused(&h, &parts.join("."), &u).await;
    // No JWT at all.
    let mut c = Box::pin(Raw::connect(&h)).await;
    c.send("CONNECT {\"verbose\":false,\"user\":\"a\",\"pass\":\"b\"}\r\nPING\r\n")
        .await;
    assert_eq!(next(&mut c).await, AUTH_VIOLATION);
}

#[tokio::test]
async fn bearer_user_needs_no_signature() {
    let st = Setup::new();
    let h = st.start().await;
    let u = KeyPair::new_user();
    let bearer = user_jwt(&u, &st.acc, |c| {
        c.nats.permission_limits.bearer_token = true
    });
    let (_c, first) = jwt_login(&h, &bearer, None, Value::Null).await;
    assert_eq!(first, "PONG");
    // The same user without the bearer flag must sign.
    refused_with(&h, &user_jwt_of(&u, &st.acc), None, Value::Null).await;
}

#[tokio::test]
async fn account_signing_keys_and_scopes() {
    let sk = KeyPair::new_account();
    let scoped_sk = KeyPair::new_account();
    let st = Setup::with(|c| {
        c.nats.signing_keys.add(&sk.public_key());
        let mut scope = UserScope::new(&scoped_sk.public_key(), "readers");
        scope.template.permissions.publish.allow = vec!["scoped.>".into()];
        scope.template.permissions.subscribe.allow = vec!["scoped.>".into()];
        c.nats.signing_keys.add_scope(scope);
    });
    let h = st.start().await;
    let acc = st.acc.public_key();
    let u = KeyPair::new_user();

    // Plain signing key, issuer_account naming A.
    accepted(
        &h,
        &user_jwt(&u, &sk, |c| c.nats.issuer_account = acc.clone()),
        &u,
    )
    .await;
    // Without issuer_account the signing key reads as an unknown account.
    refused(&h, &user_jwt_of(&u, &sk), &u).await;

    // Scoped key: the template's permissions apply.
    let scoped = user_jwt(&u, &scoped_sk, |c| {
        c.nats = User::new_scoped();
        c.nats.issuer_account = acc.clone();
    });
    let mut c = accepted(&h, &scoped, &u).await;
    c.send("SUB scoped.in 1\r\nSUB elsewhere 2\r\nPING\r\n")
        .await;
    assert_eq!(
        next(&mut c).await,
        "-ERR 'Permissions Violation for Subscription to \"elsewhere\"'"
    );
    assert_eq!(next(&mut c).await, "PONG");
    c.send("PUB scoped.in 2\r\nok\r\nPUB elsewhere 2\r\nno\r\nPING\r\n")
        .await;
    assert_eq!(next(&mut c).await, "MSG scoped.in 1 ok");
    assert_eq!(
        next(&mut c).await,
        "-ERR 'Permissions Violation for Publish to \"elsewhere\"'"
    );
    assert_eq!(next(&mut c).await, "PONG");

    // A scoped user carrying its own permissions is refused.
    let carrying = user_jwt(&u, &scoped_sk, |c| {
        c.nats = User::new_scoped();
        c.nats.issuer_account = acc.clone();
        c.nats.permission_limits.permissions.publish.allow = vec![">".into()];
    });
    refused(&h, &carrying, &u).await;
}

#[tokio::test]
async fn account_issued_by_operator_signing_key() {
    let op_sk = KeyPair::new_operator();
    let key = KeyPair::new_operator();
    let sys = KeyPair::new_account();
    let mut oc = OperatorClaims::new(key.public_key());
    oc.nats.system_account = sys.public_key();
    oc.nats.add_signing_key(&op_sk.public_key());
    let op = Op {
        jwt: oc.encode(&key).unwrap(),
        sys_jwt: account_jwt(&sys, &op_sk, |_| {}),
        sys_user: KeyPair::new_user(),
        sys_user_jwt: String::new(),
        key,
        sys,
    };
    let acc = KeyPair::new_account();
    let acc_jwt = account_jwt(&acc, &op_sk, |_| {});
    let h = op.start(&[&acc_jwt]).await;
    let u = KeyPair::new_user();
    accepted(&h, &user_jwt_of(&u, &acc), &u).await;
}

#[tokio::test]
async fn user_permissions_enforced() {
    let st = Setup::new();
    let h = st.start().await;
    let u = KeyPair::new_user();
    let j = user_jwt(&u, &st.acc, |c| {
        let p = &mut c.nats.permission_limits.permissions;
        p.publish.allow = vec!["orders.>".into(), "_INBOX.>".into()];
        p.publish.deny = vec!["orders.secret".into()];
        p.subscribe.allow = vec!["orders.>".into()];
        p.subscribe.deny = vec!["orders.audit".into()];
    });
    let mut c = accepted(&h, &j, &u).await;
    c.send("SUB orders.* 1\r\nSUB orders.audit 2\r\nSUB billing 3\r\nPING\r\n")
        .await;
    assert_eq!(
        next(&mut c).await,
        "-ERR 'Permissions Violation for Subscription to \"orders.audit\"'"
    );
    assert_eq!(
        next(&mut c).await,
        "-ERR 'Permissions Violation for Subscription to \"billing\"'"
    );
    assert_eq!(next(&mut c).await, "PONG");
    c.send("PUB orders.secret 1\r\nx\r\nPUB billing 1\r\nx\r\nPUB orders.new 1\r\ny\r\nPING\r\n")
        .await;
    assert_eq!(
        next(&mut c).await,
        "-ERR 'Permissions Violation for Publish to \"orders.secret\"'"
    );
    assert_eq!(
        next(&mut c).await,
        "-ERR 'Permissions Violation for Publish to \"billing\"'"
    );
    assert_eq!(next(&mut c).await, "MSG orders.new 1 y");
    assert_eq!(next(&mut c).await, "PONG");
}

#[tokio::test]
async fn connection_types_and_source_networks() {
    let st = Setup::new();
    let h = st.start().await;
    let u = KeyPair::new_user();
    let ws_only = user_jwt(&u, &st.acc, |c| {
        c.nats.permission_limits.allowed_connection_types = vec!["WEBSOCKET".into()];
    });
    refused(&h, &ws_only, &u).await;
    let standard = user_jwt(&u, &st.acc, |c| {
        c.nats.permission_limits.allowed_connection_types =
            vec!["WEBSOCKET".into(), "STANDARD".into()];
    });
    accepted(&h, &standard, &u).await;

    let elsewhere = user_jwt(&u, &st.acc, |c| {
        c.nats.permission_limits.src = vec!["10.0.0.0/8".into(), "192.168.1.1".into()];
    });
    refused(&h, &elsewhere, &u).await;
    let loopback = user_jwt(&u, &st.acc, |c| {
        c.nats.permission_limits.src = vec!["10.0.0.0/8".into(), "127.0.0.0/8".into()];
    });
    accepted(&h, &loopback, &u).await;
}

// ------------------------------------------------- live claim updates --

#[tokio::test]
async fn live_revocation_cuts_the_user_and_rollback_is_refused() {
    let st = Setup::new();
    let h = st.start().await;
    let mut victim = accepted(&h, &st.user_jwt, &st.user).await;
    let by = KeyPair::new_user();
    let mut bystander = accepted(&h, &user_jwt_of(&by, &st.acc), &by).await;

    let revoking = st.update(|c| {
        c.nats
            .revocations
            .revoke(&st.user.public_key(), jwt::now() + 1)
    });
    let reply = push_claims(&h, &st.op, &revoking).await;
    let replied = Instant::now();
    assert_eq!(
        reply["data"],
        serde_json::json!({"account": st.acc.public_key(), "code": 200, "message": "jwt updated"}),
        "{reply}"
    );
    assert!(reply.get("error").is_none(), "{reply}");

    assert!(
        Box::pin(victim.closed_within(Duration::from_secs(3))).await,
        "victim not disconnected"
    );
    let took = replied.elapsed();
    assert!(took < Duration::from_secs(1), "closed {took:?} after reply");
    assert!(
        victim
            .lines()
            .contains(&"-ERR 'User Authentication Revoked'".to_string()),
        "{:?}",
        victim.lines()
    );
    refused(&h, &st.user_jwt, &st.user).await;
    bystander.send("PING\r\n").await;
    assert_eq!(next(&mut bystander).await, "PONG");

    // Rollback: a validly signed JWT issued before the revocation.
    let old = account_jwt_at(&st.acc, &st.op.key, jwt::now() - 30, |_| {});
    let reply = push_claims(&h, &st.op, &old).await;
    assert_eq!(reply["error"]["code"], 500, "{reply}");
    assert_eq!(reply["error"]["account"], st.acc.public_key().as_str());
    let desc = reply["error"]["description"].as_str().unwrap();
    assert!(desc.contains("older"), "{desc}");
    assert!(reply.get("data").is_none(), "{reply}");
    refused(&h, &st.user_jwt, &st.user).await;
    bystander.send("PING\r\n").await;
    assert_eq!(next(&mut bystander).await, "PONG");
}

#[tokio::test]
async fn old_style_update_subject_works() {
    let st = Setup::new();
    let h = st.start().await;
    let mut victim = accepted(&h, &st.user_jwt, &st.user).await;
    let revoking = st.update(|c| {
        c.nats
            .revocations
            .revoke(&st.user.public_key(), jwt::now() + 1)
    });
    let reply = sys_request(
        &h,
        &st.op,
        &format!("$SYS.ACCOUNT.{}.CLAIMS.UPDATE", st.acc.public_key()),
        &revoking,
    )
    .await;
    let reply: Value = serde_json::from_str(&reply).unwrap();
    assert_eq!(reply["data"]["message"], "jwt updated", "{reply}");
    assert!(Box::pin(victim.closed_within(Duration::from_secs(3))).await);
    assert!(victim
        .lines()
        .contains(&"-ERR 'User Authentication Revoked'".to_string()));
}

#[tokio::test]
async fn update_from_non_system_account_has_no_effect() {
    let st = Setup::new();
    let h = st.start().await;
    let mut c = accepted(&h, &st.user_jwt, &st.user).await;
    let evil = st.update(|c| {
        c.nats
            .revocations
            .revoke(&st.user.public_key(), jwt::now() + 1)
    });
    c.send(format!(
        "SUB r 1\r\nPUB $SYS.REQ.ACCOUNT.{}.CLAIMS.UPDATE r {}\r\n{evil}\r\nPING\r\n",
        st.acc.public_key(),
        evil.len()
    ))
    .await;
    assert_eq!(next(&mut c).await, "PONG");
    assert!(
        !Box::pin(c.closed_within(Duration::from_millis(700))).await,
        "user cut by its own update"
    );
    assert!(c.lines().is_empty(), "{:?}", c.lines());
    accepted(&h, &st.user_jwt, &st.user).await;
}

#[tokio::test]
async fn update_for_unknown_account_is_skipped_on_memory() {
    let st = Setup::new();
    let h = st.start().await;
    let other = KeyPair::new_account();
    let reply = push_claims(&h, &st.op, &account_jwt(&other, &st.op.key, |_| {})).await;
    assert_eq!(
        reply["data"],
        serde_json::json!({"account": other.public_key(), "code": 200, "message": "jwt update skipped"}),
        "{reply}"
    );
    let u = KeyPair::new_user();
    refused(&h, &user_jwt_of(&u, &other), &u).await;
}

#[tokio::test]
async fn bad_updates_are_refused() {
    let st = Setup::new();
    let h = st.start().await;
    accepted(&h, &st.user_jwt, &st.user).await;
    let untrusted = account_jwt(&st.acc, &KeyPair::new_operator(), |c| {
        c.nats.limits.account.conn = 0
    });
    let reply = push_claims(&h, &st.op, &untrusted).await;
    assert_eq!(
        reply["error"],
        serde_json::json!({"account": st.acc.public_key(), "code": 500,
            "description": "jwt update resulted in error - account validation failed"}),
        "{reply}"
    );
    let mismatch = account_jwt(&KeyPair::new_account(), &st.op.key, |_| {});
    let reply = sys_request(
        &h,
        &st.op,
        &format!("$SYS.REQ.ACCOUNT.{}.CLAIMS.UPDATE", st.acc.public_key()),
        &mismatch,
    )
    .await;
    let reply: Value = serde_json::from_str(&reply).unwrap();
    assert_eq!(
        reply["error"]["description"],
        "jwt update resulted in error - subject does not match jwt content"
    );
    // An empty body and a body that is no JWT, answered as nats-server
    // answers them with a resolver that keeps no directory.
    let subject = format!("$SYS.REQ.ACCOUNT.{}.CLAIMS.UPDATE", st.acc.public_key());
    let reply: Value = serde_json::from_str(&sys_request(&h, &st.op, &subject, "").await).unwrap();
    assert_eq!(
        reply["error"],
        serde_json::json!({"account": st.acc.public_key(), "code": 500,
            "description": "jwt update error - request body is empty"}),
        "{reply}"
    );
    let reply: Value =
        serde_json::from_str(&sys_request(&h, &st.op, &subject, "not.a.jwt").await).unwrap();
    assert_eq!(reply["error"]["code"], 500, "{reply}");
    assert_eq!(reply["error"]["account"], st.acc.public_key().as_str());
    assert!(
        reply["error"]["description"]
            .as_str()
            .unwrap()
            .starts_with("jwt update resulted in error - "),
        "{reply}"
    );
    accepted(&h, &st.user_jwt, &st.user).await;
}

#[tokio::test]
async fn updates_change_limits_and_default_permissions_live() {
    let st = Setup::with(|c| {
        c.nats.default_permissions.publish.allow = vec!["app.>".into(), "p".into()];
        c.nats.default_permissions.subscribe.allow = vec!["app.>".into(), "extra.>".into()];
    });
    let h = st.start().await;
    let conns = [
        accepted(&h, &st.user_jwt, &st.user).await,
        accepted(&h, &st.user_jwt, &st.user).await,
        accepted(&h, &st.user_jwt, &st.user).await,
    ];
    let [mut first, mut second, mut third] = conns;
    first.send("SUB extra.feed 7\r\nPUB p 100\r\n").await;
    first.send(format!("{}\r\nPING\r\n", "x".repeat(100))).await;
    assert_eq!(next(&mut first).await, "PONG");

    let reply = push_claims(
        &h,
        &st.op,
        &st.update(|c| {
            c.nats.limits.account.conn = 1;
            c.nats.limits.nats.payload = 50;
            c.nats.default_permissions.publish.allow = vec!["app.>".into(), "p".into()];
            c.nats.default_permissions.subscribe.allow = vec!["app.>".into()];
        }),
    )
    .await;
    assert_eq!(reply["data"]["code"], 200, "{reply}");
    // The newer connections are closed, the oldest keeps its slot.
    for c in [&mut second, &mut third] {
        assert!(Box::pin(c.closed_within(Duration::from_secs(3))).await);
        assert!(
            c.lines()
                .contains(&"-ERR 'maximum account active connections exceeded'".to_string()),
            "{:?}",
            c.lines()
        );
    }
    // The now-forbidden subscription is removed and reported.
    assert_eq!(
        next(&mut first).await,
        "-ERR 'Permissions Violation for Subscription to \"extra.feed\" (sid \"7\")'"
    );
    let (_c, line) = jwt_login(&h, &st.user_jwt, Some(&st.user), Value::Null).await;
    assert_eq!(line, "-ERR 'maximum account active connections exceeded'");
    // The lower payload limit applies to the connected user.
    first
        .send(format!("PUB p 100\r\n{}\r\n", "x".repeat(100)))
        .await;
    assert_eq!(next(&mut first).await, "-ERR 'Maximum Payload Violation'");
}

#[tokio::test]
async fn jwt_mappings_apply_and_follow_claim_updates() {
    fn map_to(c: &mut AccountClaims, dest: &str) {
        c.nats.mappings.insert(
            "in.*".into(),
            vec![WeightedMapping {
                subject: format!("{dest}.$1"),
                ..Default::default()
            }],
        );
    }
    let st = Setup::with(|c| map_to(c, "first"));
    let h = st.start().await;
    let mut c = accepted(&h, &st.user_jwt, &st.user).await;
    c.send("SUB > 1\r\nPUB in.x 1\r\na\r\n").await;
    assert_eq!(next(&mut c).await, "MSG first.x 1 a");
    let reply = push_claims(&h, &st.op, &st.update(|c| map_to(c, "second"))).await;
    assert_eq!(reply["data"]["code"], 200, "{reply}");
    c.send("PUB in.y 1\r\nb\r\n").await;
    assert_eq!(next(&mut c).await, "MSG second.y 1 b");
    // Mappings removed from the claims stop applying.
    let reply = push_claims(&h, &st.op, &st.update(|_| {})).await;
    assert_eq!(reply["data"]["code"], 200, "{reply}");
    c.send("PUB in.z 1\r\nc\r\n").await;
    assert_eq!(next(&mut c).await, "MSG in.z 1 c");
    // Claims updates rebuild the account's imports; the ones every account
    // gets from the system account are back too.
    c.send(
        "UNSUB 1\r\nSUB _INBOX.statz 2\r\nPUB $SYS.REQ.ACCOUNT.PING.STATZ _INBOX.statz 0\r\n\r\n",
    )
    .await;
    let f = next(&mut c).await;
    assert!(f.starts_with("MSG _INBOX.statz 2 "), "{f}");
    assert!(f.contains(&st.acc.public_key()), "{f}");
}

// ------------------------------------------------------------- limits --

#[tokio::test]
async fn jwt_account_connection_limit() {
    let st = Setup::with(|c| c.nats.limits.account.conn = 2);
    let h = st.start().await;
    let mut held = vec![
        accepted(&h, &st.user_jwt, &st.user).await,
        accepted(&h, &st.user_jwt, &st.user).await,
    ];
    let (mut c, first) = jwt_login(&h, &st.user_jwt, Some(&st.user), Value::Null).await;
    assert_eq!(first, "-ERR 'maximum account active connections exceeded'");
    assert!(Box::pin(c.closed_within(Duration::from_secs(2))).await);
    drop(held.remove(0));
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (_c, first) = jwt_login(&h, &st.user_jwt, Some(&st.user), Value::Null).await;
        if first == "PONG" {
            break;
        }
        assert!(Instant::now() < deadline, "slot not released: {first}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn jwt_account_subscription_limit() {
    let st = Setup::with(|c| c.nats.limits.nats.subs = 2);
    let h = st.start().await;
    let mut c = accepted(&h, &st.user_jwt, &st.user).await;
    c.send("SUB a 1\r\nSUB b 2\r\nSUB c 3\r\nPING\r\n").await;
    assert_eq!(next(&mut c).await, "-ERR 'maximum subscriptions exceeded'");
    assert_eq!(next(&mut c).await, "PONG");
    c.send("PUB c 1\r\nx\r\nPUB b 1\r\ny\r\nPING\r\n").await;
    assert_eq!(next(&mut c).await, "MSG b 2 y");
    assert_eq!(next(&mut c).await, "PONG");
}

#[tokio::test]
async fn jwt_account_payload_limit() {
    let st = Setup::with(|c| c.nats.limits.nats.payload = 64);
    let h = st.start().await;
    let mut c = accepted(&h, &st.user_jwt, &st.user).await;
    c.send(format!(
        "SUB p 1\r\nPUB p 64\r\n{}\r\nPING\r\n",
        "x".repeat(64)
    ))
    .await;
    assert!(next(&mut c).await.starts_with("MSG p 1 xxx"));
    assert_eq!(next(&mut c).await, "PONG");
    c.send(format!("PUB p 65\r\n{}\r\n", "x".repeat(65))).await;
    assert_eq!(next(&mut c).await, "-ERR 'Maximum Payload Violation'");
    assert!(Box::pin(c.closed_within(Duration::from_secs(2))).await);
}

#[tokio::test]
async fn user_jwt_expiring_while_connected_is_cut() {
    let st = Setup::new();
    let h = st.start().await;
    let j = user_jwt(&st.user, &st.acc, |c| c.exp = jwt::now() + 2);
    let mut c = accepted(&h, &j, &st.user).await;
    assert!(
        Box::pin(c.closed_within(Duration::from_secs(6))).await,
        "not cut at expiry"
    );
    assert!(
        c.lines()
            .contains(&"-ERR 'User Authentication Expired'".to_string()),
        "{:?}",
        c.lines()
    );
}

#[tokio::test]
async fn jwt_user_asks_who_it_is() {
    let st = Setup::new();
    let h = st.start().await;
    let j = user_jwt(&st.user, &st.acc, |c| {
        c.name = "alice".into();
        c.exp = jwt::now() + 3600;
    });
    let mut c = accepted(&h, &j, &st.user).await;
    c.send("SUB _INBOX.me 1\r\nPUB $SYS.REQ.USER.INFO _INBOX.me 0\r\n\r\n")
        .await;
    let f = next(&mut c).await;
    let body = f.splitn(4, ' ').nth(3).expect("a MSG with a payload");
    let v: Value = serde_json::from_str(body).unwrap();
    let d = &v["data"];
    assert_eq!(d["user"], st.user.public_key().as_str(), "{d}");
    assert_eq!(d["account"], st.acc.public_key().as_str(), "{d}");
    assert_eq!(d["account_name"], "A", "{d}");
    assert_eq!(d["user_name"], "alice", "{d}");
    let expires = d["expires"].as_i64().expect("expires in ns");
    assert!(
        (3500 * 1_000_000_000..=3600 * 1_000_000_000).contains(&expires),
        "{d}"
    );
}

// --------------------------------------------------- exports/imports --

struct Exchange {
    op: Op,
    a: KeyPair,
    b: KeyPair,
    c: KeyPair,
    d: KeyPair,
    jwts: Vec<String>,
}

fn exchange_accounts() -> Exchange {
    let op = Op::new();
    let (a, b, c) = (
        KeyPair::new_account(),
        KeyPair::new_account(),
        KeyPair::new_account(),
    );
    let export = |subject: &str, t: ExportType, token_req: bool| Export {
        subject: subject.into(),
        export_type: Some(t),
        token_req,
        ..Default::default()
    };
    let import = |subject: &str, t: ExportType, local: &str, token: &str| Import {
        subject: subject.into(),
        account: a.public_key(),
        import_type: Some(t),
        local_subject: local.into(),
        token: token.into(),
        ..Default::default()
    };
    let a_jwt = account_jwt(&a, &op.key, |cl| {
        cl.nats.exports = vec![
            export("news.>", ExportType::Stream, false),
            export("svc.add", ExportType::Service, false),
            export("vip.>", ExportType::Stream, true),
        ]
    });
    let mut act = ActivationClaims::new(b.public_key());
    act.nats.import_subject = "vip.>".into();
    act.nats.import_type = Some(ExportType::Stream);
    let token = act.encode(&a).unwrap();
    let b_jwt = account_jwt(&b, &op.key, |cl| {
        cl.nats.imports = vec![
            import("news.>", ExportType::Stream, "a.news.>", ""),
            import("svc.add", ExportType::Service, "add", ""),
            import("vip.>", ExportType::Stream, "", &token),
        ]
    });
    // C imports the private stream without a token; D presents B's.
    let c_jwt = account_jwt(&c, &op.key, |cl| {
        cl.nats.imports = vec![import("vip.>", ExportType::Stream, "", "")]
    });
    let d = KeyPair::new_account();
    let d_jwt = account_jwt(&d, &op.key, |cl| {
        cl.nats.imports = vec![import("vip.>", ExportType::Stream, "", &token)]
    });
    Exchange {
        op,
        a,
        b,
        c,
        d,
        jwts: vec![a_jwt, b_jwt, c_jwt, d_jwt],
    }
}

impl Exchange {
    async fn start(&self) -> ServerHandle {
        let j: Vec<&str> = self.jwts.iter().map(String::as_str).collect();
        self.op.start(&j).await
    }

    async fn client(&self, h: &ServerHandle, acc: &KeyPair) -> async_nats::Client {
        let u = KeyPair::new_user();
        nats_client(h, &user_jwt_of(&u, acc), &u).await
    }
}

#[tokio::test]
async fn jwt_stream_import_with_local_subject() {
    let x = exchange_accounts();
    let h = x.start().await;
    let na = x.client(&h, &x.a).await;
    let nb = x.client(&h, &x.b).await;
    let mut sub = nb.subscribe("a.news.>").await.unwrap();
    nb.flush().await.unwrap();
    na.publish("news.sports", "goal".into()).await.unwrap();
    na.flush().await.unwrap();
    let m = recv(&mut sub).await;
    assert_eq!(
        (m.subject.as_str(), &m.payload[..]),
        ("a.news.sports", &b"goal"[..])
    );
}

#[tokio::test]
async fn jwt_service_import() {
    let x = exchange_accounts();
    let h = x.start().await;
    let na = x.client(&h, &x.a).await;
    let nb = x.client(&h, &x.b).await;
    let mut svc = na.subscribe("svc.add").await.unwrap();
    na.flush().await.unwrap();
    let responder = na.clone();
    tokio::spawn(async move {
        while let Some(m) = svc.next().await {
            let (x, y): (i64, i64) = serde_json::from_slice(&m.payload).unwrap();
            if let Some(r) = m.reply {
                responder
                    .publish(r, (x + y).to_string().into())
                    .await
                    .unwrap();
            }
        }
    });
    let reply = tokio::time::timeout(Duration::from_secs(3), nb.request("add", "[2, 3]".into()))
        .await
        .expect("reply in time")
        .unwrap();
    assert_eq!(&reply.payload[..], b"5");
}

#[tokio::test]
async fn private_export_needs_a_valid_activation() {
    let x = exchange_accounts();
    let h = x.start().await;
    let na = x.client(&h, &x.a).await;
    let nb = x.client(&h, &x.b).await;
    let nc = x.client(&h, &x.c).await;
    let mut sb = nb.subscribe("vip.>").await.unwrap();
    let mut sc = nc.subscribe("vip.>").await.unwrap();
    nb.flush().await.unwrap();
    nc.flush().await.unwrap();
    na.publish("vip.offer", "50%".into()).await.unwrap();
    na.flush().await.unwrap();
    assert_eq!(&recv(&mut sb).await.payload[..], b"50%");
    // C (no token): its own traffic flows, A's does not reach it.
    nc.publish("vip.sentinel", "own".into()).await.unwrap();
    nc.flush().await.unwrap();
    assert_eq!(&recv(&mut sc).await.payload[..], b"own");
    no_message(&mut sc, Duration::from_millis(400)).await;

    // D presents B's activation: the import is not set up. (rnats, like
    // nats' JWT validation, treats the foreign token as a validation error
    // of D's JWT, so D's users are refused outright; if D were loaded
    // without the import, nothing of A's may reach it either.)
    let u = KeyPair::new_user();
    let (mut d, first) = jwt_login(&h, &user_jwt_of(&u, &x.d), Some(&u), Value::Null).await;
    if first == "PONG" {
        d.send("SUB vip.> 1\r\nPING\r\n").await;
        assert_eq!(next(&mut d).await, "PONG");
        na.publish("vip.offer2", "x".into()).await.unwrap();
        na.flush().await.unwrap();
        assert_eq!(&recv(&mut sb).await.payload[..], b"x");
        assert!(!Box::pin(d.closed_within(Duration::from_millis(400))).await);
        assert!(
            d.lines().iter().all(|l| !l.starts_with("MSG")),
            "{:?}",
            d.lines()
        );
    } else {
        assert_eq!(first, AUTH_VIOLATION);
    }
}

// --------------------------------------------------------- URL resolver --

/// A tiny HTTP account server: `GET <base><pubkey>` answers the JWT (after
/// the key's delay), `GET <base>` answers 200, anything else 404.
struct JwtHttp {
    base: String,
    jwts: Arc<Mutex<HashMap<String, (String, Duration)>>>,
    requests: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

const BASE: &str = "/jwt/v1/accounts/";

impl JwtHttp {
    async fn start() -> JwtHttp {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}{BASE}", l.local_addr().unwrap());
        let jwts: Arc<Mutex<HashMap<String, (String, Duration)>>> = Arc::default();
        let requests: Arc<Mutex<Vec<String>>> = Arc::default();
        let (j, r) = (jwts.clone(), requests.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                let (j, r) = (j.clone(), r.clone());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = vec![0u8; 4096];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match s.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&buf).into_owned();
                    let path = head.split_whitespace().nth(1).unwrap_or("").to_owned();
                    r.lock().push(path.clone());
                    let found = path
                        .strip_prefix(BASE)
                        .map(|k| (k.is_empty(), j.lock().get(k).cloned()));
                    let (code, body) = match found {
                        Some((true, _)) => ("200 OK", String::new()),
                        Some((false, Some((jwt, delay)))) => {
                            tokio::time::sleep(delay).await;
                            ("200 OK", jwt)
                        }
                        _ => ("404 Not Found", "not found".to_owned()),
                    };
                    let resp = format!(
                        "HTTP/1.1 {code}\r\nContent-Type: application/jwt\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = s.write_all(resp.as_bytes()).await;
                    let _ = s.shutdown().await;
                });
            }
        });
        JwtHttp {
            base,
            jwts,
            requests,
            task,
        }
    }

    fn add(&self, account_jwt: &str, delay: Duration) {
        let sub = jwt::decode_account(account_jwt).unwrap().sub;
        self.jwts
            .lock()
            .insert(sub, (account_jwt.to_owned(), delay));
    }

    fn asked_for(&self, key: &str) -> bool {
        self.requests
            .lock()
            .iter()
            .any(|p| p == &format!("{BASE}{key}"))
    }
}

impl Drop for JwtHttp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_resolver_fetches_accounts() {
    let st = Setup::new();
    let web = JwtHttp::start().await;
    web.add(&st.op.sys_jwt, Duration::ZERO);
    web.add(&st.acc_jwt, Duration::ZERO);
    let h = start_conf(&st.op.config(&format!("URL(\"{}\")", web.base), None)).await;
    assert!(!web.asked_for(&st.acc.public_key()));
    let mut c = accepted(&h, &st.user_jwt, &st.user).await;
    assert!(web.asked_for(&st.acc.public_key()));
    c.send("SUB x 1\r\nPUB x 1\r\n!\r\n").await;
    assert_eq!(next(&mut c).await, "MSG x 1 !");

    // Unknown to the account server: refused, after asking.
    let ghost = KeyPair::new_account();
    let u = KeyPair::new_user();
    refused(&h, &user_jwt_of(&u, &ghost), &u).await;
    assert!(web.asked_for(&ghost.public_key()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_resolver_slow_fetch_does_not_block_cached_logins() {
    let st = Setup::new();
    let slow = KeyPair::new_account();
    let slow_jwt = account_jwt(&slow, &st.op.key, |_| {});
    let web = JwtHttp::start().await;
    web.add(&st.op.sys_jwt, Duration::ZERO);
    web.add(&st.acc_jwt, Duration::ZERO);
    web.add(&slow_jwt, Duration::from_millis(1500));
    let h = Arc::new(start_conf(&st.op.config(&format!("URL(\"{}\")", web.base), None)).await);
    // A is fetched and cached.
    accepted(&h, &st.user_jwt, &st.user).await;

    let order: Arc<Mutex<Vec<&'static str>>> = Arc::default();
    let su = KeyPair::new_user();
    let slow_user_jwt = user_jwt_of(&su, &slow);
    let slow_login = {
        let (h, order) = (h.clone(), order.clone());
        tokio::spawn(async move {
            let (_c, first) = jwt_login(&h, &slow_user_jwt, Some(&su), Value::Null).await;
            order.lock().push("slow");
            first
        })
    };
    // Wait until the slow fetch is under way.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !web.asked_for(&slow.public_key()) {
        assert!(Instant::now() < deadline, "slow account never fetched");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let fast_login = {
        let (h, order) = (h.clone(), order.clone());
        let (j, k) = (st.user_jwt.clone(), st.user.clone());
        tokio::spawn(async move {
            let (_c, first) = jwt_login(&h, &j, Some(&k), Value::Null).await;
            order.lock().push("fast");
            first
        })
    };
    assert_eq!(fast_login.await.unwrap(), "PONG");
    assert_eq!(slow_login.await.unwrap(), "PONG");
    assert_eq!(*order.lock(), vec!["fast", "slow"]);
}

// --------------------------------------------------- directory resolver --

fn dir_resolver(dir: &std::path::Path) -> String {
    format!("{{ type: full, dir: \"{}\" }}", dir.display())
}

#[tokio::test]
async fn dir_resolver_stores_pushed_claims_and_serves_lookups() {
    let st = Setup::new();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("jwt");
    let h = start_conf(&st.op.config(&dir_resolver(&dir), Some(&[]))).await;
    refused(&h, &st.user_jwt, &st.user).await;

    // A directory resolver names no account for a body that is no JWT.
    let reply: Value =
        serde_json::from_str(&sys_request(&h, &st.op, "$SYS.REQ.CLAIMS.UPDATE", "garbage").await)
            .unwrap();
    assert_eq!(reply["error"]["account"], "n/a", "{reply}");
    assert_eq!(reply["error"]["code"], 500, "{reply}");
    assert!(
        reply["error"]["description"]
            .as_str()
            .unwrap()
            .starts_with("jwt update resulted in error - "),
        "{reply}"
    );

    let reply = sys_request(&h, &st.op, "$SYS.REQ.CLAIMS.UPDATE", &st.acc_jwt).await;
    let reply: Value = serde_json::from_str(&reply).unwrap();
    assert_eq!(
        reply["data"],
        serde_json::json!({"account": st.acc.public_key(), "code": 200, "message": "jwt updated"}),
        "{reply}"
    );
    let stored = dir.join(format!("{}.jwt", st.acc.public_key()));
    assert_eq!(std::fs::read_to_string(&stored).unwrap(), st.acc_jwt);
    accepted(&h, &st.user_jwt, &st.user).await;

    let looked_up = sys_request(
        &h,
        &st.op,
        &format!("$SYS.REQ.ACCOUNT.{}.CLAIMS.LOOKUP", st.acc.public_key()),
        "",
    )
    .await;
    assert_eq!(looked_up, st.acc_jwt);
    let list = sys_request(&h, &st.op, "$SYS.REQ.CLAIMS.LIST", "").await;
    let list: Value = serde_json::from_str(&list).unwrap();
    let keys = list["data"].as_array().expect("list data");
    assert!(keys.contains(&st.acc.public_key().into()), "{list}");
}

#[tokio::test]
async fn dir_resolver_file_updates_apply_live_and_never_roll_back() {
    let st = Setup::new();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("jwt");
    let h = start_conf(&st.op.config(&dir_resolver(&dir), Some(&[&st.acc_jwt]))).await;
    let mut victim = accepted(&h, &st.user_jwt, &st.user).await;
    let by = KeyPair::new_user();
    let mut bystander = accepted(&h, &user_jwt_of(&by, &st.acc), &by).await;
    let file = dir.join(format!("{}.jwt", st.acc.public_key()));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), st.acc_jwt);

    // A newer JWT written into the directory by someone else.
    let revoking = st.update(|c| {
        c.nats
            .revocations
            .revoke(&st.user.public_key(), jwt::now() + 1)
    });
    let tmpfile = tmp.path().join("new.jwt");
    std::fs::write(&tmpfile, &revoking).unwrap();
    std::fs::rename(&tmpfile, &file).unwrap();
    assert!(
        Box::pin(victim.closed_within(Duration::from_secs(5))).await,
        "watcher did not apply the revocation"
    );
    assert!(
        victim
            .lines()
            .contains(&"-ERR 'User Authentication Revoked'".to_string()),
        "{:?}",
        victim.lines()
    );
    bystander.send("PING\r\n").await;
    assert_eq!(next(&mut bystander).await, "PONG");

    // An older JWT written over it does not undo the revocation; the file
    // is restored to the JWT in force.
    let old = account_jwt_at(&st.acc, &st.op.key, jwt::now() - 30, |_| {});
    std::fs::write(&tmpfile, &old).unwrap();
    std::fs::rename(&tmpfile, &file).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::fs::read_to_string(&file).unwrap_or_default() != revoking {
        assert!(Instant::now() < deadline, "rolled-back file not restored");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    refused(&h, &st.user_jwt, &st.user).await;
    let looked_up = sys_request(
        &h,
        &st.op,
        &format!("$SYS.REQ.ACCOUNT.{}.CLAIMS.LOOKUP", st.acc.public_key()),
        "",
    )
    .await;
    assert_eq!(looked_up, revoking);
    bystander.send("PING\r\n").await;
    assert_eq!(next(&mut bystander).await, "PONG");
}

#[tokio::test]
async fn dir_resolver_push_revokes_and_persists() {
    let st = Setup::new();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("jwt");
    let h = start_conf(&st.op.config(&dir_resolver(&dir), Some(&[&st.acc_jwt]))).await;
    let mut c = accepted(&h, &st.user_jwt, &st.user).await;
    let revoking = st.update(|c| {
        c.nats
            .revocations
            .revoke(&st.user.public_key(), jwt::now() + 1)
    });
    let reply = push_claims(&h, &st.op, &revoking).await;
    assert_eq!(reply["data"]["message"], "jwt updated", "{reply}");
    assert!(Box::pin(c.closed_within(Duration::from_secs(3))).await);
    assert!(c
        .lines()
        .contains(&"-ERR 'User Authentication Revoked'".to_string()));
    let file = dir.join(format!("{}.jwt", st.acc.public_key()));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), revoking);
}

#[tokio::test]
async fn dir_resolver_pack_and_delete() {
    let st = Setup::new();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("jwt");
    let conf = st.op.config(
        &format!(
            "{{ type: full, dir: \"{}\", allow_delete: true }}",
            dir.display()
        ),
        Some(&[&st.acc_jwt]),
    );
    let h = start_conf(&conf).await;
    let mut victim = accepted(&h, &st.user_jwt, &st.user).await;

    // PACK with a hash that is not ours: one `key|jwt` message per account,
    // then an empty one.
    let mut c = accepted(&h, &st.op.sys_user_jwt, &st.op.sys_user).await;
    c.send("SUB _INBOX.pack 1\r\nPUB $SYS.REQ.CLAIMS.PACK _INBOX.pack 3\r\nabc\r\n")
        .await;
    let mut lines = Vec::new();
    for _ in 0..10 {
        let f = next(&mut c).await;
        let body = f
            .strip_prefix("MSG _INBOX.pack 1 ")
            .expect("pack reply")
            .to_owned();
        if body.is_empty() {
            break;
        }
        lines.push(body);
    }
    assert!(
        lines.contains(&format!("{}|{}", st.acc.public_key(), st.acc_jwt)),
        "{lines:?}"
    );

    // DELETE: a generic JWT self-signed by the operator naming the account.
    let mut g = jwt::GenericClaims::new(st.op.key.public_key());
    g.nats
        .0
        .insert("accounts".into(), serde_json::json!([st.acc.public_key()]));
    let del = g.encode(&st.op.key).unwrap();
    let reply = sys_request(&h, &st.op, "$SYS.REQ.CLAIMS.DELETE", &del).await;
    let reply: Value = serde_json::from_str(&reply).unwrap();
    assert_eq!(reply["data"]["message"], "deleted 1 accounts", "{reply}");
    assert!(victim.closed_within(Duration::from_secs(2)).await);
    refused(&h, &st.user_jwt, &st.user).await;

    // Deleting the system account is refused.
    let mut g = jwt::GenericClaims::new(st.op.key.public_key());
    g.nats.0.insert(
        "accounts".into(),
        serde_json::json!([st.op.sys.public_key()]),
    );
    let reply = sys_request(
        &h,
        &st.op,
        "$SYS.REQ.CLAIMS.DELETE",
        &g.encode(&st.op.key).unwrap(),
    )
    .await;
    assert!(
        reply.contains("not allowed to delete system account"),
        "{reply}"
    );
}

#[tokio::test]
async fn removing_a_signing_key_cuts_its_users() {
    let sk = KeyPair::new_account();
    let st = Setup::with(|c| c.nats.signing_keys.add(&sk.public_key()));
    let h = st.start().await;
    let acc = st.acc.public_key();
    let u = KeyPair::new_user();
    let mut by_key = accepted(
        &h,
        &user_jwt(&u, &sk, |c| c.nats.issuer_account = acc.clone()),
        &u,
    )
    .await;
    let mut direct = accepted(&h, &st.user_jwt, &st.user).await;
    let reply = push_claims(&h, &st.op, &st.update(|_| {})).await;
    assert_eq!(reply["data"]["message"], "jwt updated", "{reply}");
    assert!(by_key.closed_within(Duration::from_secs(2)).await);
    direct.send("PING\r\n").await;
    assert_eq!(next(&mut direct).await, "PONG");
}

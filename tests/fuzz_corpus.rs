//! Replays the committed fuzz seeds through the same checks the fuzz
//! targets run, so every `cargo test` exercises them.

use std::path::Path;

#[path = "../fuzz/common/subject_input.rs"]
mod subject_input;

fn corpus(name: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(name);
    let mut v: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no seeds in {}", dir.display());
    v
}

#[test]
fn protocol_seeds() {
    for (name, data) in corpus("protocol") {
        for seed in 0..8 {
            let r = std::panic::catch_unwind(|| rnats::protocol::replay::check(&data, seed));
            assert!(r.is_ok(), "seed file {name} failed");
        }
    }
}

#[test]
fn route_protocol_seeds() {
    for (name, data) in corpus("route_protocol") {
        for seed in 0..8 {
            let r = std::panic::catch_unwind(|| rnats::cluster::proto::replay::check(&data, seed));
            assert!(r.is_ok(), "seed file {name} failed");
        }
    }
}

#[test]
fn jwt_seeds() {
    for (name, data) in corpus("jwt") {
        let r = std::panic::catch_unwind(|| rnats::jwt::fuzz_check::check_jwt(&data));
        assert!(r.is_ok(), "seed file {name} failed");
    }
}

#[test]
fn stan_protocol_seeds() {
    for (name, data) in corpus("stan_protocol") {
        let r = std::panic::catch_unwind(|| rnats::streaming::fuzz_check::check(&data));
        assert!(r.is_ok(), "seed file {name} failed");
    }
}

#[test]
fn creds_seeds() {
    for (name, data) in corpus("creds") {
        let r = std::panic::catch_unwind(|| rnats::jwt::fuzz_check::check_creds(&data));
        assert!(r.is_ok(), "seed file {name} failed");
    }
}

#[test]
fn transform_seeds() {
    for (name, data) in corpus("transform") {
        let r = std::panic::catch_unwind(|| rnats::tenancy::mapping::fuzz_check(&data));
        assert!(r.is_ok(), "seed file {name} failed");
    }
}

#[test]
fn config_seeds_through_accounts_and_mappings() {
    for (name, data) in corpus("config") {
        let r = std::panic::catch_unwind(|| {
            rnats::tenancy::account_config::fuzz_check(&data);
            rnats::streaming::config::fuzz_check(&data);
        });
        assert!(r.is_ok(), "seed file {name} failed");
    }
}

#[test]
fn subject_seeds() {
    for (name, data) in corpus("subject") {
        let r = std::panic::catch_unwind(|| subject_input::run(&data));
        assert!(r.is_ok(), "seed file {name} failed");
    }
}

/// Writes the seed corpora of the `jwt`, `creds` and `subject` targets:
/// `cargo test --test fuzz_corpus -- --ignored write_seeds`. The committed
/// seeds came from this; rerunning gives new keys and timestamps.
#[test]
#[ignore]
fn write_seeds() {
    use rand::{Rng, SeedableRng};
    use rnats::jwt::fuzz_check::{fill_placeholders, sign_payload};
    use rnats::jwt::{self, ClaimBody, Claims};
    use rnats::nkeys::{KeyKind, KeyPair};

    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let write = |target: &str, name: &str, data: &[u8]| {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), data).unwrap();
    };

    // Claims payloads; @O@ @A@ @A2@ @U@ @N@ are the fixed keys of
    // rnats::jwt::fuzz_check (index 0 1 3 2 4 as signers).
    let operator = r#"{"iss":"@O@","sub":"@O@","name":"op","iat":1700000000,
        "nats":{"signing_keys":["@O@"],"account_server_url":"http://localhost:9090/jwt/v1",
        "operator_service_urls":["nats://localhost:4222"],"system_account":"@A@",
        "assert_server_version":"2.10.0","strict_signing_key_usage":false,"tags":["prod"],
        "type":"operator","version":2}}"#;
    let account = r#"{"iss":"@O@","sub":"@A@","name":"acc","iat":1700000000,"exp":1900000000,
        "nats":{"exports":[{"name":"svc","subject":"svc.>","type":"service","response_type":"Stream",
        "response_threshold":1000000000,"service_latency":{"sampling":50,"results":"lat.results"},
        "account_token_position":2},{"name":"str","subject":"events.*","type":"stream","token_req":true,
        "revocations":{"@A2@":1700000000}}],
        "imports":[{"name":"imp","subject":"other.>","account":"@A2@","type":"stream","local_subject":"local.>"},
        {"name":"isvc","subject":"help","account":"@A2@","type":"service","to":"ask"}],
        "limits":{"subs":100,"data":-1,"payload":1048576,"imports":10,"exports":10,"wildcards":true,
        "conn":-1,"leaf":-1,"mem_storage":-1,"disk_storage":-1,"streams":-1,"consumer":-1,
        "tiered_limits":{"R1":{"mem_storage":1024,"disk_storage":-1}}},
        "signing_keys":["@A2@",{"kind":"user_scope","key":"@A2@","role":"dev",
        "template":{"pub":{"allow":["{{account-name()}}.>"]},"sub":{"deny":["secret.>"]},"subs":-1,"data":-1,"payload":-1}}],
        "revocations":{"@U@":1700000001,"*":1600000000},
        "default_permissions":{"pub":{"allow":["a.>"]},"sub":{"allow":["_INBOX.>"]}},
        "mappings":{"map.in":[{"subject":"map.out.1","weight":60},{"subject":"map.out.2","weight":40,"cluster":"c1"}]},
        "authorization":{"auth_users":["@U@"],"allowed_accounts":["*"],"xkey":""},
        "trace":{"dest":"trace.dest","sampling":10},
        "description":"an account","info_url":"http://example.com",
        "type":"account","version":2}}"#;
    let user = r#"{"iss":"@A2@","sub":"@U@","name":"alice","iat":1700000000,"nbf":1600000000,
        "nats":{"pub":{"allow":["foo.>","bar.*"],"deny":["foo.secret"]},"sub":{"allow":["_INBOX.>"],"deny":[]},
        "resp":{"max":1,"ttl":5000000000},"src":["192.168.0.0/16","10.1.2.3/32"],
        "times":[{"start":"08:00:00","end":"17:30:00"}],"times_location":"Europe/Berlin",
        "subs":10,"data":-1,"payload":4096,"bearer_token":false,
        "allowed_connection_types":["STANDARD","WEBSOCKET","LEAFNODE"],
        "issuer_account":"@A@","tags":["t1"],"type":"user","version":2}}"#;
    let bearer = r#"{"iss":"@A@","sub":"@U@","iat":1700000000,
        "nats":{"pub":{},"sub":{},"subs":-1,"data":-1,"payload":-1,"bearer_token":true,
        "type":"user","version":2}}"#;
    let activation = r#"{"iss":"@A2@","sub":"@A@","name":"events.*","iat":1700000000,"exp":1800000000,
        "nats":{"subject":"events.x","kind":"stream","issuer_account":"@A@",
        "type":"activation","version":2}}"#;
    let generic = r#"{"iss":"@N@","sub":"@U@","aud":"nats-authorization-request","iat":1700000000,
        "nats":{"server_id":{"name":"s1","host":"0.0.0.0","id":"@N@"},"user_nkey":"@U@",
        "client_info":{"host":"127.0.0.1","id":5,"kind":"Client"},"connect_opts":{"user":"u","pass":"p","lang":"go"},
        "type":"authorization_request","version":2}}"#;
    let v1_user = r#"{"iss":"@A@","sub":"@U@","iat":1600000000,"type":"user","tags":["old"],
        "nats":{"pub":{"allow":["x"]},"sub":{"deny":[">"]}}}"#;
    let v1_account = r#"{"iss":"@O@","sub":"@A@","iat":1600000000,"type":"account",
        "nats":{"limits":{"subs":-1,"conn":-1,"imports":-1,"exports":-1,"data":-1,"payload":-1,"wildcards":true}}}"#;

    fn encoded<N: ClaimBody>(json: &str, signer: &KeyPair) -> String {
        let text = fill_placeholders(json.as_bytes());
        let mut c: Claims<N> = serde_json::from_slice(&text).unwrap();
        c.encode_at(signer, 1_700_000_000).unwrap()
    }
    let key = |k: KeyKind, b: u8| KeyPair::from_raw_seed(k, &[b; 32]);
    let op = key(KeyKind::Operator, 1);
    let acc = key(KeyKind::Account, 2);
    let acc2 = key(KeyKind::Account, 4);
    let tokens = [
        ("operator.jwt", encoded::<jwt::Operator>(operator, &op)),
        ("account.jwt", encoded::<jwt::Account>(account, &op)),
        ("account-self.jwt", encoded::<jwt::Account>(account, &acc)),
        ("user.jwt", encoded::<jwt::User>(user, &acc2)),
        ("user-bearer.jwt", encoded::<jwt::User>(bearer, &acc)),
        (
            "activation.jwt",
            encoded::<jwt::Activation>(activation, &acc2),
        ),
        ("generic.jwt", sign_payload(generic.as_bytes(), 4, false).0),
        ("v1-user.jwt", sign_payload(v1_user.as_bytes(), 1, true).0),
        (
            "v1-account.jwt",
            sign_payload(v1_account.as_bytes(), 0, true).0,
        ),
    ];
    for (name, t) in &tokens {
        assert!(jwt::decode(t).is_ok(), "{name}: {:?}", jwt::decode(t));
        write("jwt", name, t.as_bytes());
    }
    // Broken tokens.
    let user_tok = &tokens[3].1;
    let parts: Vec<&str> = user_tok.split('.').collect();
    write(
        "jwt",
        "bad-two-parts",
        format!("{}.{}", parts[0], parts[1]).as_bytes(),
    );
    write("jwt", "bad-four-parts", format!("{user_tok}.x").as_bytes());
    let mut flipped = user_tok.clone().into_bytes();
    let mid = parts[0].len() + 10;
    flipped[mid] = if flipped[mid] == b'A' { b'B' } else { b'A' };
    write("jwt", "bad-signature", &flipped);
    let hs256 = data_encoding::BASE64URL_NOPAD.encode(br#"{"typ":"JWT","alg":"HS256"}"#);
    write(
        "jwt",
        "bad-alg",
        format!("{hs256}.{}.{}", parts[1], parts[2]).as_bytes(),
    );
    write("jwt", "bad-empty", b"..");
    // Payloads signed by the target (first byte 0x80 | key, 0x88 | key: v1).
    let signed: [(&str, u8, &str); 12] = [
        ("signed-operator", 0x80, operator),
        ("signed-account", 0x80, account),
        ("signed-account-self", 0x81, account),
        ("signed-user", 0x83, user),
        ("signed-user-bearer", 0x81, bearer),
        ("signed-activation", 0x83, activation),
        ("signed-generic", 0x84, generic),
        ("signed-v1-user", 0x89, v1_user),
        ("signed-v1-account", 0x88, v1_account),
        ("signed-wrong-issuer", 0x82, user),
        ("signed-not-json", 0x81, "{\"iss\":\"@A@\",\"nats\":"),
        (
            "signed-newer-version",
            0x80,
            r#"{"iss":"@O@","sub":"@O@","nats":{"type":"operator","version":3}}"#,
        ),
    ];
    for (name, sel, json) in signed {
        let mut v = vec![sel];
        v.extend_from_slice(json.replace("\n        ", "").as_bytes());
        write("jwt", name, &v);
    }

    // Creds: a real user creds file and variants, keys of each kind.
    let user_key = key(KeyKind::User, 3);
    let file = rnats::creds::format_user_creds(user_tok, &user_key).unwrap();
    write("creds", "user.creds", file.as_bytes());
    write(
        "creds",
        "user-crlf.creds",
        file.replace('\n', "\r\n").as_bytes(),
    );
    let seed = user_key.seed().unwrap();
    write(
        "creds",
        "bare.creds",
        format!("{user_tok}\n\n  {}\n", seed.as_str()).as_bytes(),
    );
    write(
        "creds",
        "short-markers.creds",
        format!("---\n {user_tok}\n---\n---\n{}\n---\n", seed.as_str()).as_bytes(),
    );
    write(
        "creds",
        "malformed.creds",
        format!("-----BEGIN NATS USER JWT-----\n{user_tok} !\n------END------\n").as_bytes(),
    );
    let op_file = format!(
        "{}{}",
        rnats::creds::decorate_jwt("operator", &tokens[0].1),
        rnats::creds::decorate_seed(&op.seed().unwrap()).unwrap()
    );
    write("creds", "operator.creds", op_file.as_bytes());
    for (i, kind) in KeyKind::ALL.into_iter().enumerate() {
        let kp = KeyPair::from_raw_seed(kind, &[0x40 + i as u8; 32]);
        let name = format!("{kind:?}").to_lowercase();
        write(
            "creds",
            &format!("seed-{name}"),
            kp.seed().unwrap().as_bytes(),
        );
        write(
            "creds",
            &format!("public-{name}"),
            kp.public_key().as_bytes(),
        );
        let mut raw = vec![0xff, i as u8];
        raw.extend_from_slice(&[0x40 + i as u8; 32]);
        raw.extend_from_slice(b"nonce");
        write("creds", &format!("raw-{name}"), &raw);
    }
    let sig = rnats::nkeys::sign_nonce(&user_key, b"nonce").unwrap();
    write(
        "creds",
        "key-file",
        format!("# user key\n{}\n{sig}\n", user_key.public_key()).as_bytes(),
    );
    let mut bad_crc = user_key.public_key().into_bytes();
    bad_crc[55] = if bad_crc[55] == b'A' { b'B' } else { b'A' };
    write("creds", "public-bad-crc", &bad_crc);

    // Subject: random op sequences over a small alphabet, written in the
    // byte format `arbitrary` decodes (u32 LE enum tags, a keep-going byte
    // before each element of a Vec) and checked to decode back.
    let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
    let tag = |out: &mut Vec<u8>, i: u64, n: u64| {
        let v = (((2 * i + 1) << 32) / (2 * n)) as u32;
        out.extend_from_slice(&v.to_le_bytes());
    };
    for n in 0..30 {
        let mut out = Vec::new();
        let subj = |out: &mut Vec<u8>, rng: &mut rand::rngs::SmallRng| {
            let len = rng.gen_range(1..=4);
            for _ in 0..len {
                out.push(1);
                // A B C * > and, rarely, an empty token.
                let t = if rng.gen_ratio(1, 25) {
                    5
                } else {
                    rng.gen_range(0..5)
                };
                tag(out, t, 7);
            }
            out.push(0);
        };
        out.push(n % 2); // cache
        for _ in 0..rng.gen_range(1..4) {
            out.push(1);
            subj(&mut out, &mut rng);
            subj(&mut out, &mut rng);
        }
        out.push(0);
        for _ in 0..rng.gen_range(8..30) {
            out.push(1);
            let op = match rng.gen_range(0..100) {
                0..=39 => 0,  // Insert
                40..=44 => 1, // Remove
                45..=59 => 2, // RemoveLive
                60..=94 => 3, // Match
                _ => 4,       // ClearCache
            };
            tag(&mut out, op, 5);
            match op {
                0 | 1 => {
                    subj(&mut out, &mut rng);
                    let q = match rng.gen_range(0..10) {
                        0..=5 => 0,
                        6..=7 => 1,
                        _ => 2,
                    };
                    tag(&mut out, q, 4);
                    out.push(rng.gen_range(0..4));
                }
                2 => out.push(rng.gen()),
                3 => subj(&mut out, &mut rng),
                _ => {}
            }
        }
        out.push(0);
        let input = <subject_input::Input as arbitrary::Arbitrary>::arbitrary_take_rest(
            arbitrary::Unstructured::new(&out),
        )
        .unwrap();
        assert!(input.ops().len() >= 8, "{input:?}");
        subject_input::run(&out);
        write("subject", &format!("ops-{n:02}"), &out);
    }
}

//! Unit tests: certificate identities and mapping on the fixture
//! certificates (`fixtures/certs`), and building the TLS configuration.

use super::*;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/certs")
        .join(name)
}

fn peer(name: &str) -> PeerCert {
    let pem = std::fs::read(fixture(name)).unwrap();
    let der = CertificateDer::from_pem_slice(&pem).unwrap();
    PeerCert::from_der(&der).unwrap()
}

#[test]
fn subject_is_go_rdn_string_most_specific_first() {
    let alice = peer("client-alice.pem");
    assert_eq!(alice.subject, "CN=alice,O=NATS Conformance");
    assert!(alice.emails.is_empty() && alice.dns_names.is_empty() && alice.uris.is_empty());
    assert!(alice.domain_components.is_empty());
    assert_eq!(alice.spki_sha256.len(), 64);
}

#[test]
fn sans_are_read_by_kind() {
    let bob = peer("client-bob.pem");
    assert_eq!(bob.emails, vec!["bob@example.com"]);
    assert_eq!(bob.subject, "CN=bob,O=NATS Conformance");
    let carol = peer("client-carol.pem");
    assert_eq!(carol.dns_names, vec!["carol.example.com"]);
    let server = peer("server.pem");
    // IP SANs are not names.
    assert_eq!(server.dns_names, vec!["localhost"]);
    let dave = peer("client-dave.pem");
    assert_eq!(dave.uris, vec!["spiffe://example.org/dave"]);
}

#[test]
fn subject_uses_go_canonical_order_and_drops_unknown_attributes() {
    // DER order is CN, OU, O, C, DC; Go rebuilds C, O, OU, CN and prints it
    // reversed, without DC.
    let dave = peer("client-dave.pem");
    assert_eq!(dave.subject, "CN=dave,OU=eng,O=Acme,C=US");
    assert_eq!(dave.domain_components, vec!["org"]);
    let dn = dave.dn.clone().unwrap();
    assert_eq!(
        dn,
        Dn::parse("DC=org,C=US,O=Acme,OU=eng,CN=dave").unwrap(),
        "the DN keeps the certificate's order, most specific (last) first"
    );
}

#[test]
fn candidates_in_reference_order() {
    assert_eq!(
        map_candidates(&peer("client-bob.pem")),
        vec!["bob@example.com", "CN=bob,O=NATS Conformance"]
    );
    assert_eq!(
        map_candidates(&peer("client-carol.pem")),
        vec!["carol.example.com", "CN=carol"]
    );
    assert_eq!(
        map_candidates(&peer("client-alice.pem")),
        vec!["CN=alice,O=NATS Conformance"]
    );
    assert_eq!(
        map_candidates(&peer("client-dave.pem")),
        vec![
            "spiffe://example.org/dave",
            "CN=dave,OU=eng,O=Acme,C=US,DC=org",
            "CN=dave,OU=eng,O=Acme,C=US",
        ]
    );
    let all = PeerCert {
        emails: vec!["e@x".into()],
        dns_names: vec!["d.x".into()],
        uris: vec!["u://x".into()],
        subject: "CN=s".into(),
        ..PeerCert::default()
    };
    assert_eq!(map_candidates(&all), vec!["e@x", "d.x", "u://x", "CN=s"]);
    assert!(map_candidates(&PeerCert::default()).is_empty());
}

#[test]
fn map_user_walks_sans_then_dn_then_subject() {
    let bob = peer("client-bob.pem");
    // The e-mail SAN wins over the subject.
    let users = ["CN=bob,O=NATS Conformance", "bob@example.com"];
    assert_eq!(map_user(&bob, users), Some("bob@example.com"));
    // Without it, the subject DN matches structurally (spaces and case of
    // the attribute types do not matter).
    assert_eq!(
        map_user(&bob, ["cn=bob, o=NATS Conformance", "alice"]),
        Some("cn=bob, o=NATS Conformance")
    );
    // Values are compared exactly.
    assert_eq!(map_user(&bob, ["CN=Bob,O=NATS Conformance"]), None);

    let alice = peer("client-alice.pem");
    assert_eq!(
        map_user(&alice, ["bob@example.com", "CN=alice,O=NATS Conformance"]),
        Some("CN=alice,O=NATS Conformance")
    );
    // Reordered RDNs still match, after any exact-order match.
    assert_eq!(
        map_user(&alice, ["O=NATS Conformance,CN=alice"]),
        Some("O=NATS Conformance,CN=alice")
    );
    assert_eq!(
        map_user(
            &alice,
            ["O=NATS Conformance,CN=alice", "CN=alice,O=NATS Conformance"]
        ),
        Some("CN=alice,O=NATS Conformance")
    );
    assert_eq!(map_user(&alice, ["alice", "CN=alice"]), None);

    let carol = peer("client-carol.pem");
    assert_eq!(
        map_user(&carol, ["CN=carol", "carol.example.com"]),
        Some("carol.example.com")
    );

    let dave = peer("client-dave.pem");
    assert_eq!(
        map_user(&dave, ["CN=dave,OU=eng,O=Acme,C=US,DC=org"]),
        Some("CN=dave,OU=eng,O=Acme,C=US,DC=org"),
        "structurally the same RDNs in another order"
    );
    assert_eq!(
        map_user(
            &dave,
            ["spiffe://example.org/dave", "CN=dave,OU=eng,O=Acme,C=US"]
        ),
        Some("spiffe://example.org/dave")
    );
    // Without DC the structural match fails (5 RDNs vs 4); the literal
    // subject string still maps.
    assert_eq!(
        map_user(&dave, ["CN=dave,OU=eng,O=Acme,C=US"]),
        Some("CN=dave,OU=eng,O=Acme,C=US")
    );
    assert_eq!(map_user(&dave, Vec::<&str>::new()), None);
}

#[test]
fn dn_with_unknown_attribute_type_skips_structural_match() {
    let cert = rcgen_cert(&[
        (rcgen::DnType::CommonName, "zed"),
        (
            rcgen::DnType::CustomDnType(vec![0, 9, 2342, 19200300, 100, 1, 1]),
            "uid7",
        ),
    ]);
    assert_eq!(cert.dn, None);
    assert_eq!(cert.subject, "CN=zed");
    assert_eq!(map_user(&cert, ["CN=zed"]), Some("CN=zed"));
}

#[test]
fn subject_values_are_escaped_as_go_does() {
    let cert = rcgen_cert(&[
        (rcgen::DnType::OrganizationName, "#hash, inc"),
        (rcgen::DnType::CommonName, " a+b<c>;\"d\\ "),
    ]);
    assert_eq!(
        cert.subject,
        "CN=\\ a\\+b\\<c\\>\\;\\\"d\\\\\\ ,O=\\#hash\\, inc"
    );
    // The structural match compares unescaped values.
    let user = "CN=\\ a\\+b\\<c\\>\\;\\\"d\\\\\\ ,O=\\#hash\\, inc";
    assert_eq!(Dn::parse(user).unwrap(), cert.dn.clone().unwrap());
}

fn rcgen_cert(dn: &[(rcgen::DnType, &str)]) -> PeerCert {
    let mut p = rcgen::CertificateParams::default();
    let mut name = rcgen::DistinguishedName::new();
    for (t, v) in dn {
        name.push(t.clone(), rcgen::DnValue::Utf8String((*v).into()));
    }
    p.distinguished_name = name;
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = p.self_signed(&key).unwrap();
    PeerCert::from_der(cert.der()).unwrap()
}

#[test]
fn dn_parse_follows_reference_rules() {
    let d = Dn::parse("CN=a\\2Cb, O = x y  ,DC=c+UID=9").unwrap();
    assert_eq!(
        d.rdns,
        vec![
            vec![("CN".into(), "a,b".into())],
            vec![("O".into(), "x y".into())],
            vec![("DC".into(), "c".into()), ("UID".into(), "9".into())],
        ]
    );
    assert!(Dn::parse("bob@example.com").is_err());
    assert!(Dn::parse("alice").is_err());
    assert!(Dn::parse("CN=#04").is_err());
    // As the reference: a lone trailing backslash is dropped, a lone
    // non-special character after one is an error.
    assert_eq!(Dn::parse("CN=a\\").unwrap(), Dn::parse("CN=a").unwrap());
    assert!(Dn::parse("CN=a\\z").is_err());
    assert!(Dn::parse("CN=a\\zz").is_err());
    assert!(Dn::parse("=x,").is_err());
    // Multi-valued RDNs compare in any attribute order.
    let a = Dn::parse("CN=a+UID=1,O=x").unwrap();
    assert!(a.equal(&Dn::parse("uid=1+cn=a,o=x").unwrap()));
    assert!(!a.equal(&Dn::parse("O=x,CN=a+UID=1").unwrap()));
    assert!(a.rdns_match(&Dn::parse("O=x,CN=a+UID=1").unwrap()));
    assert!(!a.rdns_match(&Dn::parse("O=x,CN=a").unwrap()));
}

#[test]
fn rejects_garbage_certificates() {
    assert!(PeerCert::from_der(b"not a certificate").is_err());
}

// ------------------------------------------------------------ configuration

fn conf(dir: &Path, body: &str) -> Options {
    let path = dir.join("t.conf");
    std::fs::write(&path, body).unwrap();
    Options::from_file(&path).unwrap()
}

fn block(cert: &str, key: &str, extra: &str) -> String {
    format!(
        "port: -1\ntls {{\n  cert_file: \"{}\"\n  key_file: \"{}\"\n{extra}}}\n",
        fixture(cert).display(),
        fixture(key).display()
    )
}

fn build_err(body: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    TlsConfig::from_options(&conf(dir.path(), body))
        .unwrap_err()
        .to_string()
}

#[test]
fn builds_from_the_fixtures() {
    let dir = tempfile::tempdir().unwrap();
    let extra = format!(
        "  ca_file: \"{}\"\n  verify_and_map: true\n  timeout: 0.5\n",
        fixture("ca.pem").display()
    );
    let o = conf(dir.path(), &block("server.pem", "server-key.pem", &extra));
    let t = TlsConfig::from_options(&o).unwrap().unwrap();
    assert!(t.options.verify && t.options.map);
    assert_eq!(t.default_auth_timeout(), Duration::from_millis(1500));
    assert!(t.warnings.is_empty());
    assert!(TlsConfig::from_options(&Options::default())
        .unwrap()
        .is_none());
}

#[test]
fn file_errors_name_file_line_and_key() {
    let e = build_err(&block("missing.pem", "server-key.pem", ""));
    assert!(
        e.contains("t.conf:3:3: error parsing X509 certificate/key pair: open "),
        "{e}"
    );
    assert!(e.contains("missing.pem"), "{e}");
    let e = build_err(&block("server.pem", "ca.pem", ""));
    assert!(e.contains("t.conf:4:3: "), "{e}");
    assert!(
        e.contains("failed to find any PEM data in key input"),
        "{e}"
    );
    let e = build_err(&block("server-key.pem", "server-key.pem", ""));
    assert!(e.contains("t.conf:3:3: "), "{e}");
    assert!(
        e.contains("failed to find any PEM data in certificate input"),
        "{e}"
    );
    // A key that is not the certificate's.
    let e = build_err(&block("server.pem", "client-bob-key.pem", ""));
    assert!(
        e.contains("t.conf:4:3: error parsing X509 certificate/key pair"),
        "{e}"
    );
    let e = build_err(&block(
        "server.pem",
        "server-key.pem",
        "  ca_file: \"/nonexistent/ca.pem\"\n  verify: true\n",
    ));
    assert!(e.contains("t.conf:5:3: "), "{e}");
    let e = build_err(&block(
        "server.pem",
        "server-key.pem",
        &format!("  ca_file: \"{}\"\n", fixture("server-key.pem").display()),
    ));
    assert!(
        e.contains(":5:3: failed to parse root ca certificate"),
        "{e}"
    );
}

#[test]
fn block_errors() {
    let e = build_err("tls {\n  cert_file: \"x.pem\"\n}\n");
    assert!(
        e.contains("t.conf:1:1: missing 'key_file' in TLS configuration"),
        "{e}"
    );
    let e = build_err("tls {\n  key_file: \"x.pem\"\n}\n");
    assert!(e.contains("missing 'cert_file'"), "{e}");
    let e = build_err(&block("server.pem", "server-key.pem", "  verify: true\n"));
    assert!(e.contains("needs 'ca_file'"), "{e}");
    let e = build_err(&block("server.pem", "server-key.pem", "  nope: 1\n"));
    assert!(
        e.contains("t.conf:5:3: error parsing tls config, unknown field \"nope\""),
        "{e}"
    );
}

#[test]
fn unusable_ciphers_and_curves_warn() {
    let dir = tempfile::tempdir().unwrap();
    let o = conf(
        dir.path(),
        &block(
            "server.pem",
            "server-key.pem",
            "  cipher_suites: [\"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA\", \"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256\", \"TLS_AES_128_GCM_SHA256\"]\n  curve_preferences: [\"CurveP521\", \"CurveP256\"]\n",
        ),
    );
    let t = TlsConfig::from_options(&o).unwrap().unwrap();
    assert_eq!(t.warnings.len(), 2, "{:?}", t.warnings);
    assert!(t.warnings[0].contains("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"));
    assert!(t.warnings[1].contains("CurveP521"));
    let o = conf(
        dir.path(),
        &block(
            "server.pem",
            "server-key.pem",
            "  cipher_suites: [\"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA\"]\n",
        ),
    );
    let t = TlsConfig::from_options(&o).unwrap().unwrap();
    assert!(t.warnings.iter().any(|w| w.contains("only TLS 1.3")));
    let e = build_err(&block(
        "server.pem",
        "server-key.pem",
        "  curve_preferences: [\"CurveP521\"]\n",
    ));
    assert!(e.contains(": none of the configured curves"), "{e}");
}

#[test]
fn rate_counter_allows_limit_per_second() {
    let mut r = RateCounter {
        limit: 2,
        count: 0,
        end: None,
    };
    assert!(r.allow());
    assert!(r.allow());
    assert!(!r.allow());
    r.end = Some(Instant::now() - Duration::from_millis(1));
    assert!(r.allow());
}

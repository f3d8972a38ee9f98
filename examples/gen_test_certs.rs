//! Writes the TLS test certificates under `fixtures/certs/` (or the folder
//! given as the first argument):
//!
//! ```sh
//! cargo run --example gen_test_certs -- fixtures/certs
//! ```
//!
//! All keys are ECDSA P-256; certificates are valid from 2024 to 2124 so the
//! tests never see them expire.
//!
//! | file | what |
//! |---|---|
//! | `ca.pem` | the trusted CA, `CN=rnats Test CA,O=rnats tests` |
//! | `server.pem` | server: `CN=localhost`, SAN DNS `localhost`, IP `127.0.0.1` |
//! | `client-alice.pem` | client: subject `O=NATS Conformance, CN=alice`, no SAN |
//! | `client-bob.pem` | client: `CN=bob`, e-mail SAN `bob@example.com` |
//! | `client-carol.pem` | client: `CN=carol`, DNS SAN `carol.example.com` |
//! | `client-dave.pem` | client: subject `CN=dave, OU=eng, O=Acme, C=US, DC=org` (in that DER order), URI SAN `spiffe://example.org/dave` |
//! | `other-ca.pem` | an unrelated CA |
//! | `other-alice.pem` | client `O=NATS Conformance, CN=alice` issued by the unrelated CA |
//!
//! Each `X.pem` has its key in `X-key.pem` (PKCS#8).

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DistinguishedName, DnType, DnValue,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType,
};
use std::path::{Path, PathBuf};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const DC: &[u64] = &[0, 9, 2342, 19200300, 100, 1, 25];

fn params(dn: &[(DnType, DnValue)], sans: Vec<SanType>) -> CertificateParams {
    let mut p = CertificateParams::default();
    let mut name = DistinguishedName::new();
    for (t, v) in dn {
        name.push(t.clone(), v.clone());
    }
    p.distinguished_name = name;
    p.subject_alt_names = sans;
    p.not_before = rcgen::date_time_ymd(2024, 1, 1);
    p.not_after = rcgen::date_time_ymd(2124, 1, 1);
    p
}

fn utf8(s: &str) -> DnValue {
    DnValue::Utf8String(s.into())
}

struct Ca {
    cert: Certificate,
    key: KeyPair,
}

fn write(dir: &Path, name: &str, cert: &Certificate, key: &KeyPair) -> Result<()> {
    if dir.join(format!("{name}.pem")).exists() && dir.join("ca-key.pem").exists() {
        // Topping up an existing set: files already there stay as they are.
        return Ok(());
    }
    std::fs::write(dir.join(format!("{name}.pem")), cert.pem())?;
    std::fs::write(dir.join(format!("{name}-key.pem")), key.serialize_pem())?;
    Ok(())
}

fn ca(dir: &Path, name: &str, cn: &str) -> Result<Ca> {
    let mut p = params(
        &[
            (DnType::OrganizationName, utf8("rnats tests")),
            (DnType::CommonName, utf8(cn)),
        ],
        Vec::new(),
    );
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
    ];
    // An existing CA key is reused (the same name and key make a CA that
    // the existing `ca.pem` stands for), so new leaves can be added to a
    // set without replacing the others.
    let key_path = dir.join(format!("{name}-key.pem"));
    let key = match std::fs::read_to_string(&key_path) {
        Ok(pem) => KeyPair::from_pem(&pem)?,
        Err(_) => KeyPair::generate()?,
    };
    let cert = p.self_signed(&key)?;
    write(dir, name, &cert, &key)?;
    Ok(Ca { cert, key })
}

/// What a leaf certificate is for.
#[derive(Clone, Copy)]
enum Role {
    Server,
    Client,
    /// Both ends of a route: each server presents it as server and as
    /// client.
    Both,
}

fn leaf(
    dir: &Path,
    name: &str,
    issuer: &Ca,
    role: Role,
    dn: &[(DnType, DnValue)],
    sans: Vec<SanType>,
) -> Result<()> {
    let mut p = params(dn, sans);
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = match role {
        Role::Server => vec![ExtendedKeyUsagePurpose::ServerAuth],
        Role::Client => vec![ExtendedKeyUsagePurpose::ClientAuth],
        Role::Both => vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ],
    };
    p.use_authority_key_identifier_extension = true;
    let key = KeyPair::generate()?;
    let cert = p.signed_by(&key, &issuer.cert, &issuer.key)?;
    write(dir, name, &cert, &key)
}

fn main() -> Result<()> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "fixtures/certs".into()),
    );
    std::fs::create_dir_all(&dir)?;
    let alice = [
        (DnType::OrganizationName, utf8("NATS Conformance")),
        (DnType::CommonName, utf8("alice")),
    ];

    let ca_main = ca(&dir, "ca", "rnats Test CA")?;
    // The server's certificate, and the one both ends of a route present.
    for (name, role) in [("server", Role::Server), ("route", Role::Both)] {
        leaf(
            &dir,
            name,
            &ca_main,
            role,
            &[(DnType::CommonName, utf8("localhost"))],
            vec![
                SanType::DnsName("localhost".try_into()?),
                SanType::IpAddress("127.0.0.1".parse()?),
            ],
        )?;
    }
    leaf(
        &dir,
        "client-alice",
        &ca_main,
        Role::Client,
        &alice,
        Vec::new(),
    )?;
    leaf(
        &dir,
        "client-bob",
        &ca_main,
        Role::Client,
        &[
            (DnType::OrganizationName, utf8("NATS Conformance")),
            (DnType::CommonName, utf8("bob")),
        ],
        vec![SanType::Rfc822Name("bob@example.com".try_into()?)],
    )?;
    leaf(
        &dir,
        "client-carol",
        &ca_main,
        Role::Client,
        &[(DnType::CommonName, utf8("carol"))],
        vec![SanType::DnsName("carol.example.com".try_into()?)],
    )?;
    leaf(
        &dir,
        "client-dave",
        &ca_main,
        Role::Client,
        &[
            (DnType::CommonName, utf8("dave")),
            (DnType::OrganizationalUnitName, utf8("eng")),
            (DnType::OrganizationName, utf8("Acme")),
            (
                DnType::CountryName,
                DnValue::PrintableString("US".try_into()?),
            ),
            (
                DnType::CustomDnType(DC.to_vec()),
                DnValue::Ia5String("org".try_into()?),
            ),
        ],
        vec![SanType::URI("spiffe://example.org/dave".try_into()?)],
    )?;

    let ca_other = ca(&dir, "other-ca", "Unrelated CA")?;
    leaf(
        &dir,
        "other-alice",
        &ca_other,
        Role::Client,
        &alice,
        Vec::new(),
    )?;
    // The unrelated CA's key is not needed by any test.
    match std::fs::remove_file(dir.join("other-ca-key.pem")) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
        _ => {}
    }
    println!("wrote test certificates to {}", dir.display());
    Ok(())
}

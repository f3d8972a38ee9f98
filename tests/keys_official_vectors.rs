//! nkeys made by the official libraries (fixtures/keys/, see its README)
//! decode, sign and verify identically in rnats.

use rnats::nkeys::{self, KeyKind, KeyPair};
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = format!("{}/fixtures/keys/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or_else(|| panic!("missing {k}"))
}

#[test]
fn python_nkeys_vectors() {
    let f = fixture("vectors.json");
    let msg = s(&f, "message").as_bytes();
    let keys = f["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 5);
    for k in keys {
        let role: KeyKind = s(k, "role").parse().unwrap();
        let kp = KeyPair::from_seed(s(k, "seed")).unwrap();
        assert_eq!(kp.kind(), role);
        assert_eq!(kp.public_key(), s(k, "public_key"), "{role}");
        assert_eq!(kp.seed().unwrap().as_str(), s(k, "seed"));

        // Same encoding from the raw seed.
        let raw: [u8; 32] = data_encoding::HEXLOWER
            .decode(s(k, "raw_seed_hex").as_bytes())
            .unwrap()
            .try_into()
            .unwrap();
        let kp2 = KeyPair::from_raw_seed(role, &raw);
        assert_eq!(kp2.seed().unwrap().as_str(), s(k, "seed"));

        // Ed25519 is deterministic: our signature is byte-identical.
        let sig = kp.sign(msg).unwrap();
        assert_eq!(
            data_encoding::BASE64URL_NOPAD.encode(&sig),
            s(k, "signature")
        );

        // Their signature verifies with the public key alone.
        nkeys::verify_nonce_signature(s(k, "public_key"), msg, s(k, "signature")).unwrap();
        assert!(
            nkeys::verify_nonce_signature(s(k, "public_key"), b"other", s(k, "signature")).is_err()
        );
        assert!(nkeys::is_valid_public_key(s(k, "public_key"), role));
    }
}

#[test]
fn javascript_curve_vectors() {
    let f = fixture("curve.json");
    for k in f["keys"].as_array().unwrap() {
        let kp = KeyPair::from_seed(s(k, "seed")).unwrap();
        assert_eq!(kp.kind(), KeyKind::Curve);
        assert_eq!(kp.public_key(), s(k, "public_key"));
        assert!(nkeys::is_valid_public_key(
            s(k, "public_key"),
            KeyKind::Curve
        ));
        assert_eq!(kp.seed().unwrap().as_str(), s(k, "seed"));
    }
}

//! Checks used by the `jwt` and `creds` fuzz targets and by `cargo test`
//! when replaying their seed corpora. Every check panics on a broken
//! invariant; the inputs come from the fuzzer.
//!
//! JWT input, first byte:
//! - below `0x80`: the whole input is a token, fed to every decoder;
//! - `0x80` and up: the rest is a claims payload, which is signed here with
//!   a fixed key (bits 0–2 pick it, bit 3 signs the v1 way) so the fuzzer
//!   gets past the signature into the body checks. In the payload,
//!   `@O@`, `@A@`, `@A2@`, `@U@` and `@N@` stand for the public keys of the
//!   fixed operator, account, second account, user and server keys.
//!
//! Creds input, first byte:
//! - `0xFF`: the rest is raw key material (a kind byte, 32 seed bytes and a
//!   message) for nkey encode/decode round trips;
//! - anything else: the input is a creds file (and key text), fed to the
//!   creds parsers and the nkey decoders.

#![doc(hidden)]

use data_encoding::BASE64URL_NOPAD;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::claims::{
    decode, decode_account, decode_activation, decode_generic, decode_operator, decode_unverified,
    decode_user, AnyClaims, ClaimBody, Claims,
};
use crate::creds;
use crate::nkeys::{self, strkey, KeyKind, KeyPair, Prefix};

/// The time validation runs at: a fixed one, so a replay gives the same
/// result every day.
const NOW: i64 = 1_700_000_000;

/// The fixed keys of signed-payload mode and their placeholders.
fn fixed_keys() -> [(&'static str, KeyPair); 5] {
    [
        ("@O@", KeyPair::from_raw_seed(KeyKind::Operator, &[1; 32])),
        ("@A@", KeyPair::from_raw_seed(KeyKind::Account, &[2; 32])),
        ("@U@", KeyPair::from_raw_seed(KeyKind::User, &[3; 32])),
        ("@A2@", KeyPair::from_raw_seed(KeyKind::Account, &[4; 32])),
        ("@N@", KeyPair::from_raw_seed(KeyKind::Server, &[5; 32])),
    ]
}

/// Replaces the key placeholders of a payload with the fixed public keys.
pub fn fill_placeholders(payload: &[u8]) -> Vec<u8> {
    match std::str::from_utf8(payload) {
        Ok(s) => {
            let mut s = s.to_string();
            for (name, kp) in fixed_keys() {
                s = s.replace(name, &kp.public_key());
            }
            s.into_bytes()
        }
        Err(_) => payload.to_vec(),
    }
}

/// Signs `payload` (placeholders filled) with fixed key `key % 5`, v2 or v1,
/// and returns the token and the signer. Used by the fuzz check and to make
/// the seed corpus.
pub fn sign_payload(payload: &[u8], key: u8, v1: bool) -> (String, KeyPair) {
    let keys = fixed_keys();
    let signer = keys[usize::from(key) % keys.len()].1.clone();
    let header: &[u8] = if v1 {
        br#"{"typ":"JWT","alg":"ed25519"}"#
    } else {
        br#"{"typ":"JWT","alg":"ed25519-nkey"}"#
    };
    let h = BASE64URL_NOPAD.encode(header);
    let p = BASE64URL_NOPAD.encode(&fill_placeholders(payload));
    let signed = if v1 { p.clone() } else { format!("{h}.{p}") };
    let sig = signer.sign(signed.as_bytes()).expect("fixed keys can sign");
    let token = format!("{h}.{p}.{}", BASE64URL_NOPAD.encode(&sig));
    (token, signer)
}

/// Entry point of the `jwt` fuzz target.
pub fn check_jwt(data: &[u8]) {
    match data.split_first() {
        Some((&sel, rest)) if sel >= 0x80 => {
            let (token, signer) = sign_payload(rest, sel & 7, sel & 8 != 0);
            check_token(&token, Some(&signer));
        }
        _ => check_token(&String::from_utf8_lossy(data), None),
    }
}

/// The typed claims survive serialization: what a tool re-encodes is what
/// it decoded.
fn serde_round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(c: &T) {
    let v = serde_json::to_value(c).expect("claims serialize");
    let back: T = serde_json::from_value(v.clone())
        .unwrap_or_else(|e| panic!("serialized claims do not deserialize: {e}\n{v}"));
    assert_eq!(&back, c, "claims change through serialization\n{v}");
}

/// Re-signing decoded claims with their signer gives a token that decodes to
/// the same claims (as updated by `encode`).
fn re_encode<N: ClaimBody + std::fmt::Debug>(
    c: &Claims<N>,
    signer: &KeyPair,
    decode_typed: fn(&str) -> crate::jwt::Result<Claims<N>>,
) {
    let mut c2 = c.clone();
    let token = c2
        .encode_at(signer, c.iat)
        .unwrap_or_else(|e| panic!("decoded claims do not re-encode: {e}"));
    let back = decode_typed(&token).unwrap_or_else(|e| panic!("re-encoded token fails: {e}"));
    assert_eq!(back, c2, "re-encoded claims differ");
    assert_eq!(c2.iss, signer.public_key());
    assert_eq!(c2.sub, c.sub);
}

fn common<N: ClaimBody + std::fmt::Debug>(c: &Claims<N>, signer: Option<&KeyPair>) {
    if let Some(kp) = signer {
        assert_eq!(c.iss, kp.public_key(), "a token verified for another key");
    }
    let _ = c.check_times(NOW);
    let _ = c.check_times(i64::MIN);
    let _ = c.check_times(i64::MAX);
    let _ = c.is_self_signed();
    let _ = c.to_json_pretty();
    serde_round_trip(c);
}

/// Reads every part of a validation result (none may panic).
fn exercise(r: &super::ValidationResults) {
    let _ = (
        r.is_blocking(true),
        r.is_blocking(false),
        r.errors().count(),
    );
    for i in &r.issues {
        let _ = i.to_string();
    }
}

/// Feeds one token to every decoder and checks that they agree with each
/// other; with `signer` (the key that signed it) also re-encodes.
pub fn check_token(token: &str, signer: Option<&KeyPair>) {
    let unverified = decode_unverified(token);
    let any = decode(token);
    let op = decode_operator(token);
    let acc = decode_account(token);
    let usr = decode_user(token);
    let act = decode_activation(token);
    let gen = decode_generic(token);
    if any.is_ok() || gen.is_ok() {
        assert!(unverified.is_ok(), "verified but not decodable unverified");
    }
    // The typed decoders accept exactly what `decode` sorts into their type.
    match &any {
        Ok(AnyClaims::Operator(c)) => assert_eq!(op.as_ref().ok(), Some(c)),
        _ => assert!(op.is_err(), "decode_operator accepts what decode does not"),
    }
    match &any {
        Ok(AnyClaims::Account(c)) => assert_eq!(acc.as_ref().ok(), Some(&**c)),
        _ => assert!(acc.is_err(), "decode_account accepts what decode does not"),
    }
    match &any {
        Ok(AnyClaims::User(c)) => assert_eq!(usr.as_ref().ok(), Some(c)),
        _ => assert!(usr.is_err(), "decode_user accepts what decode does not"),
    }
    match &any {
        Ok(AnyClaims::Activation(c)) => assert_eq!(act.as_ref().ok(), Some(c)),
        _ => assert!(
            act.is_err(),
            "decode_activation accepts what decode does not"
        ),
    }
    if let Ok(a) = &any {
        let _ = (
            a.claim_type(),
            a.issuer(),
            a.subject(),
            a.name(),
            a.issued_at(),
        );
        let _ = a.check_times(NOW);
        let _ = a.to_json_pretty();
        // Whitespace around a token is ignored.
        assert_eq!(decode(&format!(" {token}\n")).as_ref().ok(), Some(a));
    }
    if let Ok(c) = &op {
        common(c, signer);
        exercise(&c.validate(NOW));
        if let Ok(a) = &acc {
            let _ = c.did_sign(a);
        }
        if let Some(kp) = signer {
            re_encode(c, kp, decode_operator);
        }
    }
    if let Ok(c) = &acc {
        common(c, signer);
        exercise(&c.validate(NOW));
        let _ = c.nats.export_by_subject("foo.bar");
        let _ = c.nats.signing_keys.iter().count();
        if let Some(kp) = signer {
            re_encode(c, kp, decode_account);
        }
    }
    if let Ok(c) = &usr {
        common(c, signer);
        exercise(&c.validate(NOW));
        let _ = (c.account_id(), c.is_bearer(), c.has_empty_permissions());
        let _ = c.limits();
        if let Some(kp) = signer {
            re_encode(c, kp, decode_user);
        }
    }
    if let Ok(c) = &act {
        common(c, signer);
        exercise(&c.validate(NOW));
        let _ = c.account_id();
        if let Some(kp) = signer {
            re_encode(c, kp, decode_activation);
        }
    }
    if let Ok(c) = &gen {
        common(c, signer);
    }
}

/// Entry point of the `creds` fuzz target.
pub fn check_creds(data: &[u8]) {
    if let Some((&0xff, rest)) = data.split_first() {
        check_raw_key(rest);
        return;
    }
    let text = String::from_utf8_lossy(data);
    check_creds_text(&text);
    check_key_text(&text);
    for line in text.lines().take(32) {
        check_key_text(line);
    }
}

fn same_key(a: &KeyPair, b: &KeyPair) {
    assert_eq!(a.kind(), b.kind());
    assert_eq!(a.public_key_bytes(), b.public_key_bytes());
}

/// The creds parsers agree with each other, and what they read formats and
/// parses back to the same JWT and key.
pub fn check_creds_text(text: &str) {
    let jwt = creds::parse_jwt(text);
    let seed = creds::parse_seed(text);
    let all = creds::parse(text);
    assert_eq!(all.is_ok(), jwt.is_ok() && seed.is_ok(), "parse vs parts");
    if let Ok(j) = &jwt {
        assert!(!j.is_empty() && j.split('.').count() == 3);
        let _ = decode_unverified(j);
    }
    if let Ok(kp) = &seed {
        assert!(kp.has_seed());
        assert!(matches!(
            kp.kind(),
            KeyKind::Operator | KeyKind::Account | KeyKind::User
        ));
    }
    let Ok(c) = all else { return };
    assert_eq!(&c.jwt, jwt.as_ref().unwrap());
    same_key(&c.key, seed.as_ref().unwrap());
    let _ = format!("{c:?}");
    let _ = creds::check(&c);
    let s = c.seed();
    same_key(&KeyPair::from_seed(s.as_str()).expect("own seed"), &c.key);
    // Decorated again, the file reads back the same.
    let file = format!(
        "{}{}",
        creds::decorate_jwt("user", &c.jwt),
        creds::decorate_seed(&s).expect("creds seeds decorate")
    );
    let again = creds::parse(&file).expect("formatted creds parse");
    assert_eq!(again.jwt, c.jwt);
    same_key(&again.key, &c.key);
    if let Ok(f) = creds::format_user_creds(&c.jwt, &c.key) {
        let again = creds::parse(&f).expect("formatted user creds parse");
        assert_eq!(again.jwt, c.jwt);
        same_key(&again.key, &c.key);
        assert!(
            creds::check(&again).is_ok(),
            "format_user_creds output fails check"
        );
    }
    if c.key.kind().can_sign() {
        let sig = c.sign_nonce(b"nonce").expect("creds key signs");
        nkeys::verify_nonce_signature(&c.key.public_key(), b"nonce", &sig)
            .expect("own nonce signature verifies");
    }
}

/// One piece of key text through every nkey decoder: what decodes encodes
/// back to the same text, and the decoders agree on the kind.
pub fn check_key_text(s: &str) {
    let prefix = strkey::prefix_of(s);
    let from_seed = KeyPair::from_seed(s);
    let from_public = KeyPair::from_public_key(s);
    if let Ok(kp) = &from_seed {
        let seed = kp.seed().expect("seed key pair has a seed");
        assert_eq!(seed.as_str(), s.trim(), "seed does not re-encode to itself");
        assert_eq!(
            strkey::prefix_of(s.trim()).ok(),
            Some(Prefix::Seed(kp.kind()))
        );
        let public = KeyPair::from_public_key(&kp.public_key()).expect("own public key");
        same_key(&public, kp);
        if kp.kind().can_sign() {
            let sig = kp.sign(s.as_bytes()).expect("seed signs");
            public.verify(s.as_bytes(), &sig).expect("own signature");
        }
    }
    if let Ok(kp) = &from_public {
        assert!(!kp.has_seed());
        assert_eq!(kp.public_key(), s.trim(), "public key does not re-encode");
        assert_eq!(
            strkey::prefix_of(s.trim()).ok(),
            Some(Prefix::Public(kp.kind()))
        );
        assert!(nkeys::is_valid_public_key(s.trim(), kp.kind()));
        assert_eq!(nkeys::public_key_kind(s.trim()).ok(), Some(kp.kind()));
        let _ = kp.verify(s.as_bytes(), &[0; 64]);
    } else {
        assert!(!nkeys::is_valid_public_key_any(s));
    }
    match prefix {
        Ok(Prefix::Seed(k)) => {
            assert_eq!(from_seed.as_ref().map(KeyPair::kind).ok(), Some(k));
        }
        Ok(Prefix::Public(k)) => {
            assert_eq!(from_public.as_ref().map(KeyPair::kind).ok(), Some(k));
        }
        _ => {}
    }
    if let Ok(kp) = nkeys::parse_key_text(s) {
        if kp.has_seed() {
            let seed = kp.seed().unwrap();
            same_key(&KeyPair::from_seed(seed.as_str()).unwrap(), &kp);
        } else {
            same_key(&KeyPair::from_public_key(&kp.public_key()).unwrap(), &kp);
        }
    }
    if let Ok(sig) = nkeys::decode_signature(s) {
        let user = KeyPair::from_raw_seed(KeyKind::User, &[3; 32]);
        let _ = user.verify(b"nonce", &sig);
    }
}

/// Raw key material: every kind encodes and decodes back to the same bytes.
fn check_raw_key(rest: &[u8]) {
    let Some((&k, rest)) = rest.split_first() else {
        return;
    };
    let kind = KeyKind::ALL[usize::from(k) % KeyKind::ALL.len()];
    let mut raw = [0u8; 32];
    let n = rest.len().min(32);
    raw[..n].copy_from_slice(&rest[..n]);
    let msg = &rest[n..];

    let kp = KeyPair::from_raw_seed(kind, &raw);
    let seed = kp.seed().expect("raw seed");
    assert_eq!(seed.as_str().len(), nkeys::SEED_LEN);
    let back = KeyPair::from_seed(seed.as_str()).expect("encoded seed decodes");
    same_key(&back, &kp);
    assert_eq!(back.seed().unwrap(), seed);
    check_key_text(seed.as_str());

    let public = kp.public_key();
    assert_eq!(public.len(), nkeys::PUBLIC_KEY_LEN);
    check_key_text(&public);
    let encoded = strkey::encode_public(kind, &raw);
    assert_eq!(strkey::decode_public(&encoded).ok(), Some((kind, raw)));
    assert!(strkey::decode_public_of(kind, &encoded).is_ok());

    if kind.can_sign() {
        let sig = kp.sign(msg).expect("signs");
        let pubonly = KeyPair::from_public_key(&public).unwrap();
        pubonly.verify(msg, &sig).expect("verifies");
        let mut bad = sig;
        bad[usize::from(k) % 64] ^= 1 << (k % 8);
        assert!(
            pubonly.verify(msg, &bad).is_err(),
            "altered signature verifies"
        );
        let mut other = msg.to_vec();
        other.push(k);
        assert!(
            pubonly.verify(&other, &sig).is_err(),
            "signature of another message"
        );
    }
    if matches!(kind, KeyKind::Operator | KeyKind::Account | KeyKind::User) {
        let block = creds::decorate_seed(&seed).expect("decorates");
        same_key(
            &creds::parse_seed(&block).expect("decorated seed parses"),
            &kp,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_payload_decodes() {
        let payload = br#"{"iss":"@A@","sub":"@U@","iat":1,"nats":{"type":"user","version":2}}"#;
        let (token, signer) = sign_payload(payload, 1, false);
        assert!(decode_user(&token).is_ok());
        check_token(&token, Some(&signer));
        let mut input = vec![0x81];
        input.extend_from_slice(payload);
        check_jwt(&input);
    }

    #[test]
    fn issuer_with_whitespace_is_refused() {
        // A token used to verify with an `iss` that had whitespace around
        // the key (the key decoder trims), so the claims carried an issuer
        // string that is not the key that signed them.
        let payload = br#"{"iss":" @A@\n","sub":"@U@","iat":1,"nats":{"type":"user","version":2}}"#;
        let (token, signer) = sign_payload(payload, 1, false);
        assert!(matches!(
            decode_user(&token),
            Err(crate::jwt::Error::InvalidIssuer(_))
        ));
        check_token(&token, Some(&signer));
    }

    #[test]
    fn raw_keys_round_trip() {
        for k in 0..6u8 {
            let mut v = vec![0xff, k];
            v.extend_from_slice(&[k; 40]);
            check_creds(&v);
        }
    }
}

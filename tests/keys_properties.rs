//! Property tests of the key and JWT decoders: round trips hold for every
//! input, no input makes them panic, and every single-character change of a
//! key or token is caught.

use proptest::prelude::*;
use rnats::jwt;
use rnats::nkeys::{self, strkey, KeyKind, KeyPair};

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn kind() -> impl Strategy<Value = KeyKind> {
    prop::sample::select(KeyKind::ALL.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn public_keys_round_trip(k in kind(), bytes in prop::array::uniform32(any::<u8>())) {
        let text = strkey::encode_public(k, &bytes);
        prop_assert_eq!(strkey::decode_public(&text).unwrap(), (k, bytes));
        prop_assert!(nkeys::is_valid_public_key(&text, k));
    }

    #[test]
    fn seeds_round_trip(k in kind(), bytes in prop::array::uniform32(any::<u8>())) {
        let kp = KeyPair::from_raw_seed(k, &bytes);
        let seed = kp.seed().unwrap();
        let again = KeyPair::from_seed(seed.as_str()).unwrap();
        prop_assert_eq!(again.kind(), k);
        prop_assert_eq!(again.public_key(), kp.public_key());
    }

    /// CRC-16 catches every burst of up to 16 bits, so changing any one
    /// base32 character (5 bits) of a key is always detected.
    #[test]
    fn any_single_char_change_is_rejected(
        k in kind(),
        bytes in prop::array::uniform32(any::<u8>()),
        pos in 0usize..56,
        ch in prop::sample::select(ALPHABET.to_vec()),
    ) {
        let text = strkey::encode_public(k, &bytes);
        let mut b = text.clone().into_bytes();
        prop_assume!(b[pos] != ch);
        b[pos] = ch;
        let changed = String::from_utf8(b).unwrap();
        prop_assert!(strkey::decode_public(&changed).is_err());
        prop_assert!(KeyPair::from_public_key(&changed).is_err());
    }

    #[test]
    fn arbitrary_text_never_panics(s in ".{0,80}") {
        let _ = strkey::decode_public(&s);
        let _ = KeyPair::from_seed(&s);
        let _ = strkey::prefix_of(&s);
        let _ = nkeys::parse_key_text(&s);
        let _ = nkeys::verify_nonce_signature(&s, b"n", &s);
        let _ = jwt::decode(&s);
        let _ = jwt::decode_unverified(&s);
        let _ = rnats::creds::parse(&s);
    }

    #[test]
    fn dotted_base64_never_panics(a in "[A-Za-z0-9_-]{0,60}", b in "[A-Za-z0-9_-]{0,200}", c in "[A-Za-z0-9_-]{0,90}") {
        let _ = jwt::decode(&format!("{a}.{b}.{c}"));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Changing any one character of a signed token makes it fail (or, for
    /// the unused low bits of the last character of a part, leaves the
    /// decoded bytes and so the claims unchanged).
    #[test]
    fn tampered_tokens_fail(pos in any::<prop::sample::Index>(), ch in prop::sample::select(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".to_vec())) {
        let acc = KeyPair::from_raw_seed(KeyKind::Account, &[1; 32]);
        let user = KeyPair::from_raw_seed(KeyKind::User, &[2; 32]);
        let mut c = jwt::UserClaims::new(user.public_key());
        c.nats.permission_limits.permissions.publish.allow.push("a.>".into());
        let token = c.encode_at(&acc, 1_700_000_000).unwrap();
        let i = pos.index(token.len());
        prop_assume!(token.as_bytes()[i] != b'.' && token.as_bytes()[i] != ch);
        let mut b = token.clone().into_bytes();
        b[i] = ch;
        let changed = String::from_utf8(b).unwrap();
        match jwt::decode_user(&changed) {
            Err(_) => {}
            Ok(d) => prop_assert_eq!(d, c),
        }
    }
}

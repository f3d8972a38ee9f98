//! The key types (roles) of nkeys and their prefix bytes.

use std::fmt;
use std::str::FromStr;

/// Prefix byte marking a seed (`S...`); the role follows in the next bits.
pub(crate) const PREFIX_SEED: u8 = 18 << 3;
/// Prefix byte of a raw private key (`P...`). nkeys can export one; rnats
/// never needs to read it, so it is only recognised to give a precise error.
pub(crate) const PREFIX_PRIVATE: u8 = 15 << 3;

/// The role of a key. The role is part of the encoding (the first character
/// of a public key, the second of a seed), so an account key can never be
/// mistaken for a user key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyKind {
    /// `O...`: signs account JWTs.
    Operator,
    /// `A...`: an account; signs user and activation JWTs.
    Account,
    /// `U...`: a user; signs the server's connect nonce.
    User,
    /// `N...`: a server identity (INFO `server_id`).
    Server,
    /// `C...`: a cluster identity.
    Cluster,
    /// `X...`: an X25519 key for encryption (xkeys); cannot sign.
    Curve,
}

/// The name nats' own code uses for a key role (`nkeys.PrefixType`).
pub type PrefixType = KeyKind;

impl KeyKind {
    /// Every kind, in a stable order (for tests and tools).
    pub const ALL: [KeyKind; 6] = [
        KeyKind::Operator,
        KeyKind::Account,
        KeyKind::User,
        KeyKind::Server,
        KeyKind::Cluster,
        KeyKind::Curve,
    ];

    /// The prefix byte written before the 32 key bytes of a public key.
    pub const fn prefix_byte(self) -> u8 {
        match self {
            KeyKind::Operator => 14 << 3,
            KeyKind::Account => 0,
            KeyKind::User => 20 << 3,
            KeyKind::Server => 13 << 3,
            KeyKind::Cluster => 2 << 3,
            KeyKind::Curve => 23 << 3,
        }
    }

    /// The kind a public-key prefix byte stands for.
    pub const fn from_prefix_byte(b: u8) -> Option<KeyKind> {
        match b {
            0 => Some(KeyKind::Account),
            16 => Some(KeyKind::Cluster),
            104 => Some(KeyKind::Server),
            112 => Some(KeyKind::Operator),
            160 => Some(KeyKind::User),
            184 => Some(KeyKind::Curve),
            _ => None,
        }
    }

    /// The first character of a public key of this kind.
    pub const fn public_char(self) -> char {
        match self {
            KeyKind::Operator => 'O',
            KeyKind::Account => 'A',
            KeyKind::User => 'U',
            KeyKind::Server => 'N',
            KeyKind::Cluster => 'C',
            KeyKind::Curve => 'X',
        }
    }

    /// The kind whose public keys start with `c`.
    pub const fn from_public_char(c: char) -> Option<KeyKind> {
        match c {
            'O' => Some(KeyKind::Operator),
            'A' => Some(KeyKind::Account),
            'U' => Some(KeyKind::User),
            'N' => Some(KeyKind::Server),
            'C' => Some(KeyKind::Cluster),
            'X' => Some(KeyKind::Curve),
            _ => None,
        }
    }

    /// Lower-case name, as nats tools print it (`nk -gen <name>`).
    pub const fn name(self) -> &'static str {
        match self {
            KeyKind::Operator => "operator",
            KeyKind::Account => "account",
            KeyKind::User => "user",
            KeyKind::Server => "server",
            KeyKind::Cluster => "cluster",
            KeyKind::Curve => "curve",
        }
    }

    /// True for the kinds that hold Ed25519 keys (all but [`KeyKind::Curve`]).
    pub const fn can_sign(self) -> bool {
        !matches!(self, KeyKind::Curve)
    }
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Parses the names `nk -gen` accepts (case-insensitive), including
/// `x25519` as an alias for `curve`.
impl FromStr for KeyKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "operator" => Ok(KeyKind::Operator),
            "account" => Ok(KeyKind::Account),
            "user" => Ok(KeyKind::User),
            "server" => Ok(KeyKind::Server),
            "cluster" => Ok(KeyKind::Cluster),
            "curve" | "x25519" => Ok(KeyKind::Curve),
            _ => Err(format!(
                "unknown key type {s:?}: expected user, account, server, cluster, operator, curve or x25519"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_bytes_round_trip() {
        for k in KeyKind::ALL {
            assert_eq!(KeyKind::from_prefix_byte(k.prefix_byte()), Some(k));
            assert_eq!(KeyKind::from_public_char(k.public_char()), Some(k));
            assert_eq!(k.name().parse::<KeyKind>().unwrap(), k);
        }
        assert_eq!(KeyKind::from_prefix_byte(PREFIX_SEED), None);
        assert_eq!(KeyKind::from_prefix_byte(PREFIX_PRIVATE), None);
        assert_eq!(KeyKind::from_prefix_byte(25 << 3), None);
    }

    #[test]
    fn parse_names() {
        assert_eq!("X25519".parse::<KeyKind>().unwrap(), KeyKind::Curve);
        assert_eq!("USER".parse::<KeyKind>().unwrap(), KeyKind::User);
        assert!("seed".parse::<KeyKind>().is_err());
        assert!("".parse::<KeyKind>().is_err());
    }
}

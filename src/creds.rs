//! Creds files: a user JWT and the user's seed in one decorated text file,
//! the format nsc writes and every NATS client reads.
//!
//! ```text
//! -----BEGIN NATS USER JWT-----
//! eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ...
//! ------END NATS USER JWT------
//!
//! ************************* IMPORTANT *************************
//! NKEY Seed printed below can be used to sign and prove identity.
//! NKEYs are sensitive and should be treated as secrets.
//!
//! -----BEGIN USER NKEY SEED-----
//! SUAM...
//! ------END USER NKEY SEED------
//!
//! *************************************************************
//! ```
//!
//! Writing produces exactly this (as nats-io/jwt `FormatUserConfig`).
//! Reading is tolerant of what tools and hand edits produce: any number (≥3)
//! of dashes and any text in the marker lines, CRLF line ends, blank lines
//! and indentation, a missing seed decoration (the first line starting with
//! `SO`/`SA`/`SU` is the seed), and a bare undecorated JWT.

use std::path::Path;

use crate::jwt;
use crate::nkeys::{self, KeyKind, KeyPair, SeedText};

/// Why a creds file could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// No JWT block and the text is not a bare JWT.
    #[error("creds: no JWT found")]
    NoJwt,
    /// No seed block and no line starting with SO, SA or SU.
    #[error("creds: no nkey seed found")]
    NoSeed,
    /// A decorated block holds something that is neither a JWT nor a seed.
    #[error("creds: malformed {0} block")]
    Malformed(&'static str),
    /// The seed does not decode.
    #[error("creds: invalid seed: {0}")]
    Seed(nkeys::Error),
    /// The seed is not an operator, account or user seed.
    #[error("creds: seed is not an operator, account or user seed")]
    SeedKind,
    /// The JWT is not a valid user JWT (when formatting).
    #[error("creds: {0}")]
    Jwt(jwt::Error),
    /// The seed's public key is not the JWT's subject.
    #[error("creds: nkey seed does not match the jwt subject")]
    SeedMismatch,
    /// Reading the file failed.
    #[error("creds: cannot read {path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// The system error.
        message: String,
    },
}

/// Result with the creds [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// The content of a creds file. `Debug` shows the key pair's public key only.
#[derive(Debug, Clone)]
pub struct Creds {
    /// The (user) JWT, as written in the file.
    pub jwt: String,
    /// The key pair of the seed.
    pub key: KeyPair,
}

impl Creds {
    /// The seed (secret).
    pub fn seed(&self) -> SeedText {
        self.key
            .seed()
            .expect("creds key pairs are always built from a seed")
    }

    /// The CONNECT `sig` for a server nonce.
    pub fn sign_nonce(&self, nonce: &[u8]) -> Result<String> {
        nkeys::sign_nonce(&self.key, nonce).map_err(Error::Seed)
    }
}

/// A `---...---` marker line (at least three dashes at both ends).
fn is_marker(line: &str) -> bool {
    line.len() >= 6 && line.starts_with("---") && line.ends_with("---")
}

/// Characters of JWTs and seeds (Go's `[\w\-.=]`).
fn is_token_text(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'='))
}

/// The decorated blocks of `contents`, in order: the text between each
/// opening marker line and the next marker line, whitespace removed.
fn blocks(contents: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in contents.lines() {
        let line = line.trim();
        if is_marker(line) {
            match current.take() {
                None => current = Some(String::new()),
                Some(body) => {
                    if !is_token_text(&body) {
                        return Err(Error::Malformed(if out.is_empty() {
                            "JWT"
                        } else {
                            "seed"
                        }));
                    }
                    out.push(body);
                }
            }
        } else if let Some(body) = current.as_mut() {
            body.push_str(line);
        }
    }
    Ok(out)
}

fn looks_like_jwt(s: &str) -> bool {
    is_token_text(s) && s.split('.').count() == 3 && s.split('.').all(|p| !p.is_empty())
}

/// The JWT of a creds (or decorated JWT) file: the first decorated block,
/// or the whole text when it is a bare JWT.
pub fn parse_jwt(contents: &str) -> Result<String> {
    let b = blocks(contents)?;
    if let Some(first) = b.into_iter().next() {
        return if looks_like_jwt(&first) {
            Ok(first)
        } else {
            Err(Error::Malformed("JWT"))
        };
    }
    let bare = contents.trim();
    if looks_like_jwt(bare) {
        Ok(bare.to_string())
    } else {
        Err(Error::NoJwt)
    }
}

/// The key pair of the seed in a creds file: the second decorated block, or
/// the first line starting with `SO`, `SA` or `SU`.
pub fn parse_seed(contents: &str) -> Result<KeyPair> {
    let b = blocks(contents)?;
    let text = match b.get(1) {
        Some(s) => s.clone(),
        None => contents
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with("SO") || l.starts_with("SA") || l.starts_with("SU"))
            .ok_or(Error::NoSeed)?
            .to_string(),
    };
    if !(text.starts_with("SO") || text.starts_with("SA") || text.starts_with("SU")) {
        return Err(Error::SeedKind);
    }
    KeyPair::from_seed(&text).map_err(Error::Seed)
}

/// Parses a whole creds file (JWT and seed). Does not verify the JWT: the
/// server does; [`check`] does it for tools.
pub fn parse(contents: &str) -> Result<Creds> {
    Ok(Creds {
        jwt: parse_jwt(contents)?,
        key: parse_seed(contents)?,
    })
}

/// Verifies that the creds hold a valid user JWT whose subject is the seed's
/// public key.
pub fn check(creds: &Creds) -> Result<jwt::UserClaims> {
    let claims = jwt::decode_user(&creds.jwt).map_err(Error::Jwt)?;
    if claims.sub != creds.key.public_key() {
        return Err(Error::SeedMismatch);
    }
    Ok(claims)
}

/// Reads and parses a creds file.
pub fn read_file(path: &Path) -> Result<Creds> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    parse(&text)
}

/// A decorated JWT block (`-----BEGIN NATS <KIND> JWT-----`), followed by a
/// blank line, as nats writes it.
pub fn decorate_jwt(kind: &str, jwt: &str) -> String {
    let kind = kind.to_uppercase();
    format!("-----BEGIN NATS {kind} JWT-----\n{jwt}\n------END NATS {kind} JWT------\n\n")
}

/// The decorated seed block with its warning banner, as nats writes it.
pub fn decorate_seed(seed: &SeedText) -> Result<String> {
    let s = seed.as_str().trim();
    let kind = match s.get(..2) {
        Some("SU") => "USER",
        Some("SA") => "ACCOUNT",
        Some("SO") => "OPERATOR",
        _ => return Err(Error::SeedKind),
    };
    Ok(format!(
        "************************* IMPORTANT *************************\n\
         NKEY Seed printed below can be used to sign and prove identity.\n\
         NKEYs are sensitive and should be treated as secrets.\n\
         \n\
         -----BEGIN {kind} NKEY SEED-----\n\
         {s}\n\
         ------END {kind} NKEY SEED------\n\
         \n\
         *************************************************************\n"
    ))
}

/// The creds file for a user: checks that `jwt` is a valid user JWT whose
/// subject is `key`'s public key, then decorates both.
pub fn format_user_creds(jwt: &str, key: &KeyPair) -> Result<String> {
    let claims = jwt::decode_user(jwt).map_err(Error::Jwt)?;
    if key.kind() != KeyKind::User {
        return Err(Error::SeedKind);
    }
    if claims.sub != key.public_key() {
        return Err(Error::SeedMismatch);
    }
    let seed = key.seed().map_err(Error::Seed)?;
    Ok(format!(
        "{}{}",
        decorate_jwt("user", jwt),
        decorate_seed(&seed)?
    ))
}

/// Writes a creds file with mode 0600; never replaces an existing file
/// unless `overwrite` (see [`nkeys::write_secret_file`]).
pub fn write_file(path: &Path, contents: &str, overwrite: bool) -> std::io::Result<()> {
    nkeys::write_secret_file(path, contents.as_bytes(), overwrite)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user_creds() -> (String, KeyPair, String) {
        let acc = KeyPair::new_account();
        let u = KeyPair::new_user();
        let token = jwt::UserClaims::new(u.public_key()).encode(&acc).unwrap();
        let text = format_user_creds(&token, &u).unwrap();
        (token, u, text)
    }

    #[test]
    fn format_is_exactly_nats() {
        let (token, u, text) = user_creds();
        let seed = u.seed().unwrap();
        let expected = format!(
            "-----BEGIN NATS USER JWT-----\n{token}\n------END NATS USER JWT------\n\n\
             ************************* IMPORTANT *************************\n\
             NKEY Seed printed below can be used to sign and prove identity.\n\
             NKEYs are sensitive and should be treated as secrets.\n\n\
             -----BEGIN USER NKEY SEED-----\n{}\n------END USER NKEY SEED------\n\n\
             *************************************************************\n",
            seed.as_str()
        );
        assert_eq!(text, expected);
    }

    #[test]
    fn round_trip() {
        let (token, u, text) = user_creds();
        let c = parse(&text).unwrap();
        assert_eq!(c.jwt, token);
        assert_eq!(c.key.public_key(), u.public_key());
        assert_eq!(c.seed(), u.seed().unwrap());
        let claims = check(&c).unwrap();
        assert_eq!(claims.sub, u.public_key());
        assert!(!format!("{c:?}").contains(&c.seed().as_str()[3..20]));
    }

    #[test]
    fn tolerant_variants() {
        let (token, u, text) = user_creds();
        let seed = u.seed().unwrap();
        let s = seed.as_str();
        let variants = [
            text.replace('\n', "\r\n"),
            text.replace("------END", "-----END"),
            text.replace("-----BEGIN", "---BEGIN")
                .replace("------END", "---END"),
            text.replace("\n\n", "\n\n\n"),
            format!("  \n{}", text.replace('\n', "\n   ")),
            // nsc's older header text and no banner.
            format!(
                "-----BEGIN NATS USER JWT-----\n{token}\n------END NATS USER JWT------\n\
                 -----BEGIN USER NKEY SEED-----\n{s}\n------END USER NKEY SEED------\n"
            ),
            // Undecorated seed after a decorated JWT.
            format!(
                "-----BEGIN NATS USER JWT-----\n{token}\n------END NATS USER JWT------\n\n{s}\n"
            ),
        ];
        for v in &variants {
            let c = parse(v).unwrap_or_else(|e| panic!("{e}: {v:?}"));
            assert_eq!(c.jwt, token);
            assert_eq!(c.key.public_key(), u.public_key());
        }
        // A bare JWT is a JWT (no seed).
        assert_eq!(parse_jwt(&format!("{token}\n")).unwrap(), token);
        assert_eq!(parse_seed(&token).unwrap_err(), Error::NoSeed);
    }

    #[test]
    fn rejections() {
        let (token, u, text) = user_creds();
        assert_eq!(parse("").unwrap_err(), Error::NoJwt);
        assert_eq!(parse("hello world").unwrap_err(), Error::NoJwt);
        // JWT block without any seed.
        let only_jwt = decorate_jwt("user", &token);
        assert_eq!(parse(&only_jwt).unwrap_err(), Error::NoSeed);
        // Broken seed.
        let seed = u.seed().unwrap();
        let mut bad = seed.as_str().to_string();
        bad.replace_range(10..11, if &bad[10..11] == "A" { "B" } else { "A" });
        let t = text.replace(seed.as_str(), &bad);
        assert_eq!(
            parse(&t).unwrap_err(),
            Error::Seed(nkeys::Error::InvalidChecksum)
        );
        // A server seed is no creds seed.
        let server_seed = KeyPair::new_server().seed().unwrap();
        let t = text.replace(seed.as_str(), server_seed.as_str());
        assert_eq!(parse(&t).unwrap_err(), Error::SeedKind);
        // Garbage inside a block.
        let t = text.replace(&token, "not a jwt!");
        assert_eq!(parse(&t).unwrap_err(), Error::Malformed("JWT"));
        // Seed of another user.
        let other = KeyPair::new_user();
        assert_eq!(
            format_user_creds(&token, &other).unwrap_err(),
            Error::SeedMismatch
        );
        let other_seed = other.seed().unwrap();
        let c = parse(&text.replace(seed.as_str(), other_seed.as_str())).unwrap();
        assert_eq!(check(&c).unwrap_err(), Error::SeedMismatch);
        // Not a user JWT.
        let op = KeyPair::new_operator();
        let acc_jwt = jwt::AccountClaims::new(KeyPair::new_account().public_key())
            .encode(&op)
            .unwrap();
        assert!(matches!(
            format_user_creds(&acc_jwt, &u),
            Err(Error::Jwt(_))
        ));
        // A curve seed cannot be decorated.
        let x = KeyPair::new_curve().seed().unwrap();
        assert_eq!(decorate_seed(&x).unwrap_err(), Error::SeedKind);
    }

    #[test]
    fn files() {
        use std::os::unix::fs::PermissionsExt;
        let (_, u, text) = user_creds();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("u.creds");
        write_file(&p, &text, false).unwrap();
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(write_file(&p, &text, false).is_err());
        assert_eq!(read_file(&p).unwrap().key.public_key(), u.public_key());
        assert!(matches!(
            read_file(&dir.path().join("missing")),
            Err(Error::Io { .. })
        ));
    }
}

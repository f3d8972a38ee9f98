//! The `tls {}` block, read as nats-server's `parseTLS` reads it: the same
//! keys, defaults and error texts, each error naming file, line and key.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::{ConfigError, Key, Kind, Map, Pos, Value};

/// nats-server's `TLS_TIMEOUT`: the handshake must finish within this.
pub const DEFAULT_TLS_TIMEOUT: Duration = Duration::from_secs(2);

/// nats-server's `DEFAULT_TLS_HANDSHAKE_FIRST_FALLBACK_DELAY` (used by
/// `handshake_first: auto`).
pub const DEFAULT_FALLBACK_DELAY: Duration = Duration::from_millis(50);

/// Cipher suite names nats-server accepts (Go's `tls.CipherSuites()`), with
/// whether rnats can use them. TLS 1.3 suites are always on, as in Go.
pub(crate) const SECURE_CIPHERS: &[&str] = &[
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
];

/// Go's `tls.InsecureCipherSuites()`: accepted only with
/// `allow_insecure_cipher_suites`.
pub(crate) const INSECURE_CIPHERS: &[&str] = &[
    "TLS_RSA_WITH_RC4_128_SHA",
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
];

/// Curve names nats-server accepts for `curve_preferences`.
pub(crate) const CURVES: &[&str] = &[
    "X25519MLKEM768",
    "X25519",
    "CurveP256",
    "CurveP384",
    "CurveP521",
    "SecP256r1MLKEM768",
    "SecP384r1MLKEM1024",
];

/// Keys nats-server knows but this build does not implement: asking for
/// them stops the server rather than running without them.
const UNSUPPORTED: &[&str] = &[
    "cert_store",
    "cert_match_by",
    "cert_match",
    "ca_certs_match",
    "cert_match_skip_invalid",
    "ocsp_peer",
    "certs",
    "certificates",
];

/// The lowest TLS version to accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsVersion {
    Tls12,
    Tls13,
}

/// A file named in the block, with where it was named (for errors).
#[derive(Debug, Clone, PartialEq)]
pub struct FileRef {
    pub path: PathBuf,
    pub pos: Pos,
    /// `tls.cert_file` and the like.
    pub key: String,
}

/// The `tls {}` block as written, validated but with no file read yet.
#[derive(Debug, Clone, PartialEq)]
pub struct TlsOptions {
    pub cert_file: Option<FileRef>,
    pub key_file: Option<FileRef>,
    pub ca_file: Option<FileRef>,
    /// Require and verify client certificates (`verify`, or implied by
    /// `verify_and_map` / `verify_cert_and_check_known_urls`).
    pub verify: bool,
    /// `verify_and_map`: the user comes from the client certificate.
    pub map: bool,
    /// `insecure`: only meaningful for outgoing connections; accepted.
    pub insecure: bool,
    /// Handshake timeout (`timeout`, default 2s).
    pub timeout: Duration,
    /// `handshake_first`: TLS before the INFO line.
    pub handshake_first: bool,
    /// `handshake_first: auto` / a duration: how long to wait for a
    /// ClientHello before falling back to sending INFO first.
    pub fallback_delay: Option<Duration>,
    pub min_version: Option<TlsVersion>,
    /// `cipher_suites` (Go names), `None` = defaults.
    pub cipher_suites: Option<Vec<String>>,
    /// `curve_preferences` (Go names), `None` = defaults.
    pub curve_preferences: Option<Vec<String>>,
    /// `pinned_certs`: lowercase hex SHA-256 of the client's DER
    /// SubjectPublicKeyInfo; `None` = no pinning.
    pub pinned_certs: Option<HashSet<String>>,
    /// `connection_rate_limit`: TLS handshakes started per second (0 = no
    /// limit).
    pub rate_limit: i64,
    /// Where the block was written (for errors about the block as a whole).
    pub pos: Pos,
}

fn err(k: &Key, msg: impl Into<String>) -> ConfigError {
    ConfigError::at(&k.pos, &format!("tls.{}", k.name), msg)
}

fn want_bool(k: &Key, v: &Value, what: &str) -> Result<bool, ConfigError> {
    match v.kind {
        Kind::Bool(b) => Ok(b),
        _ => Err(err(
            k,
            format!("error parsing tls config, expected '{what}' to be a boolean"),
        )),
    }
}

fn want_file(k: &Key, v: &Value, what: &str) -> Result<FileRef, ConfigError> {
    match &v.kind {
        Kind::String(s) => Ok(FileRef {
            path: PathBuf::from(s),
            pos: k.pos.clone(),
            key: format!("tls.{}", k.name),
        }),
        _ => Err(err(
            k,
            format!("error parsing tls config, expected '{what}' to be filename"),
        )),
    }
}

fn strings(k: &Key, v: &Value, what: &str) -> Result<Vec<(String, Pos)>, ConfigError> {
    let Kind::Array(items) = &v.kind else {
        return Err(err(
            k,
            format!("error parsing tls config, '{what}' wrong type"),
        ));
    };
    if items.is_empty() {
        return Err(err(
            k,
            format!("error parsing tls config, '{what}' cannot be empty"),
        ));
    }
    items
        .iter()
        .map(|it| match &it.kind {
            Kind::String(s) => Ok((s.clone(), it.pos.clone())),
            _ => Err(err(
                k,
                format!("error parsing tls config, '{what}' entries must be strings"),
            )),
        })
        .collect()
}

fn seconds(k: &Key, v: &Value) -> Result<f64, ConfigError> {
    Ok(match &v.kind {
        Kind::Integer(n) => *n as f64,
        Kind::Float(f) => *f,
        Kind::Duration(d) => d.as_secs_f64(),
        Kind::String(s) => crate::config::parser::parse_go_duration(s)
            .map_err(|e| err(k, format!("error parsing tls config, 'timeout' {e}")))?
            .as_secs_f64(),
        _ => return Err(err(k, "error parsing tls config, 'timeout' wrong type")),
    })
}

impl TlsOptions {
    /// Reads a `tls {}` block. `block_key` is the `tls` key itself.
    ///
    /// # Errors
    /// The first bad entry, with its position and key.
    pub fn parse(block_key: &Key, block: &Map) -> Result<TlsOptions, ConfigError> {
        let mut o = TlsOptions {
            cert_file: None,
            key_file: None,
            ca_file: None,
            verify: false,
            map: false,
            insecure: false,
            timeout: DEFAULT_TLS_TIMEOUT,
            handshake_first: false,
            fallback_delay: None,
            min_version: None,
            cipher_suites: None,
            curve_preferences: None,
            pinned_certs: None,
            rate_limit: 0,
            pos: block_key.pos.clone(),
        };
        let mut allow_insecure = false;
        let mut insecure_found: Vec<String> = Vec::new();
        let mut insecure_key: Option<Key> = None;
        for (k, v) in block.iter() {
            let name = k.name.to_ascii_lowercase();
            match name.as_str() {
                "cert_file" => o.cert_file = Some(want_file(k, v, "cert_file")?),
                "key_file" => o.key_file = Some(want_file(k, v, "key_file")?),
                "ca_file" => o.ca_file = Some(want_file(k, v, "ca_file")?),
                "insecure" => o.insecure = want_bool(k, v, "insecure")?,
                "verify" => o.verify = want_bool(k, v, "verify")?,
                "verify_and_map" => {
                    let b = want_bool(k, v, "verify_and_map")?;
                    if b {
                        o.verify = true;
                    }
                    o.map = b;
                }
                "verify_cert_and_check_known_urls" => {
                    // Only routes, gateways and leafnodes check known URLs;
                    // for clients nats-server refuses it.
                    if want_bool(k, v, "verify_cert_and_check_known_urls")? {
                        return Err(err(
                            k,
                            "verify_cert_and_check_known_urls not supported in this context",
                        ));
                    }
                }
                "allow_insecure_cipher_suites" => {
                    allow_insecure = want_bool(k, v, "allow_insecure_cipher_suites")?;
                }
                "cipher_suites" => {
                    let mut names = Vec::new();
                    for (s, _) in strings(k, v, "cipher_suites")? {
                        if INSECURE_CIPHERS.contains(&s.as_str()) {
                            insecure_found.push(s.clone());
                            insecure_key = Some(k.clone());
                        } else if !SECURE_CIPHERS.contains(&s.as_str()) {
                            return Err(err(k, format!("unrecognized cipher {s}")));
                        }
                        names.push(s);
                    }
                    o.cipher_suites = Some(names);
                }
                "curve_preferences" => {
                    let mut names = Vec::new();
                    for (s, _) in strings(k, v, "curve_preferences")? {
                        if !CURVES.contains(&s.as_str()) {
                            return Err(err(k, format!("unrecognized curve preference {s}")));
                        }
                        names.push(s);
                    }
                    o.curve_preferences = Some(names);
                }
                "timeout" => {
                    let secs = seconds(k, v)?;
                    // As nats-server: 0 means the default; a negative value
                    // is kept (every handshake then times out at once).
                    o.timeout = if secs == 0.0 {
                        DEFAULT_TLS_TIMEOUT
                    } else {
                        Duration::try_from_secs_f64(secs).unwrap_or(Duration::ZERO)
                    };
                }
                "connection_rate_limit" => match v.kind {
                    Kind::Integer(n) => o.rate_limit = n,
                    _ => {
                        return Err(err(
                            k,
                            "error parsing tls config, 'connection_rate_limit' wrong type",
                        ))
                    }
                },
                "pinned_certs" => {
                    const MSG: &str = "error parsing tls config, expected 'pinned_certs' to be a list of hex-encoded sha256 of DER encoded SubjectPublicKeyInfo";
                    let Kind::Array(items) = &v.kind else {
                        return Err(err(k, MSG));
                    };
                    let mut set = HashSet::new();
                    for it in items {
                        let Kind::String(s) = &it.kind else {
                            return Err(err(k, MSG));
                        };
                        let entry = s.to_ascii_lowercase();
                        if entry.len() != 64 || !entry.bytes().all(|b| b.is_ascii_hexdigit()) {
                            return Err(err(k, format!("error parsing tls config, 'pinned_certs' key {entry} does not look like hex-encoded sha256 of DER encoded SubjectPublicKeyInfo")));
                        }
                        set.insert(entry);
                    }
                    if !set.is_empty() {
                        o.pinned_certs = Some(set);
                    }
                }
                "handshake_first" | "first" | "immediate" => match &v.kind {
                    Kind::Bool(b) => o.handshake_first = *b,
                    Kind::Duration(d) => {
                        o.handshake_first = true;
                        o.fallback_delay = Some(*d);
                    }
                    Kind::String(s) => match s.to_ascii_lowercase().as_str() {
                        "true" | "on" => o.handshake_first = true,
                        "false" | "off" => o.handshake_first = false,
                        "auto" | "auto_fallback" => {
                            o.handshake_first = true;
                            o.fallback_delay = Some(DEFAULT_FALLBACK_DELAY);
                        }
                        _ => match crate::config::parser::parse_go_duration(s) {
                            Ok(d) => {
                                o.handshake_first = true;
                                o.fallback_delay = Some(d);
                            }
                            Err(_) => {
                                return Err(err(
                                    k,
                                    format!("field {:?}'s value {s:?} is invalid", k.name),
                                ))
                            }
                        },
                    },
                    _ => {
                        return Err(err(
                            k,
                            format!("field {:?} should be a boolean or a string", k.name),
                        ))
                    }
                },
                "min_version" => {
                    let Kind::String(s) = &v.kind else {
                        return Err(err(k, "error parsing tls config: 'min_version' wrong type"));
                    };
                    o.min_version = Some(match s.as_str() {
                        "1.2" => TlsVersion::Tls12,
                        "1.3" => TlsVersion::Tls13,
                        "1.0" | "1.1" => {
                            return Err(err(
                                k,
                                format!(
                                    "error parsing tls config: unsupported TLS version: TLS {s}"
                                ),
                            ))
                        }
                        _ => {
                            return Err(err(
                                k,
                                format!("error parsing tls config: unknown version: {s}"),
                            ))
                        }
                    });
                }
                n if UNSUPPORTED.contains(&n) => {
                    return Err(err(
                        k,
                        format!("'{}' is not supported by this version of rnats", k.name),
                    ))
                }
                _ => {
                    return Err(err(
                        k,
                        format!("error parsing tls config, unknown field {:?}", k.name),
                    ))
                }
            }
        }
        if !allow_insecure && !insecure_found.is_empty() {
            let k = insecure_key.unwrap_or_else(|| block_key.clone());
            return Err(err(
                &k,
                format!(
                    "insecure cipher suites configured without 'allow_insecure_cipher_suites' option set: {}",
                    insecure_found.join(", ")
                ),
            ));
        }
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn parse(src: &str) -> Result<TlsOptions, ConfigError> {
        let parsed =
            crate::config::parser::parse_str_tracked(src, Path::new("t.conf")).expect("parses");
        let (k, v) = parsed.map.iter().next().expect("one key");
        let Kind::Map(m) = &v.kind else {
            panic!("not a map")
        };
        TlsOptions::parse(k, m)
    }

    fn error(src: &str) -> String {
        parse(src).unwrap_err().to_string()
    }

    #[test]
    fn defaults_and_basic_keys() {
        let o =
            parse("tls {\n cert_file: \"c.pem\"\n key_file: k.pem\n ca_file: ca.pem\n}").unwrap();
        assert_eq!(o.cert_file.unwrap().path, PathBuf::from("c.pem"));
        assert_eq!(o.key_file.as_ref().unwrap().key, "tls.key_file");
        assert_eq!(o.key_file.unwrap().pos.line, 3);
        assert!(o.ca_file.is_some());
        assert_eq!(o.timeout, Duration::from_secs(2));
        assert!(!o.verify && !o.map && !o.handshake_first);
        assert_eq!(o.min_version, None);
        assert_eq!(o.pinned_certs, None);
    }

    #[test]
    fn verify_and_map_implies_verify() {
        let o = parse("tls { verify_and_map: true }").unwrap();
        assert!(o.verify && o.map);
        let o = parse("tls { verify: true, verify_and_map: false }").unwrap();
        assert!(o.verify && !o.map);
        let o = parse("tls { verify_and_map: false }").unwrap();
        assert!(!o.verify && !o.map);
    }

    #[test]
    fn timeout_forms() {
        assert_eq!(
            parse("tls { timeout: 0.5 }").unwrap().timeout,
            Duration::from_millis(500)
        );
        assert_eq!(
            parse("tls { timeout: 3 }").unwrap().timeout,
            Duration::from_secs(3)
        );
        assert_eq!(
            parse("tls { timeout: \"250ms\" }").unwrap().timeout,
            Duration::from_millis(250)
        );
        assert_eq!(
            parse("tls { timeout: 0 }").unwrap().timeout,
            DEFAULT_TLS_TIMEOUT
        );
        assert!(error("tls { timeout: \"soon\" }").contains("'timeout'"));
        assert!(error("tls { timeout: true }").contains("'timeout' wrong type"));
    }

    #[test]
    fn handshake_first_forms() {
        let o = parse("tls { handshake_first: true }").unwrap();
        assert!(o.handshake_first && o.fallback_delay.is_none());
        let o = parse("tls { handshake_first: auto }").unwrap();
        assert_eq!(o.fallback_delay, Some(DEFAULT_FALLBACK_DELAY));
        let o = parse("tls { first: \"300ms\" }").unwrap();
        assert_eq!(o.fallback_delay, Some(Duration::from_millis(300)));
        let o = parse("tls { immediate: off }").unwrap();
        assert!(!o.handshake_first);
        assert!(error("tls { handshake_first: \"maybe\" }").contains("is invalid"));
    }

    #[test]
    fn min_version() {
        assert_eq!(
            parse("tls { min_version: \"1.3\" }").unwrap().min_version,
            Some(TlsVersion::Tls13)
        );
        assert!(error("tls { min_version: \"1.1\" }").contains("unsupported TLS version: TLS 1.1"));
        assert!(error("tls { min_version: \"2.0\" }").contains("unknown version: 2.0"));
        assert!(error("tls { min_version: 12 }").contains("'min_version' wrong type"));
    }

    #[test]
    fn ciphers_and_curves() {
        let o =
            parse("tls { cipher_suites: [\"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256\"] }").unwrap();
        assert_eq!(o.cipher_suites.unwrap().len(), 1);
        let e = error("tls {\n cipher_suites: [\"TLS_BOGUS\"]\n}");
        assert!(e.starts_with("t.conf:2:"), "{e}");
        assert!(e.ends_with(": unrecognized cipher TLS_BOGUS"), "{e}");
        let e = error("tls { cipher_suites: [\"TLS_RSA_WITH_RC4_128_SHA\"] }");
        assert!(e.contains("insecure cipher suites configured without 'allow_insecure_cipher_suites' option set: TLS_RSA_WITH_RC4_128_SHA"), "{e}");
        assert!(parse("tls { cipher_suites: [\"TLS_RSA_WITH_RC4_128_SHA\"], allow_insecure_cipher_suites: true }").is_ok());
        assert!(error("tls { cipher_suites: [] }").contains("'cipher_suites' cannot be empty"));
        let o = parse("tls { curve_preferences: [\"CurveP256\", \"X25519\"] }").unwrap();
        assert_eq!(o.curve_preferences.unwrap(), vec!["CurveP256", "X25519"]);
        assert!(error("tls { curve_preferences: [\"P999\"] }")
            .contains("unrecognized curve preference P999"));
    }

    #[test]
    fn pinned_certs() {
        let h = "a".repeat(64);
        let o = parse(&format!(
            "tls {{ pinned_certs: [\"{}\"] }}",
            h.to_uppercase()
        ))
        .unwrap();
        assert!(o.pinned_certs.unwrap().contains(&h));
        assert_eq!(
            parse("tls { pinned_certs: [] }").unwrap().pinned_certs,
            None
        );
        assert!(error("tls { pinned_certs: [\"abc\"] }")
            .contains("does not look like hex-encoded sha256"));
    }

    #[test]
    fn type_errors_name_file_line_and_key() {
        let e = error("tls {\n  verify: \"yes please\"\n}");
        assert_eq!(
            e,
            "t.conf:2:3: error parsing tls config, expected 'verify' to be a boolean"
        );
        let e = error("tls {\n\n  cert_file: 5\n}");
        assert!(e.starts_with("t.conf:3:3: "), "{e}");
        assert!(e.contains("expected 'cert_file' to be filename"), "{e}");
        assert!(error("tls { connection_rate_limit: \"x\" }")
            .contains("'connection_rate_limit' wrong type"));
    }

    #[test]
    fn unknown_and_unsupported_keys() {
        let e = error("tls {\n  bogus: 1\n}");
        assert_eq!(
            e,
            "t.conf:2:3: error parsing tls config, unknown field \"bogus\""
        );
        let e = error("tls { ocsp_peer: true }");
        assert!(
            e.ends_with(": 'ocsp_peer' is not supported by this version of rnats"),
            "{e}"
        );
        assert!(error("tls { verify_cert_and_check_known_urls: true }")
            .contains("not supported in this context"));
        assert!(parse("tls { verify_cert_and_check_known_urls: false, insecure: true }").is_ok());
    }
}

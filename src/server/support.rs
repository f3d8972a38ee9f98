//! Refuses configurations whose security settings this build does not
//! enforce yet.
//!
//! A server that silently ignored `tls`, a users list or operator trust would
//! run open while its operator believes it is protected. Until a feature is
//! implemented, asking for it stops the server with the file, line and key.

use crate::config::{ConfigError, Map, Options};

/// Top-level keys whose presence requires enforcement not built yet, with
/// what they ask for.
const UNSUPPORTED_TOP: &[(&str, &str)] = &[
    ("https", "HTTPS monitoring"),
    ("https_port", "HTTPS monitoring"),
];

/// Keys of `authorization` beyond a single user or token.
const UNSUPPORTED_AUTH: &[&str] = &["auth_callout", "callout", "auth_hook"];

fn refuse(map: &Map, key: &str, what: &str) -> Result<(), ConfigError> {
    match map.iter().find(|(k, _)| k.name.eq_ignore_ascii_case(key)) {
        Some((k, _)) => Err(ConfigError::at(
            &k.pos,
            &k.name,
            format!("{what} is not supported by this version of rnats"),
        )),
        None => Ok(()),
    }
}

/// Checks that every security setting in the config is one this build
/// enforces.
///
/// # Errors
/// The first setting that is not supported yet.
pub fn check(opts: &Options) -> Result<(), ConfigError> {
    // TLS is enforced: the block must be valid and its files usable.
    crate::tls::TlsConfig::from_options(opts)?;
    if let Some(raw) = &opts.raw_config {
        for (key, what) in UNSUPPORTED_TOP {
            refuse(raw, key, what)?;
        }
    }
    if let Some(auth) = &opts.authorization_block {
        for key in UNSUPPORTED_AUTH {
            refuse(auth, key, &format!("authorization {key}"))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn opts(src: &str) -> Options {
        let parsed = crate::config::parser::parse_str_tracked(src, Path::new("t.conf")).unwrap();
        Options::from_parsed(&parsed, Some(Path::new("t.conf")))
            .unwrap()
            .0
    }

    #[test]
    fn simple_configs_pass() {
        assert!(check(&opts("port: 4222\nauthorization { token: x }\n")).is_ok());
        assert!(check(&opts(
            "authorization { user: a, password: b, timeout: 1 }\n"
        ))
        .is_ok());
    }

    #[test]
    fn unenforced_security_is_refused_with_position() {
        let e = check(&opts("port: 1\nhttps_port: 8443\n")).unwrap_err();
        assert!(e.to_string().starts_with("t.conf:2:"), "{e}");
        assert_eq!(
            e.to_string(),
            "t.conf:2:1: HTTPS monitoring is not supported by this version of rnats"
        );
        let e = check(&opts(
            "port: 1\ntls {\n  cert_file: /nonexistent/c.pem\n  key_file: k.pem\n}\n",
        ))
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("t.conf:3:3: error parsing X509 certificate/key pair: "),
            "{e}"
        );
        let e = check(&opts("authorization {\n auth_callout { issuer: x }\n}\n")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.conf:2:2: authorization auth_callout is not supported by this version of rnats"
        );
        assert!(check(&opts(
            "authorization {\n users: [ {user: a, password: b} ]\n}\n",
        ))
        .is_ok());
    }
}

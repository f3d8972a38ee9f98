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
    ("gateway", "gateways (`gateway {}`)"),
    ("leafnodes", "leaf nodes (`leafnodes {}`)"),
    ("leaf", "leaf nodes (`leaf {}`)"),
    ("mqtt", "MQTT (`mqtt {}`)"),
    ("ocsp", "OCSP stapling (`ocsp`)"),
    ("proxies", "trusted proxies (`proxies {}`)"),
    ("proxy_protocol", "the PROXY protocol (`proxy_protocol`)"),
];

/// JetStream asked for: `jetstream: enabled|true` or a block not saying
/// `enabled: false`. `jetstream: disabled` asks for nothing.
fn jetstream_enabled(v: &crate::config::Value) -> bool {
    use crate::config::Kind;
    match &v.kind {
        Kind::Bool(b) => *b,
        Kind::String(s) => !matches!(
            s.to_ascii_lowercase().as_str(),
            "disabled" | "false" | "off" | "no" | "disable"
        ),
        Kind::Map(m) => !m
            .get("enabled")
            .is_some_and(|e| matches!(e.kind, Kind::Bool(false))),
        _ => true,
    }
}

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
    // So is the WebSocket listener, with what it does not support refused.
    crate::websocket::WebSocketConfig::from_options(opts)?;
    // And the cluster block and flags.
    crate::cluster::config::ClusterConfig::from_options(opts)?;
    if let Some(raw) = &opts.raw_config {
        for (key, what) in UNSUPPORTED_TOP {
            refuse(raw, key, what)?;
        }
        if let Some((k, v)) = raw
            .iter()
            .find(|(k, _)| k.name.eq_ignore_ascii_case("jetstream"))
        {
            if jetstream_enabled(v) {
                return Err(ConfigError::at(
                    &k.pos,
                    &k.name,
                    "JetStream is not available in rnats; remove the jetstream block or set it to disabled",
                ));
            }
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

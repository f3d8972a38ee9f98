//! TLS for client connections.
//!
//! - [`config`]: the `tls {}` block, read as nats-server reads it.
//! - [`TlsConfig`]: the block turned into a rustls server configuration
//!   (certificate, key and CA files loaded; errors name file, line and key).
//! - [`accept`]: one connection's start: INFO on the plain socket (or TLS
//!   first), the handshake under the TLS timeout, then the protocol.
//! - [`peer`]: the identity in a client certificate ([`PeerCert`]) and the
//!   user names it maps to for `verify_and_map` ([`map_user`],
//!   [`map_candidates`]).

pub mod accept;
pub mod config;
pub mod peer;

use parking_lot::Mutex;
use rustls::crypto::ring as ring_provider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, SupportedCipherSuite};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use config::{TlsOptions, TlsVersion};
pub use peer::{map_candidates, map_user, Dn, DnError, PeerCert};

use crate::config::{ConfigError, Options, Pos};

/// What a finished handshake negotiated, in nats-server's wording (for
/// logs and monitoring).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSession {
    /// `1.2` or `1.3`.
    pub version: String,
    /// Go's name of the suite, e.g. `TLS_AES_128_GCM_SHA256`.
    pub cipher_suite: String,
}

impl TlsSession {
    fn from_conn(c: &rustls::ServerConnection) -> TlsSession {
        let version = match c.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_3) => "1.3".to_owned(),
            Some(rustls::ProtocolVersion::TLSv1_2) => "1.2".to_owned(),
            Some(v) => format!("{v:?}"),
            None => String::new(),
        };
        let cipher_suite = c
            .negotiated_cipher_suite()
            .map(|s| go_suite_name(&s))
            .unwrap_or_default();
        TlsSession {
            version,
            cipher_suite,
        }
    }
}

/// Go's name for a rustls suite (`TLS13_AES_128_GCM_SHA256` is Go's
/// `TLS_AES_128_GCM_SHA256`; TLS 1.2 names are the same).
fn go_suite_name(s: &SupportedCipherSuite) -> String {
    let name = format!("{:?}", s.suite());
    match name.strip_prefix("TLS13_") {
        Some(rest) => format!("TLS_{rest}"),
        None => name,
    }
}

/// nats-server's connection rate counter: at most `limit` TLS handshakes
/// start per one-second window.
#[derive(Debug)]
struct RateCounter {
    limit: i64,
    count: i64,
    end: Option<Instant>,
}

impl RateCounter {
    fn allow(&mut self) -> bool {
        let now = Instant::now();
        match self.end {
            Some(end) if now <= end => self.count += 1,
            _ => {
                self.count = 0;
                self.end = Some(now + Duration::from_secs(1));
            }
        }
        self.count < self.limit
    }
}

/// The TLS setup of the client listener.
pub struct TlsConfig {
    pub options: TlsOptions,
    pub acceptor: tokio_rustls::TlsAcceptor,
    rate: Option<Mutex<RateCounter>>,
    /// Settings that were accepted but could not be honoured in full (log
    /// them at startup).
    pub warnings: Vec<String>,
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfig")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

fn file_error(f: &config::FileRef, msg: impl std::fmt::Display) -> ConfigError {
    ConfigError::at(&f.pos, &f.key, msg.to_string())
}

fn read_file(f: &config::FileRef, what: &str) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(&f.path)
        .map_err(|e| file_error(f, format!("{what}: open {}: {e}", f.path.display())))
}

/// The certificates in a PEM file, in order.
fn load_certs(f: &config::FileRef) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    const WHAT: &str = "error parsing X509 certificate/key pair";
    let pem = read_file(f, WHAT)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(f, format!("{WHAT}: {}: {e}", f.path.display())))?;
    if certs.is_empty() {
        return Err(file_error(
            f,
            format!(
                "{WHAT}: {}: failed to find any PEM data in certificate input",
                f.path.display()
            ),
        ));
    }
    if let Err(e) = PeerCert::from_der(&certs[0]) {
        return Err(file_error(
            f,
            format!("error parsing certificate: {}: {e}", f.path.display()),
        ));
    }
    Ok(certs)
}

fn load_key(f: &config::FileRef) -> Result<PrivateKeyDer<'static>, ConfigError> {
    const WHAT: &str = "error parsing X509 certificate/key pair";
    let pem = read_file(f, WHAT)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
        let why = match e {
            rustls::pki_types::pem::Error::NoItemsFound => {
                "failed to find any PEM data in key input".to_owned()
            }
            e => e.to_string(),
        };
        file_error(f, format!("{WHAT}: {}: {why}", f.path.display()))
    })
}

fn load_roots(f: &config::FileRef) -> Result<RootCertStore, ConfigError> {
    let pem = read_file(f, "error reading root ca certificate")?;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| {
            file_error(
                f,
                format!(
                    "failed to parse root ca certificate: {}: {e}",
                    f.path.display()
                ),
            )
        })?;
        roots.add(cert).map_err(|e| {
            file_error(
                f,
                format!(
                    "failed to parse root ca certificate: {}: {e}",
                    f.path.display()
                ),
            )
        })?;
    }
    if roots.is_empty() {
        return Err(file_error(
            f,
            format!("failed to parse root ca certificate: {}", f.path.display()),
        ));
    }
    Ok(roots)
}

impl TlsConfig {
    /// The TLS setup the options ask for: `None` without a `tls` block.
    ///
    /// # Errors
    /// A bad entry in the block, or a certificate, key or CA file that
    /// cannot be read or used, with file, line and key.
    pub fn from_options(opts: &Options) -> Result<Option<Arc<TlsConfig>>, ConfigError> {
        let Some(block) = &opts.tls_block else {
            return Ok(None);
        };
        let key = opts
            .raw_config
            .as_ref()
            .and_then(|m| {
                m.entries
                    .iter()
                    .rev()
                    .find(|(k, _)| k.name.eq_ignore_ascii_case("tls"))
                    .map(|(k, _)| k.clone())
            })
            .unwrap_or_else(|| crate::config::Key {
                name: "tls".into(),
                pos: Pos {
                    file: Arc::new(
                        opts.config_file
                            .clone()
                            .unwrap_or_else(|| "<options>".into()),
                    ),
                    line: 0,
                    col: 0,
                },
            });
        let options = TlsOptions::parse(&key, block)?;
        Ok(Some(Arc::new(TlsConfig::build(options)?)))
    }

    /// Loads the files and builds the rustls configuration.
    ///
    /// # Errors
    /// As [`TlsConfig::from_options`].
    pub fn build(options: TlsOptions) -> Result<TlsConfig, ConfigError> {
        let block_err = |key: &str, msg: &str| ConfigError::at(&options.pos, key, msg);
        let (cert_file, key_file) = match (&options.cert_file, &options.key_file) {
            (Some(c), Some(k)) => (c, k),
            (Some(_), None) => {
                return Err(block_err("tls", "missing 'key_file' in TLS configuration"))
            }
            (None, Some(_)) => {
                return Err(block_err("tls", "missing 'cert_file' in TLS configuration"))
            }
            (None, None) => {
                return Err(block_err(
                    "tls",
                    "missing 'cert_file' and 'key_file' in TLS configuration",
                ))
            }
        };
        let mut warnings = Vec::new();
        let mut provider = ring_provider::default_provider();

        // cipher_suites restricts TLS 1.2 only; TLS 1.3 suites stay on (as
        // with Go's crypto/tls).
        if let Some(names) = &options.cipher_suites {
            let available: Vec<String> = provider
                .cipher_suites
                .iter()
                .filter(|s| matches!(s, SupportedCipherSuite::Tls12(_)))
                .map(go_suite_name)
                .collect();
            for n in names {
                let tls13 = config::SECURE_CIPHERS[..3].contains(&n.as_str());
                if !tls13 && !available.contains(n) {
                    warnings.push(format!(
                        "TLS cipher suite {n} is not implemented by rnats and is ignored"
                    ));
                }
            }
            provider.cipher_suites.retain(|s| match s {
                SupportedCipherSuite::Tls13(_) => true,
                SupportedCipherSuite::Tls12(_) => names.contains(&go_suite_name(s)),
            });
        }
        if let Some(names) = &options.curve_preferences {
            let all = ring_provider::ALL_KX_GROUPS;
            let mut groups = Vec::new();
            for n in names {
                let g = match n.as_str() {
                    "X25519" => Some(all[0]),
                    "CurveP256" => Some(all[1]),
                    "CurveP384" => Some(all[2]),
                    _ => None,
                };
                match g {
                    Some(g) => groups.push(g),
                    None => warnings.push(format!(
                        "TLS curve {n} is not implemented by rnats and is ignored"
                    )),
                }
            }
            if groups.is_empty() {
                return Err(block_err(
                    "tls.curve_preferences",
                    "none of the configured curves is implemented by rnats (X25519, CurveP256 and CurveP384 are)",
                ));
            }
            provider.kx_groups = groups;
        }
        let has_tls12 = provider
            .cipher_suites
            .iter()
            .any(|s| matches!(s, SupportedCipherSuite::Tls12(_)));
        let versions: &[&rustls::SupportedProtocolVersion] = if options.min_version
            == Some(TlsVersion::Tls13)
        {
            &[&rustls::version::TLS13]
        } else if has_tls12 {
            &[&rustls::version::TLS13, &rustls::version::TLS12]
        } else {
            warnings.push(
                    "no configured TLS 1.2 cipher suite is implemented by rnats: only TLS 1.3 is offered"
                        .into(),
                );
            &[&rustls::version::TLS13]
        };
        let provider = Arc::new(provider);

        let verifier = if options.verify {
            let Some(ca) = &options.ca_file else {
                return Err(block_err(
                    "tls",
                    "client certificate verification ('verify' or 'verify_and_map') needs 'ca_file': rnats does not verify clients against the system trust store",
                ));
            };
            let roots = load_roots(ca)?;
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| file_error(ca, format!("invalid client CA: {e}")))?
        } else {
            if let Some(ca) = &options.ca_file {
                // Unused without verify (as in nats-server), but a broken
                // file is still an error worth reporting now.
                load_roots(ca)?;
            }
            WebPkiClientVerifier::no_client_auth()
        };
        let certs = load_certs(cert_file)?;
        let key = load_key(key_file)?;
        let mut server = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .map_err(|e| block_err("tls", &format!("invalid TLS configuration: {e}")))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(certs, key)
            .map_err(|e| {
                file_error(
                    key_file,
                    format!(
                        "error parsing X509 certificate/key pair: {} and {}: {e}",
                        cert_file.path.display(),
                        key_file.path.display()
                    ),
                )
            })?;
        server.ignore_client_order = true;
        let rate = (options.rate_limit > 0).then(|| {
            Mutex::new(RateCounter {
                limit: options.rate_limit,
                count: 0,
                end: None,
            })
        });
        Ok(TlsConfig {
            options,
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(server)),
            rate,
            warnings,
        })
    }

    /// The client side of the same block, for connections this server
    /// dials (routes): the block's certificate as the client certificate,
    /// its `ca_file` as the roots the peer's certificate must chain to.
    ///
    /// # Errors
    /// A file that cannot be read or used, with file, line and key.
    pub fn connector(&self) -> Result<tokio_rustls::TlsConnector, ConfigError> {
        let o = &self.options;
        let block_err = |msg: &str| ConfigError::at(&o.pos, "tls", msg);
        let Some(ca) = &o.ca_file else {
            return Err(block_err(
                "dialing with TLS needs 'ca_file': rnats does not verify servers against the system trust store",
            ));
        };
        let roots = load_roots(ca)?;
        let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
            ring_provider::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| block_err(&format!("invalid TLS configuration: {e}")))?
        .with_root_certificates(roots);
        let client = match (&o.cert_file, &o.key_file) {
            (Some(c), Some(k)) => builder
                .with_client_auth_cert(load_certs(c)?, load_key(k)?)
                .map_err(|e| {
                    file_error(k, format!("error parsing X509 certificate/key pair: {e}"))
                })?,
            _ => builder.with_no_client_auth(),
        };
        Ok(tokio_rustls::TlsConnector::from(Arc::new(client)))
    }

    /// Whether `connection_rate_limit` lets one more handshake start now.
    pub fn allow_connection(&self) -> bool {
        self.rate.as_ref().is_none_or(|r| r.lock().allow())
    }

    /// The auth timeout when none is configured: TLS timeout + 1s, as
    /// nats-server (`getDefaultAuthTimeout`).
    pub fn default_auth_timeout(&self) -> Duration {
        self.options.timeout + Duration::from_secs(1)
    }
}

#[cfg(test)]
mod tests;

//! The identity a client certificate carries, and the names it maps to for
//! `tls { verify_and_map: true }`.
//!
//! nats-server tries, in order (first peer certificate only):
//! 1. every e-mail SAN, 2. every DNS SAN, 3. every URI SAN, as literal user
//!    names;
//! 4. the subject DN compared structurally with every user name that parses
//!    as an RFC 4514 DN: exact RDN order first, then any order;
//! 5. when the subject has `DC=` parts: `<subject>,DC=a,DC=b` literally;
//! 6. the subject string (Go's `pkix.Name.ToRDNSequence().String()`).
//!
//! [`map_user`] runs that whole walk against a list of user names;
//! [`map_candidates`] gives the literal names (steps 1–3, 5, 6) in order.
//! Both are pure: no I/O, no server state.

use x509_parser::der_parser::asn1_rs::Tag;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
use x509_parser::x509::{AttributeTypeAndValue, X509Name};

/// What a verified client certificate says about who the client is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PeerCert {
    /// E-mail address SANs (RFC 822 names), in certificate order.
    pub emails: Vec<String>,
    /// DNS name SANs, in certificate order.
    pub dns_names: Vec<String>,
    /// URI SANs, in certificate order.
    pub uris: Vec<String>,
    /// The subject as nats-server prints it for mapping: Go's
    /// `pkix.Name.ToRDNSequence().String()`, most specific first, e.g.
    /// `CN=alice,O=NATS Conformance`. Only the attributes Go's `pkix.Name`
    /// knows (C, ST, L, STREET, POSTALCODE, O, OU, CN, SERIALNUMBER) appear.
    pub subject: String,
    /// The subject's domain components (`DC=` values) in certificate order.
    pub domain_components: Vec<String>,
    /// The subject as a DN for structural matching (RDNs most specific
    /// first); `None` when it has an attribute type nats-server's DN reader
    /// does not know (then structural matching is skipped, as there).
    pub dn: Option<Dn>,
    /// SHA-256 over the DER SubjectPublicKeyInfo, lowercase hex (the form
    /// `pinned_certs` lists).
    pub spki_sha256: String,
}

/// Why a certificate could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid certificate: {0}")]
pub struct CertError(String);

/// Why a distinguished name string did not parse ([`Dn::parse`]). The
/// messages are those of the LDAP DN parser nats-server uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DnError {
    /// An escape cut short: `\` and one non-special character end the
    /// string.
    #[error("got corrupted escaped character")]
    CorruptedEscape,
    /// A `\` followed by two characters that are not hex digits.
    #[error("failed to decode escaped character")]
    BadHexEscape,
    /// A `#`-prefixed (BER-encoded) value, which is not supported.
    #[error("unsupported BER encoding")]
    BerEncoding,
    /// A `,` or `+` ends an attribute that has no type.
    #[error("incomplete type, value pair")]
    IncompletePair,
    /// The string ends in a value that has no type.
    #[error("DN ended with incomplete type, value pair")]
    IncompleteAtEnd,
}

impl PeerCert {
    /// Reads the identity from a DER certificate.
    ///
    /// # Errors
    /// When the DER is not an X.509 certificate.
    pub fn from_der(der: &[u8]) -> Result<PeerCert, CertError> {
        let (_, cert) = X509Certificate::from_der(der).map_err(|e| CertError(e.to_string()))?;
        let mut p = PeerCert::default();
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for name in &san.value.general_names {
                match name {
                    GeneralName::RFC822Name(s) => p.emails.push((*s).to_owned()),
                    GeneralName::DNSName(s) => p.dns_names.push((*s).to_owned()),
                    GeneralName::URI(s) => p.uris.push((*s).to_owned()),
                    _ => {}
                }
            }
        }
        let subject = cert.subject();
        p.subject = go_subject_string(subject);
        p.domain_components = subject
            .iter_attributes()
            .filter(|a| a.attr_type().to_id_string() == OID_DC)
            .filter_map(attr_string)
            .collect();
        p.dn = Dn::from_subject(subject);
        p.spki_sha256 = hex_sha256(cert.public_key().raw);
        Ok(p)
    }
}

fn hex_sha256(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

const OID_DC: &str = "0.9.2342.19200300.100.1.25";

/// Attribute types nats-server's DN reader knows, with their short names.
const DN_TYPES: &[(&str, &str)] = &[
    ("2.5.4.3", "CN"),
    ("2.5.4.5", "SERIALNUMBER"),
    ("2.5.4.6", "C"),
    ("2.5.4.7", "L"),
    ("2.5.4.8", "ST"),
    ("2.5.4.9", "STREET"),
    ("2.5.4.10", "O"),
    ("2.5.4.11", "OU"),
    ("2.5.4.17", "POSTALCODE"),
    (OID_DC, "DC"),
];

/// The string value of an attribute, for the string types Go's certificate
/// parser accepts (Printable, UTF8, IA5, Numeric, T61, BMP).
fn attr_string(a: &AttributeTypeAndValue<'_>) -> Option<String> {
    if let Ok(s) = a.as_str() {
        return Some(s.to_owned());
    }
    let v = a.attr_value();
    match v.tag() {
        Tag::T61String => Some(String::from_utf8_lossy(v.data).into_owned()),
        Tag::BmpString => {
            if v.data.len() % 2 != 0 {
                return None;
            }
            let units: Vec<u16> = v
                .data
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16(&units).ok()
        }
        _ => None,
    }
}

/// Go's `pkix.Name` after parsing, rebuilt into its canonical RDN sequence
/// (`ToRDNSequence`) and printed (`RDNSequence.String`): C, ST, L, STREET,
/// POSTALCODE, O, OU (each one multi-valued RDN), CN (the last one), then
/// SERIALNUMBER (the last one); printed in reverse, values escaped.
fn go_subject_string(name: &X509Name<'_>) -> String {
    // (oid suffix under 2.5.4, short name), in ToRDNSequence order.
    const ORDER: &[(&str, &str)] = &[
        ("2.5.4.6", "C"),
        ("2.5.4.8", "ST"),
        ("2.5.4.7", "L"),
        ("2.5.4.9", "STREET"),
        ("2.5.4.17", "POSTALCODE"),
        ("2.5.4.10", "O"),
        ("2.5.4.11", "OU"),
    ];
    let attrs: Vec<(String, String)> = name
        .iter_attributes()
        .filter_map(|a| Some((a.attr_type().to_id_string(), attr_string(a)?)))
        .collect();
    let mut seq: Vec<Vec<(&str, &str)>> = Vec::new();
    for (oid, short) in ORDER {
        let vals: Vec<(&str, &str)> = attrs
            .iter()
            .filter(|(o, _)| o == oid)
            .map(|(_, v)| (*short, v.as_str()))
            .collect();
        if !vals.is_empty() {
            seq.push(vals);
        }
    }
    for (oid, short) in [("2.5.4.3", "CN"), ("2.5.4.5", "SERIALNUMBER")] {
        if let Some((_, v)) = attrs.iter().rev().find(|(o, _)| o == oid) {
            if !v.is_empty() {
                seq.push(vec![(short, v.as_str())]);
            }
        }
    }
    let mut out = String::new();
    for (i, rdn) in seq.iter().rev().enumerate() {
        if i > 0 {
            out.push(',');
        }
        for (j, (t, v)) in rdn.iter().enumerate() {
            if j > 0 {
                out.push('+');
            }
            out.push_str(t);
            out.push('=');
            escape_go(v, &mut out);
        }
    }
    out
}

/// Go's RDN value escaping: `,+"\<>;` always, a space first or last, `#`
/// first.
fn escape_go(v: &str, out: &mut String) {
    let last = v.len().saturating_sub(1);
    for (k, c) in v.char_indices() {
        let escape = match c {
            ',' | '+' | '"' | '\\' | '<' | '>' | ';' => true,
            ' ' => k == 0 || k == last,
            '#' => k == 0,
            _ => false,
        };
        if escape {
            out.push('\\');
        }
        out.push(c);
    }
}

/// An RFC 4514 distinguished name as nats-server compares them: RDNs most
/// specific first; attribute types compare case-insensitively, values
/// exactly; attributes within an RDN in any order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dn {
    pub rdns: Vec<Vec<(String, String)>>,
}

impl Dn {
    /// The certificate subject as a DN (reversed to most specific first),
    /// or `None` when an attribute type or value is not one the reference
    /// reader accepts.
    fn from_subject(name: &X509Name<'_>) -> Option<Dn> {
        let mut rdns = Vec::new();
        for rdn in name.iter().collect::<Vec<_>>().into_iter().rev() {
            let attrs: Vec<_> = rdn.iter().collect();
            if attrs.is_empty() {
                continue;
            }
            let mut out = Vec::new();
            for a in attrs.into_iter().rev() {
                let oid = a.attr_type().to_id_string();
                let short = DN_TYPES.iter().find(|(o, _)| *o == oid)?.1;
                out.push((short.to_owned(), attr_string(a)?));
            }
            rdns.push(out);
        }
        Some(Dn { rdns })
    }

    /// Parses an RFC 4514 string (`CN=alice,O=Acme`) with the reference's
    /// rules: `\` escapes a special character or two hex digits, unescaped
    /// leading and trailing spaces are dropped, `#` (BER) values are refused.
    ///
    /// # Errors
    /// What is malformed, as a [`DnError`].
    pub fn parse(s: &str) -> Result<Dn, DnError> {
        let b = s.as_bytes();
        let mut dn = Dn::default();
        let mut rdn: Vec<(String, String)> = Vec::new();
        let mut buf: Vec<u8> = Vec::new();
        let mut attr_type: Option<String> = None;
        let mut escaping = false;
        let mut trailing = 0usize;
        let take = |buf: &mut Vec<u8>, trailing: &mut usize| {
            let n = buf.len() - *trailing;
            let v = String::from_utf8_lossy(&buf[..n]).into_owned();
            buf.clear();
            *trailing = 0;
            v
        };
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            if escaping {
                trailing = 0;
                escaping = false;
                if matches!(
                    c,
                    b' ' | b'"' | b'#' | b'+' | b',' | b';' | b'<' | b'=' | b'>' | b'\\'
                ) {
                    buf.push(c);
                    i += 1;
                    continue;
                }
                if i + 1 == b.len() {
                    return Err(DnError::CorruptedEscape);
                }
                let hex = std::str::from_utf8(&b[i..i + 2])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .filter(|_| b[i].is_ascii_hexdigit() && b[i + 1].is_ascii_hexdigit())
                    .ok_or(DnError::BadHexEscape)?;
                buf.push(hex);
                i += 2;
                continue;
            }
            match c {
                b'\\' => {
                    trailing = 0;
                    escaping = true;
                }
                b'=' => {
                    attr_type = Some(take(&mut buf, &mut trailing));
                    if b.get(i + 1) == Some(&b'#') {
                        return Err(DnError::BerEncoding);
                    }
                }
                b',' | b'+' => {
                    let t = attr_type.take().unwrap_or_default();
                    if t.is_empty() {
                        return Err(DnError::IncompletePair);
                    }
                    rdn.push((t, take(&mut buf, &mut trailing)));
                    if c == b',' {
                        dn.rdns.push(std::mem::take(&mut rdn));
                    }
                }
                b' ' if buf.is_empty() => {}
                _ => {
                    if c == b' ' {
                        trailing += 1;
                    } else {
                        trailing = 0;
                    }
                    buf.push(c);
                }
            }
            i += 1;
        }
        if !buf.is_empty() {
            let t = attr_type.take().unwrap_or_default();
            if t.is_empty() {
                return Err(DnError::IncompleteAtEnd);
            }
            rdn.push((t, take(&mut buf, &mut trailing)));
            dn.rdns.push(rdn);
        }
        Ok(dn)
    }

    /// Same RDNs in the same order (RFC 4517 distinguishedNameMatch).
    pub fn equal(&self, other: &Dn) -> bool {
        self.rdns.len() == other.rdns.len()
            && self
                .rdns
                .iter()
                .zip(&other.rdns)
                .all(|(a, b)| rdn_equal(a, b))
    }

    /// Same RDNs in any order.
    pub fn rdns_match(&self, other: &Dn) -> bool {
        if self.rdns.len() != other.rdns.len() {
            return false;
        }
        let mut used = vec![false; other.rdns.len()];
        self.rdns.iter().all(|mine| {
            match (0..other.rdns.len()).find(|&j| !used[j] && rdn_equal(mine, &other.rdns[j])) {
                Some(j) => {
                    used[j] = true;
                    true
                }
                None => false,
            }
        })
    }
}

fn rdn_equal(a: &[(String, String)], b: &[(String, String)]) -> bool {
    let has_all = |x: &[(String, String)], y: &[(String, String)]| {
        y.iter().all(|(t, v)| {
            x.iter()
                .any(|(t2, v2)| t2.eq_ignore_ascii_case(t) && v2 == v)
        })
    };
    a.len() == b.len() && has_all(a, b) && has_all(b, a)
}

/// The literal user names a certificate can map to, in nats-server's order:
/// e-mail SANs, DNS SANs, URI SANs, then (when the subject has `DC=` parts)
/// the subject followed by its `DC=` parts, then the subject. The structural
/// DN comparison that nats-server runs between the SANs and the subject
/// strings needs the configured names: [`map_user`] does the whole walk.
pub fn map_candidates(cert: &PeerCert) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    out.extend(cert.emails.iter().cloned());
    out.extend(cert.dns_names.iter().cloned());
    out.extend(cert.uris.iter().cloned());
    out.extend(subject_candidates(cert));
    out.retain(|s| !s.is_empty());
    out
}

/// Steps 5 and 6: the subject with its domain components appended, then the
/// plain subject.
fn subject_candidates(cert: &PeerCert) -> Vec<String> {
    let mut out = Vec::new();
    if !cert.domain_components.is_empty() {
        let dcs: Vec<String> = cert
            .domain_components
            .iter()
            .map(|d| format!("DC={d}"))
            .collect();
        out.push(format!("{},{}", cert.subject, dcs.join(",")));
    }
    out.push(cert.subject.clone());
    out
}

/// The user a certificate maps to, as nats-server's `verify_and_map` picks
/// it: `users` are the names of the users this connection may log in as
/// (already filtered by allowed connection types). Returns the matching
/// entry of `users`.
pub fn map_user<'a, I>(cert: &PeerCert, users: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let users: Vec<&'a str> = users.into_iter().collect();
    let literal = |cand: &str| -> Option<&'a str> {
        if cand.is_empty() {
            return None;
        }
        users.iter().copied().find(|u| *u == cand)
    };
    let sans = cert.emails.iter().chain(&cert.dns_names).chain(&cert.uris);
    for cand in sans {
        if let Some(u) = literal(cand) {
            return Some(u);
        }
    }
    if let Some(cert_dn) = &cert.dn {
        let parsed: Vec<(&'a str, Dn)> = users
            .iter()
            .filter_map(|u| Dn::parse(u).ok().map(|d| (*u, d)))
            .collect();
        if let Some((u, _)) = parsed.iter().find(|(_, d)| d.equal(cert_dn)) {
            return Some(u);
        }
        if let Some((u, _)) = parsed.iter().find(|(_, d)| d.rdns_match(cert_dn)) {
            return Some(u);
        }
    }
    subject_candidates(cert)
        .iter()
        .find_map(|cand| literal(cand))
}

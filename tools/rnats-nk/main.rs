//! rnats-nk: the jobs of nats' `nk` with its flags — generate a key pair of a
//! role, print the public key of a seed, sign a file, verify a signature.
//!
//! `nk` uses Go's flag package, where long flags take one dash (`-gen user`).
//! Both `-gen` and `--gen` (and `-gen=user`) work here: single-dash long
//! flags are rewritten before clap parses them.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use clap::Parser;
use rnats::nkeys::{self, KeyKind, KeyPair};

/// Generate, inspect and use NATS nkeys (nk-compatible flags).
#[derive(Parser, Debug)]
#[command(
    name = "rnats-nk",
    disable_version_flag = true,
    after_help = "Examples:\n  rnats-nk -gen user -pubout\n  rnats-nk -inkey user.nk -pubout\n  rnats-nk -sign msg.txt -inkey user.nk > msg.sig\n  rnats-nk -verify msg.txt -sigfile msg.sig -pubin user.pub\n  rnats-nk -gen user -pre ALICE"
)]
struct Args {
    /// Generate a key for [user|account|server|cluster|operator|curve|x25519]
    #[arg(long = "gen", value_name = "TYPE")]
    gen: Option<KeyKind>,
    /// Sign FILE with -inkey <keyfile>
    #[arg(long = "sign", value_name = "FILE")]
    sign: Option<PathBuf>,
    /// Verify FILE with -inkey <keyfile> or -pubin <public> and -sigfile <file>
    #[arg(long = "verify", value_name = "FILE")]
    verify: Option<PathBuf>,
    /// Input key file (seed)
    #[arg(long = "inkey", value_name = "FILE")]
    inkey: Option<PathBuf>,
    /// Public key file
    #[arg(long = "pubin", value_name = "FILE")]
    pubin: Option<PathBuf>,
    /// Signature file
    #[arg(long = "sigfile", value_name = "FILE")]
    sigfile: Option<PathBuf>,
    /// Output the public key
    #[arg(long = "pubout")]
    pubout: bool,
    /// Entropy file (32 bytes are read from it), e.g. /dev/urandom
    #[arg(short = 'e', value_name = "FILE")]
    entropy: Option<PathBuf>,
    /// Generate until the public key starts with this prefix (after the role letter), e.g. -gen user -pre derek
    #[arg(long = "pre", value_name = "VANITY")]
    pre: Option<String>,
    /// Maximum attempts at generating the prefix
    #[arg(long = "maxpre", default_value_t = 10_000_000)]
    maxpre: u64,
    /// Show version
    #[arg(short = 'v', long = "version")]
    version: bool,
}

const LONG_FLAGS: [&str; 10] = [
    "gen", "sign", "verify", "inkey", "pubin", "sigfile", "pubout", "pre", "maxpre", "help",
];

/// Rewrites Go-style `-flag` / `-flag=value` into `--flag` for the long flags.
fn normalize_args(args: impl IntoIterator<Item = String>) -> Vec<String> {
    args.into_iter()
        .enumerate()
        .map(|(i, a)| {
            if i == 0 || a.starts_with("--") || !a.starts_with('-') {
                return a;
            }
            let name = a[1..].split('=').next().unwrap_or("");
            if LONG_FLAGS.contains(&name) || name == "version" {
                format!("-{a}")
            } else {
                a
            }
        })
        .collect()
}

/// Reads a key file the way `nk` does: the first line holding a valid key.
fn read_key(path: &Path) -> Result<KeyPair> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    nkeys::parse_key_text(&text)
        .map_err(|e| anyhow!("could not find a valid key in {}: {e}", path.display()))
}

fn read_seed(path: &Path) -> Result<KeyPair> {
    let kp = read_key(path)?;
    if !kp.has_seed() {
        bail!("{} holds a public key; a seed is needed", path.display());
    }
    Ok(kp)
}

/// A key pair from the entropy source: 32 bytes of it are the raw seed.
fn generate(kind: KeyKind, entropy: Option<&Path>) -> Result<KeyPair> {
    match entropy {
        None => Ok(KeyPair::new(kind)),
        Some(p) => {
            let mut f =
                std::fs::File::open(p).with_context(|| format!("cannot open {}", p.display()))?;
            let mut raw = [0u8; 32];
            f.read_exact(&mut raw)
                .with_context(|| format!("{} does not provide 32 bytes of entropy", p.display()))?;
            let kp = KeyPair::from_raw_seed(kind, &raw);
            raw.fill(0);
            Ok(kp)
        }
    }
}

fn vanity(kind: KeyKind, pre: &str, entropy: Option<&Path>, max: u64) -> Result<KeyPair> {
    let pre = pre.to_uppercase();
    if pre.is_empty()
        || !pre
            .chars()
            .all(|c| c.is_ascii_uppercase() || ('2'..='7').contains(&c))
    {
        bail!("can not generate base32 encoded strings to match {pre:?} (use A-Z and 2-7)");
    }
    for _ in 0..max {
        let kp = generate(kind, entropy)?;
        if kp.public_key()[1..].starts_with(&pre) {
            return Ok(kp);
        }
    }
    bail!("failed to generate prefix after {max} attempts")
}

fn run(a: Args) -> Result<()> {
    if a.version {
        println!("rnats-nk version {}", env!("CARGO_PKG_VERSION"));
        return Ok(());
    }
    if let Some(kind) = a.gen {
        let kp = match &a.pre {
            Some(p) => vanity(kind, p, a.entropy.as_deref(), a.maxpre)?,
            None => generate(kind, a.entropy.as_deref())?,
        };
        println!("{}", kp.seed()?.as_str());
        if a.pubout || a.pre.is_some() {
            println!("{}", kp.public_key());
        }
        return Ok(());
    }
    if a.entropy.is_some() {
        bail!("entropy file only used when creating keys with -gen");
    }
    if let Some(file) = &a.sign {
        let key = a
            .inkey
            .as_deref()
            .ok_or_else(|| anyhow!("sign requires a seed key via -inkey <file>"))?;
        let kp = read_seed(key)?;
        let content =
            std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
        let sig = kp.sign(&content)?;
        println!("{}", data_encoding::BASE64URL_NOPAD.encode(&sig));
        return Ok(());
    }
    if let Some(file) = &a.verify {
        let kp = match (&a.inkey, &a.pubin) {
            (Some(k), _) => read_seed(k)?,
            (None, Some(p)) => read_key(p)?,
            (None, None) => {
                bail!("verify requires a seed key via -inkey or a public key via -pubin")
            }
        };
        let sigfile = a
            .sigfile
            .as_deref()
            .ok_or_else(|| anyhow!("verify requires a signature via -sigfile"))?;
        let content =
            std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
        let sig_text = std::fs::read_to_string(sigfile)
            .with_context(|| format!("cannot read {}", sigfile.display()))?;
        let sig = nkeys::decode_signature(&sig_text)?;
        kp.verify(&content, &sig)?;
        println!("Verified OK");
        return Ok(());
    }
    if let (Some(k), true) = (&a.inkey, a.pubout) {
        println!("{}", read_key(k)?.public_key());
        return Ok(());
    }
    bail!("nothing to do - see rnats-nk --help (e.g. rnats-nk -gen user -pubout)")
}

fn main() {
    let args = Args::parse_from(normalize_args(std::env::args()));
    if let Err(e) = run(args) {
        eprintln!("{e:#}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_style_flags() {
        let v = normalize_args(
            [
                "nk",
                "-gen",
                "user",
                "-pubout",
                "-e",
                "/dev/urandom",
                "-inkey=x",
                "--sign",
                "f",
                "-v",
            ]
            .map(String::from),
        );
        assert_eq!(
            v,
            [
                "nk",
                "--gen",
                "user",
                "--pubout",
                "-e",
                "/dev/urandom",
                "--inkey=x",
                "--sign",
                "f",
                "-v"
            ]
        );
        let a = Args::parse_from(normalize_args(
            ["nk", "-gen", "X25519", "-pubout"].map(String::from),
        ));
        assert_eq!(a.gen, Some(KeyKind::Curve));
        assert!(a.pubout);
    }
}

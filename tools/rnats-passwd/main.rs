//! rnats-passwd: bcrypt a password for a server config, as nats'
//! `mkpasswd`: a generated password by default, or one typed without echo
//! with `-p`; cost 11 by default (`-c`/`--cost`).
//!
//! Output (as mkpasswd): `pass: <generated>` then `bcrypt hash: $2a$11$...`.
//! The hash uses the `$2a$` prefix like Go's bcrypt; nats-server accepts any
//! of `$2a$`, `$2b$`, `$2x$`, `$2y$`.

use std::io::{BufRead, IsTerminal};

use anyhow::{bail, Context, Result};
use clap::Parser;
use rand::Rng;

/// Password length of generated passwords (mkpasswd's), for enough entropy.
const PASSWORD_LENGTH: usize = 22;
/// mkpasswd's alphabet for generated passwords.
const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!@$#%^&*()";

/// Generate a bcrypt hash of a password for nats-server configs (mkpasswd-compatible).
#[derive(Parser, Debug)]
#[command(name = "rnats-passwd", version)]
struct Args {
    /// Input the password (prompted without echo; read from stdin when it is not a terminal)
    #[arg(short = 'p', long = "password")]
    prompt: bool,
    /// The bcrypt cost, 4-31
    #[arg(short = 'c', long = "cost", default_value_t = 11, value_parser = clap::value_parser!(u32).range(4..=31))]
    cost: u32,
}

fn generate_password() -> String {
    let mut rng = rand::rngs::OsRng;
    (0..PASSWORD_LENGTH)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

fn read_password() -> Result<String> {
    if std::io::stdin().is_terminal() {
        let a = rpassword::prompt_password("Enter Password: ").context("error reading password")?;
        let b =
            rpassword::prompt_password("Reenter Password: ").context("error reading password")?;
        if !rnats::nkeys::ct_eq(a.as_bytes(), b.as_bytes()) {
            bail!("passwords do not match");
        }
        Ok(a)
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("error reading password from stdin")?;
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }
}

/// mkpasswd's `-cost` style flags: Go's flag package takes one dash.
fn normalize_args(args: impl IntoIterator<Item = String>) -> Vec<String> {
    args.into_iter()
        .map(|a| match a.as_str() {
            "-cost" => "--cost".to_string(),
            s if s.starts_with("-cost=") => format!("-{s}"),
            _ => a,
        })
        .collect()
}

fn run(a: Args) -> Result<()> {
    let password = if a.prompt {
        let p = read_password()?;
        if p.is_empty() {
            bail!("empty password");
        }
        p
    } else {
        let p = generate_password();
        println!("pass: {p}");
        p
    };
    let hash = bcrypt::hash_with_result(&password, a.cost)
        .context("error producing bcrypt hash")?
        .format_for_version(bcrypt::Version::TwoA);
    println!("bcrypt hash: {hash}");
    Ok(())
}

fn main() {
    let args = Args::parse_from(normalize_args(std::env::args()));
    if let Err(e) = run(args) {
        eprintln!("Error: {e:#}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passwords() {
        let a = generate_password();
        let b = generate_password();
        assert_eq!(a.len(), PASSWORD_LENGTH);
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| ALPHABET.contains(&c)));
    }

    #[test]
    fn cost_flag_forms() {
        for args in [
            vec!["p", "-c", "5"],
            vec!["p", "--cost", "5"],
            vec!["p", "-cost", "5"],
            vec!["p", "-cost=5"],
        ] {
            let a = Args::parse_from(normalize_args(args.into_iter().map(String::from)));
            assert_eq!(a.cost, 5);
        }
        assert!(Args::try_parse_from(["p", "-c", "3"]).is_err());
        assert_eq!(Args::parse_from(["p"]).cost, 11);
    }
}

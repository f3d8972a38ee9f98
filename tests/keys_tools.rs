//! rnats-nk and rnats-passwd, run as processes.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use rnats::nkeys::{self, KeyKind, KeyPair};

const NK: &str = env!("CARGO_BIN_EXE_rnats-nk");
const PASSWD: &str = env!("CARGO_BIN_EXE_rnats-passwd");

fn nk(args: &[&str]) -> Output {
    Command::new(NK).args(args).output().unwrap()
}

fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[test]
fn gen_every_type() {
    for (name, kind) in [
        ("user", KeyKind::User),
        ("account", KeyKind::Account),
        ("server", KeyKind::Server),
        ("cluster", KeyKind::Cluster),
        ("operator", KeyKind::Operator),
        ("curve", KeyKind::Curve),
        ("x25519", KeyKind::Curve),
    ] {
        // Go-style single-dash flags, as nk takes them.
        let out = stdout(&nk(&["-gen", name, "-pubout"]));
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        let kp = KeyPair::from_seed(lines[0]).unwrap();
        assert_eq!(kp.kind(), kind);
        assert_eq!(kp.public_key(), lines[1]);
        // Without -pubout only the seed.
        let out = stdout(&nk(&["--gen", name]));
        assert_eq!(out.lines().count(), 1);
    }
    let o = nk(&["-gen", "bogus"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown key type"));
}

#[test]
fn entropy_file_and_vanity() {
    let dir = tempfile::tempdir().unwrap();
    let ent = dir.path().join("entropy");
    std::fs::write(&ent, [7u8; 32]).unwrap();
    let out = stdout(&nk(&[
        "-gen",
        "user",
        "-e",
        ent.to_str().unwrap(),
        "-pubout",
    ]));
    let expected = KeyPair::from_raw_seed(KeyKind::User, &[7u8; 32]);
    assert_eq!(out.lines().nth(1).unwrap(), expected.public_key());
    std::fs::write(&ent, [7u8; 10]).unwrap();
    assert!(!nk(&["-gen", "user", "-e", ent.to_str().unwrap()])
        .status
        .success());
    assert!(!nk(&["-inkey", "x", "-pubout", "-e", "y"]).status.success());

    let out = stdout(&nk(&["-gen", "account", "-pre", "A"]));
    assert!(out.lines().nth(1).unwrap().starts_with("AA"), "{out}");
    let o = nk(&["-gen", "user", "-pre", "0!"]);
    assert!(!o.status.success());
    let o = nk(&["-gen", "user", "-pre", "ZZZZZZZZ", "-maxpre", "3"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("3 attempts"));
}

#[test]
fn sign_verify_pubout() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let kp = KeyPair::new_user();
    std::fs::write(p("key.nk"), format!("{}\n", kp.seed().unwrap().as_str())).unwrap();
    std::fs::write(p("key.pub"), format!("{}\n", kp.public_key())).unwrap();
    std::fs::write(p("msg"), b"the message").unwrap();

    assert_eq!(
        stdout(&nk(&["-inkey", &p("key.nk"), "-pubout"])).trim(),
        kp.public_key()
    );

    let sig = stdout(&nk(&["-sign", &p("msg"), "-inkey", &p("key.nk")]));
    let raw = data_encoding::BASE64URL_NOPAD
        .decode(sig.trim().as_bytes())
        .unwrap();
    kp.verify(b"the message", &raw).unwrap();
    std::fs::write(p("msg.sig"), &sig).unwrap();

    for key in [["-pubin", &p("key.pub")], ["-inkey", &p("key.nk")]] {
        let out = stdout(&nk(&[
            "-verify",
            &p("msg"),
            "-sigfile",
            &p("msg.sig"),
            key[0],
            key[1],
        ]));
        assert_eq!(out.trim(), "Verified OK");
    }
    // Another message, or another key, fails with a non-zero exit.
    std::fs::write(p("other"), b"another message").unwrap();
    let o = nk(&[
        "-verify",
        &p("other"),
        "-sigfile",
        &p("msg.sig"),
        "-pubin",
        &p("key.pub"),
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("signature verification failed"));
    let other = KeyPair::new_user();
    std::fs::write(p("other.pub"), other.public_key()).unwrap();
    assert!(!nk(&[
        "-verify",
        &p("msg"),
        "-sigfile",
        &p("msg.sig"),
        "-pubin",
        &p("other.pub")
    ])
    .status
    .success());

    // Missing pieces are explained.
    let o = nk(&["-sign", &p("msg")]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("-inkey"));
    let o = nk(&["-verify", &p("msg"), "-pubin", &p("key.pub")]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("-sigfile"));
    let o = nk(&["-sign", &p("msg"), "-inkey", &p("key.pub")]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("seed"));
    std::fs::write(p("junk"), "not a key").unwrap();
    let o = nk(&["-inkey", &p("junk"), "-pubout"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("valid key"));
    assert!(!nk(&[]).status.success());
    assert!(stdout(&nk(&["-help"])).contains("Usage"));
    assert!(stdout(&nk(&["-v"])).contains("rnats-nk version"));
}

#[test]
fn signature_made_by_nk_verifies_as_nonce_signature() {
    // What a client does with its seed and the server's nonce.
    let dir = tempfile::tempdir().unwrap();
    let kp = KeyPair::new_user();
    let key = dir.path().join("k");
    let nonce = dir.path().join("nonce");
    std::fs::write(&key, kp.seed().unwrap().as_str()).unwrap();
    std::fs::write(&nonce, b"kRz4ZmL2Pv8fE1Sx").unwrap();
    let sig = stdout(&nk(&[
        "-sign",
        nonce.to_str().unwrap(),
        "-inkey",
        key.to_str().unwrap(),
    ]));
    nkeys::verify_nonce_signature(&kp.public_key(), b"kRz4ZmL2Pv8fE1Sx", sig.trim()).unwrap();
}

fn passwd(args: &[&str], stdin: Option<&str>) -> Output {
    let mut c = Command::new(PASSWD)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(s) = stdin {
        c.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    } else {
        drop(c.stdin.take());
    }
    c.wait_with_output().unwrap()
}

#[test]
fn passwd_generated_and_given() {
    let out = stdout(&passwd(&["-c", "4"], None));
    let mut lines = out.lines();
    let pass = lines
        .next()
        .unwrap()
        .strip_prefix("pass: ")
        .unwrap()
        .to_string();
    let hash = lines
        .next()
        .unwrap()
        .strip_prefix("bcrypt hash: ")
        .unwrap()
        .to_string();
    assert_eq!(pass.len(), 22);
    assert!(hash.starts_with("$2a$04$"), "{hash}");
    assert!(bcrypt::verify(&pass, &hash).unwrap());

    let out = stdout(&passwd(&["-p", "--cost", "5"], Some("s3cret pass\n")));
    let hash = out
        .lines()
        .last()
        .unwrap()
        .strip_prefix("bcrypt hash: ")
        .unwrap();
    assert!(hash.starts_with("$2a$05$"));
    assert!(bcrypt::verify("s3cret pass", hash).unwrap());
    assert!(!out.contains("s3cret"));

    // Default cost is 11, as mkpasswd.
    let out = stdout(&passwd(&["-p"], Some("x\n")));
    assert!(out.contains("$2a$11$"));

    let o = passwd(&["-p"], Some("\n"));
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("empty password"));
    assert!(!passwd(&["-c", "99"], None).status.success());
    assert!(stdout(&passwd(&["--help"], None)).contains("--cost"));
}

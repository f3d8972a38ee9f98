//! rnats-nsc command behaviour, run as a process on temporary directories.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rnats::jwt;
use rnats::nkeys::KeyKind;

const NSC: &str = env!("CARGO_BIN_EXE_rnats-nsc");

/// A scratch nsc environment: its own data, keystore and config dirs, and a
/// HOME nothing else uses.
struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new(NSC);
        c.env("HOME", self.path("home"))
            .env_remove("NSC_HOME")
            .env_remove("NKEYS_PATH")
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("XDG_DATA_HOME")
            .current_dir(self.dir.path());
        c.arg("--data-dir")
            .arg(self.path("stores"))
            .arg("--keystore-dir")
            .arg(self.path("keys"))
            .arg("--config-dir")
            .arg(self.path("config"));
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    /// Runs and requires success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "rnats-nsc {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    /// Runs and requires failure; returns stderr.
    fn fails(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(!o.status.success(), "rnats-nsc {args:?} should have failed");
        String::from_utf8(o.stderr).unwrap()
    }

    fn jwt(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path("stores").join(rel)).unwrap()
    }

    fn account(&self, name: &str) -> jwt::AccountClaims {
        jwt::decode_account(&self.jwt(&format!("OP/accounts/{name}/{name}.jwt"))).unwrap()
    }

    fn user(&self, acc: &str, name: &str) -> jwt::UserClaims {
        jwt::decode_user(&self.jwt(&format!("OP/accounts/{acc}/users/{name}.jwt"))).unwrap()
    }

    fn operator(&self) -> jwt::OperatorClaims {
        jwt::decode_operator(&self.jwt("OP/OP.jwt")).unwrap()
    }

    /// Operator OP with SYS, account A, user U.
    fn basic() -> Env {
        let e = Env::new();
        e.ok(&["add", "operator", "-n", "OP", "--sys"]);
        e.ok(&["add", "account", "-n", "A"]);
        e.ok(&["add", "user", "-a", "A", "-n", "U"]);
        e
    }
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn layout_matches_nsc() {
    let e = Env::basic();
    let op = e.operator();
    assert_eq!(op.name, "OP");
    assert!(op.is_self_signed());
    let sys = e.account("SYS");
    assert_eq!(op.nats.system_account, sys.sub);
    assert_eq!(sys.nats.exports.len(), 2);
    assert_eq!(sys.nats.signing_keys.len(), 1);
    let sys_user = e.user("SYS", "sys");
    assert_eq!(sys_user.nats.issuer_account, sys.sub);
    assert!(sys.did_sign(&sys_user));
    let a = e.account("A");
    assert!(op.did_sign(&a));
    let u = e.user("A", "U");
    assert!(a.did_sign(&u));
    assert_eq!(u.limits(), jwt::NatsLimits::UNLIMITED);
    // .nsc marker, keys by public key, creds by operator/account/user.
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(e.path("stores/OP/.nsc")).unwrap()).unwrap();
    assert_eq!(info["kind"], "operator");
    for key in [&op.sub, &a.sub, &u.sub, &sys.sub] {
        let p = e
            .path("keys/keys")
            .join(&key[0..1])
            .join(&key[1..3])
            .join(format!("{key}.nk"));
        assert_eq!(mode(&p), 0o600, "{}", p.display());
        let seed = std::fs::read_to_string(&p).unwrap();
        assert_eq!(
            rnats::nkeys::KeyPair::from_seed(&seed)
                .unwrap()
                .public_key(),
            *key
        );
    }
    for creds in ["keys/creds/OP/A/U.creds", "keys/creds/OP/SYS/sys.creds"] {
        let p = e.path(creds);
        assert_eq!(mode(&p), 0o600);
        let c = rnats::creds::read_file(&p).unwrap();
        rnats::creds::check(&c).unwrap();
    }
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(e.path("config/nsc.json")).unwrap()).unwrap();
    assert_eq!(cfg["operator"], "OP");
    assert_eq!(cfg["account"], "A");
}

#[test]
fn never_overwrites() {
    let e = Env::basic();
    let before = e.jwt("OP/OP.jwt");
    assert!(e
        .fails(&["add", "operator", "-n", "OP"])
        .contains("already exists"));
    assert_eq!(e.jwt("OP/OP.jwt"), before);
    assert!(e
        .fails(&["add", "account", "-n", "A"])
        .contains("already exists"));
    assert!(e
        .fails(&["add", "user", "-a", "A", "-n", "U"])
        .contains("already exists"));
    // Creds output files are not replaced without --force.
    let out = e.path("u.creds");
    let out_s = out.to_str().unwrap();
    e.ok(&["generate", "creds", "-a", "A", "-n", "U", "-o", out_s]);
    assert_eq!(mode(&out), 0o600);
    std::fs::write(&out, "keep me").unwrap();
    assert!(e
        .fails(&["generate", "creds", "-a", "A", "-n", "U", "-o", out_s])
        .contains("--force"));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "keep me");
    e.ok(&[
        "generate", "creds", "-a", "A", "-n", "U", "-o", out_s, "--force",
    ]);
    assert!(rnats::creds::read_file(&out).is_ok());
    assert_eq!(mode(&out), 0o600);
    // Config files neither.
    let conf = e.path("s.conf");
    std::fs::write(&conf, "x").unwrap();
    assert!(e
        .fails(&[
            "generate",
            "config",
            "--mem-resolver",
            "--config-file",
            conf.to_str().unwrap()
        ])
        .contains("already exists"));
}

#[test]
fn creds_to_stdout_match_keystore() {
    let e = Env::basic();
    let out = e.ok(&["generate", "creds", "-a", "A", "-n", "U"]);
    let c = rnats::creds::parse(&out).unwrap();
    assert_eq!(c.key.public_key(), e.user("A", "U").sub);
    assert!(out.starts_with("-----BEGIN NATS USER JWT-----\n"));
}

#[test]
fn edit_account_and_user() {
    let e = Env::basic();
    e.ok(&[
        "edit",
        "account",
        "-n",
        "A",
        "--conns",
        "10",
        "--payload",
        "1k",
        "--data",
        "-1",
        "--js-mem-storage",
        "1MiB",
        "--js-disk-storage",
        "1G",
        "--allow-pub",
        "public.>",
        "--tag",
        "Prod",
    ]);
    let a = e.account("A");
    assert_eq!(a.nats.limits.account.conn, 10);
    assert_eq!(a.nats.limits.nats.payload, 1000);
    assert_eq!(a.nats.limits.jetstream.memory_storage, 1_048_576);
    assert_eq!(a.nats.limits.jetstream.disk_storage, 1_000_000_000);
    assert_eq!(a.nats.default_permissions.publish.allow, vec!["public.>"]);
    assert_eq!(a.nats.generic.tags, vec!["prod"]);

    e.ok(&[
        "edit",
        "user",
        "-a",
        "A",
        "-n",
        "U",
        "--allow-pubsub",
        "a.>",
        "--deny-sub",
        "a.secret",
        "--allow-pub-response=3",
        "--response-ttl",
        "5s",
        "--source-network",
        "10.0.0.0/8",
        "--time",
        "08:00:00-17:00:00",
        "--locale",
        "UTC",
        "--conn-type",
        "standard,websocket",
        "--subs",
        "100",
        "--payload",
        "64k",
        "--bearer",
        "--expiry",
        "30d",
    ]);
    let u = e.user("A", "U");
    let pl = &u.nats.permission_limits;
    assert_eq!(pl.permissions.publish.allow, vec!["a.>"]);
    assert_eq!(pl.permissions.subscribe.allow, vec!["a.>"]);
    assert_eq!(pl.permissions.subscribe.deny, vec!["a.secret"]);
    let resp = pl.permissions.resp.as_ref().unwrap();
    assert_eq!((resp.max_msgs, resp.expires_ns), (3, 5_000_000_000));
    assert_eq!(pl.src, vec!["10.0.0.0/8"]);
    assert_eq!(pl.times[0].start, "08:00:00");
    assert_eq!(pl.allowed_connection_types, vec!["STANDARD", "WEBSOCKET"]);
    assert_eq!(pl.limits.subs, 100);
    assert_eq!(pl.limits.payload, 64_000);
    assert!(pl.bearer_token);
    assert!(u.exp > jwt::now() + 29 * 86400);
    // The stored creds follow the edit.
    let c = rnats::creds::read_file(&e.path("keys/creds/OP/A/U.creds")).unwrap();
    assert_eq!(jwt::decode_user(&c.jwt).unwrap(), u);

    e.ok(&[
        "edit",
        "user",
        "-n",
        "U",
        "--rm",
        "a.>",
        "--rm-response-perms",
        "--bearer=false",
    ]);
    let u = e.user("A", "U");
    assert!(u
        .nats
        .permission_limits
        .permissions
        .publish
        .allow
        .is_empty());
    assert!(u.nats.permission_limits.permissions.resp.is_none());
    assert!(!u.is_bearer());

    // Invalid values are refused with a reason, and nothing is written.
    let before = e.jwt("OP/accounts/A/users/U.jwt");
    assert!(e
        .fails(&["edit", "user", "-n", "U", "--source-network", "nope"])
        .contains("CIDR"));
    assert!(e
        .fails(&["edit", "user", "-n", "U", "--allow-pub", "a..b"])
        .contains("subject"));
    assert!(e
        .fails(&["edit", "user", "-n", "U", "--time", "9-5"])
        .contains("HH:MM:SS"));
    assert!(e
        .fails(&["edit", "user", "-n", "U"])
        .contains("specify an edit option"));
    assert_eq!(e.jwt("OP/accounts/A/users/U.jwt"), before);
}

#[test]
fn operator_signing_keys_and_strict_mode() {
    let e = Env::basic();
    e.ok(&[
        "edit",
        "operator",
        "--sk",
        "generate",
        "-u",
        "http://127.0.0.1:9/jwt/v1",
        "-n",
        "nats://127.0.0.1:4222",
    ]);
    let op = e.operator();
    assert_eq!(op.nats.signing_keys.len(), 1);
    assert_eq!(op.nats.account_server_url, "http://127.0.0.1:9/jwt/v1");
    assert_eq!(op.nats.operator_service_urls, vec!["nats://127.0.0.1:4222"]);
    e.ok(&["edit", "operator", "--require-signing-keys"]);
    assert!(e.operator().nats.strict_signing_key_usage);
    // Accounts are now signed with the signing key.
    e.ok(&["edit", "account", "-n", "A", "--conns", "5"]);
    let a = e.account("A");
    assert_eq!(a.iss, op.nats.signing_keys[0]);
    assert!(e.operator().did_sign(&a));
    assert!(e
        .fails(&["edit", "operator", "-u", "ftp://x"])
        .contains("URL"));
}

#[test]
fn scoped_signing_keys() {
    let e = Env::basic();
    e.ok(&["edit", "account", "-n", "A", "--sk", "generate"]);
    let sk = e
        .account("A")
        .nats
        .signing_keys
        .keys()
        .next()
        .unwrap()
        .to_string();
    e.ok(&[
        "edit",
        "signing-key",
        "-a",
        "A",
        "--sk",
        &sk,
        "--role",
        "service",
        "--allow-pubsub",
        "svc.{{name()}}.>",
        "--subs",
        "10",
    ]);
    let a = e.account("A");
    let scope = a.nats.signing_keys.scope(&sk).unwrap();
    assert_eq!(scope.role, "service");
    assert_eq!(
        scope.template.permissions.publish.allow,
        vec!["svc.{{name()}}.>"]
    );
    assert_eq!(scope.template.limits.subs, 10);
    // A user signed through the role carries no permissions of its own.
    e.ok(&["add", "user", "-a", "A", "-n", "S", "-K", "service"]);
    let s = e.user("A", "S");
    assert_eq!(s.iss, sk);
    assert_eq!(s.nats.issuer_account, a.sub);
    assert!(s.has_empty_permissions());
    assert_eq!(a.signer_scope(&s).unwrap().role, "service");
    assert!(e
        .fails(&[
            "add",
            "user",
            "-a",
            "A",
            "-n",
            "S2",
            "-K",
            "service",
            "--allow-pub",
            "x"
        ])
        .contains("scoped users require no permissions"));
    assert!(e
        .fails(&["edit", "user", "-a", "A", "-n", "S", "--allow-pub", "x"])
        .contains("scoped signing key"));
    // Signed by the public key of the signing key works too.
    e.ok(&["add", "user", "-a", "A", "-n", "S3", "-K", &sk]);
    assert_eq!(e.user("A", "S3").iss, sk);
    // A key that is not the account's is refused.
    let stranger = rnats::nkeys::KeyPair::new_account();
    let seed = stranger.seed().unwrap();
    assert!(e
        .fails(&["add", "user", "-a", "A", "-n", "X", "-K", seed.as_str()])
        .contains("neither the account key nor one of its signing keys"));
}

#[test]
fn revocations() {
    let e = Env::basic();
    let u = e.user("A", "U");
    e.ok(&["revocations", "add-user", "-a", "A", "-n", "U"]);
    let a = e.account("A");
    assert!(a.is_revoked(&u));
    let list = e.ok(&["revocations", "list-users", "-a", "A"]);
    assert!(list.contains(&u.sub), "{list}");
    e.ok(&["revocations", "delete-user", "-a", "A", "-n", "U"]);
    assert!(!e.account("A").is_revoked(&u));
    assert!(e
        .fails(&["revocations", "delete-user", "-a", "A", "-n", "U"])
        .contains("not revoked"));
    // All users, at an RFC 3339 time in the past: this user (issued now) is not revoked.
    e.ok(&[
        "revocations",
        "add-user",
        "-a",
        "A",
        "-u",
        "*",
        "--at",
        "2001-01-01T00:00:00Z",
    ]);
    let a = e.account("A");
    assert_eq!(a.nats.revocations.0["*"], 978_307_200);
    assert!(!a.is_revoked(&u));
    assert!(e
        .fails(&["revocations", "add-user", "-a", "A", "-u", "not-a-key"])
        .contains("not a user public key"));
}

#[test]
fn exports_imports_activation() {
    let e = Env::basic();
    e.ok(&["add", "account", "-n", "B"]);
    e.ok(&["add", "export", "-a", "A", "-n", "pub", "-s", "pub.>"]);
    e.ok(&["add", "export", "-a", "A", "-s", "priv.>", "--private"]);
    e.ok(&[
        "add",
        "export",
        "-a",
        "A",
        "-s",
        "svc.req",
        "--service",
        "--response-type",
        "stream",
        "--latency",
        "lat.svc",
        "--sampling",
        "50",
    ]);
    let a = e.account("A");
    assert_eq!(a.nats.exports.len(), 3);
    let svc = a.nats.export_by_subject("svc.req").unwrap();
    assert_eq!(svc.response_type, "Stream");
    assert_eq!(svc.latency.as_ref().unwrap().sampling, 50);
    assert!(a.nats.export_by_subject("priv.>").unwrap().token_req);
    assert!(e
        .fails(&["add", "export", "-a", "A", "-s", "pub.>"])
        .contains("already exports"));

    // Public import by account name.
    e.ok(&[
        "add",
        "import",
        "-a",
        "B",
        "--src-account",
        "A",
        "--remote-subject",
        "pub.>",
        "-s",
        "from-a.>",
    ]);
    // Private import without a token is refused, with a token accepted.
    assert!(e
        .fails(&[
            "add",
            "import",
            "-a",
            "B",
            "--src-account",
            "A",
            "--remote-subject",
            "priv.>"
        ])
        .contains("activation token"));
    let b = e.account("B");
    let tok = e.path("act.jwt");
    e.ok(&[
        "generate",
        "activation",
        "-a",
        "A",
        "--target-account",
        &b.sub,
        "-s",
        "priv.>",
        "-o",
        tok.to_str().unwrap(),
    ]);
    let act = jwt::decode_activation(
        &rnats::creds::parse_jwt(&std::fs::read_to_string(&tok).unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(act.sub, b.sub);
    assert_eq!(act.iss, a.sub);
    e.ok(&["add", "import", "-a", "B", "--token", tok.to_str().unwrap()]);
    e.ok(&[
        "add",
        "import",
        "-a",
        "B",
        "--src-account",
        &a.sub,
        "--remote-subject",
        "svc.req",
        "--service",
    ]);
    let b = e.account("B");
    assert_eq!(b.nats.imports.len(), 3);
    let private = b
        .nats
        .imports
        .iter()
        .find(|i| i.subject == "priv.>")
        .unwrap();
    assert!(!private.token.is_empty());
    assert_eq!(private.account, a.sub);
    assert!(
        b.validate(jwt::now()).errors().next().is_none(),
        "{:?}",
        b.validate(jwt::now())
    );
    // An activation for another account is refused by the importer.
    assert!(e
        .fails(&["add", "import", "-a", "A", "--token", tok.to_str().unwrap()])
        .contains("is for account"));
    // Activations are only for private exports.
    assert!(e
        .fails(&[
            "generate",
            "activation",
            "-a",
            "A",
            "--target-account",
            "B",
            "-s",
            "pub.>"
        ])
        .contains("public"));
    // Revoke the activation.
    e.ok(&[
        "revocations",
        "add-activation",
        "-a",
        "A",
        "-s",
        "priv.>",
        "--target-account",
        "B",
    ]);
    let a = e.account("A");
    assert!(a
        .nats
        .export_by_subject("priv.>")
        .unwrap()
        .is_activation_revoked(&b.sub, act.iat));
}

#[test]
fn describe_and_list() {
    let e = Env::basic();
    let text = e.ok(&["describe", "account", "-n", "A"]);
    assert!(
        text.contains("Account Details") && text.contains(&e.account("A").sub),
        "{text}"
    );
    let json = e.ok(&["describe", "user", "-a", "A", "-n", "U", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["nats"]["type"], "user");
    let raw = e.ok(&["describe", "operator", "--raw"]);
    assert_eq!(raw.trim(), e.jwt("OP/OP.jwt"));
    let field = e.ok(&["describe", "operator", "--field", "nats.system_account"]);
    assert_eq!(field.trim(), e.account("SYS").sub);
    let f = e.path("stores/OP/accounts/A/A.jwt");
    let text = e.ok(&["describe", "jwt", "-f", f.to_str().unwrap()]);
    assert!(text.contains("Account Details"));
    let accounts = e.ok(&["list", "accounts"]);
    assert!(accounts.contains("A") && accounts.contains("SYS"));
    assert!(e.ok(&["list", "users", "-a", "A"]).contains('U'));
    assert!(e.ok(&["list", "operators"]).contains("OP"));
    let keys = e.ok(&["list", "keys"]);
    assert!(keys.contains(&e.operator().sub));
}

#[test]
fn mem_resolver_config_shape() {
    let e = Env::basic();
    let conf = e.ok(&[
        "generate",
        "config",
        "--mem-resolver",
        "--sys-account",
        "SYS",
    ]);
    let sys = e.account("SYS").sub;
    assert!(conf.contains(&format!("operator: {}", e.jwt("OP/OP.jwt"))));
    assert!(conf.contains(&format!("system_account: {sys}")));
    assert!(conf.contains("resolver: MEMORY"));
    assert!(conf.contains(&format!(
        "  {}: {}",
        e.account("A").sub,
        e.jwt("OP/accounts/A/A.jwt")
    )));
    let nats = e.ok(&["generate", "config", "--nats-resolver"]);
    assert!(nats.contains("type: full") && nats.contains(&format!("system_account: {sys}")));
    assert!(e.fails(&["generate", "config"]).contains("config type"));
}

#[test]
fn context_and_env_vars() {
    // NSC_HOME and NKEYS_PATH take the place of --config-dir and --keystore-dir.
    let e = Env::new();
    let run = |args: &[&str]| {
        Command::new(NSC)
            .env("HOME", e.path("home"))
            .env("NSC_HOME", e.path("cfg"))
            .env("NKEYS_PATH", e.path("nkeys"))
            .env("XDG_DATA_HOME", e.path("xdg"))
            .env_remove("XDG_CONFIG_HOME")
            .args(args)
            .output()
            .unwrap()
    };
    assert!(run(&["add", "operator", "-n", "O1"]).status.success());
    assert!(e.path("cfg/nsc.json").is_file());
    assert!(e.path("nkeys/keys/O").is_dir());
    assert!(e.path("xdg/nats/nsc/stores/O1/O1.jwt").is_file());
    assert!(run(&["add", "operator", "-n", "O2"]).status.success());
    // Two operators: the current one is the last added; select switches.
    assert!(run(&["add", "account", "-n", "X"]).status.success());
    assert!(e.path("xdg/nats/nsc/stores/O2/accounts/X/X.jwt").is_file());
    assert!(run(&["select", "operator", "O1"]).status.success());
    assert!(run(&["add", "account", "-n", "Y"]).status.success());
    assert!(e.path("xdg/nats/nsc/stores/O1/accounts/Y/Y.jwt").is_file());
    let env = String::from_utf8(run(&["env"]).stdout).unwrap();
    assert!(env.contains("current operator: O1"), "{env}");
    // Defaults under HOME when nothing is set.
    let o = Command::new(NSC)
        .env("HOME", e.path("home2"))
        .env_remove("NSC_HOME")
        .env_remove("NKEYS_PATH")
        .env_remove("XDG_DATA_HOME")
        .env_remove("XDG_CONFIG_HOME")
        .args(["add", "operator", "-n", "H"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(e
        .path("home2/.local/share/nats/nsc/stores/H/H.jwt")
        .is_file());
    assert!(e.path("home2/.local/share/nats/nsc/keys/keys/O").is_dir());
    assert!(e.path("home2/.config/nats/nsc/nsc.json").is_file());
}

#[test]
fn clear_errors() {
    let e = Env::new();
    assert!(e
        .fails(&["add", "account", "-n", "A"])
        .contains("no operator"));
    e.ok(&["add", "operator", "-n", "OP"]);
    assert!(e.fails(&["add", "user", "-n", "U"]).contains("no accounts"));
    e.ok(&["add", "account", "-n", "A"]);
    e.ok(&["add", "account", "-n", "B"]);
    assert!(e
        .fails(&["describe", "account", "-n", "Z"])
        .contains("not found"));
    assert!(e
        .fails(&["add", "account", "-n", "../evil"])
        .contains("file name"));
    assert!(e
        .fails(&["generate", "creds", "-a", "A"])
        .contains("no users"));
    // A user whose seed is not in the keystore has no creds.
    let u = rnats::nkeys::KeyPair::new_user().public_key();
    e.ok(&["add", "user", "-a", "A", "-n", "ext", "-k", &u]);
    assert!(e
        .fails(&["generate", "creds", "-a", "A", "-n", "ext"])
        .contains("keystore"));
    // Signing with a key of the wrong role.
    let seed = rnats::nkeys::KeyPair::new(KeyKind::Operator)
        .seed()
        .unwrap();
    assert!(e
        .fails(&[
            "edit",
            "account",
            "-n",
            "A",
            "--conns",
            "1",
            "-K",
            seed.as_str()
        ])
        .contains("not allowed to sign"));
}

#[test]
fn help_everywhere() {
    let e = Env::new();
    for args in [
        vec!["--help"],
        vec!["add", "--help"],
        vec!["add", "operator", "--help"],
        vec!["add", "account", "--help"],
        vec!["add", "user", "--help"],
        vec!["add", "export", "--help"],
        vec!["add", "import", "--help"],
        vec!["edit", "operator", "--help"],
        vec!["edit", "account", "--help"],
        vec!["edit", "user", "--help"],
        vec!["edit", "signing-key", "--help"],
        vec!["describe", "account", "--help"],
        vec!["list", "--help"],
        vec!["generate", "creds", "--help"],
        vec!["generate", "config", "--help"],
        vec!["generate", "activation", "--help"],
        vec!["generate", "nkey", "--help"],
        vec!["revocations", "add-user", "--help"],
        vec!["push", "--help"],
        vec!["delete", "user", "--help"],
        vec!["select", "--help"],
    ] {
        let o = e.run(&args);
        assert!(o.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("Usage"),
            "{args:?}"
        );
    }
}

#[test]
fn push_http() {
    let e = Env::basic();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let mut got = Vec::new();
        for _ in 0..2 {
            let (mut s, _) = listener.accept().unwrap();
            s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
                .unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // Read head and the Content-Length body.
            loop {
                let n = s.read(&mut chunk).unwrap();
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("Content-Length: "))
                        .unwrap()
                        .trim()
                        .parse()
                        .unwrap();
                    if body.len() >= len {
                        got.push((head.lines().next().unwrap().to_string(), body.to_string()));
                        break;
                    }
                }
                assert!(n > 0);
            }
            let reply = if got.len() == 1 {
                "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
            } else {
                "HTTP/1.1 400 Bad Request\r\nContent-Length: 13\r\n\r\nbad jwt issue"
            };
            s.write_all(reply.as_bytes()).unwrap();
        }
        got
    });
    let url = format!("http://127.0.0.1:{port}/jwt/v1");
    e.ok(&["push", "-a", "A", "-u", &url]);
    let err = e.fails(&["push", "-a", "A", "-u", &url]);
    assert!(
        err.contains("400") && err.contains("bad jwt issue"),
        "{err}"
    );
    let got = server.join().unwrap();
    let a = e.account("A");
    assert_eq!(
        got[0].0,
        format!("POST /jwt/v1/accounts/{} HTTP/1.1", a.sub)
    );
    assert_eq!(got[0].1, e.jwt("OP/accounts/A/A.jwt"));
    assert!(e
        .fails(&["push", "-a", "A"])
        .contains("no account server URL"));
    assert!(e
        .fails(&["push", "-a", "A", "-u", "https://x"])
        .contains("https"));
}

#[test]
fn delete_user() {
    let e = Env::basic();
    let u = e.user("A", "U");
    e.ok(&[
        "delete",
        "user",
        "-a",
        "A",
        "-n",
        "U",
        "--revoke",
        "--rm-nkey",
        "--rm-creds",
    ]);
    assert!(!e.path("stores/OP/accounts/A/users/U.jwt").exists());
    assert!(!e.path("keys/creds/OP/A/U.creds").exists());
    assert!(e.account("A").is_revoked(&u));
}

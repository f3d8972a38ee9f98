//! The example configs in `config/` must load, and config errors must name
//! file, line and key, because operators fix configs from those messages.

use rnats::config::Options;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn config_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config")
}

fn example(name: &str) -> (Options, Vec<String>) {
    let path = config_dir().join(name);
    Options::from_file_with_warnings(&path).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn every_example_config_loads_without_warnings() {
    let mut seen = 0;
    for entry in std::fs::read_dir(config_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("conf") {
            continue;
        }
        let (opts, warnings) = Options::from_file_with_warnings(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(warnings.is_empty(), "{}: {warnings:?}", path.display());
        assert_eq!(opts.config_file.as_deref(), Some(path.as_path()));
        opts.validate().unwrap();
        seen += 1;
    }
    assert!(seen >= 2, "expected the example configs in config/");
}

#[test]
fn plain_example_values() {
    let (o, _) = example("rnats.conf");
    assert_eq!(o.host, "0.0.0.0");
    assert_eq!(o.port, 4222);
    assert_eq!(o.http_port, 8222);
    assert_eq!(o.server_name, "rnats");
    assert_eq!(o.max_payload, 1024 * 1024);
    assert_eq!(o.max_pending, 64 * 1024 * 1024);
    assert_eq!(o.max_control_line, 4096);
    assert_eq!(o.max_connections, 65536);
    assert_eq!(o.ping_interval, Duration::from_secs(120));
    assert_eq!(o.write_deadline, Duration::from_secs(10));
    assert!(o.logtime && !o.debug && !o.trace);
    assert!(o.authorization_block.is_none());
}

#[test]
fn full_example_values() {
    let (o, _) = example("full.conf");
    assert_eq!(o.server_name, "rnats-full");
    assert_eq!((o.host.as_str(), o.port), ("0.0.0.0", 4222));
    assert_eq!((o.http_host.as_str(), o.http_port), ("127.0.0.1", 8222));
    assert_eq!(o.server_tags, vec!["region:local", "tier:dev"]);
    assert_eq!(o.server_metadata["owner"], "platform-team");
    assert_eq!(o.lame_duck_duration, Duration::from_secs(120));
    assert_eq!(o.lame_duck_grace_period, Duration::from_secs(10));
    assert_eq!(o.auth_timeout, Some(Duration::from_secs(2)));
    // The authorization timeout came through the $AUTH_TIMEOUT variable;
    // the security blocks rnats does not enforce yet are commented out.
    assert!(o.accounts_block.is_none() && o.no_auth_user.is_none());
}

/// Writes `text` to a fresh temp dir as `name`, returning the dir guard and
/// the path.
fn temp_conf(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

fn load_err(text: &str) -> (String, PathBuf, tempfile::TempDir) {
    let (dir, path) = temp_conf("bad.conf", text);
    let e = Options::from_file(&path).expect_err("expected an error");
    (e.to_string(), path, dir)
}

#[test]
fn type_error_names_file_line_and_key() {
    let (e, path, _dir) = load_err("port: 4222\n\nmax_payload: lots\n");
    assert_eq!(
        e,
        format!(
            "{}:3:1: max_payload: expected an integer, got string",
            path.display()
        )
    );
}

/// A nested error is nats-server's text after the position (which names
/// the block itself), without rnats' key path.
#[test]
fn nested_error_is_nats_server_text() {
    let (e, path, _dir) = load_err("authorization {\n  user: a\n  timeout: [1]\n}\n");
    assert_eq!(
        e,
        format!(
            "{}:3:3: error parsing authorization config, 'timeout' wrong type",
            path.display()
        )
    );
}

#[test]
fn unknown_field_is_an_error_like_nats_server() {
    let (e, path, _dir) = load_err("port: 4222\n  max_paylod: 1MB\n");
    assert_eq!(
        e,
        format!("{}:2:3: unknown field \"max_paylod\"", path.display())
    );
}

#[test]
fn syntax_error_has_position() {
    let (e, path, _dir) = load_err("port: 4222\ncluster {\n  name: x\n");
    assert_eq!(
        e,
        format!("{}:4:1: Unexpected EOF processing map.", path.display())
    );
    let (e, path, _dir) = load_err("a = \"ok\"\nb = \"bad \\q\"\n");
    assert!(
        e.starts_with(&format!(
            "{}:2:10: Invalid escape character 'q'",
            path.display()
        )),
        "{e}"
    );
}

#[test]
fn payload_above_pending_points_at_max_payload() {
    let (e, path, _dir) = load_err("max_pending: 1MB\nmax_payload: 4MB\n");
    assert_eq!(
        e,
        format!(
            "{}:2:1: max_payload (4194304) cannot be higher than max_pending (1048576)",
            path.display()
        )
    );
}

#[test]
fn missing_variable_names_line() {
    let (e, path, _dir) = load_err("\n\nport: $RNATS_EXAMPLE_TEST_NO_SUCH_VAR\n");
    assert_eq!(
        e,
        format!(
            "{}:3:7: variable reference for 'RNATS_EXAMPLE_TEST_NO_SUCH_VAR' on line 3 can not be found",
            path.display()
        )
    );
}

#[test]
fn errors_in_includes_name_the_included_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("limits.conf"),
        "max_payload: 1MB\nmax_connections: many\n",
    )
    .unwrap();
    let main = dir.path().join("main.conf");
    std::fs::write(&main, "port: 4222\ninclude limits.conf\n").unwrap();
    let e = Options::from_file(&main).unwrap_err().to_string();
    assert_eq!(
        e,
        format!(
            "{}:2:1: max_connections: expected an integer, got string",
            dir.path().join("limits.conf").display()
        )
    );
    // And a working include is applied.
    std::fs::write(
        dir.path().join("limits.conf"),
        "max_payload: 2MB\nmax_connections: 10\n",
    )
    .unwrap();
    let o = Options::from_file(&main).unwrap();
    assert_eq!((o.max_payload, o.max_connections), (2 << 20, 10));
}

#[test]
fn missing_config_file() {
    let e = Options::from_file(Path::new("/nonexistent/rnats.conf")).unwrap_err();
    assert!(e.pos.is_none());
    assert!(
        e.to_string().starts_with("error opening config file:"),
        "{e}"
    );
}

#[test]
fn the_cluster_example_configs_load_and_form_one_cluster() {
    let dir = config_dir().join("cluster");
    let mut ports = Vec::new();
    for n in 1..=3 {
        let path = dir.join(format!("node{n}.conf"));
        let (opts, warnings) = Options::from_file_with_warnings(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(warnings.is_empty(), "{}: {warnings:?}", path.display());
        let c = rnats::cluster::config::ClusterConfig::from_options(&opts)
            .unwrap()
            .expect("a cluster block");
        assert_eq!(c.name.as_deref(), Some("demo"));
        assert!(c.routing());
        // Members list the seed's route port only.
        if n > 1 {
            assert_eq!(c.routes.len(), 1);
            assert_eq!(c.routes[0].port, ports[0]);
        }
        ports.push(c.port as u16);
    }
}

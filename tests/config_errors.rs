//! Config errors of the `accounts {}` and `authorization {}` blocks read as
//! nats-server 2.15.1's: each config below is refused, and the message after
//! `FILE:LINE:COL: ` is the text nats-server prints for it (taken from the
//! reference binary). Where nats-server only panics (a failed Go type
//! assertion) rnats has its own text, listed separately.

mod common;

use common::try_start_conf;

/// Starts a server from `conf` (as `rnats-server -c` would, start-up checks
/// included) and returns the refusal without its `FILE:LINE:COL: `.
async fn refusal(conf: &str) -> String {
    let err = match try_start_conf(conf).await {
        Ok(handle) => {
            handle.shutdown().await;
            panic!("accepted:\n{conf}");
        }
        Err(e) => e,
    };
    let (_, rest) = err
        .split_once("server.conf:")
        .unwrap_or_else(|| panic!("no position in {err:?} for\n{conf}"));
    let (line, rest) = rest.split_once(':').unwrap();
    let (col, message) = rest.split_once(": ").unwrap();
    assert!(
        line.parse::<usize>().is_ok() && col.parse::<usize>().is_ok(),
        "{err}"
    );
    message.to_owned()
}

async fn check_table(table: &[(&str, &str)]) {
    let mut wrong = Vec::new();
    for (conf, want) in table {
        let got = refusal(conf).await;
        if got != *want {
            wrong.push(format!("{conf}\n  want: {want}\n  got:  {got}"));
        }
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}

const UKEY: &str = "UA3C5TBZYK5GJQJRWPMU6NFY5JNAEVQB2V2TUZFZDHFJFUYVKTTUOFKZ";

#[tokio::test]
async fn top_level_and_authorization_texts() {
    check_table(&[
        ("system_account: 1", "system account name must be a string"),
        ("system: [a]", "system account name must be a string"),
        (
            "authorization { users: 1 }",
            "Expected users field to be an array, got 1",
        ),
        (
            "authorization { users: [ bob ] }",
            "Expected user entry to be a map/struct, got bob",
        ),
        (
            "authorization { users: [ {password: a} ] }",
            "User entry requires a user",
        ),
        (
            "authorization { users: [ {nkey: UBAD} ] }",
            "Not a valid public nkey for a user",
        ),
        (
            "authorization { users: [ {nkey: ABJHLOVMPA4CI6R5KLNGOB4GSLNIY7IOUPAJC4YFNDLQVIOBYQGUWVLA} ] }",
            "Not a valid public nkey for a user",
        ),
        (
            &format!("authorization {{ users: [ {{nkey: {UKEY}, password: x}} ] }}"),
            "Nkey users do not take usernames or passwords",
        ),
        (
            "authorization { users: [ {user: a, foo: 1} ] }",
            "unknown field \"foo\"",
        ),
        (
            "authorization { users: [ {user: a, account: A} ] }",
            "unknown field \"account\"",
        ),
        (
            &format!("authorization {{ users: [ {{nkey: {UKEY}}}, {{nkey: {UKEY}}} ] }}"),
            &format!("Duplicate nkey \"{UKEY}\" detected"),
        ),
        (
            "authorization { default_permissions: 1 }",
            "Expected permissions to be a map/struct, got 1",
        ),
        (
            "authorization { permissions: true }",
            "Expected permissions to be a map/struct, got true",
        ),
        (
            "authorization { default_permissions: { subscribe: \"foo..bar\" } }",
            "subject \"foo..bar\" is not a valid subject",
        ),
    ])
    .await;
}

#[tokio::test]
async fn connection_type_and_permission_texts() {
    let user =
        |rest: &str| format!("authorization {{ users: [ {{user: a, password: a, {rest}}} ] }}");
    check_table(&[
        (
            &user("allowed_connection_types: 1"),
            "error parsing allowed connection types: unsupported type int64",
        ),
        (
            &user("allowed_connection_types: [ STANDARD, 1 ]"),
            "error parsing allowed connection types: unsupported type in array int64",
        ),
        (
            &user("allowed_connection_types: [ foo, STANDARD, bar ]"),
            "invalid connection types [\"FOO\" \"BAR\"]",
        ),
        (
            &user("permissions: 1"),
            "Expected permissions to be a map/struct, got 1",
        ),
        (
            &user("permissions: {foo: 1}"),
            "Unknown field \"foo\" parsing permissions",
        ),
        (
            &user("permissions: {publish: 1}"),
            "Expected subject permissions to be a subject, or array of subjects, got int64",
        ),
        (
            &user("permissions: {publish: {allow: 1}}"),
            "Expected subject permissions to be a subject, or array of subjects, got int64",
        ),
        (
            &user("permissions: {publish: [ foo, 1 ]}"),
            "Subject in permissions array cannot be cast to string",
        ),
        (
            &user("permissions: {publish: \"foo..bar\"}"),
            "subject \"foo..bar\" is not a valid subject",
        ),
        (
            &user("permissions: {publish: \"foo q\"}"),
            "subject \"foo q\" is not a valid subject",
        ),
        (
            &user("permissions: {subscribe: \"foo q x\"}"),
            "subject \"foo q x\" is not a valid subject",
        ),
        (
            &user("permissions: {subscribe: \"foo..bar q\"}"),
            "subject \"foo..bar\" is not a valid subject",
        ),
        (
            &user("permissions: {subscribe: \"foo q..x\"}"),
            "queue \"q..x\" is not a valid queue",
        ),
        (
            &user("permissions: {subscribe: {deny: \"foo..bar\"}}"),
            "subject \"foo..bar\" is not a valid subject",
        ),
        (
            &user("permissions: {allow_responses: \"yes\"}"),
            "error parsing response permissions, expected a boolean or a map",
        ),
        (
            &user("permissions: {allow_responses: {expires: \"abc\"}}"),
            "error parsing expires: time: invalid duration \"abc\"",
        ),
        (
            &user("permissions: {allow_responses: {expires: 1}}"),
            "error parsing expires, not a duration string",
        ),
        (
            &user("permissions: {allow_responses: {foo: 1}}"),
            "Unknown field \"foo\" parsing permissions",
        ),
        (
            &user("permissions: {allow_response: true}"),
            "Unknown field \"allow_response\" parsing permissions",
        ),
    ])
    .await;
}

#[tokio::test]
async fn account_definition_texts() {
    check_table(&[
        (
            "accounts { A { nkey: UBAD } }",
            "Not a valid public nkey for an account: \"UBAD\"",
        ),
        (
            &format!("accounts {{ A {{ nkey: {UKEY} }} }}"),
            &format!("Not a valid public nkey for an account: \"{UKEY}\""),
        ),
        (
            "accounts { A { nkey: 1 } }",
            "Not a valid public nkey for an account: '\\x01'",
        ),
        ("accounts { A { foo: 1 } }", "unknown field \"foo\""),
        (
            "accounts { A { users: 1 } }",
            "Expected users field to be an array, got 1",
        ),
        (
            "accounts { A { users: [ 1 ] } }",
            "Expected user entry to be a map/struct, got 1",
        ),
        (
            &format!(
                "accounts {{\n A {{ users: [ {{nkey: {UKEY}}} ] }}\n B {{ users: [ {{nkey: {UKEY}}} ] }}\n}}"
            ),
            &format!("Duplicate nkey \"{UKEY}\" detected"),
        ),
        (
            "accounts { A { default_permissions: 1 } }",
            "Expected permissions to be a map/struct, got 1",
        ),
        (
            "accounts { A { limits: 1 } }",
            "Expected account limits to be a map/struct, got 1",
        ),
        (
            "accounts { A { jetstream: foo } }",
            "Expected 'enabled' or 'disabled' for string value, got 'foo'",
        ),
        (
            "accounts { A { jetstream: [ 1 ] } }",
            "Expected map, bool or string to define JetStream, got []interface {}",
        ),
        (
            "accounts { A { jetstream: { max_mem: true } } }",
            "Expected a parseable size for \"max_mem\", got true",
        ),
        (
            "accounts { A { jetstream: { max_bytes_required: 1 } } }",
            "Expected a parseable bool for \"max_bytes_required\", got 1",
        ),
        (
            "accounts { A { jetstream: { cluster_traffic: foo } } }",
            "Expected 'system' or 'owner' string value for \"cluster_traffic\", got foo",
        ),
        (
            "accounts { A { jetstream: { cluster_traffic: 1 } } }",
            "Expected either 'system' or 'owner' string value for \"cluster_traffic\", got 1",
        ),
        (
            "accounts { A { jetstream: { foo: 1 } } }",
            "unknown field \"foo\"",
        ),
    ])
    .await;
}

#[tokio::test]
async fn export_texts() {
    let exports = |e: &str| format!("accounts {{ A {{ exports: [ {e} ] }}, B {{}} }}");
    check_table(&[
        (
            "accounts { A { exports: 1 } }",
            "Exports should be an array, got int64",
        ),
        (
            &exports("1"),
            "Export Items should be a map with type entry, got int64",
        ),
        (
            &exports("{stream: foo, service: bar}"),
            "Detected service \"bar\" but already saw a stream",
        ),
        (
            &exports("{stream: 1}"),
            "Expected stream name to be string, got int64",
        ),
        (
            &exports("{service: 1}"),
            "Expected service name to be string, got int64",
        ),
        (
            &exports("{response: stream, stream: foo}"),
            "Detected response directive on non-service",
        ),
        (
            &exports("{stream: foo, latency: lat}"),
            "Detected latency directive on non-service",
        ),
        (
            &exports("{stream: foo, allow_trace: true}"),
            "Detected allow_trace directive on non-service",
        ),
        (
            &exports("{service: foo, response: 1}"),
            "Expected response type to be string, got int64",
        ),
        (
            &exports("{service: foo, response: stream, response_type: chunked}"),
            "Duplicate response type definition",
        ),
        (
            &exports("{service: foo, threshold: 1}"),
            "Expected response threshold to be a parseable time duration, got int64",
        ),
        (
            &exports("{service: foo, threshold: \"5\"}"),
            "Expected response threshold to be a parseable time duration, got \"5\"",
        ),
        (
            &exports("{service: foo, threshold: \"1s\", response_threshold: \"2s\"}"),
            "Duplicate response threshold detected",
        ),
        (&exports("{service: foo, foo: 1}"), "unknown field \"foo\""),
        (
            &exports("{service: foo, description: x}"),
            "unknown field \"description\"",
        ),
        (
            &exports("{stream: \"foo.bar\", account_token_position: 2}"),
            "Error adding stream export \"foo.bar\": sublist: invalid subject",
        ),
        (
            &exports("{service: \"foo.*\", account_token_position: 3}"),
            "Error adding service export \"foo.*\": sublist: invalid subject",
        ),
    ])
    .await;
}

#[tokio::test]
async fn import_texts() {
    let imports = |i: &str| {
        format!(
            "accounts {{\n A {{ exports: [ {{stream: foo}}, {{service: \">\"}} ] }}\n B {{ imports: [ {i} ] }}\n}}"
        )
    };
    check_table(&[
        (
            "accounts { A { imports: 1 } }",
            "Imports should be an array, got int64",
        ),
        (
            &imports("1"),
            "Import Items should be a map with type entry, got int64",
        ),
        (
            &imports("{stream: foo}"),
            "Stream entry should be an account map, got string",
        ),
        (
            &imports("{service: foo}"),
            "Service entry should be an account map, got string",
        ),
        (
            &imports("{stream: {account: A, subject: foo, foo: 1}}"),
            "unknown field \"foo\"",
        ),
        (
            &imports("{stream: {account: A, subject: foo}, foo: 1}"),
            "unknown field \"foo\"",
        ),
        (
            &imports("{service: {account: A, subject: bar}, allow_trace: true}"),
            "Detected allow_trace directive on a non-stream",
        ),
        (
            &imports("{allow_trace: true, service: {account: A, subject: bar}}"),
            "Detected allow_trace directive on a non-stream",
        ),
        (
            &imports("{service: {account: A, subject: foo}}, {service: {account: A, subject: foo}}"),
            "Duplicate service import subject \"foo\", previously used in import for account \"A\", subject \"foo\"",
        ),
        (
            &imports("{service: {account: A, subject: \"foo..bar\"}}"),
            "Error adding service import \"foo..bar\": sublist: invalid subject",
        ),
        (
            &imports("{service: {account: A, subject: \"foo.*\"}, to: \"bar.$2\"}"),
            "Error adding service import \"foo.*\": failed to create mapping transform for service import subject from \"bar.$2\" to \"foo.*\": invalid mapping destination: wildcard index out of range in $2: [2]",
        ),
    ])
    .await;
}

/// The checks nats-server runs when it starts (rnats also runs them for
/// `-t`): their texts, without a doubled `no_auth_user:`.
#[tokio::test]
async fn start_up_texts() {
    check_table(&[
        (
            "no_auth_user: bob",
            "no_auth_user: \"bob\" present, but users/nkeys are not defined",
        ),
        (
            "no_auth_user: bob\nauthorization { token: t }",
            "no_auth_user: \"bob\" present, but users/nkeys are not defined",
        ),
        (
            "no_auth_user: bob\nauthorization { users: [ {user: a, password: a} ] }",
            "no_auth_user: \"bob\" not present as user or nkey in authorization block or account configuration",
        ),
        (
            "no_auth_user: bob\naccounts { A { users: [ {user: a, password: a} ] } }",
            "no_auth_user: \"bob\" not present as user or nkey in authorization block or account configuration",
        ),
        (
            "system_account: NOPE",
            "error resolving system account: account missing",
        ),
        (
            // rnats runs no JetStream: enabling it at all stops the server
            // before nats-server's system-account rule could apply.
            "jetstream { store_dir: \"/nonexistent\" }\nsystem_account: SYS\naccounts { SYS { jetstream: enabled } }",
            "JetStream is not available in rnats; remove the jetstream block or set it to disabled",
        ),
    ])
    .await;
    // JetStream enabled for the system account is fine while the server
    // does not enable JetStream.
    let h = try_start_conf("system_account: SYS\naccounts { SYS { jetstream: enabled } }")
        .await
        .unwrap();
    h.shutdown().await;
}

/// Where nats-server panics on a failed type assertion (`interface
/// conversion: ...`), rnats refuses the config with its own text.
#[tokio::test]
async fn rnats_texts_where_nats_server_panics() {
    check_table(&[
        (
            "authorization { user: 1 }",
            "authorization.user: expected a string, got integer",
        ),
        (
            "authorization { proxy_required: \"x\" }",
            "authorization.proxy_required: expected a boolean, got string",
        ),
        (
            "authorization { users: [ {user: 1} ] }",
            "authorization.users.user: expected a string, got integer",
        ),
        (
            "authorization { users: [ {user: a, proxy_required: \"x\"} ] }",
            "authorization.users.proxy_required: expected a boolean, got string",
        ),
        (
            "authorization { users: [ {user: a, permissions: {allow_responses: {max: \"x\"}}} ] }",
            "authorization.users.permissions.allow_responses.max: expected an integer, got string",
        ),
        (
            "no_auth_user: 1",
            "no_auth_user: expected a string, got integer",
        ),
        (
            "accounts { A { exports: [ {stream: foo, account_token_position: x} ] } }",
            "account_token_position: expected an integer, got string",
        ),
        (
            "accounts { A { exports: [ {service: foo, allow_trace: x} ] } }",
            "Expected allow_trace to be a boolean",
        ),
        (
            "accounts { A { exports: [ {service: foo} ] }, B { imports: [ {service: {account: A, subject: foo}, share: x} ] } }",
            "Expected share to be a boolean",
        ),
    ])
    .await;
}

/// Features rnats does not have are refused as such, with file and line.
#[tokio::test]
async fn unsupported_features_say_so() {
    check_table(&[(
        "accounts { A { msg_trace: { dest: trace } } }",
        "\"msg_trace\": account message tracing is not supported by this version of rnats",
    )])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.conf");
    std::fs::write(
        &path,
        "authorization {\n  auth_callout { issuer: x, auth_users: [a] }\n}\n",
    )
    .unwrap();
    let opts = rnats::config::Options::from_file(&path).unwrap();
    let e = rnats::server::support::check(&opts)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        format!(
            "{}:2:3: authorization auth_callout is not supported by this version of rnats",
            path.display()
        )
    );
}

//! Command-line flags compatible with nats-server's.
//!
//! nats-server parses flags with Go's `flag` package, so `-p 4222`,
//! `-p=4222`, `--p 4222` and `--port=4222` are all the same flag, and boolean
//! flags take a value only as `-T=false`. Scripts written for nats-server
//! therefore need a parser with those rules rather than a GNU-style one.
//! Flags override values from the config file.

use std::path::PathBuf;

use crate::cluster::config::ClusterFlags;
use crate::config::Options;

/// Flags as given; `None` = not given, so the config file's value stays.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Cli {
    pub config: Option<PathBuf>,
    pub test_config: bool,
    pub help: bool,
    pub version: bool,
    pub host: Option<String>,
    pub port: Option<i32>,
    pub server_name: Option<String>,
    pub http_port: Option<i32>,
    pub https_port: Option<i32>,
    pub pid_file: Option<PathBuf>,
    pub ports_file_dir: Option<PathBuf>,
    pub client_advertise: Option<String>,
    pub log_file: Option<PathBuf>,
    pub log_size_limit: Option<i64>,
    pub logtime: Option<bool>,
    pub debug: Option<bool>,
    pub trace: Option<bool>,
    pub trace_verbose: Option<bool>,
    pub user: Option<String>,
    pub pass: Option<String>,
    pub auth: Option<String>,
    /// `--signal <cmd>[=<pid or pid file>]`: signal a running server.
    pub signal: Option<String>,
    /// `--tls`, `--tlsverify`, `--tlscert`, `--tlskey`, `--tlscacert`: as
    /// in nats-server, any of them replaces the file's `tls {}` block with
    /// one made of the flags; `--tls=false` turns TLS off.
    pub tls: TlsFlags,
    /// `-sd/--store_dir`: JetStream's storage directory, accepted and
    /// ignored (rnats has no JetStream).
    pub store_dir: Option<String>,
    /// `-js/--jetstream`: refused, rnats has no JetStream.
    pub jetstream: bool,
    /// The cluster flags (`--cluster`, `--cluster_listen`, `--cluster_name`,
    /// `--routes`, `--cluster_advertise`, `--no_advertise`,
    /// `--connect_retries`), laid over the `cluster` block.
    pub cluster: ClusterFlags,
}

/// The TLS flags as given.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct TlsFlags {
    pub tls: Option<bool>,
    pub verify: Option<bool>,
    pub cert: Option<String>,
    pub key: Option<String>,
    pub ca: Option<String>,
}

impl TlsFlags {
    /// `--tls=false`: TLS off, whatever the file says.
    fn disabled(&self) -> bool {
        self.tls == Some(false)
    }

    /// Some TLS flag was given (and TLS is not turned off).
    fn overrides(&self) -> bool {
        !self.disabled()
            && (self.tls.is_some()
                || self.verify.is_some()
                || self.cert.is_some()
                || self.key.is_some()
                || self.ca.is_some())
    }

    /// The `tls {}` block the flags stand for, as the file would write it.
    fn block(&self) -> crate::config::Map {
        use crate::config::{Key, Kind, Map, Pos, Value};
        let pos = Pos {
            file: std::sync::Arc::new(PathBuf::from("<command line>")),
            line: 1,
            col: 1,
        };
        let mut m = Map::default();
        let mut put = |name: &str, kind: Kind| {
            m.insert(
                Key {
                    name: name.to_owned(),
                    pos: pos.clone(),
                },
                Value {
                    kind,
                    pos: pos.clone(),
                },
            )
        };
        for (name, v) in [
            ("cert_file", &self.cert),
            ("key_file", &self.key),
            ("ca_file", &self.ca),
        ] {
            if let Some(v) = v {
                put(name, Kind::String(v.clone()));
            }
        }
        put("verify", Kind::Bool(self.verify.unwrap_or(false)));
        m
    }
}

/// The usage text for `--help`.
pub const USAGE: &str = "\
Usage: rnats-server [options]

Server Options:
    -a, --addr, --net <host>         Bind to host address (default: 0.0.0.0)
    -p, --port <port>                Use port for clients (default: 4222, -1 for any free port)
    -n, --name, --server_name <name> Server name (default: the server's id)
    -P, --pid <file>                 File to store the process id
    -m, --http_port <port>           Use port for http monitoring
    -ms, --https_port <port>         Use port for https monitoring
    -c, --config <file>              Configuration file
    -t                               Test the configuration and exit
    --client_advertise <string>      Client URL to advertise to other servers
    --ports_file_dir <dir>           Write a ports file into this directory
    -sl, --signal <signal>[=<pid>]   Send signal to rnats-server process (ldm, stop, quit, term, reopen, reload)
                                     <pid> can be a pid or a pid file (default: the -P pid file)

Logging Options:
    -l, --log <file>                 File to redirect log output
    -T, --logtime                    Timestamp log entries (default: true; -T=false to disable)
    -D, --debug                      Enable debugging output
    -V, --trace                      Trace the raw protocol
    -VV                              Verbose trace
    -DV                              Debug and trace
    -DVV                             Debug and verbose trace
    --log_size_limit <limit>         Logfile size limit (default: none)

JetStream Options (rnats has no JetStream):
    -js, --jetstream                 Enable JetStream functionality (refused: not available)
    -sd, --store_dir <dir>           Set the storage directory (accepted and ignored)

Authorization Options:
    --user <user>                    User required for connections
    --pass <password>                Password required for connections
    --auth <token>                   Authorization token required for connections

TLS Options:
    --tls                            Enable TLS, do not verify clients (default: false)
    --tlscert <file>                 Server certificate file
    --tlskey <file>                  Private key for server certificate
    --tlsverify                      Enable TLS, verify client certificates
    --tlscacert <file>               Client certificate CA for verification

Cluster Options:
    --routes <rurl-1, rurl-2>        Routes to solicit and connect
    --cluster <cluster-url>          Cluster URL for solicited routes
    --cluster_name <string>          Cluster Name, if not set one will be dynamically generated
    --no_advertise <bool>            Do not advertise known cluster information to clients
    --cluster_advertise <string>     Cluster URL to advertise to other servers
    --connect_retries <number>       For implicit routes, number of connect retries
    --cluster_listen <url>           Cluster url from which members can solicit routes

Common Options:
    -h, --help                       Show this message
    -v, --version                    Show version
";

/// A flag that takes a value, or a boolean one.
enum Kind {
    Value,
    Bool,
}

/// Whether a nats-server flag takes a value (`Some(true)`), is boolean
/// (`Some(false)`), or is unknown (`None`): for tools that accept these
/// flags among their own.
pub fn flag_takes_value(name: &str) -> Option<bool> {
    kind_of(name).map(|k| matches!(k, Kind::Value))
}

fn kind_of(name: &str) -> Option<Kind> {
    Some(match name {
        "a" | "addr" | "net" | "p" | "port" | "n" | "name" | "server_name" | "P" | "pid" | "m"
        | "http_port" | "ms" | "https_port" | "c" | "config" | "client_advertise"
        | "ports_file_dir" | "l" | "log" | "log_size_limit" | "user" | "pass" | "auth" | "sl"
        | "signal" | "tlscert" | "tlskey" | "tlscacert" | "sd" | "store_dir" | "routes"
        | "cluster" | "cluster_name" | "cluster_advertise" | "connect_retries"
        | "cluster_listen" => Kind::Value,
        "t" | "h" | "help" | "v" | "version" | "T" | "logtime" | "D" | "debug" | "V" | "trace"
        | "VV" | "DV" | "DVV" | "tls" | "tlsverify" | "js" | "jetstream" | "no_advertise" => {
            Kind::Bool
        }
        _ => return None,
    })
}

/// Why the command line could not be parsed. The messages are those of
/// Go's `flag` package, which nats-server uses, so scripts and people see
/// the same text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CliError {
    /// An argument that is not a flag (nats-server takes no positional
    /// arguments).
    #[error("unexpected argument: {arg}")]
    UnexpectedArgument { arg: String },
    /// A flag nats-server does not define.
    #[error("flag provided but not defined: -{flag}")]
    UnknownFlag { flag: String },
    /// A value flag given last, with nothing after it.
    #[error("flag needs an argument: -{flag}")]
    MissingValue { flag: String },
    /// `-T=maybe`: a boolean flag with a value Go's `strconv.ParseBool`
    /// refuses.
    #[error("invalid boolean value {value:?} for -{flag}: parse error")]
    InvalidBool { flag: String, value: String },
    /// A numeric flag whose value is not a number of its type.
    #[error("invalid value {value:?} for flag -{flag}: parse error")]
    InvalidNumber { flag: String, value: String },
    /// TLS flags without a certificate or key (nats-server's texts).
    #[error("{0}")]
    Tls(&'static str),
    /// A bad cluster flag: a `--cluster` or `--routes` URL that cannot be
    /// used, a cluster name with spaces.
    #[error("{0}")]
    Cluster(String),
}

fn parse_bool(name: &str, v: &str) -> Result<bool, CliError> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(CliError::InvalidBool {
            flag: name.to_owned(),
            value: v.to_owned(),
        }),
    }
}

fn parse_int<T: std::str::FromStr>(name: &str, v: &str) -> Result<T, CliError> {
    v.parse().map_err(|_| CliError::InvalidNumber {
        flag: name.to_owned(),
        value: v.to_owned(),
    })
}

impl Cli {
    /// Parses the arguments after the program name.
    ///
    /// # Errors
    /// An unknown flag, a missing value or a malformed number, with Go's
    /// wording (`flag provided but not defined: -x`).
    pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Cli, CliError> {
        let mut cli = Cli::default();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let Some(flag) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
                return Err(CliError::UnexpectedArgument { arg });
            };
            if flag.is_empty() {
                break; // "--" ends the flags, as in Go.
            }
            let (name, inline) = match flag.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (flag, None),
            };
            let kind = kind_of(name).ok_or_else(|| CliError::UnknownFlag {
                flag: name.to_owned(),
            })?;
            match kind {
                Kind::Bool => {
                    let on = match inline {
                        Some(v) => parse_bool(name, &v)?,
                        None => true,
                    };
                    cli.set_bool(name, on);
                }
                Kind::Value => {
                    let v = match inline {
                        Some(v) => v,
                        None => args.next().ok_or_else(|| CliError::MissingValue {
                            flag: name.to_owned(),
                        })?,
                    };
                    cli.set_value(name, v)?;
                }
            }
        }
        cli.cluster.check().map_err(CliError::Cluster)?;
        if cli.tls.overrides() {
            if cli.tls.cert.is_none() {
                return Err(CliError::Tls(
                    "TLS Server certificate must be present and valid",
                ));
            }
            if cli.tls.key.is_none() {
                return Err(CliError::Tls(
                    "TLS Server private key must be present and valid",
                ));
            }
        }
        Ok(cli)
    }

    fn set_bool(&mut self, name: &str, on: bool) {
        match name {
            "t" => self.test_config = on,
            "h" | "help" => self.help = on,
            "v" | "version" => self.version = on,
            "T" | "logtime" => self.logtime = Some(on),
            "D" | "debug" => self.debug = Some(on),
            "V" | "trace" => self.trace = Some(on),
            "VV" => {
                self.trace = Some(on);
                self.trace_verbose = Some(on);
            }
            "DV" => {
                self.debug = Some(on);
                self.trace = Some(on);
            }
            "DVV" => {
                self.debug = Some(on);
                self.trace = Some(on);
                self.trace_verbose = Some(on);
            }
            "tls" => self.tls.tls = Some(on),
            "tlsverify" => self.tls.verify = Some(on),
            "js" | "jetstream" => self.jetstream = on,
            "no_advertise" => self.cluster.no_advertise = Some(on),
            _ => unreachable!("kind_of lists every boolean flag"),
        }
    }

    fn set_value(&mut self, name: &str, v: String) -> Result<(), CliError> {
        match name {
            "a" | "addr" | "net" => self.host = Some(v),
            "p" | "port" => self.port = Some(parse_int(name, &v)?),
            "n" | "name" | "server_name" => self.server_name = Some(v),
            "P" | "pid" => self.pid_file = Some(v.into()),
            "m" | "http_port" => self.http_port = Some(parse_int(name, &v)?),
            "ms" | "https_port" => self.https_port = Some(parse_int(name, &v)?),
            "c" | "config" => self.config = Some(v.into()),
            "client_advertise" => self.client_advertise = Some(v),
            "ports_file_dir" => self.ports_file_dir = Some(v.into()),
            "l" | "log" => self.log_file = Some(v.into()),
            "log_size_limit" => self.log_size_limit = Some(parse_int(name, &v)?),
            "user" => self.user = Some(v),
            "pass" => self.pass = Some(v),
            "auth" => self.auth = Some(v),
            "sl" | "signal" => self.signal = Some(v),
            "tlscert" => self.tls.cert = Some(v),
            "tlskey" => self.tls.key = Some(v),
            "tlscacert" => self.tls.ca = Some(v),
            "sd" | "store_dir" => self.store_dir = Some(v),
            // One setting, as in nats-server: the last one given wins.
            "cluster" | "cluster_listen" => self.cluster.listen = Some(v),
            "cluster_name" => self.cluster.name = Some(v),
            "routes" => self.cluster.routes = Some(v),
            "cluster_advertise" => self.cluster.advertise = Some(v),
            "connect_retries" => self.cluster.connect_retries = Some(parse_int(name, &v)?),
            _ => unreachable!("kind_of lists every value flag"),
        }
        Ok(())
    }

    /// Overrides the options with every flag that was given.
    pub fn apply(&self, o: &mut Options) {
        fn set<T: Clone>(dst: &mut T, src: &Option<T>) {
            if let Some(v) = src {
                *dst = v.clone();
            }
        }
        fn set_opt<T: Clone>(dst: &mut Option<T>, src: &Option<T>) {
            if src.is_some() {
                dst.clone_from(src);
            }
        }
        set(&mut o.host, &self.host);
        set(&mut o.port, &self.port);
        set(&mut o.server_name, &self.server_name);
        set(&mut o.http_port, &self.http_port);
        set(&mut o.https_port, &self.https_port);
        set_opt(&mut o.pid_file, &self.pid_file);
        set_opt(&mut o.ports_file_dir, &self.ports_file_dir);
        set(&mut o.client_advertise, &self.client_advertise);
        set_opt(&mut o.log_file, &self.log_file);
        set(&mut o.log_size_limit, &self.log_size_limit);
        set(&mut o.logtime, &self.logtime);
        set(&mut o.debug, &self.debug);
        set(&mut o.trace, &self.trace);
        set(&mut o.trace_verbose, &self.trace_verbose);
        set_opt(&mut o.username, &self.user);
        set_opt(&mut o.password, &self.pass);
        set_opt(&mut o.authorization, &self.auth);
        if self.tls.disabled() {
            o.tls_block = None;
        } else if self.tls.overrides() {
            o.tls_block = Some(self.tls.block());
        }
        o.cluster_flags = self.cluster.clone();
    }

    /// Flags rnats accepts only to refuse them with a clear reason: what
    /// they ask for does not exist here, and running without it would
    /// mislead.
    pub fn unsupported(&self) -> Option<String> {
        self.jetstream
            .then(|| "JetStream is not available in rnats: remove -js/--jetstream".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Cli, CliError> {
        Cli::parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn go_style_forms() {
        let c = p(&[
            "-p",
            "4333",
            "--addr=127.0.0.1",
            "-DV",
            "-T=false",
            "-c",
            "x.conf",
        ])
        .unwrap();
        assert_eq!(c.port, Some(4333));
        assert_eq!(c.host.as_deref(), Some("127.0.0.1"));
        assert_eq!(
            (c.debug, c.trace, c.logtime),
            (Some(true), Some(true), Some(false))
        );
        assert_eq!(c.config, Some(PathBuf::from("x.conf")));
        let c = p(&[
            "--port", "-1", "-m", "8222", "--user", "u", "--pass=p", "--auth", "t",
        ])
        .unwrap();
        assert_eq!((c.port, c.http_port), (Some(-1), Some(8222)));
        assert_eq!(c.user.as_deref(), Some("u"));
        assert_eq!(c.pass.as_deref(), Some("p"));
        assert_eq!(c.auth.as_deref(), Some("t"));
        assert!(p(&["-t", "--version", "-h"]).unwrap().test_config);
    }

    #[test]
    fn signal_flag_takes_command_and_optional_pid() {
        assert_eq!(
            p(&["-sl", "reload"]).unwrap().signal.as_deref(),
            Some("reload")
        );
        let c = p(&["--signal=ldm=/tmp/x.pid", "-P", "/tmp/y.pid"]).unwrap();
        assert_eq!(c.signal.as_deref(), Some("ldm=/tmp/x.pid"));
        assert_eq!(c.pid_file, Some(PathBuf::from("/tmp/y.pid")));
    }

    #[test]
    fn errors_in_go_wording() {
        let msg = |args: &[&str]| p(args).unwrap_err().to_string();
        assert_eq!(msg(&["-x"]), "flag provided but not defined: -x");
        assert_eq!(msg(&["-p"]), "flag needs an argument: -p");
        assert_eq!(
            msg(&["-p", "abc"]),
            "invalid value \"abc\" for flag -p: parse error"
        );
        assert_eq!(
            msg(&["-D=maybe"]),
            "invalid boolean value \"maybe\" for -D: parse error"
        );
        assert_eq!(msg(&["stray"]), "unexpected argument: stray");
        assert_eq!(
            p(&["-p", "abc"]).unwrap_err(),
            CliError::InvalidNumber {
                flag: "p".into(),
                value: "abc".into()
            }
        );
    }

    #[test]
    fn cluster_flags_are_recorded_and_checked() {
        let c = p(&[
            "--cluster",
            "nats://u:p@127.0.0.1:6222",
            "--cluster_listen=nats://127.0.0.1:-1",
            "--cluster_name",
            "C1",
            "--routes",
            "nats://a:1,nats://b:2",
            "--cluster_advertise",
            "10.0.0.1:6222",
            "--no_advertise",
            "--connect_retries=3",
        ])
        .unwrap();
        let f = &c.cluster;
        assert_eq!(
            f.listen.as_deref(),
            Some("nats://127.0.0.1:-1"),
            "last wins"
        );
        assert_eq!(f.name.as_deref(), Some("C1"));
        assert_eq!(f.routes.as_deref(), Some("nats://a:1,nats://b:2"));
        assert_eq!(f.advertise.as_deref(), Some("10.0.0.1:6222"));
        assert_eq!((f.no_advertise, f.connect_retries), (Some(true), Some(3)));
        assert_eq!(c.unsupported(), None);
        let mut o = Options::default();
        c.apply(&mut o);
        assert_eq!(o.cluster_flags, c.cluster);
        assert_eq!(
            p(&["--no_advertise=false"]).unwrap().cluster.no_advertise,
            Some(false)
        );
        let msg = |args: &[&str]| p(args).unwrap_err().to_string();
        assert_eq!(
            msg(&["--cluster", "nats://u@h:1"]),
            "expected cluster password to be set"
        );
        assert!(msg(&["--routes", "nats://h"]).contains("missing port in address"));
        assert_eq!(
            msg(&["--connect_retries", "x"]),
            "invalid value \"x\" for flag -connect_retries: parse error"
        );
        assert_eq!(
            p(&["-js"]).unwrap().unsupported().as_deref(),
            Some("JetStream is not available in rnats: remove -js/--jetstream")
        );
    }

    #[test]
    fn flags_override_file_values() {
        let mut o = Options {
            port: 1234,
            debug: false,
            ..Options::default()
        };
        p(&["-p", "5555", "-D"]).unwrap().apply(&mut o);
        assert_eq!(o.port, 5555);
        assert!(o.debug);
        let mut o2 = Options {
            port: 1234,
            ..Options::default()
        };
        p(&[]).unwrap().apply(&mut o2);
        assert_eq!(o2.port, 1234);
    }
}

//! The command line of `wxauth-bench` (`scripts/bench` passes its options through).

use std::path::{Path, PathBuf};

use clap::Parser;

use crate::functions::Function;
use crate::model::Mode;

/// The variable holding the TLS test material's directory (what `--certs` gives).
pub const CERTS_VAR: &str = "WXAUTH_BENCH_CERTS";
/// The variable holding the RSA key (PKCS#8 PEM) of the in-process signer (what `--jwt-key` gives).
pub const JWT_KEY_VAR: &str = "WXAUTH_BENCH_JWT_KEY";

const ENVIRONMENT: &str = "\
Environment:
  WXAUTH_TEST_DYNAMODB_URL  moto's endpoint (required; scripts/bench starts moto and sets it)
  WXAUTH_BENCH_CERTS        TLS test material, when --certs is not given (scripts/bench makes it)
  WXAUTH_BENCH_JWT_KEY      the RSA key of login-jwt-local and token-jwt-local, when --jwt-key is not
                            given (scripts/bench makes it)

Exit status: 0 when every goal holds, 1 when one is broken, 2 when the benchmark itself failed.
Run it through scripts/bench, which builds the binaries and starts moto.";

/// The repository's root (the bench crate's parent directory).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Cold start, memory, size and DynamoDB request counts of wxauth's Lambda binaries, each against a
/// minimal lambda_http hello-world built with the same profile.
#[derive(Debug, Clone, Parser)]
// A later occurrence of an option replaces an earlier one: `scripts/bench --bins DIR` passes its own
// `--bins` first.
#[command(name = "wxauth-bench", args_override_self = true, after_help = ENVIRONMENT)]
pub struct Options {
    /// Cold starts per function and mode
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = at_least_one)]
    pub runs: usize,
    /// Warm requests after each cold start
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = at_least_one)]
    pub warm: usize,
    /// The directory of the binaries measured (login, userinfo, authorizer, wxauth-bench-hello)
    #[arg(long, value_name = "DIR", default_value_os_t = root().join("target/release"))]
    pub bins: PathBuf,
    /// Where the results are written (JSON)
    #[arg(long, value_name = "FILE", default_value_os_t = root().join("target/bench/results.json"))]
    pub out: PathBuf,
    /// The results compared with, and written by --save-baseline
    #[arg(long, value_name = "FILE", default_value_os_t = root().join("bench/baseline.json"))]
    pub baseline: PathBuf,
    /// Also write the results to the baseline file
    #[arg(long)]
    pub save_baseline: bool,
    /// TLS test material (ca.pem, server.pem, server.key) for the TLS modes [default: $WXAUTH_BENCH_CERTS]
    #[arg(long, value_name = "DIR")]
    pub certs: Option<PathBuf>,
    /// The modes measured, comma-separated
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        action = clap::ArgAction::Set,
        default_value = "http,tls,tls+prewarm",
        value_parser = parse_mode
    )]
    pub modes: Vec<Mode>,
    /// The functions measured, comma-separated (the hello-world always is): hello, authorizer, login,
    /// userinfo, and in jwt mode login-jwt-kms, login-jwt-local (POST /login), token-jwt-kms,
    /// token-jwt-local (POST /token) [default: all]
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        action = clap::ArgAction::Set,
        value_parser = parse_function
    )]
    pub functions: Vec<Function>,
    /// The RSA key (PKCS#8 PEM) the in-process signer reads (jwt mode, `-local`)
    /// [default: $WXAUTH_BENCH_JWT_KEY]
    #[arg(long, value_name = "FILE")]
    pub jwt_key: Option<PathBuf>,
    /// Child process of the TLS probe (`probe::run`): measure against this loopback port.
    #[arg(long, value_name = "PORT", hide = true)]
    pub probe_tls: Option<u16>,
    /// Child process of the SDK probe (`probe::run_sdk`): read from this table.
    #[arg(long, value_name = "TABLE", hide = true)]
    pub probe_sdk: Option<String>,
    /// moto's endpoint, from WXAUTH_TEST_DYNAMODB_URL ([`Options::with_env`]).
    #[arg(skip)]
    pub moto: String,
}

impl Options {
    /// Fills in what the environment gives: moto's endpoint (required) and, without `--certs` and
    /// `--jwt-key`, `WXAUTH_BENCH_CERTS` and `WXAUTH_BENCH_JWT_KEY`. Puts the functions in their
    /// order, the hello-world among them (every other figure is a ratio to it).
    pub fn with_env(
        mut self,
        var: impl Fn(&str) -> Option<std::ffi::OsString>,
    ) -> Result<Options, String> {
        let endpoint = wxauth_tests::dynamo::ENDPOINT_VAR;
        self.moto = var(endpoint)
            .and_then(|v| v.into_string().ok())
            .ok_or(format!("{endpoint} (moto) is not set: run scripts/bench"))?;
        if self.certs.is_none() {
            self.certs = var(CERTS_VAR).map(PathBuf::from);
        }
        if self.jwt_key.is_none() {
            self.jwt_key = var(JWT_KEY_VAR).map(PathBuf::from);
        }
        let chosen = std::mem::take(&mut self.functions);
        self.functions = Function::ALL
            .into_iter()
            .filter(|f| chosen.is_empty() || *f == Function::Hello || chosen.contains(f))
            .collect();
        Ok(self)
    }
}

fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

fn parse_function(s: &str) -> Result<Function, String> {
    Function::parse(s.trim()).ok_or(format!(
        "unknown function {s} (one of {})",
        Function::ALL.map(Function::name).join(", ")
    ))
}

fn parse_mode(s: &str) -> Result<Mode, String> {
    Mode::parse(s.trim()).ok_or(format!(
        "unknown mode {s} (one of {})",
        Mode::ALL.map(Mode::name).join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use clap::CommandFactory;
    use clap::error::ErrorKind;

    use super::*;

    fn parse(args: &[&str]) -> Result<Options, clap::Error> {
        Options::try_parse_from(std::iter::once("wxauth-bench").chain(args.iter().copied()))
    }

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let vars: Vec<(String, OsString)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        move |k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    const MOTO: (&str, &str) = ("WXAUTH_TEST_DYNAMODB_URL", "http://127.0.0.1:5000");

    #[test]
    fn the_command_is_well_formed() {
        Options::command().debug_assert();
    }

    #[test]
    fn defaults() {
        let o = parse(&[]).unwrap().with_env(env(&[MOTO])).unwrap();
        let root = root();
        assert_eq!((o.runs, o.warm), (20, 10));
        assert_eq!(o.bins, root.join("target/release"));
        assert_eq!(o.out, root.join("target/bench/results.json"));
        assert_eq!(o.baseline, root.join("bench/baseline.json"));
        assert!(!o.save_baseline);
        assert_eq!(o.certs, None);
        assert_eq!(o.modes, Mode::ALL);
        assert_eq!(o.functions, Function::ALL);
        assert_eq!(o.jwt_key, None);
        assert_eq!(o.moto, "http://127.0.0.1:5000");
        assert_eq!((o.probe_tls, o.probe_sdk), (None, None));
    }

    #[test]
    fn every_option() {
        let o = parse(&[
            "--runs",
            "3",
            "--warm",
            "4",
            "--bins",
            "/b",
            "--out",
            "/o.json",
            "--baseline",
            "/base.json",
            "--save-baseline",
            "--certs",
            "/c",
            "--modes",
            "tls, http",
            "--functions",
            "token-jwt-kms, login",
            "--jwt-key",
            "/k.pem",
        ])
        .unwrap();
        assert_eq!((o.runs, o.warm), (3, 4));
        assert_eq!(o.bins, Path::new("/b"));
        assert_eq!(o.out, Path::new("/o.json"));
        assert_eq!(o.baseline, Path::new("/base.json"));
        assert!(o.save_baseline);
        assert_eq!(o.certs.as_deref(), Some(Path::new("/c")));
        assert_eq!(o.modes, [Mode::Tls, Mode::Http]);
        assert_eq!(o.jwt_key.as_deref(), Some(Path::new("/k.pem")));
        // In their order, with the hello-world.
        let o = o.with_env(env(&[MOTO])).unwrap();
        assert_eq!(
            o.functions,
            [
                Function::Hello,
                Function::Login,
                Function::Token(crate::functions::Signer::Kms)
            ]
        );
    }

    #[test]
    fn a_later_option_replaces_an_earlier_one() {
        // scripts/bench: `wxauth-bench --bins target/release --out ... [the user's options]`.
        let o = parse(&["--bins", "/a", "--runs", "2", "--bins", "/b", "--runs", "5"]).unwrap();
        assert_eq!((o.bins.as_path(), o.runs), (Path::new("/b"), 5));
        let o = parse(&["--modes", "http,tls", "--modes", "tls+prewarm"]).unwrap();
        assert_eq!(o.modes, [Mode::TlsPrewarm]);
    }

    #[test]
    fn certs_come_from_the_environment_unless_given() {
        let certs = (CERTS_VAR, "/env-certs");
        let o = parse(&[]).unwrap().with_env(env(&[MOTO, certs])).unwrap();
        assert_eq!(o.certs.as_deref(), Some(Path::new("/env-certs")));
        let o = parse(&["--certs", "/c"])
            .unwrap()
            .with_env(env(&[MOTO, certs]))
            .unwrap();
        assert_eq!(o.certs.as_deref(), Some(Path::new("/c")));
    }

    #[test]
    fn the_jwt_key_comes_from_the_environment_unless_given() {
        let key = (JWT_KEY_VAR, "/env-key.pem");
        let o = parse(&[]).unwrap().with_env(env(&[MOTO, key])).unwrap();
        assert_eq!(o.jwt_key.as_deref(), Some(Path::new("/env-key.pem")));
        let o = parse(&["--jwt-key", "/k.pem"])
            .unwrap()
            .with_env(env(&[MOTO, key]))
            .unwrap();
        assert_eq!(o.jwt_key.as_deref(), Some(Path::new("/k.pem")));
    }

    #[test]
    fn moto_is_required() {
        let e = parse(&[]).unwrap().with_env(env(&[])).unwrap_err();
        assert!(e.contains("WXAUTH_TEST_DYNAMODB_URL"), "{e}");
    }

    #[test]
    fn bad_arguments_are_errors_with_status_2() {
        for args in [
            &["--runs", "0"][..],
            &["--warm", "0"],
            &["--runs", "many"],
            &["--modes", "http,https"],
            &["--modes", ""],
            &["--functions", "login,token"],
            &["--functions", ""],
            &["--bins"],
            &["--frobnicate"],
            &["extra"],
        ] {
            let e = parse(args).expect_err(&format!("{args:?}"));
            assert_eq!(e.exit_code(), 2, "{args:?}: {e}");
        }
    }

    #[test]
    fn help_names_every_option_and_the_exit_status() {
        let e = parse(&["--help"]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::DisplayHelp);
        let help = e.to_string();
        for option in [
            "--runs <N>",
            "--warm <N>",
            "--bins <DIR>",
            "--out <FILE>",
            "--baseline <FILE>",
            "--save-baseline",
            "--certs <DIR>",
            "--modes <LIST>",
            "--functions <LIST>",
            "--jwt-key <FILE>",
            "login-jwt-kms",
            "WXAUTH_BENCH_JWT_KEY",
            "[default: 20]",
            "[default: 10]",
            "[default: http,tls,tls+prewarm]",
            "WXAUTH_TEST_DYNAMODB_URL",
            "Exit status: 0",
        ] {
            assert!(help.contains(option), "{option} in\n{help}");
        }
        assert!(
            !help.contains("--probe-"),
            "the probes' child modes are hidden"
        );
    }

    #[test]
    fn the_probe_children_take_their_argument() {
        let o = parse(&["--probe-tls", "4443"]).unwrap();
        assert_eq!(o.probe_tls, Some(4443));
        let o = parse(&["--probe-sdk", "table-1"]).unwrap();
        assert_eq!(o.probe_sdk.as_deref(), Some("table-1"));
    }
}

//! What is measured: each function is a release binary with its settings, the request it answers, and
//! the AWS calls (DynamoDB, KMS) that request must make.

use crate::model::Expected;

/// How a login function in `jwt` mode signs its session JWTs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Signer {
    /// An AWS KMS key (`WXAUTH_JWT_KMS_KEY_IDS`; here moto's, behind the counting proxy): one
    /// `Sign` call per session JWT, the private key never in the function.
    Kms,
    /// An RSA key in the process (`WXAUTH_JWT_KEY_FILE`, a PKCS#8 PEM): what a key kept in an SSM
    /// SecureString and read at init would be; signed in-process with aws-lc.
    Local,
}

impl Signer {
    pub fn name(self) -> &'static str {
        match self {
            Signer::Kms => "kms",
            Signer::Local => "local",
        }
    }
}

/// The functions measured, and the hello-world floor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    Hello,
    Authorizer,
    /// `POST /login` in `skey` mode.
    Login,
    Userinfo,
    /// `POST /login` in `jwt` mode: the skey and a session JWT.
    LoginJwt(Signer),
    /// `POST /token` in `jwt` mode: a fresh session JWT for a live skey.
    Token(Signer),
}

/// The one KMS call a session JWT costs, as the proxy names it.
const SIGN: (&str, u64) = ("kms:Sign", 1);

impl Function {
    pub const ALL: [Function; 8] = [
        Function::Hello,
        Function::Authorizer,
        Function::Login,
        Function::Userinfo,
        Function::LoginJwt(Signer::Kms),
        Function::LoginJwt(Signer::Local),
        Function::Token(Signer::Kms),
        Function::Token(Signer::Local),
    ];

    /// One function per binary: the ones whose sizes are reported.
    pub const BINARIES: [Function; 4] = [
        Function::Hello,
        Function::Authorizer,
        Function::Login,
        Function::Userinfo,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Function::Hello => "hello",
            Function::Authorizer => "authorizer",
            Function::Login => "login",
            Function::Userinfo => "userinfo",
            Function::LoginJwt(Signer::Kms) => "login-jwt-kms",
            Function::LoginJwt(Signer::Local) => "login-jwt-local",
            Function::Token(Signer::Kms) => "token-jwt-kms",
            Function::Token(Signer::Local) => "token-jwt-local",
        }
    }

    pub fn parse(s: &str) -> Option<Function> {
        Function::ALL.into_iter().find(|f| f.name() == s)
    }

    pub fn binary(self) -> &'static str {
        match self {
            Function::Hello => "wxauth-bench-hello",
            Function::Authorizer => "authorizer",
            Function::Login | Function::LoginJwt(_) | Function::Token(_) => "login",
            Function::Userinfo => "userinfo",
        }
    }

    /// The SAM resource whose arm64 `bootstrap` ships this binary.
    pub fn sam_resource(self) -> Option<&'static str> {
        match self {
            Function::Hello => None,
            Function::Authorizer => Some("AuthorizerFunction"),
            Function::Login | Function::LoginJwt(_) | Function::Token(_) => Some("LoginFunction"),
            Function::Userinfo => Some("UserinfoFunction"),
        }
    }

    /// The signer of a `jwt`-mode function.
    pub fn signer(self) -> Option<Signer> {
        match self {
            Function::LoginJwt(s) | Function::Token(s) => Some(s),
            _ => None,
        }
    }

    /// Whether it is a function as deployed: the in-process signer is measured as the alternative to
    /// KMS (BENCHMARKS.md, "KMS or a key in SSM"), not shipped; the cold-cost goal is not judged on it.
    pub fn deployed(self) -> bool {
        self.signer() != Some(Signer::Local)
    }

    /// Whether its answers carry a session JWT (checked against the JWKS).
    pub fn issues_jwts(self) -> bool {
        self.signer().is_some()
    }

    /// The `skey`-mode function a `jwt`-mode one adds to (its added cost is measured against it).
    pub fn skey_counterpart(self) -> Option<Function> {
        match self {
            Function::LoginJwt(_) => Some(Function::Login),
            _ => None,
        }
    }

    /// The request benchmarked, and the calls each one must make.
    pub fn request(self) -> (&'static str, Expected) {
        // A person's first login: the rate-limit windows of the client IP and of the openid (one
        // conditional update each), the user and the unionid read, one transaction of the session,
        // the user, the new account and the unionid's mapping.
        let login = [("GetItem", 2), ("UpdateItem", 2), ("TransactWriteItems", 1)];
        // The session (the skey) and the per-session window of session JWTs.
        let token = [("GetItem", 1), ("UpdateItem", 1)];
        match self {
            Function::Hello => ("GET /me (ignored)", Expected::ops(&[], 0, 0)),
            Function::Authorizer => (
                "HTTP API v2 authorizer event, live session (uncached)",
                Expected::ops(&[("GetItem", 1)], 1, 0),
            ),
            Function::Login => (
                "POST /login with a fresh code (a new person)",
                Expected::ops(&login, 2, 6),
            ),
            // The user item and its account.
            Function::Userinfo => (
                "GET /me behind the authorizer",
                Expected::ops(&[("GetItem", 2)], 2, 0),
            ),
            Function::LoginJwt(Signer::Kms) => (
                "POST /login, jwt mode, KMS key (a new person)",
                Expected::ops(&[&login[..], &[SIGN]].concat(), 2, 6),
            ),
            Function::LoginJwt(Signer::Local) => (
                "POST /login, jwt mode, key in the process (a new person)",
                Expected::ops(&login, 2, 6),
            ),
            Function::Token(Signer::Kms) => (
                "POST /token with a live skey, KMS key",
                Expected::ops(&[&token[..], &[SIGN]].concat(), 1, 1),
            ),
            Function::Token(Signer::Local) => (
                "POST /token with a live skey, key in the process",
                Expected::ops(&token, 1, 1),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_parse() {
        for f in Function::ALL {
            assert_eq!(Function::parse(f.name()), Some(f));
            assert_eq!(
                Function::ALL
                    .iter()
                    .filter(|g| g.name() == f.name())
                    .count(),
                1
            );
        }
        assert_eq!(Function::parse("token"), None);
    }

    #[test]
    fn jwt_mode_runs_the_login_binary() {
        for f in Function::ALL.into_iter().filter(|f| f.issues_jwts()) {
            assert_eq!(f.binary(), "login", "{f:?}");
            assert_eq!(f.sam_resource(), Some("LoginFunction"));
        }
        // Sizes are reported once per binary.
        let mut binaries: Vec<&str> = Function::BINARIES.iter().map(|f| f.binary()).collect();
        binaries.dedup();
        assert_eq!(binaries.len(), 4);
        assert_eq!(
            Function::LoginJwt(Signer::Kms).skey_counterpart(),
            Some(Function::Login)
        );
        assert_eq!(Function::Token(Signer::Kms).skey_counterpart(), None);
        let not_deployed: Vec<&str> = Function::ALL
            .iter()
            .filter(|f| !f.deployed())
            .map(|f| f.name())
            .collect();
        assert_eq!(not_deployed, ["login-jwt-local", "token-jwt-local"]);
    }

    #[test]
    fn a_session_jwt_costs_one_kms_sign_with_kms_and_none_in_process() {
        let sign = |f: Function| {
            f.request()
                .1
                .ops
                .iter()
                .find(|(o, _)| o == "kms:Sign")
                .map(|(_, n)| *n)
        };
        assert_eq!(sign(Function::LoginJwt(Signer::Kms)), Some(1));
        assert_eq!(sign(Function::Token(Signer::Kms)), Some(1));
        assert_eq!(sign(Function::LoginJwt(Signer::Local)), None);
        assert_eq!(sign(Function::Login), None);
        // Login's DynamoDB calls are the same in both modes.
        let dynamo = |f: Function| {
            let mut e = f.request().1;
            e.ops.retain(|(o, _)| !o.starts_with("kms:"));
            e
        };
        assert_eq!(
            dynamo(Function::LoginJwt(Signer::Kms)),
            dynamo(Function::Login)
        );
        let token = Function::Token(Signer::Local).request().1;
        assert_eq!((token.reads, token.writes), (1, 1));
    }
}

//! The routes of the wxauth API: the one list that `template.yaml`, `openapi.yaml` and the local server
//! are checked against.
//!
//! A path is a template as API Gateway writes it: literal segments and `{name}` segments, each of which
//! matches one non-empty segment of a request path and becomes the path parameter `name`
//! (`pathParameters` in the event, [`Route::parameters`]).

use std::collections::BTreeMap;

/// Which Lambda function serves a route (the binary `functions/<name>`, the handler
/// `handlers::<name>`, the template's `<Name>Function`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    Login,
    Userinfo,
    Avatar,
}

impl Function {
    /// The function's one name: its binary, its handler module, its template logical id's prefix.
    pub const fn name(self) -> &'static str {
        match self {
            Function::Login => "login",
            Function::Userinfo => "userinfo",
            Function::Avatar => "avatar",
        }
    }
}

/// How protected requests prove who they are, chosen at deploy time (`AuthMode` in `template.yaml`,
/// `WXAUTH_AUTH_MODE` for the functions and the local server).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthMode {
    /// Every protected route behind the Lambda authorizer (`X-WX-Skey`).
    #[default]
    Skey,
    /// Routes that only need to know the caller behind API Gateway's JWT authorizer
    /// (`Authorization: Bearer <session JWT>`, [`crate::session_jwt`]); routes that change state keep
    /// the skey, so that a dead session is refused at once.
    Jwt,
}

impl AuthMode {
    /// The setting's value: `skey` or `jwt`.
    pub const fn name(self) -> &'static str {
        match self {
            AuthMode::Skey => "skey",
            AuthMode::Jwt => "jwt",
        }
    }
}

/// A setting's value: `skey` or `jwt`, any case, trimmed (`WXAUTH_AUTH_MODE`, `--auth-mode`).
impl std::str::FromStr for AuthMode {
    type Err = String;

    fn from_str(value: &str) -> Result<AuthMode, String> {
        match value.trim().to_ascii_lowercase().as_str() {
            "skey" => Ok(AuthMode::Skey),
            "jwt" => Ok(AuthMode::Jwt),
            _ => Err(format!("{value:?} is not skey or jwt")),
        }
    }
}

/// Who checks a route's caller before its function runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// Nobody: a public route.
    Public,
    /// The Lambda authorizer on `X-WX-Skey`, in both modes (routes that change state; their functions
    /// check the skey themselves too).
    Skey,
    /// The Lambda authorizer in `skey` mode, API Gateway's JWT authorizer in `jwt` mode: routes that
    /// only read who is calling ([`crate::identity::Caller`]).
    Caller,
}

/// The authorizer API Gateway runs for a route in one mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authorizer {
    None,
    /// The wxauth Lambda authorizer (identity source `X-WX-Skey`).
    Skey,
    /// The JWT authorizer (identity source `Authorization`).
    Jwt,
}

/// What a route does; handlers dispatch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Login,
    /// `POST /token`: a fresh session JWT for an skey (`jwt` mode).
    RenewJwt,
    /// `GET /.well-known/openid-configuration` (`jwt` mode).
    OpenidConfiguration,
    /// `GET /.well-known/jwks.json`: the public keys of the session JWTs (`jwt` mode).
    Jwks,
    Userinfo,
    Me,
    Logout,
    Profile,
    Phone,
    /// `POST /avatar`: the upload.
    Avatar,
    /// `GET /avatars/{uid}/{file}`: the image.
    AvatarImage,
}

/// One route of the HTTP API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub action: Action,
    pub method: &'static str,
    /// The path template (`/avatars/{uid}/{file}`).
    pub path: &'static str,
    pub function: Function,
    /// Who checks the caller first.
    pub auth: Auth,
    /// The one mode the route exists in; `None`: every mode.
    pub only: Option<AuthMode>,
}

impl Route {
    /// Whether the route exists in `mode`.
    pub fn served_in(&self, mode: AuthMode) -> bool {
        self.only.is_none_or(|only| only == mode)
    }

    /// The authorizer API Gateway runs before the function, in `mode`.
    pub fn authorizer(&self, mode: AuthMode) -> Authorizer {
        match (self.auth, mode) {
            (Auth::Public, _) => Authorizer::None,
            (Auth::Skey, _) | (Auth::Caller, AuthMode::Skey) => Authorizer::Skey,
            (Auth::Caller, AuthMode::Jwt) => Authorizer::Jwt,
        }
    }

    /// The largest body the route's function accepts: an avatar upload's
    /// ([`crate::avatars::MAX_UPLOAD_BYTES`]), else [`crate::web::MAX_BODY_BYTES`].
    pub fn body_limit(&self) -> usize {
        match self.action {
            Action::Avatar => crate::avatars::MAX_UPLOAD_BYTES,
            _ => crate::web::MAX_BODY_BYTES,
        }
    }

    /// `"METHOD /path"`, API Gateway's route key.
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// The path parameters of a request path this route's template matches (empty for a literal
    /// template); `None` when it does not match. Values are the raw segments.
    pub fn parameters(&self, path: &str) -> Option<BTreeMap<String, String>> {
        let mut params = BTreeMap::new();
        let mut given = path.split('/');
        for want in self.path.split('/') {
            let got = given.next()?;
            match want.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
                Some(name) if !got.is_empty() => {
                    params.insert(name.to_string(), got.to_string());
                }
                Some(_) => return None,
                None if want == got => {}
                None => return None,
            }
        }
        given.next().is_none().then_some(params)
    }
}

const fn route(
    action: Action,
    method: &'static str,
    path: &'static str,
    function: Function,
    auth: Auth,
) -> Route {
    Route {
        action,
        method,
        path,
        function,
        auth,
        only: None,
    }
}

/// A public route of `jwt` mode only.
const fn jwt_route(
    action: Action,
    method: &'static str,
    path: &'static str,
    function: Function,
) -> Route {
    Route {
        only: Some(AuthMode::Jwt),
        ..route(action, method, path, function, Auth::Public)
    }
}

/// Every route of every mode, in the order of the documentation.
pub const ROUTES: &[Route] = &[
    route(
        Action::Login,
        "POST",
        "/login",
        Function::Login,
        Auth::Public,
    ),
    jwt_route(Action::RenewJwt, "POST", "/token", Function::Login),
    jwt_route(
        Action::OpenidConfiguration,
        "GET",
        "/.well-known/openid-configuration",
        Function::Login,
    ),
    jwt_route(
        Action::Jwks,
        "GET",
        "/.well-known/jwks.json",
        Function::Login,
    ),
    route(
        Action::Userinfo,
        "POST",
        "/userinfo",
        Function::Userinfo,
        Auth::Skey,
    ),
    route(Action::Me, "GET", "/me", Function::Userinfo, Auth::Caller),
    route(
        Action::Logout,
        "POST",
        "/logout",
        Function::Userinfo,
        Auth::Skey,
    ),
    route(
        Action::Profile,
        "PUT",
        "/profile",
        Function::Userinfo,
        Auth::Skey,
    ),
    route(
        Action::Phone,
        "POST",
        "/phone",
        Function::Userinfo,
        Auth::Skey,
    ),
    route(
        Action::Avatar,
        "POST",
        "/avatar",
        Function::Avatar,
        Auth::Skey,
    ),
    route(
        Action::AvatarImage,
        "GET",
        "/avatars/{uid}/{file}",
        Function::Avatar,
        Auth::Public,
    ),
];

/// The routes that exist in `mode`.
pub fn served(mode: AuthMode) -> impl Iterator<Item = &'static Route> {
    ROUTES.iter().filter(move |r| r.served_in(mode))
}

/// The route of a method and a request path (or a route's own template), in any mode, if any.
pub fn find(method: &str, path: &str) -> Option<&'static Route> {
    ROUTES
        .iter()
        .find(|r| r.method.eq_ignore_ascii_case(method) && r.parameters(path).is_some())
}

/// The route of a method and a request path that exists in `mode`, if any.
pub fn find_in(mode: AuthMode, method: &str, path: &str) -> Option<&'static Route> {
    find(method, path).filter(|r| r.served_in(mode))
}

/// Paths that exist with some method (for 405 rather than 404).
pub fn path_exists(path: &str) -> bool {
    ROUTES.iter().any(|r| r.parameters(path).is_some())
}

/// The route of a route key (`"METHOD /path"`).
pub fn find_key(key: &str) -> Option<&'static Route> {
    let (method, path) = key.split_once(' ')?;
    find(method, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_one_non_empty_segment_per_parameter() {
        let image = find("GET", "/avatars/u1/abc.png").expect("the image route");
        assert_eq!(image.action, Action::AvatarImage);
        let params = image.parameters("/avatars/u1/abc.png").expect("match");
        assert_eq!(params["uid"], "u1");
        assert_eq!(params["file"], "abc.png");
        assert_eq!(find_key(&image.key()), Some(image));
        for path in [
            "/avatars/u1",
            "/avatars//abc.png",
            "/avatars/u1/",
            "/avatars/u1/abc.png/more",
            "/avatar/u1/abc.png",
        ] {
            assert_eq!(find("GET", path), None, "{path}");
        }
        assert!(path_exists("/avatars/x/y"));
        assert!(!path_exists("/avatars/x"));
        assert_eq!(
            find("post", "/login").map(|r| r.action),
            Some(Action::Login)
        );
        assert_eq!(find("GET", "/login"), None);
        assert!(find("GET", "/login/").is_none());
    }

    #[test]
    fn modes_choose_routes_and_authorizers() {
        let token = find("POST", "/token").expect("token route");
        assert!(token.served_in(AuthMode::Jwt) && !token.served_in(AuthMode::Skey));
        assert_eq!(find_in(AuthMode::Skey, "POST", "/token"), None);
        assert_eq!(
            served(AuthMode::Skey).count() + 3,
            served(AuthMode::Jwt).count()
        );
        let me = find("GET", "/me").expect("me");
        assert_eq!(me.authorizer(AuthMode::Skey), Authorizer::Skey);
        assert_eq!(me.authorizer(AuthMode::Jwt), Authorizer::Jwt);
        for route in ROUTES.iter().filter(|r| r.auth == Auth::Skey) {
            assert_eq!(
                route.authorizer(AuthMode::Jwt),
                Authorizer::Skey,
                "{route:?}"
            );
        }
        assert_eq!(token.authorizer(AuthMode::Jwt), Authorizer::None);
        assert_eq!(" JWT ".parse(), Ok(AuthMode::Jwt));
        assert_eq!(
            "token".parse::<AuthMode>(),
            Err("\"token\" is not skey or jwt".to_string())
        );
        assert_eq!(AuthMode::default().name(), "skey");
    }
}

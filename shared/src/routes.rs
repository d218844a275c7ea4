//! The routes of the wxauth API: the one list that `template.yaml`, `openapi.yaml` and the local server
//! are checked against.

/// Which Lambda function serves a route (the binary `functions/<name>`, the handler
/// `handlers::<name>`, the template's `<Name>Function`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    Login,
    Userinfo,
}

impl Function {
    /// The function's one name: its binary, its handler module, its template logical id's prefix.
    pub fn name(self) -> &'static str {
        match self {
            Function::Login => "login",
            Function::Userinfo => "userinfo",
        }
    }
}

/// What a route does; handlers dispatch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Login,
    Userinfo,
    Me,
    Logout,
    Profile,
    Phone,
}

/// One route of the HTTP API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub action: Action,
    pub method: &'static str,
    pub path: &'static str,
    pub function: Function,
    /// Behind the Lambda authorizer (`X-WX-Skey`).
    pub authorized: bool,
}

impl Route {
    /// The largest body the route's function accepts ([`crate::web::MAX_BODY_BYTES`]).
    pub fn body_limit(&self) -> usize {
        crate::web::MAX_BODY_BYTES
    }

    /// `"METHOD /path"`, API Gateway's route key.
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

const fn route(
    action: Action,
    method: &'static str,
    path: &'static str,
    function: Function,
    authorized: bool,
) -> Route {
    Route {
        action,
        method,
        path,
        function,
        authorized,
    }
}

/// Every route, in the order of the documentation.
pub const ROUTES: &[Route] = &[
    route(Action::Login, "POST", "/login", Function::Login, false),
    route(
        Action::Userinfo,
        "POST",
        "/userinfo",
        Function::Userinfo,
        true,
    ),
    route(Action::Me, "GET", "/me", Function::Userinfo, true),
    route(Action::Logout, "POST", "/logout", Function::Userinfo, true),
    route(Action::Profile, "PUT", "/profile", Function::Userinfo, true),
    route(Action::Phone, "POST", "/phone", Function::Userinfo, true),
];

/// The route of a method and path, if any.
pub fn find(method: &str, path: &str) -> Option<&'static Route> {
    ROUTES
        .iter()
        .find(|r| r.method.eq_ignore_ascii_case(method) && r.path == path)
}

/// Paths that exist with some method (for 405 rather than 404).
pub fn path_exists(path: &str) -> bool {
    ROUTES.iter().any(|r| r.path == path)
}

/// The route of a route key (`"METHOD /path"`).
pub fn find_key(key: &str) -> Option<&'static Route> {
    let (method, path) = key.split_once(' ')?;
    find(method, path)
}

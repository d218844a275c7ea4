//! The routes of the wxauth API: the one list that `template.yaml`, `openapi.yaml` and the local server
//! are checked against.

/// Which Lambda function serves a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// `functions/login`
    Login,
    /// `functions/userinfo`
    Account,
}

/// One route of the HTTP API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub function: Function,
    /// Behind the Lambda authorizer (`X-WX-Skey`).
    pub authorized: bool,
}

impl Route {
    /// `"METHOD /path"`, API Gateway's route key.
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

const fn route(
    method: &'static str,
    path: &'static str,
    function: Function,
    authorized: bool,
) -> Route {
    Route {
        method,
        path,
        function,
        authorized,
    }
}

/// Every route, in the order of the documentation.
pub const ROUTES: &[Route] = &[
    route("POST", "/login", Function::Login, false),
    route("POST", "/userinfo", Function::Account, true),
    route("GET", "/me", Function::Account, true),
    route("POST", "/logout", Function::Account, true),
    route("PUT", "/profile", Function::Account, true),
    route("POST", "/phone", Function::Account, true),
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

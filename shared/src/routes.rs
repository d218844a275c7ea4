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

/// What a route does; handlers dispatch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Login,
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
    /// Behind the Lambda authorizer (`X-WX-Skey`).
    pub authorized: bool,
}

impl Route {
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
    route(Action::Avatar, "POST", "/avatar", Function::Avatar, true),
    route(
        Action::AvatarImage,
        "GET",
        "/avatars/{uid}/{file}",
        Function::Avatar,
        false,
    ),
];

/// The route of a method and a request path (or a route's own template), if any.
pub fn find(method: &str, path: &str) -> Option<&'static Route> {
    ROUTES
        .iter()
        .find(|r| r.method.eq_ignore_ascii_case(method) && r.parameters(path).is_some())
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
}

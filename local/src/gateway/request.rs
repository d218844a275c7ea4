//! A request as API Gateway sees it: header names lower-cased, repeated headers joined with commas,
//! cookies apart, the client's address as `sourceIp` and appended to `X-Forwarded-For`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use http::header::COOKIE;

/// The header carrying the skey (the authorizer's identity source).
pub const SKEY_HEADER: &str = wxauth::web::SKEY_HEADER;

/// One request, read whole.
#[derive(Debug, Clone, Default)]
pub struct Incoming {
    pub method: String,
    pub path: String,
    pub query: String,
    /// Lower-cased names, repeated headers joined with commas, without `cookie`.
    pub headers: BTreeMap<String, String>,
    pub cookies: Vec<String>,
    pub body: Vec<u8>,
    pub source_ip: String,
    pub request_id: String,
    pub epoch_ms: i64,
}

impl Incoming {
    /// A request received over HTTP from `peer`.
    pub fn new(
        parts: &http::request::Parts,
        body: Vec<u8>,
        peer: SocketAddr,
        request_id: String,
    ) -> Incoming {
        let mut incoming = Incoming {
            method: parts.method.as_str().to_string(),
            path: parts.uri.path().to_string(),
            query: parts.uri.query().unwrap_or_default().to_string(),
            body,
            source_ip: peer.ip().to_string(),
            request_id,
            epoch_ms: now_ms(),
            ..Incoming::default()
        };
        for (name, value) in &parts.headers {
            incoming.add_header(name.as_str(), &String::from_utf8_lossy(value.as_bytes()));
        }
        let forwarded = match incoming.headers.get("x-forwarded-for") {
            Some(chain) => format!("{chain}, {}", incoming.source_ip),
            None => incoming.source_ip.clone(),
        };
        incoming.headers.insert("x-forwarded-for".into(), forwarded);
        incoming
            .headers
            .insert("x-forwarded-proto".into(), "http".into());
        incoming
    }

    /// A request built by hand (tests): the given method and path, from `source_ip`, now.
    pub fn build(method: &str, path: &str, source_ip: &str) -> Incoming {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        Incoming {
            method: method.to_string(),
            path: path.to_string(),
            query: query.to_string(),
            source_ip: source_ip.to_string(),
            request_id: new_request_id(),
            epoch_ms: now_ms(),
            ..Incoming::default()
        }
    }

    /// Adds a header as API Gateway keeps it (a `cookie` header becomes `cookies`).
    pub fn add_header(&mut self, name: &str, value: &str) {
        let name = name.to_ascii_lowercase();
        if name == COOKIE.as_str() {
            self.cookies.extend(
                value
                    .split(';')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(str::to_string),
            );
            return;
        }
        self.headers
            .entry(name)
            .and_modify(|v| {
                v.push(',');
                v.push_str(value);
            })
            .or_insert_with(|| value.to_string());
    }

    /// The skey, as the authorizer's identity source sees it: absent when missing or blank.
    pub fn skey(&self) -> Option<&str> {
        self.headers
            .get(SKEY_HEADER)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    /// The `Host` header, or `localhost`.
    pub fn host(&self) -> String {
        self.headers
            .get("host")
            .cloned()
            .unwrap_or_else(|| "localhost".to_string())
    }

    pub fn user_agent(&self) -> String {
        self.headers.get("user-agent").cloned().unwrap_or_default()
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A fresh request id.
pub fn new_request_id() -> String {
    wxauth::crypto::random_id().unwrap_or_else(|_| format!("local-{}", now_ms()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(method: &str, uri: &str, headers: &[(&str, &str)]) -> http::request::Parts {
        let mut b = http::Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).expect("request").into_parts().0
    }

    fn peer() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 50_000))
    }

    #[test]
    fn headers_as_api_gateway_keeps_them() {
        let p = parts(
            "POST",
            "/login?a=1",
            &[("X-Custom", "1"), ("x-custom", "2"), ("cookie", "a=1; b=2")],
        );
        let incoming = Incoming::new(&p, vec![], peer(), "rid".into());
        assert_eq!(incoming.headers["x-custom"], "1,2");
        assert_eq!(incoming.headers["x-forwarded-for"], "127.0.0.1");
        assert_eq!(incoming.cookies, vec!["a=1", "b=2"]);
        assert_eq!(incoming.query, "a=1");
    }

    #[test]
    fn skey_is_the_identity_source() {
        let p = parts("GET", "/me", &[("X-WX-Skey", "  ")]);
        assert_eq!(Incoming::new(&p, vec![], peer(), "rid".into()).skey(), None);
        let p = parts("GET", "/me", &[]);
        assert_eq!(Incoming::new(&p, vec![], peer(), "rid".into()).skey(), None);
        let p = parts("GET", "/me", &[("X-WX-Skey", "abc")]);
        assert_eq!(
            Incoming::new(&p, vec![], peer(), "rid".into()).skey(),
            Some("abc")
        );
    }
}

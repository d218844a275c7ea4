//! Rate limits kept in the table: fixed windows, one conditional write per request counted, expiring
//! with their window (TTL). They stop one client from using up what all share: the app's WeChat
//! quota (every junk code costs a `jscode2session` call; WeChat then answers 45011 to real users), the
//! paid phone-number calls, the functions' concurrency.
//!
//! - per client IP on `POST /login`, before WeChat is called;
//! - per openid after the code exchange (what WeChat itself limits);
//! - per session on `POST /phone` (each successful call is billed), on avatar uploads, and on
//!   `POST /token` (each session JWT is a KMS signature, from a request quota the account shares).
//!
//! A refused request answers `429 RATE_LIMITED` with `Retry-After` (the seconds left in the window).
//! Subjects are stored as a hash (no IP address in the table). A limit of 0 turns a rule off.

use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::clock::Clock;
use crate::error::ServiceError;
use crate::store::Store;

/// One rule: at most `limit` requests per `window` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub limit: u32,
    pub window: i64,
}

/// What is counted, and under which rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `POST /login` per client IP.
    LoginPerIp,
    /// `POST /login` per openid, after the exchange.
    LoginPerUser,
    /// `POST /phone` per session.
    PhonePerSession,
    /// Avatar uploads per session.
    AvatarPerSession,
    /// `POST /token` per session (`jwt` mode).
    JwtPerSession,
}

impl Scope {
    pub fn name(self) -> &'static str {
        match self {
            Scope::LoginPerIp => "login-ip",
            Scope::LoginPerUser => "login-user",
            Scope::PhonePerSession => "phone-session",
            Scope::AvatarPerSession => "avatar-session",
            Scope::JwtPerSession => "jwt-session",
        }
    }
}

/// The rules of a deployment (`WXAUTH_LOGIN_LIMIT_PER_IP`, `WXAUTH_LOGIN_LIMIT_PER_USER`,
/// `WXAUTH_PHONE_LIMIT_PER_SESSION`, `WXAUTH_AVATAR_LIMIT_PER_SESSION`,
/// `WXAUTH_JWT_LIMIT_PER_SESSION`; see [`crate::config`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    pub login_per_ip: Rule,
    pub login_per_user: Rule,
    pub phone_per_session: Rule,
    pub avatar_per_session: Rule,
    pub jwt_per_session: Rule,
}

/// Logins per client IP and minute: generous, for carrier-grade NAT (a whole town behind one address).
pub const DEFAULT_LOGIN_PER_IP: u32 = 300;
/// Logins per openid and minute (WeChat allows about 100 calls per user and minute).
pub const DEFAULT_LOGIN_PER_USER: u32 = 20;
/// Phone-number exchanges per session and hour (each successful one is billed).
pub const DEFAULT_PHONE_PER_SESSION: u32 = 10;
/// Avatar uploads per session and hour.
pub const DEFAULT_AVATAR_PER_SESSION: u32 = 30;
/// Session JWTs per session and hour (a client renews about 7 an hour at the default lifetime).
pub const DEFAULT_JWT_PER_SESSION: u32 = 120;

impl Default for Rules {
    fn default() -> Self {
        Rules {
            login_per_ip: Rule {
                limit: DEFAULT_LOGIN_PER_IP,
                window: 60,
            },
            login_per_user: Rule {
                limit: DEFAULT_LOGIN_PER_USER,
                window: 60,
            },
            phone_per_session: Rule {
                limit: DEFAULT_PHONE_PER_SESSION,
                window: 3600,
            },
            avatar_per_session: Rule {
                limit: DEFAULT_AVATAR_PER_SESSION,
                window: 3600,
            },
            jwt_per_session: Rule {
                limit: DEFAULT_JWT_PER_SESSION,
                window: 3600,
            },
        }
    }
}

impl Rules {
    pub fn of(&self, scope: Scope) -> Rule {
        match scope {
            Scope::LoginPerIp => self.login_per_ip,
            Scope::LoginPerUser => self.login_per_user,
            Scope::PhonePerSession => self.phone_per_session,
            Scope::AvatarPerSession => self.avatar_per_session,
            Scope::JwtPerSession => self.jwt_per_session,
        }
    }
}

/// The limits, over the sessions' store.
#[derive(Clone)]
pub struct Limits {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    rules: Rules,
}

impl std::fmt::Debug for Limits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limits")
            .field("rules", &self.rules)
            .finish()
    }
}

impl Limits {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, rules: Rules) -> Self {
        Limits {
            store,
            clock,
            rules,
        }
    }

    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// Counts one request of `subject` (an IP address, an openid, a session id) in `scope`;
    /// [`ServiceError::Limited`] when its window is full.
    pub async fn hit(&self, scope: Scope, subject: &str) -> Result<(), ServiceError> {
        let rule = self.rules.of(scope);
        if rule.limit == 0 || rule.window <= 0 {
            return Ok(());
        }
        let now = self.clock.now();
        let start = now - now.rem_euclid(rule.window);
        let end = start + rule.window;
        let subject = hex::encode(&Sha256::digest(subject.as_bytes())[..16]);
        let key = format!("{}#{start}#{subject}", scope.name());
        // Kept a little past its window, then DynamoDB's TTL removes it.
        if self
            .store
            .count_in_window(&key, rule.limit, end + 60)
            .await?
        {
            Ok(())
        } else {
            Err(ServiceError::Limited {
                scope: scope.name(),
                retry_after: u64::try_from(end - now).unwrap_or(1).max(1),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::store::memory::MemoryStore;

    #[tokio::test]
    async fn fixed_windows_count_and_reset() {
        let clock = Arc::new(ManualClock::new(1_000_040));
        let defaults = Rules::default();
        let rules = Rules {
            login_per_ip: Rule {
                limit: 2,
                window: 60,
            },
            phone_per_session: Rule {
                limit: 0,
                ..defaults.phone_per_session
            },
            ..defaults
        };
        let limits = Limits::new(Arc::new(MemoryStore::new()), clock.clone(), rules);
        limits
            .hit(Scope::LoginPerIp, "203.0.113.7")
            .await
            .expect("1");
        limits
            .hit(Scope::LoginPerIp, "203.0.113.7")
            .await
            .expect("2");
        match limits.hit(Scope::LoginPerIp, "203.0.113.7").await {
            Err(ServiceError::Limited { retry_after, .. }) => assert_eq!(retry_after, 60 - 20),
            other => panic!("{other:?}"),
        }
        limits
            .hit(Scope::LoginPerIp, "198.51.100.1")
            .await
            .expect("another subject");
        limits
            .hit(Scope::LoginPerUser, "203.0.113.7")
            .await
            .expect("another scope");
        clock.advance(40);
        limits
            .hit(Scope::LoginPerIp, "203.0.113.7")
            .await
            .expect("a new window");
        for _ in 0..100 {
            limits
                .hit(Scope::PhonePerSession, "s")
                .await
                .expect("a rule of 0 is off");
        }
    }
}

//! Sessions: creating them at login, resolving an skey to a live session, ending one.

use std::sync::Arc;

use crate::accounts::{Accounts, Identity};
use crate::clock::Clock;
use crate::crypto;
use crate::error::{ServiceError, StoreError};
use crate::secret::Secret;
use crate::store::{Login, Session, Store};

/// A login that loses a race (two first logins of one person, a merge meanwhile) is planned again, at
/// most this many times in all.
const LOGIN_ATTEMPTS: usize = 3;

/// `last_seen` is written at most this often (seconds), not on every request.
pub const TOUCH_INTERVAL: i64 = 3600;

/// Why an skey does not resolve to a live session (for logs; clients only see one answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// No header, or not the shape of an skey.
    Malformed,
    /// No such session (never issued, logged out, or deleted).
    Unknown,
    /// Past its absolute lifetime.
    Expired,
    /// Unused for longer than the idle timeout.
    Idle,
    /// Of a mini program this deployment does not serve (any more).
    OtherApp,
}

impl Rejection {
    pub fn as_str(self) -> &'static str {
        match self {
            Rejection::Malformed => "malformed",
            Rejection::Unknown => "unknown",
            Rejection::Expired => "expired",
            Rejection::Idle => "idle",
            Rejection::OtherApp => "other app",
        }
    }
}

/// A newly created session and its skey (the only time the skey exists in clear on the server).
#[derive(Debug)]
pub struct NewSession {
    pub skey: Secret,
    pub session: Session,
    pub expires_in: i64,
}

/// Creates and resolves sessions over a [`Store`].
#[derive(Clone)]
pub struct Sessions {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    ttl: i64,
    idle: i64,
    /// The appids served, the first app first; empty: sessions of any app are accepted.
    appids: Vec<String>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("ttl", &self.ttl)
            .field("idle", &self.idle)
            .field("appids", &self.appids)
            .finish()
    }
}

impl Sessions {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, ttl: i64, idle: i64) -> Self {
        Sessions {
            store,
            clock,
            ttl,
            idle,
            appids: Vec::new(),
        }
    }

    /// Sessions of these mini programs only; the first one owns the sessions written before several
    /// were served (which name no appid).
    pub fn for_apps<S: AsRef<str>>(mut self, appids: &[S]) -> Self {
        self.appids = appids.iter().map(|a| a.as_ref().to_string()).collect();
        self
    }

    /// The deployment's first app, if known.
    pub fn first_app(&self) -> Option<&str> {
        self.appids.first().map(String::as_str)
    }

    /// The store the sessions live in (the services built next to these share it).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The clock expiry is measured with.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Creates a session for a successful code exchange: a fresh skey from the OS CSPRNG, stored only as
    /// its SHA-256, written in one transaction with the user's newest session_key and, when it changes,
    /// the person's account ([`Accounts::plan_login`]). A login that loses a race is planned again.
    pub async fn create(
        &self,
        id: &Identity<'_>,
        session_key: &Secret,
    ) -> Result<NewSession, ServiceError> {
        let accounts = Accounts::new(self.store.clone(), self.clock.clone());
        let mut attempt = 0;
        loop {
            attempt += 1;
            let retry = |e: &ServiceError| {
                attempt < LOGIN_ATTEMPTS
                    && matches!(e, ServiceError::Store(StoreError::Conflict(_)))
            };
            let plan = match accounts.plan_login(id).await {
                Ok(plan) => plan,
                Err(e) if retry(&e) => {
                    tracing::info!(error = %e, "login raced; planned again");
                    continue;
                }
                Err(e) => return Err(e),
            };
            let now = self.clock.now();
            let random = |e: getrandom::Error| ServiceError::Randomness(e.to_string());
            let skey = crypto::generate_skey().map_err(random)?;
            let session = Session {
                key_hash: crypto::skey_hash(&skey),
                sid: crypto::random_id().map_err(random)?,
                appid: Some(id.appid.to_string()),
                openid: id.openid.to_string(),
                unionid: id.unionid.map(str::to_string),
                uid: Some(plan.uid),
                created_at: now,
                last_seen: now,
                expires_at: now + self.ttl,
            };
            let login = Login {
                session,
                session_key: session_key.clone(),
                legacy_app: id.first_app,
                account: plan.account,
                map_unionid: plan.map_unionid,
                now,
            };
            match self.store.create_session(&login).await {
                Ok(()) => {
                    return Ok(NewSession {
                        skey: Secret::new(skey),
                        session: login.session,
                        expires_in: self.ttl,
                    });
                }
                Err(e) => {
                    let e = ServiceError::Store(e);
                    if !retry(&e) {
                        return Err(e);
                    }
                    tracing::info!(error = %e, "login raced; planned again");
                }
            }
        }
    }

    /// Resolves an skey header value to a live session: one read; expiry and idle time checked in
    /// code (DynamoDB's TTL deletes items days late); `last_seen` refreshed at most once an hour.
    /// A store failure is an error, never a session: callers fail closed.
    pub async fn resolve(
        &self,
        header: Option<&str>,
    ) -> Result<Result<Session, Rejection>, StoreError> {
        let Some(skey) = header.and_then(crypto::parse_skey) else {
            return Ok(Err(Rejection::Malformed));
        };
        let Some(mut session) = self.store.get_session(&crypto::skey_hash(skey)).await? else {
            return Ok(Err(Rejection::Unknown));
        };
        if session.appid.is_none() {
            session.appid = self.first_app().map(str::to_string);
        }
        if !self.appids.is_empty()
            && !session
                .appid
                .as_ref()
                .is_some_and(|a| self.appids.contains(a))
        {
            return Ok(Err(Rejection::OtherApp));
        }
        let now = self.clock.now();
        if now >= session.expires_at {
            return Ok(Err(Rejection::Expired));
        }
        if now - session.last_seen > self.idle {
            return Ok(Err(Rejection::Idle));
        }
        if now - session.last_seen >= TOUCH_INTERVAL {
            // Best effort: a failed refresh costs at most an earlier idle expiry, never an answer.
            if let Err(e) = self.store.touch_session(&session.key_hash, now).await {
                tracing::warn!(error = %e, "cannot refresh last_seen");
            }
        }
        Ok(Ok(session))
    }

    /// Like [`Sessions::resolve`], for handlers: a dead session is an error too.
    pub async fn require(&self, header: Option<&str>) -> Result<Session, ServiceError> {
        self.resolve(header)
            .await?
            .map_err(ServiceError::SessionRejected)
    }

    /// Ends one session. Returns whether it existed.
    pub async fn end(&self, session: &Session) -> Result<bool, ServiceError> {
        Ok(self.store.delete_session(&session.key_hash).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::store::memory::MemoryStore;

    fn id<'a>(openid: &'a str, unionid: Option<&'a str>) -> Identity<'a> {
        Identity {
            appid: "wx0000000000000001",
            openid,
            unionid,
            first_app: true,
        }
    }

    fn setup() -> (Sessions, Arc<ManualClock>, Arc<MemoryStore>) {
        let clock = Arc::new(ManualClock::new(1_700_000_000));
        let store = Arc::new(MemoryStore::new());
        (
            Sessions::new(store.clone(), clock.clone(), 7 * 86400, 2 * 86400),
            clock,
            store,
        )
    }

    #[tokio::test]
    async fn create_then_resolve() {
        let (s, _, store) = setup();
        let new = s
            .create(&id("o1", Some("u1")), &Secret::new("k"))
            .await
            .expect("created");
        assert_eq!(new.expires_in, 7 * 86400);
        let got = s
            .resolve(Some(new.skey.expose()))
            .await
            .expect("store ok")
            .expect("valid");
        assert_eq!(got.openid, "o1");
        assert_eq!(got.unionid.as_deref(), Some("u1"));
        // Only the hash is stored.
        assert_ne!(got.key_hash, new.skey.expose());
        assert_eq!(got.key_hash, crypto::skey_hash(new.skey.expose()));
        let user = store.get_user("o1").await.expect("ok").expect("user");
        assert_eq!(user.session_key.expose(), "k");
    }

    #[tokio::test]
    async fn rejects_malformed_unknown_expired_idle() {
        let (s, clock, _) = setup();
        assert_eq!(
            s.resolve(None).await.expect("ok"),
            Err(Rejection::Malformed)
        );
        assert_eq!(
            s.resolve(Some("short")).await.expect("ok"),
            Err(Rejection::Malformed)
        );
        let other = crypto::generate_skey().expect("rng");
        assert_eq!(
            s.resolve(Some(&other)).await.expect("ok"),
            Err(Rejection::Unknown)
        );

        let new = s
            .create(&id("o1", None), &Secret::new("k"))
            .await
            .expect("created");
        let skey = new.skey.expose().to_string();
        // Used every day: the idle timer keeps sliding, the absolute lifetime does not.
        for _ in 0..6 {
            clock.advance(86400);
            assert!(s.resolve(Some(&skey)).await.expect("ok").is_ok());
        }
        clock.advance(86400);
        assert_eq!(
            s.resolve(Some(&skey)).await.expect("ok"),
            Err(Rejection::Expired)
        );

        let new = s
            .create(&id("o2", None), &Secret::new("k"))
            .await
            .expect("created");
        clock.advance(2 * 86400 + 1);
        assert_eq!(
            s.resolve(Some(new.skey.expose())).await.expect("ok"),
            Err(Rejection::Idle)
        );
    }

    async fn last_seen(store: &MemoryStore, hash: &str) -> i64 {
        let session = store.get_session(hash).await.expect("ok").expect("session");
        session.last_seen
    }

    #[tokio::test]
    async fn touches_at_most_hourly() {
        let (s, clock, store) = setup();
        let new = s
            .create(&id("o1", None), &Secret::new("k"))
            .await
            .expect("created");
        let hash = new.session.key_hash.clone();
        let t0 = clock.now();
        clock.advance(TOUCH_INTERVAL - 1);
        s.resolve(Some(new.skey.expose()))
            .await
            .expect("ok")
            .expect("valid");
        assert_eq!(last_seen(&store, &hash).await, t0);
        clock.advance(1);
        s.resolve(Some(new.skey.expose()))
            .await
            .expect("ok")
            .expect("valid");
        assert_eq!(last_seen(&store, &hash).await, t0 + TOUCH_INTERVAL);
    }
}

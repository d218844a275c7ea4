//! Sessions: creating them at login, resolving an skey to a live session, ending one.

use std::sync::Arc;

use crate::clock::Clock;
use crate::crypto;
use crate::error::{ServiceError, StoreError};
use crate::secret::Secret;
use crate::store::{LoginUpdate, Session, Store};

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
}

impl Rejection {
    pub fn as_str(self) -> &'static str {
        match self {
            Rejection::Malformed => "malformed",
            Rejection::Unknown => "unknown",
            Rejection::Expired => "expired",
            Rejection::Idle => "idle",
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
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("ttl", &self.ttl)
            .field("idle", &self.idle)
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
        }
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
    /// its SHA-256, written together with the user's newest session_key.
    pub async fn create(
        &self,
        openid: &str,
        unionid: Option<&str>,
        session_key: &Secret,
    ) -> Result<NewSession, ServiceError> {
        let now = self.clock.now();
        let random = |e: getrandom::Error| ServiceError::Randomness(e.to_string());
        let skey = crypto::generate_skey().map_err(random)?;
        let sid = crypto::random_id().map_err(random)?;
        let session = Session {
            key_hash: crypto::skey_hash(&skey),
            sid,
            openid: openid.to_string(),
            unionid: unionid.map(str::to_string),
            session_key: session_key.clone(),
            created_at: now,
            last_seen: now,
            expires_at: now + self.ttl,
        };
        let login = LoginUpdate {
            openid: openid.to_string(),
            unionid: unionid.map(str::to_string),
            session_key: session_key.clone(),
            now,
        };
        self.store.create_session(&session, &login).await?;
        Ok(NewSession {
            skey: Secret::new(skey),
            session,
            expires_in: self.ttl,
        })
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
        let Some(session) = self.store.get_session(&crypto::skey_hash(skey)).await? else {
            return Ok(Err(Rejection::Unknown));
        };
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
            .create("o1", Some("u1"), &Secret::new("k"))
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
            .create("o1", None, &Secret::new("k"))
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
            .create("o2", None, &Secret::new("k"))
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
            .create("o1", None, &Secret::new("k"))
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

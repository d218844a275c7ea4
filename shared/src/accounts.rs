//! Accounts: one id (`uid`) per person across the mini programs of a deployment.
//!
//! WeChat gives a person one openid per mini program and, when the apps are bound to one Open Platform
//! account, one unionid for all of them. Every openid belongs to an account, created the first time any
//! app sees the person; logins bringing a unionid that already has an account join it. When a person
//! was first seen without a unionid (an account of their own) and a later login brings a unionid that
//! another account holds, the two are linked: the older account survives, the other becomes an alias
//! of it, the survivor keeps its profile fields and takes the other's where it has none, keeps a phone
//! number if either has one, and every session of the other is moved to the survivor.
//!
//! Users and sessions written before accounts existed have no uid: their account is created at the
//! next login, or at the first request that needs it ([`Accounts::of_user`]), from what the user item
//! holds (its profile and phone are copied, never moved).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::audit::Audit;
use crate::clock::Clock;
use crate::crypto;
use crate::error::{ServiceError, StoreError};
use crate::store::{Account, AccountWrite, Merge, Store, User};

/// How many aliases are followed from an id to its account (merges chain only this far in practice).
const MAX_ALIASES: usize = 8;

/// One openid of one app logging in.
#[derive(Debug, Clone, Copy)]
pub struct Identity<'a> {
    pub appid: &'a str,
    pub openid: &'a str,
    pub unionid: Option<&'a str>,
    /// Whether `appid` is the deployment's first app (whose items may predate several apps).
    pub first_app: bool,
}

/// What a login writes about the account ([`crate::store::Login`]).
#[derive(Debug, Clone)]
pub struct LoginPlan {
    pub uid: String,
    pub account: AccountWrite,
    pub map_unionid: bool,
}

/// The accounts, over the sessions' store.
#[derive(Clone)]
pub struct Accounts {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Accounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accounts").finish_non_exhaustive()
    }
}

fn new_uid() -> Result<String, ServiceError> {
    crypto::random_id().map_err(|e| ServiceError::Randomness(e.to_string()))
}

impl Accounts {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Accounts { store, clock }
    }

    /// The account of an id, following aliases to the survivor. `None` when there is none.
    pub async fn resolve(&self, uid: &str) -> Result<Option<Account>, ServiceError> {
        let mut uid = uid.to_string();
        for _ in 0..MAX_ALIASES {
            match self.store.get_account(&uid).await? {
                Some(Account {
                    merged_into: Some(next),
                    ..
                }) => uid = next,
                other => return Ok(other),
            }
        }
        Err(ServiceError::Store(StoreError::Corrupt(format!(
            "account aliases chain beyond {MAX_ALIASES}"
        ))))
    }

    /// A new account for a user (its profile and phone copied from an item of an earlier release).
    fn fresh(&self, id: &Identity<'_>, user: Option<&User>) -> Result<Account, ServiceError> {
        let now = self.clock.now();
        Ok(Account {
            uid: new_uid()?,
            unionid: id.unionid.map(str::to_string),
            identities: BTreeMap::from([(id.appid.to_string(), id.openid.to_string())]),
            profile: user.and_then(|u| u.profile.clone()),
            phone: user.and_then(|u| u.phone.clone()),
            created_at: now,
            updated_at: now,
            merged_into: None,
            blocked_at: None,
        })
    }

    /// Decides which account a login joins, linking two accounts first when the unionid says they are
    /// one person. What is left to write goes into the login's transaction.
    pub async fn plan_login(&self, id: &Identity<'_>) -> Result<LoginPlan, ServiceError> {
        let user = self.store.get_user(id.openid).await?;
        if let Some(u) = &user {
            let same_app = match &u.appid {
                Some(a) => a == id.appid,
                None => id.first_app,
            };
            if !same_app {
                // Openids are per app: another app's item under this openid is not this user.
                return Err(ServiceError::Store(StoreError::Corrupt(format!(
                    "the user item of this openid belongs to another app ({})",
                    u.appid.as_deref().unwrap_or("the first app")
                ))));
            }
        }
        if user.as_ref().is_some_and(|u| u.blocked_at.is_some()) {
            return Err(ServiceError::Blocked);
        }
        let mine = match user.as_ref().and_then(|u| u.uid.as_deref()) {
            Some(uid) => self.resolve(uid).await?,
            None => None,
        };
        // An account holds a unionid only once the unionid is mapped to it: a returning user whose
        // account already holds this one needs no second read.
        let known = mine
            .as_ref()
            .is_some_and(|m| m.unionid.is_some() && m.unionid.as_deref() == id.unionid);
        let theirs = match id.unionid {
            Some(u) if !known => match self.store.get_unionid(u).await? {
                Some(uid) => self.resolve(&uid).await?,
                None => None,
            },
            _ => None,
        };
        if mine
            .iter()
            .chain(theirs.iter())
            .any(|a| a.blocked_at.is_some())
        {
            return Err(ServiceError::Blocked);
        }
        let map_unionid = id.unionid.is_some() && !known && theirs.is_none();
        let now = self.clock.now();
        match (mine, theirs) {
            // Two accounts, one person: link them, then log in to the survivor.
            (Some(mine), Some(theirs)) if theirs.uid != mine.uid => {
                let survivor = self.merge(mine, theirs, id.unionid).await?;
                Ok(LoginPlan {
                    uid: survivor,
                    account: AccountWrite::Keep,
                    map_unionid: false,
                })
            }
            // Seen before, and the unionid (if any) names the same account or none yet.
            (Some(mine), _) => {
                let missing_here = mine.identities.get(id.appid).map(String::as_str)
                    != Some(id.openid)
                    || (id.unionid.is_some() && mine.unionid.is_none());
                let account = if missing_here {
                    let was = mine.updated_at;
                    let mut account = mine.clone();
                    account
                        .identities
                        .insert(id.appid.to_string(), id.openid.to_string());
                    account.unionid = account.unionid.or(id.unionid.map(str::to_string));
                    account.updated_at = now;
                    AccountWrite::Put {
                        account: Box::new(account),
                        was: Some(was),
                    }
                } else {
                    AccountWrite::Keep
                };
                Ok(LoginPlan {
                    uid: mine.uid,
                    account,
                    map_unionid,
                })
            }
            // New to this app (or an item of an earlier release), and the unionid has an account.
            (None, Some(theirs)) => {
                let was = theirs.updated_at;
                let mut account = theirs;
                account
                    .identities
                    .insert(id.appid.to_string(), id.openid.to_string());
                if let Some(u) = &user {
                    // An item of an earlier release: its profile and phone fill what the account lacks.
                    fill(&mut account, u.profile.as_ref(), u.phone.as_ref());
                }
                account.updated_at = now;
                Ok(LoginPlan {
                    uid: account.uid.clone(),
                    account: AccountWrite::Put {
                        account: Box::new(account),
                        was: Some(was),
                    },
                    map_unionid: false,
                })
            }
            // Nobody knows this person yet.
            (None, None) => {
                let account = self.fresh(id, user.as_ref())?;
                Ok(LoginPlan {
                    uid: account.uid.clone(),
                    account: AccountWrite::Put {
                        account: Box::new(account),
                        was: None,
                    },
                    map_unionid,
                })
            }
        }
    }

    /// Links two accounts of one person: the older survives. Returns the survivor's uid. Moves the
    /// sessions of the other afterwards (best effort: the authorizer reports whatever a session says).
    async fn merge(
        &self,
        a: Account,
        b: Account,
        unionid: Option<&str>,
    ) -> Result<String, ServiceError> {
        let (mut survivor, merged) = if (a.created_at, &a.uid) <= (b.created_at, &b.uid) {
            (a, b)
        } else {
            (b, a)
        };
        let survivor_was = survivor.updated_at;
        let now = self.clock.now();
        for (appid, openid) in &merged.identities {
            survivor
                .identities
                .entry(appid.clone())
                .or_insert_with(|| openid.clone());
        }
        fill(
            &mut survivor,
            merged.profile.as_ref(),
            merged.phone.as_ref(),
        );
        survivor.unionid = survivor
            .unionid
            .or(merged.unionid.clone())
            .or(unionid.map(str::to_string));
        survivor.updated_at = now;
        let moved: Vec<String> = merged.identities.values().cloned().collect();
        let merge = Merge {
            unionid: survivor.unionid.clone(),
            survivor_was,
            merged: merged.uid.clone(),
            merged_was: merged.updated_at,
            moved: moved.clone(),
            survivor,
            now,
        };
        self.store.merge_accounts(&merge).await?;
        let survivor = merge.survivor.uid;
        let mut sessions = 0usize;
        for openid in &moved {
            for hash in self.store.sessions_of(openid).await? {
                if self
                    .store
                    .move_session(&hash, &merged.uid, &survivor)
                    .await?
                {
                    sessions += 1;
                }
            }
        }
        tracing::info!(
            survivor,
            merged = merged.uid,
            sessions,
            "accounts linked by unionid"
        );
        Ok(survivor)
    }

    /// The account of a user; one written before accounts existed gets its account now.
    pub async fn of_user(&self, user: &User, appid: &str) -> Result<Account, ServiceError> {
        if let Some(uid) = &user.uid {
            return self
                .resolve(uid)
                .await?
                .ok_or(ServiceError::Store(StoreError::Corrupt(
                    "a user names an account that does not exist".into(),
                )));
        }
        let id = Identity {
            appid,
            openid: &user.openid,
            unionid: user.unionid.as_deref(),
            first_app: true,
        };
        let mut account = self.fresh(&id, Some(user))?;
        // A unionid another account already holds is linked at the next login; until then this
        // account does not hold it (an account holds a unionid only when the unionid maps to it).
        let map = match &account.unionid {
            Some(u) => self.store.get_unionid(u).await?.is_none(),
            None => false,
        };
        if !map {
            account.unionid = None;
        }
        self.store
            .create_account(&account, &user.openid, map)
            .await?;
        tracing::info!(uid = account.uid, "account created for an earlier user");
        Ok(account)
    }
}

/// What a block or an unblock did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockReport {
    /// Whether the user or account exists.
    pub found: bool,
    /// How many sessions were ended (a block ends them; the authorizer then denies them).
    pub sessions_ended: usize,
}

impl Accounts {
    /// Blocks (`true`) or unblocks an openid: its logins answer `USER_BLOCKED`; a block ends its
    /// sessions (their next authorization is denied; an Allow the gateway cached lives on for
    /// `AuthorizerCacheSeconds` at most).
    pub async fn block_openid(
        &self,
        openid: &str,
        block: bool,
    ) -> Result<BlockReport, ServiceError> {
        let at = block.then(|| self.clock.now());
        let found = self.store.block_user(openid, at).await?;
        let sessions_ended = if block && found {
            self.store.delete_sessions_of(openid).await?
        } else {
            0
        };
        tracing::info!(block, found, sessions_ended, "user block changed");
        Audit {
            openid: Some(openid),
            ..Audit::new(block_event(block), found_outcome(found))
        }
        .emit();
        Ok(BlockReport {
            found,
            sessions_ended,
        })
    }

    /// Blocks or unblocks an account (an alias: its survivor) and every openid linked to it.
    pub async fn block_uid(&self, uid: &str, block: bool) -> Result<BlockReport, ServiceError> {
        let Some(account) = self.resolve(uid).await? else {
            Audit {
                uid: Some(uid),
                ..Audit::new(block_event(block), found_outcome(false))
            }
            .emit();
            return Ok(BlockReport {
                found: false,
                sessions_ended: 0,
            });
        };
        let now = self.clock.now();
        let at = block.then_some(now);
        self.store.block_account(&account.uid, at, now).await?;
        Audit {
            uid: Some(&account.uid),
            ..Audit::new(block_event(block), found_outcome(true))
        }
        .emit();
        let mut sessions_ended = 0;
        for openid in account.identities.values() {
            sessions_ended += self.block_openid(openid, block).await?.sessions_ended;
        }
        Ok(BlockReport {
            found: true,
            sessions_ended,
        })
    }
}

/// The audit event of a block (`true`) or an unblock.
fn block_event(block: bool) -> &'static str {
    if block { "block" } else { "unblock" }
}

/// The audit outcome of a block of something that exists or not.
fn found_outcome(found: bool) -> &'static str {
    if found { "ok" } else { "not_found" }
}

/// Fills what an account lacks from another profile and phone.
fn fill(
    account: &mut Account,
    profile: Option<&crate::store::Profile>,
    phone: Option<&crate::store::Phone>,
) {
    if let Some(p) = profile {
        account
            .profile
            .get_or_insert_with(Default::default)
            .fill_from(p);
    }
    if account.phone.is_none() {
        account.phone = phone.cloned();
    }
}

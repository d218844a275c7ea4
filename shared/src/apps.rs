//! The mini programs one deployment serves: for each appid its WeChat client and its access_token
//! provider. The first one is the single app of earlier releases (items without an appid are its).

use std::sync::Arc;

use crate::access_token::AccessTokens;
use crate::clock::Clock;
use crate::error::ServiceError;
use crate::sessions::Rejection;
use crate::store::{Session, Store};
use crate::wechat::WechatClient;

/// One mini program.
#[derive(Debug)]
pub struct App {
    pub wechat: WechatClient,
    pub tokens: Arc<AccessTokens>,
}

impl App {
    pub fn appid(&self) -> &str {
        self.wechat.appid()
    }
}

/// Why a login names no app this deployment serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoApp {
    /// Several apps are served and the request named none.
    Unnamed,
    /// The appid is not one of this deployment's.
    Unknown,
}

/// The apps of a deployment, in configuration order (at least one).
#[derive(Debug)]
pub struct Apps {
    apps: Vec<App>,
}

impl Apps {
    /// The apps of these WeChat clients, each with its own access_token item and lease in `store`.
    /// `None` without any client.
    pub fn new(
        clients: Vec<WechatClient>,
        store: &Arc<dyn Store>,
        clock: &Arc<dyn Clock>,
    ) -> Option<Apps> {
        if clients.is_empty() {
            return None;
        }
        let apps = clients
            .into_iter()
            .map(|wechat| App {
                tokens: Arc::new(AccessTokens::new(
                    wechat.clone(),
                    store.clone(),
                    clock.clone(),
                )),
                wechat,
            })
            .collect();
        Some(Apps { apps })
    }

    /// The first app.
    pub fn first(&self) -> &App {
        &self.apps[0]
    }

    /// The app of an appid.
    pub fn get(&self, appid: &str) -> Option<&App> {
        self.apps.iter().find(|a| a.appid() == appid)
    }

    /// The app a login is for: the one named, or the only one.
    pub fn choose(&self, appid: Option<&str>) -> Result<&App, NoApp> {
        match appid {
            Some(id) => self.get(id).ok_or(NoApp::Unknown),
            None if self.apps.len() == 1 => Ok(self.first()),
            None => Err(NoApp::Unnamed),
        }
    }

    /// The app of a live session (resolved sessions always name theirs); one this deployment no
    /// longer serves is no session.
    pub fn of_session(&self, session: &Session) -> Result<&App, ServiceError> {
        session
            .appid
            .as_deref()
            .and_then(|a| self.get(a))
            .ok_or(ServiceError::SessionRejected(Rejection::OtherApp))
    }

    /// Every appid, in order.
    pub fn appids(&self) -> Vec<&str> {
        self.apps.iter().map(App::appid).collect()
    }
}

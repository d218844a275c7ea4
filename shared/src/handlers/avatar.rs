//! The `avatar` function: the avatar the user chose, uploaded and served.
//!
//! - `POST /avatar` (skey): the file exactly as `wx.uploadFile` sends it, `multipart/form-data` with the
//!   file in the part `file`. A PNG, JPEG or WebP image by its bytes ([`crate::avatars::image`]), at
//!   most [`MAX_FILE_BYTES`] in a body of at most [`MAX_UPLOAD_BYTES`], all checked before anything is
//!   stored. It replaces the account's avatar and sets the profile's `avatarUrl`; answers
//!   `{"user":{profile}}`.
//! - `GET /avatars/{uid}/{file}` (public: an `<image>` sends no header): the current avatar of the
//!   account when `file` names its version, with its content type, `nosniff` and a year of caching;
//!   404 otherwise.
//!
//! Binary bodies reach the function base64-encoded (`isBase64Encoded`); `lambda_http` decodes them, and
//! encodes the image it answers. A function of its own: the other functions' deployment zips stay
//! under 3 MiB, and only this one may write the bucket (BENCHMARKS.md, "Sizes of the avatars").

use http::header::CONTENT_TYPE;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::json;

use super::{action, no_route, respond};
use crate::avatars::{
    Avatar, AvatarUrls, Avatars, CACHE_CONTROL, MAX_FILE_BYTES, MAX_UPLOAD_BYTES,
};
use crate::error::{ApiError, ServiceError};
use crate::routes::{self, Action, Function};
use crate::sessions::{Rejection, Sessions};
use crate::store::Profile;
use crate::users::Users;
use crate::web::{self, StatusCode, multipart};

/// The avatar function.
#[derive(Debug, Clone)]
pub struct AvatarHandler {
    sessions: Sessions,
    users: Users,
    avatars: Avatars,
    urls: AvatarUrls,
    budget: std::time::Duration,
}

impl AvatarHandler {
    pub fn new(sessions: Sessions, users: Users, avatars: Avatars, urls: AvatarUrls) -> Self {
        AvatarHandler {
            sessions,
            users,
            avatars,
            urls,
            budget: crate::deadline::AVATAR_BUDGET,
        }
    }

    /// Another budget per request than [`crate::deadline::AVATAR_BUDGET`] (tests).
    pub fn with_budget(mut self, budget: std::time::Duration) -> Self {
        self.budget = budget;
        self
    }

    /// Answers one request; never fails, never panics on input.
    pub async fn handle(&self, req: Request) -> Response<Body> {
        respond(&req, Function::Avatar, self.budget, |req| self.route(req)).await
    }

    async fn route(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        match action(req, Function::Avatar)? {
            Action::Avatar => self.upload(req).await,
            Action::AvatarImage => self.image(req).await,
            _ => Err(no_route(req)),
        }
    }

    async fn upload(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        let session = self.sessions.require(web::skey_header(req)).await?;
        let avatar = uploaded(req)?;
        // Each upload is stored and served: count it per session.
        self.users
            .limits()
            .hit(crate::limits::Scope::AvatarPerSession, &session.sid)
            .await?;
        let origin = web::origin(req);
        let base = self
            .urls
            .base(origin.as_deref())
            .ok_or_else(|| ApiError::BadRequest("the request names no valid Host".into()))?
            .to_string();
        let appid = session
            .appid
            .as_deref()
            .ok_or(ServiceError::SessionRejected(Rejection::OtherApp))?;
        let user = self.users.get(&session.openid).await?;
        let account = self.users.account(&user, appid).await?;
        self.avatars.save(&account.uid, &avatar).await?;
        let update = Profile {
            avatar_url: Some(self.urls.url(&base, &account.uid, &avatar)),
            ..Profile::default()
        };
        let profile = self.users.update_profile(&account, update).await?;
        tracing::info!(
            session_id = session.sid,
            bytes = avatar.bytes.len(),
            format = avatar.format.extension(),
            "avatar saved"
        );
        Ok(web::json(StatusCode::OK, &json!({ "user": profile })))
    }

    async fn image(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        let missing = || ApiError::NotFound("no such avatar (a replaced one is not served)".into());
        let (uid, file) = image_path(req).ok_or_else(missing)?;
        match self.avatars.current(&uid, &file).await? {
            Some(avatar) => Ok(web::binary(
                avatar.format.content_type(),
                avatar.bytes,
                CACHE_CONTROL,
            )),
            None => Err(missing()),
        }
    }
}

/// The avatar of an upload: the one part `file` of a multipart form, an accepted image within the
/// size limits. Nothing is stored before this has passed.
fn uploaded(req: &Request) -> Result<Avatar, ApiError> {
    let body = web::body_within(req, MAX_UPLOAD_BYTES)?;
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let boundary = multipart::boundary(content_type)?;
    let parts = multipart::parse(body, &boundary)?;
    let file = multipart::only(&parts, "file")?;
    if file.data.len() > MAX_FILE_BYTES {
        return Err(ApiError::PayloadTooLarge(MAX_FILE_BYTES));
    }
    Avatar::new(file.data.to_vec())
        .ok_or_else(|| ApiError::InvalidAvatar("the file is not a PNG, JPEG or WebP image".into()))
}

/// The `uid` and `file` path parameters: from the event (API Gateway fills `pathParameters`), else
/// from the path and the route's template.
fn image_path(req: &Request) -> Option<(String, String)> {
    let params = req.path_parameters();
    if let (Some(uid), Some(file)) = (params.first("uid"), params.first("file")) {
        return Some((uid.to_string(), file.to_string()));
    }
    let route = routes::ROUTES
        .iter()
        .find(|r| r.action == Action::AvatarImage)?;
    let mut params = route.parameters(req.raw_http_path())?;
    Some((params.remove("uid")?, params.remove("file")?))
}

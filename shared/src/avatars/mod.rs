//! Avatars: the image a user chose with `<button open-type="chooseAvatar">`, uploaded to `POST /avatar`
//! and served at `GET /avatars/{uid}/{version}.{ext}` on the API's own domain.
//!
//! - One image per account, replaced on re-upload ([`AvatarStore`]: S3 deployed, a folder or memory
//!   locally). Its URL names the account id (never an openid) and a version, the SHA-256 of the bytes:
//!   a new image is a new URL, so every answer may be cached for a year (`immutable`), and the URL of
//!   a replaced image answers 404 instead of the new one.
//! - PNG, JPEG and WebP only, recognised by their bytes ([`image`]), at most [`MAX_FILE_BYTES`].
//!
//! The service next to [`crate::users::Users`]: it speaks [`ServiceError`], never HTTP.

pub mod image;
pub mod memory;
#[cfg(feature = "aws")]
pub mod s3;

use std::sync::Arc;

use async_trait::async_trait;
use sha2::{Digest, Sha256};

use crate::error::{ServiceError, StoreError};
pub use image::ImageFormat;

/// Largest avatar file (the part `file` of the form).
pub const MAX_FILE_BYTES: usize = 1_048_576;
/// Largest `POST /avatar` body: the file and 64 KiB for the rest of the form.
pub const MAX_UPLOAD_BYTES: usize = MAX_FILE_BYTES + 64 * 1024;
/// The path prefix of avatar URLs (the route `GET /avatars/{uid}/{file}`).
pub const PATH_PREFIX: &str = "/avatars/";
/// How clients may cache an avatar: a year, never revalidated (its URL changes with its content).
pub const CACHE_CONTROL: &str = "public, max-age=31536000, immutable";

/// An accepted image: its format and bytes, and its version (lowercase hex SHA-256 of the bytes).
#[derive(Clone, PartialEq, Eq)]
pub struct Avatar {
    pub format: ImageFormat,
    pub bytes: Vec<u8>,
    pub version: String,
}

impl std::fmt::Debug for Avatar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Avatar")
            .field("format", &self.format)
            .field("bytes", &self.bytes.len())
            .field("version", &self.version)
            .finish()
    }
}

impl Avatar {
    /// The avatar of these bytes; `None` when they are not a PNG, JPEG or WebP image.
    pub fn new(bytes: Vec<u8>) -> Option<Avatar> {
        let format = ImageFormat::detect(&bytes)?;
        let version = hex::encode(Sha256::digest(&bytes));
        Some(Avatar {
            format,
            bytes,
            version,
        })
    }

    /// The last segment of its URL: `{version}.{ext}`.
    pub fn file_name(&self) -> String {
        format!("{}.{}", self.version, self.format.extension())
    }
}

/// Whether `uid` has the shape of an account id (what [`crate::crypto::random_id`] makes, with room).
pub fn is_uid(uid: &str) -> bool {
    (16..=64).contains(&uid.len())
        && uid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The version and format a URL's last segment names (`{64 hex}.{png|jpg|webp}`).
pub fn parse_file_name(file: &str) -> Option<(&str, ImageFormat)> {
    let (version, ext) = file.split_once('.')?;
    let hex = version.len() == 64
        && version
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    Some((version, ImageFormat::from_extension(ext)?)).filter(|_| hex)
}

/// Storage of avatars, one per account. Every implementation gives the same answers; the integration
/// tests run one suite against each.
#[async_trait]
pub trait AvatarStore: Send + Sync {
    /// Stores the account's avatar, replacing the one it had.
    async fn put(&self, uid: &str, avatar: &Avatar) -> Result<(), StoreError>;

    /// The bytes of the account's avatar, if it has one.
    async fn get(&self, uid: &str) -> Result<Option<Vec<u8>>, StoreError>;
}

/// Where avatar URLs point: `AVATAR_BASE_URL` when set (a CDN in front of the API), else the origin
/// the request was sent to (the API's own domain).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AvatarUrls {
    base: Option<String>,
}

impl AvatarUrls {
    /// URLs under `base` (`AVATAR_BASE_URL`, no trailing slash), or under each request's origin.
    pub fn new(base: Option<String>) -> AvatarUrls {
        AvatarUrls { base }
    }

    /// The base of the URLs answered to a request sent to `origin`.
    pub fn base<'a>(&'a self, origin: Option<&'a str>) -> Option<&'a str> {
        self.base.as_deref().or(origin)
    }

    /// The URL of an account's avatar.
    pub fn url(&self, base: &str, uid: &str, avatar: &Avatar) -> String {
        format!("{base}{PATH_PREFIX}{uid}/{}", avatar.file_name())
    }

    /// Whether `url` is one this deployment issues (under the base of a request sent to `origin`,
    /// the path of an avatar and nothing else): `PUT /profile` accepts those even over http (the
    /// local server's).
    pub fn issued(&self, origin: Option<&str>, url: &str) -> bool {
        let Some(rest) = self
            .base(origin)
            .and_then(|base| url.strip_prefix(base))
            .and_then(|rest| rest.strip_prefix(PATH_PREFIX))
        else {
            return false;
        };
        match rest.split_once('/') {
            Some((uid, file)) => is_uid(uid) && parse_file_name(file).is_some(),
            None => false,
        }
    }
}

/// The avatars of the accounts.
#[derive(Clone)]
pub struct Avatars {
    store: Arc<dyn AvatarStore>,
}

impl std::fmt::Debug for Avatars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Avatars").finish_non_exhaustive()
    }
}

impl Avatars {
    pub fn new(store: Arc<dyn AvatarStore>) -> Avatars {
        Avatars { store }
    }

    /// Stores an account's avatar, replacing its previous one.
    pub async fn save(&self, uid: &str, avatar: &Avatar) -> Result<(), ServiceError> {
        Ok(self.store.put(uid, avatar).await?)
    }

    /// The account's avatar when it is the one `file` names (`{version}.{ext}`): `None` for an
    /// account without one, and for a version or format it no longer has.
    pub async fn current(&self, uid: &str, file: &str) -> Result<Option<Avatar>, ServiceError> {
        let Some((version, format)) = parse_file_name(file).filter(|_| is_uid(uid)) else {
            return Ok(None);
        };
        let Some(bytes) = self.store.get(uid).await? else {
            return Ok(None);
        };
        let Some(avatar) = Avatar::new(bytes) else {
            return Err(ServiceError::Store(StoreError::Corrupt(
                "a stored avatar is not an accepted image".into(),
            )));
        };
        Ok((avatar.version == version && avatar.format == format).then_some(avatar))
    }
}

#[cfg(test)]
mod tests {
    use super::image::samples;
    use super::*;

    #[test]
    fn versions_and_urls() {
        let avatar = Avatar::new(samples::png()).expect("png");
        assert_eq!(avatar.version.len(), 64);
        let file = avatar.file_name();
        assert!(file.ends_with(".png"));
        assert_eq!(
            parse_file_name(&file),
            Some((avatar.version.as_str(), ImageFormat::Png))
        );
        for bad in [
            "x.png",
            &format!("{}.gif", avatar.version),
            &format!("{}.png", avatar.version.to_uppercase()),
            &format!("{}png", avatar.version),
            &format!("{}.png.png", avatar.version),
        ] {
            assert_eq!(parse_file_name(bad), None, "{bad}");
        }
        let urls = AvatarUrls::new(None);
        let uid = "AAAAAAAAAAAAAAAAAAAAAA";
        let local = "http://127.0.0.1:3000";
        let url = urls.url(local, uid, &avatar);
        assert_eq!(url, format!("{local}/avatars/{uid}/{file}"));
        assert!(urls.issued(Some(local), &url));
        assert!(!urls.issued(Some("http://127.0.0.1:3001"), &url));
        assert!(!urls.issued(None, &url));
        assert!(!urls.issued(Some(local), &format!("{url}?x")));
        assert!(!urls.issued(Some(local), &format!("{local}/avatars/{uid}")));
        assert!(!urls.issued(Some(local), &format!("{local}/avatars/o/{file}")));
        let cdn = AvatarUrls::new(Some("https://cdn.example.com".into()));
        assert_eq!(cdn.base(Some(local)), Some("https://cdn.example.com"));
        assert!(cdn.issued(
            Some(local),
            &cdn.url("https://cdn.example.com", uid, &avatar)
        ));
        assert!(!is_uid("short") && !is_uid(&"a".repeat(65)) && !is_uid("aaaaaaaaaaaaaaa/a"));
    }

    #[tokio::test]
    async fn only_the_current_version_is_served() {
        let avatars = Avatars::new(Arc::new(memory::MemoryAvatars::new()));
        let uid = "BBBBBBBBBBBBBBBBBBBBBB";
        let png = Avatar::new(samples::png()).expect("png");
        let jpeg = Avatar::new(samples::jpeg()).expect("jpeg");
        assert_eq!(avatars.current(uid, &png.file_name()).await, Ok(None));
        avatars.save(uid, &png).await.expect("saved");
        assert_eq!(
            avatars.current(uid, &png.file_name()).await,
            Ok(Some(png.clone()))
        );
        let wrong_ext = format!("{}.jpg", png.version);
        assert_eq!(avatars.current(uid, &wrong_ext).await, Ok(None));
        avatars.save(uid, &jpeg).await.expect("replaced");
        assert_eq!(avatars.current(uid, &png.file_name()).await, Ok(None));
        assert_eq!(
            avatars.current(uid, &jpeg.file_name()).await,
            Ok(Some(jpeg.clone()))
        );
        assert_eq!(
            avatars.current("../../etc", &jpeg.file_name()).await,
            Ok(None)
        );
    }
}

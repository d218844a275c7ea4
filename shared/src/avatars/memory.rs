//! Avatars on one machine: in memory (the local server's default, the tests), or one file per account
//! in a folder ([`MemoryAvatars::in_folder`]: the local server with `--data FILE` keeps them in
//! `FILE.avatars/`), written atomically, read back after a restart.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use async_trait::async_trait;

use super::{Avatar, AvatarStore, is_uid};
use crate::error::StoreError;

/// Avatars in a map, or in files of a folder.
#[derive(Debug, Default)]
pub struct MemoryAvatars {
    images: Mutex<HashMap<String, Vec<u8>>>,
    folder: Option<PathBuf>,
}

impl MemoryAvatars {
    pub fn new() -> MemoryAvatars {
        MemoryAvatars::default()
    }

    /// Avatars kept as files in `folder` (created if missing).
    pub fn in_folder(folder: &Path) -> Result<MemoryAvatars, StoreError> {
        std::fs::create_dir_all(folder).map_err(|e| {
            StoreError::Unavailable(format!("cannot create {}: {e}", folder.display()))
        })?;
        Ok(MemoryAvatars {
            images: Mutex::default(),
            folder: Some(folder.to_path_buf()),
        })
    }

    /// The file of an account's avatar.
    fn file(folder: &Path, uid: &str) -> Result<PathBuf, StoreError> {
        Ok(folder.join(checked(uid)?))
    }
}

/// An account id; ids of another shape never name a file or a key (as in every avatar store).
fn checked(uid: &str) -> Result<&str, StoreError> {
    if is_uid(uid) {
        Ok(uid)
    } else {
        Err(StoreError::Corrupt("not an account id".into()))
    }
}

#[async_trait]
impl AvatarStore for MemoryAvatars {
    async fn put(&self, uid: &str, avatar: &Avatar) -> Result<(), StoreError> {
        checked(uid)?;
        if let Some(folder) = &self.folder {
            let path = MemoryAvatars::file(folder, uid)?;
            let tmp = path.with_extension("tmp");
            let io = |e: std::io::Error| {
                StoreError::Unavailable(format!("cannot write {}: {e}", path.display()))
            };
            std::fs::write(&tmp, &avatar.bytes).map_err(io)?;
            return std::fs::rename(&tmp, &path).map_err(io);
        }
        let mut images = self
            .images
            .lock()
            .map_err(|_| StoreError::Unavailable("avatar store poisoned".into()))?;
        images.insert(uid.to_string(), avatar.bytes.clone());
        Ok(())
    }

    async fn get(&self, uid: &str) -> Result<Option<Vec<u8>>, StoreError> {
        checked(uid)?;
        if let Some(folder) = &self.folder {
            let path = MemoryAvatars::file(folder, uid)?;
            return match std::fs::read(&path) {
                Ok(bytes) => Ok(Some(bytes)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(StoreError::Unavailable(format!(
                    "cannot read {}: {e}",
                    path.display()
                ))),
            };
        }
        let images = self
            .images
            .lock()
            .map_err(|_| StoreError::Unavailable("avatar store poisoned".into()))?;
        Ok(images.get(uid).cloned())
    }
}

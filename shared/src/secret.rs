//! [`Secret`]: a string that never shows itself in `Debug` (app secrets, session_keys, skeys,
//! access_tokens). Every layer carries secrets in it.

use std::fmt;

/// A secret string whose `Debug` never shows the value. It serializes as itself: only stores do that.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The secret itself. Call sites are few and easy to audit.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

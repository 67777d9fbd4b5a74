//! The dashboard's sessions: one hash each, named by the SHA-256 of the session's id (the
//! cookie's value), so the keys in Redis do not hold what a browser presents. A session ends
//! when its TTL passes or it is deleted (sign-out); it names its API key only, which is read
//! again on every request, so a revoked or expired key ends it too.

use crate::{hash_secret, Result, Store};
use redis::AsyncCommands;

/// A signed-in dashboard session.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UiSession {
    /// The tenant and its API key the session was opened with (empty for the admin's).
    pub tenant: String,
    pub key_id: String,
    /// The admin's session: the SHA-256 of the admin token it was opened with.
    pub admin_digest: Option<String>,
    /// The token every form of the session carries.
    pub csrf: String,
    /// When it was opened (ms).
    pub created_ms: i64,
}

impl UiSession {
    fn from_fields(fields: Vec<(String, String)>) -> Option<UiSession> {
        if fields.is_empty() {
            return None;
        }
        let get = |k: &str| fields.iter().find(|(f, _)| f == k).map(|(_, v)| v.clone());
        Some(UiSession {
            tenant: get("tenant").unwrap_or_default(),
            key_id: get("key").unwrap_or_default(),
            admin_digest: get("admin").filter(|a| !a.is_empty()),
            csrf: get("csrf").unwrap_or_default(),
            created_ms: get("created").and_then(|v| v.parse().ok()).unwrap_or(0),
        })
    }
}

impl Store {
    /// Stores session `id` for `ttl_ms`.
    pub async fn create_ui_session(&self, id: &str, s: &UiSession, ttl_ms: u64) -> Result<()> {
        let key = self.keys.ui_session(&hash_secret(id));
        let fields = [
            ("tenant", s.tenant.clone()),
            ("key", s.key_id.clone()),
            ("admin", s.admin_digest.clone().unwrap_or_default()),
            ("csrf", s.csrf.clone()),
            ("created", s.created_ms.to_string()),
        ];
        let mut pipe = redis::pipe();
        pipe.atomic()
            .hset_multiple(&key, &fields)
            .ignore()
            .pexpire(&key, i64::try_from(ttl_ms).unwrap_or(i64::MAX))
            .ignore();
        let _: () = pipe.query_async(&mut self.c()).await?;
        Ok(())
    }

    /// Session `id`, while it lasts.
    pub async fn ui_session(&self, id: &str) -> Result<Option<UiSession>> {
        let key = self.keys.ui_session(&hash_secret(id));
        let fields: Vec<(String, String)> = self.c().hgetall(key).await?;
        Ok(UiSession::from_fields(fields))
    }

    /// Ends session `id`.
    pub async fn delete_ui_session(&self, id: &str) -> Result<()> {
        let key = self.keys.ui_session(&hash_secret(id));
        let _: () = self.c().del(key).await?;
        Ok(())
    }
}

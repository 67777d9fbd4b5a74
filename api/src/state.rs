//! The state every handler shares: the store, the settings, the admin token, the broker
//! (for readiness), the API-key cache and the live tails' hub.

use crate::hub::TailHub;
use chime_broker::Publisher;
use chime_runtime::config::Settings;
use chime_store::{ApiKey, Store};
use std::sync::Arc;

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub settings: Arc<Settings>,
    pub admin_token: Arc<str>,
    pub broker: Arc<Publisher>,
    /// API keys looked up in the last few seconds (saves a round trip per request).
    pub key_cache: KeyCache,
    /// The SSRF guard's policy (`allow_targets`), for job URLs that are literal addresses.
    pub targets: Arc<chime_core::targets::TargetPolicy>,
    /// The live tails' one reader of this process, and their caps.
    pub tails: TailHub,
}

/// API keys read in the last [`KeyCache::TTL`]: keys are immutable once created, so a short
/// cache only delays nothing but a deleted tenant's key by a few seconds.
#[derive(Clone, Default)]
pub struct KeyCache(
    std::sync::Arc<
        std::sync::Mutex<std::collections::HashMap<String, (ApiKey, std::time::Instant)>>,
    >,
);

impl KeyCache {
    pub const TTL: std::time::Duration = std::time::Duration::from_secs(10);
    const MAX: usize = 10_000;

    pub(crate) fn get(&self, id: &str) -> Option<ApiKey> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.get(id)
            .filter(|(_, at)| at.elapsed() < Self::TTL)
            .map(|(k, _)| k.clone())
    }

    pub(crate) fn put(&self, key: ApiKey) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= Self::MAX {
            map.clear();
        }
        map.insert(key.id.clone(), (key, std::time::Instant::now()));
    }
}

//! The state every handler shares: the store, the settings, the admin token, the broker
//! (for readiness) and the API-key cache.

use crate::auth::KeyCache;
use chime_broker::Publisher;
use chime_runtime::config::Settings;
use chime_store::Store;
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
}

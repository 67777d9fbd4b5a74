//! The state every handler shares: the store, the settings, the admin tokens, the broker
//! (for readiness), the SSRF policy, the live tails' hub and the request rate limits.

use crate::hub::TailHub;
use chime_broker::Publisher;
use chime_runtime::config::Settings;
use chime_store::Store;
use std::sync::Arc;

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub settings: Arc<Settings>,
    pub admin_tokens: Arc<crate::auth::AdminTokens>,
    pub broker: Arc<Publisher>,
    /// The keys secret header values are sealed with (`secret_keys`).
    pub secrets: Arc<chime_core::secrets::Keyring>,
    /// The SSRF guard's policy (`allow_targets`), for job URLs that are literal addresses.
    pub targets: Arc<chime_core::targets::TargetPolicy>,
    /// The live tails' one reader of this process, and their caps.
    pub tails: TailHub,
    /// The keys of the OAuth access tokens (`token_keys`).
    pub tokens: Arc<crate::tokens::TokenKeys>,
    /// The request rate limits of this process, per key and per tenant.
    pub limits: Arc<crate::ratelimit::RateLimits>,
}

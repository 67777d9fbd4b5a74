//! The tenants' signing secrets, opened with the worker's keyring and kept in memory for
//! `signing_secret_cache_ms` (30 s), so a call costs no Redis read for them: a tenant's
//! secrets are read once per period per worker, by the first run that needs them (the runs
//! beside it wait for that read). A rotation therefore signs this worker's calls within one
//! period; the previous secret's overlap is checked at each call.
//!
//! A tenant created before tenants had secrets gets one here, on first use: the worker seals a
//! new secret and stores it only if the tenant still has none (`signing_init.lua`), so every
//! worker signs with the same one. Without a keyring the worker can neither create nor open a
//! secret: a tenant without one is called unsigned, a tenant with one is refused. A secret that
//! cannot be opened fails the tenant's runs without their calls (fail closed).

use chime_core::secrets::Keyring;
use chime_core::signing::{self, Signer, SigningKey};
use chime_store::{Store, StoreError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;

/// How a tenant's calls are signed.
#[derive(Clone, Debug)]
pub enum Signing {
    Signed(Arc<Signer>),
    /// The tenant has no secret and this worker no keyring to make one.
    Unsigned,
    /// The tenant's secret cannot be opened (or the tenant is gone): its runs fail uncalled,
    /// with this reason.
    Refused(String),
}

impl Signing {
    /// The signer of a call: `None` unsigned, an error (the reason) when refused.
    pub fn signer(self) -> Result<Option<Arc<Signer>>, String> {
        match self {
            Signing::Signed(signer) => Ok(Some(signer)),
            Signing::Unsigned => Ok(None),
            Signing::Refused(e) => Err(e),
        }
    }
}

struct Entry {
    read_at: Instant,
    cell: Arc<OnceCell<Signing>>,
}

/// The signing secrets of the tenants this worker calls for.
pub struct SigningKeys {
    store: Store,
    keyring: Keyring,
    ttl: Duration,
    cache: Mutex<HashMap<String, Entry>>,
}

/// Tenants kept before the cache forgets those past their period.
const PRUNE_ABOVE: usize = 4096;

impl SigningKeys {
    pub fn new(store: Store, keyring: Keyring, ttl: Duration) -> SigningKeys {
        SigningKeys {
            store,
            keyring,
            ttl,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// How `tenant`'s calls are signed: from memory when read less than a period ago, else
    /// read (once, whatever the runs asking at the same time). A failed read is not kept.
    pub async fn of(&self, tenant: &str) -> Result<Signing, StoreError> {
        let cell = {
            let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            match cache.get(tenant) {
                Some(e) if now.duration_since(e.read_at) < self.ttl => e.cell.clone(),
                _ => {
                    if cache.len() >= PRUNE_ABOVE {
                        cache.retain(|_, e| now.duration_since(e.read_at) < self.ttl);
                    }
                    let cell = Arc::new(OnceCell::new());
                    let entry = Entry {
                        read_at: now,
                        cell: cell.clone(),
                    };
                    cache.insert(tenant.to_string(), entry);
                    cell
                }
            }
        };
        cell.get_or_try_init(|| self.read(tenant)).await.cloned()
    }

    /// Reads the tenant's secrets and opens them, giving the tenant one if it has none.
    async fn read(&self, tenant: &str) -> Result<Signing, StoreError> {
        let refused = |why: String| Ok(Signing::Refused(why));
        let Some(stored) = self.store.signing_secrets(tenant).await? else {
            return refused(format!("tenant {tenant} does not exist"));
        };
        let place = signing::place(tenant);
        let current = match stored.current {
            Some(sealed) => sealed,
            None if self.keyring.is_empty() => return Ok(Signing::Unsigned),
            None => {
                let sealed = match self.keyring.seal(&place, &signing::new_secret()) {
                    Ok(s) => s,
                    Err(e) => return refused(format!("the signing secret cannot be made: {e}")),
                };
                match self.store.init_signing_secret(tenant, &sealed).await? {
                    Some(kept) => {
                        if kept == sealed {
                            tracing::info!(tenant, "signing secret created on first use");
                        }
                        kept
                    }
                    None => return refused(format!("tenant {tenant} does not exist")),
                }
            }
        };
        let open = |sealed: &str| {
            self.keyring
                .open(&place, sealed)
                .and_then(|s| SigningKey::parse(&s))
                .map_err(|e| format!("the tenant's signing secret cannot be opened: {e}"))
        };
        let current = match open(&current) {
            Ok(k) => k,
            Err(e) => return refused(e),
        };
        let now = chrono::Utc::now().timestamp_millis();
        let previous = match stored.previous {
            Some((sealed, until)) if until > now => match open(&sealed) {
                Ok(k) => Some((k, until)),
                Err(e) => return refused(e),
            },
            _ => None,
        };
        Ok(Signing::Signed(Arc::new(Signer::new(current, previous))))
    }
}

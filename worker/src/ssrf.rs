//! The SSRF guard in the worker: a reqwest DNS resolver that refuses to hand out blocked
//! addresses, over the policy of [`chime_core::targets`] (which addresses may be dialled, and
//! the check of a URL before any connection).

pub use chime_core::targets::*;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The time a call's name lookup took, set by the resolver when the lookup runs within the
/// call's [`DNS_TIME`] scope (a call over a pooled connection, or to an IP literal, does no
/// lookup).
#[derive(Debug, Default)]
pub struct DnsTime(AtomicU64);

impl DnsTime {
    /// The lookup's duration (ms), if one ran.
    pub fn get(&self) -> Option<u64> {
        match self.0.load(Ordering::Relaxed) {
            0 => None,
            v => Some(v - 1),
        }
    }

    fn set(&self, ms: u64) {
        self.0.store(ms + 1, Ordering::Relaxed);
    }
}

tokio::task_local! {
    /// Where the resolver reports the current call's lookup time.
    pub static DNS_TIME: Arc<DnsTime>;
}

/// A reqwest DNS resolver that resolves with the system resolver and fails the resolution if
/// any resolved address is blocked by the policy. Connections are then made only to the
/// addresses it returned, all of which were checked.
#[derive(Clone, Debug, Default)]
pub struct GuardedResolver {
    policy: TargetPolicy,
}

impl GuardedResolver {
    /// A resolver enforcing `policy`.
    pub fn new(policy: TargetPolicy) -> Self {
        Self { policy }
    }

    /// Resolves `host` and checks every address (the port is set by the connector later). A
    /// name under `.invalid` fails at once without a query (RFC 6761: such names never exist,
    /// and resolver APIs should answer so themselves).
    pub async fn resolve_checked(&self, host: &str) -> Result<Vec<SocketAddr>, GuardError> {
        if is_special_invalid(host) {
            return Err(GuardError::Resolve {
                host: host.to_string(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no such name (the .invalid domain never resolves)",
                ),
            });
        }
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, 0))
            .await
            .map_err(|source| GuardError::Resolve {
                host: host.to_string(),
                source,
            })?
            .collect();
        let checked = self.policy.check_resolved(host, addrs);
        if let Err(e) = &checked {
            chime_runtime::telemetry::warn_throttled(
                "ssrf_dns_refused",
                &format!("DNS answer for {host} refused by the SSRF guard: {e}"),
            );
        }
        checked
    }
}

/// Whether `host` is in the `.invalid` domain (RFC 6761 §6.4), whatever its case or a final dot.
fn is_special_invalid(host: &str) -> bool {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    h == "invalid" || h.ends_with(".invalid")
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let this = self.clone();
        // Read now: the lookup future may be polled outside the call's scope.
        let slot = DNS_TIME.try_with(Arc::clone).ok();
        Box::pin(async move {
            let start = std::time::Instant::now();
            let checked = this.resolve_checked(name.as_str()).await;
            if let Some(slot) = slot {
                slot.set(start.elapsed().as_millis() as u64);
            }
            let addrs = checked?;
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_name_under_invalid_fails_without_a_lookup() {
        let allowed = GuardedResolver::new(TargetPolicy::parse("0.0.0.0/0, ::/0").unwrap());
        for host in ["x.invalid", "A.B.INVALID.", "invalid"] {
            let err = allowed.resolve_checked(host).await.unwrap_err();
            assert!(matches!(err, GuardError::Resolve { .. }), "{host}: {err}");
        }
        assert!(!is_special_invalid("invalid.example"));
        assert!(!is_special_invalid("notinvalid"));
    }

    #[tokio::test]
    async fn resolver_checks_localhost() {
        let blocked = GuardedResolver::new(TargetPolicy::default());
        let err = blocked.resolve_checked("localhost").await.unwrap_err();
        assert!(matches!(err, GuardError::Blocked { .. }), "{err}");
        let allowed = GuardedResolver::new(TargetPolicy::parse("127.0.0.0/8, ::1/128").unwrap());
        let addrs = allowed.resolve_checked("localhost").await.unwrap();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()));
    }
}

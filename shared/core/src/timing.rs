//! How long the parts of a call took ([`Timing`]) and why a failed run failed
//! ([`FailureReason`]): what a run's record keeps of its call besides its total duration.

named_enum!(
    /// Why a run failed, as its record and the API name it. SAP has no such field; the
    /// values are chime's.
    FailureReason, "failureReason", {
        /// The target's host name did not resolve.
        Dns = "dns",
        /// No connection could be made, or it broke before an answer.
        Connect = "connect",
        /// The TLS handshake failed (certificate, protocol).
        Tls = "tls",
        /// No answer within the action's timeout (or, for an asynchronous run, no report
        /// within the asynchronous deadline).
        Timeout = "timeout",
        /// The target answered 4xx (or any status outside 200-399 below 500).
        Http4xx = "http_4xx",
        /// The target answered 5xx.
        Http5xx = "http_5xx",
        /// The SSRF guard refused the target's address.
        Blocked = "blocked",
        /// Reserved: a body over the cap is truncated and the run is not failed for it, so
        /// no run has this reason today.
        BodyTooLarge = "body_too_large",
        /// Cancelled by a newer run of its schedule (`concurrencyPolicy: replace`).
        Cancelled = "cancelled",
        /// The action could not be sent: an invalid URL or header, a secret header or
        /// signing secret that could not be opened.
        Invalid = "invalid",
    }
);

impl FailureReason {
    /// The reason of an answer's status outside 200-399.
    pub fn of_status(status: u16) -> FailureReason {
        if status >= 500 {
            FailureReason::Http5xx
        } else {
            FailureReason::Http4xx
        }
    }
}

/// The parts of a call's duration that the client exposes, in ms from the call's start;
/// `None` where unknown (no lookup for an IP literal or a reused connection, or a part that
/// is not measured: chime measures `dns` and `first_byte` only).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Timing {
    pub dns_ms: Option<u64>,
    pub connect_ms: Option<u64>,
    pub tls_ms: Option<u64>,
    /// Until the answer's headers arrived.
    pub first_byte_ms: Option<u64>,
}

impl Timing {
    /// Whether nothing is known.
    pub fn is_empty(&self) -> bool {
        *self == Timing::default()
    }

    /// The compact form a record stores: `dns,connect,tls,firstByte`, each part empty when
    /// unknown; `""` when nothing is known.
    pub fn encode(&self) -> String {
        if self.is_empty() {
            return String::new();
        }
        let part = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
        format!(
            "{},{},{},{}",
            part(self.dns_ms),
            part(self.connect_ms),
            part(self.tls_ms),
            part(self.first_byte_ms)
        )
    }

    /// Reads [`Timing::encode`]'s form back; `None` when it is empty or not of that form.
    pub fn decode(stored: &str) -> Option<Timing> {
        let mut parts = stored.split(',');
        let mut next = || -> Option<Option<u64>> {
            let p = parts.next()?;
            if p.is_empty() {
                Some(None)
            } else {
                p.parse().ok().map(Some)
            }
        };
        let t = Timing {
            dns_ms: next()?,
            connect_ms: next()?,
            tls_ms: next()?,
            first_byte_ms: next()?,
        };
        (!t.is_empty()).then_some(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timing_reads_back_from_its_compact_form() {
        let t = Timing {
            dns_ms: Some(3),
            first_byte_ms: Some(41),
            ..Timing::default()
        };
        assert_eq!(t.encode(), "3,,,41");
        assert_eq!(Timing::decode("3,,,41"), Some(t));
        assert_eq!(Timing::default().encode(), "");
        assert_eq!(Timing::decode(""), None);
        assert_eq!(Timing::decode(",,,"), None);
        assert_eq!(Timing::decode("1,2"), None);
        assert_eq!(Timing::decode("x,,,1"), None);
    }

    #[test]
    fn statuses_give_their_reason() {
        assert_eq!(FailureReason::of_status(404), FailureReason::Http4xx);
        assert_eq!(FailureReason::of_status(503), FailureReason::Http5xx);
        for r in FailureReason::ALL {
            assert_eq!(r.as_str().parse::<FailureReason>(), Ok(*r));
        }
    }
}

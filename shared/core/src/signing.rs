//! Signed calls in the Standard Webhooks form: a tenant's signing secret (`whsec_` and the
//! base64 of 32 random bytes), the `webhook-id` of a run's call, and the `webhook-signature`
//! of a call: `v1,` and the base64 of HMAC-SHA256 over `{webhook-id}.{webhook-timestamp}.{body}`
//! keyed with the secret's bytes, one such signature per secret that signs (the tenant's
//! current secret, and during a rotation's overlap its previous one), space-separated.
//!
//! The secret is sealed at rest like a secret header ([`crate::secrets`]), bound to
//! [`place`]; the worker opens it and keeps a [`Signer`].

use aes_gcm::aead::rand_core::RngCore;
use aes_gcm::aead::OsRng;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::secrets::SecretError;

/// What a signing secret starts with (Standard Webhooks' mark of a symmetric secret).
pub const PREFIX: &str = "whsec_";
/// Random bytes of a new signing secret.
pub const SECRET_BYTES: usize = 32;

/// The call's id: the run id and the attempt (`<runId>_<attempt>`).
pub const HEADER_ID: &str = "webhook-id";
/// The call's instant, in unix seconds.
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
/// The call's signatures, `v1,<base64>`, space-separated.
pub const HEADER_SIGNATURE: &str = "webhook-signature";
/// The number of the call for its run (1 for the first).
pub const HEADER_ATTEMPT: &str = "x-chime-attempt";

/// A new signing secret: [`PREFIX`] and the base64 (standard alphabet, padded) of
/// [`SECRET_BYTES`] random bytes.
pub fn new_secret() -> String {
    let mut raw = [0u8; SECRET_BYTES];
    OsRng.fill_bytes(&mut raw);
    format!("{PREFIX}{}", B64.encode(raw))
}

/// Where a tenant's signing secret belongs: the additional data it is sealed with. (A secret
/// header's place has three parts, `<tenant>/<job>/<header>`; this one two, so neither
/// opens as the other.)
pub fn place(tenant: &str) -> String {
    format!("{tenant}/signing-secret")
}

/// The `webhook-id` of a run's call: its run id and the attempt.
pub fn message_id(run_id: &str, attempt: u32) -> String {
    format!("{run_id}_{attempt}")
}

/// A signing key: a secret's bytes, keyed into HMAC-SHA256 once. Its debug output shows
/// nothing of the key.
#[derive(Clone)]
pub struct SigningKey(Hmac<Sha256>);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(***)")
    }
}

impl SigningKey {
    /// Reads a `whsec_…` secret.
    pub fn parse(secret: &str) -> Result<SigningKey, SecretError> {
        let raw = secret
            .strip_prefix(PREFIX)
            .and_then(|b| B64.decode(b).ok())
            .filter(|raw| !raw.is_empty())
            .ok_or(SecretError::Malformed)?;
        let mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&raw).map_err(|_| SecretError::Malformed)?;
        Ok(SigningKey(mac))
    }

    /// `v1,` and the base64 of HMAC-SHA256 over `{id}.{timestamp}.{body}`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac = self.0.clone();
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", B64.encode(mac.finalize().into_bytes()))
    }
}

/// What signs a tenant's calls: its current secret, and during a rotation's overlap its
/// previous one, until an instant (ms).
#[derive(Clone, Debug)]
pub struct Signer {
    current: SigningKey,
    previous: Option<(SigningKey, i64)>,
}

impl Signer {
    pub fn new(current: SigningKey, previous: Option<(SigningKey, i64)>) -> Signer {
        Signer { current, previous }
    }

    /// The `webhook-signature` of a call made at `now_ms`: the current secret's signature,
    /// then the previous secret's while `now_ms` is before the end of its overlap.
    pub fn signature(&self, id: &str, timestamp: i64, body: &[u8], now_ms: i64) -> String {
        let mut out = self.current.sign(id, timestamp, body);
        if let Some((key, until)) = &self.previous {
            if now_ms < *until {
                out.push(' ');
                out.push_str(&key.sign(id, timestamp, body));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The Standard Webhooks libraries' own vector (their "sign function works" test).
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: i64 = 1_614_265_330;
    const PAYLOAD: &str = r#"{"test": 2432232314}"#;
    const EXPECTED: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn the_signature_matches_the_standard_webhooks_vector() {
        let key = SigningKey::parse(SECRET).unwrap();
        assert_eq!(key.sign(ID, TIMESTAMP, PAYLOAD.as_bytes()), EXPECTED);
        // Any change of id, timestamp or body changes it.
        assert_ne!(
            key.sign("msg_other", TIMESTAMP, PAYLOAD.as_bytes()),
            EXPECTED
        );
        assert_ne!(key.sign(ID, TIMESTAMP + 1, PAYLOAD.as_bytes()), EXPECTED);
        assert_ne!(key.sign(ID, TIMESTAMP, b"{\"test\":2432232314}"), EXPECTED);
    }

    #[test]
    fn both_secrets_sign_during_the_overlap_and_only_the_new_one_after() {
        let old = SigningKey::parse(SECRET).unwrap();
        let new = SigningKey::parse(&new_secret()).unwrap();
        let signer = Signer::new(new.clone(), Some((old.clone(), 5_000)));
        let both = signer.signature(ID, TIMESTAMP, b"", 4_999);
        let (first, second) = both.split_once(' ').unwrap();
        assert_eq!(first, new.sign(ID, TIMESTAMP, b""));
        assert_eq!(second, old.sign(ID, TIMESTAMP, b""));
        assert_eq!(
            signer.signature(ID, TIMESTAMP, b"", 5_000),
            new.sign(ID, TIMESTAMP, b"")
        );
        let alone = Signer::new(old, None);
        assert_eq!(
            alone.signature(ID, TIMESTAMP, PAYLOAD.as_bytes(), 0),
            EXPECTED
        );
    }

    #[test]
    fn a_new_secret_is_whsec_and_32_random_bytes() {
        let a = new_secret();
        let raw = B64.decode(a.strip_prefix(PREFIX).unwrap()).unwrap();
        assert_eq!(raw.len(), SECRET_BYTES);
        assert_eq!(a.len(), PREFIX.len() + 44, "padded base64 of 32 bytes: {a}");
        assert_ne!(a, new_secret());
        assert!(SigningKey::parse(&a).is_ok());
    }

    #[test]
    fn malformed_secrets_are_refused_and_keys_never_shown() {
        for bad in [
            "",
            "whsec_",
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_!!!",
            "whsk_AAAA",
        ] {
            assert!(SigningKey::parse(bad).is_err(), "{bad}");
        }
        let key = SigningKey::parse(SECRET).unwrap();
        let shown = format!("{:?}", Signer::new(key.clone(), Some((key, 1))));
        assert!(!shown.contains("MfKQ"), "{shown}");
        assert_eq!(message_id("ABC", 2), "ABC_2");
        assert_eq!(place("acme"), "acme/signing-secret");
    }
}

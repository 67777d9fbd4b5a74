//! Secret header values at rest: sealed with AES-256-GCM under a keyring from the settings
//! (`CHIME_SECRET_KEYS`: `id:base64-of-32-bytes`, comma-separated, the first one current).
//!
//! A sealed value is `v1:<key id>:<base64 of nonce ‖ ciphertext ‖ tag>`, bound to its place
//! (`<tenant>/<job id>/<header name>`, the additional data): a value copied to another
//! tenant's job, another job or another header does not open. Rotation: put the new key
//! first and keep the old ones behind it; values sealed under an old key open as long as it
//! is in the ring, and each is sealed again under the current key when its job is written.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

/// What a read shows in place of a secret value; a write that sends it keeps the stored value.
pub const MASK: &str = "***";

const VERSION: &str = "v1";
const NONCE_LEN: usize = 12;

/// Why a keyring or a sealed value was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("CHIME_SECRET_KEYS: {0}")]
    Keyring(String),
    #[error("no secret key is configured (CHIME_SECRET_KEYS)")]
    NoKey,
    #[error("the value was sealed under key '{0}', which is not in CHIME_SECRET_KEYS")]
    UnknownKey(String),
    #[error("the value is not a sealed secret")]
    Malformed,
    #[error("the value does not open under its key (altered, or sealed for another place)")]
    Forged,
}

/// The keys secrets are sealed and opened with; the first seals.
#[derive(Clone, Default)]
pub struct Keyring {
    keys: Vec<(String, Aes256Gcm)>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("Keyring").field("ids", &ids).finish()
    }
}

impl Keyring {
    /// Reads `id:base64,id:base64`; an empty text is an empty ring (nothing can be sealed).
    pub fn parse(spec: &str) -> Result<Keyring, SecretError> {
        let mut keys: Vec<(String, Aes256Gcm)> = Vec::new();
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let bad = |m: &str| SecretError::Keyring(format!("entry '{}…': {m}", short(entry)));
            let (id, key) = entry
                .split_once(':')
                .ok_or_else(|| bad("write id:base64"))?;
            let id = id.trim();
            if id.is_empty()
                || !id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(bad("the id must be letters, digits, '-' or '_'"));
            }
            if keys.iter().any(|(k, _)| k == id) {
                return Err(bad("the id is given twice"));
            }
            let raw = B64
                .decode(key.trim())
                .map_err(|_| bad("the key is not base64"))?;
            let cipher = Aes256Gcm::new_from_slice(&raw)
                .map_err(|_| bad("the key must be 32 bytes (base64 of 32 random bytes)"))?;
            keys.push((id.to_string(), cipher));
        }
        Ok(Keyring { keys })
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Seals `plain` for `place` under the current key.
    pub fn seal(&self, place: &str, plain: &str) -> Result<String, SecretError> {
        let (id, cipher) = self.keys.first().ok_or(SecretError::NoKey)?;
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let sealed = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plain.as_bytes(),
                    aad: place.as_bytes(),
                },
            )
            .map_err(|_| SecretError::Malformed)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(format!("{VERSION}:{id}:{}", B64.encode(out)))
    }

    /// Opens a value sealed for `place`.
    pub fn open(&self, place: &str, sealed: &str) -> Result<String, SecretError> {
        let mut parts = sealed.splitn(3, ':');
        let (Some(VERSION), Some(id), Some(body)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(SecretError::Malformed);
        };
        let cipher = self
            .keys
            .iter()
            .find(|(k, _)| k == id)
            .map(|(_, c)| c)
            .ok_or_else(|| SecretError::UnknownKey(id.to_string()))?;
        let raw = B64.decode(body).map_err(|_| SecretError::Malformed)?;
        if raw.len() < NONCE_LEN {
            return Err(SecretError::Malformed);
        }
        let (nonce, ciphertext) = raw.split_at(NONCE_LEN);
        let plain = cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: place.as_bytes(),
                },
            )
            .map_err(|_| SecretError::Forged)?;
        String::from_utf8(plain).map_err(|_| SecretError::Forged)
    }

    /// Whether `sealed` is sealed under the current key (else a write seals it again).
    pub fn is_current(&self, sealed: &str) -> bool {
        self.keys
            .first()
            .is_some_and(|(id, _)| sealed.starts_with(&format!("{VERSION}:{id}:")))
    }
}

/// Where a header's secret value belongs: the additional data it is sealed with.
pub fn place(tenant: &str, job: u64, header: &str) -> String {
    format!("{tenant}/{job}/{}", header.to_ascii_lowercase())
}

/// A URL as reads show it: its userinfo (a user name, a password) replaced by [`MASK`]. Text
/// that is not a URL, or a URL without userinfo, is shown as it is.
pub fn mask_userinfo(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url.trim()) else {
        return url.to_string();
    };
    if parsed.username().is_empty() && parsed.password().is_none() {
        return url.to_string();
    }
    if !parsed.username().is_empty() {
        let _ = parsed.set_username(MASK);
    }
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some(MASK));
    }
    parsed.to_string()
}

fn short(s: &str) -> String {
    s.chars().take(6).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const K2: &str = "k2:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";

    #[test]
    fn a_sealed_value_opens_only_in_its_place() {
        let ring = Keyring::parse(K1).unwrap();
        let here = place("acme", 7, "Authorization");
        let sealed = ring.seal(&here, "Bearer abc").unwrap();
        assert!(sealed.starts_with("v1:k1:"), "{sealed}");
        assert!(!sealed.contains("Bearer"));
        assert_eq!(ring.open(&here, &sealed).unwrap(), "Bearer abc");
        assert_eq!(
            ring.open(&place("acme", 7, "authorization"), &sealed)
                .unwrap(),
            "Bearer abc",
            "header names are case-insensitive"
        );
        for elsewhere in [
            place("other", 7, "Authorization"),
            place("acme", 8, "Authorization"),
            place("acme", 7, "X-Key"),
        ] {
            assert_eq!(ring.open(&elsewhere, &sealed), Err(SecretError::Forged));
        }
        // Two seals of one value differ (a fresh nonce each).
        assert_ne!(ring.seal(&here, "Bearer abc").unwrap(), sealed);
    }

    #[test]
    fn rotation_keeps_old_values_readable_and_seals_under_the_new_key() {
        let old = Keyring::parse(K1).unwrap();
        let here = place("acme", 1, "x-key");
        let sealed = old.seal(&here, "s3cret").unwrap();
        let rotated = Keyring::parse(&format!("{K2},{K1}")).unwrap();
        assert_eq!(rotated.open(&here, &sealed).unwrap(), "s3cret");
        assert!(!rotated.is_current(&sealed));
        let again = rotated.seal(&here, "s3cret").unwrap();
        assert!(rotated.is_current(&again) && again.starts_with("v1:k2:"));
        let without_old = Keyring::parse(K2).unwrap();
        assert_eq!(
            without_old.open(&here, &sealed),
            Err(SecretError::UnknownKey("k1".into()))
        );
    }

    #[test]
    fn userinfo_is_masked_and_nothing_else() {
        assert_eq!(
            mask_userinfo("https://bob:pa55@api.test/x?k=v"),
            "https://***:***@api.test/x?k=v"
        );
        assert_eq!(
            mask_userinfo("https://t0ken@api.test/"),
            "https://***@api.test/"
        );
        for plain in ["https://api.test/x?k=v", "not a url"] {
            assert_eq!(mask_userinfo(plain), plain);
        }
    }

    #[test]
    fn bad_keyrings_and_values_are_refused() {
        assert!(Keyring::parse("").unwrap().is_empty());
        assert_eq!(
            Keyring::parse("").unwrap().seal("p", "x"),
            Err(SecretError::NoKey)
        );
        for bad in [
            "nocolon",
            "k1:!!!",
            "k1:AAAA",
            "bad id:AAAA",
            &format!("{K1},{K1}"),
        ] {
            assert!(Keyring::parse(bad).is_err(), "{bad}");
        }
        let ring = Keyring::parse(K1).unwrap();
        for bad in ["", "plain", "v1:k1:", "v1:k1:AAAA", "v2:k1:AAAA"] {
            assert!(ring.open("p", bad).is_err(), "{bad}");
        }
        let sealed = ring.seal("p", "value").unwrap();
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 3;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert_eq!(ring.open("p", &tampered), Err(SecretError::Forged));
        // The keyring's debug output names ids, never keys.
        assert_eq!(format!("{ring:?}"), "Keyring { ids: [\"k1\"] }");
    }
}

//! OAuth 2.0 access tokens, as SAP clients authenticate: short-lived JWTs (HS256) that carry
//! an API key, its tenant and the scopes granted, issued by `POST /oauth/token`
//! ([`crate::routes::oauth`]) and accepted wherever a key is, as `Authorization: Bearer <jwt>`
//! ([`crate::auth`]).
//!
//! Tokens are signed with `token_keys` (`<kid>:<base64>`, the first signs, all verify, so a
//! key is rotated by listing the new one first and dropping the old one after the tokens'
//! lifetime), or, when unset, one key derived from the cluster secret. Only HS256 with a
//! known `kid` is accepted (no `alg: none`, no other algorithm), `exp` is enforced, and the
//! key a token names is read on every request like a key's, so a revoked or expired key ends
//! its tokens at once.

use base64::Engine;
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// The issuer of chime's tokens.
pub const ISSUER: &str = "chime";

/// The keys that sign and verify access tokens.
pub struct TokenKeys {
    signing: (String, EncodingKey),
    verifying: Vec<(String, DecodingKey)>,
    ttl_secs: u64,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<&str> = self.verifying.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("TokenKeys").field("kids", &kids).finish()
    }
}

impl TokenKeys {
    /// The keys of `spec` (`<kid>:<base64>,…`), or, when it is empty, one derived from the
    /// cluster secret (`kid` `cluster`).
    pub fn new(spec: &str, cluster_secret: &str, ttl_secs: u64) -> anyhow::Result<TokenKeys> {
        let mut keys: Vec<(String, Vec<u8>)> = Vec::new();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (kid, b64) = item
                .split_once(':')
                .ok_or_else(|| anyhow::anyhow!("CHIME_TOKEN_KEYS: '<kid>:<base64>' expected"))?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|e| anyhow::anyhow!("CHIME_TOKEN_KEYS: key '{kid}' is not base64: {e}"))?;
            anyhow::ensure!(
                bytes.len() >= 32 && !kid.is_empty(),
                "CHIME_TOKEN_KEYS: key '{kid}' must have a name and at least 32 bytes"
            );
            keys.push((kid.to_string(), bytes));
        }
        if keys.is_empty() {
            let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(cluster_secret.as_bytes())
                .expect("HMAC takes any key");
            mac.update(b"chime oauth token signing key");
            keys.push(("cluster".into(), mac.finalize().into_bytes().to_vec()));
        }
        let signing = (keys[0].0.clone(), EncodingKey::from_secret(&keys[0].1));
        let verifying = keys
            .iter()
            .map(|(kid, k)| (kid.clone(), DecodingKey::from_secret(k)))
            .collect();
        Ok(TokenKeys {
            signing,
            verifying,
            ttl_secs,
        })
    }

    /// A token for `key` of `tenant` with `scopes`, issued at `now` (s).
    pub fn issue(&self, key: &str, tenant: &str, scopes: &[String], now: i64) -> String {
        self.issue_with_claims(key, tenant, scopes, now).0
    }

    /// [`TokenKeys::issue`], with the claims the token carries.
    pub fn issue_with_claims(
        &self,
        key: &str,
        tenant: &str,
        scopes: &[String],
        now: i64,
    ) -> (String, Claims) {
        let claims = Claims {
            iss: ISSUER.into(),
            sub: key.into(),
            client_id: key.into(),
            zid: tenant.into(),
            scope: scopes.to_vec(),
            iat: now,
            exp: now + self.ttl_secs as i64,
            jti: uuid::Uuid::new_v4().simple().to_string(),
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.signing.0.clone());
        let token = jsonwebtoken::encode(&header, &claims, &self.signing.1)
            .expect("HS256 signs any claims");
        (token, claims)
    }

    /// The claims of a token signed by one of the keys, unexpired; `None` otherwise.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        if header.alg != Algorithm::HS256 {
            return None;
        }
        let kid = header.kid?;
        let (_, key) = self.verifying.iter().find(|(k, _)| *k == kid)?;
        let mut v = Validation::new(Algorithm::HS256);
        v.set_issuer(&[ISSUER]);
        v.set_required_spec_claims(&["exp", "iss", "sub"]);
        v.leeway = 5;
        jsonwebtoken::decode::<Claims>(token, key, &v)
            .ok()
            .map(|d| d.claims)
    }

    pub fn ttl_secs(&self) -> u64 {
        self.ttl_secs
    }
}

/// An access token's claims.
#[derive(Debug, Serialize, Deserialize, Clone, PartialEq)]
pub struct Claims {
    pub iss: String,
    /// The API key's id.
    pub sub: String,
    pub client_id: String,
    /// The tenant (XSUAA's zone id).
    pub zid: String,
    pub scope: Vec<String>,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

/// Whether `bearer` looks like a JWT (three dot-separated parts) rather than a key
/// (`<id>.<secret>`).
pub fn is_jwt(bearer: &str) -> bool {
    bearer.matches('.').count() == 2
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    #[test]
    fn a_token_verifies_until_it_expires_and_only_with_a_listed_key() {
        let old = format!("old:{}", b64(&[1; 32]));
        let new = format!("new:{}", b64(&[2; 32]));
        let before = TokenKeys::new(&old, "", 600).unwrap();
        let now = chrono::Utc::now().timestamp();
        let t = before.issue("k1", "t1", &["read".into()], now);
        let c = before.verify(&t).unwrap();
        assert_eq!(
            (c.sub.as_str(), c.zid.as_str(), c.exp),
            ("k1", "t1", now + 600)
        );
        // Rotated: the new key signs, the old one still verifies; then the old one is dropped.
        let rotated = TokenKeys::new(&format!("{new},{old}"), "", 600).unwrap();
        assert!(rotated.verify(&t).is_some());
        let fresh = rotated.issue("k1", "t1", &[], now);
        assert!(
            before.verify(&fresh).is_none(),
            "signed by a key it does not list"
        );
        assert!(TokenKeys::new(&new, "", 600).unwrap().verify(&t).is_none());
        // Expired.
        let stale = before.issue("k1", "t1", &[], now - 700);
        assert!(before.verify(&stale).is_none());
    }

    #[test]
    fn alg_none_and_other_algorithms_are_refused() {
        let keys = TokenKeys::new("", "cluster-secret", 600).unwrap();
        let now = chrono::Utc::now().timestamp();
        let good = keys.issue("k1", "t1", &[], now);
        let payload = good.split('.').nth(1).unwrap();
        let none_header = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"alg":"none","typ":"JWT","kid":"cluster"}"#);
        assert!(keys.verify(&format!("{none_header}.{payload}.")).is_none());
        let hs512 = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"alg":"HS512","typ":"JWT","kid":"cluster"}"#);
        let sig = good.split('.').nth(2).unwrap();
        assert!(keys.verify(&format!("{hs512}.{payload}.{sig}")).is_none());
        // A changed payload fails its signature.
        let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
            format!(r#"{{"iss":"chime","sub":"k1","client_id":"k1","zid":"other","scope":["admin"],"iat":{now},"exp":{},"jti":"x"}}"#, now + 600),
        );
        let head = good.split('.').next().unwrap();
        assert!(keys.verify(&format!("{head}.{forged}.{sig}")).is_none());
        assert!(keys.verify(&good).is_some());
    }

    #[test]
    fn bad_key_specs_are_refused() {
        for spec in ["nokid", "k:not-base64!", &format!("k:{}", b64(&[1; 16]))] {
            assert!(TokenKeys::new(spec, "", 600).is_err(), "{spec}");
        }
    }
}

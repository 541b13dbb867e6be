//! The key that signs browser-kept cookies (`cookies`): HMAC-SHA256 with a purpose label, the
//! key itself a random row in `server_secrets` shared by every replica.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use super::token;

/// The key that signs cookies, loaded once per process from `server_secrets` (created by the first
/// process that needs it; every replica reads the same one). `Debug` never shows it.
pub struct Keys {
    mac: [u8; 32],
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(<redacted>)")
    }
}

impl Keys {
    /// Reads the cookie key from `server_secrets`, creating it on first use.
    pub async fn load(pool: &sqlx::PgPool) -> sqlx::Result<Self> {
        let mut fresh = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut fresh);
        let secret = super::store::cookie_key(pool, &fresh).await?;
        let mut mac = [0u8; 32];
        // The column is checked to hold at least 32 bytes.
        mac.copy_from_slice(&secret[..32]);
        Ok(Self { mac })
    }

    #[cfg(test)]
    pub(crate) fn fixed(byte: u8) -> Self {
        Self { mac: [byte; 32] }
    }

    fn tag(&self, purpose: &str, payload: &str) -> String {
        let mut m = Hmac::<Sha256>::new_from_slice(&self.mac).expect("any key length works");
        m.update(purpose.as_bytes());
        m.update(&[0]);
        m.update(payload.as_bytes());
        URL_SAFE_NO_PAD.encode(m.finalize().into_bytes())
    }

    /// `payload.tag`, where the tag binds the payload to `purpose`. The payload must not hold `.`.
    pub fn sign(&self, purpose: &str, payload: &str) -> String {
        format!("{payload}.{}", self.tag(purpose, payload))
    }

    /// The payload of a value signed for `purpose`, if the signature holds.
    pub fn verify<'a>(&self, purpose: &str, signed: &'a str) -> Option<&'a str> {
        let (payload, tag) = signed.rsplit_once('.')?;
        token::constant_time_eq(tag.as_bytes(), self.tag(purpose, payload).as_bytes())
            .then_some(payload)
    }

    /// The CSRF token that goes with a pre-login nonce.
    pub fn pre_session_token(&self, nonce: &str) -> String {
        self.tag("csrf-pre", nonce)
    }
}

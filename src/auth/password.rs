//! Password hashing with argon2id (m = 19456 KiB, t = 2, p = 1), off the async threads.

use std::fmt;

use argon2::{
    Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version,
    password_hash::{SaltString, rand_core::OsRng},
};

/// A stored password hash (PHC string). Not `Serialize`; `Debug` never prints it.
#[derive(Clone)]
pub struct PasswordHash(String);

impl PasswordHash {
    pub fn from_stored(s: String) -> Self {
        Self(s)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

fn argon2() -> Argon2<'static> {
    Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(19_456, 2, 1, None).expect("valid argon2 parameters"),
    )
}

/// Hashes `password` with a fresh salt.
pub async fn hash(password: String) -> anyhow::Result<PasswordHash> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| PasswordHash(h.to_string()))
            .map_err(|e| anyhow::anyhow!("argon2: {e}"))
    })
    .await?
}

/// Checks `password` against `stored`; with no stored hash (unknown account) it does the same
/// work against a dummy hash, so both cases take as long.
pub async fn verify(password: String, stored: Option<PasswordHash>) -> bool {
    tokio::task::spawn_blocking(move || {
        let stored = stored.map(|s| s.0).unwrap_or_else(|| DUMMY.clone());
        let parsed = match argon2::PasswordHash::new(&stored) {
            Ok(p) => p,
            Err(_) => return false,
        };
        argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
            && stored != *DUMMY
    })
    .await
    .unwrap_or(false)
}

static DUMMY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(crate::auth::token::random_token().as_bytes(), &salt)
        .expect("argon2 hashes")
        .to_string()
});

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_right_password_verifies_and_a_wrong_one_does_not() {
        let h = hash("correct horse battery".into()).await.unwrap();
        assert!(h.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify("correct horse battery".into(), Some(h.clone())).await);
        assert!(!verify("wrong horse battery".into(), Some(h)).await);
    }

    #[tokio::test]
    async fn an_unknown_account_never_verifies() {
        assert!(!verify("anything".into(), None).await);
    }

    #[test]
    fn debug_output_hides_the_hash() {
        let h = PasswordHash::from_stored("$argon2id$secret".into());
        assert!(!format!("{h:?}").contains("secret"));
    }
}

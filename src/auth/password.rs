//! Password hashing with argon2id on the blocking pool, at most one hash per core at a time: each
//! hash holds its memory cost, so a login flood must queue, not multiply memory. A caller that
//! waits too long for a slot gets `Busy` (503 with `Retry-After`).
//!
//! Parameters: m = 9216 KiB, t = 4, p = 1 — one of the configurations OWASP's Password Storage
//! Cheat Sheet lists as equally strong as m = 19456 KiB, t = 2 (trading memory for passes). With
//! two hashes at once that keeps a login flood inside the 60 MB memory budget (measured by
//! `cargo bench --bench hostile`). Hashes made with older parameters still verify (the PHC string
//! carries them) and are upgraded at the owner's next login.

use std::{fmt, sync::LazyLock, time::Duration};

use tokio::sync::{Semaphore, SemaphorePermit};

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

const M_COST_KIB: u32 = 9_216;
const T_COST: u32 = 4;

fn argon2() -> Argon2<'static> {
    Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(M_COST_KIB, T_COST, 1, None).expect("valid argon2 parameters"),
    )
}

/// True when `stored` was made with other parameters than today's (upgrade it after a login).
pub fn needs_upgrade(stored: &PasswordHash) -> bool {
    !stored
        .as_str()
        .starts_with(&format!("$argon2id$v=19$m={M_COST_KIB},t={T_COST},p=1$"))
}

/// How many hashes may run at once: one per core.
static SLOTS: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(hash_slots()));

/// The number of concurrent hashes allowed (the number of cores).
pub fn hash_slots() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Every hashing slot stayed busy for as long as the caller would wait.
#[derive(Debug, thiserror::Error)]
#[error("every password-hashing slot is busy")]
pub struct Busy;

/// How long account creation and password changes (not floodable anonymously) wait for a slot.
const ACCOUNT_WAIT: Duration = Duration::from_secs(30);

async fn slot(wait: Duration) -> Result<SemaphorePermit<'static>, Busy> {
    match tokio::time::timeout(wait, SLOTS.acquire()).await {
        Ok(Ok(permit)) => Ok(permit),
        _ => Err(Busy),
    }
}

/// Hashes `password` with a fresh salt.
pub async fn hash(password: String) -> anyhow::Result<PasswordHash> {
    let permit = slot(ACCOUNT_WAIT).await?;
    tokio::task::spawn_blocking(move || {
        // The slot is held by the hashing thread, so a cancelled request cannot free it early.
        let _permit = permit;
        let salt = SaltString::generate(&mut OsRng);
        let hashed = argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| PasswordHash(h.to_string()))
            .map_err(|e| anyhow::anyhow!("argon2: {e}"));
        crate::memory::give_back();
        hashed
    })
    .await?
}

/// Checks `password` against `stored`; with no stored hash (unknown account) it does the same
/// work against a dummy hash, so both cases take as long. Waits at most `wait` for a slot.
pub async fn verify(
    password: String,
    stored: Option<PasswordHash>,
    wait: Duration,
) -> Result<bool, Busy> {
    let permit = slot(wait).await?;
    Ok(tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let stored = stored.map(|s| s.0).unwrap_or_else(|| DUMMY.clone());
        let parsed = match argon2::PasswordHash::new(&stored) {
            Ok(p) => p,
            Err(_) => return false,
        };
        let ok = argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
            && stored != *DUMMY;
        crate::memory::give_back();
        ok
    })
    .await
    .unwrap_or(false))
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
        assert!(h.as_str().starts_with("$argon2id$v=19$m=9216,t=4,p=1$"));
        assert!(!needs_upgrade(&h));
        let w = Duration::from_secs(30);
        assert!(
            verify("correct horse battery".into(), Some(h.clone()), w)
                .await
                .unwrap()
        );
        assert!(
            !verify("wrong horse battery".into(), Some(h), w)
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn an_unknown_account_never_verifies() {
        assert!(
            !verify("anything".into(), None, Duration::from_secs(30))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn a_caller_that_finds_every_slot_busy_is_told_so_after_its_wait() {
        let mut held = Vec::new();
        for _ in 0..hash_slots() {
            held.push(SLOTS.acquire().await.unwrap());
        }
        let r = verify("x".into(), None, Duration::from_millis(50)).await;
        assert!(r.is_err(), "no slot was free, so the check must be refused");
        drop(held);
        assert!(
            verify("x".into(), None, Duration::from_secs(30))
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn a_hash_made_with_older_parameters_still_verifies_and_asks_for_an_upgrade() {
        // Made by flowdeck before the parameters changed (m=19456, t=2) for "correct horse battery".
        let old = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(19_456, 2, 1, None).unwrap(),
        )
        .hash_password(b"correct horse battery", &SaltString::generate(&mut OsRng))
        .unwrap()
        .to_string();
        let old = PasswordHash::from_stored(old);
        assert!(needs_upgrade(&old));
        let w = Duration::from_secs(30);
        assert!(
            verify("correct horse battery".into(), Some(old), w)
                .await
                .unwrap()
        );
    }

    #[test]
    fn debug_output_hides_the_hash() {
        let h = PasswordHash::from_stored("$argon2id$secret".into());
        assert!(!format!("{h:?}").contains("secret"));
    }
}

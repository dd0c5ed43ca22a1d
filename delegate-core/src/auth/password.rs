//! Argon2id hashing on a bounded blocking pool, so a login storm cannot stall the runtime.

use crate::config::PasswordConfig;
use crate::error::{Error, Result};
use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OnceCell, Semaphore};

/// Hashes and verifies passwords; at most `max_concurrent` run at once, off the async threads.
#[derive(Clone)]
pub struct PasswordHasher {
    argon2: Arc<Argon2<'static>>,
    permits: Arc<Semaphore>,
    max_wait: Duration,
    dummy_hash: Arc<OnceCell<String>>,
}

impl PasswordHasher {
    /// A hasher with the given cost parameters.
    pub fn new(config: &PasswordConfig) -> Result<Self> {
        let params = Params::new(
            config.memory_kib,
            config.iterations,
            config.parallelism,
            None,
        )
        .map_err(|e| Error::invalid("config", format!("bad argon2 parameters: {e}")))?;
        Ok(Self {
            argon2: Arc::new(Argon2::new(Algorithm::Argon2id, Version::V0x13, params)),
            permits: Arc::new(Semaphore::new(config.max_concurrent.max(1))),
            max_wait: Duration::from_millis(config.max_wait_ms),
            dummy_hash: Arc::new(OnceCell::new()),
        })
    }

    /// A PHC-format argon2id hash of `password` with a fresh random salt.
    pub async fn hash(&self, password: &str) -> Result<String> {
        let argon2 = self.argon2.clone();
        let password = password.to_owned();
        self.blocking(move || {
            argon2
                .hash_password(password.as_bytes())
                .map(|h| h.to_string())
                .map_err(|e| Error::internal("hashing a password").with_source(e))
        })
        .await
    }

    /// Whether `password` matches `hash`. A malformed hash is an internal error.
    pub async fn verify(&self, password: &str, hash: &str) -> Result<bool> {
        let argon2 = self.argon2.clone();
        let (password, hash) = (password.to_owned(), hash.to_owned());
        self.blocking(
            move || match argon2.verify_password(password.as_bytes(), hash.as_str()) {
                Ok(()) => Ok(true),
                Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
                Err(e) => Err(Error::internal("stored hash unusable").with_source(e)),
            },
        )
        .await
    }

    /// Spends the same work as a real verification, for logins with an unknown email, so
    /// that timing does not reveal whether an account exists. Always false.
    pub async fn verify_dummy(&self, password: &str) -> Result<bool> {
        let hash = self
            .dummy_hash
            .get_or_try_init(|| self.hash("delegate-dummy-password"))
            .await?
            .clone();
        self.verify(password, &hash).await.map(|_| false)
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        // Waiting is bounded: a storm gets 503s instead of an ever longer queue.
        let permit = tokio::time::timeout(self.max_wait, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| Error::unavailable("password hashing", Duration::from_secs(1)))?
            .map_err(|e| Error::internal("the hashing pool closed").with_source(e))?;
        // The permit lives with the hash, not the request: a client that goes away cannot
        // free a slot while its hash still runs.
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
        .map_err(|e| Error::internal("a hashing task ended abnormally").with_source(e))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> PasswordHasher {
        PasswordHasher::new(&PasswordConfig {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
            max_concurrent: 2,
            max_wait_ms: 5_000,
        })
        .unwrap()
    }

    #[tokio::test]
    async fn hashes_verify_and_are_salted_argon2id() {
        let hasher = cheap();
        let h1 = hasher.hash("correct horse").await.unwrap();
        let h2 = hasher.hash("correct horse").await.unwrap();
        assert!(h1.starts_with("$argon2id$v=19$"), "{h1}");
        assert_ne!(h1, h2);
        assert!(hasher.verify("correct horse", &h1).await.unwrap());
        assert!(!hasher.verify("correct horsf", &h1).await.unwrap());
        assert!(!hasher.verify_dummy("anything").await.unwrap());
    }

    #[test]
    fn default_parameters_meet_owasp() {
        let config = PasswordConfig::default();
        assert!(config.memory_kib >= 19_456 && config.iterations >= 2);
    }
}

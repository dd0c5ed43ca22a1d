//! Argon2id hashing on a bounded pool of low-priority threads, so a login storm cannot stall
//! the runtime or crowd out other requests; imported bcrypt hashes (the Node backend's) are
//! verified too, and replaced at login.

use super::hash_pool::HashPool;
use crate::config::PasswordConfig;
use crate::error::{Error, Result};
use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OnceCell, Semaphore};

/// Hashes and verifies passwords; at most `max_concurrent` run at once, on threads of their
/// own (`nice` steps below the others' priority, on Linux), off the async threads.
#[derive(Clone)]
pub struct PasswordHasher {
    argon2: Arc<Argon2<'static>>,
    pool: Arc<HashPool>,
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
            pool: Arc::new(HashPool::new(config.max_concurrent.max(1), config.nice)?),
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

    /// Whether `password` matches `hash` (argon2 PHC, or bcrypt `$2a$`/`$2b$`/`$2y$`). A
    /// malformed hash is an internal error.
    pub async fn verify(&self, password: &str, hash: &str) -> Result<bool> {
        let argon2 = self.argon2.clone();
        let (password, hash) = (password.to_owned(), hash.to_owned());
        if is_bcrypt(&hash) {
            return self
                .blocking(move || {
                    bcrypt::verify(password.as_bytes(), &hash)
                        .map_err(|e| Error::internal("stored bcrypt hash unusable").with_source(e))
                })
                .await;
        }
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
        self.pool
            .run(move || {
                let _permit = permit;
                work()
            })
            .await?
    }
}

/// Whether `hash` is a bcrypt hash (imported from the Node backend): it verifies, and is
/// replaced by argon2id at the next successful login.
pub fn is_bcrypt(hash: &str) -> bool {
    ["$2a$", "$2b$", "$2y$"].iter().any(|p| hash.starts_with(p))
}

/// Whether `hash` is a stored password hash Delegate can verify (argon2 PHC or bcrypt).
pub fn is_supported_hash(hash: &str) -> bool {
    if is_bcrypt(hash) {
        return hash.len() == 60;
    }
    argon2::password_hash::phc::PasswordHash::new(hash)
        .is_ok_and(|h| h.algorithm.as_str().starts_with("argon2"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bcrypt_hashes_from_the_node_backend_verify() {
        let hasher = cheap();
        let hash = bcrypt::hash("old node password", 4).unwrap();
        assert!(is_bcrypt(&hash) && is_supported_hash(&hash));
        assert!(hasher.verify("old node password", &hash).await.unwrap());
        assert!(!hasher.verify("wrong password", &hash).await.unwrap());
        let y = hash.replacen("$2b$", "$2y$", 1);
        assert!(hasher.verify("old node password", &y).await.unwrap());
        assert!(!is_supported_hash("$2b$04$short"));
        assert!(!is_supported_hash("plaintext"));
        let argon = hasher.hash("x").await.unwrap();
        assert!(is_supported_hash(&argon) && !is_bcrypt(&argon));
    }

    fn cheap() -> PasswordHasher {
        PasswordHasher::new(&PasswordConfig {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
            max_concurrent: 2,
            max_wait_ms: 5_000,
            nice: 0,
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

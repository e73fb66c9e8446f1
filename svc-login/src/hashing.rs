//! bcrypt on a bounded pool: at most one hash per core runs at a time, so a burst of logins
//! queues (cheaply, as futures) instead of piling up blocking threads and memory.

use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::error::Error;

#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
}

impl PasswordHasher {
    pub fn new(parallelism: usize) -> Self {
        PasswordHasher {
            permits: Arc::new(Semaphore::new(parallelism.max(1))),
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Error> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| Error::Internal(e.to_string()))?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| Error::Internal(e.to_string()))
    }

    pub async fn hash(&self, password: String, cost: u32) -> Result<String, Error> {
        self.run(move || bcrypt::hash(password, cost))
            .await?
            .map_err(|e| Error::Internal(format!("bcrypt: {e}")))
    }

    /// Whether `password` matches `hash`. With no hash (no such user, no password) it hashes
    /// at `cost` anyway and says no, so an unknown user takes as long as a wrong password.
    pub async fn verify(
        &self,
        password: String,
        hash: Option<String>,
        cost: u32,
    ) -> Result<bool, Error> {
        self.run(move || match hash {
            Some(hash) => bcrypt::verify(password, &hash).unwrap_or(false),
            None => {
                let _ = bcrypt::hash(password, cost);
                false
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_no_hash_never_matches() {
        let hasher = PasswordHasher::new(2);
        let hash = hasher.hash("s3cret!".into(), 4).await.unwrap();
        assert!(hash.starts_with("$2b$04$"));
        assert!(
            hasher
                .verify("s3cret!".into(), Some(hash.clone()), 4)
                .await
                .unwrap()
        );
        assert!(!hasher.verify("wrong".into(), Some(hash), 4).await.unwrap());
        assert!(!hasher.verify("anything".into(), None, 4).await.unwrap());
    }
}

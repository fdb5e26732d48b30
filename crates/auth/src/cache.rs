//! A cache in front of an authenticator. Tokens are checked against the
//! organisation service at most once per [`CacheSettings::ttl`] each, so a
//! revocation takes effect everywhere within that time; invalid tokens are
//! remembered briefly so a client retrying a bad token cannot hammer it; and
//! while the organisation service is unreachable, principals seen within
//! [`CacheSettings::stale_grace`] are still admitted (new ones are refused
//! with UNAVAILABLE, never admitted unchecked).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use futures::future::BoxFuture;
use sha2::{Digest, Sha256};

use crate::principal::{AuthError, Authenticate, Principal};

/// Entries kept before expired ones are swept.
const MAX_ENTRIES: usize = 50_000;

#[derive(Debug, Clone, Copy)]
pub struct CacheSettings {
    /// How long a verified principal is trusted without asking again: the
    /// longest a revoked token keeps working.
    pub ttl: Duration,
    /// How long an invalid token is remembered as invalid.
    pub negative_ttl: Duration,
    /// How old a verified principal may be and still be admitted while the
    /// organisation service cannot be reached.
    pub stale_grace: Duration,
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(10),
            negative_ttl: Duration::from_secs(2),
            stale_grace: Duration::from_secs(300),
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    result: Result<Principal, String>,
    checked: Instant,
}

/// Caches another authenticator's answers.
pub struct CachedAuthenticator {
    inner: Arc<dyn Authenticate>,
    settings: CacheSettings,
    entries: Mutex<HashMap<[u8; 32], Entry>>,
    /// Refusals learned from `inner` (see [`Authenticate::refusals_seen`]).
    refusals: AtomicU64,
}

impl CachedAuthenticator {
    pub fn new(inner: Arc<dyn Authenticate>, settings: CacheSettings) -> Self {
        Self {
            inner,
            settings,
            entries: Mutex::new(HashMap::new()),
            refusals: AtomicU64::new(0),
        }
    }

    fn lookup(&self, key: &[u8; 32]) -> Option<Entry> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.get(key).cloned()
    }

    fn store(&self, key: [u8; 32], result: Result<Principal, String>) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            let keep = self.settings.stale_grace.max(self.settings.ttl);
            entries.retain(|_, entry| entry.checked.elapsed() < keep);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        let checked = Instant::now();
        entries.insert(key, Entry { result, checked });
    }

    async fn check(&self, token: &str) -> Result<Principal, AuthError> {
        // Keyed by a digest, so the cache holds no usable tokens.
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let cached = self.lookup(&key);
        if let Some(entry) = &cached {
            let age = entry.checked.elapsed();
            match &entry.result {
                Ok(principal) if age < self.settings.ttl => return fresh(principal),
                Err(reason) if age < self.settings.negative_ttl => {
                    return Err(AuthError::Invalid(reason.clone()));
                }
                _ => {}
            }
        }
        match self.inner.authenticate(token).await {
            Ok(principal) => {
                self.store(key, Ok(principal.clone()));
                fresh(&principal)
            }
            Err(AuthError::Invalid(reason)) => {
                self.store(key, Err(reason.clone()));
                self.refusals.fetch_add(1, Ordering::Release);
                Err(AuthError::Invalid(reason))
            }
            Err(AuthError::Unavailable(reason)) => match cached {
                Some(Entry {
                    result: Ok(principal),
                    checked,
                }) if checked.elapsed() < self.settings.stale_grace => {
                    tracing::warn!(%reason, credential = %principal.credential_id,
                        "cannot verify credentials; admitting a recently verified one");
                    fresh(&principal)
                }
                _ => Err(AuthError::Unavailable(reason)),
            },
        }
    }
}

/// A cached principal, unless its credential has expired since.
fn fresh(principal: &Principal) -> Result<Principal, AuthError> {
    if principal.is_expired(Utc::now()) {
        return Err(AuthError::Invalid("the credential has expired".to_owned()));
    }
    Ok(principal.clone())
}

impl Authenticate for CachedAuthenticator {
    fn authenticate<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Principal, AuthError>> {
        Box::pin(self.check(token))
    }

    fn refusals_seen(&self) -> u64 {
        self.refusals.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use crate::principal::Role;

    /// Knows one token; can be switched off or told the token was revoked.
    #[derive(Default)]
    struct Fake {
        calls: AtomicUsize,
        down: AtomicBool,
        revoked: AtomicBool,
    }

    impl Authenticate for Fake {
        fn authenticate<'a>(
            &'a self,
            token: &'a str,
        ) -> BoxFuture<'a, Result<Principal, AuthError>> {
            Box::pin(async move {
                self.calls.fetch_add(1, Ordering::SeqCst);
                if self.down.load(Ordering::SeqCst) {
                    return Err(AuthError::Unavailable("down".into()));
                }
                if token != "good" || self.revoked.load(Ordering::SeqCst) {
                    return Err(AuthError::Invalid("no".into()));
                }
                Ok(Principal {
                    credential_id: "c1".into(),
                    unit_id: None,
                    role: Role::Administrator,
                    expire_time: None,
                })
            })
        }
    }

    fn cache(fake: &Arc<Fake>, ttl_ms: u64, grace_ms: u64) -> CachedAuthenticator {
        CachedAuthenticator::new(
            fake.clone(),
            CacheSettings {
                ttl: Duration::from_millis(ttl_ms),
                negative_ttl: Duration::from_millis(ttl_ms),
                stale_grace: Duration::from_millis(grace_ms),
            },
        )
    }

    #[tokio::test]
    async fn answers_are_cached_for_the_ttl() {
        let fake = Arc::new(Fake::default());
        let cache = cache(&fake, 60_000, 60_000);
        for _ in 0..5 {
            assert!(cache.authenticate("good").await.is_ok());
            assert!(cache.authenticate("bad").await.is_err());
        }
        assert_eq!(fake.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn revocation_takes_effect_after_the_ttl() {
        let fake = Arc::new(Fake::default());
        let cache = cache(&fake, 50, 60_000);
        assert!(cache.authenticate("good").await.is_ok());
        fake.revoked.store(true, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert!(matches!(
            cache.authenticate("good").await,
            Err(AuthError::Invalid(_))
        ));
    }

    #[tokio::test]
    async fn refusals_learned_are_counted_once_each() {
        let fake = Arc::new(Fake::default());
        let cache = cache(&fake, 60_000, 60_000);
        assert!(cache.authenticate("good").await.is_ok());
        assert_eq!(cache.refusals_seen(), 0);
        // Asked once, remembered after: one refusal learned.
        for _ in 0..3 {
            assert!(cache.authenticate("bad").await.is_err());
        }
        assert_eq!(cache.refusals_seen(), 1);
        // An outage is not a refusal.
        fake.down.store(true, Ordering::SeqCst);
        assert!(cache.authenticate("unseen").await.is_err());
        assert_eq!(cache.refusals_seen(), 1);
    }

    #[tokio::test]
    async fn an_outage_admits_recent_principals_only() {
        let fake = Arc::new(Fake::default());
        let cache = cache(&fake, 10, 60_000);
        assert!(cache.authenticate("good").await.is_ok());
        fake.down.store(true, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(cache.authenticate("good").await.is_ok());
        // A token never seen cannot be admitted unchecked.
        assert!(matches!(
            cache.authenticate("unseen").await,
            Err(AuthError::Unavailable(_))
        ));
    }
}

//! Verified credentials: after one successful argon2 check, a keyed fingerprint of
//! (username, password) maps to the account and its credential version. The
//! password itself is never stored. An entry counts only while the account's
//! version in the store is unchanged, so a password change, demotion, deletion or
//! revoke-all on any replica invalidates it at the next request.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// HMAC-SHA256 output: the cache key.
pub type Fingerprint = [u8; 32];

#[derive(Debug, Clone, Copy)]
struct Entry {
    user_id: i64,
    version: i64,
    verified_at: Instant,
}

pub struct CredentialCache {
    /// Per-process random key: fingerprints mean nothing outside this process.
    key: [u8; 32],
    ttl: Duration,
    capacity: usize,
    entries: Mutex<HashMap<Fingerprint, Entry>>,
}

impl std::fmt::Debug for CredentialCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialCache")
            .field("ttl", &self.ttl)
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl CredentialCache {
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            key: rand::random(),
            ttl,
            capacity,
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub fn fingerprint(&self, username: &str, password: &str) -> Fingerprint {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        // Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
        mac.update(&(username.len() as u64).to_le_bytes());
        mac.update(username.as_bytes());
        mac.update(password.as_bytes());
        mac.finalize().into_bytes().into()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Fingerprint, Entry>> {
        self.entries
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// The account and version a fingerprint was verified for, if still fresh.
    pub fn get(&self, fingerprint: &Fingerprint) -> Option<(i64, i64)> {
        if self.capacity == 0 {
            return None;
        }
        let mut entries = self.lock();
        let entry = *entries.get(fingerprint)?;
        if entry.verified_at.elapsed() > self.ttl {
            entries.remove(fingerprint);
            return None;
        }
        Some((entry.user_id, entry.version))
    }

    pub fn insert(&self, fingerprint: Fingerprint, user_id: i64, version: i64) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.lock();
        if entries.len() >= self.capacity {
            let ttl = self.ttl;
            entries.retain(|_, e| e.verified_at.elapsed() <= ttl);
            if entries.len() >= self.capacity {
                // Still full of live entries: start over rather than grow. Those
                // users pay one argon2 check again.
                entries.clear();
            }
        }
        entries.insert(
            fingerprint,
            Entry {
                user_id,
                version,
                verified_at: Instant::now(),
            },
        );
    }

    pub fn remove(&self, fingerprint: &Fingerprint) {
        self.lock().remove(fingerprint);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_depend_on_both_parts_and_the_process_key() {
        let cache = CredentialCache::new(10, Duration::from_secs(60));
        let a = cache.fingerprint("ab", "c");
        assert_ne!(a, cache.fingerprint("a", "bc"));
        assert_ne!(a, cache.fingerprint("ab", "d"));
        assert_eq!(a, cache.fingerprint("ab", "c"));
        let other = CredentialCache::new(10, Duration::from_secs(60));
        assert_ne!(a, other.fingerprint("ab", "c"));
    }

    #[test]
    fn entries_expire_and_the_cache_stays_bounded() {
        let cache = CredentialCache::new(100, Duration::from_millis(50));
        let fp = cache.fingerprint("alice", "pw");
        cache.insert(fp, 1, 7);
        assert_eq!(cache.get(&fp), Some((1, 7)));
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(cache.get(&fp), None);
        let cache = CredentialCache::new(100, Duration::from_secs(60));
        for i in 0..1000 {
            cache.insert(cache.fingerprint(&format!("u{i}"), "pw"), i, 0);
            assert!(cache.len() <= 100);
        }
    }

    #[test]
    fn a_zero_capacity_cache_remembers_nothing() {
        let cache = CredentialCache::new(0, Duration::from_secs(60));
        let fp = cache.fingerprint("alice", "pw");
        cache.insert(fp, 1, 1);
        assert_eq!(cache.get(&fp), None);
    }
}
